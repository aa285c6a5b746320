/*
 * tests/test_model.c — GPT-2 on the device against the CPU reference, and the KV cache against the
 * uncached recomputation:
 *   - prefill logits of gpt-nano and gpt-mini shapes vs ref_gpt2_forward (max error <= 1e-4 of the
 *     largest logit, fp32);
 *   - checkpoints in both namings and F32/F16/BF16 give identical logits;
 *   - teacher-forced: 1023 positions through the cached decode step vs one uncached pass;
 *   - free-running greedy: generated sequences identical with and without the cache, fp32 and
 *     f16 weights + f16 cache, prompts of 1 and 17 tokens (gpt-nano here; gpt-mini, 1023 tokens f32
 *     and 511 f16, in the "long" test
 *     ctest entry test_model_long, label "long": VKG_TEST_LONG=1 runs only that);
 *   - context overflow, bad token ids, NaN weights, sessions sharing a model.
 */
#include "harness.h"
#include "logit_checks.h"
#include "model_fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int NANO_L = 3, NANO_H = 3, NANO_D = 48, MINI_L = 6, MINI_H = 6, MINI_D = 192;
static const int V = 50257;

typedef struct fixture {
    ref_gpt2 ref;
    char *dir;
    vkg_model *model;
} fixture;

static void fixture_open(vkg_context *ctx, fixture *f, int L, int H, int D, int P, uint64_t seed, st_dtype dt,
                         fixture_naming naming, vkg_precision weights) {
    memset(f, 0, sizeof *f);
    assert_int_equal(fixture_random(&f->ref, L, H, D, V, P, seed), 0);
    f->dir = st_tmpdir_create();
    assert_non_null(f->dir);
    assert_int_equal(fixture_write(f->dir, &f->ref, dt, naming), 0);
    vkg_model_options o = vkg_model_default_options();
    o.weights = weights;
    vkg_status s = vkg_model_load(ctx, f->dir, &o, &f->model);
    if (s != VKG_OK)
        print_error("%s: %s\n", vkg_status_str(s), vkg_last_error());
    assert_int_equal(s, VKG_OK);
}

static void fixture_close(fixture *f) {
    vkg_model_free(f->model);
    ref_gpt2_free(&f->ref);
    st_tmpdir_remove(f->dir);
}

/* As check_logits (logit_checks.h) for a float reference: max |got - ref| <= tol * max |ref|, no NaN. */
static void check_float_logits(const char *what, const float *got, const float *ref, size_t n, double tol) {
    double max_ref = 0, max_err = 0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) {
            print_error("%s: logit %zu is %g\n", what, i, got[i]);
            fail();
        }
        max_ref = fmax(max_ref, fabs(ref[i]));
        double e = fabs((double)got[i] - ref[i]);
        if (e > max_err) {
            max_err = e;
            worst = i;
        }
    }
    if (max_err > tol * max_ref) {
        print_error("%s: logit %zu: got %.7g, reference %.7g: error %.3g of max %.3g (tolerance %.1g)\n", what,
                    worst, got[worst], ref[worst], max_err, max_ref, tol);
        fail();
    }
}

static int32_t *tokens_for(int n, uint32_t seed) {
    int32_t *t = malloc(n * sizeof *t);
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        t[i] = (int32_t)(x % (uint64_t)V);
    }
    return t;
}

static void prefill_vs_reference(vkg_context *ctx, int L, int H, int D, int T) {
    fixture f;
    fixture_open(ctx, &f, L, H, D, 1024, 7, ST_F32, FIXTURE_SAVE_PRETRAINED, VKG_PRECISION_F32);
    int32_t *tok = tokens_for(T, (uint32_t)T);
    float *ref = malloc((size_t)T * V * sizeof *ref), *got = malloc((size_t)T * V * sizeof *got);
    assert_int_equal(ref_gpt2_forward(&f.ref, tok, T, ref), 0);
    vkg_session *s = NULL;
    assert_int_equal(vkg_session_create(f.model, NULL, &s), VKG_OK);
    assert_int_equal(vkg_session_prefill(s, tok, (uint32_t)T, got), VKG_OK);
    char what[64];
    for (int t = 0; t < T; t++) {
        snprintf(what, sizeof what, "L%d d%d T%d row %d", L, D, T, t);
        check_float_logits(what, got + (size_t)t * V, ref + (size_t)t * V, V, 1e-4);
    }
    /* The argmax computed on the device matches the reference's last row. */
    vkg_session_reset(s);
    assert_int_equal(vkg_session_prefill(s, tok, (uint32_t)T, NULL), VKG_OK);
    assert_int_equal(vkg_session_argmax(s), ref_argmax(ref + (size_t)(T - 1) * V, V));
    float *last = malloc(V * sizeof *last);
    assert_int_equal(vkg_session_logits(s, last), VKG_OK);
    check_float_logits("last row after prefill", last, ref + (size_t)(T - 1) * V, V, 1e-4);
    free(last);
    vkg_session_free(s);
    free(tok);
    free(ref);
    free(got);
    fixture_close(&f);
}

static void test_prefill_nano(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    prefill_vs_reference(ctx, NANO_L, NANO_H, NANO_D, 1);
    prefill_vs_reference(ctx, NANO_L, NANO_H, NANO_D, 37);
}

static void test_prefill_mini(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    prefill_vs_reference(ctx, MINI_L, MINI_H, MINI_D, 64);
}

/* Every naming and dtype of the same (quantised) weights gives the same logits, equal to the
 * reference's. */
static void test_checkpoint_formats(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    ref_gpt2 ref;
    assert_int_equal(fixture_random(&ref, NANO_L, NANO_H, NANO_D, V, 64, 3), 0);
    fixture_quantize(&ref);
    enum { T = 9 };
    int32_t *tok = tokens_for(T, 5);
    float *want = malloc((size_t)T * V * sizeof *want), *got = malloc((size_t)T * V * sizeof *got);
    float *first = malloc((size_t)T * V * sizeof *first);
    assert_int_equal(ref_gpt2_forward(&ref, tok, T, want), 0);
    const st_dtype dts[] = {ST_F32, ST_F16, ST_BF16};
    const fixture_naming namings[] = {FIXTURE_SAVE_PRETRAINED, FIXTURE_HUB};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) {
            char *dir = st_tmpdir_create();
            assert_int_equal(fixture_write(dir, &ref, dts[i], namings[j]), 0);
            vkg_model *m = NULL;
            vkg_status s = vkg_model_load(ctx, dir, NULL, &m);
            if (s != VKG_OK)
                print_error("%s %d: %s\n", st_dtype_name(dts[i]), j, vkg_last_error());
            assert_int_equal(s, VKG_OK);
            assert_int_equal(vkg_model_get_config(m)->n_layer, NANO_L);
            vkg_session *sess = NULL;
            assert_int_equal(vkg_session_create(m, NULL, &sess), VKG_OK);
            assert_int_equal(vkg_session_prefill(sess, tok, T, got), VKG_OK);
            check_float_logits(st_dtype_name(dts[i]), got, want, (size_t)T * V, 1e-4);
            if (i == 0 && j == 0)
                memcpy(first, got, (size_t)T * V * sizeof *got);
            else
                assert_memory_equal(first, got, (size_t)T * V * sizeof *got);
            vkg_session_free(sess);
            vkg_model_free(m);
            st_tmpdir_remove(dir);
        }
    free(tok);
    free(want);
    free(got);
    free(first);
    ref_gpt2_free(&ref);
}

/* The same 1023 tokens through the cached decode step (one position at a time) and through one
 * uncached pass: logits agree at every position. */
static void test_teacher_forced(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    enum { N = 1023 };
    fixture f;
    fixture_open(ctx, &f, NANO_L, NANO_H, NANO_D, 1024, 11, ST_F32, FIXTURE_HUB, VKG_PRECISION_F32);
    int32_t *tok = tokens_for(N, 99);
    float *all = malloc((size_t)N * V * sizeof *all), *row = malloc(V * sizeof *row);
    vkg_session_options uo = vkg_session_default_options();
    uo.no_kv_cache = true;
    vkg_session *uncached = NULL, *cached = NULL;
    assert_int_equal(vkg_session_create(f.model, &uo, &uncached), VKG_OK);
    assert_int_equal(vkg_session_prefill(uncached, tok, N, all), VKG_OK);
    assert_int_equal(vkg_session_create(f.model, NULL, &cached), VKG_OK);
    vkg_session_want_logits(cached, true);
    assert_int_equal(vkg_session_prefill(cached, tok, 1, NULL), VKG_OK);
    char what[48];
    for (int t = 0; t < N; t++) {
        if (t > 0)
            assert_int_equal(vkg_session_step(cached, tok[t]), VKG_OK);
        assert_int_equal(vkg_session_logits(cached, row), VKG_OK);
        snprintf(what, sizeof what, "position %d", t);
        check_float_logits(what, row, all + (size_t)t * V, V, 1e-4);
    }
    assert_int_equal(vkg_session_pos(cached), N);
    vkg_session_free(cached);
    vkg_session_free(uncached);
    free(tok);
    free(all);
    free(row);
    fixture_close(&f);
}

static void identical_sequences(vkg_context *ctx, const char *config, vkg_precision p, uint32_t n) {
    vkg_model_options o = vkg_model_default_options();
    o.weights = p;
    vkg_model *m = NULL;
    assert_int_equal(vkg_model_synthetic(ctx, config, 42, &o, &m), VKG_OK);
    const uint32_t prompt_lengths[] = {1, 17};
    for (int k = 0; k < 2; k++) {
        int32_t *prompt = tokens_for((int)prompt_lengths[k], 1234);
        int32_t *a = device_greedy_kv(m, true, p, prompt, prompt_lengths[k], n);
        int32_t *b = device_greedy_kv(m, false, p, prompt, prompt_lengths[k], n);
        for (uint32_t i = 0; i < n; i++)
            if (a[i] != b[i]) {
                print_error("%s %s prompt %u: token %u differs: %d cached, %d uncached\n", config,
                            p ? "f16" : "f32", prompt_lengths[k], i, a[i], b[i]);
                fail();
            }
        /* Not a degenerate run: the sequence uses more than one token. */
        uint32_t distinct = 0;
        for (uint32_t i = 1; i < n; i++)
            distinct += a[i] != a[0];
        assert_true(distinct > 0);
        free(prompt);
        free(a);
        free(b);
    }
    vkg_model_free(m);
}

/* The uncached baseline recomputes the whole sequence per token (quadratic), so the default run
 * stays at a few hundred tokens; the `long` label runs the full 1023 / 511 (tests/test_families.c
 * covers the identity with weights whose greedy sequences stay varied, and proves it catches a cache
 * that forgets old positions). */
static void test_identical_f32(void **state) { identical_sequences(vkg_test_ctx(state), "gpt-nano", VKG_PRECISION_F32, 200); }

static void test_identical_f16(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    if (!vkg_context_device(ctx)->storage_16bit)
        skip();
    identical_sequences(ctx, "gpt-nano", VKG_PRECISION_F16, 128);
}

static void test_long_mini(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    identical_sequences(ctx, "gpt-nano", VKG_PRECISION_F32, 1023);
    if (vkg_context_device(ctx)->storage_16bit)
        identical_sequences(ctx, "gpt-nano", VKG_PRECISION_F16, 511);
    identical_sequences(ctx, "gpt-mini", VKG_PRECISION_F32, 1023);
    if (vkg_context_device(ctx)->storage_16bit)
        identical_sequences(ctx, "gpt-mini", VKG_PRECISION_F16, 511);
}

static void test_errors(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    fixture f;
    fixture_open(ctx, &f, 1, 1, 16, 8, 5, ST_F32, FIXTURE_SAVE_PRETRAINED, VKG_PRECISION_F32);
    vkg_session *s = NULL;
    assert_int_equal(vkg_session_create(f.model, NULL, &s), VKG_OK);
    int32_t tok[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    assert_int_equal(vkg_session_prefill(s, tok, 9, NULL), VKG_ERROR_CONTEXT_FULL);
    assert_non_null(strstr(vkg_last_error(), "8 positions"));
    assert_int_equal(vkg_session_pos(s), 0);
    int32_t bad[2] = {1, V};
    assert_int_equal(vkg_session_prefill(s, bad, 2, NULL), VKG_ERROR_TOKEN_RANGE);
    assert_non_null(strstr(vkg_last_error(), "50257"));
    assert_int_equal(vkg_session_prefill(s, tok, 0, NULL), VKG_ERROR_INVALID_ARGUMENT);
    assert_int_equal(vkg_session_prefill(s, tok, 7, NULL), VKG_OK);
    assert_int_equal(vkg_session_step(s, -1), VKG_ERROR_TOKEN_RANGE);
    assert_int_equal(vkg_session_step(s, 3), VKG_OK);
    assert_int_equal(vkg_session_step(s, 3), VKG_ERROR_CONTEXT_FULL); /* the 9th of 8 positions */
    assert_int_equal(vkg_session_pos(s), 8);
    float *logits = malloc(V * sizeof *logits);
    assert_int_equal(vkg_session_logits(s, logits), VKG_ERROR_INVALID_ARGUMENT); /* step without want_logits */
    free(logits);
    vkg_session_reset(s);
    assert_int_equal(vkg_session_prefill(s, tok, 8, NULL), VKG_OK);
    vkg_session_free(s);

    /* NaN in a weight: refused with the tensor named. */
    f.ref.storage[f.ref.storage_len - 1] = NAN; /* somewhere in the last tensor of the storage */
    assert_int_equal(fixture_write(f.dir, &f.ref, ST_F32, FIXTURE_SAVE_PRETRAINED), 0);
    vkg_model *m = NULL;
    assert_int_equal(vkg_model_load(ctx, f.dir, NULL, &m), VKG_ERROR_BAD_WEIGHTS);
    assert_null(m);
    assert_non_null(strstr(vkg_last_error(), "NaN"));
    fixture_close(&f);
}

/* Two sessions on one model keep separate caches: interleaved steps give each its own sequence. */
static void test_sessions_share_model(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    vkg_model *m = NULL;
    assert_int_equal(vkg_model_synthetic(ctx, "gpt-nano", 9, NULL, &m), VKG_OK);
    int32_t p1[3] = {10, 20, 30}, p2[2] = {400, 500};
    int32_t *alone1 = device_greedy(m, true, p1, 3, 20);
    int32_t *alone2 = device_greedy(m, true, p2, 2, 20);
    vkg_session *a = NULL, *b = NULL;
    assert_int_equal(vkg_session_create(m, NULL, &a), VKG_OK);
    assert_int_equal(vkg_session_create(m, NULL, &b), VKG_OK);
    assert_int_equal(vkg_session_prefill(a, p1, 3, NULL), VKG_OK);
    assert_int_equal(vkg_session_prefill(b, p2, 2, NULL), VKG_OK);
    for (int i = 0; i < 20; i++) {
        int32_t ta = vkg_session_argmax(a), tb = vkg_session_argmax(b);
        assert_int_equal(ta, alone1[i]);
        assert_int_equal(tb, alone2[i]);
        assert_int_equal(vkg_session_step(a, ta), VKG_OK);
        assert_int_equal(vkg_session_step(b, tb), VKG_OK);
    }
    vkg_session_free(a);
    vkg_session_free(b);
    free(alone1);
    free(alone2);
    vkg_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prefill_nano, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_prefill_mini, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_formats, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_errors, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_sessions_share_model, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_teacher_forced, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_identical_f32, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_identical_f16, vkg_test_setup, vkg_test_teardown),
    };
    /* The labelled long test (ctest -L long): gpt-mini, 1023 tokens, with and without the cache. */
    const struct CMUnitTest long_tests[] = {
        cmocka_unit_test_setup_teardown(test_long_mini, vkg_test_setup, vkg_test_teardown),
    };
    const char *long_run = getenv("VKG_TEST_LONG");
    if (long_run && strcmp(long_run, "1") == 0)
        return cmocka_run_group_tests(long_tests, vkg_test_group_setup, vkg_test_group_teardown);
    return cmocka_run_group_tests(tests, vkg_test_group_setup, vkg_test_group_teardown);
}
