/*
 * cli/cmd_bench_plot.c — a small hand-written SVG line chart for `vkgpt bench kv --plot`: log-log
 * axes with decade grid lines (and 2x, 5x minor ticks), one tick per measured x value, markers on
 * every point, a legend and a two-line title. No plotting library: the output is plain SVG that any
 * browser or image viewer shows.
 */
#include "cmd_bench.h"

#include <math.h>
#include <stdio.h>

enum { W = 960, H = 600, LEFT = 90, RIGHT = 250, TOP = 80, BOTTOM = 70 };

typedef struct axis {
    double lo, hi; /* log10 of the range shown */
    double p0, p1; /* pixels */
} axis;

static double map(const axis *a, double v) { return a->p0 + (log10(v) - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0); }

static void xml_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else
            fputc(*s, f);
    }
}

static void fmt_value(char *buf, size_t n, double v) {
    if (v >= 1)
        snprintf(buf, n, "%.0f", v);
    else
        snprintf(buf, n, "%.3g", v);
}

bool plot_write_svg(const char *path, const char *title, const char *subtitle, const char *xlabel,
                    const char *ylabel, const plot_series *series, uint32_t n_series) {
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (uint32_t s = 0; s < n_series; s++)
        for (uint32_t i = 0; i < series[s].n; i++) {
            double x = series[s].x[i], y = series[s].y[i];
            if (!(x > 0) || !(y > 0))
                continue;
            xmin = fmin(xmin, x), xmax = fmax(xmax, x), ymin = fmin(ymin, y), ymax = fmax(ymax, y);
        }
    if (!(xmin <= xmax)) /* nothing to draw: an empty frame */
        xmin = 1, xmax = 10, ymin = 1, ymax = 10;
    axis ax = {log10(xmin) - 0.08, log10(xmax) + 0.08, LEFT, W - RIGHT};
    axis ay = {floor(log10(ymin)), ceil(log10(ymax)), H - BOTTOM, TOP};
    if (ay.hi - ay.lo < 1)
        ay.hi = ay.lo + 1;
    if (ax.hi - ax.lo < 0.3)
        ax.lo -= 0.15, ax.hi += 0.15;

    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"13\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H, W, H);
    fprintf(f, "<text x=\"%d\" y=\"28\" font-size=\"16\" font-weight=\"bold\">", LEFT);
    xml_text(f, title);
    fprintf(f, "</text>\n<text x=\"%d\" y=\"50\" font-size=\"11\" fill=\"#555\">", LEFT);
    xml_text(f, subtitle);
    fputs("</text>\n", f);

    /* y grid: decades (solid) and 2x, 5x (light), labelled. */
    for (int e = (int)ay.lo; e <= (int)ay.hi; e++) {
        for (int m = 1; m <= 5; m += (m == 1 ? 1 : 3)) {
            double v = m * pow(10, e);
            if (log10(v) > ay.hi + 1e-9)
                break;
            double py = map(&ay, v);
            char lab[32];
            fmt_value(lab, sizeof lab, v);
            fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\"/>\n", LEFT, py, W - RIGHT,
                    py, m == 1 ? "#bbb" : "#e6e6e6");
            fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"%s\">%s</text>\n", LEFT - 6, py + 4,
                    m == 1 ? "#000" : "#777", lab);
        }
    }
    /* x ticks: every distinct measured x. */
    for (uint32_t s = 0; s < n_series; s++)
        for (uint32_t i = 0; i < series[s].n; i++) {
            double x = series[s].x[i];
            bool seen = false;
            for (uint32_t t = 0; t < s && !seen; t++)
                for (uint32_t j = 0; j < series[t].n && !seen; j++)
                    seen = series[t].x[j] == x;
            for (uint32_t j = 0; j < i && !seen; j++)
                seen = series[s].x[j] == x;
            if (seen || !(x > 0))
                continue;
            double px = map(&ax, x);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e6e6e6\"/>\n", px, TOP, px,
                    H - BOTTOM);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#000\"/>\n", px, H - BOTTOM, px,
                    H - BOTTOM + 5);
            fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", px, H - BOTTOM + 20, x);
        }
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#000\"/>\n", LEFT, TOP,
            W - RIGHT - LEFT, H - BOTTOM - TOP);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (LEFT + W - RIGHT) / 2, H - 25);
    xml_text(f, xlabel);
    fprintf(f, " (log scale)</text>\n<text transform=\"translate(22 %d) rotate(-90)\" text-anchor=\"middle\">",
            (TOP + H - BOTTOM) / 2);
    xml_text(f, ylabel);
    fputs(" (log scale)</text>\n", f);

    for (uint32_t s = 0; s < n_series; s++) {
        const plot_series *p = &series[s];
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", p->color,
                p->dashed ? " stroke-dasharray=\"7 4\"" : "");
        for (uint32_t i = 0; i < p->n; i++)
            if (p->x[i] > 0 && p->y[i] > 0)
                fprintf(f, "%.1f,%.1f ", map(&ax, p->x[i]), map(&ay, p->y[i]));
        fputs("\"/>\n", f);
        for (uint32_t i = 0; i < p->n; i++)
            if (p->x[i] > 0 && p->y[i] > 0)
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>T=%g: %.3g ms</title>"
                           "</circle>\n", map(&ax, p->x[i]), map(&ay, p->y[i]), p->dashed ? "white" : p->color,
                        p->x[i], p->y[i]);
        for (uint32_t i = 0; i < p->n; i++)
            if (p->dashed && p->x[i] > 0 && p->y[i] > 0)
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"none\" stroke=\"%s\" "
                           "stroke-width=\"1.5\"/>\n", map(&ax, p->x[i]), map(&ay, p->y[i]), p->color);
        /* legend entry */
        int ly = TOP + 10 + (int)s * 24;
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>\n",
                W - RIGHT + 15, ly, W - RIGHT + 50, ly, p->color, p->dashed ? " stroke-dasharray=\"7 4\"" : "");
        fprintf(f, "<text x=\"%d\" y=\"%d\">", W - RIGHT + 58, ly + 4);
        xml_text(f, p->label);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
    bool ok = !ferror(f);
    return fclose(f) == 0 && ok;
}
