/*
 * vkgpt.h — the public C API of vkgpt: decoder-only transformer language models (GPT-2, Llama,
 * Mistral, Qwen2, Qwen3) on any Vulkan GPU.
 *
 * Objects (all opaque, each created by a create or load call and released by its pair):
 *   vkg_context    one Vulkan instance + logical device, its memory and pipelines
 *   vkg_model      weights of a model of any supported family, resident on the context's device
 *   vkg_session    a model + its own KV cache: prefill, replayed decode steps, uncached path
 *   vkg_batch      several sessions of one model advanced in one decode step
 *   vkg_tokenizer  Hugging Face tokenizer.json pipelines (BPE), or GPT-2's vocab.json + merges.txt
 *   vkg_sampler    greedy / temperature / top-k / top-p / min-p / repetition penalty
 *   vkg_template   a compiled chat template (Jinja2, rendered as Hugging Face renders)
 *
 * Errors: every call that can fail returns a vkg_status. VKG_OK is 0; failures are grouped in
 * numeric ranges (see below). The human-readable detail of the most recent failure on the calling
 * thread ("tensor h.3.mlp.c_fc.weight: expected shape [768, 3072], file has [768, 3071]") is
 * returned by vkg_last_error(). The library never exits or aborts on bad input or a driver result.
 */
#ifndef VKGPT_H
#define VKGPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes, grouped in ranges of 100 so that a caller can test the class of a failure. */
typedef enum vkg_status {
    VKG_OK = 0,

    /* 100..199: the caller's request */
    VKG_ERROR_INVALID_ARGUMENT = 100,  /* a NULL, zero or out-of-range argument */
    VKG_ERROR_TOKEN_RANGE = 101,       /* a token id >= vocab_size or negative */
    VKG_ERROR_CONTEXT_FULL = 102,      /* prompt + generated tokens would pass n_positions */
    VKG_ERROR_INTERRUPTED = 103,       /* stopped by the caller (e.g. Ctrl-C) */
    VKG_ERROR_UNSUPPORTED = 104,       /* a valid request this build or device cannot serve */

    /* 200..299: files and formats (checkpoints, config.json, tokenizer files) */
    VKG_ERROR_IO = 200,                /* open/read/stat/mmap failed, or no model in a directory */
    VKG_ERROR_ST_TRUNCATED = 201,      /* safetensors file shorter than its 8-byte length prefix */
    VKG_ERROR_ST_HEADER_SIZE = 202,    /* header length larger than the file or absurd */
    VKG_ERROR_ST_HEADER_JSON = 203,    /* header is not a JSON object, or an entry is malformed */
    VKG_ERROR_ST_DUPLICATE_KEY = 204,  /* the same tensor name twice in one header */
    VKG_ERROR_ST_DTYPE = 205,          /* unknown or unsupported dtype */
    VKG_ERROR_ST_OFFSETS = 206,        /* data_offsets out of the data section or reversed */
    VKG_ERROR_ST_OVERLAP = 207,        /* two tensors share bytes */
    VKG_ERROR_ST_ALIGNMENT = 208,      /* tensor data not aligned to its element size */
    VKG_ERROR_ST_SIZE_MISMATCH = 209,  /* shape x dtype size != byte length */
    VKG_ERROR_ST_OVERFLOW = 210,       /* dimensions or offsets overflow 64 bits */
    VKG_ERROR_TENSOR_MISSING = 211,    /* a tensor the model needs is absent */
    VKG_ERROR_TENSOR_SHAPE = 212,      /* a tensor has the wrong shape */
    VKG_ERROR_TENSOR_UNKNOWN = 213,    /* a tensor the model does not know */
    VKG_ERROR_CONFIG_FIELD = 214,      /* config.json lacks a required field */
    VKG_ERROR_CONFIG_TYPE = 215,       /* a config field has the wrong JSON type */
    VKG_ERROR_CONFIG_VALUE = 216,      /* a config value is zero, negative, inconsistent or absurd */
    VKG_ERROR_MODEL_UNSUPPORTED = 217, /* model_type or activation vkgpt does not implement */
    VKG_ERROR_INDEX_JSON = 218,        /* model.safetensors.index.json malformed */
    VKG_ERROR_TOKENIZER = 219,         /* tokenizer files malformed, or a component not implemented */
    VKG_ERROR_BAD_WEIGHTS = 220,       /* NaN or Inf in a weight tensor */
    VKG_ERROR_TEMPLATE = 230,          /* a chat template's syntax error (line, column), a render error
                                          (undefined name, wrong type) or a bound passed (output,
                                          memory, steps, recursion); also malformed messages JSON */
    VKG_ERROR_TEMPLATE_RAISED = 231,   /* the template called raise_exception(msg); vkg_last_error()
                                          is msg exactly */
    /* 260..279: GGUF files (src/model/gguf.h); messages name the file and the key or tensor */
    VKG_ERROR_GGUF_MAGIC = 260,        /* the file does not start with "GGUF" */
    VKG_ERROR_GGUF_VERSION = 261,      /* a GGUF version other than 2 or 3 (or a big-endian file) */
    VKG_ERROR_GGUF_TRUNCATED = 262,    /* the file ends inside the header, a string, array or tensor */
    VKG_ERROR_GGUF_METADATA = 263,     /* bad metadata: value type, bool, duplicate/empty key or name, nesting */
    VKG_ERROR_GGUF_TENSOR_TYPE = 264,  /* unknown tensor type, or one vkgpt refuses (named: Q2_K, IQ*...) */
    VKG_ERROR_GGUF_SHAPE = 265,        /* n_dims not 1..4, a zero dimension, row not a block multiple */
    VKG_ERROR_GGUF_OFFSETS = 266,      /* tensor data outside the data section */
    VKG_ERROR_GGUF_OVERLAP = 267,      /* two tensors share bytes */
    VKG_ERROR_GGUF_ALIGNMENT = 268,    /* offset not a multiple of general.alignment, or a bad alignment */
    VKG_ERROR_GGUF_OVERFLOW = 269,     /* dimensions, sizes or offsets overflow 64 bits */
    VKG_ERROR_GGUF_TOO_LARGE = 270,    /* a count or length beyond what the file can hold or vkgpt allows */
    VKG_ERROR_GGUF_DUPLICATE = 271,    /* the same tensor name twice */
    VKG_ERROR_GGUF_KEY_MISSING = 272,  /* a metadata key the caller needs is absent */
    VKG_ERROR_GGUF_KEY_TYPE = 273,     /* a metadata value has the wrong type or is out of range */

    /* 300..399: Vulkan and the device */
    VKG_ERROR_NO_LOADER = 300,         /* no Vulkan loader (libvulkan.so.1) on this machine */
    VKG_ERROR_NO_DEVICE = 301,         /* the loader found no Vulkan device */
    VKG_ERROR_DEVICE_INDEX = 302,      /* requested device index does not exist, or VKG_DEVICE bad */
    VKG_ERROR_VULKAN = 303,            /* a Vulkan call failed (message names call and VkResult) */
    VKG_ERROR_OUT_OF_DEVICE_MEMORY = 304, /* message names the size asked and the heap */
    VKG_ERROR_DEVICE_LOST = 305,       /* message names the device and what was running */
    VKG_ERROR_DEVICE_LIMIT = 306,      /* a request exceeds a device limit (grid, range, size) */
    VKG_ERROR_FEATURE_MISSING = 307,   /* an optional feature was asked for but is absent/disabled */

    /* 400..499: the host */
    VKG_ERROR_OUT_OF_HOST_MEMORY = 400,
    VKG_ERROR_INTERNAL = 401,          /* a bug in vkgpt; please report */
} vkg_status;

/* Short constant name of a status ("VKG_ERROR_ST_OFFSETS"); never NULL. */
const char *vkg_status_str(vkg_status s);

/* Detail of the most recent failure on this thread; "" when none. The pointer stays valid until the
 * next failing call on this thread. */
const char *vkg_last_error(void);

/* ---- context and devices (src/vk) ---- */

typedef struct vkg_context vkg_context;

typedef enum vkg_device_type {
    VKG_DEVICE_OTHER = 0,
    VKG_DEVICE_INTEGRATED = 1,
    VKG_DEVICE_DISCRETE = 2,
    VKG_DEVICE_VIRTUAL = 3,
    VKG_DEVICE_CPU = 4,
} vkg_device_type;

enum { VKG_MAX_HEAPS = 16, VKG_MAX_COOPMAT_SHAPES = 16 };

/* Everything vkgpt knows about a device, queried once. Sizes in bytes. "Enabled" feature flags are
 * false when the device lacks the feature or an environment switch (VKG_DISABLE_*) turned it off. */
typedef struct vkg_device_info {
    uint32_t index;                 /* position in the loader's enumeration */
    char name[256];
    vkg_device_type type;
    uint32_t vendor_id, device_id;
    char driver_name[256];          /* "llvmpipe", "NVIDIA", ... (VkPhysicalDeviceDriverProperties) */
    char driver_info[256];
    uint32_t driver_version;        /* raw, vendor-encoded */
    uint32_t api_version;           /* VK_MAKE_API_VERSION-encoded */
    uint32_t subgroup_size;         /* the default */
    uint32_t subgroup_min, subgroup_max; /* with subgroup size control, else both = subgroup_size */
    bool subgroup_size_control;     /* pipelines may require a subgroup size */
    uint32_t max_shared_memory;
    uint64_t max_storage_buffer_range;
    uint64_t max_memory_allocation_size;
    uint64_t max_buffer_size;
    uint32_t min_storage_buffer_offset_alignment;
    uint32_t max_workgroup_count[3];
    uint32_t max_workgroup_size[3];
    uint32_t max_workgroup_invocations;
    uint32_t max_push_constants_size;
    bool fp16_arithmetic;           /* shaderFloat16 */
    bool vulkan_memory_model;       /* vulkanMemoryModel (cooperative-matrix shaders declare it) */
    bool storage_16bit;             /* storageBuffer16BitAccess: fp16 weights and KV cache */
    bool storage_8bit;              /* storageBuffer8BitAccess */
    bool integer_dot_product;       /* VK_KHR_shader_integer_dot_product */
    bool coopmat_khr;               /* VK_KHR_cooperative_matrix */
    bool coopmat_nv;                /* VK_NV_cooperative_matrix */
    uint32_t n_coopmat_shapes;      /* fp16 x fp16 -> fp32 shapes on offer, subgroup scope, */
    struct { uint32_t m, n, k; bool khr; } coopmat_shapes[VKG_MAX_COOPMAT_SHAPES]; /* per extension */
    bool buffer_device_address;
    bool timestamps;                /* compute queue supports timestamps */
    double timestamp_period_ns;     /* nanoseconds per timestamp tick */
    uint32_t n_heaps;
    struct { uint64_t size, budget; bool device_local; } heaps[VKG_MAX_HEAPS];
    bool host_visible_device_memory; /* device-local memory the host can map (UMA, ReBAR, CPU) */
} vkg_device_info;

/* List every Vulkan device (temporary instance; no context needed). *infos is allocated; free it with
 * free(). *default_index is the device vkg_context_create would choose without an override.
 * VKG_ERROR_NO_LOADER when libvulkan cannot be loaded, VKG_ERROR_NO_DEVICE when there is none. */
vkg_status vkg_devices_list(vkg_device_info **infos, uint32_t *count, uint32_t *default_index);

typedef struct vkg_context_options {
    int device_index; /* -1: $VKG_DEVICE if set, else the first discrete GPU, then integrated,
                         virtual, CPU */
    int validation;   /* -1: from $VKG_VALIDATION; 0 off; 1 Khronos validation + synchronization
                         validation (fails with VKG_ERROR_FEATURE_MISSING if the layer is absent) */
} vkg_context_options;

/* Defaults: device_index -1, validation -1. */
vkg_context_options vkg_context_default_options(void);

/* Create the Vulkan instance and logical device. opts may be NULL (defaults). The context owns all
 * device memory and pipelines made through it; destroy it last. */
vkg_status vkg_context_create(const vkg_context_options *opts, vkg_context **out);
void vkg_context_destroy(vkg_context *ctx);
const vkg_device_info *vkg_context_device(const vkg_context *ctx);
/* Validation warnings and errors seen so far (0 when validation is off). */
uint64_t vkg_context_validation_messages(const vkg_context *ctx);
/* Human-readable name of a device type ("discrete GPU", "CPU", ...). */
const char *vkg_device_type_str(vkg_device_type t);

/* ---- model and session (src/model, src/session) ---- */

typedef struct vkg_model vkg_model;
typedef struct vkg_session vkg_session;

/* Storage precision of weights or of the KV cache. Arithmetic is always fp32. */
typedef enum vkg_precision {
    VKG_PRECISION_F32 = 0,
    VKG_PRECISION_F16 = 1,  /* needs 16-bit storage (vkg_device_info.storage_16bit) */
    VKG_PRECISION_BF16 = 2, /* weights only: 16-bit words widened in the shader (no bf16 extension);
                               needs 16-bit storage */
    VKG_PRECISION_AUTO = 3, /* weights only: as the checkpoint stores its matrices (bf16 stays bf16,
                               f16 stays f16, anything else f32); synthetic models: f32 */
} vkg_precision;

/* Block formats the matrices of a model may be quantized to at load time (ggml's layouts, read by
 * the matmul kernels as they are). Round-to-nearest; see README for how it compares with llama.cpp's
 * quantizers. */
typedef enum vkg_quant {
    VKG_QUANT_NONE = 0,
    VKG_QUANT_Q8_0 = 1,  /* 8.5 bits per weight */
    VKG_QUANT_Q6_K = 2,  /* 6.56 */
    VKG_QUANT_Q5_K = 3,  /* 5.5 */
    VKG_QUANT_Q4_K = 4,  /* 4.5 */
    VKG_QUANT_Q4_0 = 5,  /* 4.5 */
} vkg_quant;

/* ---- the family-neutral decoder description ----
 * Every model vkgpt runs is a pre-norm decoder: x = embed(tokens) [+ learned positions]; per layer
 *   x += o_proj(attention(norm(x)))    attention: q/k/v projections, optional per-head q/k RMSNorm,
 *                                      optional RoPE, grouped-query causal attention (optional window)
 *   x += mlp(norm(x))                  gated: down(silu(gate(h)) * up(h)); plain: down(act(up(h)))
 * then logits = lm_head(norm(x)). A family (src/model/family_*.c) maps its config.json and tensor
 * names onto this struct; nothing below the model layer asks which family it is. */
typedef enum vkg_norm_kind {
    VKG_NORM_LAYERNORM = 0, /* (x - mean) / sqrt(var + eps) * w + b */
    VKG_NORM_RMSNORM = 1,   /* x / sqrt(mean(x^2) + eps) * w */
} vkg_norm_kind;

typedef enum vkg_activation {
    VKG_ACT_GELU_TANH = 0, /* GPT-2's gelu_new */
    VKG_ACT_SILU = 1,      /* x * sigmoid(x) (SwiGLU when the MLP is gated) */
} vkg_activation;

typedef enum vkg_position_kind {
    VKG_POS_LEARNED = 0,   /* a [n_positions, d] table added to the token embedding (GPT-2) */
    VKG_POS_ROPE = 1,      /* rotary embeddings on q and k */
} vkg_position_kind;

typedef enum vkg_rope_pairing {
    VKG_ROPE_HALF = 0,     /* rotate-half: dims (i, i + hd/2) form a pair (Hugging Face) */
    VKG_ROPE_ADJACENT = 1, /* dims (2i, 2i + 1) (GGUF Llama files, whose q/k rows were permuted) */
} vkg_rope_pairing;

typedef enum vkg_rope_scaling {
    VKG_ROPE_SCALING_NONE = 0,
    VKG_ROPE_SCALING_LINEAR = 1, /* inverse frequencies / factor */
    VKG_ROPE_SCALING_LLAMA3 = 2, /* Llama 3.1's band-wise rule (factor, low/high_freq_factor,
                                    original_max_position_embeddings) */
    VKG_ROPE_SCALING_FREQ_FACTORS = 3, /* inverse frequency i / freq_factors[i]: a file's own per-dimension
                                          divisors (GGUF rope_freqs.weight, how converted Llama 3.1+
                                          files carry the llama3 rule) */
} vkg_rope_scaling;

enum { VKG_ROPE_MAX_FREQS = 128 }; /* head_dim / 2 for the largest head_dim (256) */

enum { VKG_MAX_EOS = 8 };

typedef struct vkg_model_config {
    char family[16];          /* "gpt2", "llama", "mistral", "qwen2", "qwen3" (for messages only) */
    uint32_t n_layer;
    uint32_t d_model;         /* residual width (hidden_size, n_embd) */
    uint32_t n_head;          /* query heads */
    uint32_t n_kv_head;       /* K/V heads; divides n_head (1 = multi-query) */
    uint32_t head_dim;        /* need not be d_model / n_head (Qwen3); <= 256 */
    uint32_t d_ff;            /* MLP hidden width */
    uint32_t vocab_size;
    uint32_t n_positions;     /* the model's maximum context (rows of the learned table) */
    vkg_norm_kind norm;
    float norm_eps;
    vkg_activation act;
    bool gated_mlp;           /* gate/up/down (SwiGLU) instead of fc/proj */
    vkg_position_kind pos;
    struct {
        float theta;          /* base of the inverse frequencies (rope_theta) */
        vkg_rope_pairing pairing;
        vkg_rope_scaling scaling;
        float factor, low_freq_factor, high_freq_factor;
        uint32_t original_max_positions;
        float freq_factors[VKG_ROPE_MAX_FREQS]; /* FREQ_FACTORS: head_dim / 2 positive divisors */
    } rope;
    bool qkv_bias;            /* bias on the q, k, v projections */
    bool o_bias;              /* bias on the attention output projection */
    bool mlp_bias;            /* bias on the MLP projections */
    bool norm_bias;           /* LayerNorm has a bias (LayerNorm only) */
    bool qk_norm;             /* per-head RMSNorm over head_dim on q and k before RoPE (Qwen3) */
    bool tied_lm_head;        /* the LM head is the token embedding */
    uint32_t sliding_window;  /* 0: full causal attention; else a query sees the last W positions */
    float attn_scale;         /* factor on q.k (1/sqrt(head_dim) unless the family says otherwise) */
    bool attn_scale_inverse_layer; /* GPT-2's scale_attn_by_inverse_layer_idx: layer l also / (l+1) */
    int32_t bos_token_id;     /* -1: none */
    uint32_t n_eos;           /* end-of-sequence ids (config.json, generation_config.json), in range */
    int32_t eos_token_ids[VKG_MAX_EOS];
} vkg_model_config;

typedef struct vkg_model_options {
    vkg_precision weights;  /* default F32 */
    bool check_finite;      /* refuse weights holding NaN/Inf (VKG_ERROR_BAD_WEIGHTS); default true */
    vkg_quant quant;        /* quantize the linear layers' matrices (q/k/v, o, MLP, an untied LM head)
                               at load; the token embedding stays in `weights` precision, norms and
                               biases fp32. A matrix whose row length is not a whole number of the
                               format's blocks takes Q8_0 (32-element blocks), else stays unquantized.
                               GGUF files keep their own formats. Default NONE. */
    bool float_activations; /* block-format matmuls keep fp32 activations. By default, where the device has
                               int8 dot products (VK_KHR_shader_integer_dot_product; VKG_DISABLE_INT_DOT=1
                               turns them off), each such matmul's input is quantized to 8 bits per block
                               of 32 (as llama.cpp does), which is faster and changes logits slightly */
    /* Called as weights land on the device (bytes done, total); NULL for none. */
    void (*progress)(uint64_t done, uint64_t total, void *user);
    void *progress_user;
} vkg_model_options;

vkg_model_options vkg_model_default_options(void);

/* Load a model: a directory in Hugging Face layout (config.json + model.safetensors, or sharded with
 * model.safetensors.index.json; model_type gpt2, llama, mistral, qwen2 or qwen3), a .safetensors file
 * with config.json beside it, or a GGUF file (llama, qwen2, qwen3, gpt2; Q8_0/Q4_0/Q4_K/Q5_K/Q6_K
 * matrices stay in their formats). F32/F16/BF16 tensors are converted to opts->weights (AUTO: see
 * vkg_precision), linear layers quantized to opts->quant. The files are released before returning;
 * the model lives on the device until vkg_model_free. opts may be NULL. */
vkg_status vkg_model_load(vkg_context *ctx, const char *path, const vkg_model_options *opts, vkg_model **out);

/* A named synthetic configuration with seeded random weights generated on the fly: GPT-2 shapes
 * ("gpt-nano", "gpt-mini", "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"; vocab 50257, 2048
 * positions) and Llama-family shapes ("llama-nano", "tinyllama-1.1b", "llama3.2-1b", "qwen2.5-0.5b",
 * "qwen3-0.6b"). */
vkg_status vkg_model_synthetic(vkg_context *ctx, const char *name, uint64_t seed,
                               const vkg_model_options *opts, vkg_model **out);
/* The synthetic configuration `name`; VKG_ERROR_INVALID_ARGUMENT listing the names otherwise. */
vkg_status vkg_synthetic_config(const char *name, vkg_model_config *out);
/* NULL-terminated list of synthetic configuration names. */
const char *const *vkg_synthetic_names(void);

void vkg_model_free(vkg_model *m);
const vkg_model_config *vkg_model_get_config(const vkg_model *m);
uint64_t vkg_model_param_count(const vkg_model *m);
/* Bytes of weights on the device, and the bytes one decode step reads (all matrices once, the
 * embedding rows and small vectors; the KV cache read depends on the position: see
 * vkg_session_step_bytes). */
uint64_t vkg_model_weight_bytes(const vkg_model *m);
vkg_precision vkg_model_precision(const vkg_model *m);
vkg_context *vkg_model_context(const vkg_model *m);
/* Which matmul kernel prefill (M > 1) runs on this model's device, in words: "cooperative matrix
 * (VK_KHR_cooperative_matrix)", "... (VK_NV_cooperative_matrix)", "tiled", "vector (CPU device)";
 * when the device's cooperative matrices failed their self-check, "tiled (cooperative matrices
 * off: <why>)". Owned by the model. */
const char *vkg_model_prefill_matmul(const vkg_model *m);
/* Whether the model's block-format matmuls quantize their activations to 8 bits and use int8 dot
 * products (vkg_model_options.float_activations, VKG_DISABLE_INT_DOT); false for a model without
 * block-format matrices. */
bool vkg_model_int8_activations(const vkg_model *m);

/* What a model file holds, read without a device (for `vkgpt info`). */
typedef struct vkg_model_info {
    char format[16];           /* "safetensors" or "gguf" */
    bool has_weights;          /* false for a vocabulary-only GGUF (tokenizer and keys, no tensors) */
    vkg_model_config config;   /* valid when has_weights */
    char architecture[32];     /* config.json model_type or general.architecture */
    uint64_t n_tensors;
    uint64_t tensor_bytes;     /* of all tensor data in the files */
    uint32_t n_types;
    struct { char name[12]; uint64_t count, bytes; } types[16]; /* per tensor type ("F32", "Q4_K", ...) */
} vkg_model_info;

/* Inspect a model directory, .safetensors or .gguf file: checks and maps it as vkg_model_load does,
 * but uploads nothing. The same errors as vkg_model_load for bad files. */
vkg_status vkg_model_inspect(const char *path, vkg_model_info *out);

typedef struct vkg_session_options {
    vkg_precision kv;  /* KV cache storage (F32 or F16); default F32 */
    uint32_t n_ctx;    /* positions the KV cache holds; 0: the model's n_positions capped at 4096.
                          More than n_positions is refused. */
    bool no_kv_cache;  /* the uncached baseline: every step recomputes the whole sequence */
} vkg_session_options;

vkg_session_options vkg_session_default_options(void);

/* A session: the model plus its own KV cache (per layer K and V for the K/V heads only, sized for
 * the session's context, allocated here once and updated in place) and its recorded decode step.
 * VKG_ERROR_OUT_OF_DEVICE_MEMORY (with the sizes) when the context does not fit the device. Several sessions may share a model
 * and run on different threads. */
vkg_status vkg_session_create(vkg_model *m, const vkg_session_options *opts, vkg_session **out);
void vkg_session_free(vkg_session *s);
/* Forget the sequence (position 0); the cache memory stays. */
void vkg_session_reset(vkg_session *s);
/* Tokens in the sequence so far (the next token's position). */
uint32_t vkg_session_pos(const vkg_session *s);
/* Forget every token from position `pos` on (pos <= vkg_session_pos): the next token goes to `pos`.
 * Cached positions before it stay valid. VKG_ERROR_INVALID_ARGUMENT past the end. */
vkg_status vkg_session_truncate(vkg_session *s, uint32_t pos);

/* Append `n` tokens in one pass (prefill) and compute the next-token distribution of the last one.
 * With `all_logits` (n x vocab floats) the logits of every appended position are written there.
 * VKG_ERROR_CONTEXT_FULL if pos + n > the session's context; VKG_ERROR_TOKEN_RANGE for a bad id. Without the
 * KV cache (no_kv_cache) the whole sequence so far is recomputed. */
vkg_status vkg_session_prefill(vkg_session *s, const int32_t *tokens, uint32_t n, float *all_logits);
/* Append one token: one submission of the recorded decode step (or, without the cache, a full
 * recomputation). */
vkg_status vkg_session_step(vkg_session *s, int32_t token);
/* The most likely next token after the last prefill/step, computed on the device. */
int32_t vkg_session_argmax(const vkg_session *s);
/* Copy the last position's logits (vocab floats). After vkg_session_step this reads them back from
 * the device; set vkg_session_want_logits(s, true) first so the step copies them out. */
vkg_status vkg_session_logits(vkg_session *s, float *logits);
void vkg_session_want_logits(vkg_session *s, bool want);
/* Bytes a decode step at the current position reads: weights + KV cache (for GB/s reports). */
uint64_t vkg_session_step_bytes(const vkg_session *s);
/* Positions the session's KV cache holds (its context), and the cache's size on the device. */
uint32_t vkg_session_ctx(const vkg_session *s);
uint64_t vkg_session_kv_bytes(const vkg_session *s);

/* ---- batched decoding (src/batch.c) ---- */

/* Several sessions of one model advanced in one decode step (a server's continuous batching): the
 * matmuls run once with one row per session, so the weights are read once per step for all of them,
 * while each session's embedding, RoPE, cache write and attention run against its own KV cache at its
 * own position. Every row is computed exactly as vkg_session_step would compute it alone, so tokens
 * and logits do not depend on the other sessions in the batch. */
typedef struct vkg_batch vkg_batch;

enum { VKG_BATCH_MAX = 64 };

/* Buffers for decoding up to max_sessions (1..VKG_BATCH_MAX) sessions of `m` together. */
vkg_status vkg_batch_create(vkg_model *m, uint32_t max_sessions, vkg_batch **out);
void vkg_batch_free(vkg_batch *b);

/* Append tokens[i] to sessions[i] for i < n (distinct sessions of the batch's model, each with a KV
 * cache), in one submission. Afterwards each session is as after vkg_session_step: its position moved
 * on by one, vkg_session_argmax and (with vkg_session_want_logits) vkg_session_logits give its next
 * token's distribution. The step is recorded once per list of sessions and replayed while the list
 * (and the sessions' logits wishes) stay the same. On failure no session has moved. */
vkg_status vkg_batch_step(vkg_batch *b, vkg_session *const *sessions, const int32_t *tokens, uint32_t n);

/* ---- tokenizer (src/tokenizer) ---- */

/*
 * Hugging Face tokenizers as their tokenizer.json describes them: added tokens are cut out of the
 * text first (longest match first; lstrip, rstrip, single_word, normalized honoured), the rest is
 * normalized (Sequence, Prepend, Replace, NFC/NFD/NFKC/NFKD, Lowercase, Strip), pre-tokenized
 * (Sequence, Split with a String or Regex pattern and any delimiter behaviour, ByteLevel,
 * Metaspace, Digits, Whitespace, WhitespaceSplit, Punctuation; regexes through PCRE2 with Unicode
 * properties), encoded by the BPE model (merges as "a b" or ["a", "b"], byte_fallback,
 * ignore_merges, unk_token, fuse_unk, continuing_subword_prefix, end_of_word_suffix), and the
 * post-processor's special tokens go around it (TemplateProcessing's single template,
 * RobertaProcessing, BertProcessing, ByteLevel, Sequence). Decoding runs the decoder chain
 * (ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence). A file that uses any other
 * component is refused with VKG_ERROR_TOKENIZER naming it; it is never encoded by another rule.
 * Padding and truncation settings are not applied.
 *
 * GPT-2's vocab.json + merges.txt (without a tokenizer.json) are the same BPE with a ByteLevel
 * pre-tokenizer (GPT-2's pattern) and decoder, and no added tokens: "<|endoftext|>" in the text is
 * encoded as ordinary characters, as GPT-2's reference encoder does.
 *
 * Bytes are not text: input that is not valid UTF-8 is accepted (each run of invalid bytes is a
 * piece of its own; a byte-level or byte_fallback vocabulary gives every byte a token), and
 * decoding returns bytes as the tokens give them, where Hugging Face would write U+FFFD for bytes
 * that are not valid UTF-8. Lowercase uses Unicode's simple case mapping.
 *
 * A vkg_tokenizer is immutable once loaded: any number of threads may encode and decode with it.
 */
typedef struct vkg_tokenizer vkg_tokenizer;

/* Loads the tokenizer of a model directory: tokenizer.json (+ tokenizer_config.json beside it, for
 * the bos/eos/unk/pad tokens and add_bos_token/add_eos_token) when it is there, otherwise
 * vocab.json + merges.txt. On success *out is yours; release it with vkg_tokenizer_free().
 * Returns VKG_ERROR_IO when no tokenizer files are there (the message names the directory and the
 * files looked for) and VKG_ERROR_TOKENIZER when their content is malformed or uses a component
 * vkgpt does not implement (the message names the file and the entry or component), or when the
 * directory has only a SentencePiece tokenizer.model (the message says tokenizer.json is needed).
 * `model_dir` may also be a .gguf file (told by its magic): the tokenizer in its tokenizer.ggml.*
 * metadata, tokenizer.ggml.model "gpt2" (byte-level BPE; tokenizer.ggml.pre llama-bpe, qwen2,
 * gpt-2 or smollm) or "llama" (SentencePiece BPE, merges by score, byte fallback); any other model
 * or pre-tokenizer is VKG_ERROR_TOKENIZER naming it. */
vkg_status vkg_tokenizer_load(const char *model_dir, vkg_tokenizer **out);

/* Releases a tokenizer; NULL is ignored. */
void vkg_tokenizer_free(vkg_tokenizer *tok);

/* Encodes `len` bytes of `text` (no NUL needed; NUL bytes are ordinary characters) as Hugging
 * Face's tokenizer(text, add_special_tokens=add_special) does: added tokens written in the text
 * become their ids either way; `add_special` adds the post-processor's special tokens (BOS for
 * Llama 2, nothing for Llama 3's and Qwen3's tokenizer.json), or, when the file has no
 * post-processor that adds any, tokenizer_config.json's add_bos_token / add_eos_token. On success
 * *ids is a malloc()ed array of *n_ids ids that the caller releases with free() (never NULL, even
 * when *n_ids is 0). On failure *ids is NULL and *n_ids is 0. */
vkg_status vkg_tokenizer_encode(const vkg_tokenizer *tok, const char *text, size_t len,
                                bool add_special, int32_t **ids, size_t *n_ids);

/* Decodes ids to bytes as Hugging Face's tokenizer.decode(ids, skip_special_tokens=skip_special)
 * does: special tokens decode to their text (e.g. "<|im_end|>") unless `skip_special`. The result
 * may be invalid UTF-8 when the ids are (a character split off at either end). On success *text is
 * a malloc()ed, NUL-terminated buffer of *len bytes (not counting the NUL) that the caller releases
 * with free(). VKG_ERROR_TOKEN_RANGE names the first id that is not in the vocabulary. */
vkg_status vkg_tokenizer_decode(const vkg_tokenizer *tok, const int32_t *ids, size_t n,
                                bool skip_special, char **text, size_t *len);

/* Largest token id + 1 (50257 for GPT-2, 151669 for Qwen3); 0 for NULL. */
size_t vkg_tokenizer_vocab_size(const vkg_tokenizer *tok);

/* One line saying what the tokenizer is, for people (`vkgpt info`): its source, the model and the
 * pre-tokenizer, e.g. "GGUF tokenizer.ggml.model gpt2: byte-level BPE, pre-tokenizer llama-bpe".
 * Owned by the tokenizer. */
const char *vkg_tokenizer_summary(const vkg_tokenizer *tok);

/* The roles of special tokens, as tokenizer_config.json names them (bos_token, ...). */
typedef enum vkg_token_role {
    VKG_TOKEN_BOS = 0,
    VKG_TOKEN_EOS = 1,
    VKG_TOKEN_UNK = 2,
    VKG_TOKEN_PAD = 3,
} vkg_token_role;

/* The id of the token in `role`, -1 when there is none. From tokenizer_config.json; without one,
 * EOS is "<|endoftext|>" when the vocabulary has it (GPT-2) and BOS is the post-processor's first
 * special token. A role whose text is not a token of the vocabulary has no id. */
int32_t vkg_tokenizer_role_id(const vkg_tokenizer *tok, vkg_token_role role);

/* The text of the token in `role` (what a chat template's bos_token etc. is), NULL when there is
 * none. Owned by the tokenizer. */
const char *vkg_tokenizer_role_text(const vkg_tokenizer *tok, vkg_token_role role);

/* vkg_tokenizer_role_id(tok, VKG_TOKEN_EOS) and VKG_TOKEN_BOS. */
int32_t vkg_tokenizer_eos(const vkg_tokenizer *tok);
int32_t vkg_tokenizer_bos(const vkg_tokenizer *tok);

/* Whether vkg_tokenizer_encode(..., add_special = true, ...) puts BOS first; then a chat template
 * that writes bos_token itself should be encoded with add_special = false. */
bool vkg_tokenizer_adds_bos(const vkg_tokenizer *tok);

/* Whether `id` is a special added token (what skip_special drops); false outside the vocabulary. */
bool vkg_tokenizer_is_special(const vkg_tokenizer *tok, int32_t id);

/* The ids that end a turn or the text, as far as the tokenizer can tell: the EOS token and the
 * special tokens families use for it ("<|im_end|>", "<|eot_id|>", "<|eom_id|>",
 * "<|end_of_text|>", "<|endoftext|>", "</s>", "<end_of_turn>", "<|end|>", ...). A model's
 * generation_config.json may name more. *ids points into the tokenizer; returns the count. */
size_t vkg_tokenizer_end_ids(const vkg_tokenizer *tok, const int32_t **ids);

/* The id of a token given as the vocabulary spells it (byte-level form: "\u0120the" for " the",
 * "\u2581the" in a SentencePiece-style vocabulary, or an added token's text such as
 * "<|im_end|>"); -1 when there is none. */
int32_t vkg_tokenizer_token_id(const vkg_tokenizer *tok, const char *spelling);

/* The bytes token `id` decodes to in the middle of a text (the decoder chain applied; a leading
 * space that decoding drops from the first token is kept). *bytes points into the tokenizer (not
 * NUL-terminated) and stays valid until vkg_tokenizer_free(). VKG_ERROR_TOKEN_RANGE for an id
 * outside the vocabulary. */
vkg_status vkg_tokenizer_token_bytes(const vkg_tokenizer *tok, int32_t id, const char **bytes,
                                     size_t *len);

/* Streaming decoder for generation: push one token at a time and print what comes back; the text
 * of a stream equals vkg_tokenizer_decode() of its ids (skip_special false), except a Strip
 * decoder's stripping at the end. It only ever returns complete UTF-8 characters: a trailing
 * sequence that the next token may complete (an emoji split over two tokens, or <0xF0><0x9F>...
 * byte tokens) is held back, up to 3 bytes. Bytes that can never become valid UTF-8 are passed
 * through as they are, not replaced. What the decoder drops at the start of a text (the leading
 * space of Llama 2's and Metaspace's first token) is dropped from the first token of the stream
 * only. */
typedef struct vkg_detok vkg_detok;

/* Creates a streaming decoder over `tok`, which must outlive it. Release with vkg_detok_destroy(). */
vkg_status vkg_detok_create(const vkg_tokenizer *tok, vkg_detok **out);

/* Releases a streaming decoder; NULL is ignored. */
void vkg_detok_destroy(vkg_detok *d);

/* Adds token `id`; *text and *len receive the bytes now complete (possibly none). *text is
 * NUL-terminated, owned by the decoder and valid until its next push, flush or destroy. */
vkg_status vkg_detok_push(vkg_detok *d, int32_t id, const char **text, size_t *len);

/* Call at the end of a stream: returns the held-back bytes (an incomplete, thus invalid, UTF-8
 * sequence, or nothing) with the same ownership as vkg_detok_push, and empties the decoder so that
 * it can start a new stream (whose first token is again a first token). */
vkg_status vkg_detok_flush(vkg_detok *d, const char **text, size_t *len);

/* ---- chat templates (src/template) ---- */

/*
 * A Jinja2 interpreter for chat templates, rendering exactly as Hugging Face transformers'
 * apply_chat_template does: trim_blocks and lstrip_blocks on, loop controls, an immutable sandbox
 * (no list/dict mutation; namespace attributes may be set), `tojson` as json.dumps(x,
 * ensure_ascii=False, indent, separators, sort_keys), undefined values printing as "" (attribute
 * access on an undefined value is an error, as in Jinja), the globals raise_exception(msg) and
 * strftime_now(fmt), and Python's semantics for truthiness, `in`, slicing, arithmetic and printing
 * (None, True, 1.5, [1, 'a']). Integers are 64-bit (Python's are unbounded: overflow is an error).
 *
 * Variables of a render: messages, tools (None when not given), documents (None),
 * add_generation_prompt, and bos_token/eos_token/unk_token/pad_token when set (an unset one is
 * undefined, as in transformers, which passes only the special tokens a tokenizer has), plus any
 * extra ones given as a JSON object (e.g. {"enable_thinking": false}).
 *
 * Every render is bounded: 16 MiB of output, 256 MiB of values, 20 million evaluation steps,
 * 200 levels of nesting (macro recursion); passing one fails with VKG_ERROR_TEMPLATE. A compiled
 * template is immutable: any number of threads may render it at once.
 */
typedef struct vkg_template vkg_template;

/* The special-token strings a template sees; NULL members are left undefined. */
typedef struct vkg_template_tokens {
    const char *bos_token;
    const char *eos_token;
    const char *unk_token;
    const char *pad_token;
} vkg_template_tokens;

/* Compiles `len` bytes of Jinja source. VKG_ERROR_TEMPLATE for a syntax error, with the line and
 * column in vkg_last_error() ("template syntax error at line 3, column 14: ..."). Release the
 * result with vkg_template_free(). */
vkg_status vkg_template_compile(const char *source, size_t len, vkg_template **out);

/* Loads and compiles a model directory's chat template: tokenizer_config.json's "chat_template"
 * (a string, or a list of {"name", "template"} of which "default" is taken), else
 * chat_template.jinja, else chat_template.json's "chat_template", with the special tokens of
 * tokenizer_config.json (a string, or an AddedToken object's "content"). `template_file`, when not
 * NULL, replaces the model's template (a file of Jinja source); model_dir may then be NULL (no
 * special tokens). VKG_ERROR_IO when the directory or file cannot be read or has no template (the
 * message names the files looked for), VKG_ERROR_TEMPLATE when a file is malformed. model_dir may
 * also be a .gguf file (told by its magic): its tokenizer.chat_template, with the special tokens
 * its tokenizer.ggml.bos/eos/unknown/padding_token_id name (VKG_ERROR_IO when it has no template). */
vkg_status vkg_template_load(const char *model_dir, const char *template_file, vkg_template **out);

/* The special tokens loaded with the template (all NULL after vkg_template_compile); owned by it. */
const vkg_template_tokens *vkg_template_special_tokens(const vkg_template *t);

/* Renders a compiled template. messages_json: a JSON array of message objects (content a string,
 * a list of parts or null; tool_calls, reasoning_content, name and any other keys pass through);
 * tools_json: a JSON array or NULL (tools is then None); special: NULL uses the template's own
 * (vkg_template_load's); extra_json: NULL or a JSON object of further variables. On success *out
 * is a malloc()ed, NUL-terminated string of *out_len bytes that the caller frees. Failures:
 * VKG_ERROR_TEMPLATE (malformed JSON, render errors, bounds), VKG_ERROR_TEMPLATE_RAISED
 * (raise_exception: vkg_last_error() is its message). */
vkg_status vkg_template_apply(const vkg_template *t, const char *messages_json, const char *tools_json,
                              bool add_generation_prompt, const vkg_template_tokens *special,
                              const char *extra_json, char **out, size_t *out_len);

/* Releases a template; NULL is ignored. */
void vkg_template_free(vkg_template *t);

/* Compile + apply in one call (no extra variables). */
vkg_status vkg_template_render(const char *tmpl, size_t tmpl_len, const char *messages_json,
                               const char *tools_json, bool add_generation_prompt,
                               const vkg_template_tokens *special, char **out, size_t *out_len);

/* ---- sampler (src/sample.c) ---- */

/* How the next token is chosen from a vector of logits. The steps run in this order, each on the
 * result of the one before (as Hugging Face transformers and llama.cpp do):
 *   repetition penalty -> temperature -> top-k -> top-p -> min-p -> draw.
 * Start from vkg_sampler_defaults() and change what you need. */
typedef struct vkg_sampler_params {
    float temperature;        /* logits are divided by it; 0 = greedy (argmax, lowest id on a tie,
                                 after the penalty; the other filters then do not matter). >= 0.
                                 Default 1. */
    int32_t top_k;            /* keep the k most likely tokens; 0 = off. >= 0. Default 0. */
    float top_p;              /* nucleus: keep the most likely tokens whose probabilities, summed in
                                 decreasing order, first reach top_p (at least one token);
                                 1 = off. In [0, 1]. Default 1. */
    float min_p;              /* drop tokens whose probability is below min_p times the largest
                                 one; 0 = off. In [0, 1]. Default 0. */
    float repetition_penalty; /* for every distinct token in the history: a logit > 0 is divided by
                                 it, a logit <= 0 multiplied by it (CTRL / Hugging Face); 1 = off.
                                 > 0. Default 1. */
    uint64_t seed;            /* seed of the sampler's own PRNG (xoshiro256**): the same seed, params
                                 and logits give the same tokens on every machine. Default 0. */
} vkg_sampler_params;

typedef struct vkg_sampler vkg_sampler;

/* Default parameters: temperature 1, every filter off, seed 0 (plain sampling from softmax). */
vkg_sampler_params vkg_sampler_defaults(void);

/* Creates a sampler for logit vectors of up to `vocab_size` entries; all scratch memory is
 * allocated here, so sampling never allocates. VKG_ERROR_INVALID_ARGUMENT (naming the field) for
 * parameters outside the ranges above or a vocab_size of 0. Release with vkg_sampler_destroy(). */
vkg_status vkg_sampler_create(const vkg_sampler_params *params, size_t vocab_size,
                              vkg_sampler **out);

/* Releases a sampler; NULL is ignored. */
void vkg_sampler_destroy(vkg_sampler *s);

/* Chooses the next token from `n_vocab` logits (1 <= n_vocab <= the vocab_size given at create;
 * the logits are not modified). `history` (may be NULL when n_history is 0) is the tokens the
 * repetition penalty looks at, usually prompt + generated so far. -inf logits mark tokens that may
 * not be chosen. VKG_ERROR_INVALID_ARGUMENT for a NaN or +inf logit (the message names its index)
 * or when every logit is -inf; VKG_ERROR_TOKEN_RANGE for a history id outside [0, n_vocab). */
vkg_status vkg_sampler_sample(vkg_sampler *s, const float *logits, size_t n_vocab,
                              const int32_t *history, size_t n_history, int32_t *out_token);

/* Restarts the random sequence from the seed given at create: the next draws repeat the first. */
void vkg_sampler_reset(vkg_sampler *s);

/* Restarts the random sequence from a new seed (which reset() will also use from now on). */
void vkg_sampler_reseed(vkg_sampler *s, uint64_t seed);

/* ---- benchmarks (src/bench) ---- */

/*
 * Shader-level benchmarks, for `vkgpt bench ops` and for users comparing GPUs. Nothing here is on
 * the inference path. GPU times come from timestamp queries written around a recording of `reps`
 * back-to-back copies of the measured work (each copy depends on the one before, so a barrier
 * separates them, as in the model's graph); a sample is that span divided by `reps`. Before
 * sampling, the work runs once to warm up (pipeline creation, first touch of memory) and `reps` is
 * chosen so that one sample lasts about `sample_time_s`; samples are then taken until they add up
 * to `min_time_s` and number at least `min_samples` (at most `max_samples`), and the median is
 * reported. Devices without timestamps on the compute queue are timed with the host clock around
 * submit + wait instead (the result says which).
 */

/* The device's own peaks, measured on the spot by built-in probe kernels. */
typedef struct vkg_probe_results {
    double read_gbps;     /* streaming read of a large buffer, 1e9 bytes/s (median) */
    uint64_t read_bytes;  /* size of that buffer */
    double fma_gflops;    /* fp32 FMA throughput, 1e9 FLOP/s (an FMA counts 2; median) */
    double dispatch_us;   /* one small dependent dispatch + compute-to-compute barrier, microseconds
                             (median of a chain of 64) */
    double submit_us;     /* an empty submission + fence wait as the host sees it, microseconds */
    bool gpu_timestamps;  /* false: the device has no timestamps; host clock used */
} vkg_probe_results;

/* Seconds on a monotonic clock, and the median of n values (a sorted copy; 0 for n == 0): the timing
 * helpers the library's measurements and the benchmark commands share. */
double vkg_bench_now(void);
double vkg_bench_median(const double *v, uint32_t n);

typedef struct vkg_probe_options {
    uint64_t read_bytes;  /* buffer the read probe streams; 0: min(maxStorageBufferRange, 512 MiB,
                             a quarter of the largest device-local heap). Rounded down to 64 KiB. */
    double min_time_s;    /* sampling time per probe; 0: 0.05 s */
} vkg_probe_options;

/* Run the three probes and the submit probe on ctx's device (allocates and frees its own buffers;
 * takes about 4 x min_time_s plus warm-up). opts may be NULL (defaults). */
vkg_status vkg_probe_run(vkg_context *ctx, const vkg_probe_options *opts, vkg_probe_results *out);

/* One measured kernel at one shape, handed to the vkg_bench_ops_run callback. */
typedef struct vkg_bench_op {
    const char *name;         /* "matmul_vec qkv", "attention_decode", ...: kernel and role */
    const char *shape;        /* "M=1 N=2304 K=768", "T=1024 H=12 hd=64", ... */
    uint32_t dispatches;      /* dispatches one copy of the op records */
    uint64_t bytes;           /* bytes the op must move at least (reads + writes of its tensors) */
    uint64_t flops;           /* floating-point operations (FMA = 2, exp/tanh = 1); 0 where the op
                                 does no arithmetic worth counting (copies, argmax) */
    double median_ns;         /* GPU time of one copy of the op: median over samples */
    double min_ns;
    uint32_t reps;            /* copies per sample */
    uint32_t n_samples;
    const double *samples_ns; /* every sample (time of one copy); valid during the callback only */
    bool gpu_timestamps;      /* false: host clock around submit + wait (includes the submission) */
} vkg_bench_op;

typedef struct vkg_bench_ops_options {
    const char *config;       /* synthetic configuration whose shapes are used; default "gpt2" */
    vkg_precision weights;    /* matrix and embedding storage; default F32 */
    vkg_precision kv;         /* KV cache storage; default F32 */
    vkg_quant quant;          /* the linear layers' matmuls on this block format (as --quant would store
                                 them: Q8_0 where rows are not whole K-blocks); default NONE */
    uint32_t prefill_rows;    /* M of the prefill matmuls and rows of the prefill row-wise ops;
                                 0: 512 (a session's largest pass), capped at n_positions */
    const char *filter;       /* only ops whose name contains this substring; NULL: all */
    double sample_time_s;     /* target length of one sample; default 0.002 */
    double min_time_s;        /* keep sampling until samples add up to this; default 0.02 */
    uint32_t min_samples;     /* default 5 */
    uint32_t max_samples;     /* default 200 */
} vkg_bench_ops_options;

vkg_bench_ops_options vkg_bench_ops_default_options(void);

/* Called once per measured op, in a fixed order (matmuls, row-wise ops, KV store, attention at
 * several contexts, argmax). */
typedef void (*vkg_bench_op_fn)(const vkg_bench_op *op, void *user);

/* Measure every kernel of the model at the shapes of opts->config (decode shapes M = 1, prefill
 * shapes M = prefill_rows; attention decode at contexts 128, 512, 1024, 2048 and prefill at 128 and
 * 512 where they fit n_positions; the cooperative-matrix matmul where the device offers it). Inputs
 * are constant-filled buffers (values do not change these kernels' speed). opts may be NULL.
 * VKG_ERROR_INVALID_ARGUMENT for an unknown config or a filter matching nothing;
 * VKG_ERROR_FEATURE_MISSING for f16 storage without 16-bit storage. */
vkg_status vkg_bench_ops_run(vkg_context *ctx, const vkg_bench_ops_options *opts, vkg_bench_op_fn fn,
                             void *user);

#ifdef __cplusplus
}
#endif
#endif /* VKGPT_H */
