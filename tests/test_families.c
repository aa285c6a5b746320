/*
 * tests/test_families.c — every decoder family the library runs, from Hugging Face directories that
 * the test writes (tests/family_writer.c; GPT-2 through tests/model_fixture.c), loaded with the
 * public API and compared with the double-precision reference (tests/ref/ref_decoder.c):
 *   - one test per variant (GQA ratios 1, 2, 4 and MQA; head_dim 64, 128 and != width/heads; tied
 *     and untied; q/k/v bias, Llama attention_bias + mlp_bias; q/k norm; llama3 and linear RoPE
 *     scaling; a sliding window shorter than the sequence; single and sharded files; F32, F16,
 *     BF16; eos as a list and generation_config.json): prefill logits of every position within
 *     1e-4 of the largest |logit|, and greedy continuations token for token;
 *   - cached vs uncached (no_kv_cache) for a Llama-family model and GPT-2: teacher-forced logits at
 *     every position and free-running greedy sequences agree; 128 positions here, 1023 in the
 *     "long" ctest entry test_families_long (VKG_TEST_LONG=1 runs only those; there the uncached
 *     session steps for the first 127 tokens and one uncached pass checks all). The weights keep
 *     greedy sequences varied (at least MIN_DISTINCT distinct tokens in every window of 64), and
 *     test_forgetting_is_visible shows on the reference that a cache forgetting old positions
 *     changes both the logits and the greedy tokens of these very models, so the identities can fail.
 */
#include "family_writer.h"
#include "harness.h"
#include "logit_checks.h"
#include "model_fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MIN_DISTINCT = 16, WINDOW = 64, UNCACHED_STEPS = 127 };

static int32_t *tokens_for(int n, uint32_t seed, int V) {
    int32_t *t = malloc((size_t)n * sizeof *t);
    assert_non_null(t);
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        t[i] = (int32_t)(x % (uint64_t)V);
    }
    return t;
}

/* Fewest distinct tokens in any window of WINDOW consecutive ones (n if shorter). */
static int min_distinct(const int32_t *t, int n, int V) {
    int best = n < WINDOW ? n : WINDOW;
    int *seen = calloc((size_t)V, sizeof *seen);
    assert_non_null(seen);
    for (int s = 0; s + WINDOW <= n; s++) {
        int k = 0;
        memset(seen, 0, (size_t)V * sizeof *seen);
        for (int i = s; i < s + WINDOW; i++)
            k += seen[t[i]]++ == 0;
        best = k < best ? k : best;
    }
    free(seen);
    return best;
}

static double *alloc_doubles(size_t n) {
    double *p = malloc(n * sizeof *p);
    assert_non_null(p);
    return p;
}

static float *alloc_floats(size_t n) {
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    return p;
}

static void same_tokens(const char *what, const int32_t *got, const int32_t *want, int n) {
    for (int i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("%s: token %d: %d, expected %d", what, i, got[i], want[i]);
}

static vkg_model *load(vkg_context *ctx, const char *dir, const char *what) {
    vkg_model *m = NULL;
    vkg_status s = vkg_model_load(ctx, dir, NULL, &m);
    if (s != VKG_OK)
        fail_msg("%s: vkg_model_load: %s: %s", what, vkg_status_str(s), vkg_last_error());
    return m;
}

/* Token equality is a fair demand only where the reference's best token leads the runner-up by
 * more than the logit tolerance allows either to move (2 x 1e-4 of the largest |logit|): the test
 * data must give such margins at every greedy step, and a seed that does not is refused here. */
static void require_margins(const char *what, const ref_decoder *r, const int32_t *prompt, int n_prompt,
                            const int32_t *gen, int n_gen) {
    int V = r->config.vocab_size, n = n_prompt + n_gen - 1;
    int32_t *seq = malloc((size_t)n * sizeof *seq);
    double *lg = alloc_doubles((size_t)n * V);
    assert_non_null(seq);
    memcpy(seq, prompt, (size_t)n_prompt * sizeof *seq);
    memcpy(seq + n_prompt, gen, (size_t)(n_gen - 1) * sizeof *seq);
    assert_int_equal(ref_decoder_forward(r, seq, n, lg), 0);
    for (int t = n_prompt - 1; t < n; t++) {
        const double *row = lg + (size_t)t * V;
        double first = -INFINITY, second = -INFINITY, max_abs = 0;
        for (int i = 0; i < V; i++) {
            max_abs = fmax(max_abs, fabs(row[i]));
            if (row[i] > first)
                second = first, first = row[i];
            else if (row[i] > second)
                second = row[i];
        }
        if (first - second < 2e-4 * max_abs)
            fail_msg("%s: test data: at greedy step %d the reference's top two logits are %.3g apart, "
                     "%.3g of the largest; choose another seed", what, t - n_prompt + 1, first - second,
                     (first - second) / max_abs);
    }
    free(seq), free(lg);
}

/* ---- one test per variant ---------------------------------------------------------------------- */

typedef struct variant {
    const char *name;
    fw_family family;
    int L, d, H, KVH, hd, ff, V;
    int tied, attention_bias, mlp_bias, window;
    ref_rope_scaling scaling;
    st_dtype dtype;
    int shards;
    int eos_list, generation_config, old_rope_key;
    uint64_t seed;
} variant;

enum { T_PREFILL = 40, N_GREEDY = 24, P_MODEL = 256 };

/* Prefill logits of T_PREFILL random tokens and a greedy continuation, device vs reference. The
 * reference holds the weights rounded to the file's dtype, and the library computes in fp32 whatever
 * the storage, so F16 and BF16 files keep the fp32 bound: only the arithmetic differs. */
static void run_variant(vkg_context *ctx, const variant *v) {
    ref_decoder_config c = fw_family_config(v->family, v->L, v->d, v->H, v->KVH, v->hd, v->ff, v->V, P_MODEL);
    c.tied_lm_head = v->tied;
    if (v->attention_bias)
        c.qkv_bias = c.o_bias = 1;
    c.mlp_bias = v->mlp_bias;
    c.sliding_window = v->window;
    c.rope_scaling = v->scaling;
    if (v->scaling == REF_ROPE_SCALING_LINEAR)
        c.rope_factor = 2.0;
    if (v->scaling == REF_ROPE_SCALING_LLAMA3) /* hd 16, theta 1e4: wavelengths 6.3 .. 19869 straddle 16 and 64 */
        c.rope_factor = 4.0, c.rope_low_freq_factor = 1.0, c.rope_high_freq_factor = 4.0,
        c.rope_original_max_positions = 64;
    fw_init init = fw_init_varied();
    fw_model m;
    assert_int_equal(fw_model_random(&m, &c, v->seed, &init, v->dtype), 0);
    fw_options o = fw_default_options(v->family);
    o.dtype = v->dtype;
    o.n_shards = v->shards;
    o.generation_config = v->generation_config;
    o.rope_type_old_key = v->old_rope_key;
    if (v->eos_list)
        o.n_eos = 2, o.eos[0] = 2, o.eos[1] = 3, o.eos_as_list = 1;
    char *dir = st_tmpdir_create();
    assert_non_null(dir);
    assert_int_equal(fw_write(dir, &m, &o), 0);

    int V = v->V;
    int32_t *tok = tokens_for(T_PREFILL, (uint32_t)V + 7u, V);
    double *want = alloc_doubles((size_t)T_PREFILL * V);
    float *got = alloc_floats((size_t)T_PREFILL * V);
    assert_int_equal(ref_decoder_forward(&m.ref, tok, T_PREFILL, want), 0);
    int32_t *ref_gen = malloc(N_GREEDY * sizeof *ref_gen);
    assert_int_equal(ref_decoder_greedy(&m.ref, tok, 8, N_GREEDY, ref_gen), 0);
    require_margins(v->name, &m.ref, tok, 8, ref_gen, N_GREEDY);
    vkg_model *model = load(ctx, dir, v->name);
    vkg_session *s = NULL;
    assert_int_equal(vkg_session_create(model, NULL, &s), VKG_OK);
    assert_int_equal(vkg_session_prefill(s, tok, T_PREFILL, got), VKG_OK);
    char what[96];
    for (int t = 0; t < T_PREFILL; t++) {
        snprintf(what, sizeof what, "%s: prefill row %d", v->name, t);
        check_logits(what, got + (size_t)t * V, want + (size_t)t * V, (size_t)V, 1e-4);
    }
    vkg_session_free(s);
    /* Greedy: the same tokens on the device (cached) as on the reference. */
    int32_t *dev_gen = device_greedy(model, true, tok, 8, N_GREEDY);
    snprintf(what, sizeof what, "%s: greedy", v->name);
    same_tokens(what, dev_gen, ref_gen, N_GREEDY);
    free(ref_gen), free(dev_gen), free(tok), free(want), free(got);
    vkg_model_free(model);
    st_tmpdir_remove(dir);
    fw_model_free(&m);
}

/* name, family, L, d, H, KVH, hd (0: d/H), ff, V, tied, attention_bias, mlp_bias, window, scaling, dtype,
 * shards, eos_list, generation_config, old_rope_key, seed (chosen for clear greedy margins: require_margins) */
#define VARIANT(name, ...)                                                                                 \
    static void test_##name(void **state) {                                                                \
        static const variant v = {#name, __VA_ARGS__};                                                     \
        run_variant(vkg_test_ctx(state), &v);                                                              \
    }
VARIANT(llama_gqa1_f32, FW_LLAMA, 2, 64, 4, 4, 0, 128, 256, 0, 0, 0, 0, REF_ROPE_SCALING_NONE, ST_F32, 1, 0, 0, 0, 1)
VARIANT(llama_gqa2_tied_f16, FW_LLAMA, 2, 64, 4, 2, 0, 128, 256, 1, 0, 0, 0, REF_ROPE_SCALING_NONE, ST_F16, 1, 0, 0, 0, 1)
VARIANT(llama_gqa4_bf16, FW_LLAMA, 2, 128, 8, 2, 0, 256, 256, 0, 0, 0, 0, REF_ROPE_SCALING_NONE, ST_BF16, 1, 0, 0, 0, 1)
VARIANT(llama_mqa_sharded, FW_LLAMA, 2, 64, 4, 1, 0, 128, 256, 0, 0, 0, 0, REF_ROPE_SCALING_NONE, ST_F32, 3, 0, 0, 0, 1)
VARIANT(llama_hd64, FW_LLAMA, 2, 128, 2, 1, 0, 256, 256, 1, 0, 0, 0, REF_ROPE_SCALING_NONE, ST_F32, 1, 0, 0, 0, 1)
VARIANT(llama_hd128, FW_LLAMA, 2, 256, 2, 1, 0, 512, 256, 0, 0, 0, 0, REF_ROPE_SCALING_NONE, ST_F16, 1, 0, 0, 0, 1)
VARIANT(llama_hd32_not_d_over_h, FW_LLAMA, 2, 64, 4, 2, 32, 128, 256, 0, 0, 0, 0, REF_ROPE_SCALING_NONE, ST_F32, 1, 0, 0, 0, 1)
VARIANT(llama_attention_and_mlp_bias, FW_LLAMA, 2, 64, 4, 2, 0, 128, 256, 0, 1, 1, 0, REF_ROPE_SCALING_NONE, ST_F32, 1, 0, 0, 0, 1)
VARIANT(llama3_scaling_eos_list, FW_LLAMA, 2, 64, 4, 2, 0, 128, 256, 1, 0, 0, 0, REF_ROPE_SCALING_LLAMA3, ST_BF16, 2, 1, 1, 0, 1)
VARIANT(llama_linear_scaling_old_key, FW_LLAMA, 2, 64, 4, 2, 0, 128, 256, 0, 0, 0, 0, REF_ROPE_SCALING_LINEAR, ST_F32, 1, 0, 0, 1, 1)
VARIANT(mistral_window16, FW_MISTRAL, 2, 64, 4, 2, 0, 128, 256, 0, 0, 0, 16, REF_ROPE_SCALING_NONE, ST_F32, 1, 0, 0, 0, 1)
VARIANT(mistral_window16_f16_sharded, FW_MISTRAL, 2, 64, 4, 1, 0, 128, 256, 0, 0, 0, 16, REF_ROPE_SCALING_NONE, ST_F16, 2, 0, 1, 0, 1)
VARIANT(qwen2_qkv_bias_tied, FW_QWEN2, 2, 64, 4, 2, 0, 128, 256, 1, 0, 0, 0, REF_ROPE_SCALING_NONE, ST_F32, 1, 1, 0, 0, 1)
VARIANT(qwen2_qkv_bias_bf16_sharded, FW_QWEN2, 2, 64, 4, 1, 0, 128, 256, 0, 0, 0, 0, REF_ROPE_SCALING_NONE, ST_BF16, 3, 0, 1, 0, 1)
VARIANT(qwen3_qk_norm_hd128, FW_QWEN3, 2, 128, 2, 1, 128, 256, 256, 1, 0, 0, 0, REF_ROPE_SCALING_NONE, ST_BF16, 1, 1, 1, 0, 1)
VARIANT(qwen3_qk_norm_gqa2_f32, FW_QWEN3, 2, 64, 4, 2, 32, 128, 256, 0, 0, 0, 0, REF_ROPE_SCALING_NONE, ST_F32, 1, 0, 0, 0, 1)

/* GPT-2 variants the config switches make: an untied lm_head.weight that differs from wte (used, not
 * ignored), and scale_attn_weights false (scores unscaled). The reference is told the same. */
static void gpt2_variant(vkg_context *ctx, bool untied, bool unscaled) {
    ref_gpt2_config c = {.n_layer = 2, .n_head = 4, .n_embd = 128, .vocab_size = 512, .n_positions = P_MODEL,
                         .eps = 1e-5f};
    ref_gpt2 g;
    assert_int_equal(ref_gpt2_random(&g, &c, 5, 0.5f), 0);
    fw_model m;
    assert_int_equal(fw_model_from_gpt2(&m, &g), 0);
    int V = c.vocab_size;
    float *head = alloc_floats((size_t)V * c.n_embd);
    for (size_t i = 0; i < (size_t)V * c.n_embd; i++) /* another matrix than wte, same scale */
        head[i] = g.wte[(i * 7919u + 13u) % ((size_t)V * c.n_embd)] * -0.9f;
    if (untied) {
        m.ref.config.tied_lm_head = 0;
        m.ref.lm_head = head;
    }
    if (unscaled)
        m.ref.config.attn_scale = 1.0;
    char *dir = st_tmpdir_create();
    assert_int_equal(fixture_write_ex(dir, &g, ST_F32, FIXTURE_SAVE_PRETRAINED, untied ? head : NULL,
                                      unscaled ? ", \"scale_attn_weights\": false" : NULL), 0);
    int32_t *tok = tokens_for(T_PREFILL, 4, V);
    double *want = alloc_doubles((size_t)T_PREFILL * V);
    float *got = alloc_floats((size_t)T_PREFILL * V);
    assert_int_equal(ref_decoder_forward(&m.ref, tok, T_PREFILL, want), 0);
    vkg_model *model = load(ctx, dir, "gpt2");
    vkg_session *s = NULL;
    assert_int_equal(vkg_session_create(model, NULL, &s), VKG_OK);
    assert_int_equal(vkg_session_prefill(s, tok, T_PREFILL, got), VKG_OK);
    check_logits(untied ? "gpt2 untied lm_head" : "gpt2 scale_attn_weights false", got, want, (size_t)T_PREFILL * V,
                 1e-4);
    vkg_session_free(s);
    free(tok), free(want), free(got), free(head);
    vkg_model_free(model);
    st_tmpdir_remove(dir);
    fw_model_free(&m);
    ref_gpt2_free(&g);
}

static void test_gpt2_untied_head(void **state) { gpt2_variant(vkg_test_ctx(state), true, false); }
static void test_gpt2_unscaled_attention(void **state) { gpt2_variant(vkg_test_ctx(state), false, true); }

/* GPT-2 on the same path: the fixture writer (tests/model_fixture.c) and the decoder reference. */
static ref_gpt2 gpt2_varied(int P) {
    ref_gpt2 g;
    ref_gpt2_config c = {.n_layer = 2, .n_head = 4, .n_embd = 128, .vocab_size = 512, .n_positions = P,
                         .eps = 1e-5f};
    /* Uniform +-0.5 (ref_gpt2_random's scheme): greedy runs keep 27-35 distinct tokens per 64 over
     * 1023 tokens for seeds 1-3; +-0.1 collapses into one repeated token. */
    assert_int_equal(ref_gpt2_random(&g, &c, 1, 0.5f), 0);
    return g;
}

static void test_gpt2_prefill(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    ref_gpt2 g = gpt2_varied(P_MODEL);
    fw_model m;
    assert_int_equal(fw_model_from_gpt2(&m, &g), 0);
    char *dir = st_tmpdir_create();
    assert_int_equal(fixture_write(dir, &g, ST_F32, FIXTURE_SAVE_PRETRAINED), 0);
    int V = g.config.vocab_size;
    int32_t *tok = tokens_for(T_PREFILL, 3, V);
    double *want = alloc_doubles((size_t)T_PREFILL * V);
    float *got = alloc_floats((size_t)T_PREFILL * V);
    assert_int_equal(ref_decoder_forward(&m.ref, tok, T_PREFILL, want), 0);
    vkg_model *model = load(ctx, dir, "gpt2");
    vkg_session *s = NULL;
    assert_int_equal(vkg_session_create(model, NULL, &s), VKG_OK);
    assert_int_equal(vkg_session_prefill(s, tok, T_PREFILL, got), VKG_OK);
    check_logits("gpt2 prefill", got, want, (size_t)T_PREFILL * V, 1e-4);
    vkg_session_free(s);
    free(tok), free(want), free(got);
    vkg_model_free(model);
    st_tmpdir_remove(dir);
    fw_model_free(&m);
    ref_gpt2_free(&g);
}

/* ---- cached vs uncached ---------------------------------------------------------------------------- */

/* The Llama-family model of the cache tests: GQA 2, untied, 512 tokens. */
static ref_decoder_config llama_cache_config(int P) {
    return fw_family_config(FW_LLAMA, 2, 64, 4, 2, 0, 128, 512, P);
}

/* N positions: the reference's greedy sequence (varied) is the teacher-forced input; its logits
 * through the cached decode step, one position at a time, equal one uncached pass at every position;
 * then free-running greedy sequences cached, uncached (and, for the Llama model, the reference) are
 * identical and varied. */
static void cache_identity(vkg_context *ctx, const char *what, const char *dir, const ref_decoder *ref, int N,
                           int check_ref_tokens) {
    int V = ref->config.vocab_size;
    const int32_t prompt[1] = {3};
    int32_t *seq = malloc((size_t)N * sizeof *seq);
    assert_non_null(seq);
    seq[0] = prompt[0];
    assert_int_equal(ref_decoder_greedy(ref, prompt, 1, N - 1, seq + 1), 0);
    int distinct = min_distinct(seq, N, V);
    if (distinct < MIN_DISTINCT)
        fail_msg("%s: the reference's greedy sequence has only %d distinct tokens in some window of %d", what,
                 distinct, WINDOW);

    vkg_model *model = load(ctx, dir, what);
    check_teacher_forced(model, seq, N, what, 1e-4);
    float *all = alloc_floats((size_t)N * V);
    char msg[96];
    vkg_session_options uo = vkg_session_default_options();
    uo.no_kv_cache = true;
    vkg_session *uncached = NULL;

    /* Free-running: the cached greedy sequence a. The uncached one equals it exactly when every
     * uncached choice along a is a's next token, which one uncached pass over prompt + a shows
     * (O(N) instead of the O(N^2) of stepping without the cache); up to UNCACHED_STEPS tokens the
     * uncached session also steps for real. */
    int32_t *a = device_greedy(model, true, prompt, 1, (uint32_t)N - 1);
    int32_t *forced = malloc((size_t)N * sizeof *forced);
    assert_non_null(forced);
    forced[0] = prompt[0];
    memcpy(forced + 1, a, (size_t)(N - 1) * sizeof *a);
    assert_int_equal(vkg_session_create(model, &uo, &uncached), VKG_OK);
    assert_int_equal(vkg_session_prefill(uncached, forced, (uint32_t)N, all), VKG_OK);
    vkg_session_free(uncached);
    for (int t = 0; t + 1 < N; t++) {
        int best = 0;
        for (int i = 1; i < V; i++)
            best = all[(size_t)t * V + i] > all[(size_t)t * V + best] ? i : best;
        if (best != a[t])
            fail_msg("%s: greedy cached vs uncached: token %d: cached %d, uncached would choose %d", what, t,
                     a[t], best);
    }
    free(forced);
    int n_steps = N - 1 < UNCACHED_STEPS ? N - 1 : UNCACHED_STEPS;
    int32_t *b = device_greedy(model, false, prompt, 1, (uint32_t)n_steps);
    snprintf(msg, sizeof msg, "%s: greedy cached vs uncached steps", what);
    same_tokens(msg, a, b, n_steps);
    if (check_ref_tokens) { /* the 1023-token sequence has margins down to 6e-5: device and reference may part */
        require_margins(what, ref, prompt, 1, seq + 1, N - 1);
        snprintf(msg, sizeof msg, "%s: greedy cached vs reference", what);
        same_tokens(msg, a, seq + 1, N - 1);
    }
    distinct = min_distinct(a, N - 1, V);
    if (distinct < MIN_DISTINCT)
        fail_msg("%s: the device's greedy sequence has only %d distinct tokens in some window of %d", what,
                 distinct, WINDOW);
    free(a), free(b), free(seq), free(all);
    vkg_model_free(model);
}

static void llama_cache(vkg_context *ctx, int N) {
    ref_decoder_config c = llama_cache_config(1024);
    fw_init init = fw_init_varied();
    fw_model m; /* seed 2: seed 1 has a reference near-tie (4e-5 of the largest logit) at step 67 */
    assert_int_equal(fw_model_random(&m, &c, 2, &init, ST_F32), 0);
    char *dir = st_tmpdir_create();
    assert_int_equal(fw_write(dir, &m, &(fw_options){.family = FW_LLAMA, .dtype = ST_F32, .bos_token_id = 1,
                                                      .n_eos = 1, .eos = {2}}),
                     0);
    cache_identity(ctx, "llama", dir, &m.ref, N, N <= 128);
    st_tmpdir_remove(dir);
    fw_model_free(&m);
}

static void gpt2_cache(vkg_context *ctx, int N) {
    ref_gpt2 g = gpt2_varied(1024);
    fw_model m;
    assert_int_equal(fw_model_from_gpt2(&m, &g), 0);
    char *dir = st_tmpdir_create();
    assert_int_equal(fixture_write(dir, &g, ST_F32, FIXTURE_SAVE_PRETRAINED), 0);
    /* GPT-2's free-running tokens are compared cached vs uncached only: its reference greedy
     * sequence is the teacher-forced input, and the fp32 device may part from it at a near-tie. */
    cache_identity(ctx, "gpt2", dir, &m.ref, N, 0);
    st_tmpdir_remove(dir);
    fw_model_free(&m);
    ref_gpt2_free(&g);
}

static void test_llama_cache_128(void **state) { llama_cache(vkg_test_ctx(state), 128); }
static void test_gpt2_cache_128(void **state) { gpt2_cache(vkg_test_ctx(state), 128); }
static void test_llama_cache_1023(void **state) { llama_cache(vkg_test_ctx(state), 1023); }
static void test_gpt2_cache_1023(void **state) { gpt2_cache(vkg_test_ctx(state), 1023); }

/* The identities above can fail: on the reference, forgetting the positions older than N/2 (a
 * sliding window of N/2 is exactly such a cache) changes the logits beyond the 1e-4 bound from
 * position N/2 on and changes the greedy sequence, for both models and both lengths. CPU only. */
static void forgetting_changes(const ref_decoder *ref, const char *what, int N) {
    ref_decoder forgetful = *ref;
    forgetful.config.sliding_window = N / 2;
    int V = ref->config.vocab_size;
    const int32_t prompt[1] = {3};
    int32_t *seq = malloc((size_t)N * sizeof *seq), *other = malloc((size_t)N * sizeof *other);
    seq[0] = prompt[0];
    assert_int_equal(ref_decoder_greedy(ref, prompt, 1, N - 1, seq + 1), 0);
    assert_int_equal(ref_decoder_greedy(&forgetful, prompt, 1, N - 1, other), 0);
    if (memcmp(seq + 1, other, (size_t)(N - 1) * sizeof *seq) == 0)
        fail_msg("%s N=%d: forgetting old positions leaves the greedy tokens unchanged", what, N);
    double *a = alloc_doubles((size_t)N * V), *b = alloc_doubles((size_t)N * V);
    assert_int_equal(ref_decoder_forward(ref, seq, N, a), 0);
    assert_int_equal(ref_decoder_forward(&forgetful, seq, N, b), 0);
    int caught = 0;
    for (int t = N / 2; t < N; t++) {
        double max_ref = 0, max_err = 0;
        for (int i = 0; i < V; i++) {
            max_ref = fmax(max_ref, fabs(a[(size_t)t * V + i]));
            max_err = fmax(max_err, fabs(a[(size_t)t * V + i] - b[(size_t)t * V + i]));
        }
        caught += max_err > 1e-4 * max_ref;
    }
    if (caught < N / 4)
        fail_msg("%s N=%d: only %d of the last %d positions move beyond the bound", what, N, caught, N / 2);
    free(seq), free(other), free(a), free(b);
}

static void test_forgetting_is_visible(void **state) {
    (void)state;
    ref_decoder_config c = llama_cache_config(1024);
    fw_init init = fw_init_varied();
    fw_model m;
    assert_int_equal(fw_model_random(&m, &c, 1, &init, ST_F32), 0);
    forgetting_changes(&m.ref, "llama", 128);
    ref_gpt2 g = gpt2_varied(1024);
    fw_model gm;
    assert_int_equal(fw_model_from_gpt2(&gm, &g), 0);
    forgetting_changes(&gm.ref, "gpt2", 128);
    if (getenv("VKG_TEST_LONG")) {
        forgetting_changes(&m.ref, "llama", 1023);
        forgetting_changes(&gm.ref, "gpt2", 1023);
    }
    fw_model_free(&gm);
    ref_gpt2_free(&g);
    fw_model_free(&m);
}

/* The writer refuses configs a family cannot express instead of writing a wrong config.json. */
static void test_writer_refuses_inexpressible(void **state) {
    (void)state;
    char *dir = st_tmpdir_create();
    fw_init init = fw_init_varied();
    fw_model m;
    ref_decoder_config c = fw_family_config(FW_LLAMA, 1, 16, 2, 1, 0, 32, 64, 32);
    c.sliding_window = 4; /* Llama has no window */
    assert_int_equal(fw_model_random(&m, &c, 1, &init, ST_F32), 0);
    assert_int_equal(fw_write(dir, &m, &(fw_options){.family = FW_LLAMA}), -1);
    assert_int_equal(fw_write(dir, &m, &(fw_options){.family = FW_MISTRAL}), 0);
    assert_int_equal(fw_write(dir, &m, &(fw_options){.family = FW_QWEN3}), -1); /* no q/k norm */
    fw_model_free(&m);
    st_tmpdir_remove(dir);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(test_##name, vkg_test_setup, vkg_test_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forgetting_is_visible),
        cmocka_unit_test(test_writer_refuses_inexpressible),
        T(gpt2_prefill),
        T(gpt2_untied_head),
        T(gpt2_unscaled_attention),
        T(gpt2_cache_128),
        T(llama_gqa1_f32),
        T(llama_gqa2_tied_f16),
        T(llama_gqa4_bf16),
        T(llama_mqa_sharded),
        T(llama_hd64),
        T(llama_hd128),
        T(llama_hd32_not_d_over_h),
        T(llama_attention_and_mlp_bias),
        T(llama3_scaling_eos_list),
        T(llama_linear_scaling_old_key),
        T(mistral_window16),
        T(mistral_window16_f16_sharded),
        T(qwen2_qkv_bias_tied),
        T(qwen2_qkv_bias_bf16_sharded),
        T(qwen3_qk_norm_hd128),
        T(qwen3_qk_norm_gqa2_f32),
        T(llama_cache_128),
    };
    /* The labelled long tests (ctest -L long): 1023 positions. */
    const struct CMUnitTest long_tests[] = {
        cmocka_unit_test(test_forgetting_is_visible),
        T(gpt2_cache_1023),
        T(llama_cache_1023),
    };
#undef T
    const char *long_run = getenv("VKG_TEST_LONG");
    if (long_run && strcmp(long_run, "1") == 0)
        return cmocka_run_group_tests(long_tests, vkg_test_group_setup, vkg_test_group_teardown);
    return cmocka_run_group_tests(tests, vkg_test_group_setup, vkg_test_group_teardown);
}
