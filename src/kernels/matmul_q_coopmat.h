/*
 * kernels/matmul_q_coopmat.h — block-format weights as fp16 tiles: the host side of the
 * cooperative-matrix prefill path for ggml block formats (shaders/matmul_q_coopmat.comp; the routing
 * and the dispatches are vkg_matmul_quant's, matmul_quant.h), its self-check, and W rows to fp16 rows
 * through the same staging code (shaders/dequant_f16.comp, quant_stage.glsl), which every device with
 * shaderFloat16 runs: that is how the staging is tested where no cooperative matrix exists.
 *
 * Precision of the path: X and the dequantized W are each rounded to fp16 once (W's values computed
 * in fp32 exactly as ggml first); products are exact and sums fp32. A dequantized |w| above 65504
 * becomes inf (see the shader's header for the scales that reach it).
 *
 * Not here: the tiled and vector paths (matmul_quant.c), the fp16-weight path (matmul.c).
 */
#ifndef VKG_KERNELS_MATMUL_Q_COOPMAT_H
#define VKG_KERNELS_MATMUL_Q_COOPMAT_H

#include "kernels/matmul.h"

/* Whether vkg_matmul_quant can take the COOPMAT path with `k`: k->coopmat_quant is not NONE and
 * vkg_matmul_coopmat_usable(k, k->coopmat_quant) (the fp16 path's requirements: the extension, an
 * fp16 shape, shaderFloat16, 16-bit storage, the memory model, 24 KB of shared memory, subgroup size
 * control with full subgroups). */
bool vkg_matmul_q_coopmat_usable(const vkg_kernels *k);

/* The pipeline of the COOPMAT path for `desc` (bindings and push size set, desc.shader naming the
 * format's variant for k->coopmat_quant): sets the workgroup, step and fragment shape, requires the
 * subgroup size. For vkg_matmul_quant; fails as vkg_pipeline_get, or FEATURE_MISSING when unusable.
 * emulated: desc.shader is the scalar test variant (VKG_MATMUL_PATH_COOPMAT_EMULATED): a workgroup of
 * 128, the step this device's shared memory allows, no subgroup requirement. */
vkg_status vkg_matmul_q_coopmat_pipeline(const vkg_kernels *k, vkg_kernel_desc desc, bool emulated,
                                         vkg_pipeline **out);

/* Run a known-exact product in block format `s` (M = 70, N = 72, K = 480 or 512: sizes off the 64 x 64
 * block; power-of-two scales and quants chosen so that every dequantized value is exact in fp16 and
 * every product and partial sum exact in fp32) through `path` and through the VECTOR path, and
 * compare bit for bit. *why: NULL when they agree, else a static string naming the format and what
 * went wrong (the path's pipeline could not be made or it refused, or a value differs). Fails only on
 * errors that would fail any kernel (memory, device lost). */
vkg_status vkg_matmul_quant_selfcheck(const vkg_kernels *k, vkg_storage s, vkg_matmul_path path, const char **why);

/* Check k->coopmat_quant once before trusting it: vkg_matmul_quant_selfcheck on the COOPMAT path for
 * every block format. On the first failure k->coopmat_quant becomes NONE (block formats take the
 * tiled path; k->coopmat, the fp16 weights' choice, is left as it is) and *why says why; else *why is
 * NULL. A no-op where k->coopmat_quant is NONE. */
vkg_status vkg_matmul_q_coopmat_verify(vkg_kernels *k, const char **why);

/* Record out[n, c] = fp16(W[n, c]) for every row n of `w` (a block format) and every column c below
 * out_cols, zeros for c >= w->cols: out is [w->rows, out_cols] halves (out_cols even, >= w->cols),
 * packed two to a 32-bit word. `step` is the staging width in elements (32, 64 or 128, what the
 * matmul stages per K step; 0: 64): tests run each. Needs shaderFloat16. W and out must each fit one
 * binding. Fails with VKG_ERROR_INVALID_ARGUMENT (not a block format, cols not whole blocks, bad
 * out_cols or step, views too small), VKG_ERROR_FEATURE_MISSING (no shaderFloat16),
 * VKG_ERROR_DEVICE_LIMIT (larger than one binding); messages name dequant_f16, the format and sizes. */
vkg_status vkg_dequant_f16(const vkg_kernels *k, vkg_cmd *cmd, vkg_view out, const vkg_matrix *w, uint32_t out_cols,
                           uint32_t step);

#endif /* VKG_KERNELS_MATMUL_Q_COOPMAT_H */
