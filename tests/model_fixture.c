/* tests/model_fixture.c — see model_fixture.h. */
#include "model_fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fixture_random(ref_gpt2 *m, int n_layer, int n_head, int n_embd, int V, int P, uint64_t seed) {
    ref_gpt2_config c = {.n_layer = n_layer, .n_head = n_head, .n_embd = n_embd, .vocab_size = V,
                         .n_positions = P, .eps = 1e-5f};
    return ref_gpt2_random(m, &c, seed, 0.1f);
}

void fixture_quantize(ref_gpt2 *m) {
    for (size_t i = 0; i < m->storage_len; i++) {
        float v = roundf(m->storage[i] * 128.0f) / 128.0f;
        m->storage[i] = v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
    }
}

/* Converted copies live until the file is written. */
typedef struct pool {
    void *items[512];
    int n;
} pool;

static const void *convert(pool *p, const float *src, size_t n, st_dtype dt) {
    if (dt == ST_F32)
        return src;
    uint16_t *out = malloc(n * sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = dt == ST_F16 ? ref_f32_to_f16(src[i]) : ref_f32_to_bf16(src[i]);
    p->items[p->n++] = out;
    return out;
}

static int add(st_entry *e, size_t *n, pool *p, const char *prefix, const char *name, const float *data,
               st_dtype dt, uint64_t d0, uint64_t d1, char names[][96]) {
    snprintf(names[*n], 96, "%s%s", prefix, name);
    size_t count = d1 ? d0 * d1 : d0;
    const void *conv = convert(p, data, count, dt);
    if (!conv)
        return -1;
    e[*n] = (st_entry){.name = names[*n], .dtype = dt, .ndim = d1 ? 2 : 1, .shape = {d0, d1}, .data = conv};
    ++*n;
    return 0;
}

int fixture_write(const char *dir, const ref_gpt2 *m, st_dtype dt, fixture_naming naming) {
    return fixture_write_ex(dir, m, dt, naming, NULL, NULL);
}

int fixture_write_ex(const char *dir, const ref_gpt2 *m, st_dtype dt, fixture_naming naming, const float *lm_head,
                     const char *extra_config) {
    const ref_gpt2_config *c = &m->config;
    uint64_t d = (uint64_t)c->n_embd, V = (uint64_t)c->vocab_size, P = (uint64_t)c->n_positions;
    size_t cap = 8 + 14 * (size_t)c->n_layer;
    st_entry *e = calloc(cap, sizeof *e);
    char (*names)[96] = calloc(cap, sizeof *names);
    float *mask = calloc(P * P, sizeof *mask);
    pool p = {0};
    int rc = -1;
    if (!e || !names || !mask)
        goto out;
    const char *top = naming == FIXTURE_HUB ? "" : "transformer.";
    size_t n = 0;
    if (add(e, &n, &p, top, "wte.weight", m->wte, dt, V, d, names) || add(e, &n, &p, top, "wpe.weight", m->wpe, dt, P, d, names) ||
        add(e, &n, &p, top, "ln_f.weight", m->lnf_g, dt, d, 0, names) || add(e, &n, &p, top, "ln_f.bias", m->lnf_b, dt, d, 0, names))
        goto out;
    if ((naming == FIXTURE_SAVE_PRETRAINED || lm_head) &&
        add(e, &n, &p, "", "lm_head.weight", lm_head ? lm_head : m->wte, dt, V, d, names))
        goto out;
    for (int l = 0; l < c->n_layer; l++) {
        const ref_gpt2_layer *L = &m->layers[l];
        char pre[64];
        snprintf(pre, sizeof pre, "%sh.%d.", top, l);
        if (add(e, &n, &p, pre, "ln_1.weight", L->ln1_g, dt, d, 0, names) || add(e, &n, &p, pre, "ln_1.bias", L->ln1_b, dt, d, 0, names) ||
            add(e, &n, &p, pre, "attn.c_attn.weight", L->attn_w, dt, d, 3 * d, names) ||
            add(e, &n, &p, pre, "attn.c_attn.bias", L->attn_b, dt, 3 * d, 0, names) ||
            add(e, &n, &p, pre, "attn.c_proj.weight", L->proj_w, dt, d, d, names) ||
            add(e, &n, &p, pre, "attn.c_proj.bias", L->proj_b, dt, d, 0, names) ||
            add(e, &n, &p, pre, "ln_2.weight", L->ln2_g, dt, d, 0, names) || add(e, &n, &p, pre, "ln_2.bias", L->ln2_b, dt, d, 0, names) ||
            add(e, &n, &p, pre, "mlp.c_fc.weight", L->fc_w, dt, d, 4 * d, names) ||
            add(e, &n, &p, pre, "mlp.c_fc.bias", L->fc_b, dt, 4 * d, 0, names) ||
            add(e, &n, &p, pre, "mlp.c_proj.weight", L->fcproj_w, dt, 4 * d, d, names) ||
            add(e, &n, &p, pre, "mlp.c_proj.bias", L->fcproj_b, dt, d, 0, names))
            goto out;
        if (naming == FIXTURE_HUB && l == 0) {
            /* The legacy causal-mask buffers the original checkpoints carry (ignored by loaders). */
            snprintf(names[n], 96, "h.0.attn.bias");
            e[n++] = (st_entry){.name = names[n - 1], .dtype = ST_F32, .ndim = 2, .shape = {P, P}, .data = mask};
            snprintf(names[n], 96, "h.0.attn.masked_bias");
            e[n++] = (st_entry){.name = names[n - 1], .dtype = ST_F32, .ndim = 0, .data = mask};
        }
    }
    rc = st_write(st_path(dir, "model.safetensors"), e, n);
    if (rc == 0) {
        char cfg[1024];
        snprintf(cfg, sizeof cfg,
                 "{\"model_type\": \"gpt2\", \"activation_function\": \"gelu_new\", \"n_layer\": %d, "
                 "\"n_head\": %d, \"n_embd\": %d, \"vocab_size\": %d, \"n_positions\": %d, "
                 "\"layer_norm_epsilon\": 1e-05, \"eos_token_id\": %d%s%s}\n",
                 c->n_layer, c->n_head, c->n_embd, c->vocab_size, c->n_positions, c->vocab_size - 1,
                 lm_head ? ", \"tie_word_embeddings\": false" : "", extra_config ? extra_config : "");
        rc = st_write_text(st_path(dir, "config.json"), cfg);
    }
out:
    for (int i = 0; i < p.n; i++)
        free(p.items[i]);
    free(e);
    free(names);
    free(mask);
    return rc;
}
