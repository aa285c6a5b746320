/*
 * model/load.c — vkg_model_load: a Hugging Face GPT-2 checkpoint to a device-resident model. The
 * checkpoint layer (checkpoint.c, gpt2_names.c) maps and checks every tensor; here each one becomes a
 * weight source that converts F32/F16/BF16 to fp32 on the fly and transposes Conv1D [in, out]
 * matrices to the kernels' [out, in].
 */
#include "model/checkpoint.h"
#include "model/dtype.h"
#include "model/gpt2_names.h"
#include "model/model.h"

#include <string.h>

static float element(const vkg_st_tensor *t, uint64_t i) {
    const unsigned char *p = (const unsigned char *)t->data;
    switch (t->dtype) {
    case VKG_DTYPE_F16: {
        uint16_t h;
        memcpy(&h, p + i * 2, 2); /* tensor data need not be aligned in the file */
        return vkg_f16_to_f32(h);
    }
    case VKG_DTYPE_BF16: {
        uint16_t h;
        memcpy(&h, p + i * 2, 2);
        return vkg_bf16_to_f32(h);
    }
    default: {
        float f;
        memcpy(&f, p + i * 4, 4);
        return f;
    }
    }
}

static void read_tensor(const vkg_weight_source *src, uint64_t first, uint64_t n, float *dst) {
    const vkg_st_tensor *t = src->tensor;
    if (!src->transpose) {
        for (uint64_t i = 0; i < n; i++)
            dst[i] = element(t, first + i);
        return;
    }
    /* Device element (r, c) of [rows, cols] is file element (c, r) of [cols, rows]. */
    for (uint64_t i = 0; i < n; i++) {
        uint64_t r = (first + i) / src->cols, c = (first + i) % src->cols;
        dst[i] = element(t, c * src->rows + r);
    }
}

static void pick(void *user, vkg_weight_role role, uint32_t layer, vkg_weight_source *src) {
    const vkg_gpt2_tensors *g = user;
    const vkg_gpt2_layer_tensors *l = &g->layers[layer];
    const vkg_st_tensor *t = NULL;
    bool transpose = false;
    switch (role) {
    case VKG_W_WTE: t = g->wte; break;
    case VKG_W_WPE: t = g->wpe; break;
    case VKG_W_LNF_G: t = g->ln_f_w; break;
    case VKG_W_LNF_B: t = g->ln_f_b; break;
    case VKG_W_LN1_G: t = l->ln_1_w; break;
    case VKG_W_LN1_B: t = l->ln_1_b; break;
    case VKG_W_ATTN_W: t = l->c_attn_w; transpose = true; break;
    case VKG_W_ATTN_B: t = l->c_attn_b; break;
    case VKG_W_PROJ_W: t = l->attn_proj_w; transpose = true; break;
    case VKG_W_PROJ_B: t = l->attn_proj_b; break;
    case VKG_W_LN2_G: t = l->ln_2_w; break;
    case VKG_W_LN2_B: t = l->ln_2_b; break;
    case VKG_W_FC_W: t = l->c_fc_w; transpose = true; break;
    case VKG_W_FC_B: t = l->c_fc_b; break;
    case VKG_W_FCPROJ_W: t = l->mlp_proj_w; transpose = true; break;
    case VKG_W_FCPROJ_B: t = l->mlp_proj_b; break;
    }
    *src = (vkg_weight_source){.read = read_tensor, .tensor = t, .transpose = transpose};
}

static vkg_status check_finite(const vkg_gpt2_tensors *g) {
    const vkg_st_tensor *top[] = {g->wte, g->wpe, g->ln_f_w, g->ln_f_b};
    for (size_t i = 0; i < VKG_ARRAY_LEN(top); i++)
        VKG_TRY(vkg_st_check_finite(top[i]));
    for (uint32_t l = 0; l < g->n_layer; l++) {
        const vkg_gpt2_layer_tensors *t = &g->layers[l];
        const vkg_st_tensor *all[] = {t->ln_1_w, t->ln_1_b, t->c_attn_w, t->c_attn_b, t->attn_proj_w, t->attn_proj_b,
                                      t->ln_2_w, t->ln_2_b, t->c_fc_w, t->c_fc_b, t->mlp_proj_w, t->mlp_proj_b};
        for (size_t i = 0; i < VKG_ARRAY_LEN(all); i++)
            VKG_TRY(vkg_st_check_finite(all[i]));
    }
    return VKG_OK;
}

vkg_status vkg_model_load(vkg_context *ctx, const char *path, const vkg_model_options *opts, vkg_model **out) {
    if (!ctx || !path || !out)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_model_load: NULL argument");
    *out = NULL;
    vkg_model_options o = opts ? *opts : vkg_model_default_options();
    vkg_checkpoint *ckpt = NULL;
    vkg_gpt2_tensors *g = NULL;
    vkg_status s = vkg_checkpoint_open(path, &ckpt);
    if (s == VKG_OK)
        s = vkg_gpt2_tensors_map(ckpt, &g);
    if (s == VKG_OK) {
        const vkg_gpt2_config *c = vkg_checkpoint_config(ckpt);
        vkg_model_config cfg = {
            .n_layer = c->n_layer, .n_head = c->n_head, .n_embd = c->n_embd, .vocab_size = c->vocab_size,
            .n_positions = c->n_positions, .layer_norm_epsilon = c->layer_norm_epsilon,
            .eos_token_id = c->eos_token_id,
        };
        /* Refuse what will not fit before reading gigabytes of weights. */
        s = vkg_model_check_config(ctx, &cfg, o.weights);
        if (s == VKG_OK && o.check_finite)
            s = check_finite(g);
        if (s == VKG_OK)
            s = vkg_model_build(ctx, &cfg, &o, pick, g, out);
    }
    if (s != VKG_OK && s != VKG_ERROR_OUT_OF_HOST_MEMORY)
        vkg_fail_context(s, "loading model %s", path);
    vkg_gpt2_tensors_free(g);
    vkg_checkpoint_close(ckpt);
    return s;
}
