/*
 * tests/test_gguf_model.c — GGUF files made by llama.cpp's own tools (tests/data/gguf, see its
 * README) run as models: the logits that chose the first generated token agree with the float64
 * computation on the file's dequantized weights (Hugging Face's Llama/Qwen math), and the 24 greedy
 * tokens equal the ones it produced — which llama.cpp itself also produces for all five files.
 * Covers llama (adjacent-pair RoPE, Q4_K_M's Q4_K + Q6_K mix in one stacked q/k/v weight, tied head,
 * Q8_0, Q4_0), qwen2 (q/k/v bias, Q5_K + Q6_K) and qwen3 (q/k norm, Q6_K); cached == uncached.
 *
 * Each file runs twice: with fp32 activations (float_activations: logits within 1e-4 of the reference,
 * llama.cpp's tokens) and, where the device has int8 dot products, with the default 8-bit activations
 * of the int-dot matmuls (kernels/matmul_quant.h). Those differ from the fp32 math by the activations'
 * rounding (half a step of amax/127 per element of each block of 32, compounded over the layers), so
 * with llama.cpp's tokens fed one by one, the logits of every position are held to 3% of the largest
 * fp32-path logit there, and must differ from them (the int-dot route was taken); cached must equal
 * uncached. Free-running greedy tokens may part from llama.cpp's (which quantizes activations in its
 * own blocks) at a near-tie; how far they agree is printed, not required.
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

static vkg_model *load(vkg_context *ctx, const char *name, bool float_act) {
    char rel[128];
    snprintf(rel, sizeof rel, "tests/data/gguf/%s.gguf", name);
    vkg_model_options o = vkg_model_default_options();
    o.weights = VKG_PRECISION_F32; /* the embedding dequantized exactly; the matrices stay in their formats */
    o.float_activations = float_act;
    vkg_model *m = NULL;
    vkg_status s = vkg_model_load(ctx, vkg_test_source_path(rel), &o, &m);
    if (s != VKG_OK)
        fail_msg("%s: %s %s", name, vkg_status_str(s), vkg_last_error());
    return m;
}

/* Greedy continuation with the cache (or without), checking the first logits against the reference
 * within `bound` of the largest. */
static void generate(vkg_model *m, const expect *e, bool cached, double bound, int32_t *out) {
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
    if (max_err > bound * max_ref)
        fail_msg("first logits differ from the float64 reference by %g (max |logit| %g, bound %g of it)", max_err,
                 max_ref, bound);
    print_message("first logits within %.2g of the largest of the float64 reference (bound %g)\n", max_err / max_ref,
                  bound);
    out[0] = vkg_session_argmax(s);
    for (uint32_t k = 1; k < e->n_greedy; k++) {
        assert_int_equal(vkg_session_step(s, out[k - 1]), VKG_OK);
        out[k] = vkg_session_argmax(s);
    }
    free(logits);
    vkg_session_free(s);
}

/* The logits after the prompt and after each of llama.cpp's first n - 1 greedy tokens, fed one by
 * one through the cached decode step: out[k * V ..] predicts greedy token k. */
static void teacher_forced(vkg_model *m, const expect *e, float *out) {
    uint32_t V = vkg_model_get_config(m)->vocab_size;
    vkg_session_options so = vkg_session_default_options();
    so.n_ctx = e->n_prompt + e->n_greedy + 1;
    vkg_session *s = NULL;
    assert_int_equal(vkg_session_create(m, &so, &s), VKG_OK);
    vkg_session_want_logits(s, true);
    assert_int_equal(vkg_session_prefill(s, e->prompt, e->n_prompt, NULL), VKG_OK);
    for (uint32_t k = 0; k < e->n_greedy; k++) {
        if (k > 0)
            assert_int_equal(vkg_session_step(s, e->greedy[k - 1]), VKG_OK);
        assert_int_equal(vkg_session_logits(s, out + (size_t)k * V), VKG_OK);
    }
    vkg_session_free(s);
}

static void run_file(void **state, const char *name) {
    vkg_context *ctx = vkg_test_ctx(state);
    expect e;
    load_expect(name, &e);
    size_t V = e.n_logits, n = e.n_greedy;
    float *fp32 = malloc(n * V * sizeof(float)), *int8 = malloc(n * V * sizeof(float));
    assert_true(fp32 && int8);
    bool int_dot = vkg_context_device(ctx)->integer_dot_product;
    for (int pass = 0; pass < (int_dot ? 2 : 1); pass++) {
        bool float_act = pass == 0;
        vkg_model *m = load(ctx, name, float_act);
        int32_t got[64], uncached[64];
        generate(m, &e, true, float_act ? 1e-4 : 3e-2, got);
        uint32_t agree = 0;
        while (agree < n && got[agree] == e.greedy[agree])
            agree++;
        if (float_act && agree < n)
            fail_msg("%s: greedy token %u is %d, llama.cpp and the reference give %d", name, agree, got[agree],
                     e.greedy[agree]);
        print_message("%s, %s activations: greedy tokens equal llama.cpp's for %u of %zu\n", name,
                      float_act ? "fp32" : "8-bit", agree, n);
        generate(m, &e, false, float_act ? 1e-4 : 3e-2, uncached);
        assert_memory_equal(got, uncached, n * sizeof(int32_t));
        teacher_forced(m, &e, float_act ? fp32 : int8);
        vkg_model_free(m);
    }
    if (int_dot) {
        double worst = 0;
        for (size_t k = 0; k < n; k++) {
            double big = 0, err = 0;
            for (size_t i = 0; i < V; i++) {
                big = fmax(big, fabs(fp32[k * V + i]));
                err = fmax(err, fabs(int8[k * V + i] - fp32[k * V + i]));
            }
            if (!(err <= 3e-2 * big))
                fail_msg("%s: position %zu: 8-bit activations move a logit by %g, more than 3%% of %g", name, k, err,
                         big);
            worst = fmax(worst, err / big);
        }
        assert_memory_not_equal(fp32, int8, n * V * sizeof(float));
        print_message("%s: 8-bit activations within %.2g of the largest fp32-path logit at all %zu positions\n",
                      name, worst, n);
    } else {
        print_message("%s: no int8 dot products on this device: 8-bit activations not run\n", name);
    }
    free(fp32);
    free(int8);
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
