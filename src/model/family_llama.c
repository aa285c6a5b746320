/*
 * family_llama.c — the Llama-shaped families on the neutral decoder: Llama 2/3.x (TinyLlama,
 * SmolLM), Mistral, Qwen2/2.5 and Qwen3. All are pre-norm RMSNorm decoders with rotary embeddings
 * (rotate-half pairing, as Hugging Face computes them), a SwiGLU MLP and grouped-query attention;
 * they differ in a few switches:
 *   llama    attention_bias (q, k, v and o), mlp_bias, rope_scaling linear | llama3
 *   mistral  sliding_window (a query sees the last W positions) when set
 *   qwen2    bias on q, k and v (never o)
 *   qwen3    RMSNorm over head_dim on every q and k head before RoPE; explicit head_dim
 * Tensor names as save_pretrained writes them ("model.layers.N.self_attn.q_proj.weight").
 */
#include "model/family.h"

#include <math.h>
#include <string.h>

/* rope_scaling: null/absent, "default", "linear" or "llama3"; anything else refused by name. */
static vkg_status parse_rope_scaling(const json_t *root, const char *label, vkg_model_config *c) {
    const json_t *rs = json_object_get(root, "rope_scaling");
    c->rope.scaling = VKG_ROPE_SCALING_NONE;
    if (!rs || json_is_null(rs))
        return VKG_OK;
    if (!json_is_object(rs))
        return vkg_fail(VKG_ERROR_CONFIG_TYPE, "%s: field \"rope_scaling\" must be an object or null", label);
    const char *type = NULL;
    VKG_TRY(vkg_json_string(rs, label, "rope_type", &type));
    if (!type)
        VKG_TRY(vkg_json_string(rs, label, "type", &type)); /* the older key */
    if (!type)
        return vkg_fail(VKG_ERROR_CONFIG_FIELD, "%s: rope_scaling has neither \"rope_type\" nor \"type\"", label);
    if (strcmp(type, "default") == 0)
        return VKG_OK;
    c->rope.factor = 0;
    VKG_TRY(vkg_json_float(rs, "rope_scaling", "factor", 0.0, 1e6, &c->rope.factor));
    if (strcmp(type, "linear") == 0 || strcmp(type, "llama3") == 0) {
        if (c->rope.factor == 0)
            return vkg_fail(VKG_ERROR_CONFIG_FIELD, "%s: rope_scaling \"%s\" needs \"factor\"", label, type);
    }
    if (strcmp(type, "linear") == 0) {
        c->rope.scaling = VKG_ROPE_SCALING_LINEAR;
        return VKG_OK;
    }
    if (strcmp(type, "llama3") != 0)
        return vkg_fail(VKG_ERROR_MODEL_UNSUPPORTED, "%s: rope_scaling type \"%s\" is not supported (vkgpt "
                        "implements linear and llama3)", label, type);
    c->rope.scaling = VKG_ROPE_SCALING_LLAMA3;
    const char *need[] = {"low_freq_factor", "high_freq_factor", "original_max_position_embeddings"};
    for (size_t i = 0; i < VKG_ARRAY_LEN(need); i++)
        if (!json_object_get(rs, need[i]))
            return vkg_fail(VKG_ERROR_CONFIG_FIELD, "%s: rope_scaling \"llama3\" needs \"%s\"", label, need[i]);
    VKG_TRY(vkg_json_float(rs, "rope_scaling", "low_freq_factor", 0.0, 1e6, &c->rope.low_freq_factor));
    VKG_TRY(vkg_json_float(rs, "rope_scaling", "high_freq_factor", 0.0, 1e6, &c->rope.high_freq_factor));
    VKG_TRY(vkg_json_uint(rs, "rope_scaling", "original_max_position_embeddings", true, VKG_CONFIG_MAX_DIM,
                          &c->rope.original_max_positions));
    if (!(c->rope.high_freq_factor > c->rope.low_freq_factor))
        return vkg_fail(VKG_ERROR_CONFIG_VALUE, "%s: rope_scaling high_freq_factor %g must exceed low_freq_factor "
                        "%g", label, c->rope.high_freq_factor, c->rope.low_freq_factor);
    return VKG_OK;
}

/* Fields every Llama-shaped family shares; the family-specific switches are set by the callers. */
static vkg_status parse_common(const json_t *root, const char *label, vkg_model_config *c, uint32_t head_dim_default) {
    VKG_TRY(vkg_json_uint(root, label, "hidden_size", true, VKG_CONFIG_MAX_DIM, &c->d_model));
    VKG_TRY(vkg_json_uint(root, label, "intermediate_size", true, VKG_CONFIG_MAX_DIM, &c->d_ff));
    VKG_TRY(vkg_json_uint(root, label, "num_hidden_layers", true, VKG_CONFIG_MAX_LAYERS, &c->n_layer));
    VKG_TRY(vkg_json_uint(root, label, "num_attention_heads", true, VKG_CONFIG_MAX_DIM, &c->n_head));
    c->n_kv_head = c->n_head;
    VKG_TRY(vkg_json_uint(root, label, "num_key_value_heads", false, VKG_CONFIG_MAX_DIM, &c->n_kv_head));
    if (head_dim_default == 0) {
        if (c->d_model % c->n_head)
            return vkg_fail(VKG_ERROR_CONFIG_VALUE, "%s: hidden_size %u is not divisible by num_attention_heads %u "
                            "and no head_dim is given", label, c->d_model, c->n_head);
        head_dim_default = c->d_model / c->n_head;
    }
    c->head_dim = head_dim_default;
    VKG_TRY(vkg_json_uint(root, label, "head_dim", false, VKG_CONFIG_MAX_DIM, &c->head_dim));
    c->vocab_size = 32000;
    VKG_TRY(vkg_json_uint(root, label, "vocab_size", false, VKG_CONFIG_MAX_VOCAB, &c->vocab_size));
    c->n_positions = 2048;
    VKG_TRY(vkg_json_uint(root, label, "max_position_embeddings", false, VKG_CONFIG_MAX_DIM, &c->n_positions));
    c->norm = VKG_NORM_RMSNORM;
    c->norm_eps = 1e-6f;
    VKG_TRY(vkg_json_float(root, label, "rms_norm_eps", 0.0, 1.0, &c->norm_eps));
    const char *act = "silu";
    VKG_TRY(vkg_json_string(root, label, "hidden_act", &act));
    if (strcmp(act, "silu") != 0)
        return vkg_fail(VKG_ERROR_MODEL_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported (vkgpt implements "
                        "silu)", label, act);
    c->act = VKG_ACT_SILU;
    c->gated_mlp = true;
    c->pos = VKG_POS_ROPE;
    c->rope.pairing = VKG_ROPE_HALF;
    c->rope.theta = 10000.0f;
    VKG_TRY(vkg_json_float(root, label, "rope_theta", 0.0, 1e12, &c->rope.theta));
    VKG_TRY(parse_rope_scaling(root, label, c));
    c->tied_lm_head = false;
    VKG_TRY(vkg_json_bool(root, label, "tie_word_embeddings", &c->tied_lm_head));
    c->attn_scale = 1.0f / sqrtf((float)c->head_dim);
    return vkg_json_token_ids(root, label, c);
}

static vkg_status parse_llama(const json_t *root, const char *label, vkg_model_config *c) {
    VKG_TRY(parse_common(root, label, c, 0));
    bool attn_bias = false;
    VKG_TRY(vkg_json_bool(root, label, "attention_bias", &attn_bias));
    c->qkv_bias = c->o_bias = attn_bias;
    return vkg_json_bool(root, label, "mlp_bias", &c->mlp_bias);
}

static vkg_status parse_mistral(const json_t *root, const char *label, vkg_model_config *c) {
    VKG_TRY(parse_common(root, label, c, 0));
    /* MistralConfig's default is a 4096 window; an explicit null means none (Mistral v0.2 and later). */
    const json_t *w = json_object_get(root, "sliding_window");
    c->sliding_window = w ? 0 : 4096;
    return vkg_json_uint(root, label, "sliding_window", false, VKG_CONFIG_MAX_DIM, &c->sliding_window);
}

/* Qwen2/3 describe a window only for some layers (max_window_layers); vkgpt has one window for all. */
static vkg_status refuse_qwen_window(const json_t *root, const char *label) {
    bool use = false;
    VKG_TRY(vkg_json_bool(root, label, "use_sliding_window", &use));
    if (use)
        return vkg_fail(VKG_ERROR_MODEL_UNSUPPORTED, "%s: use_sliding_window (per-layer windows) is not "
                        "supported", label);
    return VKG_OK;
}

static vkg_status parse_qwen2(const json_t *root, const char *label, vkg_model_config *c) {
    VKG_TRY(parse_common(root, label, c, 0));
    c->qkv_bias = true;
    return refuse_qwen_window(root, label);
}

static vkg_status parse_qwen3(const json_t *root, const char *label, vkg_model_config *c) {
    VKG_TRY(parse_common(root, label, c, 128)); /* Qwen3Config's head_dim default */
    bool attn_bias = false;
    VKG_TRY(vkg_json_bool(root, label, "attention_bias", &attn_bias));
    c->qkv_bias = c->o_bias = attn_bias;
    c->qk_norm = true;
    return refuse_qwen_window(root, label);
}

#define L "model.layers.%u."
static const vkg_family_tensor TENSORS[] = {
    {VKG_W_TOK_EMBD, {"model.embed_tokens.weight"}},
    {VKG_W_OUT_NORM, {"model.norm.weight"}},
    {VKG_W_LM_HEAD, {"lm_head.weight"}},
    {VKG_W_ATTN_NORM, {L "input_layernorm.weight"}},
    {VKG_W_QKV, {L "self_attn.q_proj.weight", L "self_attn.k_proj.weight", L "self_attn.v_proj.weight"}},
    {VKG_W_QKV_B, {L "self_attn.q_proj.bias", L "self_attn.k_proj.bias", L "self_attn.v_proj.bias"}},
    {VKG_W_O, {L "self_attn.o_proj.weight"}},
    {VKG_W_O_B, {L "self_attn.o_proj.bias"}},
    {VKG_W_Q_NORM, {L "self_attn.q_norm.weight"}},
    {VKG_W_K_NORM, {L "self_attn.k_norm.weight"}},
    {VKG_W_FFN_NORM, {L "post_attention_layernorm.weight"}},
    {VKG_W_UP, {L "mlp.gate_proj.weight", L "mlp.up_proj.weight"}},
    {VKG_W_UP_B, {L "mlp.gate_proj.bias", L "mlp.up_proj.bias"}},
    {VKG_W_DOWN, {L "mlp.down_proj.weight"}},
    {VKG_W_DOWN_B, {L "mlp.down_proj.bias"}},
};
#undef L

/* Older exports saved the rotary inverse-frequency buffer with the weights. */
static bool ignored(const char *name, const vkg_model_config *c) {
    (void)c;
    size_t n = strlen(name);
    const char suffix[] = ".self_attn.rotary_emb.inv_freq";
    return strncmp(name, "model.layers.", 13) == 0 && n > sizeof suffix &&
           strcmp(name + n - (sizeof suffix - 1), suffix) == 0;
}

#define LLAMA_SHAPED(var, type, arch, fn)                                                                    \
    const vkg_family var = {.model_type = type, .architecture = arch, .parse = fn, .tensors = TENSORS,      \
                            .n_tensors = VKG_ARRAY_LEN(TENSORS), .ignored = ignored}
LLAMA_SHAPED(vkg_family_llama, "llama", "LlamaForCausalLM", parse_llama);
LLAMA_SHAPED(vkg_family_mistral, "mistral", "MistralForCausalLM", parse_mistral);
LLAMA_SHAPED(vkg_family_qwen2, "qwen2", "Qwen2ForCausalLM", parse_qwen2);
LLAMA_SHAPED(vkg_family_qwen3, "qwen3", "Qwen3ForCausalLM", parse_qwen3);
