/*
 * test_sample.c — the sampler against distributions computed here independently (double
 * precision, plain sorts): draw counts with a fixed seed must lie within 5 sigma of the expected
 * renormalised probabilities, and tokens that the filters remove must never be drawn. Also greedy
 * and tie rules, reproducibility by seed, the repetition penalty worked by hand, and invalid input.
 * Needs no Vulkan device.
 */
#include "vkgpt.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define DRAWS 20000

static vkg_sampler *make(float temperature, int32_t top_k, float top_p, float min_p,
                         float penalty, uint64_t seed, size_t vocab) {
    vkg_sampler_params p = vkg_sampler_defaults();
    p.temperature = temperature;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.repetition_penalty = penalty;
    p.seed = seed;
    vkg_sampler *s = NULL;
    vkg_status st = vkg_sampler_create(&p, vocab, &s);
    if (st)
        fail_msg("vkg_sampler_create: %s", vkg_last_error());
    return s;
}

static int32_t draw(vkg_sampler *s, const float *logits, size_t n, const int32_t *hist,
                    size_t n_hist) {
    int32_t t = -1;
    vkg_status st = vkg_sampler_sample(s, logits, n, hist, n_hist, &t);
    if (st)
        fail_msg("vkg_sampler_sample: %s", vkg_last_error());
    assert_true(t >= 0 && (size_t)t < n);
    return t;
}

/* Expected distribution, computed independently: softmax of logits / T in double, then the
 * filters in the documented order, each on sorted copies. */
typedef struct ref_item {
    double p;
    int id;
} ref_item;

static int by_p_desc(const void *a, const void *b) {
    const ref_item *x = a, *y = b;
    if (x->p != y->p)
        return x->p > y->p ? -1 : 1;
    return x->id - y->id;
}

static void reference(const double *logits, int n, double t, int k, double top_p, double min_p,
                      double *out) {
    ref_item *it = malloc((size_t)n * sizeof *it);
    assert_non_null(it);
    double max = -INFINITY, sum = 0;
    for (int i = 0; i < n; i++)
        max = fmax(max, logits[i] / t);
    for (int i = 0; i < n; i++) {
        it[i] = (ref_item){.p = exp(logits[i] / t - max), .id = i};
        sum += it[i].p;
    }
    for (int i = 0; i < n; i++)
        it[i].p /= sum;
    qsort(it, (size_t)n, sizeof *it, by_p_desc);
    int keep = n;
    if (k > 0 && k < keep)
        keep = k;
    sum = 0;
    for (int i = 0; i < keep; i++)
        sum += it[i].p;
    if (top_p < 1) {
        double cum = 0;
        int j = 0;
        while (j < keep && (j == 0 || cum < top_p * sum))
            cum += it[j++].p;
        keep = j;
    }
    for (int i = 0; i < n; i++)
        out[i] = 0;
    double kept = 0;
    for (int i = 0; i < keep; i++) {
        if (it[i].p >= min_p * it[0].p) {
            out[it[i].id] = it[i].p;
            kept += it[i].p;
        }
    }
    for (int i = 0; i < n; i++)
        out[i] /= kept;
    free(it);
}

/* Draws `draws` tokens and checks every count against `expected` (5 sigma, zero stays zero). */
static void check_counts_n(vkg_sampler *s, const float *logits, size_t n, const int32_t *hist,
                           size_t n_hist, const double *expected, int draws) {
    int *count = calloc(n, sizeof *count);
    assert_non_null(count);
    for (int d = 0; d < draws; d++)
        count[draw(s, logits, n, hist, n_hist)]++;
    for (size_t i = 0; i < n; i++) {
        double mean = draws * expected[i], sigma = sqrt(draws * expected[i] * (1 - expected[i]));
        if (expected[i] == 0 && count[i] != 0)
            fail_msg("token %zu drawn %d times but the filters remove it", i, count[i]);
        if (fabs(count[i] - mean) > 5 * sigma + 1)
            fail_msg("token %zu drawn %d times, expected %.1f +- %.1f", i, count[i], mean, sigma);
    }
    free(count);
}

static void check_counts(vkg_sampler *s, const float *logits, size_t n, const int32_t *hist,
                         size_t n_hist, const double *expected) {
    check_counts_n(s, logits, n, hist, n_hist, expected, DRAWS);
}

static void to_float(const double *d, float *f, int n) {
    for (int i = 0; i < n; i++)
        f[i] = (float)d[i];
}

/* ---- tests ---- */

static void test_invalid(void **state) {
    (void)state;
    static const struct {
        float t;
        int32_t k;
        float p, m, r;
        const char *field;
    } bad[] = {
        {-1, 0, 1, 0, 1, "temperature"}, {NAN, 0, 1, 0, 1, "temperature"},
        {INFINITY, 0, 1, 0, 1, "temperature"}, {1, -1, 1, 0, 1, "top_k"},
        {1, 0, 1.5f, 0, 1, "top_p"}, {1, 0, -0.1f, 0, 1, "top_p"}, {1, 0, NAN, 0, 1, "top_p"},
        {1, 0, 1, 2, 1, "min_p"}, {1, 0, 1, -1, 1, "min_p"}, {1, 0, 1, 0, 0, "repetition_penalty"},
        {1, 0, 1, 0, -2, "repetition_penalty"}, {1, 0, 1, 0, NAN, "repetition_penalty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vkg_sampler_params p = vkg_sampler_defaults();
        p.temperature = bad[i].t;
        p.top_k = bad[i].k;
        p.top_p = bad[i].p;
        p.min_p = bad[i].m;
        p.repetition_penalty = bad[i].r;
        vkg_sampler *s = (vkg_sampler *)&p;
        assert_int_equal(vkg_sampler_create(&p, 10, &s), VKG_ERROR_INVALID_ARGUMENT);
        assert_null(s);
        if (!strstr(vkg_last_error(), bad[i].field))
            fail_msg("case %zu: \"%s\" does not name %s", i, vkg_last_error(), bad[i].field);
    }
    vkg_sampler_params p = vkg_sampler_defaults();
    vkg_sampler *s;
    assert_int_equal(vkg_sampler_create(&p, 0, &s), VKG_ERROR_INVALID_ARGUMENT);
    assert_int_equal(vkg_sampler_create(NULL, 4, &s), VKG_ERROR_INVALID_ARGUMENT);

    s = make(1, 0, 1, 0, 1.2f, 1, 4);
    int32_t t = 77;
    float nan_logits[] = {0, 1, 2, NAN}, inf_logits[] = {0, INFINITY, 1, 2};
    float masked[] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY}, ok[] = {0, 1, 2, 3};
    assert_int_equal(vkg_sampler_sample(s, nan_logits, 4, NULL, 0, &t), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "logits[3] is NaN"));
    assert_int_equal(vkg_sampler_sample(s, inf_logits, 4, NULL, 0, &t), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "logits[1] is +inf"));
    assert_int_equal(vkg_sampler_sample(s, masked, 4, NULL, 0, &t), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "-inf"));
    assert_int_equal(vkg_sampler_sample(s, ok, 5, NULL, 0, &t), VKG_ERROR_INVALID_ARGUMENT);
    assert_int_equal(vkg_sampler_sample(s, ok, 0, NULL, 0, &t), VKG_ERROR_INVALID_ARGUMENT);
    int32_t hist[] = {1, 4};
    assert_int_equal(vkg_sampler_sample(s, ok, 4, hist, 2, &t), VKG_ERROR_TOKEN_RANGE);
    assert_non_null(strstr(vkg_last_error(), "history[1] = 4"));
    int32_t neg = -1;
    assert_int_equal(vkg_sampler_sample(s, ok, 4, &neg, 1, &t), VKG_ERROR_TOKEN_RANGE);
    assert_int_equal(vkg_sampler_sample(s, ok, 4, NULL, 1, &t), VKG_ERROR_INVALID_ARGUMENT);
    assert_int_equal(t, 77); /* untouched on failure */
    /* A vector shorter than the vocab_size given at create is fine (and -inf masks a token). */
    float short_logits[] = {5, -INFINITY};
    assert_int_equal(draw(s, short_logits, 2, NULL, 0), 0);
    vkg_sampler_destroy(s);
    vkg_sampler_destroy(NULL);
}

static void test_greedy_and_ties(void **state) {
    (void)state;
    vkg_sampler *g = make(0, 0, 1, 0, 1, 1, 64);
    float tie[] = {1, 5, 5, 2};
    assert_int_equal(draw(g, tie, 4, NULL, 0), 1);
    float neg[] = {-INFINITY, -7, -3, -3};
    assert_int_equal(draw(g, neg, 4, NULL, 0), 2);

    /* top_k = 1 and a tiny temperature are greedy too, on random vectors with ties. */
    vkg_sampler *k1 = make(1, 1, 1, 0, 1, 7, 64), *cold = make(1e-3f, 0, 1, 0, 1, 7, 64);
    vkg_sampler *subnormal = make(1e-40f, 0, 1, 0, 1, 7, 64);
    uint64_t x = 99;
    float v[64];
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 64; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            v[i] = (float)((x >> 40) % 50) * 0.25f; /* many exact ties, gaps of 0.25 */
        }
        int best = 0;
        for (int i = 1; i < 64; i++)
            if (v[i] > v[best])
                best = i;
        assert_int_equal(draw(g, v, 64, NULL, 0), best);
        assert_int_equal(draw(k1, v, 64, NULL, 0), best);
        /* exp(-0.25 / 1e-3) is 0 in float, and 1 / 1e-40 overflows: only the tied best tokens
         * can be drawn (each with equal probability: the limit of T -> 0, not argmax). */
        assert_true(v[draw(cold, v, 64, NULL, 0)] == v[best]);
        assert_true(v[draw(subnormal, v, 64, NULL, 0)] == v[best]);
    }
    vkg_sampler_destroy(g);
    vkg_sampler_destroy(k1);
    vkg_sampler_destroy(cold);
    vkg_sampler_destroy(subnormal);
}

static void test_reproducible(void **state) {
    (void)state;
    float l[16];
    for (int i = 0; i < 16; i++)
        l[i] = (float)(i % 5) * 0.3f;
    vkg_sampler *a = make(1, 0, 0.95f, 0, 1, 42, 16), *b = make(1, 0, 0.95f, 0, 1, 42, 16);
    vkg_sampler *c = make(1, 0, 0.95f, 0, 1, 43, 16);
    int32_t seq[500];
    int differ = 0;
    for (int i = 0; i < 500; i++) {
        seq[i] = draw(a, l, 16, NULL, 0);
        assert_int_equal(draw(b, l, 16, NULL, 0), seq[i]);
        differ += draw(c, l, 16, NULL, 0) != seq[i];
    }
    assert_true(differ > 100); /* another seed, another sequence */
    vkg_sampler_reset(a);
    for (int i = 0; i < 500; i++)
        assert_int_equal(draw(a, l, 16, NULL, 0), seq[i]);
    vkg_sampler_reseed(c, 42);
    for (int i = 0; i < 500; i++)
        assert_int_equal(draw(c, l, 16, NULL, 0), seq[i]);
    vkg_sampler_destroy(a);
    vkg_sampler_destroy(b);
    vkg_sampler_destroy(c);
}

static void test_temperature(void **state) {
    (void)state;
    double l[] = {2.0, 1.0, 0.5, 0.0, -1.0, -INFINITY};
    float f[6];
    double want[6];
    to_float(l, f, 6);
    const float temps[] = {1.0f, 0.7f, 2.5f};
    for (size_t i = 0; i < 3; i++) {
        vkg_sampler *s = make(temps[i], 0, 1, 0, 1, 1000 + i, 6);
        reference(l, 6, temps[i], 0, 1, 0, want);
        assert_true(want[5] == 0);
        check_counts(s, f, 6, NULL, 0, want);
        vkg_sampler_destroy(s);
    }
}

static void test_top_k(void **state) {
    (void)state;
    double l[] = {0.1, 2.0, 1.0, 1.5, -0.3};
    float f[5];
    double want[5];
    to_float(l, f, 5);
    vkg_sampler *s = make(1, 2, 1, 0, 1, 5, 8);
    reference(l, 5, 1, 2, 1, 0, want);
    assert_true(want[1] > 0 && want[3] > 0 && want[0] == 0 && want[2] == 0);
    check_counts(s, f, 5, NULL, 0, want);
    vkg_sampler_destroy(s);
    /* Ties at the boundary keep the lower ids. */
    float tie[] = {1, 3, 3, 3};
    s = make(1, 2, 1, 0, 1, 6, 4);
    for (int i = 0; i < 2000; i++) {
        int32_t t = draw(s, tie, 4, NULL, 0);
        assert_true(t == 1 || t == 2);
    }
    vkg_sampler_destroy(s);
}

static void test_top_p(void **state) {
    (void)state;
    /* T = 1: p = .644 .237 .087 .032; top_p .85 keeps tokens 0 and 1. T = 3 flattens the
     * distribution first (.385 .276 .198 .142), so that the nucleus holds tokens 0, 1 and 2: this
     * fails if top-p ran before the temperature. */
    double l[] = {3, 2, 1, 0};
    float f[4];
    double want[4];
    to_float(l, f, 4);
    vkg_sampler *s = make(1, 0, 0.85f, 0, 1, 11, 4);
    reference(l, 4, 1, 0, 0.85, 0, want);
    assert_true(want[1] > 0 && want[2] == 0);
    check_counts(s, f, 4, NULL, 0, want);
    vkg_sampler_destroy(s);
    s = make(3, 0, 0.85f, 0, 1, 12, 4);
    reference(l, 4, 3, 0, 0.85, 0, want);
    assert_true(want[2] > 0 && want[3] == 0);
    check_counts(s, f, 4, NULL, 0, want);
    vkg_sampler_destroy(s);
    /* top_p = 0 keeps only the best token. */
    s = make(1, 0, 0, 0, 1, 13, 4);
    for (int i = 0; i < 100; i++)
        assert_int_equal(draw(s, f, 4, NULL, 0), 0);
    vkg_sampler_destroy(s);
}

static void test_top_p_large_vocab(void **state) {
    (void)state;
    /* A GPT-2-sized vector with a long tail, through the sampler's pre-filtered sort. */
    enum { V = 50257 };
    double *l = malloc(V * sizeof *l), *want = malloc(V * sizeof *want);
    float *f = malloc(V * sizeof *f);
    assert_true(l && want && f);
    uint64_t x = 7;
    for (int i = 0; i < V; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(x >> 11) * 0x1.0p-53;
        l[i] = 12.0 * u * u * u; /* a few large logits, a long tail */
    }
    to_float(l, f, V);
    for (int i = 0; i < V; i++)
        l[i] = f[i]; /* the reference sees exactly the floats the sampler sees */
    reference(l, V, 0.8, 40, 0.9, 0.05, want);
    vkg_sampler *s = make(0.8f, 40, 0.9f, 0.05f, 1, 21, V);
    check_counts_n(s, f, V, NULL, 0, want, 1000);
    vkg_sampler_destroy(s);
    reference(l, V, 1.0, 0, 0.9, 0, want);
    int nucleus = 0;
    for (int i = 0; i < V; i++)
        nucleus += want[i] > 0;
    assert_true(nucleus > 100); /* the case is not trivial */
    s = make(1.0f, 0, 0.9f, 0, 1, 22, V);
    check_counts_n(s, f, V, NULL, 0, want, 1000);
    vkg_sampler_destroy(s);
    free(l);
    free(want);
    free(f);
}

static void test_min_p(void **state) {
    (void)state;
    /* Ratios to the best: e^-1 = .37, e^-1.5 = .22, e^-2 = .14, e^-3 = .05; min_p .2 keeps 0..2.
     * With T = 2 first, the ratios are .61 .47 .37 .22 and all five stay. */
    double l[] = {0, -1, -1.5, -2, -3};
    float f[5];
    double want[5];
    to_float(l, f, 5);
    vkg_sampler *s = make(1, 0, 1, 0.2f, 1, 31, 5);
    reference(l, 5, 1, 0, 1, 0.2, want);
    assert_true(want[2] > 0 && want[3] == 0 && want[4] == 0);
    check_counts(s, f, 5, NULL, 0, want);
    vkg_sampler_destroy(s);
    s = make(2, 0, 1, 0.2f, 1, 32, 5);
    reference(l, 5, 2, 0, 1, 0.2, want);
    assert_true(want[4] > 0);
    check_counts(s, f, 5, NULL, 0, want);
    vkg_sampler_destroy(s);
}

static void test_repetition_penalty(void **state) {
    (void)state;
    /* By hand, penalty 1.5: 2.0 -> 1.333 (divided), -0.5 -> -0.75 (multiplied); 1.9 now wins. */
    float l[] = {2.0f, 1.9f, -0.5f, -0.6f};
    int32_t hist[] = {0, 0, 2};
    vkg_sampler *g = make(0, 0, 1, 0, 1.5f, 1, 4), *off = make(0, 0, 1, 0, 1, 1, 4);
    assert_int_equal(draw(g, l, 4, NULL, 0), 0);
    assert_int_equal(draw(g, l, 4, hist, 3), 1);
    assert_int_equal(draw(off, l, 4, hist, 3), 0);
    /* A negative logit is multiplied: -1.0 * 1.5 = -1.5 < -1.2. */
    float neg[] = {-1.0f, -1.2f};
    int32_t h0[] = {0};
    assert_int_equal(draw(g, neg, 2, h0, 1), 1);
    vkg_sampler_destroy(g);
    /* Once per distinct token: 3.0 / 1.1 = 2.73 > 2.5, but 3.0 / 1.1^3 = 2.25 would lose. */
    float rep[] = {3.0f, 2.5f};
    int32_t h000[] = {0, 0, 0};
    g = make(0, 0, 1, 0, 1.1f, 1, 2);
    assert_int_equal(draw(g, rep, 2, h000, 3), 0);
    vkg_sampler_destroy(g);
    vkg_sampler_destroy(off);

    /* Sampled: the distribution is softmax(penalised logits / T). */
    double pen[] = {2.0 / 1.5, 1.9, -0.5 * 1.5, -0.6}, want[4];
    vkg_sampler *s = make(0.9f, 0, 1, 0, 1.5f, 41, 4);
    reference(pen, 4, 0.9, 0, 1, 0, want);
    check_counts(s, l, 4, hist, 3, want);
    vkg_sampler_destroy(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_greedy_and_ties),
        cmocka_unit_test(test_reproducible),
        cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_top_k),
        cmocka_unit_test(test_top_p),
        cmocka_unit_test(test_top_p_large_vocab),
        cmocka_unit_test(test_min_p),
        cmocka_unit_test(test_repetition_penalty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
