/*
 * model/load.c — vkg_model_load: a Hugging Face checkpoint of any supported family to a
 * device-resident model. The checkpoint layer (checkpoint.c, tensors.c) maps and checks every
 * tensor; here each weight role becomes a source that converts F32/F16/BF16 to fp32 on the fly,
 * stacks q/k/v and gate/up parts by rows and transposes Conv1D [in, out] matrices to [out, in].
 */
#include "model/checkpoint.h"
#include "model/dtype.h"
#include "model/gguf_model.h"
#include "model/model.h"
#include "model/tensors.h"

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
    uint64_t cols = src->cols;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t r = (first + i) / cols, c = (first + i) % cols, p = 0;
        while (p + 1 < src->n_parts && r >= src->part_rows[p]) /* stacked parts: find the one holding r */
            r -= src->part_rows[p++];
        /* Conv1D parts are [cols, part_rows]: device element (r, c) is file element (c, r). */
        uint64_t at = src->transpose ? c * src->part_rows[p] + r : r * cols + c;
        dst[i] = element(src->parts[p], at);
    }
}

typedef struct load_ctx {
    const vkg_model_tensors *t;
} load_ctx;

static void pick(void *user, vkg_weight_role role, uint32_t layer, vkg_weight_source *src) {
    const load_ctx *lc = user;
    const vkg_role_tensors *r = vkg_model_tensors_role(lc->t, role, layer);
    *src = (vkg_weight_source){.read = read_tensor, .n_parts = r->n_parts,
                               .transpose = lc->t->family->conv1d && vkg_role_is_matrix(role) &&
                                            role != VKG_W_TOK_EMBD && role != VKG_W_POS_EMBD && role != VKG_W_LM_HEAD,
                               .name = r->n_parts ? r->parts[0]->name : NULL};
    for (uint32_t p = 0; p < r->n_parts; p++) {
        src->parts[p] = r->parts[p];
        src->part_rows[p] = r->part_rows[p];
    }
}

static vkg_status check_finite(const vkg_model_tensors *t) {
    for (uint32_t l = 0; l < t->config.n_layer; l++)
        for (int role = 0; role < VKG_W_ROLE_COUNT; role++) {
            if (l > 0 && role < VKG_W_FIRST_LAYER_ROLE)
                continue;
            const vkg_role_tensors *r = vkg_model_tensors_role(t, (vkg_weight_role)role, l);
            for (uint32_t p = 0; p < r->n_parts; p++)
                VKG_TRY(vkg_st_check_finite(r->parts[p]));
        }
    return VKG_OK;
}

/* VKG_PRECISION_AUTO: the dtype all the checkpoint's matrices share when it is 16-bit, else f32. */
static vkg_precision auto_precision(const vkg_model_tensors *t) {
    bool all_bf16 = true, all_f16 = true;
    for (uint32_t l = 0; l < t->config.n_layer; l++)
        for (int role = 0; role < VKG_W_ROLE_COUNT; role++) {
            if (!vkg_role_is_matrix((vkg_weight_role)role))
                continue;
            const vkg_role_tensors *r = vkg_model_tensors_role(t, (vkg_weight_role)role, l);
            for (uint32_t p = 0; p < r->n_parts; p++) {
                all_bf16 &= r->parts[p]->dtype == VKG_DTYPE_BF16;
                all_f16 &= r->parts[p]->dtype == VKG_DTYPE_F16;
            }
        }
    return all_bf16 ? VKG_PRECISION_BF16 : all_f16 ? VKG_PRECISION_F16 : VKG_PRECISION_F32;
}

vkg_status vkg_model_load(vkg_context *ctx, const char *path, const vkg_model_options *opts, vkg_model **out) {
    if (!ctx || !path || !out)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_model_load: NULL argument");
    *out = NULL;
    vkg_model_options o = opts ? *opts : vkg_model_default_options();
    if (vkg_is_gguf(path))
        return vkg_model_load_gguf(ctx, path, &o, out);
    vkg_checkpoint *ckpt = NULL;
    vkg_model_tensors *t = NULL;
    vkg_status s = vkg_checkpoint_open(path, &ckpt);
    if (s == VKG_OK)
        s = vkg_model_tensors_map(ckpt, &t);
    if (s == VKG_OK) {
        if (o.weights == VKG_PRECISION_AUTO)
            o.weights = auto_precision(t);
        /* Refuse what will not fit before reading gigabytes of weights. */
        s = vkg_model_check_config(ctx, &t->config, o.weights, o.quant);
        if (s == VKG_OK && o.check_finite)
            s = check_finite(t);
        load_ctx lc = {.t = t};
        if (s == VKG_OK)
            s = vkg_model_build(ctx, &t->config, &o, pick, &lc, out);
    }
    if (s != VKG_OK && s != VKG_ERROR_OUT_OF_HOST_MEMORY)
        vkg_fail_context(s, "loading model %s", path);
    vkg_model_tensors_free(t);
    vkg_checkpoint_close(ckpt);
    return s;
}
