/*
 * gpt2_names.h — which checkpoint tensor is which GPT-2 weight, with every shape and dtype checked.
 *
 * Two namings are accepted, even mixed: transformers' save_pretrained form
 * ("transformer.h.0.attn.c_attn.weight", "transformer.wte.weight", optional "lm_head.weight") and
 * the original hub form without the prefix ("h.0.attn.c_attn.weight", "wte.weight"). The legacy
 * attention-mask buffers h.N.attn.bias / h.N.attn.masked_bias are ignored; lm_head.weight is tied
 * to wte, so only its shape is checked. Any other tensor is an error: a file with weights vkgpt
 * would silently ignore is probably not the model the user thinks it is.
 *
 * Weights are in the Conv1D layout of GPT-2: a linear layer's weight is (in, out), so y = x W + b.
 * This file maps and checks; it does not convert or upload data.
 */
#ifndef VKG_MODEL_GPT2_NAMES_H
#define VKG_MODEL_GPT2_NAMES_H

#include "model/checkpoint.h"

/* One transformer block; d = n_embd. */
typedef struct vkg_gpt2_layer_tensors {
    const vkg_st_tensor *ln_1_w;      /* ln_1.weight        (d) */
    const vkg_st_tensor *ln_1_b;      /* ln_1.bias          (d) */
    const vkg_st_tensor *c_attn_w;    /* attn.c_attn.weight (d, 3d): q | k | v columns */
    const vkg_st_tensor *c_attn_b;    /* attn.c_attn.bias   (3d) */
    const vkg_st_tensor *attn_proj_w; /* attn.c_proj.weight (d, d) */
    const vkg_st_tensor *attn_proj_b; /* attn.c_proj.bias   (d) */
    const vkg_st_tensor *ln_2_w;      /* ln_2.weight        (d) */
    const vkg_st_tensor *ln_2_b;      /* ln_2.bias          (d) */
    const vkg_st_tensor *c_fc_w;      /* mlp.c_fc.weight    (d, 4d) */
    const vkg_st_tensor *c_fc_b;      /* mlp.c_fc.bias      (4d) */
    const vkg_st_tensor *mlp_proj_w;  /* mlp.c_proj.weight  (4d, d) */
    const vkg_st_tensor *mlp_proj_b;  /* mlp.c_proj.bias    (d) */
} vkg_gpt2_layer_tensors;

typedef struct vkg_gpt2_tensors {
    vkg_gpt2_config config;
    const vkg_st_tensor *wte;     /* (V, d) token embeddings; also the output projection (tied) */
    const vkg_st_tensor *wpe;     /* (P, d) position embeddings, P = n_positions */
    const vkg_st_tensor *ln_f_w;  /* (d) */
    const vkg_st_tensor *ln_f_b;  /* (d) */
    const vkg_st_tensor *lm_head; /* (V, d) or NULL; shape-checked, data unused (tied to wte) */
    uint32_t n_layer;
    vkg_gpt2_layer_tensors *layers; /* n_layer entries */
} vkg_gpt2_tensors;

/* Map every tensor of `ckpt` to its GPT-2 role using the checkpoint's config. The tensors stay
 * owned by `ckpt`, which must outlive the result. Errors, each naming the tensor and file:
 *   VKG_ERROR_TENSOR_UNKNOWN    a tensor that is not a GPT-2 weight (or a layer >= n_layer)
 *   VKG_ERROR_ST_DTYPE          a weight that is not F32, F16 or BF16
 *   VKG_ERROR_TENSOR_SHAPE      "tensor h.3.mlp.c_fc.weight: expected shape [768, 3072], file has
 *                               [768, 3071]"
 *   VKG_ERROR_ST_DUPLICATE_KEY  the same weight under both namings
 *   VKG_ERROR_TENSOR_MISSING    a required weight is absent (both names are given) */
vkg_status vkg_gpt2_tensors_map(const vkg_checkpoint *ckpt, vkg_gpt2_tensors **out);

/* NULL is allowed. */
void vkg_gpt2_tensors_free(vkg_gpt2_tensors *g);

#endif /* VKG_MODEL_GPT2_NAMES_H */
