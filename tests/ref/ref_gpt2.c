/* ref_gpt2.c — the reference GPT-2 forward pass (full sequence, no KV cache) built from the
 * operators in ref.c, and seeded random models for tests. Not a loader: the caller points a
 * ref_gpt2 at weights it already has in memory, or asks ref_gpt2_random for some. */
#include "ref.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Floats per layer: ln1 2d, c_attn 3d*d + 3d, attn c_proj d*d + d, ln2 2d, c_fc 4d*d + 4d,
 * mlp c_proj 4d*d + d. The caller bounds d so that this cannot overflow. */
static size_t layer_params(size_t d) {
    return 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (4 * d * d + 4 * d) +
           (4 * d * d + d);
}

static int config_ok(const ref_gpt2_config *c) {
    return c->n_layer >= 0 && c->n_head > 0 && c->n_embd > 0 && c->n_embd % c->n_head == 0 &&
           c->vocab_size > 0 && c->n_positions > 0 && c->eps > 0.0f;
}

size_t ref_gpt2_param_count(const ref_gpt2_config *c) {
    if (!config_ok(c))
        return 0;
    size_t d = (size_t)c->n_embd;
    if (d > 100000) /* keeps d*d*4 far from overflow; GPT-2 XL has d = 1600 */
        return 0;
    size_t per_layer = layer_params(d);
    size_t n = ((size_t)c->vocab_size + (size_t)c->n_positions) * d;
    if ((size_t)c->n_layer > (SIZE_MAX - n - 2 * d) / per_layer)
        return 0;
    return n + (size_t)c->n_layer * per_layer + 2 * d;
}

/* Hands out the next n floats of storage, filled from rng: uniform in [-scale, scale), plus 1 when
 * `around_one` (layer-norm gammas). */
static const float *take(float **cursor, size_t n, ref_rng *rng, float scale, int around_one) {
    float *p = *cursor;
    ref_rng_fill(rng, p, n, -scale, scale);
    if (around_one)
        for (size_t i = 0; i < n; i++)
            p[i] += 1.0f;
    *cursor = p + n;
    return p;
}

int ref_gpt2_random(ref_gpt2 *m, const ref_gpt2_config *config, uint64_t seed, float scale) {
    memset(m, 0, sizeof *m);
    size_t total = ref_gpt2_param_count(config);
    if (total == 0 || total > SIZE_MAX / sizeof(float))
        return -1;
    size_t d = (size_t)config->n_embd;
    float *storage = malloc(total * sizeof *storage);
    size_t n_layers = config->n_layer > 0 ? (size_t)config->n_layer : 1; /* calloc(0) may be NULL */
    ref_gpt2_layer *layers = calloc(n_layers, sizeof *layers);
    if (!storage || !layers) {
        free(storage);
        free(layers);
        return -1;
    }
    ref_rng rng = ref_rng_seed(seed);
    float *cur = storage;
    m->config = *config;
    m->wte = take(&cur, (size_t)config->vocab_size * d, &rng, scale, 0);
    m->wpe = take(&cur, (size_t)config->n_positions * d, &rng, scale, 0);
    for (int l = 0; l < config->n_layer; l++) {
        ref_gpt2_layer *L = &layers[l];
        L->ln1_g = take(&cur, d, &rng, scale, 1);
        L->ln1_b = take(&cur, d, &rng, scale, 0);
        L->attn_w = take(&cur, d * 3 * d, &rng, scale, 0);
        L->attn_b = take(&cur, 3 * d, &rng, scale, 0);
        L->proj_w = take(&cur, d * d, &rng, scale, 0);
        L->proj_b = take(&cur, d, &rng, scale, 0);
        L->ln2_g = take(&cur, d, &rng, scale, 1);
        L->ln2_b = take(&cur, d, &rng, scale, 0);
        L->fc_w = take(&cur, d * 4 * d, &rng, scale, 0);
        L->fc_b = take(&cur, 4 * d, &rng, scale, 0);
        L->fcproj_w = take(&cur, 4 * d * d, &rng, scale, 0);
        L->fcproj_b = take(&cur, d, &rng, scale, 0);
    }
    m->lnf_g = take(&cur, d, &rng, scale, 1);
    m->lnf_b = take(&cur, d, &rng, scale, 0);
    assert((size_t)(cur - storage) == total);
    m->layers = layers;
    m->owned_layers = layers;
    m->storage = storage;
    m->storage_len = total;
    return 0;
}

void ref_gpt2_free(ref_gpt2 *m) {
    free(m->storage);
    free(m->owned_layers);
    memset(m, 0, sizeof *m);
}

/* Copies the q | k | v column blocks of qkv[T,3d] into q, k, v [T,d] each. */
static void split_qkv(float *q, float *k, float *v, const float *qkv, int T, int d) {
    for (int t = 0; t < T; t++) {
        const float *row = qkv + (size_t)t * 3 * d;
        memcpy(q + (size_t)t * d, row, (size_t)d * sizeof *q);
        memcpy(k + (size_t)t * d, row + d, (size_t)d * sizeof *k);
        memcpy(v + (size_t)t * d, row + 2 * d, (size_t)d * sizeof *v);
    }
}

int ref_gpt2_forward(const ref_gpt2 *m, const int32_t *tokens, int T, float *logits) {
    const ref_gpt2_config *c = &m->config;
    if (!config_ok(c) || T < 1 || T > c->n_positions)
        return -1;
    for (int t = 0; t < T; t++)
        if (tokens[t] < 0 || tokens[t] >= c->vocab_size)
            return -1;
    int d = c->n_embd;
    int hd = d / c->n_head;
    size_t td = (size_t)T * d;
    int rc = -1;
    float *x = malloc(td * sizeof *x);        /* residual stream (T, d) */
    float *h = malloc(td * sizeof *h);        /* layer-norm output (T, d) */
    float *qkv = malloc(3 * td * sizeof *qkv); /* (T, 3d) */
    float *q = malloc(td * sizeof *q);        /* (T, d) each */
    float *k = malloc(td * sizeof *k);
    float *v = malloc(td * sizeof *v);
    float *att = malloc(td * sizeof *att);    /* attention output (T, d) */
    float *fc = malloc(4 * td * sizeof *fc);  /* gelu(c_fc) (T, 4d) */
    if (!x || !h || !qkv || !q || !k || !v || !att || !fc)
        goto cleanup;

    ref_embedding(x, m->wte, m->wpe, tokens, T, d, 0);
    for (int l = 0; l < c->n_layer; l++) {
        const ref_gpt2_layer *L = &m->layers[l];
        ref_layernorm(h, x, L->ln1_g, L->ln1_b, T, d, c->eps);
        ref_matmul(qkv, h, L->attn_w, L->attn_b, T, d, 3 * d, REF_EPILOGUE_NONE, NULL);
        split_qkv(q, k, v, qkv, T, d);
        if (ref_attention(att, q, k, v, T, T, c->n_head, hd, 0) != 0)
            goto cleanup;
        ref_matmul(x, att, L->proj_w, L->proj_b, T, d, d, REF_EPILOGUE_RESIDUAL, x);
        ref_layernorm(h, x, L->ln2_g, L->ln2_b, T, d, c->eps);
        ref_matmul(fc, h, L->fc_w, L->fc_b, T, d, 4 * d, REF_EPILOGUE_GELU, NULL);
        ref_matmul(x, fc, L->fcproj_w, L->fcproj_b, T, 4 * d, d, REF_EPILOGUE_RESIDUAL, x);
    }
    ref_layernorm(h, x, m->lnf_g, m->lnf_b, T, d, c->eps);
    ref_matmul_nk(logits, h, m->wte, NULL, T, d, c->vocab_size, REF_EPILOGUE_NONE, NULL);
    rc = 0;

cleanup:
    free(x);
    free(h);
    free(qkv);
    free(q);
    free(k);
    free(v);
    free(att);
    free(fc);
    return rc;
}
