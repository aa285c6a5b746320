/* model/graph.c — records one forward pass of the neutral decoder (see graph.h for the math). */
#include "model/graph.h"

#include "kernels/matmul.h"
#include "kernels/quantize_act.h"
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

uint32_t vkg_graph_widest_input(const vkg_model_config *c) {
    uint32_t q = c->n_head * c->head_dim, w = c->d_model > q ? c->d_model : q;
    return w > c->d_ff ? w : c->d_ff;
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

/* Y = X W^T (+ b) (+ residual Y) for the graph's matmuls. A batched decode step (M sequences of one
 * token each) takes the vector path with the M = 1 work split, so that every row is computed exactly
 * as a lone decode step computes it while the weights are read once for all rows. Where the model
 * uses int8 dot products (m->int_dot), X is first quantized into the scratch buffer xq. */
static vkg_status linear(const vkg_model *m, vkg_buffer *xq, vkg_cmd *cmd, vkg_view y, vkg_view x, vkg_weight_role w,
                         vkg_weight_role b, uint32_t l, uint32_t M, vkg_epilogue ep, bool batch) {
    vkg_view bv;
    const vkg_view *bias_view = b < VKG_W_ROLE_COUNT ? bias(m, b, l, &bv) : NULL;
    const vkg_weight *wt = vkg_model_weight_segs(m, w, l);
    vkg_matmul_options mo = {.path = batch ? VKG_MATMUL_PATH_VECTOR : VKG_MATMUL_PATH_AUTO, .decode_batch = batch};
    bool blocks = false;
    for (uint32_t i = 0; i < wt->n_seg; i++)
        blocks |= vkg_storage_is_block(wt->seg[i].storage);
    if (wt->n_seg > 1) /* row segments in different formats: each fills its own columns of Y */
        for (uint32_t i = 0; i < wt->n_seg; i++)
            mo.y_cols += wt->seg[i].rows;
    if (blocks && m->int_dot) { /* X quantized once for every block segment (kernels/quantize_act.h) */
        uint32_t K = wt->seg[0].cols;
        mo.xq = (vkg_view){xq, 0, vkg_quantize_act_bytes(M, K)};
        VKG_TRY(vkg_quantize_act(&m->kernels, cmd, mo.xq, x, M, K));
    }
    for (uint32_t i = 0; i < wt->n_seg; i++) {
        VKG_TRY(vkg_matmul_ex(&m->kernels, cmd, y, x, &wt->seg[i], bias_view, ep == VKG_EPILOGUE_RESIDUAL ? &y : NULL,
                              M, ep, &mo));
        mo.y_col0 += wt->seg[i].rows;
    }
    return VKG_OK;
}

/* The position-dependent middle of the attention block on one sequence's own buffers: q/k norm,
 * RoPE, the cache write and attention, from a->qkv to a->att. */
static vkg_status attend(const vkg_model *m, vkg_cmd *cmd, const vkg_activations *a, const vkg_kv_cache *kv,
                         uint32_t l, uint32_t T, bool decode, const vkg_graph_marker *mk) {
    const vkg_kernels *k = &m->kernels;
    const vkg_model_config *c = &m->cfg;
    uint32_t hd = c->head_dim, H = c->n_head, KVH = c->n_kv_head, wq = (H + 2 * KVH) * hd;
    vkg_view qkv = rows(a->qkv, T, wq), att = rows(a->att, T, H * hd), step = vec(a->step);
    vkg_view kc = vec(kv->k[l]), vc = vec(kv->v[l]);
    vkg_attn_shape shape = vkg_graph_attn_shape(m, kv, l, T);
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
    return VKG_OK;
}

/* The MLP block on T rows of a: x += mlp(norm(x)). */
static vkg_status mlp(const vkg_model *m, vkg_cmd *cmd, const vkg_activations *a, uint32_t l, uint32_t T, bool batch,
                      const vkg_graph_marker *mk) {
    const vkg_model_config *c = &m->cfg;
    uint32_t d = c->d_model, ff = c->d_ff;
    vkg_view x = rows(a->x, T, d), h = rows(a->h, T, d);
    OP(c->norm == VKG_NORM_RMSNORM ? "rmsnorm" : "layernorm",
       norm(m, cmd, h, x, VKG_W_FFN_NORM, VKG_W_FFN_NORM_B, l, T));
    if (c->gated_mlp) {
        vkg_view gu = rows(a->f, T, 2 * ff), g = rows(a->g, T, ff);
        OP("matmul gate_up", linear(m, a->xq, cmd, gu, h, VKG_W_UP, VKG_W_UP_B, l, T, VKG_EPILOGUE_NONE, batch));
        OP("swiglu", vkg_swiglu(&m->kernels, cmd, g, gu, T, ff));
        OP("matmul down+res", linear(m, a->xq, cmd, x, g, VKG_W_DOWN, VKG_W_DOWN_B, l, T, VKG_EPILOGUE_RESIDUAL, batch));
        return VKG_OK;
    }
    vkg_view f = rows(a->f, T, ff);
    OP("matmul up+gelu", linear(m, a->xq, cmd, f, h, VKG_W_UP, VKG_W_UP_B, l, T, VKG_EPILOGUE_GELU, batch));
    OP("matmul down+res", linear(m, a->xq, cmd, x, f, VKG_W_DOWN, VKG_W_DOWN_B, l, T, VKG_EPILOGUE_RESIDUAL, batch));
    return VKG_OK;
}

/* h = norm(x); qkv = h W_qkv^T (+ b): the start of the attention block on T rows of a. */
static vkg_status project_qkv(const vkg_model *m, vkg_cmd *cmd, const vkg_activations *a, uint32_t l, uint32_t T,
                              bool batch, const vkg_graph_marker *mk) {
    const vkg_model_config *c = &m->cfg;
    uint32_t d = c->d_model, wq = (c->n_head + 2 * c->n_kv_head) * c->head_dim;
    vkg_view x = rows(a->x, T, d), h = rows(a->h, T, d);
    OP(c->norm == VKG_NORM_RMSNORM ? "rmsnorm" : "layernorm",
       norm(m, cmd, h, x, VKG_W_ATTN_NORM, VKG_W_ATTN_NORM_B, l, T));
    OP("matmul qkv", linear(m, a->xq, cmd, rows(a->qkv, T, wq), h, VKG_W_QKV, VKG_W_QKV_B, l, T, VKG_EPILOGUE_NONE, batch));
    return VKG_OK;
}

static vkg_status record_layer(const vkg_model *m, vkg_cmd *cmd, const vkg_activations *a, const vkg_kv_cache *kv,
                               uint32_t l, uint32_t T, bool decode, const vkg_graph_marker *mk) {
    const vkg_model_config *c = &m->cfg;
    uint32_t d = c->d_model, q = c->n_head * c->head_dim;
    VKG_TRY(project_qkv(m, cmd, a, l, T, false, mk));
    VKG_TRY(attend(m, cmd, a, kv, l, T, decode, mk));
    OP("matmul o+res", linear(m, a->xq, cmd, rows(a->x, T, d), rows(a->att, T, q), VKG_W_O, VKG_W_O_B, l, T,
                              VKG_EPILOGUE_RESIDUAL, false));
    return mlp(m, cmd, a, l, T, false, mk);
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

    vkg_weight_role head_role = c->tied_lm_head ? VKG_W_TOK_EMBD : VKG_W_LM_HEAD;
    if (logits == VKG_LOGITS_ALL) {
        OP("norm final", norm(m, cmd, rows(a->h, T, d), rows(a->x, T, d), VKG_W_OUT_NORM, VKG_W_OUT_NORM_B, 0, T));
        OP("matmul lm head", linear(m, a->xq, cmd, rows(a->logits, T, V), rows(a->h, T, d), head_role, VKG_W_ROLE_COUNT, 0, T,
                                    VKG_EPILOGUE_NONE, false));
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
    OP("matmul lm head", linear(m, a->xq, cmd, rows(a->logits, 1, V), rows(a->h, 1, d), head_role, VKG_W_ROLE_COUNT, 0, 1,
                                VKG_EPILOGUE_NONE, false));
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

/* One row of a view of rows of `width` floats. */
static vkg_view row_of(vkg_buffer *b, uint32_t i, uint32_t width) {
    return (vkg_view){b, (uint64_t)i * width * sizeof(float), (uint64_t)width * sizeof(float)};
}

vkg_status vkg_graph_record_batch(const vkg_model *m, vkg_cmd *cmd, const vkg_activations *b,
                                  const vkg_graph_row *seq, uint32_t n) {
    const vkg_kernels *k = &m->kernels;
    const vkg_model_config *c = &m->cfg;
    const vkg_graph_marker *mk = NULL;
    uint32_t d = c->d_model, V = c->vocab_size, q = c->n_head * c->head_dim;
    uint32_t wq = (c->n_head + 2 * c->n_kv_head) * c->head_dim;
    if (n == 0 || n > b->max_rows)
        return vkg_fail(VKG_ERROR_INTERNAL, "batch graph: %u sequences (max %u)", n, b->max_rows);
    /* Position-dependent work runs on each sequence's own buffers (its step buffer, cache and RoPE
     * table); rows move between them and the batch's buffers by copies, which have no alignment rule. */
    const vkg_matrix *pos = c->pos == VKG_POS_LEARNED ? W(m, VKG_W_POS_EMBD, 0) : NULL;
    for (uint32_t i = 0; i < n; i++) {
        const vkg_activations *a = seq[i].a;
        uint64_t step_bytes = 5 * sizeof(uint32_t);
        VKG_TRY(vkg_cmd_copy(cmd, (vkg_view){a->step_host, 0, step_bytes}, (vkg_view){a->step, 0, step_bytes}));
        VKG_TRY(vkg_embedding(k, cmd, rows(a->x, 1, d), W(m, VKG_W_TOK_EMBD, 0), pos, vec(a->step), 1));
        VKG_TRY(vkg_cmd_copy(cmd, rows(a->x, 1, d), row_of(b->x, i, d)));
    }
    for (uint32_t l = 0; l < c->n_layer; l++) {
        VKG_TRY(project_qkv(m, cmd, b, l, n, true, mk));
        for (uint32_t i = 0; i < n; i++) {
            const vkg_activations *a = seq[i].a;
            VKG_TRY(vkg_cmd_copy(cmd, row_of(b->qkv, i, wq), rows(a->qkv, 1, wq)));
            VKG_TRY(attend(m, cmd, a, seq[i].kv, l, 1, true, mk));
            VKG_TRY(vkg_cmd_copy(cmd, rows(a->att, 1, q), row_of(b->att, i, q)));
        }
        VKG_TRY(linear(m, b->xq, cmd, rows(b->x, n, d), rows(b->att, n, q), VKG_W_O, VKG_W_O_B, l, n, VKG_EPILOGUE_RESIDUAL,
                       true));
        VKG_TRY(mlp(m, cmd, b, l, n, true, mk));
    }
    VKG_TRY(norm(m, cmd, rows(b->h, n, d), rows(b->x, n, d), VKG_W_OUT_NORM, VKG_W_OUT_NORM_B, 0, n));
    VKG_TRY(linear(m, b->xq, cmd, rows(b->logits, n, V), rows(b->h, n, d), c->tied_lm_head ? VKG_W_TOK_EMBD : VKG_W_LM_HEAD,
                   VKG_W_ROLE_COUNT, 0, n, VKG_EPILOGUE_NONE, true));
    for (uint32_t i = 0; i < n; i++) {
        const vkg_activations *a = seq[i].a;
        VKG_TRY(vkg_argmax(k, cmd, (vkg_view){a->argmax, 0, 16}, 0, row_of(b->logits, i, V), V,
                           vec(a->argmax_scratch)));
        VKG_TRY(vkg_cmd_copy(cmd, (vkg_view){a->argmax, 0, sizeof(uint32_t)}, (vkg_view){a->out, 0, sizeof(uint32_t)}));
        if (seq[i].want_logits)
            VKG_TRY(vkg_cmd_copy(cmd, row_of(b->logits, i, V),
                                 (vkg_view){a->out, sizeof(uint32_t) * 4, (uint64_t)V * sizeof(float)}));
    }
    return VKG_OK;
}

/* Hugging Face's inverse frequencies: theta^(-2i/hd) in fp32, then the scaling rule. */
static float inv_freq(const vkg_model_config *c, uint32_t i) {
    uint32_t hd = c->head_dim;
    float f = (float)(1.0 / pow((double)c->rope.theta, (double)(2 * i) / (double)hd));
    if (c->rope.scaling == VKG_ROPE_SCALING_LINEAR)
        return f / c->rope.factor;
    if (c->rope.scaling == VKG_ROPE_SCALING_FREQ_FACTORS)
        return f / c->rope.freq_factors[i];
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
