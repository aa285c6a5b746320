/*
 * gguf_model.h — GGUF files as models: the architecture's keys as a vkg_model_config, and loading
 * onto the device (gguf_model.c). The container itself is gguf.h.
 */
#ifndef VKG_MODEL_GGUF_MODEL_H
#define VKG_MODEL_GGUF_MODEL_H

#include "model/gguf.h"
#include "model/model.h"

/* The neutral description of the model in `f` (architectures llama, qwen2, qwen3, gpt2).
 * VKG_ERROR_MODEL_UNSUPPORTED names an architecture or option vkgpt does not run; GGUF key errors
 * name the key. */
vkg_status vkg_gguf_model_config(const vkg_gguf_file *f, vkg_model_config *c);

/* vkg_model_load for a .gguf file (opts not NULL). Block-format matrices stay as they are; dense
 * tensors and the token embedding take opts->weights (AUTO: f16); opts->quant is ignored. */
vkg_status vkg_model_load_gguf(vkg_context *ctx, const char *path, const vkg_model_options *opts, vkg_model **out);

/* Whether `path` names a GGUF file (its first four bytes are "GGUF"). */
bool vkg_is_gguf(const char *path);

#endif /* VKG_MODEL_GGUF_MODEL_H */
