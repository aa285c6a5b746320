/* model/graph.c — records one GPT-2 forward pass (see graph.h for the math). */
#include "model/graph.h"

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/rowwise.h"

#include <math.h>

static vkg_view rows(vkg_buffer *b, uint32_t n, uint32_t width) {
    return (vkg_view){b, 0, (uint64_t)n * width * sizeof(float)};
}

static vkg_view vec(vkg_buffer *b) { return vkg_view_whole(b); }

static vkg_status record_layer(const vkg_model *m, vkg_cmd *cmd, const vkg_activations *a, const vkg_kv_cache *kv,
                               uint32_t l, uint32_t T, bool decode) {
    const vkg_kernels *k = &m->kernels;
    const vkg_layer_weights *w = &m->layers[l];
    uint32_t d = m->cfg.n_embd, H = m->cfg.n_head, hd = d / H, P = m->cfg.n_positions;
    float eps = m->cfg.layer_norm_epsilon;
    vkg_view x = rows(a->x, T, d), h = rows(a->h, T, d), qkv = rows(a->qkv, T, 3 * d);
    vkg_view att = rows(a->att, T, d), f = rows(a->f, T, 4 * d), step = vec(a->step);
    vkg_view kc = vec(kv->k[l]), vc = vec(kv->v[l]);
    vkg_view b_attn = vec(w->attn_b), b_proj = vec(w->proj_b), b_fc = vec(w->fc_b), b_fcproj = vec(w->fcproj_b);

    VKG_TRY(vkg_layernorm(k, cmd, h, x, vec(w->ln1_g), vec(w->ln1_b), T, d, eps));
    VKG_TRY(vkg_matmul(k, cmd, qkv, h, &w->attn_w, &b_attn, NULL, T, VKG_EPILOGUE_NONE));
    vkg_attn_shape as = {.T = T, .H = H, .KVH = H, .hd = hd, .P = P, .scale = 1.0f / sqrtf((float)hd)};
    VKG_TRY(vkg_kv_store(k, cmd, kc, vc, kv->storage, qkv, step, &as));
    if (decode)
        VKG_TRY(vkg_attention_decode(k, cmd, att, qkv, kc, vc, kv->storage, step, vec(a->attn_scratch), &as));
    else
        VKG_TRY(vkg_attention_prefill(k, cmd, att, qkv, kc, vc, kv->storage, step, &as));
    VKG_TRY(vkg_matmul(k, cmd, x, att, &w->proj_w, &b_proj, &x, T, VKG_EPILOGUE_RESIDUAL));
    VKG_TRY(vkg_layernorm(k, cmd, h, x, vec(w->ln2_g), vec(w->ln2_b), T, d, eps));
    VKG_TRY(vkg_matmul(k, cmd, f, h, &w->fc_w, &b_fc, NULL, T, VKG_EPILOGUE_GELU));
    VKG_TRY(vkg_matmul(k, cmd, x, f, &w->fcproj_w, &b_fcproj, &x, T, VKG_EPILOGUE_RESIDUAL));
    return VKG_OK;
}

vkg_status vkg_graph_record(const vkg_model *m, vkg_cmd *cmd, const vkg_activations *a, const vkg_kv_cache *kv,
                            uint32_t T, bool decode, vkg_logits_out logits) {
    const vkg_kernels *k = &m->kernels;
    uint32_t d = m->cfg.n_embd, V = m->cfg.vocab_size;
    float eps = m->cfg.layer_norm_epsilon;
    if (T == 0 || T > a->max_rows || (decode && T != 1) || (logits == VKG_LOGITS_ALL && T > a->logit_rows))
        return vkg_fail(VKG_ERROR_INTERNAL, "graph: %u rows (max %u, decode %d)", T, a->max_rows, decode);

    uint64_t step_bytes = (4 + (uint64_t)T) * sizeof(uint32_t);
    VKG_TRY(vkg_cmd_copy(cmd, (vkg_view){a->step_host, 0, step_bytes}, (vkg_view){a->step, 0, step_bytes}));
    VKG_TRY(vkg_embedding(k, cmd, rows(a->x, T, d), &m->wte, &m->wpe, vec(a->step), T));
    for (uint32_t l = 0; l < m->cfg.n_layer; l++)
        VKG_TRY(record_layer(m, cmd, a, kv, l, T, decode));

    vkg_view lnf_g = vec(m->lnf_g), lnf_b = vec(m->lnf_b);
    if (logits == VKG_LOGITS_ALL) {
        VKG_TRY(vkg_layernorm(k, cmd, rows(a->h, T, d), rows(a->x, T, d), lnf_g, lnf_b, T, d, eps));
        VKG_TRY(vkg_matmul(k, cmd, rows(a->logits, T, V), rows(a->h, T, d), &m->wte, NULL, NULL, T,
                           VKG_EPILOGUE_NONE));
        return VKG_OK; /* the caller downloads all rows and takes the argmax of the last on the host */
    }
    /* Only the last row goes on: move it to row 0 of h (a copy has no alignment rule), normalise. */
    vkg_view x_last = rows(a->x, 1, d);
    if (T > 1) {
        VKG_TRY(vkg_cmd_copy(cmd, (vkg_view){a->x, (uint64_t)(T - 1) * d * sizeof(float), (uint64_t)d * sizeof(float)},
                             rows(a->att, 1, d)));
        x_last = rows(a->att, 1, d);
    }
    VKG_TRY(vkg_layernorm(k, cmd, rows(a->h, 1, d), x_last, lnf_g, lnf_b, 1, d, eps));
    VKG_TRY(vkg_matmul(k, cmd, rows(a->logits, 1, V), rows(a->h, 1, d), &m->wte, NULL, NULL, 1, VKG_EPILOGUE_NONE));
    VKG_TRY(vkg_argmax(k, cmd, (vkg_view){a->argmax, 0, 16}, 0, rows(a->logits, 1, V), V, vec(a->argmax_scratch)));
    VKG_TRY(vkg_cmd_copy(cmd, (vkg_view){a->argmax, 0, sizeof(uint32_t)}, (vkg_view){a->out, 0, sizeof(uint32_t)}));
    if (logits == VKG_LOGITS_LAST)
        VKG_TRY(vkg_cmd_copy(cmd, rows(a->logits, 1, V),
                             (vkg_view){a->out, sizeof(uint32_t) * 4, (uint64_t)V * sizeof(float)}));
    return VKG_OK;
}
