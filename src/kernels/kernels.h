/*
 * kernels/kernels.h — what every kernel host wrapper shares. A wrapper checks shapes against device
 * limits, fills its push-constant block (declared in shaders/<family>_push.h, shared with GLSL),
 * picks the pipeline variant (fp32, fp16 or bf16 storage, subgroup size) and records the dispatches into a
 * vkg_cmd. Wrappers know nothing of any model family.
 *
 * Conventions:
 *   - Activations are fp32 [rows, cols] row-major. Weights are vkg_matrix: [N, K] row-major, i.e. each
 *     output's K inputs contiguous (the transpose of Hugging Face's Conv1D [K, N]; the LM head's tied
 *     wte [V, d] is already in this layout), fp32, fp16 or bf16 storage. Biases, norm weights are
 *     fp32 vectors. Arithmetic is always fp32.
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
} vkg_storage;

static inline uint32_t vkg_storage_bytes(vkg_storage s) { return s == VKG_STORAGE_F32 ? 4 : 2; }

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
    /* Work distribution for a CPU driver (lavapipe): there every workgroup runs as a loop over SIMD
     * lanes on one core, so kernels take fewer, larger workgroups and avoid barriers in loops. Same
     * shaders, other specialization constants and grids. Default: the device type is CPU. Tests
     * set it both ways to cover both configurations on any device. */
    bool cpu_tuning;
} vkg_kernels;

/* Defaults for `ctx`: driver's subgroup size, cooperative matrices when usable (KHR before NV; see
 * vkg_matmul_coopmat_usable), CPU tuning on a CPU device. */
vkg_kernels vkg_kernels_default(vkg_context *ctx);

/* Pipeline for a kernel with the settings of `k` applied (forced subgroup size). */
vkg_status vkg_kernels_pipeline(const vkg_kernels *k, vkg_kernel_desc desc, vkg_pipeline **out);

#endif /* VKG_KERNELS_H */
