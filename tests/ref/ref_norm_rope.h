/* ref_norm_rope.h — the plain CPU reference of the Llama-family row kernels: RMSNorm (of rows and
 * of heads inside qkv rows), rotary position embedding (both pairings; from a table of angles and
 * from the formula itself) and SwiGLU. The oracle of tests/test_rowwise.c and of the model tests.
 *
 * What it is not: fast, or part of the library. Conventions as ref.h: float storage, every sum and
 * every element-wise formula in double with one final rounding to float, dense row-major arrays,
 * preconditions checked with assert(). */
#ifndef VKGPT_TESTS_REF_NORM_ROPE_H
#define VKGPT_TESTS_REF_NORM_ROPE_H

#include <stddef.h>

/* RMS normalisation of each row of x[rows, width]:
 *   y = x / sqrt(sum(x^2) / width + eps) * w[width]     (sum and scaling in double)
 * y may be the same array as x. */
void ref_rmsnorm(float *y, const float *x, const float *w, int rows, int width, float eps);

/* In place RMS normalisation over hd of the n_heads heads that start at column col of each of the T
 * rows of x (row stride row_stride): the hd floats at x[t*row_stride + col + h*hd ..] become
 * ref_rmsnorm of themselves with weight w[hd]. Nothing else of x changes. Qwen3's q/k norm. */
void ref_rmsnorm_heads(float *x, const float *w, int T, int n_heads, int hd, int row_stride, int col, float eps);

/* Which elements RoPE rotates together (pair i < hd/2 of a head). */
typedef enum ref_rope_pairing {
    REF_ROPE_HALF = 0,     /* (i, i + hd/2), Hugging Face's rotate_half */
    REF_ROPE_ADJACENT = 1, /* (2i, 2i + 1), GGUF Llama */
} ref_rope_pairing;

/* theta^(-2i/hd): the inverse frequency of pair i without scaling, in double. */
double ref_rope_inv_freq(double theta, int hd, int i);

/* table[P, hd/2, 2] = (cos, sin) of p * inv_freq[i] for p < P, i < hd/2, computed in double and
 * rounded to float; inv_freq[hd/2] as given (NULL: unscaled ref_rope_inv_freq(theta, hd, i)). */
void ref_rope_table(float *table, int P, int hd, double theta, const double *inv_freq);

/* RoPE in place on the first n_heads heads of each of the T rows of x (row stride row_stride,
 * n_heads * hd <= row_stride): row t is at position pos0 + t; if that is below P, pair (a, b) of
 * pair index i of each head becomes, in double from the float table entry (c, s) = table[pos][i],
 *   x[a] = x[a] c - x[b] s,  x[b] = x[b] c + x[a] s
 * and a row at or past P is left as it is. pos0 may be any non-negative value. */
void ref_rope(float *x, int T, int n_heads, int hd, int row_stride, long long pos0, int P, const float *table,
              ref_rope_pairing pairing);

/* The same rotation without a table: angle = (pos0 + t) * theta^(-2i/hd), cos and sin in double.
 * For checking the table path against the formula at known angles. */
void ref_rope_theta(float *x, int T, int n_heads, int hd, int row_stride, long long pos0, double theta,
                    ref_rope_pairing pairing);

/* y[T, ff] = silu(g) * u with g = gu[t, j], u = gu[t, ff + j], silu(g) = g / (1 + exp(-g)), in
 * double. gu is [T, 2 ff]; y must not overlap it. */
void ref_swiglu(float *y, const float *gu, int T, int ff);

#endif /* VKGPT_TESTS_REF_NORM_ROPE_H */
