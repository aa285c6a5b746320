/*
 * kernels/rowwise.h — host wrappers of the row-wise and element-wise kernels: layernorm, softmax,
 * gelu, add, embedding and argmax (shaders/{layernorm,softmax,gelu,add,embedding,argmax}.comp).
 * Each checks its shapes, binds its tensors and records its dispatch(es) into `cmd`; nothing runs
 * until the recording is submitted. Not here: matmul, attention, KV store (their own families).
 *
 * Common rules:
 *   - Activations are fp32, row-major, given as vkg_view. A view may start at any offset that is a
 *     multiple of 4 bytes (the wrapper binds from the aligned offset below and passes the element
 *     offset to the shader), and may be larger than the shape: only the shape's bytes are bound.
 *   - Outputs may alias inputs exactly (same offset) where a function says so; partial overlaps
 *     are not allowed.
 *   - Every call returns VKG_ERROR_INVALID_ARGUMENT, with a message naming the kernel and the
 *     sizes, for zero sizes, NULL arguments and views too small for the shape;
 *     VKG_ERROR_DEVICE_LIMIT when one tensor would need more than one binding
 *     (maxStorageBufferRange) — only wte is chunked, by vkg_embedding; VKG_ERROR_FEATURE_MISSING
 *     for fp16 tables on a device without 16-bit storage.
 *   - Numerics: fp32 arithmetic; reductions are per-invocation partial sums combined through
 *     subgroup operations and shared memory (see shaders/reduce.glsl).
 */
#ifndef VKG_KERNELS_ROWWISE_H
#define VKG_KERNELS_ROWWISE_H

#include "kernels/kernels.h"

/* y[rows, width] = layernorm(x[rows, width]) * gamma[width] + beta[width], biased variance, eps
 * added to the variance (two-pass). One workgroup per row. y may be x. */
vkg_status vkg_layernorm(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, vkg_view x, vkg_view gamma,
                         vkg_view beta, uint32_t rows, uint32_t width, float eps);

/* y[rows, width] = softmax over each row of scale * x. causal: row r sees columns
 * c <= r + row_offset only (row_offset is the absolute position of row 0); hidden columns get 0, as
 * does every column of a row with no visible column or only -inf scores. Without causal,
 * row_offset is ignored. y may be x. One workgroup per row. */
vkg_status vkg_softmax(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, vkg_view x, uint32_t rows,
                       uint32_t width, float scale, bool causal, int32_t row_offset);

/* y[n] = gelu_new(x[n]) (GPT-2's tanh approximation; finite for every finite input). y may be x. */
vkg_status vkg_gelu(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, vkg_view x, uint32_t n);

/* y[n] = a[n] + b[n]. y may be a or b (the residual "x += f(x)"). */
vkg_status vkg_add(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, vkg_view a, vkg_view b, uint32_t n);

/* y[t, :] = wte[tok_t, :] + wpe[pos + t, :] for t < T, with tok_t and pos read at run time from
 * `step` (a vkg_step buffer, shaders/step.h: header then T token ids; the view's offset must meet
 * minStorageBufferOffsetAlignment), so the recording replays for any tokens and position.
 * wte [V, d] and wpe [P, d] are fp32 or fp16 (independently); y is [T, d] fp32; T <= P.
 * wte is bound in row chunks of at most one binding each, four chunks per dispatch; a step with
 * more than four chunks records one dispatch per four (derived barriers serialise them: they
 * write the same y). At run time a token id >= V or a position >= P gives a row of zeros and
 * reads nothing (the host should have refused such ids; this only keeps the device memory-safe). */
vkg_status vkg_embedding(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, const vkg_matrix *wte,
                         const vkg_matrix *wpe, vkg_view step, uint32_t T);

/* vkg_embedding with wte chunks of at most `chunk_rows` rows (0: as many as one binding holds).
 * For tests: small chunks exercise the chunked and multi-dispatch paths on any device. */
vkg_status vkg_embedding_chunked(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, const vkg_matrix *wte,
                                 const vkg_matrix *wpe, vkg_view step, uint32_t T, uint32_t chunk_rows);

/* Bytes of scratch vkg_argmax needs for n elements (0 when one workgroup does it all; any scratch,
 * even an empty view, is then accepted). */
uint64_t vkg_argmax_scratch_bytes(uint32_t n);

/* out[out_index] (uint32) = index of the largest of x[n]; ties go to the lowest index, NaNs are
 * skipped, an all-NaN x gives 0 (as ref_argmax). Two passes through `scratch` (at least
 * vkg_argmax_scratch_bytes(n) bytes at an offset aligned to minStorageBufferOffsetAlignment) unless n fits one workgroup. */
vkg_status vkg_argmax(const vkg_kernels *k, vkg_cmd *cmd, vkg_view out, uint32_t out_index, vkg_view x,
                      uint32_t n, vkg_view scratch);

#endif /* VKG_KERNELS_ROWWISE_H */
