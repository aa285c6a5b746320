/*
 * model/synthetic.c — the named synthetic configurations (GPT-2 and Llama-family shapes) used by the
 * demo, the tests and the benchmarks,
 * with seeded random weights generated while they upload. Each element is a hash of (seed, tensor,
 * index) — counter-based, so any byte range of any tensor can be produced independently and a 1.5B
 * model fills at memory speed rather than through a sequential generator.
 *
 * Distributions: matrices with std 1/sqrt(fan_in), so that every block changes the residual stream
 * as much as the embedding put in it (with GPT-2's std of 0.02 a random model mostly predicts its
 * input token again, because the LM head is tied to the embedding); norm gains near 1; token
 * embeddings with std ~0.12 so that logits are spread and greedy decoding is not decided by
 * rounding-level ties.
 */
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct named_config {
    const char *name;
    const char *family;
    uint32_t n_layer, d_model, n_head, n_kv_head, head_dim, d_ff, vocab, positions;
    float theta;
    bool tied, qkv_bias, qk_norm, llama3_scaling;
    int32_t bos, eos[3];
} named_config;

/* GPT-2 shapes with 2048 positions, where GPT-2 has 1024, so that `bench kv` reaches T = 1536; the
 * Llama-family shapes are those of the real models (context as their configs say). llama-nano is tiny
 * but has Qwen's vocabulary, so any of the three tokenizer families' ids fit it. */
static const named_config CONFIGS[] = {
    {"gpt-nano", "gpt2", 3, 48, 3, 3, 16, 192, 50257, 2048, 0, true, true, false, false, 50256, {50256}},
    {"gpt-mini", "gpt2", 6, 192, 6, 6, 32, 768, 50257, 2048, 0, true, true, false, false, 50256, {50256}},
    {"gpt2", "gpt2", 12, 768, 12, 12, 64, 3072, 50257, 2048, 0, true, true, false, false, 50256, {50256}},
    {"gpt2-medium", "gpt2", 24, 1024, 16, 16, 64, 4096, 50257, 2048, 0, true, true, false, false, 50256, {50256}},
    {"gpt2-large", "gpt2", 36, 1280, 20, 20, 64, 5120, 50257, 2048, 0, true, true, false, false, 50256, {50256}},
    {"gpt2-xl", "gpt2", 48, 1600, 25, 25, 64, 6400, 50257, 2048, 0, true, true, false, false, 50256, {50256}},
    {"llama-nano", "llama", 2, 64, 4, 2, 16, 192, 151936, 4096, 10000, false, false, false, false, -1,
     {151643, 151645}},
    {"tinyllama-1.1b", "llama", 22, 2048, 32, 4, 64, 5632, 32000, 2048, 10000, false, false, false, false, 1, {2}},
    {"llama3.2-1b", "llama", 16, 2048, 32, 8, 64, 8192, 128256, 131072, 500000, true, false, false, true, 128000,
     {128001, 128008, 128009}},
    {"qwen2.5-0.5b", "qwen2", 24, 896, 14, 2, 64, 4864, 151936, 32768, 1000000, true, true, false, false, -1,
     {151645, 151643}},
    {"qwen3-0.6b", "qwen3", 28, 1024, 16, 8, 128, 3072, 151936, 40960, 1000000, true, false, true, false, -1,
     {151645, 151643}},
};

static const char *const NAMES[] = {"gpt-nano", "gpt-mini", "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl",
                                    "llama-nano", "tinyllama-1.1b", "llama3.2-1b", "qwen2.5-0.5b", "qwen3-0.6b",
                                    NULL};

const char *const *vkg_synthetic_names(void) { return NAMES; }

static vkg_model_config make_config(const named_config *n) {
    vkg_model_config c = {
        .n_layer = n->n_layer, .d_model = n->d_model, .n_head = n->n_head, .n_kv_head = n->n_kv_head,
        .head_dim = n->head_dim, .d_ff = n->d_ff, .vocab_size = n->vocab, .n_positions = n->positions,
        .tied_lm_head = n->tied, .qkv_bias = n->qkv_bias, .qk_norm = n->qk_norm, .bos_token_id = n->bos,
        .attn_scale = 1.0f / sqrtf((float)n->head_dim),
    };
    snprintf(c.family, sizeof c.family, "%s", n->family);
    for (int i = 0; i < 3 && n->eos[i]; i++)
        c.eos_token_ids[c.n_eos++] = n->eos[i];
    if (strcmp(n->family, "gpt2") == 0) {
        c.norm = VKG_NORM_LAYERNORM;
        c.norm_bias = c.o_bias = c.mlp_bias = true;
        c.norm_eps = 1e-5f;
        c.act = VKG_ACT_GELU_TANH;
        c.pos = VKG_POS_LEARNED;
        return c;
    }
    c.norm = VKG_NORM_RMSNORM;
    c.norm_eps = 1e-6f;
    c.act = VKG_ACT_SILU;
    c.gated_mlp = true;
    c.pos = VKG_POS_ROPE;
    c.rope.theta = n->theta;
    c.rope.pairing = VKG_ROPE_HALF;
    if (n->llama3_scaling) { /* Llama 3.2's published rope_scaling */
        c.rope.scaling = VKG_ROPE_SCALING_LLAMA3;
        c.rope.factor = 32;
        c.rope.low_freq_factor = 1;
        c.rope.high_freq_factor = 4;
        c.rope.original_max_positions = 8192;
    }
    return c;
}

vkg_status vkg_synthetic_config(const char *name, vkg_model_config *out) {
    for (size_t i = 0; name && i < VKG_ARRAY_LEN(CONFIGS); i++)
        if (strcmp(name, CONFIGS[i].name) == 0) {
            *out = make_config(&CONFIGS[i]);
            return VKG_OK;
        }
    return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "unknown synthetic config '%s' (known: gpt-nano, gpt-mini, gpt2, "
                    "gpt2-medium, gpt2-large, gpt2-xl, llama-nano, tinyllama-1.1b, llama3.2-1b, qwen2.5-0.5b, "
                    "qwen3-0.6b)", name ? name : "(null)");
}

static uint64_t mix(uint64_t x) {
    /* splitmix64's finaliser: a bijective 64-bit mix with good avalanche. */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void read_random(const vkg_weight_source *src, uint64_t first, uint64_t n, float *dst) {
    /* A negative scale asks for std 1/sqrt(fan_in): uniform half-width sqrt(3 / cols). */
    float scale = src->scale >= 0 ? src->scale : sqrtf(3.0f / (float)src->cols);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t h = mix(src->seed + (first + i) * 0x9e3779b97f4a7c15ull);
        float u = (float)(h >> 40) * (1.0f / 16777216.0f); /* [0, 1) with 24 bits */
        dst[i] = src->center + scale * (2.0f * u - 1.0f);
    }
}

static void pick(void *user, vkg_weight_role role, uint32_t layer, vkg_weight_source *src) {
    uint64_t seed = *(const uint64_t *)user;
    /* Uniform half-width a gives std a / sqrt(3); -1: std 1/sqrt(fan_in) (matrices). */
    float scale = -1.0f, center = 0.0f;
    switch (role) {
    case VKG_W_TOK_EMBD: scale = 0.2f; break;
    case VKG_W_POS_EMBD: scale = 0.02f; break;
    case VKG_W_OUT_NORM: case VKG_W_ATTN_NORM: case VKG_W_FFN_NORM: case VKG_W_Q_NORM: case VKG_W_K_NORM:
        scale = 0.1f;
        center = 1.0f;
        break;
    case VKG_W_OUT_NORM_B: case VKG_W_ATTN_NORM_B: case VKG_W_FFN_NORM_B: case VKG_W_QKV_B: case VKG_W_O_B:
    case VKG_W_UP_B: case VKG_W_DOWN_B:
        scale = 0.02f;
        break;
    default: break;
    }
    *src = (vkg_weight_source){
        .read = read_random,
        .seed = mix(seed ^ mix(((uint64_t)role << 32) | layer)),
        .scale = scale,
        .center = center,
    };
}

vkg_status vkg_model_synthetic(vkg_context *ctx, const char *name, uint64_t seed, const vkg_model_options *opts,
                               vkg_model **out) {
    if (!ctx || !out)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_model_synthetic: NULL argument");
    *out = NULL;
    vkg_model_config cfg;
    VKG_TRY(vkg_synthetic_config(name, &cfg));
    vkg_model_options o = opts ? *opts : vkg_model_default_options();
    if (o.weights == VKG_PRECISION_AUTO)
        o.weights = VKG_PRECISION_F32;
    return vkg_model_build(ctx, &cfg, &o, pick, &seed, out);
}
