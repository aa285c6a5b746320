/* ref_norm_rope.c — reference RMSNorm, RoPE and SwiGLU (see ref_norm_rope.h): straightforward loops
 * in double. */
#include "ref_norm_rope.h"

#include <assert.h>
#include <math.h>

void ref_rmsnorm(float *y, const float *x, const float *w, int rows, int width, float eps) {
    assert(rows > 0 && width > 0 && eps >= 0.0f);
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * width;
        float *yr = y + (size_t)r * width;
        double ss = 0.0;
        for (int c = 0; c < width; c++)
            ss += (double)xr[c] * xr[c];
        double inv = 1.0 / sqrt(ss / width + (double)eps);
        for (int c = 0; c < width; c++)
            yr[c] = (float)((double)xr[c] * inv * (double)w[c]);
    }
}

void ref_rmsnorm_heads(float *x, const float *w, int T, int n_heads, int hd, int row_stride, int col, float eps) {
    assert(T > 0 && n_heads > 0 && hd > 0 && col >= 0 && col + n_heads * hd <= row_stride);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (size_t)t * row_stride + col + (size_t)h * hd;
            ref_rmsnorm(v, v, w, 1, hd, eps);
        }
}

double ref_rope_inv_freq(double theta, int hd, int i) {
    assert(theta > 0.0 && hd > 0 && hd % 2 == 0 && i >= 0 && i < hd / 2);
    return pow(theta, -2.0 * i / hd);
}

void ref_rope_table(float *table, int P, int hd, double theta, const double *inv_freq) {
    assert(P > 0 && hd > 0 && hd % 2 == 0);
    for (int p = 0; p < P; p++)
        for (int i = 0; i < hd / 2; i++) {
            double f = inv_freq ? inv_freq[i] : ref_rope_inv_freq(theta, hd, i);
            double a = (double)p * f;
            table[((size_t)p * (hd / 2) + i) * 2] = (float)cos(a);
            table[((size_t)p * (hd / 2) + i) * 2 + 1] = (float)sin(a);
        }
}

/* Rotate pair i of the head at v by (c, s). */
static void rotate(float *v, int hd, int i, double c, double s, ref_rope_pairing pairing) {
    int a = pairing == REF_ROPE_ADJACENT ? 2 * i : i, b = pairing == REF_ROPE_ADJACENT ? 2 * i + 1 : i + hd / 2;
    double xa = v[a], xb = v[b];
    v[a] = (float)(xa * c - xb * s);
    v[b] = (float)(xb * c + xa * s);
}

void ref_rope(float *x, int T, int n_heads, int hd, int row_stride, long long pos0, int P, const float *table,
              ref_rope_pairing pairing) {
    assert(T > 0 && n_heads > 0 && hd > 0 && hd % 2 == 0 && n_heads * hd <= row_stride && pos0 >= 0 && P > 0);
    for (int t = 0; t < T; t++) {
        long long pos = pos0 + t;
        if (pos >= P)
            continue;
        for (int h = 0; h < n_heads; h++)
            for (int i = 0; i < hd / 2; i++) {
                const float *cs = table + ((size_t)pos * (hd / 2) + i) * 2;
                rotate(x + (size_t)t * row_stride + (size_t)h * hd, hd, i, cs[0], cs[1], pairing);
            }
    }
}

void ref_rope_theta(float *x, int T, int n_heads, int hd, int row_stride, long long pos0, double theta,
                    ref_rope_pairing pairing) {
    assert(T > 0 && n_heads > 0 && hd > 0 && hd % 2 == 0 && n_heads * hd <= row_stride && pos0 >= 0);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < n_heads; h++)
            for (int i = 0; i < hd / 2; i++) {
                double a = (double)(pos0 + t) * ref_rope_inv_freq(theta, hd, i);
                rotate(x + (size_t)t * row_stride + (size_t)h * hd, hd, i, cos(a), sin(a), pairing);
            }
}

void ref_swiglu(float *y, const float *gu, int T, int ff) {
    assert(T > 0 && ff > 0);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < ff; j++) {
            double g = gu[(size_t)t * 2 * ff + j], u = gu[(size_t)t * 2 * ff + ff + j];
            y[(size_t)t * ff + j] = (float)(g / (1.0 + exp(-g)) * u);
        }
}
