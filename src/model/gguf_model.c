/*
 * gguf_model.c — a GGUF file (llama.cpp's format) as a vkg_model: its architecture's keys mapped onto
 * the neutral vkg_model_config, its tensors onto the weight roles. Matrices in ggml block formats the
 * kernels read (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K) go to the device as the file stores them; F32/F16/BF16
 * tensors, and the token embedding whatever its format (the embedding kernel gathers fp32/fp16/bf16
 * rows), are converted to the model's precision on the way.
 *
 * Architectures: llama (also Mistral files), qwen2, qwen3, gpt2. llama.cpp's converter permutes the q
 * and k rows of Llama models so that RoPE pairs adjacent dimensions; Qwen files keep rotate-half.
 */
#include "model/gguf_model.h"

#include "model/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct arch_info {
    const char *name;
    bool gpt2;          /* LayerNorm, learned positions, fused qkv, GELU MLP with biases */
    vkg_rope_pairing pairing;
} arch_info;

static const arch_info ARCHS[] = {
    {"llama", false, VKG_ROPE_ADJACENT},
    {"qwen2", false, VKG_ROPE_HALF},
    {"qwen3", false, VKG_ROPE_HALF},
    {"gpt2", true, VKG_ROPE_HALF},
};

/* The GGUF tensor names of each role ("%u": the layer); a second list for GPT-2's fused names. */
static const vkg_family_tensor LLAMA_TENSORS[] = {
    {VKG_W_TOK_EMBD, {"token_embd.weight"}},
    {VKG_W_OUT_NORM, {"output_norm.weight"}},
    {VKG_W_LM_HEAD, {"output.weight"}},
    {VKG_W_ATTN_NORM, {"blk.%u.attn_norm.weight"}},
    {VKG_W_QKV, {"blk.%u.attn_q.weight", "blk.%u.attn_k.weight", "blk.%u.attn_v.weight"}},
    {VKG_W_QKV_B, {"blk.%u.attn_q.bias", "blk.%u.attn_k.bias", "blk.%u.attn_v.bias"}},
    {VKG_W_O, {"blk.%u.attn_output.weight"}},
    {VKG_W_O_B, {"blk.%u.attn_output.bias"}},
    {VKG_W_Q_NORM, {"blk.%u.attn_q_norm.weight"}},
    {VKG_W_K_NORM, {"blk.%u.attn_k_norm.weight"}},
    {VKG_W_FFN_NORM, {"blk.%u.ffn_norm.weight"}},
    {VKG_W_UP, {"blk.%u.ffn_gate.weight", "blk.%u.ffn_up.weight"}},
    {VKG_W_UP_B, {"blk.%u.ffn_gate.bias", "blk.%u.ffn_up.bias"}},
    {VKG_W_DOWN, {"blk.%u.ffn_down.weight"}},
    {VKG_W_DOWN_B, {"blk.%u.ffn_down.bias"}},
};

static const vkg_family_tensor GPT2_TENSORS[] = {
    {VKG_W_TOK_EMBD, {"token_embd.weight"}},
    {VKG_W_POS_EMBD, {"position_embd.weight"}},
    {VKG_W_OUT_NORM, {"output_norm.weight"}},
    {VKG_W_OUT_NORM_B, {"output_norm.bias"}},
    {VKG_W_LM_HEAD, {"output.weight"}},
    {VKG_W_ATTN_NORM, {"blk.%u.attn_norm.weight"}},
    {VKG_W_ATTN_NORM_B, {"blk.%u.attn_norm.bias"}},
    {VKG_W_QKV, {"blk.%u.attn_qkv.weight"}},
    {VKG_W_QKV_B, {"blk.%u.attn_qkv.bias"}},
    {VKG_W_O, {"blk.%u.attn_output.weight"}},
    {VKG_W_O_B, {"blk.%u.attn_output.bias"}},
    {VKG_W_FFN_NORM, {"blk.%u.ffn_norm.weight"}},
    {VKG_W_FFN_NORM_B, {"blk.%u.ffn_norm.bias"}},
    {VKG_W_UP, {"blk.%u.ffn_up.weight"}},
    {VKG_W_UP_B, {"blk.%u.ffn_up.bias"}},
    {VKG_W_DOWN, {"blk.%u.ffn_down.weight"}},
    {VKG_W_DOWN_B, {"blk.%u.ffn_down.bias"}},
};

/* "{arch}.suffix" */
static const char *key(char *buf, size_t n, const char *arch, const char *suffix) {
    snprintf(buf, n, "%s.%s", arch, suffix);
    return buf;
}

/* An optional u32 key: absent leaves *out. */
static vkg_status opt_u32(const vkg_gguf_file *f, const char *k, uint32_t *out) {
    return vkg_gguf_find_kv(f, k) ? vkg_gguf_get_u32(f, k, out) : VKG_OK;
}

static vkg_status opt_f32(const vkg_gguf_file *f, const char *k, float *out) {
    return vkg_gguf_find_kv(f, k) ? vkg_gguf_get_f32(f, k, out) : VKG_OK;
}

static bool has_tensor(const vkg_gguf_file *f, const char *name) { return vkg_gguf_find_tensor(f, name) != NULL; }

/* rope_freqs.weight: the per-dimension divisors of the inverse frequencies that llama.cpp's converter
 * writes for Llama 3.1 and later instead of the llama3 rope_scaling keys (dimension i's frequency is
 * theta^(-2i/hd) / rope_freqs[i]). One F32 value per rotated pair, each finite and positive. */
static vkg_status rope_freq_factors(const vkg_gguf_file *f, const char *label, vkg_model_config *c) {
    const vkg_gguf_tensor *t = vkg_gguf_find_tensor(f, "rope_freqs.weight");
    if (!t)
        return VKG_OK;
    uint32_t half = c->head_dim / 2;
    if (c->rope.scaling != VKG_ROPE_SCALING_NONE)
        return vkg_fail(VKG_ERROR_MODEL_UNSUPPORTED, "%s: tensor rope_freqs.weight together with rope.scaling.type "
                        "linear: two frequency rules for one model", label);
    if (t->type != VKG_GGML_F32 || t->n_dims != 1 || t->ne[0] != half || half > VKG_ROPE_MAX_FREQS)
        return vkg_fail(VKG_ERROR_TENSOR_SHAPE, "%s: tensor rope_freqs.weight must be F32 [%u] (head_dim / 2), the "
                        "file has %s with ne[0] = %llu (%u dims)", label, half,
                        vkg_ggml_type_name(t->type) ? vkg_ggml_type_name(t->type) : "an unknown type",
                        (unsigned long long)t->ne[0], t->n_dims);
    for (uint32_t i = 0; i < half; i++) {
        float v;
        memcpy(&v, (const char *)t->data + 4u * i, 4); /* the data section guarantees no alignment of its own */
        if (!(v > 0) || !isfinite(v))
            return vkg_fail(VKG_ERROR_CONFIG_VALUE, "%s: rope_freqs.weight[%u] = %g: each factor must be finite and "
                            "positive", label, i, (double)v);
        c->rope.freq_factors[i] = v;
    }
    c->rope.scaling = VKG_ROPE_SCALING_FREQ_FACTORS;
    return VKG_OK;
}

/* Token ids from tokenizer.ggml.*: bos, and eos plus eot (the end of a chat turn) as end-of-sequence. */
static vkg_status token_ids(const vkg_gguf_file *f, vkg_model_config *c) {
    uint32_t id;
    if (vkg_gguf_find_kv(f, "tokenizer.ggml.bos_token_id")) {
        VKG_TRY(vkg_gguf_get_u32(f, "tokenizer.ggml.bos_token_id", &id));
        c->bos_token_id = id < c->vocab_size ? (int32_t)id : -1;
    }
    const char *ends[] = {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"};
    for (size_t i = 0; i < VKG_ARRAY_LEN(ends); i++) {
        if (!vkg_gguf_find_kv(f, ends[i]))
            continue;
        VKG_TRY(vkg_gguf_get_u32(f, ends[i], &id));
        if (id < c->vocab_size && (c->n_eos == 0 || c->eos_token_ids[0] != (int32_t)id))
            c->eos_token_ids[c->n_eos++] = (int32_t)id;
    }
    return VKG_OK;
}

vkg_status vkg_gguf_model_config(const vkg_gguf_file *f, vkg_model_config *c) {
    const char *label = vkg_gguf_label(f);
    vkg_gguf_str a;
    VKG_TRY(vkg_gguf_get_str(f, "general.architecture", &a));
    const arch_info *ai = NULL;
    for (size_t i = 0; i < VKG_ARRAY_LEN(ARCHS); i++)
        if (a.len == strlen(ARCHS[i].name) && memcmp(a.ptr, ARCHS[i].name, a.len) == 0)
            ai = &ARCHS[i];
    if (!ai)
        return vkg_fail(VKG_ERROR_MODEL_UNSUPPORTED, "%s: architecture \"%.*s\" is not supported (vkgpt runs llama, "
                        "qwen2, qwen3 and gpt2)", label, (int)(a.len > 64 ? 64 : a.len), a.ptr);
    memset(c, 0, sizeof *c);
    snprintf(c->family, sizeof c->family, "%s", ai->name);
    char k[128];
    const char *arch = ai->name;
    VKG_TRY(vkg_gguf_get_u32(f, key(k, sizeof k, arch, "block_count"), &c->n_layer));
    VKG_TRY(vkg_gguf_get_u32(f, key(k, sizeof k, arch, "context_length"), &c->n_positions));
    VKG_TRY(vkg_gguf_get_u32(f, key(k, sizeof k, arch, "embedding_length"), &c->d_model));
    VKG_TRY(vkg_gguf_get_u32(f, key(k, sizeof k, arch, "feed_forward_length"), &c->d_ff));
    VKG_TRY(vkg_gguf_get_u32(f, key(k, sizeof k, arch, "attention.head_count"), &c->n_head));
    if (!c->n_head || !c->d_model || !c->n_layer || !c->d_ff || !c->n_positions)
        return vkg_fail(VKG_ERROR_CONFIG_VALUE, "%s: block_count, context_length, embedding_length, "
                        "feed_forward_length and attention.head_count must be positive", label);
    c->n_kv_head = c->n_head;
    VKG_TRY(opt_u32(f, key(k, sizeof k, arch, "attention.head_count_kv"), &c->n_kv_head));
    c->head_dim = c->d_model / c->n_head;
    VKG_TRY(opt_u32(f, key(k, sizeof k, arch, "attention.key_length"), &c->head_dim));
    uint32_t vlen = c->head_dim, rope_dim = c->head_dim;
    VKG_TRY(opt_u32(f, key(k, sizeof k, arch, "attention.value_length"), &vlen));
    if (vlen != c->head_dim)
        return vkg_fail(VKG_ERROR_MODEL_UNSUPPORTED, "%s: attention.value_length %u differs from key_length %u",
                        label, vlen, c->head_dim);
    const vkg_gguf_tensor *embd = vkg_gguf_find_tensor(f, "token_embd.weight");
    if (!embd || embd->n_dims != 2)
        return vkg_fail(VKG_ERROR_TENSOR_MISSING, "%s: no 2-D tensor token_embd.weight", label);
    c->vocab_size = (uint32_t)embd->ne[1];
    c->attn_scale = 1.0f / sqrtf((float)c->head_dim);
    c->bos_token_id = -1;
    c->tied_lm_head = !has_tensor(f, "output.weight");
    if (ai->gpt2) {
        c->norm = VKG_NORM_LAYERNORM;
        c->norm_bias = c->qkv_bias = c->o_bias = c->mlp_bias = true;
        c->norm_eps = 1e-5f;
        VKG_TRY(opt_f32(f, key(k, sizeof k, arch, "attention.layer_norm_epsilon"), &c->norm_eps));
        c->act = VKG_ACT_GELU_TANH;
        c->pos = VKG_POS_LEARNED;
    } else {
        c->norm = VKG_NORM_RMSNORM;
        c->norm_eps = 1e-6f;
        VKG_TRY(opt_f32(f, key(k, sizeof k, arch, "attention.layer_norm_rms_epsilon"), &c->norm_eps));
        c->act = VKG_ACT_SILU;
        c->gated_mlp = true;
        c->pos = VKG_POS_ROPE;
        c->rope.pairing = ai->pairing;
        c->rope.theta = 10000.0f;
        VKG_TRY(opt_f32(f, key(k, sizeof k, arch, "rope.freq_base"), &c->rope.theta));
        VKG_TRY(opt_u32(f, key(k, sizeof k, arch, "rope.dimension_count"), &rope_dim));
        if (rope_dim != c->head_dim)
            return vkg_fail(VKG_ERROR_MODEL_UNSUPPORTED, "%s: rope.dimension_count %u is not the head size %u "
                            "(partial rotary embeddings are not supported)", label, rope_dim, c->head_dim);
        vkg_gguf_str type = {"none", 4};
        if (vkg_gguf_find_kv(f, key(k, sizeof k, arch, "rope.scaling.type")))
            VKG_TRY(vkg_gguf_get_str(f, k, &type));
        if (type.len == 6 && memcmp(type.ptr, "linear", 6) == 0) {
            c->rope.scaling = VKG_ROPE_SCALING_LINEAR;
            VKG_TRY(vkg_gguf_get_f32(f, key(k, sizeof k, arch, "rope.scaling.factor"), &c->rope.factor));
        } else if (!(type.len == 4 && memcmp(type.ptr, "none", 4) == 0)) {
            return vkg_fail(VKG_ERROR_MODEL_UNSUPPORTED, "%s: rope.scaling.type \"%.*s\" is not supported (none, "
                            "linear)", label, (int)(type.len > 32 ? 32 : type.len), type.ptr);
        }
        VKG_TRY(rope_freq_factors(f, label, c));
        c->qkv_bias = has_tensor(f, "blk.0.attn_q.bias");
        c->o_bias = has_tensor(f, "blk.0.attn_output.bias");
        c->mlp_bias = has_tensor(f, "blk.0.ffn_up.bias");
        c->qk_norm = has_tensor(f, "blk.0.attn_q_norm.weight");
    }
    VKG_TRY(token_ids(f, c));
    return vkg_config_check(c, label);
}

/* ---- tensors ---- */

typedef struct gguf_source {
    const vkg_gguf_tensor *part[VKG_MAX_PARTS];
} gguf_source;

typedef struct row_cache {
    const vkg_gguf_tensor *t;
    uint64_t row;
    float *values;      /* one dequantized row */
    uint64_t cap;
} row_cache;

typedef struct gguf_load {
    const vkg_gguf_file *f;
    const vkg_model_config *c;
    const vkg_family_tensor *names;
    size_t n_names;
    gguf_source *src;   /* (n_layer + 1) x VKG_W_ROLE_COUNT */
    row_cache cache;
} gguf_load;

static gguf_source *slot(gguf_load *g, vkg_weight_role r, uint32_t l) {
    return &g->src[(r < VKG_W_FIRST_LAYER_ROLE ? 0 : 1 + (size_t)l) * VKG_W_ROLE_COUNT + r];
}

/* Element reader over the stacked parts: rows are dequantized whole, the last one kept. */
static void read_gguf(const vkg_weight_source *src, uint64_t first, uint64_t n, float *dst) {
    row_cache *rc = src->cache;
    uint64_t cols = src->cols;
    while (n) {
        uint64_t r = first / cols, c = first % cols, take = cols - c < n ? cols - c : n, p = 0;
        while (p + 1 < src->n_parts && r >= src->part_rows[p])
            r -= src->part_rows[p++];
        const vkg_gguf_tensor *t = src->parts[p];
        if (rc->t != t || rc->row != r) {
            const uint8_t *row = (const uint8_t *)t->data + r * vkg_ggml_bytes(t->type, cols);
            /* Types and sizes were checked when the file was mapped; this cannot fail. */
            if (vkg_quant_dequantize(t->type, row, rc->values, cols) != VKG_OK)
                memset(rc->values, 0, cols * sizeof(float));
            rc->t = t;
            rc->row = r;
        }
        memcpy(dst, rc->values + c, take * sizeof(float));
        dst += take;
        first += take;
        n -= take;
    }
}

static const vkg_storage STORAGE_OF_GGML[] = {
    [VKG_GGML_Q8_0] = VKG_STORAGE_Q8_0, [VKG_GGML_Q4_0] = VKG_STORAGE_Q4_0, [VKG_GGML_Q4_K] = VKG_STORAGE_Q4_K,
    [VKG_GGML_Q5_K] = VKG_STORAGE_Q5_K, [VKG_GGML_Q6_K] = VKG_STORAGE_Q6_K,
};

static void pick(void *user, vkg_weight_role role, uint32_t layer, vkg_weight_source *src) {
    gguf_load *g = user;
    const gguf_source *s = slot(g, role, layer);
    uint64_t rows, cols, part_rows[VKG_MAX_PARTS];
    uint32_t n = 0;
    while (n < VKG_MAX_PARTS && s->part[n])
        n++;
    vkg_role_shape(g->c, role, n, &rows, &cols, part_rows);
    *src = (vkg_weight_source){.read = read_gguf, .n_parts = n, .cache = &g->cache, .name = s->part[0]->name};
    bool gathered = role == VKG_W_TOK_EMBD || role == VKG_W_POS_EMBD;
    for (uint32_t p = 0; p < n; p++) {
        src->parts[p] = s->part[p];
        src->part_rows[p] = part_rows[p];
        uint32_t t = s->part[p]->type;
        if (!gathered && vkg_role_is_matrix(role) && t < VKG_ARRAY_LEN(STORAGE_OF_GGML) && STORAGE_OF_GGML[t]) {
            src->raw[p] = s->part[p]->data;
            src->raw_storage[p] = STORAGE_OF_GGML[t];
        }
    }
}

/* Map every tensor of the file to a role part (shape-checked), then require every present role. */
static vkg_status map_tensors(gguf_load *g) {
    const vkg_model_config *c = g->c;
    const char *label = vkg_gguf_label(g->f);
    size_t n_claimed = 0;
    for (size_t i = 0; i < g->n_names; i++) {
        const vkg_family_tensor *ft = &g->names[i];
        if (!vkg_role_present(c, ft->role))
            continue;
        uint32_t n = 0;
        while (n < VKG_MAX_PARTS && ft->parts[n])
            n++;
        uint64_t rows, cols, part_rows[VKG_MAX_PARTS];
        vkg_role_shape(c, ft->role, n, &rows, &cols, part_rows);
        uint32_t layers = ft->role < VKG_W_FIRST_LAYER_ROLE ? 1 : c->n_layer;
        for (uint32_t l = 0; l < layers; l++)
            for (uint32_t p = 0; p < n; p++) {
                char name[VKG_TENSOR_NAME_MAX];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                snprintf(name, sizeof name, ft->parts[p], l); /* our own patterns, at most one %u */
#pragma GCC diagnostic pop
                const vkg_gguf_tensor *t = vkg_gguf_find_tensor(g->f, name);
                if (!t)
                    return vkg_fail(VKG_ERROR_TENSOR_MISSING, "%s: tensor %s is missing (the %s weight of a %s model)",
                                    label, name, vkg_role_name(ft->role), c->family);
                bool matrix = vkg_role_is_matrix(ft->role);
                if (t->n_dims != (matrix ? 2u : 1u) || t->ne[0] != (matrix ? cols : part_rows[p]) ||
                    (matrix && t->ne[1] != part_rows[p]))
                    return vkg_fail(VKG_ERROR_TENSOR_SHAPE, "%s: tensor %s: expected ne [%llu, %llu], the file has "
                                    "[%llu, %llu] (%u dims)", label, name,
                                    (unsigned long long)(matrix ? cols : part_rows[p]),
                                    (unsigned long long)(matrix ? part_rows[p] : 1), (unsigned long long)t->ne[0],
                                    (unsigned long long)t->ne[1], t->n_dims);
                if (!vkg_ggml_type_supported(t->type))
                    return vkg_fail(VKG_ERROR_GGUF_TENSOR_TYPE, "%s: tensor %s has type %s, which vkgpt does not "
                                    "read", label, name, vkg_ggml_type_name(t->type) ? vkg_ggml_type_name(t->type)
                                                                                     : "unknown");
                slot(g, ft->role, l)->part[p] = t;
                n_claimed++;
            }
    }
    if (vkg_gguf_find_tensor(g->f, "rope_freqs.weight")) /* read into the config (rope_freq_factors) */
        n_claimed++;
    if (n_claimed != vkg_gguf_tensor_count(g->f))
        for (size_t i = 0; i < vkg_gguf_tensor_count(g->f); i++) {
            const vkg_gguf_tensor *t = vkg_gguf_tensor_at(g->f, i);
            bool found = strcmp(t->name, "rope_freqs.weight") == 0;
            for (size_t s = 0; !found && s < ((size_t)c->n_layer + 1) * VKG_W_ROLE_COUNT; s++)
                for (int p = 0; p < VKG_MAX_PARTS && !found; p++)
                    found = g->src[s].part[p] == t;
            if (!found)
                return vkg_fail(VKG_ERROR_TENSOR_UNKNOWN, "%s: tensor %s is not a weight of a %s model with %u "
                                "layers", label, t->name, c->family, c->n_layer);
        }
    return VKG_OK;
}

vkg_status vkg_model_load_gguf(vkg_context *ctx, const char *path, const vkg_model_options *opts, vkg_model **out) {
    vkg_gguf_file *f = NULL;
    vkg_model_config c;
    gguf_load g = {0};
    vkg_model_options o = *opts;
    vkg_status s = vkg_gguf_open(path, 0, &f);
    if (s == VKG_OK)
        s = vkg_gguf_model_config(f, &c);
    if (s == VKG_OK) {
        bool gpt2 = strcmp(c.family, "gpt2") == 0;
        g = (gguf_load){.f = f, .c = &c, .names = gpt2 ? GPT2_TENSORS : LLAMA_TENSORS,
                        .n_names = gpt2 ? VKG_ARRAY_LEN(GPT2_TENSORS) : VKG_ARRAY_LEN(LLAMA_TENSORS)};
        g.src = vkg_calloc(((size_t)c.n_layer + 1) * VKG_W_ROLE_COUNT, sizeof *g.src);
        uint64_t widest = c.d_model > c.d_ff ? c.d_model : c.d_ff, q = (uint64_t)c.n_head * c.head_dim;
        widest = widest > q ? widest : q;
        g.cache.values = malloc(widest * sizeof(float) + 64);
        g.cache.cap = widest;
        s = g.src && g.cache.values ? map_tensors(&g) : VKG_ERROR_OUT_OF_HOST_MEMORY;
    }
    if (s == VKG_OK) {
        /* Dense tensors (and the dequantized embedding) take f16 unless asked otherwise: the file's
         * own precision is at most that for everything but its norms. */
        if (o.weights == VKG_PRECISION_AUTO)
            o.weights = VKG_PRECISION_F16;
        o.quant = VKG_QUANT_NONE; /* a GGUF file keeps its own formats */
        s = vkg_model_build(ctx, &c, &o, pick, &g, out);
    }
    if (s != VKG_OK && s != VKG_ERROR_OUT_OF_HOST_MEMORY)
        vkg_fail_context(s, "loading model %s", path);
    free(g.cache.values);
    free(g.src);
    vkg_gguf_close(f);
    return s;
}

bool vkg_is_gguf(const char *path) {
    FILE *fp = fopen(path, "rb");
    char magic[4] = {0};
    bool yes = fp && fread(magic, 1, 4, fp) == 4 && memcmp(magic, "GGUF", 4) == 0;
    if (fp)
        fclose(fp);
    return yes;
}
