/*
 * model/model.h — a model resident on the device: the weights of the family-neutral decoder in the
 * layout the kernels want, and how they get there (from a checkpoint or generated). The forward
 * graph is in model/graph.c; what each family's files mean is in model/family_*.c.
 *
 * Device layout: every matrix is a vkg_matrix [out, in] in the storage precision (fp32, fp16 or
 * bf16); q/k/v are stacked into one [(H + 2 KVH) hd, d] matrix and a gated MLP's gate/up into one
 * [2 ff, d] matrix, so each is one matmul; norms and biases are fp32 vectors (a vkg_matrix with
 * cols = 1). One buffer per weight, sub-allocated by the runtime.
 */
#ifndef VKG_MODEL_MODEL_H
#define VKG_MODEL_MODEL_H

#include "kernels/kernels.h"
#include "model/family.h"

/* One weight on the device: a single matrix or vector, or — when a GGUF file stores the stacked parts
 * of a role in different block formats (Q4_K_M keeps v in Q6_K) — up to three row segments, each in
 * its own format, multiplied into adjacent output columns. */
typedef struct vkg_weight {
    vkg_matrix seg[VKG_MAX_PARTS];
    uint32_t n_seg;              /* 0: the role is absent */
} vkg_weight;

struct vkg_model {
    vkg_context *ctx;
    vkg_kernels kernels;
    char prefill_matmul[128];    /* vkg_model_prefill_matmul() */
    vkg_model_config cfg;
    vkg_precision precision;     /* of the matrices */
    vkg_weight *w;               /* (n_layer + 1) x VKG_W_ROLE_COUNT; row 0 the model-wide roles */
    vkg_quant quant;             /* the format matrices were quantized to at load (NONE: as stored) */
    uint64_t params;
    uint64_t weight_bytes;
    bool int_dot;                /* block-format matmuls read 8-bit activations through int8 dot products
                                    (the device has them, a matrix is in blocks, not float_activations) */
};

/* Weight `role` of `layer` (layer ignored for model-wide roles); n_seg is 0 when absent. */
static inline const vkg_weight *vkg_model_weight_segs(const vkg_model *m, vkg_weight_role role, uint32_t layer) {
    size_t row = role < VKG_W_FIRST_LAYER_ROLE ? 0 : 1 + (size_t)layer;
    return &m->w[row * VKG_W_ROLE_COUNT + role];
}

/* Its first (usually only) segment; .buf is NULL when the role is absent. */
static inline const vkg_matrix *vkg_model_weight(const vkg_model *m, vkg_weight_role role, uint32_t layer) {
    return &vkg_model_weight_segs(m, role, layer)->seg[0];
}

/* Whether `role` is stored as a matrix in the storage precision (else an fp32 vector). */
bool vkg_role_is_matrix(vkg_weight_role role);

/* Where the values of one weight come from: element i of the device tensor (row-major in device
 * layout) is produced on demand, so uploads need no second host copy. */
typedef struct vkg_weight_source {
    /* Fill dst[0..n) with device elements [first, first+n) as fp32. */
    void (*read)(const struct vkg_weight_source *src, uint64_t first, uint64_t n, float *dst);
    uint32_t n_parts;                        /* checkpoint: tensors stacked by rows */
    const void *parts[VKG_MAX_PARTS];
    uint64_t part_rows[VKG_MAX_PARTS];
    bool transpose;                          /* checkpoint parts are [cols, part_rows] (Conv1D) */
    /* Parts a GGUF file stores in a ggml block format the kernels read (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K):
     * their raw blocks, uploaded as they are; raw[p] NULL for parts read as floats. */
    const void *raw[VKG_MAX_PARTS];
    vkg_storage raw_storage[VKG_MAX_PARTS];
    void *cache;                             /* the loader's scratch for read() (a dequantized row) */
    const char *name;                        /* for messages: the (first) tensor's name */
    uint64_t seed;                           /* synthetic: stream of this tensor */
    float scale;                             /* synthetic: values uniform in [center - scale, center + scale]; */
    float center;                            /*            scale < 0: std 1/sqrt(cols) */
    uint32_t rows, cols;                     /* device shape (set by the builder) */
} vkg_weight_source;

/* Fills *src for `role` of `layer`. */
typedef void (*vkg_weight_source_fn)(void *user, vkg_weight_role role, uint32_t layer, vkg_weight_source *src);

/* Allocate the model's buffers for `cfg` and fill each present role from `get`. opts->weights must
 * be F32, F16 or BF16 here (AUTO is resolved by the loader). */
vkg_status vkg_model_build(vkg_context *ctx, const vkg_model_config *cfg, const vkg_model_options *opts,
                           vkg_weight_source_fn get, void *user, vkg_model **out);

/* Checks shared by every way of making a model (device support, sizes that fit the device). */
vkg_status vkg_model_check_config(vkg_context *ctx, const vkg_model_config *cfg, vkg_precision p, vkg_quant q);

/* Bytes of the model's weights on the device at precision p with the linear layers quantized to q
 * (a GGUF file's own formats take less than its dense precision: this is then an upper bound). */
uint64_t vkg_model_bytes(const vkg_model_config *c, vkg_precision p, vkg_quant q);

#endif /* VKG_MODEL_MODEL_H */
