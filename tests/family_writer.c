/* tests/family_writer.c — see family_writer.h. Test code: simple, not fast. */
#include "family_writer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fw_family_name(fw_family f) {
    static const char *const names[] = {[FW_LLAMA] = "llama", [FW_MISTRAL] = "mistral", [FW_QWEN2] = "qwen2",
                                        [FW_QWEN3] = "qwen3"};
    return names[f];
}

static const char *architecture(fw_family f) {
    static const char *const names[] = {[FW_LLAMA] = "LlamaForCausalLM", [FW_MISTRAL] = "MistralForCausalLM",
                                        [FW_QWEN2] = "Qwen2ForCausalLM", [FW_QWEN3] = "Qwen3ForCausalLM"};
    return names[f];
}

ref_decoder_config fw_family_config(fw_family f, int n_layer, int d, int n_head, int n_kv_head, int hd,
                                    int d_ff, int vocab, int n_positions) {
    ref_decoder_config c = {.n_layer = n_layer, .d_model = d, .n_head = n_head, .n_kv_head = n_kv_head,
                            .head_dim = hd ? hd : d / n_head, .d_ff = d_ff, .vocab_size = vocab,
                            .n_positions = n_positions, .norm = REF_NORM_RMSNORM,
                            .norm_eps = f == FW_LLAMA ? 1e-5 : 1e-6, .act = REF_ACT_SILU, .gated_mlp = 1,
                            .pos = REF_POS_ROPE, .rope_theta = 10000.0, .rope_pairing = REF_ROPE_HALF};
    c.qkv_bias = f == FW_QWEN2;
    c.qk_norm = f == FW_QWEN3;
    return c;
}

fw_init fw_init_varied(void) {
    return (fw_init){.embed = 1.0f, .gain = 2.0f, .bias = 0.1f, .norm = 0.1f, .qk_norm = 2.0f, .head = 1.0f};
}

/* ---- random weights ------------------------------------------------------------------------ */

typedef struct filler {
    float *pool; /* NULL: count only */
    size_t used;
    ref_rng rng;
} filler;

static const float *draw(filler *f, size_t n, float a, float plus) {
    float *p = f->pool ? f->pool + f->used : NULL;
    if (p) {
        ref_rng_fill(&f->rng, p, n, -a, a);
        for (size_t i = 0; i < n; i++)
            p[i] += plus;
    }
    f->used += n;
    return p;
}

static const float *matrix(filler *f, const fw_init *in, size_t out, size_t n_in) {
    return draw(f, out * n_in, in->gain * sqrtf(3.0f / (float)n_in), 0.0f);
}

static void fill(filler *f, ref_decoder *r, ref_decoder_layer *layers, const fw_init *in) {
    const ref_decoder_config *c = &r->config;
    size_t d = (size_t)c->d_model, hd = (size_t)c->head_dim, q = (size_t)c->n_head * hd;
    size_t kv = (size_t)c->n_kv_head * hd, ff = (size_t)c->d_ff, V = (size_t)c->vocab_size;
    r->embed = draw(f, V * d, in->embed, 0);
    r->lm_head = c->tied_lm_head ? NULL : draw(f, V * d, in->head, 0);
    r->final_norm_w = draw(f, d, in->norm, 1);
    for (int l = 0; l < c->n_layer; l++) {
        ref_decoder_layer L = {0};
        L.attn_norm_w = draw(f, d, in->norm, 1);
        L.q_w = matrix(f, in, q, d);
        L.q_b = c->qkv_bias ? draw(f, q, in->bias, 0) : NULL;
        L.k_w = matrix(f, in, kv, d);
        L.k_b = c->qkv_bias ? draw(f, kv, in->bias, 0) : NULL;
        L.v_w = matrix(f, in, kv, d);
        L.v_b = c->qkv_bias ? draw(f, kv, in->bias, 0) : NULL;
        L.q_norm_w = c->qk_norm ? draw(f, hd, in->qk_norm * in->norm, in->qk_norm) : NULL;
        L.k_norm_w = c->qk_norm ? draw(f, hd, in->qk_norm * in->norm, in->qk_norm) : NULL;
        L.o_w = matrix(f, in, d, q);
        L.o_b = c->o_bias ? draw(f, d, in->bias, 0) : NULL;
        L.mlp_norm_w = draw(f, d, in->norm, 1);
        L.gate_w = c->gated_mlp ? matrix(f, in, ff, d) : NULL;
        L.gate_b = c->gated_mlp && c->mlp_bias ? draw(f, ff, in->bias, 0) : NULL;
        L.up_w = matrix(f, in, ff, d);
        L.up_b = c->mlp_bias ? draw(f, ff, in->bias, 0) : NULL;
        L.down_w = matrix(f, in, d, ff);
        L.down_b = c->mlp_bias ? draw(f, d, in->bias, 0) : NULL;
        if (layers)
            layers[l] = L;
    }
}

static float round_to(float x, st_dtype dt) {
    if (dt == ST_F16)
        return ref_f16_to_f32(ref_f32_to_f16(x));
    if (dt == ST_BF16)
        return ref_bf16_to_f32(ref_f32_to_bf16(x));
    return x;
}

int fw_model_random(fw_model *m, const ref_decoder_config *c, uint64_t seed, const fw_init *init,
                    st_dtype dtype) {
    memset(m, 0, sizeof *m);
    if (c->norm != REF_NORM_RMSNORM || c->pos != REF_POS_ROPE) /* no layer-norm biases or wpe drawn */
        return -1;
    m->ref.config = *c;
    filler count = {0};
    fill(&count, &m->ref, NULL, init);
    m->storage = malloc(count.used * sizeof *m->storage);
    m->layers = calloc((size_t)(c->n_layer > 0 ? c->n_layer : 1), sizeof *m->layers);
    if (!m->storage || !m->layers) {
        fw_model_free(m);
        return -1;
    }
    filler f = {.pool = m->storage, .rng = ref_rng_seed(seed)};
    fill(&f, &m->ref, m->layers, init);
    m->storage_len = f.used;
    for (size_t i = 0; i < m->storage_len; i++)
        m->storage[i] = round_to(m->storage[i], dtype);
    m->ref.layers = m->layers;
    if (ref_decoder_check(&m->ref) != 0) {
        fw_model_free(m);
        return -1;
    }
    return 0;
}

int fw_model_from_gpt2(fw_model *m, const ref_gpt2 *g) {
    memset(m, 0, sizeof *m);
    const ref_gpt2_config *gc = &g->config;
    size_t d = (size_t)gc->n_embd, L = (size_t)gc->n_layer;
    m->storage_len = L * 12 * d * d; /* c_attn 3d^2, attn c_proj d^2, c_fc 4d^2, mlp c_proj 4d^2 */
    m->storage = malloc((m->storage_len ? m->storage_len : 1) * sizeof *m->storage);
    m->layers = calloc(L ? L : 1, sizeof *m->layers);
    if (!m->storage || !m->layers) {
        fw_model_free(m);
        return -1;
    }
    m->ref = (ref_decoder){
        .config = {.n_layer = gc->n_layer, .d_model = gc->n_embd, .n_head = gc->n_head, .n_kv_head = gc->n_head,
                   .head_dim = gc->n_embd / gc->n_head, .d_ff = 4 * gc->n_embd, .vocab_size = gc->vocab_size,
                   .n_positions = gc->n_positions, .norm = REF_NORM_LAYERNORM, .norm_eps = gc->eps,
                   .act = REF_ACT_GELU_TANH, .pos = REF_POS_LEARNED, .qkv_bias = 1, .o_bias = 1,
                   .mlp_bias = 1, .tied_lm_head = 1},
        .embed = g->wte, .pos_embed = g->wpe, .layers = m->layers, .final_norm_w = g->lnf_g,
        .final_norm_b = g->lnf_b};
    float *cur = m->storage;
    for (size_t l = 0; l < L; l++) {
        const ref_gpt2_layer *G = &g->layers[l];
        float *qkv = cur, *proj = qkv + 3 * d * d, *fc = proj + d * d, *fcp = fc + 4 * d * d;
        cur = fcp + 4 * d * d;
        ref_transpose(qkv, G->attn_w, (int)d, (int)(3 * d));
        ref_transpose(proj, G->proj_w, (int)d, (int)d);
        ref_transpose(fc, G->fc_w, (int)d, (int)(4 * d));
        ref_transpose(fcp, G->fcproj_w, (int)(4 * d), (int)d);
        m->layers[l] = (ref_decoder_layer){
            .attn_norm_w = G->ln1_g, .attn_norm_b = G->ln1_b, .q_w = qkv, .k_w = qkv + d * d,
            .v_w = qkv + 2 * d * d, .q_b = G->attn_b, .k_b = G->attn_b + d, .v_b = G->attn_b + 2 * d,
            .o_w = proj, .o_b = G->proj_b, .mlp_norm_w = G->ln2_g, .mlp_norm_b = G->ln2_b, .up_w = fc,
            .up_b = G->fc_b, .down_w = fcp, .down_b = G->fcproj_b};
    }
    return ref_decoder_check(&m->ref) == 0 ? 0 : (fw_model_free(m), -1);
}

void fw_model_free(fw_model *m) {
    free(m->storage);
    free(m->layers);
    memset(m, 0, sizeof *m);
}

/* ---- the files ------------------------------------------------------------------------------- */

fw_options fw_default_options(fw_family f) {
    return (fw_options){.family = f, .dtype = ST_F32, .n_shards = 1, .bos_token_id = 1, .n_eos = 1, .eos = {2}};
}

/* Can the family's config.json express c? Each family's attention and MLP modules fix some switches
 * (transformers' modeling_<family>.py): Mistral has no bias keys and is the only one with a window
 * here; Qwen2 always has q/k/v bias and no o bias; Qwen3 always has q/k norm and attention_bias
 * covers q, k, v and o, as Llama's does. */
static int expressible(fw_family f, const ref_decoder_config *c) {
    if (c->norm != REF_NORM_RMSNORM || c->act != REF_ACT_SILU || !c->gated_mlp || c->pos != REF_POS_ROPE ||
        c->rope_pairing != REF_ROPE_HALF || c->attn_scale != 0)
        return 0;
    if (c->sliding_window && f != FW_MISTRAL)
        return 0;
    switch (f) {
    case FW_LLAMA:
        return c->qkv_bias == c->o_bias && !c->qk_norm;
    case FW_MISTRAL:
        return !c->qkv_bias && !c->o_bias && !c->mlp_bias && !c->qk_norm;
    case FW_QWEN2:
        return c->qkv_bias && !c->o_bias && !c->mlp_bias && !c->qk_norm;
    case FW_QWEN3:
        return c->qkv_bias == c->o_bias && !c->mlp_bias && c->qk_norm;
    }
    return 0;
}

typedef struct text {
    char buf[4096];
    size_t len;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, sizeof t->buf - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len = t->len + (size_t)n < sizeof t->buf ? t->len + (size_t)n : sizeof t->buf - 1;
}

static void put_eos(text *t, const fw_options *o, int as_list) {
    if (o->n_eos == 0) {
        put(t, "null");
        return;
    }
    if (o->n_eos == 1 && !as_list) {
        put(t, "%d", o->eos[0]);
        return;
    }
    put(t, "[");
    for (int i = 0; i < o->n_eos; i++)
        put(t, "%s%d", i ? ", " : "", o->eos[i]);
    put(t, "]");
}

static void put_bos(text *t, const fw_options *o) {
    if (o->bos_token_id < 0)
        put(t, "null");
    else
        put(t, "%d", o->bos_token_id);
}

static int write_config(const char *dir, const ref_decoder_config *c, const fw_options *o) {
    static const char *const torch_dtype[] = {[ST_F32] = "float32", [ST_F16] = "float16", [ST_BF16] = "bfloat16"};
    text t = {.len = 0};
    fw_family f = o->family;
    put(&t, "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"%s\",\n", architecture(f), fw_family_name(f));
    put(&t, "  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n  \"num_hidden_layers\": %d,\n", c->d_model,
        c->d_ff, c->n_layer);
    put(&t, "  \"num_attention_heads\": %d,\n  \"num_key_value_heads\": %d,\n  \"head_dim\": %d,\n", c->n_head,
        c->n_kv_head, c->head_dim);
    put(&t, "  \"hidden_act\": \"silu\",\n  \"rms_norm_eps\": %.9g,\n  \"rope_theta\": %.9g,\n", c->norm_eps,
        c->rope_theta);
    const char *key = o->rope_type_old_key ? "type" : "rope_type";
    if (c->rope_scaling == REF_ROPE_SCALING_LINEAR)
        put(&t, "  \"rope_scaling\": {\"%s\": \"linear\", \"factor\": %.9g},\n", key, c->rope_factor);
    else if (c->rope_scaling == REF_ROPE_SCALING_LLAMA3)
        put(&t,
            "  \"rope_scaling\": {\"%s\": \"llama3\", \"factor\": %.9g, \"low_freq_factor\": %.9g, "
            "\"high_freq_factor\": %.9g, \"original_max_position_embeddings\": %d},\n",
            key, c->rope_factor, c->rope_low_freq_factor, c->rope_high_freq_factor, c->rope_original_max_positions);
    else
        put(&t, "  \"rope_scaling\": null,\n");
    put(&t, "  \"max_position_embeddings\": %d,\n  \"vocab_size\": %d,\n  \"tie_word_embeddings\": %s,\n",
        c->n_positions, c->vocab_size, c->tied_lm_head ? "true" : "false");
    if (f == FW_LLAMA || f == FW_QWEN3)
        put(&t, "  \"attention_bias\": %s,\n", c->qkv_bias ? "true" : "false");
    if (f == FW_LLAMA)
        put(&t, "  \"mlp_bias\": %s,\n", c->mlp_bias ? "true" : "false");
    if (f == FW_MISTRAL) {
        if (c->sliding_window)
            put(&t, "  \"sliding_window\": %d,\n", c->sliding_window);
        else
            put(&t, "  \"sliding_window\": null,\n");
    }
    if (f == FW_QWEN2 || f == FW_QWEN3)
        /* As Qwen2.5/Qwen3 ship it: a window size that use_sliding_window false switches off (a
         * small one here, so that a loader that applies it anyway is caught). */
        put(&t, "  \"use_sliding_window\": false,\n  \"sliding_window\": 8,\n  \"max_window_layers\": %d,\n",
            c->n_layer);
    put(&t, "  \"attention_dropout\": 0.0,\n  \"initializer_range\": 0.02,\n  \"use_cache\": true,\n");
    put(&t, "  \"torch_dtype\": \"%s\",\n  \"bos_token_id\": ", torch_dtype[o->dtype]);
    put_bos(&t, o);
    put(&t, ",\n  \"eos_token_id\": ");
    put_eos(&t, o, o->eos_as_list);
    put(&t, "\n}\n");
    if (t.len + 1 >= sizeof t.buf || st_write_text(st_path(dir, "config.json"), t.buf) != 0)
        return -1;
    if (!o->generation_config)
        return 0;
    text g = {.len = 0};
    put(&g, "{\n  \"_from_model_config\": false,\n  \"bos_token_id\": ");
    put_bos(&g, o);
    put(&g, ",\n  \"eos_token_id\": ");
    put_eos(&g, o, 1);
    put(&g, ",\n  \"do_sample\": true,\n  \"temperature\": 0.6\n}\n");
    return st_write_text(st_path(dir, "generation_config.json"), g.buf);
}

/* One tensor of the checkpoint. */
typedef struct named {
    char name[160];
    const float *data;
    uint64_t rows, cols; /* cols 0: a vector */
} named;

static void name_tensor(named *t, size_t *n, const char *name, const float *data, size_t rows, size_t cols) {
    if (!data)
        return;
    snprintf(t[*n].name, sizeof t[*n].name, "%s", name);
    t[*n].data = data, t[*n].rows = rows, t[*n].cols = cols;
    ++*n;
}

/* The tensors in save_pretrained's names. */
static size_t list_tensors(const ref_decoder *r, named *t) {
    const ref_decoder_config *c = &r->config;
    size_t d = (size_t)c->d_model, hd = (size_t)c->head_dim, q = (size_t)c->n_head * hd;
    size_t kv = (size_t)c->n_kv_head * hd, ff = (size_t)c->d_ff, n = 0;
    name_tensor(t, &n, "model.embed_tokens.weight", r->embed, (size_t)c->vocab_size, d);
    for (int l = 0; l < c->n_layer; l++) {
        const ref_decoder_layer *L = &r->layers[l];
        char p[160];
#define LAYER(suffix, data, rows, cols)                                                                  \
    (snprintf(p, sizeof p, "model.layers.%d.%s", l, suffix), name_tensor(t, &n, p, data, rows, cols))
        LAYER("input_layernorm.weight", L->attn_norm_w, d, 0);
        LAYER("self_attn.q_proj.weight", L->q_w, q, d);
        LAYER("self_attn.k_proj.weight", L->k_w, kv, d);
        LAYER("self_attn.v_proj.weight", L->v_w, kv, d);
        LAYER("self_attn.o_proj.weight", L->o_w, d, q);
        if (c->qkv_bias) {
            LAYER("self_attn.q_proj.bias", L->q_b, q, 0);
            LAYER("self_attn.k_proj.bias", L->k_b, kv, 0);
            LAYER("self_attn.v_proj.bias", L->v_b, kv, 0);
        }
        if (c->o_bias)
            LAYER("self_attn.o_proj.bias", L->o_b, d, 0);
        if (c->qk_norm) {
            LAYER("self_attn.q_norm.weight", L->q_norm_w, hd, 0);
            LAYER("self_attn.k_norm.weight", L->k_norm_w, hd, 0);
        }
        LAYER("post_attention_layernorm.weight", L->mlp_norm_w, d, 0);
        LAYER("mlp.gate_proj.weight", L->gate_w, ff, d);
        LAYER("mlp.up_proj.weight", L->up_w, ff, d);
        LAYER("mlp.down_proj.weight", L->down_w, d, ff);
        if (c->mlp_bias) {
            LAYER("mlp.gate_proj.bias", L->gate_b, ff, 0);
            LAYER("mlp.up_proj.bias", L->up_b, ff, 0);
            LAYER("mlp.down_proj.bias", L->down_b, d, 0);
        }
#undef LAYER
    }
    name_tensor(t, &n, "model.norm.weight", r->final_norm_w, d, 0);
    if (!c->tied_lm_head)
        name_tensor(t, &n, "lm_head.weight", r->lm_head, (size_t)c->vocab_size, d);
    return n;
}

/* Writes tensors t[0 .. n) converted to dt into one safetensors file. */
static int write_shard(const char *path, const named *t, size_t n, st_dtype dt, uint64_t *bytes) {
    st_entry *e = calloc(n ? n : 1, sizeof *e);
    void **conv = calloc(n ? n : 1, sizeof *conv);
    int rc = -1;
    if (!e || !conv)
        goto out;
    for (size_t i = 0; i < n; i++) {
        size_t count = t[i].cols ? t[i].rows * t[i].cols : t[i].rows;
        const void *data = t[i].data;
        if (dt != ST_F32) {
            uint16_t *h = malloc(count * sizeof *h);
            if (!h)
                goto out;
            for (size_t k = 0; k < count; k++)
                h[k] = dt == ST_F16 ? ref_f32_to_f16(t[i].data[k]) : ref_f32_to_bf16(t[i].data[k]);
            conv[i] = h;
            data = h;
        }
        e[i] = (st_entry){.name = t[i].name, .dtype = dt, .ndim = t[i].cols ? 2 : 1,
                          .shape = {t[i].rows, t[i].cols}, .data = data};
        *bytes += count * st_dtype_size(dt);
    }
    rc = st_write(path, e, n);
out:
    for (size_t i = 0; conv && i < n; i++)
        free(conv[i]);
    free(conv);
    free(e);
    return rc;
}

int fw_write(const char *dir, const fw_model *m, const fw_options *o) {
    const ref_decoder_config *c = &m->ref.config;
    if (!expressible(o->family, c) || (o->dtype != ST_F32 && o->dtype != ST_F16 && o->dtype != ST_BF16) ||
        o->n_eos < 0 || o->n_eos > 4 || o->n_shards > 99 || write_config(dir, c, o) != 0)
        return -1;
    size_t cap = 3 + 20 * (size_t)c->n_layer;
    named *t = calloc(cap, sizeof *t);
    if (!t)
        return -1;
    size_t n = list_tensors(&m->ref, t);
    int shards = o->n_shards > 1 ? o->n_shards : 1, rc = -1;
    uint64_t total = 0;
    if (shards == 1) {
        rc = write_shard(st_path(dir, "model.safetensors"), t, n, o->dtype, &total);
        free(t);
        return rc;
    }
    /* Sharded as save_pretrained does: model-0000i-of-0000n.safetensors, tensors in order, and an
     * index whose weight_map names each tensor's file. */
    size_t map_cap = 256 + n * 200;
    char *map = malloc(map_cap);
    size_t len = 0;
    if (!map || (size_t)shards > n)
        goto out;
    len += (size_t)snprintf(map + len, map_cap - len, "{\n  \"weight_map\": {\n");
    for (int s = 0; s < shards; s++) {
        size_t lo = n * (size_t)s / (size_t)shards, hi = n * (size_t)(s + 1) / (size_t)shards;
        char file[64];
        snprintf(file, sizeof file, "model-%05d-of-%05d.safetensors", s + 1, shards);
        if (write_shard(st_path(dir, file), t + lo, hi - lo, o->dtype, &total) != 0)
            goto out;
        for (size_t i = lo; i < hi; i++)
            len += (size_t)snprintf(map + len, map_cap - len, "    \"%s\": \"%s\"%s\n", t[i].name, file,
                                    i + 1 < n ? "," : "");
    }
    len += (size_t)snprintf(map + len, map_cap - len, "  },\n  \"metadata\": {\"total_size\": %llu}\n}\n",
                            (unsigned long long)total);
    rc = len < map_cap ? st_write_text(st_path(dir, "model.safetensors.index.json"), map) : -1;
out:
    free(map);
    free(t);
    return rc;
}
