/*
 * config.c — read config.json (+ generation_config.json) into a vkg_model_config through the family
 * its model_type names; the JSON field readers the family files share; the role table of the
 * neutral decoder (which weights a config has, and their shapes).
 */
#define _POSIX_C_SOURCE 200809L
#include "model/config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const vkg_family *const FAMILIES[] = {&vkg_family_gpt2, &vkg_family_llama, &vkg_family_mistral,
                                             &vkg_family_qwen2, &vkg_family_qwen3};

const vkg_family *vkg_family_find(const char *model_type) {
    for (size_t i = 0; i < VKG_ARRAY_LEN(FAMILIES); i++)
        if (strcmp(FAMILIES[i]->model_type, model_type) == 0)
            return FAMILIES[i];
    return NULL;
}

/* ---- JSON readers ---- */

vkg_status vkg_json_uint(const json_t *root, const char *label, const char *field, bool required, uint32_t max,
                         uint32_t *out) {
    const json_t *v = json_object_get(root, field);
    if (!v || (json_is_null(v) && !required)) {
        if (required)
            return vkg_fail(VKG_ERROR_CONFIG_FIELD, "%s: required field \"%s\" is missing", label, field);
        return VKG_OK;
    }
    if (!json_is_integer(v))
        return vkg_fail(VKG_ERROR_CONFIG_TYPE, "%s: field \"%s\" must be an integer", label, field);
    json_int_t x = json_integer_value(v);
    if (x <= 0 || (uint64_t)x > max)
        return vkg_fail(VKG_ERROR_CONFIG_VALUE, "%s: field \"%s\" is %" JSON_INTEGER_FORMAT ", must be in 1..%" PRIu32,
                        label, field, x, max);
    *out = (uint32_t)x;
    return VKG_OK;
}

vkg_status vkg_json_float(const json_t *root, const char *label, const char *field, double lo, double hi,
                          float *out) {
    const json_t *v = json_object_get(root, field);
    if (!v || json_is_null(v))
        return VKG_OK;
    if (!json_is_number(v))
        return vkg_fail(VKG_ERROR_CONFIG_TYPE, "%s: field \"%s\" must be a number", label, field);
    double x = json_number_value(v);
    if (!(x > lo && x < hi) || (x != 0 && (float)x == 0.0f) || isinf((float)x))
        return vkg_fail(VKG_ERROR_CONFIG_VALUE, "%s: field \"%s\" is %g, must be in (%g, %g)", label, field, x, lo,
                        hi);
    *out = (float)x;
    return VKG_OK;
}

vkg_status vkg_json_bool(const json_t *root, const char *label, const char *field, bool *out) {
    const json_t *v = json_object_get(root, field);
    if (!v || json_is_null(v))
        return VKG_OK;
    if (!json_is_boolean(v))
        return vkg_fail(VKG_ERROR_CONFIG_TYPE, "%s: field \"%s\" must be true or false", label, field);
    *out = json_is_true(v);
    return VKG_OK;
}

vkg_status vkg_json_string(const json_t *root, const char *label, const char *field, const char **out) {
    const json_t *v = json_object_get(root, field);
    if (!v || json_is_null(v))
        return VKG_OK;
    if (!json_is_string(v))
        return vkg_fail(VKG_ERROR_CONFIG_TYPE, "%s: field \"%s\" must be a string", label, field);
    *out = json_string_value(v);
    return VKG_OK;
}

/* One token id of field `field` (an integer >= 0). */
static vkg_status token_id(const json_t *v, const char *label, const char *field, int64_t *out) {
    if (!json_is_integer(v))
        return vkg_fail(VKG_ERROR_CONFIG_TYPE, "%s: field \"%s\" must be an integer or a list of integers", label,
                        field);
    json_int_t x = json_integer_value(v);
    if (x < 0)
        return vkg_fail(VKG_ERROR_CONFIG_VALUE, "%s: field \"%s\" holds %" JSON_INTEGER_FORMAT
                        ", token ids are >= 0", label, field, x);
    *out = x;
    return VKG_OK;
}

vkg_status vkg_json_token_ids(const json_t *root, const char *label, vkg_model_config *c) {
    const json_t *bos = json_object_get(root, "bos_token_id");
    if (bos && !json_is_null(bos)) {
        int64_t id;
        /* A list is allowed for symmetry with eos; the first entry is the one a prompt starts with. */
        VKG_TRY(token_id(json_is_array(bos) && json_array_size(bos) ? json_array_get(bos, 0) : bos, label,
                         "bos_token_id", &id));
        c->bos_token_id = id < c->vocab_size ? (int32_t)id : -1;
    }
    const json_t *eos = json_object_get(root, "eos_token_id");
    if (!eos || json_is_null(eos))
        return VKG_OK;
    c->n_eos = 0;
    size_t n = json_is_array(eos) ? json_array_size(eos) : 1;
    for (size_t i = 0; i < n; i++) {
        int64_t id;
        VKG_TRY(token_id(json_is_array(eos) ? json_array_get(eos, i) : eos, label, "eos_token_id", &id));
        if (id >= c->vocab_size)
            continue; /* e.g. GPT-2's default 50256 in a small custom vocabulary: no EOS in range */
        bool dup = false;
        for (uint32_t j = 0; j < c->n_eos; j++)
            dup |= c->eos_token_ids[j] == id;
        if (!dup && c->n_eos == VKG_MAX_EOS)
            return vkg_fail(VKG_ERROR_CONFIG_VALUE, "%s: more than %d distinct eos_token_id values", label,
                            VKG_MAX_EOS);
        if (!dup)
            c->eos_token_ids[c->n_eos++] = (int32_t)id;
    }
    return VKG_OK;
}

/* ---- the role table ---- */

bool vkg_role_present(const vkg_model_config *c, vkg_weight_role role) {
    switch (role) {
    case VKG_W_POS_EMBD: return c->pos == VKG_POS_LEARNED;
    case VKG_W_OUT_NORM_B: case VKG_W_ATTN_NORM_B: case VKG_W_FFN_NORM_B: return c->norm_bias;
    case VKG_W_LM_HEAD: return !c->tied_lm_head;
    case VKG_W_QKV_B: return c->qkv_bias;
    case VKG_W_O_B: return c->o_bias;
    case VKG_W_Q_NORM: case VKG_W_K_NORM: return c->qk_norm;
    case VKG_W_UP_B: case VKG_W_DOWN_B: return c->mlp_bias;
    default: return role < VKG_W_ROLE_COUNT;
    }
}

void vkg_role_shape(const vkg_model_config *c, vkg_weight_role role, uint32_t n_parts, uint64_t *rows,
                    uint64_t *cols, uint64_t part_rows[VKG_MAX_PARTS]) {
    uint64_t d = c->d_model, hd = c->head_dim, q = (uint64_t)c->n_head * hd, kv = (uint64_t)c->n_kv_head * hd;
    uint64_t ff = c->d_ff, up = c->gated_mlp ? 2 * ff : ff;
    uint64_t r = d, k = 1;
    switch (role) {
    case VKG_W_TOK_EMBD: case VKG_W_LM_HEAD: r = c->vocab_size; k = d; break;
    case VKG_W_POS_EMBD: r = c->n_positions; k = d; break;
    case VKG_W_QKV: r = q + 2 * kv; k = d; break;
    case VKG_W_QKV_B: r = q + 2 * kv; break;
    case VKG_W_O: r = d; k = q; break;
    case VKG_W_Q_NORM: case VKG_W_K_NORM: r = hd; break;
    case VKG_W_UP: r = up; k = d; break;
    case VKG_W_UP_B: r = up; break;
    case VKG_W_DOWN: r = d; k = ff; break;
    default: break; /* norms and d-wide biases */
    }
    *rows = r;
    *cols = k;
    if (!part_rows)
        return;
    bool qkv = role == VKG_W_QKV || role == VKG_W_QKV_B;
    for (uint32_t i = 0; i < VKG_MAX_PARTS; i++)
        part_rows[i] = 0;
    if (n_parts <= 1)
        part_rows[0] = r;
    else if (qkv && n_parts == 3) {
        part_rows[0] = q;
        part_rows[1] = part_rows[2] = kv;
    } else {
        for (uint32_t i = 0; i < n_parts; i++)
            part_rows[i] = r / n_parts;
    }
}

const char *vkg_role_name(vkg_weight_role role) {
    static const char *const names[] = {"tok_embd", "pos_embd", "out_norm", "out_norm_bias", "lm_head",
                                        "attn_norm", "attn_norm_bias", "qkv", "qkv_bias", "o", "o_bias",
                                        "q_norm", "k_norm", "ffn_norm", "ffn_norm_bias", "up", "up_bias",
                                        "down", "down_bias"};
    return role < VKG_ARRAY_LEN(names) ? names[role] : "?";
}

/* ---- parsing ---- */

vkg_status vkg_config_check(const vkg_model_config *c, const char *label) {
    if (!c->n_layer || !c->d_model || !c->n_head || !c->n_kv_head || !c->head_dim || !c->d_ff || !c->vocab_size ||
        !c->n_positions)
        return vkg_fail(VKG_ERROR_CONFIG_VALUE, "%s: layers %u, width %u, heads %u, K/V heads %u, head_dim %u, "
                        "FFN %u, vocab %u, positions %u: all must be positive", label, c->n_layer, c->d_model,
                        c->n_head, c->n_kv_head, c->head_dim, c->d_ff, c->vocab_size, c->n_positions);
    if (c->n_head % c->n_kv_head)
        return vkg_fail(VKG_ERROR_CONFIG_VALUE, "%s: %u attention heads are not a multiple of %u K/V heads", label,
                        c->n_head, c->n_kv_head);
    if (c->head_dim > 256)
        return vkg_fail(VKG_ERROR_UNSUPPORTED, "%s: head size %u above the 256 vkgpt supports", label, c->head_dim);
    if (c->pos == VKG_POS_ROPE && c->head_dim % 2)
        return vkg_fail(VKG_ERROR_CONFIG_VALUE, "%s: RoPE needs an even head_dim, not %u", label, c->head_dim);
    if (!(c->norm_eps > 0) || !(c->attn_scale > 0))
        return vkg_fail(VKG_ERROR_CONFIG_VALUE, "%s: norm epsilon %g and attention scale %g must be positive", label,
                        c->norm_eps, c->attn_scale);
    return VKG_OK;
}

/* The model_type of a config: the field, else guessed from "architectures", else "gpt2" (the oldest
 * GPT-2 configs have neither). */
static vkg_status model_type_of(const json_t *root, const char *label, const char **out) {
    *out = "gpt2";
    const json_t *arch = json_object_get(root, "architectures");
    if (json_is_array(arch) && json_is_string(json_array_get(arch, 0)))
        for (size_t i = 0; i < VKG_ARRAY_LEN(FAMILIES); i++)
            if (strcmp(json_string_value(json_array_get(arch, 0)), FAMILIES[i]->architecture) == 0)
                *out = FAMILIES[i]->model_type;
    return vkg_json_string(root, label, "model_type", out);
}

static vkg_status parse_root(const json_t *root, const json_t *gen, const char *label, vkg_model_config *c) {
    if (!json_is_object(root))
        return vkg_fail(VKG_ERROR_CONFIG_TYPE, "%s: config is JSON but not an object", label);
    const char *type;
    VKG_TRY(model_type_of(root, label, &type));
    const vkg_family *f = vkg_family_find(type);
    if (!f)
        return vkg_fail(VKG_ERROR_MODEL_UNSUPPORTED, "%s: model_type \"%s\" is not supported (vkgpt runs gpt2, "
                        "llama, mistral, qwen2 and qwen3)", label, type);
    memset(c, 0, sizeof *c);
    c->bos_token_id = -1;
    snprintf(c->family, sizeof c->family, "%s", f->model_type);
    VKG_TRY(f->parse(root, label, c));
    if (json_is_object(gen))
        VKG_TRY(vkg_json_token_ids(gen, "generation_config.json", c));
    return vkg_config_check(c, label);
}

static vkg_status parse_json(const char *text, size_t len, const char *label, json_t **out) {
    json_error_t jerr;
    *out = json_loadb(text, len, 0, &jerr);
    if (!*out)
        return vkg_fail(VKG_ERROR_CONFIG_TYPE, "%s: not valid JSON: %s (line %d, column %d)", label, jerr.text,
                        jerr.line, jerr.column);
    return VKG_OK;
}

vkg_status vkg_config_parse(const char *json, size_t len, const char *label, const char *generation,
                            vkg_model_config *out) {
    if (!label)
        label = "config.json";
    json_t *root = NULL, *gen = NULL;
    vkg_model_config c;
    vkg_status s = parse_json(json, len, label, &root);
    if (s == VKG_OK && generation)
        s = parse_json(generation, strlen(generation), "generation_config.json", &gen);
    if (s == VKG_OK)
        s = parse_root(root, gen, label, &c);
    json_decref(root);
    json_decref(gen);
    if (s == VKG_OK)
        *out = c;
    return s;
}

vkg_status vkg_config_load(const char *path, vkg_model_config *out) {
    char *buf = NULL, *gen = NULL;
    size_t size = 0, gen_size = 0;
    VKG_TRY(vkg_read_file(path, VKG_CONFIG_MAX_BYTES, VKG_ERROR_CONFIG_VALUE, &buf, &size));
    /* generation_config.json beside config.json, when there is one. */
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path) : 1;
    size_t gen_path_len = (size_t)dir_len + 32;
    char *gen_path = malloc(gen_path_len);
    vkg_status s = gen_path ? VKG_OK : vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (s == VKG_OK) {
        snprintf(gen_path, gen_path_len, "%.*s/generation_config.json", dir_len, slash ? path : ".");
        FILE *probe = fopen(gen_path, "rb");
        if (probe) {
            fclose(probe);
            s = vkg_read_file(gen_path, VKG_CONFIG_MAX_BYTES, VKG_ERROR_CONFIG_VALUE, &gen, &gen_size);
        }
    }
    if (s == VKG_OK)
        s = vkg_config_parse(buf, size, path, gen, out);
    free(gen_path);
    free(gen);
    free(buf);
    return s;
}
