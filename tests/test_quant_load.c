/*
 * tests/test_quant_load.c — quantizing Hugging Face checkpoints at load (vkg_model_options.quant,
 * the CLI's --quant): checkpoints written by tests/family_writer.c, loaded with each of q8_0, q6_k,
 * q5_k, q4_k and q4_0, against the double-precision reference run on the reference's own copy of
 * the weights sent through the same quantizer and back through tests/ref/ref_quant.c's independent
 * dequantizer (only the linear layers: q/k/v, o, gate/up/down, an untied head). Checks:
 *   - prefill logits of every position within 1e-4 of the largest |logit|, and that the unquantized
 *     reference is farther off than that (the model really is quantized);
 *   - vkg_model_weight_bytes equals the bytes the formats' block sizes give for the linear layers
 *     plus fp32 for the embedding, norms and biases (they stay fp32; the tied embedding is not
 *     quantized);
 *   - a model whose rows are not whole 256-blocks takes Q8_0 for the K-quants (logits against the
 *     Q8_0-quantized reference, bytes equal to the q8_0 model's), while Q4_0's 32-blocks fit.
 * Also a measurement, printed: round-to-nearest re-quantization of the values in llama.cpp's files
 * (tests/data/gguf), RMS error and byte-identical blocks per format (Q8_0 and Q4_0 must come out
 * identical: gguf-py quantizes them round-to-nearest too).
 */
#include "family_writer.h"
#include "harness.h"
#include "ref_quant.h"

#include "model/gguf.h"
#include "model/quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T_PREFILL = 24, MAX_KEEP = 64 };

typedef struct qvariant {
    const char *name;
    fw_family family;
    int d, H, KVH, hd, ff, tied;
    vkg_quant quant;
    uint32_t expect;   /* the ggml type the linear layers must end up in */
} qvariant;


typedef struct quantized_ref {
    fw_model fw;        /* the original (unquantized) reference */
    ref_decoder q;      /* the same model on quantize -> reference-dequantize weights */
    ref_decoder_layer *layers;
    float *keep[MAX_KEEP];
    int n_keep;
} quantized_ref;

/* A copy of src[rows x cols] quantized to `type` by the library and decoded by the reference. */
static const float *requant(quantized_ref *r, uint32_t type, const float *src, int rows, int cols) {
    size_t n = (size_t)rows * cols;
    uint64_t nb = vkg_ggml_bytes(type, n);
    assert_true(nb > 0);
    void *blocks = malloc(nb);
    float *out = malloc(n * sizeof *out);
    assert_true(blocks && out && r->n_keep < MAX_KEEP);
    assert_int_equal(vkg_quant_quantize(type, src, blocks, n), VKG_OK);
    ref_q_dequantize((int)type, blocks, out, n);
    free(blocks);
    return r->keep[r->n_keep++] = out;
}

static void make_ref(quantized_ref *r, const ref_decoder_config *c, uint32_t type) {
    memset(r, 0, sizeof *r);
    fw_init init = fw_init_varied();
    assert_int_equal(fw_model_random(&r->fw, c, 1, &init, ST_F32), 0);
    r->q = r->fw.ref;
    r->layers = calloc((size_t)c->n_layer, sizeof *r->layers);
    assert_non_null(r->layers);
    int d = c->d_model, q = c->n_head * c->head_dim, kv = c->n_kv_head * c->head_dim, ff = c->d_ff;
    for (int l = 0; l < c->n_layer; l++) {
        ref_decoder_layer *y = &r->layers[l];
        *y = r->fw.layers[l];
        y->q_w = requant(r, type, y->q_w, q, d);
        y->k_w = requant(r, type, y->k_w, kv, d);
        y->v_w = requant(r, type, y->v_w, kv, d);
        y->o_w = requant(r, type, y->o_w, d, q);
        y->gate_w = requant(r, type, y->gate_w, ff, d);
        y->up_w = requant(r, type, y->up_w, ff, d);
        y->down_w = requant(r, type, y->down_w, d, ff);
    }
    r->q.layers = r->layers;
    if (!c->tied_lm_head)
        r->q.lm_head = requant(r, type, r->q.lm_head, c->vocab_size, d);
}

static void free_ref(quantized_ref *r) {
    for (int i = 0; i < r->n_keep; i++)
        free(r->keep[i]);
    free(r->layers);
    fw_model_free(&r->fw);
}

/* Bytes of the model on the device as the formats define them: linear layers in `type` (rows times
 * whole blocks), everything else fp32. */
static uint64_t expected_bytes(const ref_decoder_config *c, uint32_t type) {
    uint64_t d = (uint64_t)c->d_model, q = (uint64_t)c->n_head * c->head_dim, kv = (uint64_t)c->n_kv_head * c->head_dim,
             ff = (uint64_t)c->d_ff, V = (uint64_t)c->vocab_size;
    uint64_t per_row_d = vkg_ggml_bytes(type, d), per_row_q = vkg_ggml_bytes(type, q),
             per_row_ff = vkg_ggml_bytes(type, ff);
    uint64_t layer = 2 * d * 4                                  /* the two norms */
                     + (q + 2 * kv) * per_row_d + d * per_row_q /* q/k/v, o */
                     + 2 * ff * per_row_d + d * per_row_ff;     /* gate/up, down */
    if (c->qkv_bias)
        layer += (q + 2 * kv) * 4;
    if (c->qk_norm)
        layer += 2 * (uint64_t)c->head_dim * 4;
    uint64_t total = V * d * 4 + d * 4 + (uint64_t)c->n_layer * layer;
    if (!c->tied_lm_head)
        total += V * per_row_d;
    return total;
}

static double max_rel_err(const float *got, const double *ref, size_t n, size_t *worst) {
    double max_ref = 0, max_err = 0;
    for (size_t i = 0; i < n; i++) {
        max_ref = fmax(max_ref, fabs(ref[i]));
        double e = fabs((double)got[i] - ref[i]);
        if (!(e <= max_err))
            max_err = e, *worst = i;
    }
    return max_err / max_ref;
}

/* Loads dir with `quant`, returns the device's prefill logits of tok (caller frees) and its weight bytes. */
static float *device_logits(vkg_context *ctx, const char *dir, vkg_quant quant, const int32_t *tok, int T, int V,
                            uint64_t *bytes) {
    vkg_model_options o = vkg_model_default_options();
    o.weights = VKG_PRECISION_F32;
    o.quant = quant;
    o.float_activations = true; /* the reference's fp32 math (8-bit activations: test_gguf_model) */
    vkg_model *m = NULL;
    vkg_status s = vkg_model_load(ctx, dir, &o, &m);
    if (s != VKG_OK)
        fail_msg("vkg_model_load: %s: %s", vkg_status_str(s), vkg_last_error());
    *bytes = vkg_model_weight_bytes(m);
    float *got = malloc((size_t)T * V * sizeof *got);
    assert_non_null(got);
    vkg_session *sess = NULL;
    assert_int_equal(vkg_session_create(m, NULL, &sess), VKG_OK);
    assert_int_equal(vkg_session_prefill(sess, tok, (uint32_t)T, got), VKG_OK);
    vkg_session_free(sess);
    vkg_model_free(m);
    return got;
}

static void run_qvariant(vkg_context *ctx, const qvariant *v) {
    enum { L = 2, V = 256, P = 64 };
    ref_decoder_config c = fw_family_config(v->family, L, v->d, v->H, v->KVH, v->hd, v->ff, V, P);
    c.tied_lm_head = v->tied;
    quantized_ref r;
    make_ref(&r, &c, v->expect);
    char *dir = st_tmpdir_create();
    assert_non_null(dir);
    fw_options fo = fw_default_options(v->family);
    assert_int_equal(fw_write(dir, &r.fw, &fo), 0);

    int32_t tok[T_PREFILL];
    for (int i = 0; i < T_PREFILL; i++)
        tok[i] = (int32_t)((i * 37 + 11) % V);
    double *want = malloc((size_t)T_PREFILL * V * sizeof *want), *plain = malloc((size_t)T_PREFILL * V * sizeof *plain);
    assert_true(want && plain);
    assert_int_equal(ref_decoder_forward(&r.q, tok, T_PREFILL, want), 0);
    assert_int_equal(ref_decoder_forward(&r.fw.ref, tok, T_PREFILL, plain), 0);
    uint64_t bytes = 0;
    float *got = device_logits(ctx, dir, v->quant, tok, T_PREFILL, V, &bytes);
    double worst_err = 0, worst_plain = 1e30;
    for (int t = 0; t < T_PREFILL; t++) {
        size_t w = 0, w2 = 0;
        const float *row = got + (size_t)t * V;
        double e = max_rel_err(row, want + (size_t)t * V, V, &w);
        if (e > 1e-4)
            fail_msg("%s: prefill row %d: logit %zu: got %.7g, quantized reference %.7g (error %.3g of the largest)",
                     v->name, t, w, (double)row[w], want[(size_t)t * V + w], e);
        worst_err = fmax(worst_err, e);
        worst_plain = fmin(worst_plain, max_rel_err(row, plain + (size_t)t * V, V, &w2));
    }
    /* The unquantized reference must be farther than the tolerance at some row at least (here: every row's
     * error is reported as the minimum over rows, a strict demand). */
    if (worst_plain <= 1e-4)
        fail_msg("%s: the device logits are within 1e-4 of the UNQUANTIZED reference too (%.3g): nothing shows the "
                 "weights were quantized", v->name, worst_plain);
    uint64_t want_bytes = expected_bytes(&c, v->expect);
    if (bytes != want_bytes)
        fail_msg("%s: %llu bytes of weights on the device, the formats give %llu (linear layers in %s, the rest f32)",
                 v->name, (unsigned long long)bytes, (unsigned long long)want_bytes, vkg_ggml_type_name(v->expect));
    print_message("%s: logits within %.2g of the quantized reference, %.2g from the f32 one; %llu weight bytes\n",
                  v->name, worst_err, worst_plain, (unsigned long long)bytes);
    free(got), free(want), free(plain);
    st_tmpdir_remove(dir);
    free_ref(&r);
}

/* name, family, d, H, KVH, hd, ff, tied, quant, expected ggml type */
#define QV(name, ...)                                                                                              \
    static void test_##name(void **state) {                                                                         \
        static const qvariant v = {#name, __VA_ARGS__};                                                             \
        run_qvariant(vkg_test_ctx(state), &v);                                                                      \
    }
QV(q8_0_qwen2_bias_untied, FW_QWEN2, 256, 4, 2, 64, 512, 0, VKG_QUANT_Q8_0, VKG_GGML_Q8_0)
QV(q6_k_qwen3_qk_norm_tied, FW_QWEN3, 256, 4, 2, 64, 512, 1, VKG_QUANT_Q6_K, VKG_GGML_Q6_K)
QV(q5_k_llama_untied, FW_LLAMA, 256, 4, 2, 64, 512, 0, VKG_QUANT_Q5_K, VKG_GGML_Q5_K)
QV(q4_k_qwen2_tied, FW_QWEN2, 256, 4, 1, 64, 512, 1, VKG_QUANT_Q4_K, VKG_GGML_Q4_K)
QV(q4_0_llama_untied, FW_LLAMA, 256, 4, 2, 64, 512, 0, VKG_QUANT_Q4_0, VKG_GGML_Q4_0)
/* Rows of 64 and 128: not whole 256-blocks, so the K-quants fall back to Q8_0; Q4_0's 32-blocks fit. */
QV(q4_k_rows_64_take_q8_0, FW_LLAMA, 64, 4, 2, 16, 128, 0, VKG_QUANT_Q4_K, VKG_GGML_Q8_0)
QV(q6_k_rows_64_take_q8_0, FW_QWEN2, 64, 4, 2, 16, 128, 1, VKG_QUANT_Q6_K, VKG_GGML_Q8_0)
QV(q4_0_rows_64, FW_LLAMA, 64, 4, 2, 16, 128, 0, VKG_QUANT_Q4_0, VKG_GGML_Q4_0)

/* ---- measurement: RTN on llama.cpp's values ---------------------------------------------------------
 * The files keep only llama.cpp's quantized blocks, not the values it quantized, so its own error
 * cannot be measured here. What can: quantizing the file's dequantized values again with the RTN
 * quantizer. llama.cpp's blocks represent those values exactly (error 0); the RTN error on them is
 * how far RTN's choice of scales lands from llama.cpp's on the same tensors. */
static void test_rtn_on_llama_cpp_values(void **state) {
    (void)state;
    static const char *const FILES[] = {"tiny-llama-q8_0", "tiny-llama-q4_0", "tiny-llama-q4_k_m", "tiny-qwen2-q5_k_m",
                                        "tiny-qwen3-q6_k"};
    static const uint32_t TYPES[] = {VKG_GGML_Q8_0, VKG_GGML_Q4_0, VKG_GGML_Q4_K, VKG_GGML_Q5_K, VKG_GGML_Q6_K};
    /* Relative RMS bounds: Q8_0 and Q4_0 exactly 0 — gguf-py's quantizers for them are round-to-nearest
     * too, so RTN must find the file's own scales again; the K-quants loosely (a broken quantizer gives
     * errors of the order of the values). */
    static const double BOUND[] = {0, 0, 0.12, 0.06, 0.03};
    double se[5] = {0}, ss[5] = {0};
    uint64_t n_el[5] = {0}, n_blocks[5] = {0}, same_blocks[5] = {0};
    int n_t[5] = {0};
    for (size_t fi = 0; fi < sizeof FILES / sizeof *FILES; fi++) {
        char rel[128];
        snprintf(rel, sizeof rel, "tests/data/gguf/%s.gguf", FILES[fi]);
        vkg_gguf_file *f = NULL;
        if (vkg_gguf_open(vkg_test_source_path(rel), 0, &f) != VKG_OK)
            fail_msg("%s: %s", rel, vkg_last_error());
        for (size_t i = 0; i < vkg_gguf_tensor_count(f); i++) {
            const vkg_gguf_tensor *t = vkg_gguf_tensor_at(f, i);
            int k = -1;
            for (int j = 0; j < 5; j++)
                k = TYPES[j] == t->type ? j : k;
            if (k < 0)
                continue;
            uint64_t n = 1;
            for (uint32_t dd = 0; dd < t->n_dims; dd++)
                n *= t->ne[dd];
            float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
            void *blocks = malloc(vkg_ggml_bytes(t->type, n));
            assert_true(x && y && blocks);
            ref_q_dequantize((int)t->type, t->data, x, n);
            assert_int_equal(vkg_quant_quantize(t->type, x, blocks, n), VKG_OK);
            ref_q_dequantize((int)t->type, blocks, y, n);
            size_t bb = (size_t)ref_q_block_bytes((int)t->type), nb = n / (size_t)ref_q_block_elems((int)t->type);
            for (size_t e = 0; e < nb; e++)
                same_blocks[k] += memcmp((const uint8_t *)blocks + e * bb, (const uint8_t *)t->data + e * bb, bb) == 0;
            n_blocks[k] += nb;
            for (uint64_t e = 0; e < n; e++)
                se[k] += ((double)y[e] - x[e]) * ((double)y[e] - x[e]), ss[k] += (double)x[e] * x[e];
            n_el[k] += n;
            n_t[k]++;
            free(x), free(y), free(blocks);
        }
        vkg_gguf_close(f);
    }
    for (int k = 0; k < 5; k++) {
        assert_true(n_t[k] > 0);
        double rel = sqrt(se[k] / ss[k]);
        print_message("RTN re-quantization of llama.cpp's %s values: %d tensors, %llu values, RMS error %.4g, "
                      "%.3g%% of their RMS %.4g; %.1f%% of %llu blocks byte-identical to the file's\n",
                      vkg_ggml_type_name(TYPES[k]), n_t[k], (unsigned long long)n_el[k], sqrt(se[k] / (double)n_el[k]),
                      100 * rel, sqrt(ss[k] / (double)n_el[k]), 100.0 * (double)same_blocks[k] / (double)n_blocks[k],
                      (unsigned long long)n_blocks[k]);
        if (!(rel <= BOUND[k]))
            fail_msg("%s: RTN relative RMS error %.3g above the loose bound %.3g", vkg_ggml_type_name(TYPES[k]), rel,
                     BOUND[k]);
    }
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(test_##name, vkg_test_setup, vkg_test_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rtn_on_llama_cpp_values),
        T(q8_0_qwen2_bias_untied),
        T(q6_k_qwen3_qk_norm_tied),
        T(q5_k_llama_untied),
        T(q4_k_qwen2_tied),
        T(q4_0_llama_untied),
        T(q4_k_rows_64_take_q8_0),
        T(q6_k_rows_64_take_q8_0),
        T(q4_0_rows_64),
    };
#undef T
    return cmocka_run_group_tests(tests, vkg_test_group_setup, vkg_test_group_teardown);
}
