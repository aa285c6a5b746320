/* test_ref.c — checks the CPU reference (tests/ref) against hand-computed cases, constants computed
 * independently with Python's math module (shown next to each), algebraic properties (causality,
 * layout equivalence, round trips) and a deliberately naive double-precision GPT-2 forward written
 * here without any ref_ operator, and the family-neutral decoder (ref_decoder) on hand-computed RoPE,
 * scaling and RMSNorm values and on identities (GQA = replicated MHA, window >= T = no window, GPT-2
 * config = ref_gpt2). Needs no Vulkan device. */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"
#include "ref/ref_decoder.h"

/* |got - want| <= atol + rtol * |want| */
static void assert_close(double got, double want, double atol, double rtol) {
    double tol = atol + rtol * fabs(want);
    if (!(fabs(got - want) <= tol))
        fail_msg("got %.17g, want %.17g (tolerance %.3g)", got, want, tol);
}

static void assert_same_floats(const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            fail_msg("element %zu differs: %.9g vs %.9g", i, (double)a[i], (double)b[i]);
}

static float *alloc_floats(size_t n) {
    float *p = calloc(n, sizeof *p);
    assert_non_null(p);
    return p;
}

/* ---- random numbers ---------------------------------------------------------------------- */

static void test_rng_splitmix64_values(void **state) {
    (void)state;
    /* Seed 0: the published first outputs of splitmix64 (also recomputed in Python). */
    ref_rng rng = ref_rng_seed(0);
    assert_true(ref_rng_u64(&rng) == 0xE220A8397B1DCDAFull);
    assert_true(ref_rng_u64(&rng) == 0x6E789E6AA1B965F4ull);
    assert_true(ref_rng_u64(&rng) == 0x06C45D188009454Full);
    /* Seed 42 in Python: u = (z >> 40) / 2**24; -0.25 + 0.5 * u. */
    rng = ref_rng_seed(42);
    assert_true(ref_rng_uniform(&rng, -0.25f, 0.25f) == (float)0.12078243494033813);
    assert_true(ref_rng_uniform(&rng, -0.25f, 0.25f) == (float)-0.17004480957984924);
}

/* ---- matmul ------------------------------------------------------------------------------ */

static void test_matmul_by_hand(void **state) {
    (void)state;
    /* [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50] */
    const float X[4] = {1, 2, 3, 4}, W[4] = {5, 6, 7, 8}, Wt[4] = {5, 7, 6, 8};
    const float b[2] = {1, -1};
    float Y[4];
    ref_matmul(Y, X, W, NULL, 2, 2, 2, REF_EPILOGUE_NONE, NULL);
    assert_same_floats(Y, (const float[]){19, 22, 43, 50}, 4);
    ref_matmul_nk(Y, X, Wt, NULL, 2, 2, 2, REF_EPILOGUE_NONE, NULL);
    assert_same_floats(Y, (const float[]){19, 22, 43, 50}, 4);
    ref_matmul(Y, X, W, b, 2, 2, 2, REF_EPILOGUE_NONE, NULL);
    assert_same_floats(Y, (const float[]){20, 21, 44, 49}, 4);

    /* Residual, in place (Y is the residual): Y = [10 20; 30 40] + XW + b. */
    float R[4] = {10, 20, 30, 40};
    ref_matmul(R, X, W, b, 2, 2, 2, REF_EPILOGUE_RESIDUAL, R);
    assert_same_floats(R, (const float[]){30, 41, 74, 89}, 4);
    float R2[4] = {10, 20, 30, 40};
    ref_matmul_nk(R2, X, Wt, b, 2, 2, 2, REF_EPILOGUE_RESIDUAL, R2);
    assert_same_floats(R2, (const float[]){30, 41, 74, 89}, 4);

    /* Non-square: [1 2 3; 4 5 6] · [1 0; 0 1; 1 1] = [4 5; 10 11] */
    const float X2[6] = {1, 2, 3, 4, 5, 6}, W2[6] = {1, 0, 0, 1, 1, 1};
    ref_matmul(Y, X2, W2, NULL, 2, 3, 2, REF_EPILOGUE_NONE, NULL);
    assert_same_floats(Y, (const float[]){4, 5, 10, 11}, 4);
}

static void test_matmul_gelu_epilogue(void **state) {
    (void)state;
    /* I · W + b = [1 -1; 3 3]; gelu after the bias. Python:
     * g = lambda x: 0.5*x*(1+math.tanh(math.sqrt(2/math.pi)*(x+0.044715*x**3))) */
    const float X[4] = {1, 0, 0, 1}, W[4] = {0.5f, -1, 2.5f, 3}, b[2] = {0.5f, 0};
    float Y[4];
    ref_matmul(Y, X, W, b, 2, 2, 2, REF_EPILOGUE_GELU, NULL);
    const double want[4] = {0.8411919906082768, -0.15880800939172324, 2.996362607918227,
                            2.996362607918227};
    for (int i = 0; i < 4; i++)
        assert_close(Y[i], want[i], 0, 1e-7);
}

/* Column counts past REF_COL_BLOCK (64) and odd sizes: [K,N] and [N,K] storage agree bit for bit
 * (same summation order), and both agree with a float-accumulated sum to float accuracy. */
static void test_matmul_layouts_agree(void **state) {
    (void)state;
    enum { M = 5, K = 70, N = 131 };
    ref_rng rng = ref_rng_seed(7);
    float *X = alloc_floats(M * K), *W = alloc_floats(K * N), *Wt = alloc_floats(N * K);
    float *b = alloc_floats(N), *R = alloc_floats(M * N);
    float *Y1 = alloc_floats(M * N), *Y2 = alloc_floats(M * N);
    ref_rng_fill(&rng, X, M * K, -1, 1);
    ref_rng_fill(&rng, W, K * N, -1, 1);
    ref_rng_fill(&rng, b, N, -1, 1);
    ref_rng_fill(&rng, R, M * N, -1, 1);
    ref_transpose(Wt, W, K, N);
    assert_true(Wt[3 * K + 2] == W[2 * N + 3]);
    for (int ep = REF_EPILOGUE_NONE; ep <= REF_EPILOGUE_RESIDUAL; ep++) {
        ref_matmul(Y1, X, W, b, M, K, N, (ref_epilogue)ep, R);
        ref_matmul_nk(Y2, X, Wt, b, M, K, N, (ref_epilogue)ep, R);
        assert_same_floats(Y1, Y2, M * N);
    }
    ref_matmul(Y1, X, W, NULL, M, K, N, REF_EPILOGUE_NONE, NULL);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float s = 0;
            for (int k = 0; k < K; k++)
                s += X[m * K + k] * W[k * N + n];
            assert_close(Y1[m * N + n], s, 1e-4, 1e-5);
        }
    free(X), free(W), free(Wt), free(b), free(R), free(Y1), free(Y2);
}

/* ---- row-wise and element-wise ----------------------------------------------------------- */

static void test_softmax_known_vector(void **state) {
    (void)state;
    /* Python: e = [math.exp(0.5*v) for v in (1, 2, 3, -1)]; [v / sum(e) for v in e] */
    const float x[4] = {1, 2, 3, -1};
    const double want[4] = {0.17437148764032925, 0.2874899806762353, 0.473990846254078,
                            0.06414768542935739};
    float y[4];
    ref_softmax(y, x, 1, 4, 0.5f, 0, 0);
    for (int i = 0; i < 4; i++)
        assert_close(y[i], want[i], 0, 1e-6);
    /* Max subtraction: huge inputs must not overflow exp. */
    const float big[2] = {1000, 1000};
    ref_softmax(y, big, 1, 2, 1.0f, 0, 0);
    assert_close(y[0], 0.5, 0, 1e-7);
    assert_close(y[1], 0.5, 0, 1e-7);
    /* In place. */
    float z[4] = {1, 2, 3, -1};
    ref_softmax(z, z, 1, 4, 0.5f, 0, 0);
    for (int i = 0; i < 4; i++)
        assert_close(z[i], want[i], 0, 1e-6);
}

static void test_softmax_causal(void **state) {
    (void)state;
    /* All-equal scores: row r, visible columns 0..r+offset, each gets 1/visible. */
    float x[3 * 4], y[3 * 4];
    for (int i = 0; i < 12; i++)
        x[i] = 5.0f;
    ref_softmax(y, x, 3, 4, 1.0f, 1, 0);
    const float want0[12] = {1, 0, 0, 0, 0.5f, 0.5f, 0, 0, 1 / 3.0f, 1 / 3.0f, 1 / 3.0f, 0};
    for (int i = 0; i < 12; i++)
        assert_close(y[i], want0[i], 0, 1e-7);
    ref_softmax(y, x, 3, 4, 1.0f, 1, 2); /* row 2 sees all 4 (clamped) */
    const float want2[12] = {1 / 3.0f, 1 / 3.0f, 1 / 3.0f, 0, 0.25f, 0.25f, 0.25f, 0.25f,
                             0.25f, 0.25f, 0.25f, 0.25f};
    for (int i = 0; i < 12; i++)
        assert_close(y[i], want2[i], 0, 1e-7);
    ref_softmax(y, x, 3, 4, 1.0f, 1, -1); /* row 0 sees nothing: zeros, not NaN */
    const float wantm[12] = {0, 0, 0, 0, 1, 0, 0, 0, 0.5f, 0.5f, 0, 0};
    for (int i = 0; i < 12; i++)
        assert_close(y[i], wantm[i], 0, 1e-7);
}

static void test_layernorm_known(void **state) {
    (void)state;
    /* Python: mean 2, var 2/3, eps 1e-5: [(v-2)/math.sqrt(2/3+1e-5) for v in (1,2,3)], then
     * * gamma (2, 0.5, -1) + beta (0.1, 0.2, 0.3). Two rows to check row indexing. */
    const float x[6] = {1, 2, 3, 101, 102, 103};
    const float ones[3] = {1, 1, 1}, zeros[3] = {0, 0, 0};
    const float g[3] = {2, 0.5f, -1}, b[3] = {0.1f, 0.2f, 0.3f};
    float y[6];
    ref_layernorm(y, x, ones, zeros, 2, 3, 1e-5f);
    const double want[3] = {-1.2247356859083902, 0.0, 1.2247356859083902};
    for (int i = 0; i < 6; i++)
        assert_close(y[i], want[i % 3], 1e-6, 1e-6);
    ref_layernorm(y, x, g, b, 2, 3, 1e-5f);
    const double wantg[3] = {-2.3494713718167803, 0.2, -0.9247356859083902};
    for (int i = 0; i < 6; i++)
        assert_close(y[i], wantg[i % 3], 1e-6, 1e-6);
    /* A constant row: variance 0, output = beta (eps keeps it finite). */
    const float c[3] = {7, 7, 7};
    ref_layernorm(y, c, g, b, 1, 3, 1e-5f);
    for (int i = 0; i < 3; i++)
        assert_close(y[i], b[i], 1e-7, 0);
}

static void test_gelu_known_points(void **state) {
    (void)state;
    /* Python: g(x) = 0.5*x*(1+math.tanh(math.sqrt(2/math.pi)*(x+0.044715*x**3))) */
    const float x[8] = {-3, -1, -0.5f, 0, 0.5f, 1, 3, 10};
    const double want[8] = {-0.0036373920817729943, -0.15880800939172324, -0.15428599017485606,
                            0.0, 0.34571400982514394, 0.8411919906082768, 2.996362607918227,
                            10.0};
    float y[8];
    ref_gelu(y, x, 8);
    for (int i = 0; i < 8; i++)
        assert_close(y[i], want[i], 1e-9, 1e-7);
    for (int i = 0; i < 8; i++)
        assert_close(ref_gelu_f64(x[i]), want[i], 1e-15, 1e-14);
}

static void test_add_and_embedding(void **state) {
    (void)state;
    const float a[3] = {1, 2, 3}, b[3] = {0.5f, -2, 4};
    float y[3];
    ref_add(y, a, b, 3);
    assert_same_floats(y, (const float[]){1.5f, 0, 7}, 3);
    /* wte[3,2], wpe[4,2]; tokens {2, 0} at positions 1, 2. */
    const float wte[6] = {1, 2, 3, 4, 5, 6}, wpe[8] = {10, 20, 30, 40, 50, 60, 70, 80};
    const int32_t tok[2] = {2, 0};
    float e[4];
    ref_embedding(e, wte, wpe, tok, 2, 2, 1);
    assert_same_floats(e, (const float[]){35, 46, 51, 62}, 4);
}

static void test_argmax(void **state) {
    (void)state;
    assert_int_equal(ref_argmax((const float[]){1, 3, 2, 3}, 4), 1);
    assert_int_equal(ref_argmax((const float[]){-5, -2, -7}, 3), 1);
    assert_int_equal(ref_argmax((const float[]){4}, 1), 0);
    assert_int_equal(ref_argmax((const float[]){NAN, 1, NAN, 2}, 4), 3);
    assert_int_equal(ref_argmax((const float[]){-INFINITY, -INFINITY}, 2), 0);
}

/* ---- attention --------------------------------------------------------------------------- */

static void test_attention_single_key_returns_v(void **state) {
    (void)state;
    const float q[6] = {3, -1, 2, 0.5f, 9, -4}, k[6] = {1, 2, 3, 4, 5, 6};
    const float v[6] = {0.25f, -1, 7, 8, -9, 10};
    float out[6];
    assert_int_equal(ref_attention(out, q, k, v, 1, 1, 2, 3, 0), 0);
    for (int i = 0; i < 6; i++)
        assert_close(out[i], v[i], 0, 1e-7);
}

static void test_attention_by_hand(void **state) {
    (void)state;
    /* H=1, hd=2, decode of position 1 over S=2: q=[1,0], k=[0,0],[2,0], v=[1,2],[3,-4].
     * Python: s1 = 2/math.sqrt(2); p0 = 1/(1+math.exp(s1)); p1 = 1-p0; p0*v0 + p1*v1 */
    const float q[2] = {1, 0}, k[4] = {0, 0, 2, 0}, v[4] = {1, 2, 3, -4};
    float out[2];
    assert_int_equal(ref_attention(out, q, k, v, 1, 2, 1, 2, 1), 0);
    assert_close(out[0], 2.6088593650139136, 0, 1e-6);
    assert_close(out[1], -2.826578095041741, 0, 1e-6);
}

/* Prefill: changing key/value 3 changes row 3 only; the last prefill row equals a decode step;
 * changing head 1's keys leaves head 0 alone. */
static void test_attention_causal_and_decode(void **state) {
    (void)state;
    enum { T = 4, H = 2, HD = 5, D = H * HD };
    ref_rng rng = ref_rng_seed(11);
    float q[T * D], k[T * D], v[T * D], o1[T * D], o2[T * D], dec[D];
    ref_rng_fill(&rng, q, T * D, -1, 1);
    ref_rng_fill(&rng, k, T * D, -1, 1);
    ref_rng_fill(&rng, v, T * D, -1, 1);
    assert_int_equal(ref_attention(o1, q, k, v, T, T, H, HD, 0), 0);

    assert_int_equal(ref_attention(dec, q + (T - 1) * D, k, v, 1, T, H, HD, T - 1), 0);
    assert_same_floats(dec, o1 + (T - 1) * D, D);

    float k2[T * D], v2[T * D];
    memcpy(k2, k, sizeof k);
    memcpy(v2, v, sizeof v);
    for (int i = 0; i < D; i++) {
        k2[(T - 1) * D + i] += 0.5f;
        v2[(T - 1) * D + i] -= 0.75f;
    }
    assert_int_equal(ref_attention(o2, q, k2, v2, T, T, H, HD, 0), 0);
    assert_same_floats(o1, o2, (T - 1) * D);
    for (int i = 0; i < D; i++)
        assert_true(o2[(T - 1) * D + i] != o1[(T - 1) * D + i]);

    memcpy(k2, k, sizeof k);
    /* One key of head 1 only (shifting every key by the same vector would leave softmax alone). */
    k2[1 * D + HD + 1] += 1.0f;
    assert_int_equal(ref_attention(o2, q, k2, v, T, T, H, HD, 0), 0);
    int head1_changed = 0;
    for (int t = 0; t < T; t++) {
        assert_same_floats(o1 + t * D, o2 + t * D, HD);
        for (int i = HD; i < D; i++)
            head1_changed |= o1[t * D + i] != o2[t * D + i];
    }
    assert_true(head1_changed);
}

/* ---- half precision ---------------------------------------------------------------------- */

static void test_f16_edge_cases(void **state) {
    (void)state;
    assert_int_equal(ref_f32_to_f16(1.0f), 0x3C00);
    assert_int_equal(ref_f32_to_f16(-2.0f), 0xC000);
    assert_int_equal(ref_f32_to_f16(0.0f), 0x0000);
    assert_int_equal(ref_f32_to_f16(-0.0f), 0x8000);
    assert_int_equal(ref_f32_to_f16(65504.0f), 0x7BFF);     /* largest finite */
    assert_int_equal(ref_f32_to_f16(65519.0f), 0x7BFF);     /* below the halfway point */
    assert_int_equal(ref_f32_to_f16(65520.0f), 0x7C00);     /* tie, rounds to even = 2^16 = inf */
    assert_int_equal(ref_f32_to_f16(-1e6f), 0xFC00);
    assert_int_equal(ref_f32_to_f16(INFINITY), 0x7C00);
    assert_int_equal(ref_f32_to_f16(-INFINITY), 0xFC00);
    assert_true(ref_f16_is_nan(ref_f32_to_f16(NAN)));
    assert_true(ref_f16_is_nan(ref_f32_to_f16(-NAN)));
    assert_int_equal(ref_f32_to_f16(0x1p-14f), 0x0400);     /* smallest normal */
    assert_int_equal(ref_f32_to_f16(0x1p-24f), 0x0001);     /* smallest subnormal */
    assert_int_equal(ref_f32_to_f16(0x3FFp-24f), 0x03FF);   /* largest subnormal */
    assert_int_equal(ref_f32_to_f16(0x1p-25f), 0x0000);     /* tie between 0 and 2^-24: even */
    assert_int_equal(ref_f32_to_f16(0x1.000002p-25f), 0x0001); /* just above the tie */
    assert_int_equal(ref_f32_to_f16(0x3p-25f), 0x0002);     /* 1.5 quanta: tie to even (2) */
    assert_int_equal(ref_f32_to_f16(0x7FFp-25f), 0x0400);   /* 1023.5 quanta: up to min normal */
    /* Ties at 1: spacing 2^-10, halfway is 2^-11. */
    assert_int_equal(ref_f32_to_f16(1.0f + 0x1p-11f), 0x3C00);          /* to even 0x3C00 */
    assert_int_equal(ref_f32_to_f16(1.0f + 0x3p-11f), 0x3C02);          /* to even 0x3C02 */
    assert_int_equal(ref_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3C01); /* above the tie */
    assert_int_equal(ref_f32_to_f16(2.0f - 0x1p-12f), 0x4000);          /* carries into exponent */
    assert_int_equal(ref_f32_to_f16(0.1f), 0x2E66);

    assert_true(ref_f16_to_f32(0x3C00) == 1.0f);
    assert_true(ref_f16_to_f32(0x0001) == 0x1p-24f);
    assert_true(ref_f16_to_f32(0x03FF) == 0x3FFp-24f);
    assert_true(ref_f16_to_f32(0x7BFF) == 65504.0f);
    assert_true(ref_f16_to_f32(0xC000) == -2.0f);
    assert_true(ref_f16_to_f32(0x7C00) == INFINITY);
    assert_true(ref_f16_to_f32(0xFC00) == -INFINITY);
    assert_true(isnan(ref_f16_to_f32(0x7E00)));
    assert_true(isnan(ref_f16_to_f32(0x7C01)));
    assert_true(isnan(ref_f16_to_f32(0xFE00)) && signbit(ref_f16_to_f32(0xFE00)));
    assert_true(ref_f16_to_f32(0x8000) == 0.0f && signbit(ref_f16_to_f32(0x8000)));
}

/* Every non-NaN half survives f16 -> f32 -> f16; the values increase with the bit pattern. */
static void test_f16_round_trip_all(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if (ref_f16_is_nan((uint16_t)h))
            continue;
        uint16_t back = ref_f32_to_f16(ref_f16_to_f32((uint16_t)h));
        if (back != h)
            fail_msg("0x%04x -> %.9g -> 0x%04x", h, (double)ref_f16_to_f32((uint16_t)h), back);
        if (h > 0 && h <= 0x7C00)
            assert_true(ref_f16_to_f32((uint16_t)h) > ref_f16_to_f32((uint16_t)(h - 1)));
    }
}

/* For random floats in the finite range, the result is a nearest half, and on a tie the even one.
 * The neighbours come from the bit pattern (h - 1, h + 1), a different route than the converter. */
static void test_f16_nearest_random(void **state) {
    (void)state;
    ref_rng rng = ref_rng_seed(3);
    for (int i = 0; i < 200000; i++) {
        /* log-uniform magnitudes from 2^-26 to 2^16 so every binade and the subnormals appear */
        double mag = ldexp(1.0 + ref_rng_uniform(&rng, 0, 1), (int)(ref_rng_u64(&rng) % 42) - 26);
        float f = (float)mag;
        if (f >= 65520.0f)
            continue;
        uint16_t h = ref_f32_to_f16(f);
        double err = fabs((double)ref_f16_to_f32(h) - f);
        double up = h < 0x7BFF ? fabs((double)ref_f16_to_f32((uint16_t)(h + 1)) - f) : INFINITY;
        double down = h > 0 ? fabs((double)ref_f16_to_f32((uint16_t)(h - 1)) - f) : INFINITY;
        if (err > up || err > down)
            fail_msg("%.9g -> 0x%04x is not nearest", (double)f, h);
        if ((err == up || err == down) && (h & 1))
            fail_msg("%.9g -> 0x%04x: tie not rounded to even", (double)f, h);
    }
}

static void test_bf16_edge_cases(void **state) {
    (void)state;
    assert_int_equal(ref_f32_to_bf16(1.0f), 0x3F80);
    assert_int_equal(ref_f32_to_bf16(-2.0f), 0xC000);
    assert_int_equal(ref_f32_to_bf16(-0.0f), 0x8000);
    assert_int_equal(ref_f32_to_bf16(1.0f + 0x1p-8f), 0x3F80);           /* tie to even */
    assert_int_equal(ref_f32_to_bf16(1.0f + 0x3p-8f), 0x3F82);           /* tie to even */
    assert_int_equal(ref_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81); /* above the tie */
    assert_int_equal(ref_f32_to_bf16(0x1.FEp127f), 0x7F7F);              /* largest finite */
    assert_int_equal(ref_f32_to_bf16(0x1.FFp127f), 0x7F80);              /* tie: up to inf */
    assert_int_equal(ref_f32_to_bf16(INFINITY), 0x7F80);
    assert_int_equal(ref_f32_to_bf16(-INFINITY), 0xFF80);
    assert_true(ref_bf16_is_nan(ref_f32_to_bf16(NAN)));
    assert_int_equal(ref_f32_to_bf16(0x1p-133f), 0x0001);                /* smallest subnormal */
    assert_int_equal(ref_f32_to_bf16(0x1p-149f), 0x0000);                /* far below: zero */
    assert_int_equal(ref_f32_to_bf16(0x1p-126f), 0x0080);                /* smallest normal */
    assert_int_equal(ref_f32_to_bf16(3.140625f), 0x4049);
    assert_true(ref_bf16_to_f32(0x3F80) == 1.0f);
    assert_true(ref_bf16_to_f32(0x0001) == 0x1p-133f);
    assert_true(ref_bf16_to_f32(0x7F80) == INFINITY);
    assert_true(isnan(ref_bf16_to_f32(0x7FC0)));
    assert_true(ref_bf16_to_f32(0x8000) == 0.0f && signbit(ref_bf16_to_f32(0x8000)));
}

/* Round trip of every non-NaN bf16, and agreement on random non-NaN float bit patterns with the
 * usual integer formula (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 — an independent method. */
static void test_bf16_round_trip_and_bits(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if (ref_bf16_is_nan((uint16_t)h))
            continue;
        assert_int_equal(ref_f32_to_bf16(ref_bf16_to_f32((uint16_t)h)), h);
    }
    ref_rng rng = ref_rng_seed(5);
    for (int i = 0; i < 200000; i++) {
        uint32_t bits = (uint32_t)(ref_rng_u64(&rng) >> 32);
        float f;
        memcpy(&f, &bits, sizeof f);
        if (isnan(f))
            continue;
        uint16_t want = (uint16_t)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
        if (ref_f32_to_bf16(f) != want)
            fail_msg("bits 0x%08x: got 0x%04x want 0x%04x", bits, ref_f32_to_bf16(f), want);
    }
}

/* ---- GPT-2 ------------------------------------------------------------------------------- */

static const ref_gpt2_config tiny = {
    .n_layer = 2, .n_head = 2, .n_embd = 8, .vocab_size = 37, .n_positions = 12, .eps = 1e-5f};

static void test_gpt2_random_deterministic(void **state) {
    (void)state;
    ref_gpt2 a, b, c;
    assert_int_equal(ref_gpt2_random(&a, &tiny, 99, 0.5f), 0);
    assert_int_equal(ref_gpt2_random(&b, &tiny, 99, 0.5f), 0);
    assert_int_equal(ref_gpt2_random(&c, &tiny, 100, 0.5f), 0);
    /* V*d + P*d + L*(12d^2 + 13d) + 2d, by hand for d = 8: 296 + 96 + 2*872 + 16 */
    assert_int_equal(a.storage_len, 2152);
    assert_int_equal(ref_gpt2_param_count(&tiny), 2152);
    assert_memory_equal(a.storage, b.storage, a.storage_len * sizeof(float));
    assert_memory_not_equal(a.storage, c.storage, a.storage_len * sizeof(float));
    /* Every weight is the next draw of the documented stream, plus 1 in the gamma arrays. */
    ref_rng rng = ref_rng_seed(99);
    for (size_t i = 0; i < a.storage_len; i++) {
        const float *w = a.storage + i;
        int gamma = w >= a.lnf_g && w < a.lnf_g + 8;
        for (int l = 0; l < 2; l++)
            gamma |= (w >= a.layers[l].ln1_g && w < a.layers[l].ln1_g + 8) ||
                     (w >= a.layers[l].ln2_g && w < a.layers[l].ln2_g + 8);
        float want = ref_rng_uniform(&rng, -0.5f, 0.5f) + (gamma ? 1.0f : 0.0f);
        if (*w != want)
            fail_msg("storage[%zu] = %.9g, want %.9g", i, (double)*w, (double)want);
    }
    /* Documented order: wte, wpe, layer 0 ln1_g first, ..., ln_f last. */
    assert_ptr_equal(a.wpe, a.wte + 37 * 8);
    assert_ptr_equal(a.layers[0].ln1_g, a.wpe + 12 * 8);
    assert_ptr_equal(a.lnf_b + 8, a.storage + a.storage_len);
    for (int i = 0; i < 8; i++) {
        assert_true(a.layers[1].ln2_g[i] >= 0.5f && a.layers[1].ln2_g[i] <= 1.5f);
        assert_true(a.lnf_g[i] >= 0.5f && a.lnf_g[i] <= 1.5f);
    }
    ref_gpt2_free(&a);
    ref_gpt2_free(&b);
    ref_gpt2_free(&c);
    assert_null(a.storage);
    ref_gpt2_free(&a); /* safe twice */

    ref_gpt2_config bad = tiny;
    bad.n_head = 3; /* 8 % 3 != 0 */
    assert_int_equal(ref_gpt2_random(&a, &bad, 1, 0.5f), -1);
    assert_null(a.storage);
}

static void test_gpt2_causal_prefix(void **state) {
    (void)state;
    ref_gpt2 m;
    assert_int_equal(ref_gpt2_random(&m, &tiny, 1, 0.5f), 0);
    const int32_t tokens[9] = {3, 17, 0, 36, 5, 5, 22, 9, 1};
    int V = tiny.vocab_size;
    float *full = alloc_floats(9 * (size_t)V), *pre = alloc_floats(5 * (size_t)V);
    assert_int_equal(ref_gpt2_forward(&m, tokens, 9, full), 0);
    assert_int_equal(ref_gpt2_forward(&m, tokens, 5, pre), 0);
    assert_same_floats(full, pre, 5 * (size_t)V);
    /* ...while changing token 2 changes rows 2.. and leaves rows 0, 1 alone. */
    int32_t other[9];
    memcpy(other, tokens, sizeof other);
    other[2] = 4;
    float *changed = alloc_floats(9 * (size_t)V);
    assert_int_equal(ref_gpt2_forward(&m, other, 9, changed), 0);
    assert_same_floats(full, changed, 2 * (size_t)V);
    for (int t = 2; t < 9; t++)
        assert_memory_not_equal(full + t * V, changed + t * V, (size_t)V * sizeof(float));
    free(changed);
    free(full);
    free(pre);
    ref_gpt2_free(&m);
}

/* A naive GPT-2 forward in double, written from the definition without any ref_ operator
 * (activations never rounded to float). logits[T, V]. */
static double naive_gelu(double x) {
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / acos(-1.0)) * (x + 0.044715 * pow(x, 3))));
}

static void naive_layernorm(double *y, const double *x, const float *g, const float *b, int T,
                            int d, double eps) {
    for (int t = 0; t < T; t++) {
        double mean = 0, var = 0;
        for (int i = 0; i < d; i++)
            mean += x[t * d + i] / d;
        for (int i = 0; i < d; i++)
            var += pow(x[t * d + i] - mean, 2) / d;
        for (int i = 0; i < d; i++)
            y[t * d + i] = (x[t * d + i] - mean) / sqrt(var + eps) * g[i] + b[i];
    }
}

/* y[T,n] (+)= x[T,k] · W[k,n] + bias */
static void naive_linear(double *y, const double *x, const float *W, const float *bias, int T,
                         int k, int n, int accumulate) {
    for (int t = 0; t < T; t++)
        for (int j = 0; j < n; j++) {
            double s = bias[j];
            for (int i = 0; i < k; i++)
                s += x[t * k + i] * W[i * n + j];
            y[t * n + j] = accumulate ? y[t * n + j] + s : s;
        }
}

static void naive_forward(const ref_gpt2 *m, const int32_t *tok, int T, double *logits) {
    int d = m->config.n_embd, H = m->config.n_head, hd = d / H, V = m->config.vocab_size;
    double *x = calloc((size_t)T * d, sizeof *x), *h = calloc((size_t)T * d, sizeof *h);
    double *qkv = calloc((size_t)T * 3 * d, sizeof *qkv), *a = calloc((size_t)T * d, sizeof *a);
    double *f = calloc((size_t)T * 4 * d, sizeof *f), *p = calloc((size_t)T, sizeof *p);
    assert_true(x && h && qkv && a && f && p);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < d; i++)
            x[t * d + i] = (double)m->wte[tok[t] * d + i] + m->wpe[t * d + i];
    for (int l = 0; l < m->config.n_layer; l++) {
        const ref_gpt2_layer *L = &m->layers[l];
        naive_layernorm(h, x, L->ln1_g, L->ln1_b, T, d, m->config.eps);
        naive_linear(qkv, h, L->attn_w, L->attn_b, T, d, 3 * d, 0);
        for (int head = 0; head < H; head++)
            for (int t = 0; t < T; t++) {
                const double *q = qkv + t * 3 * d + head * hd;
                double sum = 0;
                for (int s = 0; s <= t; s++) {
                    const double *k = qkv + s * 3 * d + d + head * hd;
                    double dot = 0;
                    for (int i = 0; i < hd; i++)
                        dot += q[i] * k[i];
                    p[s] = exp(dot / sqrt(hd)); /* small logits here: no max subtraction needed */
                    sum += p[s];
                }
                for (int i = 0; i < hd; i++) {
                    double o = 0;
                    for (int s = 0; s <= t; s++)
                        o += p[s] / sum * qkv[s * 3 * d + 2 * d + head * hd + i];
                    a[t * d + head * hd + i] = o;
                }
            }
        naive_linear(x, a, L->proj_w, L->proj_b, T, d, d, 1);
        naive_layernorm(h, x, L->ln2_g, L->ln2_b, T, d, m->config.eps);
        naive_linear(f, h, L->fc_w, L->fc_b, T, d, 4 * d, 0);
        for (int i = 0; i < T * 4 * d; i++)
            f[i] = naive_gelu(f[i]);
        naive_linear(x, f, L->fcproj_w, L->fcproj_b, T, 4 * d, d, 1);
    }
    naive_layernorm(h, x, m->lnf_g, m->lnf_b, T, d, m->config.eps);
    for (int t = 0; t < T; t++)
        for (int v = 0; v < V; v++) {
            double s = 0;
            for (int i = 0; i < d; i++)
                s += h[t * d + i] * m->wte[v * d + i];
            logits[t * V + v] = s;
        }
    free(x), free(h), free(qkv), free(a), free(f), free(p);
}

static void test_gpt2_matches_naive(void **state) {
    (void)state;
    ref_gpt2 m;
    assert_int_equal(ref_gpt2_random(&m, &tiny, 2024, 0.5f), 0);
    enum { T = 7 };
    const int32_t tokens[T] = {36, 0, 12, 12, 7, 30, 2};
    int V = tiny.vocab_size;
    float *got = alloc_floats(T * (size_t)V);
    double *want = calloc(T * (size_t)V, sizeof *want);
    assert_non_null(want);
    assert_int_equal(ref_gpt2_forward(&m, tokens, T, got), 0);
    naive_forward(&m, tokens, T, want);
    double max_abs = 0;
    for (int i = 0; i < T * V; i++) {
        assert_close(got[i], want[i], 1e-5, 1e-5);
        max_abs = fmax(max_abs, fabs(want[i]));
    }
    assert_true(max_abs > 0.5); /* the logits are not trivially small */
    free(got);
    free(want);
    ref_gpt2_free(&m);
}

static void test_gpt2_rejects_bad_input(void **state) {
    (void)state;
    ref_gpt2 m;
    assert_int_equal(ref_gpt2_random(&m, &tiny, 1, 0.5f), 0);
    float *logits = alloc_floats(13 * (size_t)tiny.vocab_size);
    int32_t tokens[13] = {0};
    assert_int_equal(ref_gpt2_forward(&m, tokens, 13, logits), -1); /* T > n_positions */
    assert_int_equal(ref_gpt2_forward(&m, tokens, 0, logits), -1);
    tokens[1] = 37; /* == vocab_size */
    assert_int_equal(ref_gpt2_forward(&m, tokens, 2, logits), -1);
    tokens[1] = -1;
    assert_int_equal(ref_gpt2_forward(&m, tokens, 2, logits), -1);
    assert_int_equal(ref_gpt2_forward(&m, tokens, 1, logits), 0);
    free(logits);
    ref_gpt2_free(&m);
}

/* ---- the family-neutral decoder (ref_decoder) ---------------------------------------------- */

/* A random ref_decoder owning its weights: every matrix and bias uniform in [-0.3, 0.3), norm
 * weights 1 + that. take() counts on the first pass (pool NULL) and hands out on the second. */
typedef struct dec_model {
    ref_decoder m;
    ref_decoder_layer layers[4];
    float *pool;
    size_t used;
    ref_rng rng;
} dec_model;

static const float *dec_take(dec_model *f, size_t n, int around_one) {
    float *p = f->pool ? f->pool + f->used : NULL;
    if (p) {
        ref_rng_fill(&f->rng, p, n, -0.3f, 0.3f);
        for (size_t i = 0; around_one && i < n; i++)
            p[i] += 1.0f;
    }
    f->used += n;
    return p;
}

static void dec_fill(dec_model *f) {
    const ref_decoder_config *c = &f->m.config;
    size_t d = (size_t)c->d_model, qd = (size_t)c->n_head * c->head_dim, hd = (size_t)c->head_dim;
    size_t kvd = (size_t)c->n_kv_head * c->head_dim, ff = (size_t)c->d_ff, V = (size_t)c->vocab_size;
    f->m.embed = dec_take(f, V * d, 0);
    f->m.pos_embed = dec_take(f, (size_t)c->n_positions * d, 0);
    f->m.lm_head = dec_take(f, V * d, 0);
    f->m.final_norm_w = dec_take(f, d, 1);
    f->m.final_norm_b = dec_take(f, d, 0);
    for (int l = 0; l < c->n_layer; l++) {
        ref_decoder_layer *L = &f->layers[l];
        L->attn_norm_w = dec_take(f, d, 1), L->attn_norm_b = dec_take(f, d, 0);
        L->q_w = dec_take(f, qd * d, 0), L->q_b = dec_take(f, qd, 0);
        L->k_w = dec_take(f, kvd * d, 0), L->k_b = dec_take(f, kvd, 0);
        L->v_w = dec_take(f, kvd * d, 0), L->v_b = dec_take(f, kvd, 0);
        L->q_norm_w = dec_take(f, hd, 1), L->k_norm_w = dec_take(f, hd, 1);
        L->o_w = dec_take(f, d * qd, 0), L->o_b = dec_take(f, d, 0);
        L->mlp_norm_w = dec_take(f, d, 1), L->mlp_norm_b = dec_take(f, d, 0);
        L->gate_w = dec_take(f, ff * d, 0), L->gate_b = dec_take(f, ff, 0);
        L->up_w = dec_take(f, ff * d, 0), L->up_b = dec_take(f, ff, 0);
        L->down_w = dec_take(f, d * ff, 0), L->down_b = dec_take(f, d, 0);
    }
}

static void dec_random(dec_model *f, const ref_decoder_config *c, uint64_t seed) {
    memset(f, 0, sizeof *f);
    assert_true(c->n_layer <= 4);
    f->m.config = *c;
    f->m.layers = f->layers;
    dec_fill(f); /* counts */
    f->pool = alloc_floats(f->used);
    f->used = 0;
    f->rng = ref_rng_seed(seed);
    dec_fill(f);
    assert_int_equal(ref_decoder_check(&f->m), 0);
}

/* A small Llama-like config: RMSNorm, SiLU, gated MLP, RoPE (rotate-half), untied. */
static ref_decoder_config llama_tiny(void) {
    return (ref_decoder_config){.n_layer = 2, .d_model = 16, .n_head = 4, .n_kv_head = 2, .head_dim = 6,
                                .d_ff = 24, .vocab_size = 29, .n_positions = 16, .norm = REF_NORM_RMSNORM,
                                .norm_eps = 1e-5, .act = REF_ACT_SILU, .gated_mlp = 1, .pos = REF_POS_ROPE,
                                .rope_theta = 10000.0};
}

static double *alloc_doubles(size_t n) {
    double *p = calloc(n, sizeof *p);
    assert_non_null(p);
    return p;
}

static void assert_same_doubles(const double *a, const double *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            fail_msg("element %zu differs: %.17g vs %.17g", i, a[i], b[i]);
}

static int rows_equal(const double *a, const double *b, int V) {
    return memcmp(a, b, (size_t)V * sizeof *a) == 0;
}

static void test_decoder_rope_known_angles(void **state) {
    (void)state;
    /* hd 4, theta 10000: inv_freq = [1, 10000^-0.5 = 0.01]. Values from Python's math module:
     * rotate-half pairs (0,2) turn by p*1 and (1,3) by p*0.01; adjacent pairs (0,1) by p*1 and
     * (2,3) by p*0.01; x' = (xa cos - xb sin, xb cos + xa sin). */
    static const double want[2][2][4] = {
        {{-1.9841106485555495, 1.959900667496664, 2.4623779024123156, 4.019799668334994},   /* half, p=1 */
         {-1.413352520780047, 1.8791180666879925, -2.828857481741469, 4.058191135400942}},  /* half, p=3 */
        {{-1.1426396637476532, 1.922075596544176, 2.9598506679133294, 4.029799501669161},   /* adjacent, p=1 */
         {-1.27223251272018, -1.8388649851410237, 2.87866810043698, 4.088186635603437}}}; /* adjacent, p=3 */
    ref_decoder_config c = llama_tiny();
    c.head_dim = 4;
    double inv[2];
    ref_decoder_inv_freq(&c, inv);
    assert_close(inv[0], 1.0, 0, 1e-15);
    assert_close(inv[1], 0.01, 0, 1e-15);
    for (int pairing = 0; pairing < 2; pairing++) {
        c.rope_pairing = pairing ? REF_ROPE_ADJACENT : REF_ROPE_HALF;
        for (int k = 0; k < 2; k++) {
            double x[4] = {1, 2, 3, 4};
            ref_decoder_rope(&c, inv, x, k ? 3 : 1);
            for (int i = 0; i < 4; i++)
                assert_close(x[i], want[pairing][k][i], 1e-15, 1e-14);
        }
        double x0[4] = {1, 2, 3, 4};
        ref_decoder_rope(&c, inv, x0, 0); /* position 0 is the identity */
        assert_same_doubles(x0, (const double[]){1, 2, 3, 4}, 4);
    }
}

static void test_decoder_rope_scaling(void **state) {
    (void)state;
    /* llama3 with Llama 3.1's parameters (factor 8, low 1, high 4, original 8192) on hd 8,
     * theta 500000: base = 500000^(-i/4) = [1, 0.0376060, 0.00141421, 5.31830e-5] with wavelengths
     * 2pi/base = [6.28, 167.1, 4442.9, 118142.8] against high 8192/4 = 2048 and low 8192/1:
     * i = 0, 1 stay; i = 3 is divided by 8; i = 2 is smoothed with s = (8192/4442.88 - 1)/3.
     * Computed in Python from the formula (not from this code). */
    ref_decoder_config c = llama_tiny();
    c.head_dim = 8;
    c.rope_theta = 500000.0;
    c.rope_scaling = REF_ROPE_SCALING_LLAMA3;
    c.rope_factor = 8, c.rope_low_freq_factor = 1, c.rope_high_freq_factor = 4;
    c.rope_original_max_positions = 8192;
    double inv[4];
    ref_decoder_inv_freq(&c, inv);
    const double llama3[4] = {1.0, 0.03760603093086393, 0.0005248461609929547, 6.647869871181236e-06};
    for (int i = 0; i < 4; i++)
        assert_close(inv[i], llama3[i], 0, 1e-13);
    /* linear, factor 4, theta 10000: 10000^(-i/4) / 4. */
    c.rope_theta = 10000.0;
    c.rope_scaling = REF_ROPE_SCALING_LINEAR;
    c.rope_factor = 4;
    ref_decoder_inv_freq(&c, inv);
    const double linear[4] = {0.25, 0.025, 0.0025, 0.00025};
    for (int i = 0; i < 4; i++)
        assert_close(inv[i], linear[i], 0, 1e-13);
    c.rope_scaling = REF_ROPE_SCALING_NONE;
    ref_decoder_inv_freq(&c, inv);
    for (int i = 0; i < 4; i++)
        assert_close(inv[i], 4 * linear[i], 0, 1e-13);
}

/* K/V weights (and biases) of `a` copied so that `b` has one K/V head per query head: b's head h is
 * a's head h / (H / KVH_a). */
static void replicate_kv(dec_model *b, const dec_model *a) {
    const ref_decoder_config *c = &a->m.config;
    int hd = c->head_dim, d = c->d_model, group = c->n_head / c->n_kv_head;
    for (int l = 0; l < c->n_layer; l++) {
        const ref_decoder_layer *A = &a->layers[l];
        ref_decoder_layer *B = &b->layers[l];
        for (int h = 0; h < c->n_head; h++) {
            size_t src = (size_t)(h / group) * hd, dst = (size_t)h * hd;
            memcpy((float *)B->k_w + dst * d, A->k_w + src * d, (size_t)hd * d * sizeof(float));
            memcpy((float *)B->v_w + dst * d, A->v_w + src * d, (size_t)hd * d * sizeof(float));
            memcpy((float *)B->k_b + dst, A->k_b + src, (size_t)hd * sizeof(float));
            memcpy((float *)B->v_b + dst, A->v_b + src, (size_t)hd * sizeof(float));
        }
    }
}

static void test_decoder_gqa_equals_replicated_mha(void **state) {
    (void)state;
    const int32_t tok[7] = {3, 28, 0, 11, 11, 7, 19};
    for (int kvh = 1; kvh <= 2; kvh++) { /* MQA, and GQA with 2 query heads per K/V head */
        ref_decoder_config c = llama_tiny();
        c.n_kv_head = kvh;
        c.qkv_bias = 1;
        dec_model a, b;
        dec_random(&a, &c, 5);
        c.n_kv_head = c.n_head;
        dec_random(&b, &c, 5);
        /* Same everything except K/V: copy a's other weights over b's. */
        for (int l = 0; l < c.n_layer; l++) {
            ref_decoder_layer keep = b.layers[l];
            b.layers[l] = a.layers[l];
            b.layers[l].k_w = keep.k_w, b.layers[l].k_b = keep.k_b;
            b.layers[l].v_w = keep.v_w, b.layers[l].v_b = keep.v_b;
        }
        b.m.embed = a.m.embed, b.m.lm_head = a.m.lm_head, b.m.final_norm_w = a.m.final_norm_w;
        replicate_kv(&b, &a);
        int V = c.vocab_size;
        double *la = alloc_doubles(7 * (size_t)V), *lb = alloc_doubles(7 * (size_t)V);
        assert_int_equal(ref_decoder_forward(&a.m, tok, 7, la), 0);
        assert_int_equal(ref_decoder_forward(&b.m, tok, 7, lb), 0);
        assert_same_doubles(la, lb, 7 * (size_t)V);
        /* The mapping matters: pairing query head h with K/V head h % KVH instead differs. */
        if (kvh == 2) {
            ref_decoder_layer *B = &b.layers[0];
            int hd = c.head_dim, d = c.d_model;
            float *tmp = alloc_floats((size_t)hd * d);
            memcpy(tmp, B->k_w + (size_t)1 * hd * d, (size_t)hd * d * sizeof(float));
            memcpy((float *)B->k_w + (size_t)1 * hd * d, B->k_w + (size_t)2 * hd * d, (size_t)hd * d * sizeof(float));
            memcpy((float *)B->k_w + (size_t)2 * hd * d, tmp, (size_t)hd * d * sizeof(float));
            free(tmp);
            assert_int_equal(ref_decoder_forward(&b.m, tok, 7, lb), 0);
            assert_false(rows_equal(la + 6 * V, lb + 6 * V, V));
        }
        free(la), free(lb), free(a.pool), free(b.pool);
    }
}

static void test_decoder_qk_norm(void **state) {
    (void)state;
    /* By hand: x = [1 2 3 4], mean(x^2) = 7.5, w = [1 1 2 .5], eps 1e-6 -> x / sqrt(7.5 + 1e-6) * w. */
    const double x[4] = {1, 2, 3, 4};
    const float w[4] = {1, 1, 2, 0.5f};
    double y[4];
    ref_decoder_rmsnorm(y, x, w, 4, 1e-6);
    const double want[4] = {0.3651483473268884, 0.7302966946537768, 2.1908900839613303, 0.7302966946537768};
    for (int i = 0; i < 4; i++)
        assert_close(y[i], want[i], 0, 1e-15);
    /* In the forward: with q/k norm, scaling the q and k projections (weights and biases) by 4 (exact in float)
     * changes nothing (each head is normalised); without, it changes the logits. */
    const int32_t tok[5] = {1, 2, 27, 4, 9};
    for (int qk = 0; qk < 2; qk++) {
        ref_decoder_config c = llama_tiny();
        c.qk_norm = qk, c.qkv_bias = 1, c.head_dim = 8; /* hd != d / H, as in Qwen3 */
        c.norm_eps = 1e-12; /* so that eps does not tell 4q from q */
        dec_model a;
        dec_random(&a, &c, 8);
        int V = c.vocab_size;
        double *before = alloc_doubles(5 * (size_t)V), *after = alloc_doubles(5 * (size_t)V);
        assert_int_equal(ref_decoder_forward(&a.m, tok, 5, before), 0);
        for (int l = 0; l < c.n_layer; l++) {
            ref_decoder_layer *L = &a.layers[l];
            size_t qn = (size_t)c.n_head * c.head_dim, kn = (size_t)c.n_kv_head * c.head_dim;
            for (size_t i = 0; i < qn * (size_t)c.d_model; i++)
                ((float *)L->q_w)[i] *= 4;
            for (size_t i = 0; i < kn * (size_t)c.d_model; i++)
                ((float *)L->k_w)[i] *= 4;
            for (size_t i = 0; i < qn; i++)
                ((float *)L->q_b)[i] *= 4;
            for (size_t i = 0; i < kn; i++)
                ((float *)L->k_b)[i] *= 4;
        }
        assert_int_equal(ref_decoder_forward(&a.m, tok, 5, after), 0);
        double max_diff = 0;
        for (size_t i = 0; i < 5 * (size_t)V; i++)
            max_diff = fmax(max_diff, fabs(after[i] - before[i]));
        if (qk)
            assert_true(max_diff < 1e-9);
        else
            assert_true(max_diff > 1e-3);
        free(before), free(after), free(a.pool);
    }
}

static void test_decoder_sliding_window(void **state) {
    (void)state;
    enum { T = 10 };
    const int32_t tok[T] = {4, 8, 15, 16, 23, 28, 0, 1, 2, 3};
    ref_decoder_config c = llama_tiny();
    int V = c.vocab_size;
    dec_model a;
    dec_random(&a, &c, 13);
    double *full = alloc_doubles(T * (size_t)V), *win = alloc_doubles(T * (size_t)V);
    double *changed = alloc_doubles(T * (size_t)V);
    assert_int_equal(ref_decoder_forward(&a.m, tok, T, full), 0);
    /* W >= T: the same as no window. */
    a.m.config.sliding_window = T;
    assert_int_equal(ref_decoder_forward(&a.m, tok, T, win), 0);
    assert_same_doubles(full, win, T * (size_t)V);
    /* W = 4 < T: rows 0..3 see everything anyway; every later row differs. */
    a.m.config.sliding_window = 4;
    assert_int_equal(ref_decoder_forward(&a.m, tok, T, win), 0);
    assert_same_doubles(full, win, 4 * (size_t)V);
    for (int t = 4; t < T; t++)
        assert_false(rows_equal(full + t * V, win + t * V, V));
    /* The window's edge: position p sees p-W+1 .. p, so through 2 layers token 2 reaches rows
     * 2 .. 2 + 2(W-1) and no further. W = 1: only its own row; W = 2: rows 2, 3, 4. */
    int32_t other[T];
    memcpy(other, tok, sizeof other);
    other[2] = 5;
    for (int W = 1; W <= 2; W++) {
        a.m.config.sliding_window = W;
        assert_int_equal(ref_decoder_forward(&a.m, tok, T, win), 0);
        assert_int_equal(ref_decoder_forward(&a.m, other, T, changed), 0);
        for (int t = 0; t < T; t++) {
            int reached = t >= 2 && t <= 2 + 2 * (W - 1);
            if (rows_equal(win + t * V, changed + t * V, V) == reached)
                fail_msg("window %d: row %d %s", W, t, reached ? "unchanged" : "changed");
        }
    }
    free(full), free(win), free(changed), free(a.pool);
}

/* On a GPT-2 config the decoder equals ref_gpt2_forward (which rounds activations to float between
 * operations, hence the 1e-5 bound relative to the largest logit). */
static void test_decoder_matches_gpt2(void **state) {
    (void)state;
    const ref_gpt2_config gc = {.n_layer = 2, .n_head = 2, .n_embd = 16, .vocab_size = 41, .n_positions = 12,
                                .eps = 1e-5f};
    ref_gpt2 g;
    assert_int_equal(ref_gpt2_random(&g, &gc, 21, 0.3f), 0);
    int d = gc.n_embd, V = gc.vocab_size;
    ref_decoder m = {.config = {.n_layer = 2, .d_model = d, .n_head = 2, .n_kv_head = 2, .head_dim = d / 2,
                                .d_ff = 4 * d, .vocab_size = V, .n_positions = 12, .norm = REF_NORM_LAYERNORM,
                                .norm_eps = 1e-5f, .act = REF_ACT_GELU_TANH, .gated_mlp = 0,
                                .pos = REF_POS_LEARNED, .qkv_bias = 1, .o_bias = 1, .mlp_bias = 1,
                                .tied_lm_head = 1},
                     .embed = g.wte, .pos_embed = g.wpe, .final_norm_w = g.lnf_g, .final_norm_b = g.lnf_b};
    ref_decoder_layer layers[2];
    float *t = alloc_floats(2 * (size_t)12 * d * d), *cur = t; /* transposed (Conv1D -> [out, in]) */
    for (int l = 0; l < 2; l++) {
        const ref_gpt2_layer *G = &g.layers[l];
        float *qkv = cur, *proj = qkv + 3 * d * d, *fc = proj + d * d, *fcp = fc + 4 * d * d;
        cur = fcp + 4 * d * d;
        ref_transpose(qkv, G->attn_w, d, 3 * d);
        ref_transpose(proj, G->proj_w, d, d);
        ref_transpose(fc, G->fc_w, d, 4 * d);
        ref_transpose(fcp, G->fcproj_w, 4 * d, d);
        layers[l] = (ref_decoder_layer){.attn_norm_w = G->ln1_g, .attn_norm_b = G->ln1_b,
                                        .q_w = qkv, .k_w = qkv + d * d, .v_w = qkv + 2 * d * d,
                                        .q_b = G->attn_b, .k_b = G->attn_b + d, .v_b = G->attn_b + 2 * d,
                                        .o_w = proj, .o_b = G->proj_b, .mlp_norm_w = G->ln2_g,
                                        .mlp_norm_b = G->ln2_b, .up_w = fc, .up_b = G->fc_b,
                                        .down_w = fcp, .down_b = G->fcproj_b};
    }
    m.layers = layers;
    const int32_t tok[12] = {0, 40, 3, 3, 17, 9, 22, 1, 30, 12, 5, 8};
    float *want = alloc_floats(12 * (size_t)V);
    double *got = alloc_doubles(12 * (size_t)V);
    assert_int_equal(ref_gpt2_forward(&g, tok, 12, want), 0);
    assert_int_equal(ref_decoder_forward(&m, tok, 12, got), 0);
    double max_ref = 0, max_err = 0;
    for (size_t i = 0; i < 12 * (size_t)V; i++) {
        max_ref = fmax(max_ref, fabs(want[i]));
        max_err = fmax(max_err, fabs(got[i] - want[i]));
    }
    assert_true(max_ref > 0.5);
    if (max_err > 1e-5 * max_ref)
        fail_msg("decoder vs ref_gpt2: error %.3g of max %.3g", max_err, max_ref);
    free(t), free(want), free(got);
    ref_gpt2_free(&g);
}

static void test_decoder_pieces_and_bad_input(void **state) {
    (void)state;
    ref_decoder_config c = llama_tiny();
    c.sliding_window = 3;
    c.rope_pairing = REF_ROPE_ADJACENT;
    int V = c.vocab_size;
    dec_model a;
    dec_random(&a, &c, 17);
    const int32_t tok[9] = {1, 2, 3, 4, 5, 6, 7, 8, 28};
    double *whole = alloc_doubles(9 * (size_t)V), *pieces = alloc_doubles(9 * (size_t)V);
    assert_int_equal(ref_decoder_forward(&a.m, tok, 9, whole), 0);
    ref_decoder_state s;
    assert_int_equal(ref_decoder_state_init(&s, &a.m), 0);
    assert_int_equal(ref_decoder_append(&s, tok, 4, pieces), 0);
    assert_int_equal(ref_decoder_append(&s, tok + 4, 1, pieces + 4 * V), 0);
    assert_int_equal(ref_decoder_append(&s, tok + 5, 4, pieces + 5 * V), 0);
    assert_same_doubles(whole, pieces, 9 * (size_t)V);
    assert_int_equal(s.pos, 9);
    int32_t bad = V;
    assert_int_equal(ref_decoder_append(&s, &bad, 1, pieces), -1);
    assert_int_equal(ref_decoder_append(&s, tok, 8, pieces), -1); /* 9 + 8 > 16 positions */
    assert_int_equal(s.pos, 9);
    ref_decoder_state_free(&s);
    /* Greedy: each token is the argmax of the logits after the ones before. */
    int32_t gen[6], seq[7] = {7};
    assert_int_equal(ref_decoder_greedy(&a.m, seq, 1, 6, gen), 0);
    memcpy(seq + 1, gen, 6 * sizeof *gen);
    assert_int_equal(ref_decoder_forward(&a.m, seq, 6, whole), 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(gen[i], ref_decoder_argmax(whole + (size_t)i * V, V));
    /* Inconsistent configs and missing weights are refused. */
    ref_decoder bad_m = a.m;
    bad_m.config.n_kv_head = 3; /* 4 % 3 */
    assert_int_equal(ref_decoder_forward(&bad_m, tok, 2, whole), -1);
    bad_m = a.m;
    bad_m.lm_head = NULL; /* untied without a head */
    assert_int_equal(ref_decoder_forward(&bad_m, tok, 2, whole), -1);
    bad_m.config.tied_lm_head = 1;
    assert_int_equal(ref_decoder_forward(&bad_m, tok, 2, whole), 0);
    free(whole), free(pieces), free(a.pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_splitmix64_values),
        cmocka_unit_test(test_matmul_by_hand),
        cmocka_unit_test(test_matmul_gelu_epilogue),
        cmocka_unit_test(test_matmul_layouts_agree),
        cmocka_unit_test(test_softmax_known_vector),
        cmocka_unit_test(test_softmax_causal),
        cmocka_unit_test(test_layernorm_known),
        cmocka_unit_test(test_gelu_known_points),
        cmocka_unit_test(test_add_and_embedding),
        cmocka_unit_test(test_argmax),
        cmocka_unit_test(test_attention_single_key_returns_v),
        cmocka_unit_test(test_attention_by_hand),
        cmocka_unit_test(test_attention_causal_and_decode),
        cmocka_unit_test(test_f16_edge_cases),
        cmocka_unit_test(test_f16_round_trip_all),
        cmocka_unit_test(test_f16_nearest_random),
        cmocka_unit_test(test_bf16_edge_cases),
        cmocka_unit_test(test_bf16_round_trip_and_bits),
        cmocka_unit_test(test_gpt2_random_deterministic),
        cmocka_unit_test(test_gpt2_causal_prefix),
        cmocka_unit_test(test_gpt2_matches_naive),
        cmocka_unit_test(test_gpt2_rejects_bad_input),
        cmocka_unit_test(test_decoder_rope_known_angles),
        cmocka_unit_test(test_decoder_rope_scaling),
        cmocka_unit_test(test_decoder_gqa_equals_replicated_mha),
        cmocka_unit_test(test_decoder_qk_norm),
        cmocka_unit_test(test_decoder_sliding_window),
        cmocka_unit_test(test_decoder_matches_gpt2),
        cmocka_unit_test(test_decoder_pieces_and_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
