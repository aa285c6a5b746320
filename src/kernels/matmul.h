/*
 * kernels/matmul.h — Y[M,N] = X[M,K] · W^T + b with a fused epilogue (GELU or residual add): the
 * linear layers and the LM head. W is a vkg_matrix [N,K] (row n = the K weights of output n), fp32,
 * fp16 or bf16 storage (both 16-bit kinds need 16-bit storage only; bf16 is widened in the shader);
 * X, Y, bias and the residual are fp32. Arithmetic is fp32 (the cooperative-matrix path rounds X to
 * fp16; it is used for fp16 W only: bf16 W takes the tiled path).
 *
 * Paths (shaders/matmul_*.comp):
 *   VECTOR   M = 1 decode: a memory-bound matrix-vector product streaming W with wide loads.
 *   TILED    M > 1 prefill: shared-memory tiles of 64 x 64 with 4 x 4 register micro-tiles.
 *   COOPMAT  M > 1 with fp16 W through the cooperative-matrix extension k->coopmat (KHR or NV): an
 *            fp16 FM x FN x 16 shape with FM, FN in {8, 16}, shaderFloat16, 16-bit storage and
 *            24 KB of shared memory, and subgroup size control: workgroups of exactly 4 full
 *            subgroups of a required size (32 where the device can run 32), see matmul.c.
 * Every path computes every M, so tests force each one at every shape.
 *
 * W may be larger than one storage binding: it is bound in row chunks of vkg_rows_per_binding() rows
 * and dispatched once per chunk (the LM head, wte [50257, 768] fp32, is 154 MB against lavapipe's
 * 128 MiB maxStorageBufferRange). X, Y and the residual must each fit one binding; the caller splits M.
 */
#ifndef VKG_KERNELS_MATMUL_H
#define VKG_KERNELS_MATMUL_H

#include "kernels/kernels.h"

typedef enum vkg_epilogue {
    VKG_EPILOGUE_NONE = 0,     /* Y = X·W^T + b */
    VKG_EPILOGUE_GELU = 1,     /* Y = gelu_new(X·W^T + b) (tanh approximation, after the bias) */
    VKG_EPILOGUE_RESIDUAL = 2, /* Y = X·W^T + b + R; R may be the very range of Y (x += ...) */
} vkg_epilogue;

typedef enum vkg_matmul_path {
    VKG_MATMUL_PATH_AUTO = 0, /* VECTOR for M = 1, else COOPMAT where usable, else TILED */
    VKG_MATMUL_PATH_VECTOR,
    VKG_MATMUL_PATH_TILED,
    VKG_MATMUL_PATH_COOPMAT,  /* through k->coopmat; VKG_ERROR_FEATURE_MISSING where it is NONE or
                                 not usable (vkg_matmul_coopmat_usable) */
    VKG_MATMUL_PATH_COOPMAT_EMULATED, /* tests only, block formats only (matmul_quant.h): the COOPMAT
                                 path's shader with scalar sums in place of the fragments, on any
                                 device with shaderFloat16; never chosen by AUTO */
} vkg_matmul_path;

/* Knobs for tests and benchmarks; zero-initialised means the defaults. */
typedef struct vkg_matmul_options {
    vkg_matmul_path path;
    uint32_t max_chunk_rows; /* 0: W chunks as large as one binding allows; else at most this many rows
                                (rounded down to keep chunk offsets aligned): exercises the chunking */
    uint32_t y_cols, y_col0; /* W's outputs are columns y_col0 .. y_col0 + N - 1 of a Y of y_cols columns
                                (0: Y is exactly [M, N]); bias and residual are then y_cols wide. For a
                                weight stored as row segments of different formats (GGUF files mix them) */
    bool decode_batch;       /* VECTOR path for M one-token sequences decoded together: the M = 1 work
                                split for every row (each row's result equal to a lone M = 1 product),
                                with up to 8 rows sharing each load of W */
    vkg_view xq;             /* xq.buf set: X already quantized by vkg_quantize_act (kernels/quantize_act.h)
                                into this view; a block-format W then takes the int8 dot-product path
                                where k->int_dot (see matmul_quant.h), else the usual path. x must
                                still be given and valid. Ignored for dense W */
} vkg_matmul_options;

/* Record Y[M,N] = epilogue(X[M,K] · W^T + bias) into `cmd`, with N = w->rows and K = w->cols.
 * y, x: fp32 views of at least M*N and M*K floats (only that much is bound). bias: NULL or a view of
 * at least N floats. residual: required for VKG_EPILOGUE_RESIDUAL (else ignored), at least M*N
 * floats; it may be exactly y (in place) but must not partly overlap it. Views must start at
 * offsets aligned to minStorageBufferOffsetAlignment, as must w->offset.
 * Fails with VKG_ERROR_INVALID_ARGUMENT (zero sizes, views too small, missing residual, bad
 * epilogue), VKG_ERROR_DEVICE_LIMIT (x, y or residual larger than one binding — split M),
 * VKG_ERROR_FEATURE_MISSING (fp16 or bf16 W without 16-bit storage); each message names matmul and
 * the sizes. */
vkg_status vkg_matmul(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, vkg_view x, const vkg_matrix *w,
                      const vkg_view *bias, const vkg_view *residual, uint32_t M, vkg_epilogue ep);

/* vkg_matmul with options (NULL: defaults). */
vkg_status vkg_matmul_ex(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, vkg_view x, const vkg_matrix *w,
                         const vkg_view *bias, const vkg_view *residual, uint32_t M, vkg_epilogue ep,
                         const vkg_matmul_options *opt);

/* Whether the cooperative-matrix path can run through extension `api` on this device for fp16 weights
 * with the settings of `k` (a forced subgroup size must be one the path can use). */
bool vkg_matmul_coopmat_usable(const vkg_kernels *k, vkg_coopmat_api api);

/* The cooperative-matrix workgroup vkg_matmul_coopmat_usable(k, api) approved: the fragment rows *fm
 * and columns *fn (8 or 16) and the subgroup size *sg the pipeline must require (the workgroup is 4
 * full subgroups of it). The block formats' path (matmul_quant.c) builds the same workgroup. False
 * (outputs untouched) where the path is not usable. */
bool vkg_matmul_coopmat_config(const vkg_kernels *k, vkg_coopmat_api api, uint32_t *fm, uint32_t *fn, uint32_t *sg);

/* Check k->coopmat on this device once before trusting it: a small prefill-shaped product whose
 * exact result is known (inputs exactly representable in fp16) runs through the cooperative-matrix
 * path. If its pipeline cannot be built or any element differs, k->coopmat becomes NONE (the tiled
 * path) and *why says what happened (a static string); else *why is NULL. Fails only on errors that
 * would fail any kernel (out of memory, device lost). */
vkg_status vkg_matmul_coopmat_verify(vkg_kernels *k, const char **why);

/* Number of W chunks (dispatches per path) vkg_matmul_ex records for `w` under `opt` (NULL: defaults). */
uint32_t vkg_matmul_chunk_count(const vkg_kernels *k, const vkg_matrix *w, const vkg_matmul_options *opt);

#endif /* VKG_KERNELS_MATMUL_H */
