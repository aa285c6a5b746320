/*
 * model/model.h — a GPT-2 model resident on the device: its weights in the layout the kernels want,
 * and how they get there (from a checkpoint or generated). The forward graph is in model/graph.c.
 *
 * Device layout: every linear weight is a vkg_matrix [out, in] (the transpose of the checkpoint's
 * Conv1D [in, out]), fp32 or fp16; wte [V, d] doubles as the LM head; biases and LayerNorm
 * parameters are fp32 vectors. One buffer per tensor, sub-allocated by the runtime.
 */
#ifndef VKG_MODEL_MODEL_H
#define VKG_MODEL_MODEL_H

#include "kernels/kernels.h"

typedef struct vkg_layer_weights {
    vkg_buffer *ln1_g, *ln1_b; /* [d] */
    vkg_matrix attn_w;         /* [3d, d]: rows 0..d-1 make q, d..2d-1 k, 2d..3d-1 v */
    vkg_buffer *attn_b;        /* [3d] */
    vkg_matrix proj_w;         /* [d, d] */
    vkg_buffer *proj_b;        /* [d] */
    vkg_buffer *ln2_g, *ln2_b; /* [d] */
    vkg_matrix fc_w;           /* [4d, d] */
    vkg_buffer *fc_b;          /* [4d] */
    vkg_matrix fcproj_w;       /* [d, 4d] */
    vkg_buffer *fcproj_b;      /* [d] */
} vkg_layer_weights;

struct vkg_model {
    vkg_context *ctx;
    vkg_kernels kernels;
    char prefill_matmul[128];    /* vkg_model_prefill_matmul() */
    vkg_model_config cfg;
    vkg_precision precision;
    vkg_matrix wte;              /* [V, d] */
    vkg_matrix wpe;              /* [P, d] */
    vkg_buffer *lnf_g, *lnf_b;   /* [d] */
    vkg_layer_weights *layers;   /* n_layer */
    uint64_t params;
    uint64_t weight_bytes;
};

/* Where the values of one weight come from: element i of the device tensor (row-major in device
 * layout) is produced on demand, so uploads need no second host copy. */
typedef struct vkg_weight_source {
    /* Fill dst[0..n) with device elements [first, first+n) as fp32. */
    void (*read)(const struct vkg_weight_source *src, uint64_t first, uint64_t n, float *dst);
    const void *tensor;  /* checkpoint tensor, or NULL for synthetic */
    uint64_t seed;       /* synthetic: stream of this tensor */
    float scale;         /* synthetic: values uniform in [center - scale, center + scale] */
    float center;
    uint32_t rows, cols; /* device shape; checkpoint matrices are transposed from [cols, rows] */
    bool transpose;
} vkg_weight_source;

/* Allocate the model's buffers for `cfg` and fill each from `get(user, role, layer, &src)`. */
typedef enum vkg_weight_role {
    VKG_W_WTE, VKG_W_WPE, VKG_W_LNF_G, VKG_W_LNF_B,
    VKG_W_LN1_G, VKG_W_LN1_B, VKG_W_ATTN_W, VKG_W_ATTN_B, VKG_W_PROJ_W, VKG_W_PROJ_B,
    VKG_W_LN2_G, VKG_W_LN2_B, VKG_W_FC_W, VKG_W_FC_B, VKG_W_FCPROJ_W, VKG_W_FCPROJ_B,
} vkg_weight_role;
typedef void (*vkg_weight_source_fn)(void *user, vkg_weight_role role, uint32_t layer, vkg_weight_source *src);

vkg_status vkg_model_build(vkg_context *ctx, const vkg_model_config *cfg, const vkg_model_options *opts,
                           vkg_weight_source_fn get, void *user, vkg_model **out);

/* Checks shared by every way of making a model (device support, sizes that fit the device). */
vkg_status vkg_model_check_config(vkg_context *ctx, const vkg_model_config *cfg, vkg_precision p);

#endif /* VKG_MODEL_MODEL_H */
