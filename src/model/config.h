/*
 * config.h — the GPT-2 hyperparameters read from a Hugging Face config.json, checked.
 *
 * Only GPT-2 (model_type "gpt2", activation gelu_new) is accepted; everything else is refused with
 * a message naming what was found. This file does not read weights (see checkpoint.h).
 */
#ifndef VKG_MODEL_CONFIG_H
#define VKG_MODEL_CONFIG_H

#include "common.h"

/* Limits beyond which a value is taken for a corrupt file rather than a model. */
#define VKG_CONFIG_MAX_DIM (1u << 20)    /* n_embd, n_head, n_positions */
#define VKG_CONFIG_MAX_LAYERS 1024u
#define VKG_CONFIG_MAX_VOCAB (1u << 24)
#define VKG_CONFIG_MAX_BYTES (16u << 20) /* config.json file size */

typedef struct vkg_gpt2_config {
    uint32_t n_layer;           /* transformer blocks */
    uint32_t n_head;            /* attention heads; divides n_embd */
    uint32_t n_embd;            /* model width d */
    uint32_t vocab_size;        /* V, rows of wte */
    uint32_t n_positions;       /* P, rows of wpe: the context length ("n_ctx" in old files) */
    float layer_norm_epsilon;   /* default 1e-5 */
    int32_t eos_token_id;       /* default 50256; GPT-2 uses the same id as BOS */
} vkg_gpt2_config;

/* Parse config.json text (len bytes, need not be NUL-terminated). `label` names the file in
 * messages. Errors:
 *   VKG_ERROR_CONFIG_FIELD      a required field (n_layer, n_head, n_embd, vocab_size,
 *                               n_positions|n_ctx) is absent; the message names it
 *   VKG_ERROR_CONFIG_TYPE       a field has the wrong JSON type (integers must be JSON integers),
 *                               or the text is not a JSON object at all (message has line/column)
 *   VKG_ERROR_CONFIG_VALUE      zero, negative, absurd, or n_embd not divisible by n_head
 *   VKG_ERROR_MODEL_UNSUPPORTED model_type other than "gpt2", or an activation other than
 *                               gelu_new / gelu_pytorch_tanh
 * Missing optional fields take their defaults: layer_norm_epsilon 1e-5, eos_token_id (then
 * bos_token_id) 50256, model_type "gpt2", activation_function "gelu_new". */
vkg_status vkg_config_parse(const char *json, size_t len, const char *label, vkg_gpt2_config *out);

/* Read `path` and parse it. VKG_ERROR_IO if it cannot be read (message names the path). */
vkg_status vkg_config_load(const char *path, vkg_gpt2_config *out);

#endif /* VKG_MODEL_CONFIG_H */
