/*
 * family_gpt2.c — GPT-2 (model_type "gpt2") on the neutral decoder: LayerNorm with bias, learned
 * positions, fused c_attn (q | k | v columns), GELU (tanh) MLP, biases everywhere, LM head tied to wte
 * unless tie_word_embeddings is false. Weights are Conv1D [in, out], transposed on upload.
 * Accepts transformers' save_pretrained naming ("transformer.h.0...") and the original hub naming
 * without the prefix, even mixed.
 */
#include "model/family.h"

#include <math.h>
#include <string.h>

static vkg_status parse(const json_t *root, const char *label, vkg_model_config *c) {
    const char *act = "gelu_new";
    VKG_TRY(vkg_json_string(root, label, "activation_function", &act));
    /* gelu_pytorch_tanh is transformers' name for the same tanh approximation as gelu_new. */
    if (strcmp(act, "gelu_new") != 0 && strcmp(act, "gelu_pytorch_tanh") != 0)
        return vkg_fail(VKG_ERROR_MODEL_UNSUPPORTED, "%s: activation_function \"%s\" is not supported (vkgpt "
                        "implements gelu_new)", label, act);
    VKG_TRY(vkg_json_uint(root, label, "n_layer", true, VKG_CONFIG_MAX_LAYERS, &c->n_layer));
    VKG_TRY(vkg_json_uint(root, label, "n_head", true, VKG_CONFIG_MAX_DIM, &c->n_head));
    VKG_TRY(vkg_json_uint(root, label, "n_embd", true, VKG_CONFIG_MAX_DIM, &c->d_model));
    VKG_TRY(vkg_json_uint(root, label, "vocab_size", true, VKG_CONFIG_MAX_VOCAB, &c->vocab_size));
    /* Old GPT-2 configs carry only n_ctx; new ones both (equal). n_positions sizes wpe. */
    bool has_pos = json_object_get(root, "n_positions") != NULL;
    if (!has_pos && !json_object_get(root, "n_ctx"))
        return vkg_fail(VKG_ERROR_CONFIG_FIELD, "%s: required field \"n_positions\" (or \"n_ctx\") is missing",
                        label);
    VKG_TRY(vkg_json_uint(root, label, has_pos ? "n_positions" : "n_ctx", true, VKG_CONFIG_MAX_DIM,
                          &c->n_positions));
    if (c->d_model % c->n_head)
        return vkg_fail(VKG_ERROR_CONFIG_VALUE, "%s: n_embd %u is not divisible by n_head %u", label, c->d_model,
                        c->n_head);
    c->n_kv_head = c->n_head;
    c->head_dim = c->d_model / c->n_head;
    c->d_ff = 4 * c->d_model;
    VKG_TRY(vkg_json_uint(root, label, "n_inner", false, VKG_CONFIG_MAX_DIM, &c->d_ff));
    c->norm = VKG_NORM_LAYERNORM;
    c->norm_bias = true;
    c->norm_eps = 1e-5f;
    VKG_TRY(vkg_json_float(root, label, "layer_norm_epsilon", 0.0, 1.0, &c->norm_eps));
    c->act = VKG_ACT_GELU_TANH;
    c->gated_mlp = false;
    c->pos = VKG_POS_LEARNED;
    c->qkv_bias = c->o_bias = c->mlp_bias = true;
    c->tied_lm_head = true;
    VKG_TRY(vkg_json_bool(root, label, "tie_word_embeddings", &c->tied_lm_head));

    /* The switches that change GPT-2's attention math. reorder_and_upcast_attn only moves the
     * scaling before the product and computes it in fp32: vkgpt's attention is fp32 throughout, so
     * it computes the same function either way. */
    bool scale_weights = true, inverse_layer = false;
    VKG_TRY(vkg_json_bool(root, label, "scale_attn_weights", &scale_weights));
    VKG_TRY(vkg_json_bool(root, label, "scale_attn_by_inverse_layer_idx", &inverse_layer));
    bool reorder = false;
    VKG_TRY(vkg_json_bool(root, label, "reorder_and_upcast_attn", &reorder));
    c->attn_scale = scale_weights ? 1.0f / sqrtf((float)c->head_dim) : 1.0f;
    c->attn_scale_inverse_layer = inverse_layer;

    /* GPT2Config's defaults: 50256 for both; dropped where the vocabulary is smaller. */
    c->bos_token_id = 50256 < c->vocab_size ? 50256 : -1;
    c->n_eos = 0;
    if (50256 < c->vocab_size)
        c->eos_token_ids[c->n_eos++] = 50256;
    return vkg_json_token_ids(root, label, c);
}

static const vkg_family_tensor TENSORS[] = {
    {VKG_W_TOK_EMBD, {"wte.weight"}},
    {VKG_W_POS_EMBD, {"wpe.weight"}},
    {VKG_W_OUT_NORM, {"ln_f.weight"}},
    {VKG_W_OUT_NORM_B, {"ln_f.bias"}},
    {VKG_W_LM_HEAD, {"lm_head.weight"}},
    {VKG_W_ATTN_NORM, {"h.%u.ln_1.weight"}},
    {VKG_W_ATTN_NORM_B, {"h.%u.ln_1.bias"}},
    {VKG_W_QKV, {"h.%u.attn.c_attn.weight"}},
    {VKG_W_QKV_B, {"h.%u.attn.c_attn.bias"}},
    {VKG_W_O, {"h.%u.attn.c_proj.weight"}},
    {VKG_W_O_B, {"h.%u.attn.c_proj.bias"}},
    {VKG_W_FFN_NORM, {"h.%u.ln_2.weight"}},
    {VKG_W_FFN_NORM_B, {"h.%u.ln_2.bias"}},
    {VKG_W_UP, {"h.%u.mlp.c_fc.weight"}},
    {VKG_W_UP_B, {"h.%u.mlp.c_fc.bias"}},
    {VKG_W_DOWN, {"h.%u.mlp.c_proj.weight"}},
    {VKG_W_DOWN_B, {"h.%u.mlp.c_proj.bias"}},
};

/* Causal-mask buffers that old PyTorch exports saved with the weights ("h.N.attn.bias"). */
static bool ignored(const char *name, const vkg_model_config *c) {
    (void)c;
    if (strncmp(name, "transformer.", 12) == 0)
        name += 12;
    if (strncmp(name, "h.", 2) != 0)
        return false;
    const char *rest = strchr(name + 2, '.');
    return rest && (strcmp(rest, ".attn.bias") == 0 || strcmp(rest, ".attn.masked_bias") == 0);
}

const vkg_family vkg_family_gpt2 = {
    .model_type = "gpt2",
    .architecture = "GPT2LMHeadModel",
    .parse = parse,
    .tensors = TENSORS,
    .n_tensors = VKG_ARRAY_LEN(TENSORS),
    .alt_prefix = "transformer.",
    .conv1d = true,
    .ignored = ignored,
};
