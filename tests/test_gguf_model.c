/*
 * tests/test_gguf_model.c — GGUF files made by llama.cpp's own tools (tests/data/gguf, see its
 * README) run as models: the logits that chose the first generated token agree with the float64
 * computation on the file's dequantized weights (Hugging Face's Llama/Qwen math), and the 24 greedy
 * tokens equal the ones it produced — which llama.cpp itself also produces for all five files.
 * Covers llama (adjacent-pair RoPE, Q4_K_M's Q4_K + Q6_K mix in one stacked q/k/v weight, tied head,
 * Q8_0, Q4_0), qwen2 (q/k/v bias, Q5_K + Q6_K) and qwen3 (q/k norm, Q6_K); cached == uncached.
 */
#include "harness.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const FILES[] = {"tiny-llama-q4_k_m", "tiny-qwen3-q6_k", "tiny-qwen2-q5_k_m", "tiny-llama-q8_0",
                                    "tiny-llama-q4_0"};

typedef struct expect {
    int32_t prompt[256], greedy[64];
    uint32_t n_prompt, n_greedy;
    double *logits0;
    size_t n_logits;
} expect;

static void read_ids(const json_t *a, int32_t *out, uint32_t *n, uint32_t cap) {
    assert_true(json_is_array(a) && json_array_size(a) <= cap);
    *n = (uint32_t)json_array_size(a);
    for (uint32_t i = 0; i < *n; i++)
        out[i] = (int32_t)json_integer_value(json_array_get(a, i));
}

static void load_expect(const char *name, expect *e) {
    char rel[128];
    snprintf(rel, sizeof rel, "tests/data/gguf/%s.json", name);
    json_error_t jerr;
    json_t *root = json_load_file(vkg_test_source_path(rel), 0, &jerr);
    if (!root)
        fail_msg("%s: %s", rel, jerr.text);
    read_ids(json_object_get(root, "prompt"), e->prompt, &e->n_prompt, 256);
    read_ids(json_object_get(root, "greedy"), e->greedy, &e->n_greedy, 64);
    const json_t *l = json_object_get(root, "logits0");
    e->n_logits = json_array_size(l);
    e->logits0 = malloc(e->n_logits * sizeof *e->logits0);
    assert_non_null(e->logits0);
    for (size_t i = 0; i < e->n_logits; i++)
        e->logits0[i] = json_number_value(json_array_get(l, i));
    json_decref(root);
}

static vkg_model *load(vkg_context *ctx, const char *name) {
    char rel[128];
    snprintf(rel, sizeof rel, "tests/data/gguf/%s.gguf", name);
    vkg_model_options o = vkg_model_default_options();
    o.weights = VKG_PRECISION_F32; /* the embedding dequantized exactly; the matrices stay in their formats */
    vkg_model *m = NULL;
    vkg_status s = vkg_model_load(ctx, vkg_test_source_path(rel), &o, &m);
    if (s != VKG_OK)
        fail_msg("%s: %s %s", name, vkg_status_str(s), vkg_last_error());
    return m;
}

/* Greedy continuation with the cache (or without), checking the first logits against the reference. */
static void generate(vkg_model *m, const expect *e, bool cached, int32_t *out) {
    uint32_t V = vkg_model_get_config(m)->vocab_size;
    assert_int_equal(V, e->n_logits);
    vkg_session_options so = vkg_session_default_options();
    so.no_kv_cache = !cached;
    so.n_ctx = e->n_prompt + e->n_greedy + 1;
    vkg_session *s = NULL;
    assert_int_equal(vkg_session_create(m, &so, &s), VKG_OK);
    float *logits = malloc((size_t)e->n_prompt * V * sizeof(float));
    assert_non_null(logits);
    assert_int_equal(vkg_session_prefill(s, e->prompt, e->n_prompt, logits), VKG_OK);
    const float *last = logits + (size_t)(e->n_prompt - 1) * V;
    double max_ref = 0, max_err = 0;
    for (uint32_t i = 0; i < V; i++) {
        max_ref = fmax(max_ref, fabs(e->logits0[i]));
        max_err = fmax(max_err, fabs(last[i] - e->logits0[i]));
    }
    if (max_err > 1e-4 * max_ref)
        fail_msg("first logits differ from the float64 reference by %g (max |logit| %g)", max_err, max_ref);
    out[0] = vkg_session_argmax(s);
    for (uint32_t k = 1; k < e->n_greedy; k++) {
        assert_int_equal(vkg_session_step(s, out[k - 1]), VKG_OK);
        out[k] = vkg_session_argmax(s);
    }
    free(logits);
    vkg_session_free(s);
}

static void run_file(void **state, const char *name) {
    vkg_context *ctx = vkg_test_ctx(state);
    expect e;
    load_expect(name, &e);
    vkg_model *m = load(ctx, name);
    int32_t got[64], uncached[64];
    generate(m, &e, true, got);
    for (uint32_t k = 0; k < e.n_greedy; k++)
        if (got[k] != e.greedy[k])
            fail_msg("%s: greedy token %u is %d, llama.cpp and the reference give %d", name, k, got[k], e.greedy[k]);
    generate(m, &e, false, uncached);
    assert_memory_equal(got, uncached, e.n_greedy * sizeof(int32_t));
    vkg_model_free(m);
    free(e.logits0);
}

static void test_llama_q4_k_m(void **state) { run_file(state, FILES[0]); }
static void test_qwen3_q6_k(void **state) { run_file(state, FILES[1]); }
static void test_qwen2_q5_k_m(void **state) { run_file(state, FILES[2]); }
static void test_llama_q8_0_tied(void **state) { run_file(state, FILES[3]); }
static void test_llama_q4_0(void **state) { run_file(state, FILES[4]); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_llama_q4_k_m, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_qwen3_q6_k, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_qwen2_q5_k_m, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_llama_q8_0_tied, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_llama_q4_0, vkg_test_setup, vkg_test_teardown),
    };
    return cmocka_run_group_tests(tests, vkg_test_group_setup, vkg_test_group_teardown);
}
