/*
 * config.h — a Hugging Face config.json (and generation_config.json beside it) read into the
 * family-neutral vkg_model_config, checked. The family is chosen by "model_type" ("gpt2" when absent,
 * as in the oldest GPT-2 configs); model/family_*.c say what each family's fields mean. This file
 * does not read weights (see checkpoint.h).
 */
#ifndef VKG_MODEL_CONFIG_H
#define VKG_MODEL_CONFIG_H

#include "model/family.h"

/* Parse config.json text (len bytes, need not be NUL-terminated). `label` names the file in
 * messages. `generation` (may be NULL) is the text of generation_config.json, whose
 * bos_token_id / eos_token_id override config.json's. Errors:
 *   VKG_ERROR_CONFIG_FIELD      a required field is absent; the message names it
 *   VKG_ERROR_CONFIG_TYPE       a field has the wrong JSON type, or the text is not a JSON object
 *                               (message has line/column)
 *   VKG_ERROR_CONFIG_VALUE      zero, negative, absurd or inconsistent values
 *   VKG_ERROR_MODEL_UNSUPPORTED a model_type, activation, RoPE scaling or option vkgpt does not
 *                               implement, named */
vkg_status vkg_config_parse(const char *json, size_t len, const char *label, const char *generation,
                            vkg_model_config *out);

/* Read config.json at `path` (and generation_config.json in the same directory when present) and
 * parse them. VKG_ERROR_IO if config.json cannot be read (message names the path). */
vkg_status vkg_config_load(const char *path, vkg_model_config *out);

/* Checks every family's config must pass (sizes consistent, head_dim <= 256 and even for RoPE...). */
vkg_status vkg_config_check(const vkg_model_config *c, const char *label);

#endif /* VKG_MODEL_CONFIG_H */
