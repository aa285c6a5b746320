/*
 * config.c — read and check a GPT-2 config.json (see config.h for the rules and defaults).
 */
#define _POSIX_C_SOURCE 200809L
#include "model/config.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A JSON integer field in [1, max] into *out. Absent: CONFIG_FIELD if required, else untouched. */
static vkg_status get_uint(const json_t *root, const char *label, const char *field, bool required,
                           uint32_t max, uint32_t *out) {
    const json_t *v = json_object_get(root, field);
    if (!v) {
        if (required)
            return vkg_fail(VKG_ERROR_CONFIG_FIELD, "%s: required field \"%s\" is missing", label,
                            field);
        return VKG_OK;
    }
    if (!json_is_integer(v))
        return vkg_fail(VKG_ERROR_CONFIG_TYPE, "%s: field \"%s\" must be an integer", label, field);
    json_int_t x = json_integer_value(v);
    if (x <= 0 || (uint64_t)x > max)
        return vkg_fail(VKG_ERROR_CONFIG_VALUE,
                        "%s: field \"%s\" is %" JSON_INTEGER_FORMAT ", must be in 1..%" PRIu32,
                        label, field, x, max);
    *out = (uint32_t)x;
    return VKG_OK;
}

/* An optional string field; *out stays as given when absent. */
static vkg_status get_string(const json_t *root, const char *label, const char *field,
                             const char **out) {
    const json_t *v = json_object_get(root, field);
    if (!v)
        return VKG_OK;
    if (!json_is_string(v))
        return vkg_fail(VKG_ERROR_CONFIG_TYPE, "%s: field \"%s\" must be a string", label, field);
    *out = json_string_value(v);
    return VKG_OK;
}

/* An optional token id (null counts as absent), 0 <= id < vocab_size. Returns true in *found. */
static vkg_status get_token(const json_t *root, const char *label, const char *field,
                            uint32_t vocab, int32_t *out, bool *found) {
    const json_t *v = json_object_get(root, field);
    *found = false;
    if (!v || json_is_null(v))
        return VKG_OK;
    if (!json_is_integer(v))
        return vkg_fail(VKG_ERROR_CONFIG_TYPE, "%s: field \"%s\" must be an integer", label, field);
    json_int_t x = json_integer_value(v);
    if (x < 0 || x >= (json_int_t)vocab)
        return vkg_fail(VKG_ERROR_CONFIG_VALUE,
                        "%s: field \"%s\" is %" JSON_INTEGER_FORMAT
                        ", must be a token id below vocab_size %" PRIu32,
                        label, field, x, vocab);
    *out = (int32_t)x;
    *found = true;
    return VKG_OK;
}

static vkg_status parse_root(const json_t *root, const char *label, vkg_gpt2_config *c) {
    if (!json_is_object(root))
        return vkg_fail(VKG_ERROR_CONFIG_TYPE, "%s: config is JSON but not an object", label);

    const char *model_type = "gpt2", *act = "gelu_new";
    VKG_TRY(get_string(root, label, "model_type", &model_type));
    if (strcmp(model_type, "gpt2") != 0)
        return vkg_fail(VKG_ERROR_MODEL_UNSUPPORTED,
                        "%s: model_type \"%s\" is not supported (vkgpt runs \"gpt2\")", label,
                        model_type);
    VKG_TRY(get_string(root, label, "activation_function", &act));
    /* gelu_pytorch_tanh is transformers' name for the same tanh approximation as gelu_new. */
    if (strcmp(act, "gelu_new") != 0 && strcmp(act, "gelu_pytorch_tanh") != 0)
        return vkg_fail(VKG_ERROR_MODEL_UNSUPPORTED,
                        "%s: activation_function \"%s\" is not supported (vkgpt implements "
                        "gelu_new)",
                        label, act);

    VKG_TRY(get_uint(root, label, "n_layer", true, VKG_CONFIG_MAX_LAYERS, &c->n_layer));
    VKG_TRY(get_uint(root, label, "n_head", true, VKG_CONFIG_MAX_DIM, &c->n_head));
    VKG_TRY(get_uint(root, label, "n_embd", true, VKG_CONFIG_MAX_DIM, &c->n_embd));
    VKG_TRY(get_uint(root, label, "vocab_size", true, VKG_CONFIG_MAX_VOCAB, &c->vocab_size));
    /* Old GPT-2 configs carry only n_ctx; new ones both (equal). n_positions sizes wpe. */
    bool has_pos = json_object_get(root, "n_positions") != NULL;
    VKG_TRY(get_uint(root, label, has_pos ? "n_positions" : "n_ctx", false, VKG_CONFIG_MAX_DIM,
                     &c->n_positions));
    if (!has_pos && !json_object_get(root, "n_ctx"))
        return vkg_fail(VKG_ERROR_CONFIG_FIELD,
                        "%s: required field \"n_positions\" (or \"n_ctx\") is missing", label);
    if (c->n_embd % c->n_head != 0)
        return vkg_fail(VKG_ERROR_CONFIG_VALUE,
                        "%s: n_embd %" PRIu32 " is not divisible by n_head %" PRIu32, label,
                        c->n_embd, c->n_head);

    const json_t *eps = json_object_get(root, "layer_norm_epsilon");
    if (eps) {
        if (!json_is_number(eps))
            return vkg_fail(VKG_ERROR_CONFIG_TYPE, "%s: field \"layer_norm_epsilon\" must be a "
                            "number", label);
        double e = json_number_value(eps);
        if (!(e > 0.0 && e < 1.0) || (float)e == 0.0f)
            return vkg_fail(VKG_ERROR_CONFIG_VALUE,
                            "%s: field \"layer_norm_epsilon\" is %g, must be in (0, 1)", label, e);
        c->layer_norm_epsilon = (float)e;
    }

    bool found;
    VKG_TRY(get_token(root, label, "eos_token_id", c->vocab_size, &c->eos_token_id, &found));
    if (!found)
        VKG_TRY(get_token(root, label, "bos_token_id", c->vocab_size, &c->eos_token_id, &found));
    if (!found && (uint32_t)c->eos_token_id >= c->vocab_size)
        return vkg_fail(VKG_ERROR_CONFIG_VALUE,
                        "%s: no eos_token_id, and the default %" PRId32
                        " is not below vocab_size %" PRIu32,
                        label, c->eos_token_id, c->vocab_size);
    return VKG_OK;
}

vkg_status vkg_config_parse(const char *json, size_t len, const char *label, vkg_gpt2_config *out) {
    if (!label)
        label = "config.json";
    vkg_gpt2_config c = {.layer_norm_epsilon = 1e-5f, .eos_token_id = 50256};
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!root)
        return vkg_fail(VKG_ERROR_CONFIG_TYPE, "%s: not valid JSON: %s (line %d, column %d)", label,
                        jerr.text, jerr.line, jerr.column);
    vkg_status s = parse_root(root, label, &c);
    json_decref(root);
    if (s == VKG_OK)
        *out = c;
    return s;
}

vkg_status vkg_config_load(const char *path, vkg_gpt2_config *out) {
    char *buf = NULL;
    size_t size = 0;
    VKG_TRY(vkg_read_file(path, VKG_CONFIG_MAX_BYTES, VKG_ERROR_CONFIG_VALUE, &buf, &size));
    vkg_status s = vkg_config_parse(buf, size, path, out);
    free(buf);
    return s;
}
