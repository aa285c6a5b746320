/* model/graph.c — records one forward pass of the neutral decoder (see graph.h for the math). */
#include "model/graph.h"

#include "kernels/matmul.h"
#include "kernels/rowwise.h"

#include <math.h>

static vkg_view rows(vkg_buffer *b, uint32_t n, uint32_t width) {
    return (vkg_view){b, 0, (uint64_t)n * width * sizeof(float)};
}

static vkg_view vec(vkg_buffer *b) { return vkg_view_whole(b); }

static const vkg_matrix *W(const vkg_model *m, vkg_weight_role r, uint32_t l) { return vkg_model_weight(m, r, l); }

/* A bias view, or NULL when the role is absent. */
static const vkg_view *bias(const vkg_model *m, vkg_weight_role r, uint32_t l, vkg_view *storage) {
    const vkg_matrix *b = W(m, r, l);
    if (!b->buf)
        return NULL;
    *storage = vec(b->buf);
    return storage;
}

/* y = norm(x) with weight role `w` (and bias role `b` for LayerNorm). */
static vkg_status norm(const vkg_model *m, vkg_cmd *cmd, vkg_view y, vkg_view x, vkg_weight_role w,
                       vkg_weight_role b, uint32_t l, uint32_t T) {
    const vkg_model_config *c = &m->cfg;
    if (c->norm == VKG_NORM_RMSNORM)
        return vkg_rmsnorm(&m->kernels, cmd, y, x, vec(W(m, w, l)->buf), T, c->d_model, c->norm_eps);
    return vkg_layernorm(&m->kernels, cmd, y, x, vec(W(m, w, l)->buf), vec(W(m, b, l)->buf), T, c->d_model,
                         c->norm_eps);
}

vkg_attn_shape vkg_graph_attn_shape(const vkg_model *m, const vkg_kv_cache *kv, uint32_t l, uint32_t T) {
    const vkg_model_config *c = &m->cfg;
    float scale = c->attn_scale;
    if (c->attn_scale_inverse_layer)
        scale /= (float)(l + 1);
    return (vkg_attn_shape){.T = T, .H = c->n_head, .KVH = c->n_kv_head, .hd = c->head_dim, .P = kv->n_ctx,
                            .window = c->sliding_window, .scale = scale};
}

/* After each op: the profiler's hook (tests/profile_step.c), nothing otherwise. */
static vkg_status mark(const vkg_graph_marker *mk, vkg_cmd *cmd, const char *op) {
    return mk ? mk->fn(mk->user, cmd, op) : VKG_OK;
}

#define OP(name, expr)                     \
    do {                                   \
        VKG_TRY(expr);                     \
        VKG_TRY(mark(mk, cmd, name));      \
    } while (0)

static vkg_status record_layer(const vkg_model *m, vkg_cmd *cmd, const vkg_activations *a, const vkg_kv_cache *kv,
                               uint32_t l, uint32_t T, bool decode, const vkg_graph_marker *mk) {
    const vkg_kernels *k = &m->kernels;
    const vkg_model_config *c = &m->cfg;
    uint32_t d = c->d_model, hd = c->head_dim, H = c->n_head, KVH = c->n_kv_head, ff = c->d_ff;
    uint32_t wq = (H + 2 * KVH) * hd;
    vkg_view x = rows(a->x, T, d), h = rows(a->h, T, d), qkv = rows(a->qkv, T, wq);
    vkg_view att = rows(a->att, T, H * hd), step = vec(a->step);
    vkg_view kc = vec(kv->k[l]), vc = vec(kv->v[l]), bq, bo, bu, bd;
    vkg_attn_shape shape = vkg_graph_attn_shape(m, kv, l, T);

    const char *norm_name = c->norm == VKG_NORM_RMSNORM ? "rmsnorm" : "layernorm";
    OP(norm_name, norm(m, cmd, h, x, VKG_W_ATTN_NORM, VKG_W_ATTN_NORM_B, l, T));
    OP("matmul qkv", vkg_matmul(k, cmd, qkv, h, W(m, VKG_W_QKV, l), bias(m, VKG_W_QKV_B, l, &bq), NULL, T,
                                VKG_EPILOGUE_NONE));
    if (c->qk_norm) {
        OP("rmsnorm q heads", vkg_rmsnorm_heads(k, cmd, qkv, vec(W(m, VKG_W_Q_NORM, l)->buf), T, H, hd, wq, 0,
                                                c->norm_eps));
        OP("rmsnorm k heads", vkg_rmsnorm_heads(k, cmd, qkv, vec(W(m, VKG_W_K_NORM, l)->buf), T, KVH, hd, wq, H * hd,
                                                c->norm_eps));
    }
    if (c->pos == VKG_POS_ROPE)
        OP("rope", vkg_rope(k, cmd, qkv, step, vec(a->rope), T, H + KVH, hd, wq, kv->n_ctx, (uint32_t)c->rope.pairing));
    OP("kv_store", vkg_kv_store(k, cmd, kc, vc, kv->storage, qkv, step, &shape));
    if (decode)
        OP("attention decode",
           vkg_attention_decode(k, cmd, att, qkv, kc, vc, kv->storage, step, vec(a->attn_scratch), &shape));
    else
        OP("attention prefill", vkg_attention_prefill(k, cmd, att, qkv, kc, vc, kv->storage, step, &shape));
    OP("matmul o+res",
       vkg_matmul(k, cmd, x, att, W(m, VKG_W_O, l), bias(m, VKG_W_O_B, l, &bo), &x, T, VKG_EPILOGUE_RESIDUAL));

    OP(norm_name, norm(m, cmd, h, x, VKG_W_FFN_NORM, VKG_W_FFN_NORM_B, l, T));
    const vkg_view *b_up = bias(m, VKG_W_UP_B, l, &bu), *b_down = bias(m, VKG_W_DOWN_B, l, &bd);
    if (c->gated_mlp) {
        vkg_view gu = rows(a->f, T, 2 * ff), g = rows(a->g, T, ff);
        OP("matmul gate_up", vkg_matmul(k, cmd, gu, h, W(m, VKG_W_UP, l), b_up, NULL, T, VKG_EPILOGUE_NONE));
        OP("swiglu", vkg_swiglu(k, cmd, g, gu, T, ff));
        OP("matmul down+res", vkg_matmul(k, cmd, x, g, W(m, VKG_W_DOWN, l), b_down, &x, T, VKG_EPILOGUE_RESIDUAL));
        return VKG_OK;
    }
    vkg_view f = rows(a->f, T, ff);
    OP("matmul up+gelu", vkg_matmul(k, cmd, f, h, W(m, VKG_W_UP, l), b_up, NULL, T, VKG_EPILOGUE_GELU));
    OP("matmul down+res", vkg_matmul(k, cmd, x, f, W(m, VKG_W_DOWN, l), b_down, &x, T, VKG_EPILOGUE_RESIDUAL));
    return VKG_OK;
}

vkg_status vkg_graph_record_marked(const vkg_model *m, vkg_cmd *cmd, const vkg_activations *a,
                                   const vkg_kv_cache *kv, uint32_t T, bool decode, vkg_logits_out logits,
                                   const vkg_graph_marker *mk) {
    const vkg_kernels *k = &m->kernels;
    const vkg_model_config *c = &m->cfg;
    uint32_t d = c->d_model, V = c->vocab_size;
    if (T == 0 || T > a->max_rows || (decode && T != 1) || (logits == VKG_LOGITS_ALL && T > a->logit_rows))
        return vkg_fail(VKG_ERROR_INTERNAL, "graph: %u rows (max %u, decode %d)", T, a->max_rows, decode);

    uint64_t step_bytes = (4 + (uint64_t)T) * sizeof(uint32_t);
    OP("step copy", vkg_cmd_copy(cmd, (vkg_view){a->step_host, 0, step_bytes}, (vkg_view){a->step, 0, step_bytes}));
    const vkg_matrix *pos = c->pos == VKG_POS_LEARNED ? W(m, VKG_W_POS_EMBD, 0) : NULL;
    OP("embedding", vkg_embedding(k, cmd, rows(a->x, T, d), W(m, VKG_W_TOK_EMBD, 0), pos, vec(a->step), T));
    for (uint32_t l = 0; l < c->n_layer; l++)
        VKG_TRY(record_layer(m, cmd, a, kv, l, T, decode, mk));

    const vkg_matrix *head = W(m, c->tied_lm_head ? VKG_W_TOK_EMBD : VKG_W_LM_HEAD, 0);
    if (logits == VKG_LOGITS_ALL) {
        OP("norm final", norm(m, cmd, rows(a->h, T, d), rows(a->x, T, d), VKG_W_OUT_NORM, VKG_W_OUT_NORM_B, 0, T));
        OP("matmul lm head",
           vkg_matmul(k, cmd, rows(a->logits, T, V), rows(a->h, T, d), head, NULL, NULL, T, VKG_EPILOGUE_NONE));
        return VKG_OK; /* the caller downloads all rows and takes the argmax of the last on the host */
    }
    /* Only the last row goes on: move it to row 0 of att (a copy has no alignment rule), normalise. */
    vkg_view x_last = rows(a->x, 1, d);
    if (T > 1) {
        VKG_TRY(vkg_cmd_copy(cmd, (vkg_view){a->x, (uint64_t)(T - 1) * d * sizeof(float), (uint64_t)d * sizeof(float)},
                             rows(a->att, 1, d)));
        x_last = rows(a->att, 1, d);
    }
    OP("norm final", norm(m, cmd, rows(a->h, 1, d), x_last, VKG_W_OUT_NORM, VKG_W_OUT_NORM_B, 0, 1));
    OP("matmul lm head",
       vkg_matmul(k, cmd, rows(a->logits, 1, V), rows(a->h, 1, d), head, NULL, NULL, 1, VKG_EPILOGUE_NONE));
    OP("argmax",
       vkg_argmax(k, cmd, (vkg_view){a->argmax, 0, 16}, 0, rows(a->logits, 1, V), V, vec(a->argmax_scratch)));
    VKG_TRY(vkg_cmd_copy(cmd, (vkg_view){a->argmax, 0, sizeof(uint32_t)}, (vkg_view){a->out, 0, sizeof(uint32_t)}));
    if (logits == VKG_LOGITS_LAST)
        VKG_TRY(vkg_cmd_copy(cmd, rows(a->logits, 1, V),
                             (vkg_view){a->out, sizeof(uint32_t) * 4, (uint64_t)V * sizeof(float)}));
    return VKG_OK;
}

vkg_status vkg_graph_record(const vkg_model *m, vkg_cmd *cmd, const vkg_activations *a, const vkg_kv_cache *kv,
                            uint32_t T, bool decode, vkg_logits_out logits) {
    return vkg_graph_record_marked(m, cmd, a, kv, T, decode, logits, NULL);
}

/* Hugging Face's inverse frequencies: theta^(-2i/hd) in fp32, then the scaling rule. */
static float inv_freq(const vkg_model_config *c, uint32_t i) {
    uint32_t hd = c->head_dim;
    float f = (float)(1.0 / pow((double)c->rope.theta, (double)(2 * i) / (double)hd));
    if (c->rope.scaling == VKG_ROPE_SCALING_LINEAR)
        return f / c->rope.factor;
    if (c->rope.scaling != VKG_ROPE_SCALING_LLAMA3)
        return f;
    /* Llama 3.1: long wavelengths divided by factor, short ones kept, a smooth blend between. */
    double old = c->rope.original_max_positions, lo = c->rope.low_freq_factor, hi = c->rope.high_freq_factor;
    double wavelen = 2.0 * 3.14159265358979323846 / f, low_wavelen = old / lo, high_wavelen = old / hi;
    if (wavelen > low_wavelen)
        return f / c->rope.factor;
    if (wavelen < high_wavelen)
        return f;
    double smooth = (old / wavelen - lo) / (hi - lo);
    return (float)((1.0 - smooth) * f / c->rope.factor + smooth * f);
}

void vkg_rope_table(const vkg_model_config *c, uint32_t n_ctx, float *table) {
    uint32_t half = c->head_dim / 2;
    for (uint32_t i = 0; i < half; i++) {
        float f = inv_freq(c, i);
        for (uint32_t p = 0; p < n_ctx; p++) {
            float angle = (float)p * f; /* fp32, as the reference implementation's product */
            table[((uint64_t)p * half + i) * 2] = (float)cos((double)angle);
            table[((uint64_t)p * half + i) * 2 + 1] = (float)sin((double)angle);
        }
    }
}
