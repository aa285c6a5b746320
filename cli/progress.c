/* cli/progress.c — progress lines on stderr for long CLI operations (see progress.h). */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

enum { MODE_OFF, MODE_LINE, MODE_PLAIN };

/* A terminal line is redrawn at most this often (s); a plain line is printed at most this often. */
#define REDRAW_S 0.1
#define PLAIN_EVERY_S 30.0

static bool quiet;

static void tick(cli_progress *p);

void cli_progress_set_quiet(bool q) { quiet = q; }

void cli_progress_begin(cli_progress *p, const char *label, const char *unit, uint64_t total, double min_s) {
    *p = (cli_progress){.label = label, .unit = unit, .total = total, .min_s = min_s};
    p->mode = quiet ? MODE_OFF : isatty(STDERR_FILENO) ? MODE_LINE : MODE_PLAIN;
    p->t0 = p->last_plain = vkg_bench_now();
    p->last_draw = p->t0 - 1;
    tick(p); /* with min_s 0 the phase shows at once, before its first unit is done */
}

/* "m:ss", or "h:mm:ss" from an hour on. */
static const char *clock_text(double s, char *buf, size_t n) {
    unsigned long t = s > 0 ? (unsigned long)(s + 0.5) : 0;
    if (t >= 3600)
        snprintf(buf, n, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, n, "%lu:%02lu", t / 60, t % 60);
    return buf;
}

static bool is_bytes(const cli_progress *p) { return p->unit && strcmp(p->unit, "MiB") == 0; }

/* done and total in the unit shown ("MiB" counts bytes). */
static double shown(const cli_progress *p, uint64_t v) { return is_bytes(p) ? (double)v / (1 << 20) : (double)v; }

/* Seconds left, from the fraction of the work done; < 0 when there is nothing to go on yet. */
static double left_s(const cli_progress *p, double elapsed) {
    if (p->work <= 0)
        return -1;
    return p->work >= 1 ? 0 : elapsed * (1 - p->work) / p->work;
}

static int terminal_columns(void) {
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

static void draw_line(cli_progress *p, double elapsed) {
    char line[512], el[24], eta[24];
    double left = left_s(p, elapsed);
    int n = snprintf(line, sizeof line, "vkgpt: %s  %.0f/%.0f %s  ", p->label, shown(p, p->done), shown(p, p->total),
                     p->unit);
    if (p->done > 0 && elapsed > 0)
        n += snprintf(line + n, sizeof line - (size_t)n, "%.1f %s/s  ", shown(p, p->done) / elapsed, p->unit);
    snprintf(line + n, sizeof line - (size_t)n, "%s elapsed  ETA %s", clock_text(elapsed, el, sizeof el),
             left < 0 ? "?" : clock_text(left, eta, sizeof eta));
    /* A line longer than the terminal wraps, and \r then returns to its last row only. */
    int width = (int)strlen(line), max = terminal_columns() - 1;
    if (width > max && max > 0)
        line[width = max] = 0;
    fprintf(stderr, "\r%s%*s", line, p->width > width ? p->width - width : 0, "");
    p->width = width;
    fflush(stderr);
}

static void tick(cli_progress *p) {
    if (p->mode == MODE_OFF)
        return;
    double now = vkg_bench_now(), elapsed = now - p->t0;
    if (elapsed < p->min_s)
        return;
    if (p->mode == MODE_LINE && now - p->last_draw >= REDRAW_S) {
        p->last_draw = now;
        draw_line(p, elapsed);
    } else if (p->mode == MODE_PLAIN && now - p->last_plain >= PLAIN_EVERY_S) {
        char el[24], eta[24];
        double left = left_s(p, elapsed);
        p->last_plain = now;
        fprintf(stderr, "vkgpt: %s: %.0f/%.0f %s, %s elapsed, ETA %s\n", p->label, shown(p, p->done),
                shown(p, p->total), p->unit, clock_text(elapsed, el, sizeof el),
                left < 0 ? "?" : clock_text(left, eta, sizeof eta));
        fflush(stderr);
    }
}

void cli_progress_update_work(cli_progress *p, uint64_t done, double work) {
    p->done = done;
    p->work = work < 0 ? 0 : work > 1 ? 1 : work;
    tick(p);
}

void cli_progress_update(cli_progress *p, uint64_t done) {
    cli_progress_update_work(p, done, p->total ? (double)done / (double)p->total : 0);
}

double cli_progress_end(cli_progress *p) {
    double elapsed = vkg_bench_now() - p->t0;
    if (p->mode == MODE_LINE && p->width > 0) {
        fprintf(stderr, "\r%*s\r", p->width, "");
        fflush(stderr);
    } else if (p->mode == MODE_PLAIN && elapsed >= p->min_s) {
        fprintf(stderr, "vkgpt: %s: %.0f/%.0f %s in %.2f s", p->label, shown(p, p->done), shown(p, p->total),
                p->unit, elapsed);
        if (p->done > 0 && elapsed > 0)
            fprintf(stderr, " (%.1f %s/s)", shown(p, p->done) / elapsed, p->unit);
        fputc('\n', stderr);
        fflush(stderr);
    }
    p->mode = MODE_OFF; /* a second end prints nothing */
    p->width = 0;
    return elapsed;
}

void cli_progress_bytes(uint64_t done, uint64_t total, void *user) {
    cli_progress *p = user;
    p->total = total;
    cli_progress_update(p, done);
}

vkg_status cli_prefill(vkg_session *s, const int32_t *tokens, uint32_t n) {
    if (n <= CLI_PREFILL_CHUNK)
        return vkg_session_prefill(s, tokens, n, NULL);
    uint32_t start = vkg_session_pos(s);
    cli_progress p;
    cli_progress_begin(&p, "prompt", "tokens", n, 1.0);
    vkg_status st = VKG_OK;
    for (uint32_t off = 0; st == VKG_OK && off < n; off += CLI_PREFILL_CHUNK) {
        uint32_t k = n - off < CLI_PREFILL_CHUNK ? n - off : CLI_PREFILL_CHUNK;
        st = vkg_session_prefill(s, tokens + off, k, NULL);
        if (st == VKG_OK)
            cli_progress_update(&p, off + k);
    }
    cli_progress_end(&p);
    /* One call appends all of the tokens or none (a bad id is refused up front): so do the pieces. */
    if (st != VKG_OK && vkg_session_pos(s) > start)
        vkg_session_truncate(s, start);
    return st;
}
