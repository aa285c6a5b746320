/*
 * kernels/kernels.h — what every kernel host wrapper shares. A wrapper checks shapes against device
 * limits, fills its push-constant block (declared in shaders/<family>_push.h, shared with GLSL),
 * picks the pipeline variant (fp32, fp16 or bf16 storage, subgroup size) and records the dispatches into a
 * vkg_cmd. Wrappers know nothing of any model family.
 *
 * Conventions:
 *   - Activations are fp32 [rows, cols] row-major. Weights are vkg_matrix: [N, K] row-major, i.e. each
 *     output's K inputs contiguous (the transpose of Hugging Face's Conv1D [K, N]; the LM head's tied
 *     wte [V, d] is already in this layout), fp32, fp16 or bf16 storage, or one of ggml's block formats
 *     (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K: raw blocks, read by kernels/matmul_quant.h). Biases, norm weights are fp32 vectors. Arithmetic is always fp32.
 *   - A vkg_matrix may be larger than one storage-buffer binding (maxStorageBufferRange); wrappers
 *     that read one split it into row chunks with vkg_rows_per_binding() and dispatch per chunk.
 *   - Values that change per decode step (position, token ids) are read by the shaders from a small
 *     device buffer laid out as vkg_step (shaders/step.h), so a recording replays for any position.
 */
#ifndef VKG_KERNELS_H
#define VKG_KERNELS_H

#include "vk/vk.h"

typedef enum vkg_storage {
    VKG_STORAGE_F32 = 0,
    VKG_STORAGE_F16 = 1,  /* needs storage_16bit; no fp16 arithmetic is used */
    VKG_STORAGE_BF16 = 2, /* weights only: 16-bit words, widened to fp32 in the shader (x << 16) */
    /* ggml's block formats (weights only; layouts in src/model/quant.h): a row of K elements is K /
     * block_elems blocks packed back to back, rows back to back. Read by kernels/matmul_quant.h. */
    VKG_STORAGE_Q8_0 = 3, /* 32 elements in 34 bytes */
    VKG_STORAGE_Q4_0 = 4, /* 32 elements in 18 bytes */
    VKG_STORAGE_Q4_K = 5, /* 256 elements in 144 bytes */
    VKG_STORAGE_Q5_K = 6, /* 256 elements in 176 bytes */
    VKG_STORAGE_Q6_K = 7, /* 256 elements in 210 bytes */
} vkg_storage;

static inline bool vkg_storage_is_block(vkg_storage s) { return s >= VKG_STORAGE_Q8_0 && s <= VKG_STORAGE_Q6_K; }

/* Bytes per element of F32, F16, BF16; 0 for the block formats (use vkg_storage_row_bytes). */
static inline uint32_t vkg_storage_bytes(vkg_storage s) {
    return s == VKG_STORAGE_F32 ? 4 : s == VKG_STORAGE_F16 || s == VKG_STORAGE_BF16 ? 2 : 0;
}

/* Elements and bytes of one block (1 and vkg_storage_bytes for F32, F16, BF16). */
static inline uint32_t vkg_storage_block_elems(vkg_storage s) {
    return s == VKG_STORAGE_Q8_0 || s == VKG_STORAGE_Q4_0 ? 32 : vkg_storage_is_block(s) ? 256 : 1;
}
static inline uint32_t vkg_storage_block_bytes(vkg_storage s) {
    static const uint8_t bytes[] = {4, 2, 2, 34, 18, 144, 176, 210};
    return (unsigned)s < sizeof bytes ? bytes[s] : 0;
}

/* Bytes of one row of `cols` elements; 0 when cols is not a whole number of blocks. */
static inline uint64_t vkg_storage_row_bytes(vkg_storage s, uint32_t cols) {
    uint32_t be = vkg_storage_block_elems(s);
    return cols % be ? 0 : (uint64_t)(cols / be) * vkg_storage_block_bytes(s);
}

/* A weight matrix [rows = N outputs, cols = K inputs] at byte `offset` of `buf`. */
typedef struct vkg_matrix {
    vkg_buffer *buf;
    uint64_t offset;
    uint32_t rows, cols;
    vkg_storage storage;
} vkg_matrix;

/* Which cooperative-matrix extension the tensor-core matmul runs through (the same shader, embedded
 * once per extension: shaders/matmul_coopmat.comp). */
typedef enum vkg_coopmat_api {
    VKG_COOPMAT_NONE = 0, /* no cooperative matrices: prefill takes the tiled path */
    VKG_COOPMAT_KHR,      /* VK_KHR_cooperative_matrix (AMD, Intel, NVIDIA): preferred */
    VKG_COOPMAT_NV,       /* VK_NV_cooperative_matrix (NVIDIA) */
} vkg_coopmat_api;

/* The kernel layer's settings for one context: which optional paths to use. */
typedef struct vkg_kernels {
    vkg_context *ctx;
    uint32_t subgroup_size; /* 0: the driver's default; else forced (tests force each size offered) */
    vkg_coopmat_api coopmat; /* the extension prefill matmuls with fp16 weights use, or NONE */
    /* The extension prefill matmuls with block-format weights use (matmul_quant.h), or NONE: its own
     * shaders, so its own self-check (vkg_matmul_q_coopmat_verify) turns it off without touching
     * `coopmat`, and the other way round. */
    vkg_coopmat_api coopmat_quant;
    /* Work distribution for a CPU driver (lavapipe): there every workgroup runs as a loop over SIMD
     * lanes on one core, so kernels take fewer, larger workgroups and avoid barriers in loops. Same
     * shaders, other specialization constants and grids. Default: the device type is CPU. Tests
     * set it both ways to cover both configurations on any device. */
    bool cpu_tuning;
    /* Quantized matmuls given pre-quantized activations (vkg_matmul_options.xq) use int8 dot products
     * (VK_KHR_shader_integer_dot_product; policy and numbers in kernels/matmul_quant.h). Default:
     * see vkg_kernels_default; only true where the device has the extension (else the matmul fails). */
    bool int_dot;
} vkg_kernels;

/* Defaults for `ctx`: driver's subgroup size, cooperative matrices when usable (KHR before NV; see
 * vkg_matmul_coopmat_usable) for both fp16 and block-format weights, CPU tuning on a CPU device, int8
 * dot products as matmul_quant.h says (never when VKG_DISABLE_INT_DOT is set: the device info then
 * reports none). */
vkg_kernels vkg_kernels_default(vkg_context *ctx);

/* Pipeline for a kernel with the settings of `k` applied (forced subgroup size). */
vkg_status vkg_kernels_pipeline(const vkg_kernels *k, vkg_kernel_desc desc, vkg_pipeline **out);

#endif /* VKG_KERNELS_H */
