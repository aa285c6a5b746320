/*
 * model/synthetic.c — the named synthetic GPT-2 configurations used by the demo and the benchmarks,
 * with seeded random weights generated while they upload. Each element is a hash of (seed, tensor,
 * index) — counter-based, so any byte range of any tensor can be produced independently and a 1.5B
 * model fills at memory speed rather than through a sequential generator.
 *
 * Distributions: matrices with std 1/sqrt(fan_in), so that every block changes the residual stream
 * as much as the embedding put in it (with GPT-2's std of 0.02 a random model mostly predicts its
 * input token again, because the LM head is tied to the embedding); LayerNorm gains near 1; token
 * embeddings with std ~0.12 so that logits are spread and greedy decoding is not decided by
 * rounding-level ties.
 */
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct named_config {
    const char *name;
    uint32_t n_layer, n_head, n_embd;
} named_config;

static const named_config CONFIGS[] = {
    {"gpt-nano", 3, 3, 48},       {"gpt-mini", 6, 6, 192},      {"gpt2", 12, 12, 768},
    {"gpt2-medium", 24, 16, 1024}, {"gpt2-large", 36, 20, 1280}, {"gpt2-xl", 48, 25, 1600},
};

static const char *const NAMES[] = {"gpt-nano", "gpt-mini", "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", NULL};

const char *const *vkg_synthetic_names(void) { return NAMES; }

vkg_status vkg_synthetic_config(const char *name, vkg_model_config *out) {
    for (size_t i = 0; name && i < VKG_ARRAY_LEN(CONFIGS); i++)
        if (strcmp(name, CONFIGS[i].name) == 0) {
            *out = (vkg_model_config){
                .n_layer = CONFIGS[i].n_layer, .n_head = CONFIGS[i].n_head, .n_embd = CONFIGS[i].n_embd,
                .vocab_size = 50257, .n_positions = 2048, .layer_norm_epsilon = 1e-5f, .eos_token_id = 50256,
            };
            return VKG_OK;
        }
    return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "unknown synthetic config '%s' (known: gpt-nano, gpt-mini, "
                    "gpt2, gpt2-medium, gpt2-large, gpt2-xl)", name ? name : "(null)");
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
    case VKG_W_WTE: scale = 0.2f; break;
    case VKG_W_WPE: scale = 0.02f; break;
    case VKG_W_LNF_G: case VKG_W_LN1_G: case VKG_W_LN2_G: scale = 0.1f; center = 1.0f; break;
    case VKG_W_LNF_B: case VKG_W_LN1_B: case VKG_W_LN2_B: scale = 0.02f; break;
    case VKG_W_ATTN_B: case VKG_W_PROJ_B: case VKG_W_FC_B: case VKG_W_FCPROJ_B: scale = 0.02f; break;
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
    return vkg_model_build(ctx, &cfg, opts, pick, &seed, out);
}
