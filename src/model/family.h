/*
 * model/family.h — a model family: how one config.json `model_type` and its checkpoint tensor names
 * map onto the family-neutral vkg_model_config and weight roles (model/model.h). One file per family
 * (family_gpt2.c, family_llama.c) fills a vkg_family; nothing else in the tree asks which family a
 * model is. Adding a family (Gemma, Phi-3) means one more file here and one line in config.c.
 *
 * Also the JSON field readers the family files share, each failing with a message that names the
 * file and the field.
 */
#ifndef VKG_MODEL_FAMILY_H
#define VKG_MODEL_FAMILY_H

#include "common.h"

#include <jansson.h>

/* The weights of the neutral decoder, in the kernels' layout: matrices [out, in]. Layer roles come
 * after VKG_W_FIRST_LAYER_ROLE. A role is present only when the config asks for it (see
 * vkg_role_present). */
typedef enum vkg_weight_role {
    VKG_W_TOK_EMBD,    /* [V, d] token embedding (also the LM head when tied) */
    VKG_W_POS_EMBD,    /* [P, d] learned positions (VKG_POS_LEARNED) */
    VKG_W_OUT_NORM,    /* [d] final norm weight */
    VKG_W_OUT_NORM_B,  /* [d] final LayerNorm bias (norm_bias) */
    VKG_W_LM_HEAD,     /* [V, d] untied LM head */
    VKG_W_ATTN_NORM,   /* [d] */
    VKG_W_ATTN_NORM_B, /* [d] (norm_bias) */
    VKG_W_QKV,         /* [(H + 2 KVH) hd, d]: q rows, then k, then v (stacked: one matmul) */
    VKG_W_QKV_B,       /* [(H + 2 KVH) hd] (qkv_bias) */
    VKG_W_O,           /* [d, H hd] */
    VKG_W_O_B,         /* [d] (o_bias) */
    VKG_W_Q_NORM,      /* [hd] per-head RMSNorm of q (qk_norm) */
    VKG_W_K_NORM,      /* [hd] per-head RMSNorm of k (qk_norm) */
    VKG_W_FFN_NORM,    /* [d] */
    VKG_W_FFN_NORM_B,  /* [d] (norm_bias) */
    VKG_W_UP,          /* gated: [2 ff, d], gate rows then up rows; plain: [ff, d] */
    VKG_W_UP_B,        /* [2 ff] or [ff] (mlp_bias) */
    VKG_W_DOWN,        /* [d, ff] */
    VKG_W_DOWN_B,      /* [d] (mlp_bias) */
    VKG_W_ROLE_COUNT
} vkg_weight_role;

#define VKG_W_FIRST_LAYER_ROLE VKG_W_ATTN_NORM

enum { VKG_MAX_PARTS = 3, VKG_TENSOR_NAME_MAX = 128 };

/* Where a role's weights sit in a family's checkpoints: up to three tensors stacked by rows (q, k, v
 * or gate, up). A pattern has one "%u" for the layer in layer roles. */
typedef struct vkg_family_tensor {
    vkg_weight_role role;
    const char *parts[VKG_MAX_PARTS]; /* NULL-terminated */
} vkg_family_tensor;

typedef struct vkg_family {
    const char *model_type;   /* config.json "model_type" */
    const char *architecture; /* config.json "architectures"[0] for messages and detection */
    /* Fill every field of *c from the config object (defaults for absent optional fields). */
    vkg_status (*parse)(const json_t *root, const char *label, vkg_model_config *c);
    const vkg_family_tensor *tensors; /* one row per role the family's files may hold */
    size_t n_tensors;
    const char *alt_prefix;   /* a second accepted name prefix ("transformer." for GPT-2), or NULL */
    bool conv1d;              /* matrices stored [in, out] (GPT-2's Conv1D): transposed on upload */
    /* Tensors the files may hold that are not weights (mask buffers, rotary caches, a tied LM head). */
    bool (*ignored)(const char *name, const vkg_model_config *c);
} vkg_family;

extern const vkg_family vkg_family_gpt2, vkg_family_llama, vkg_family_mistral, vkg_family_qwen2,
    vkg_family_qwen3;

/* The family of `model_type`, or NULL. */
const vkg_family *vkg_family_find(const char *model_type);

/* Whether the config has weights of `role` (e.g. biases only when the family uses them). */
bool vkg_role_present(const vkg_model_config *c, vkg_weight_role role);

/* Device shape of `role`: rows x cols (cols = 1 for vectors, reported as 1-D). Part i of a stacked
 * role has part_rows[i] rows. */
void vkg_role_shape(const vkg_model_config *c, vkg_weight_role role, uint32_t n_parts, uint64_t *rows,
                    uint64_t *cols, uint64_t part_rows[VKG_MAX_PARTS]);

/* Short name of a role for messages ("qkv", "ffn_norm"). */
const char *vkg_role_name(vkg_weight_role role);

/* ---- JSON field readers for family parsers (absent fields leave *out unchanged) ---- */

/* An integer in [1, max]. Absent: VKG_ERROR_CONFIG_FIELD when required. */
vkg_status vkg_json_uint(const json_t *root, const char *label, const char *field, bool required, uint32_t max,
                         uint32_t *out);
/* A number in (lo, hi) (exclusive). */
vkg_status vkg_json_float(const json_t *root, const char *label, const char *field, double lo, double hi,
                          float *out);
vkg_status vkg_json_bool(const json_t *root, const char *label, const char *field, bool *out);
vkg_status vkg_json_string(const json_t *root, const char *label, const char *field, const char **out);
/* bos_token_id / eos_token_id (an integer, a list of them, or null) into the config. Ids at or past
 * vocab_size are dropped: a model may have no end-of-sequence token in range. */
vkg_status vkg_json_token_ids(const json_t *root, const char *label, vkg_model_config *c);

/* Limits beyond which a value is taken for a corrupt file rather than a model. */
#define VKG_CONFIG_MAX_DIM (1u << 20)    /* widths, heads, positions */
#define VKG_CONFIG_MAX_LAYERS 1024u
#define VKG_CONFIG_MAX_VOCAB (1u << 24)
#define VKG_CONFIG_MAX_BYTES (16u << 20) /* config.json file size */

#endif /* VKG_MODEL_FAMILY_H */
