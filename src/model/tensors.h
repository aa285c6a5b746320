/*
 * tensors.h — which checkpoint tensor is which weight of the neutral decoder, for the family the
 * config names, with every dtype and shape checked against the config.
 *
 * Every tensor of the checkpoint must be claimed by a weight role or be one the family knows to skip
 * (mask buffers, rotary caches): a file with weights vkgpt would silently ignore is probably not the
 * model the user thinks it is. A stacked role (q/k/v, gate/up) is up to three tensors whose rows are
 * concatenated on upload. A tied LM head that the file carries anyway is shape-checked and unused.
 * This file maps and checks; it does not convert or upload data.
 */
#ifndef VKG_MODEL_TENSORS_H
#define VKG_MODEL_TENSORS_H

#include "model/checkpoint.h"

typedef struct vkg_role_tensors {
    uint32_t n_parts;                           /* 0: the role has no weights in this model */
    const vkg_st_tensor *parts[VKG_MAX_PARTS];  /* stacked by rows in this order */
    uint64_t part_rows[VKG_MAX_PARTS];          /* device rows of each part */
} vkg_role_tensors;

typedef struct vkg_model_tensors {
    vkg_model_config config;
    const vkg_family *family;
    vkg_role_tensors *slots; /* (n_layer + 1) x VKG_W_ROLE_COUNT: row 0 the model-wide roles */
} vkg_model_tensors;

/* The tensors of `role` (layer ignored for model-wide roles). */
const vkg_role_tensors *vkg_model_tensors_role(const vkg_model_tensors *t, vkg_weight_role role, uint32_t layer);

/* Map every tensor of `ckpt` to its role. The tensors stay owned by `ckpt`, which must outlive the
 * result. Errors, each naming the tensor and file:
 *   VKG_ERROR_TENSOR_UNKNOWN    a tensor that is not a weight of this model (or a layer >= n_layer)
 *   VKG_ERROR_ST_DTYPE          a weight that is not F32, F16 or BF16
 *   VKG_ERROR_TENSOR_SHAPE      "tensor h.3.mlp.c_fc.weight: expected shape [768, 3072], file has
 *                               [768, 3071]"
 *   VKG_ERROR_ST_DUPLICATE_KEY  the same weight under both namings
 *   VKG_ERROR_TENSOR_MISSING    a required weight is absent (the message gives the names looked for) */
vkg_status vkg_model_tensors_map(const vkg_checkpoint *ckpt, vkg_model_tensors **out);

/* NULL is allowed. */
void vkg_model_tensors_free(vkg_model_tensors *t);

#endif /* VKG_MODEL_TENSORS_H */
