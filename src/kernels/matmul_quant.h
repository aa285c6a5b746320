/*
 * kernels/matmul_quant.h — Y[M,N] = X[M,K] · W^T + b with a fused epilogue, for W [N, K] stored in one
 * of ggml's block formats (VKG_STORAGE_Q8_0, Q4_0, Q4_K, Q5_K, Q6_K; layouts in src/model/quant.h) as
 * raw blocks, row after row. X, Y, bias and the residual are fp32; the weights are dequantized in the
 * shader (bit-exact with the host dequantizer) and every sum is fp32, except on the INT DOT path
 * (integer dot products of 4 elements, exact, then fp32). No 8- or 16-bit storage is needed.
 *
 * Paths (shaders/matmul_q_*.comp, one variant per format):
 *   VECTOR  M = 1 decode (and M > 1 on a CPU device, and decode_batch): each W byte read once,
 *           dequantized in registers and used for up to 4 rows of X; bandwidth bound.
 *   INT DOT the VECTOR and TILED work splits through int8 dot products (matmul_q_dot.comp,
 *           matmul_q_dot_tiled.comp), taken instead of them
 *           when opt->xq holds X quantized by vkg_quantize_act (kernels/quantize_act.h) and k->int_dot:
 *           weight quants meet 8-bit activations (per block of 32: d, q, sums of q) in OpSDot; scales,
 *           mins and offsets are applied per 16 or 32 elements in fp32. The result carries the
 *           activations' quantization error (at most d / 2 = max|x| / 254 per element of a block of
 *           32), as llama.cpp's int8 paths do. The tiled variant is written for GPUs and tested on
 *           lavapipe only (forced); not measured on a GPU.
 *   TILED   M > 1 on GPUs: 64 x 64 output tiles, W units dequantized into shared memory.
 *   COOPMAT M > 1 through k->coopmat_quant (matmul_q_coopmat.h): each K step's W units dequantized
 *           into a shared fp16 tile (values as ggml's, then rounded to fp16) and multiplied with X
 *           rounded to fp16 on cooperative matrices, fp32 sums. Where the device offers it and its
 *           self-check (vkg_matmul_q_coopmat_verify) passed.
 *   COOPMAT_EMULATED  tests only: that shader with scalar sums for the fragments, on any device
 *           with shaderFloat16 (so CI checks its staging, K loop and epilogue); never chosen.
 * W larger than one binding is bound in row chunks and dispatched per chunk, as vkg_matmul does.
 * No 8-bit storage; 8-bit arithmetic only on the INT DOT path, which needs
 * VK_KHR_shader_integer_dot_product (vkg_device_info.integer_dot_product; VKG_DISABLE_INT_DOT=1 hides it).
 *
 * Policy: k->int_dot defaults to the extension being present (vkg_kernels_default), accelerated or
 * not, because even emulated it is at least as fast as the float decode. tests/test_quant_dot.c
 * (VKG_TEST_QUANT_DOT_BENCH=1), TinyLlama's M = 1 matrices, lavapipe (llvmpipe 22.3.6, AVX2, no native
 * int8 dot) on the shared 2-core machine at load 3.5-4.1, all variants interleaved, median of 7, int-dot
 * time (quantize_act included) vs the float path: 2048 -> 5632 q4_k 6.7 vs 9.5 ms (1.43x), q8_0 15.5
 * vs 19.8 (1.28x), q6_k 1.42x, q5_k 1.47x, q4_0 1.02x; 5632 -> 2048 q4_k 4.9 vs 7.2 (1.47x), q8_0
 * 1.16x, q4_0 0.98x; 2048 -> 2048 q4_k 1.9 vs 2.9 (1.53x), q8_0 1.21x, q4_0 0.96x (f16: 18.7, 12.3,
 * 4.5 ms). Q4_0's float decode is already cheap, so it ties; every other format gains.
 *
 * Measured (tests/test_quant.c, 2048 -> 5632, M = 1, lavapipe on a loaded 2-core machine, best of 5,
 * spread over three runs): f16 10-19 ms; q4_k 6.4-8.5 ms (1.5-2.3x f16); q5_k 10-16 ms; q4_0 8-15 ms;
 * q8_0 10-25 ms; q6_k 12-33 ms. lavapipe is compute bound here (~1 GB/s), not bandwidth bound: each
 * invocation decodes its own rows, so what counts is instructions per element, where the 4-bit
 * formats win and Q6_K/Q8_0 (unaligned blocks, 6-bit and signed decoding) roughly tie with f16.
 *
 * Not here: choosing between this and vkg_matmul (the caller routes on vkg_storage_is_block), the
 * quantizers (model/quant.h).
 */
#ifndef VKG_KERNELS_MATMUL_QUANT_H
#define VKG_KERNELS_MATMUL_QUANT_H

#include "kernels/matmul.h"

/* Bytes the buffer of a quantized W [rows, cols] must hold from its offset: the rows, rounded up to 4,
 * and 4 more (the shaders read aligned 32-bit words, the last row may end inside one, and a word at
 * an unaligned address is assembled from it and the next). 0 when cols is not a whole number of
 * blocks or `s` is not a block format. */
uint64_t vkg_matmul_quant_bytes(vkg_storage s, uint32_t rows, uint32_t cols);

/* Record Y[M,N] = epilogue(X[M,K] · W^T + bias) into `cmd`, N = w->rows, K = w->cols, w->storage a
 * block format. Views and epilogue as vkg_matmul (matmul.h); opt may be NULL (path AUTO: VECTOR for
 * M = 1, decode_batch or on a CPU device, else COOPMAT where vkg_matmul_q_coopmat_usable, else TILED;
 * max_chunk_rows forces smaller W chunks; xq: the INT DOT paths where k->int_dot and the path is
 * VECTOR or TILED — x is then checked but not read; COOPMAT reads x).
 * Fails with VKG_ERROR_INVALID_ARGUMENT (not a block format, K not a multiple of the format's block,
 * zero sizes, views or W's buffer too small — see vkg_matmul_quant_bytes —, a misaligned w->offset,
 * bad epilogue, xq smaller than vkg_quantize_act_bytes(M, K) or overlapping y),
 * VKG_ERROR_DEVICE_LIMIT (x, y, xq or residual larger than one binding), VKG_ERROR_FEATURE_MISSING (the
 * COOPMAT path forced where it is not usable; k->int_dot on a device without int8 dot products);
 * messages name matmul_quant, the format and sizes. */
vkg_status vkg_matmul_quant(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, vkg_view x, const vkg_matrix *w,
                            const vkg_view *bias, const vkg_view *residual, uint32_t M, vkg_epilogue ep,
                            const vkg_matmul_options *opt);

/* Number of W chunks (dispatches) vkg_matmul_quant records for `w` under `opt` (NULL: defaults);
 * 0 when w->storage is not a block format or cols is not a whole number of blocks. */
uint32_t vkg_matmul_quant_chunk_count(const vkg_kernels *k, const vkg_matrix *w, const vkg_matmul_options *opt);

#endif /* VKG_KERNELS_MATMUL_QUANT_H */
