/* ref.c — the CPU reference operators (see ref.h): the random generator, matmul with epilogues,
 * layer norm, softmax, gelu, add, embedding, attention and argmax. Plain loops, double
 * accumulation. Not the half-precision converters (ref_half.c) nor the GPT-2 model (ref_gpt2.c). */
#include "ref.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

/* ---- random numbers ------------------------------------------------------------------------ */

ref_rng ref_rng_seed(uint64_t seed) {
    ref_rng rng = {seed};
    return rng;
}

uint64_t ref_rng_u64(ref_rng *rng) {
    rng->state += 0x9E3779B97F4A7C15u;
    uint64_t z = rng->state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

float ref_rng_uniform(ref_rng *rng, float lo, float hi) {
    double u = (double)(ref_rng_u64(rng) >> 40) * (1.0 / 16777216.0); /* [0, 1), 24 bits */
    return (float)((double)lo + ((double)hi - (double)lo) * u);
}

void ref_rng_fill(ref_rng *rng, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++)
        x[i] = ref_rng_uniform(rng, lo, hi);
}

/* ---- matmul -------------------------------------------------------------------------------- */

/* Applies bias and epilogue to one double-precision dot product and rounds it once. */
static float finish(double acc, const float *b, int n, ref_epilogue ep, const float *residual,
                    size_t idx) {
    if (b)
        acc += (double)b[n];
    switch (ep) {
    case REF_EPILOGUE_NONE:
        break;
    case REF_EPILOGUE_GELU:
        acc = ref_gelu_f64(acc);
        break;
    case REF_EPILOGUE_RESIDUAL:
        acc += (double)residual[idx];
        break;
    }
    return (float)acc;
}

/* Columns of Y computed together by ref_matmul: with W in [K,N] layout, walking k for a block of
 * adjacent columns reads W row by row (contiguous) instead of striding by N for every product. */
enum { REF_COL_BLOCK = 64 };

void ref_matmul(float *Y, const float *X, const float *W, const float *b, int M, int K, int N,
                ref_epilogue ep, const float *residual) {
    assert(Y && X && W && M > 0 && K > 0 && N > 0);
    assert(ep != REF_EPILOGUE_RESIDUAL || residual);
    for (int m = 0; m < M; m++) {
        const float *x = X + (size_t)m * K;
        for (int n0 = 0; n0 < N; n0 += REF_COL_BLOCK) {
            int nb = N - n0 < REF_COL_BLOCK ? N - n0 : REF_COL_BLOCK;
            double acc[REF_COL_BLOCK] = {0};
            for (int k = 0; k < K; k++) {
                const float *w = W + (size_t)k * N + n0;
                for (int j = 0; j < nb; j++)
                    acc[j] += (double)x[k] * (double)w[j];
            }
            for (int j = 0; j < nb; j++) {
                size_t idx = (size_t)m * N + (size_t)(n0 + j);
                Y[idx] = finish(acc[j], b, n0 + j, ep, residual, idx);
            }
        }
    }
}

void ref_matmul_nk(float *Y, const float *X, const float *W, const float *b, int M, int K, int N,
                   ref_epilogue ep, const float *residual) {
    assert(Y && X && W && M > 0 && K > 0 && N > 0);
    assert(ep != REF_EPILOGUE_RESIDUAL || residual);
    for (int m = 0; m < M; m++) {
        const float *x = X + (size_t)m * K;
        for (int n = 0; n < N; n++) {
            const float *w = W + (size_t)n * K;
            double acc = 0.0;
            for (int k = 0; k < K; k++)
                acc += (double)x[k] * (double)w[k];
            size_t idx = (size_t)m * N + (size_t)n;
            Y[idx] = finish(acc, b, n, ep, residual, idx);
        }
    }
}

void ref_transpose(float *dst, const float *src, int rows, int cols) {
    assert(dst && src && dst != src && rows > 0 && cols > 0);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            dst[(size_t)c * rows + r] = src[(size_t)r * cols + c];
}

/* ---- row-wise and element-wise ------------------------------------------------------------- */

void ref_layernorm(float *y, const float *x, const float *gamma, const float *beta, int rows,
                   int width, float eps) {
    assert(y && x && gamma && beta && rows > 0 && width > 0);
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * width;
        float *yr = y + (size_t)r * width;
        double sum = 0.0;
        for (int i = 0; i < width; i++)
            sum += (double)xr[i];
        double mean = sum / width;
        double sq = 0.0;
        for (int i = 0; i < width; i++) {
            double c = (double)xr[i] - mean;
            sq += c * c;
        }
        double inv_std = 1.0 / sqrt(sq / width + (double)eps);
        for (int i = 0; i < width; i++)
            yr[i] = (float)(((double)xr[i] - mean) * inv_std * (double)gamma[i] + (double)beta[i]);
    }
}

void ref_softmax(float *y, const float *x, int rows, int width, float scale, int causal,
                 int row_offset) {
    assert(y && x && rows > 0 && width > 0);
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * width;
        float *yr = y + (size_t)r * width;
        /* Columns [0, visible) take part; the rest are masked to probability 0. */
        long long last = causal ? (long long)r + row_offset : (long long)width - 1;
        int visible = last < 0 ? 0 : (last >= width ? width : (int)last + 1);
        double max = -INFINITY;
        for (int c = 0; c < visible; c++) {
            double s = (double)scale * (double)xr[c];
            if (s > max)
                max = s;
        }
        if (visible == 0 || max == -INFINITY) {
            for (int c = 0; c < width; c++)
                yr[c] = 0.0f;
            continue;
        }
        double sum = 0.0;
        for (int c = 0; c < visible; c++)
            sum += exp((double)scale * (double)xr[c] - max);
        /* Reads xr[c] before writing yr[c], so y == x is safe. */
        for (int c = 0; c < width; c++)
            yr[c] = c < visible ? (float)(exp((double)scale * (double)xr[c] - max) / sum) : 0.0f;
    }
}

double ref_gelu_f64(double x) {
    const double sqrt_2_over_pi = sqrt(2.0 / 3.14159265358979323846);
    return 0.5 * x * (1.0 + tanh(sqrt_2_over_pi * (x + 0.044715 * x * x * x)));
}

void ref_gelu(float *y, const float *x, size_t n) {
    assert(y && x);
    for (size_t i = 0; i < n; i++)
        y[i] = (float)ref_gelu_f64((double)x[i]);
}

void ref_add(float *y, const float *a, const float *b, size_t n) {
    assert(y && a && b);
    for (size_t i = 0; i < n; i++)
        y[i] = (float)((double)a[i] + (double)b[i]);
}

void ref_embedding(float *y, const float *wte, const float *wpe, const int32_t *tokens, int T,
                   int d, int pos0) {
    assert(y && wte && wpe && tokens && T > 0 && d > 0 && pos0 >= 0);
    for (int t = 0; t < T; t++) {
        assert(tokens[t] >= 0);
        const float *te = wte + (size_t)tokens[t] * d;
        const float *pe = wpe + (size_t)(pos0 + t) * d;
        ref_add(y + (size_t)t * d, te, pe, (size_t)d);
    }
}

/* ---- attention ----------------------------------------------------------------------------- */

int ref_attention(float *out, const float *q, const float *k, const float *v, int T, int S, int H,
                  int hd, int q_pos0) {
    assert(out && q && k && v && T > 0 && S > 0 && H > 0 && hd > 0);
    assert(q_pos0 >= 0 && q_pos0 + T <= S);
    size_t row = (size_t)H * hd; /* floats per token row of q, k, v and out */
    double *p = malloc((size_t)S * sizeof *p);
    double *acc = malloc((size_t)hd * sizeof *acc);
    if (!p || !acc) {
        free(p);
        free(acc);
        return -1;
    }
    double scale = 1.0 / sqrt((double)hd);
    for (int h = 0; h < H; h++) {
        for (int t = 0; t < T; t++) {
            const float *qt = q + (size_t)t * row + (size_t)h * hd;
            int n_keys = q_pos0 + t + 1; /* keys 0 .. q_pos0 + t */
            double max = -INFINITY;
            for (int s = 0; s < n_keys; s++) {
                const float *ks = k + (size_t)s * row + (size_t)h * hd;
                double dot = 0.0;
                for (int i = 0; i < hd; i++)
                    dot += (double)qt[i] * (double)ks[i];
                p[s] = dot * scale;
                if (p[s] > max)
                    max = p[s];
            }
            double sum = 0.0;
            for (int s = 0; s < n_keys; s++) {
                p[s] = exp(p[s] - max);
                sum += p[s];
            }
            for (int i = 0; i < hd; i++)
                acc[i] = 0.0;
            for (int s = 0; s < n_keys; s++) {
                const float *vs = v + (size_t)s * row + (size_t)h * hd;
                for (int i = 0; i < hd; i++)
                    acc[i] += p[s] * (double)vs[i];
            }
            float *ot = out + (size_t)t * row + (size_t)h * hd;
            for (int i = 0; i < hd; i++)
                ot[i] = (float)(acc[i] / sum);
        }
    }
    free(p);
    free(acc);
    return 0;
}

int ref_argmax(const float *x, int n) {
    assert(x && n > 0);
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (isnan(x[i]))
            continue;
        if (best < 0 || x[i] > x[best])
            best = i;
    }
    return best < 0 ? 0 : best;
}
