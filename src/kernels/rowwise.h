/*
 * kernels/rowwise.h — host wrappers of the row-wise and element-wise kernels: layernorm, rmsnorm,
 * softmax, gelu, swiglu, add, rope, embedding and argmax
 * (shaders/{layernorm,rmsnorm,softmax,gelu,swiglu,add,rope,embedding,argmax}.comp).
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
 *     for fp16 or bf16 tables on a device without 16-bit storage.
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
 * wte [V, d] and wpe [P, d] are fp32, fp16 or bf16 (independently); wpe may be NULL (no learned
 * positions: y = wte row only); y is [T, d] fp32; T <= P.
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

/* y[rows, width] = x * rsqrt(mean(x^2) + eps) * w[width] (RMSNorm; mean over the row, fp32). One
 * workgroup per row. y may be x (exactly; no partial overlap). eps >= 0 and finite. */
vkg_status vkg_rmsnorm(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, vkg_view x, vkg_view w, uint32_t rows,
                       uint32_t width, float eps);

/* In place RMSNorm of attention heads inside qkv rows (Qwen3's q_norm / k_norm): for t < T and
 * h < n_heads, the hd floats at x[t*row_stride + col + h*hd ..] are normalised over hd and scaled by
 * w[hd]. Called once for the q heads (col 0) and once for the k heads (col H*hd). x is the view of
 * row 0 column 0; col + n_heads * hd <= row_stride. Elements outside the heads are not touched.
 * One workgroup per head, or with k->cpu_tuning one lane per head. */
vkg_status vkg_rmsnorm_heads(const vkg_kernels *k, vkg_cmd *cmd, vkg_view x, vkg_view w, uint32_t T,
                             uint32_t n_heads, uint32_t hd, uint32_t row_stride, uint32_t col, float eps);

/* Which elements of a head RoPE rotates together (pair i < hd/2): vkg_rope_pairing of vkgpt.h,
 * VKG_ROPE_HALF (x[i], x[i + hd/2]) as Hugging Face's rotate_half (Llama, Qwen, Mistral), or
 * VKG_ROPE_ADJACENT (x[2i], x[2i+1]) as GGUF Llama files and the original RoFormer. */

/* Rotary position embedding, in place, on the first n_heads heads of each of the T rows of x
 * (row stride row_stride floats; the q and k heads of a qkv row are contiguous, so n_heads = H + KVH
 * covers both; x is the view of row 0's first head). Row t is at position step_pos + t, read at
 * run time from `step` (a vkg_step buffer, shaders/step.h; only its header is bound; the view's
 * offset must meet minStorageBufferOffsetAlignment). The angles come from `table`, fp32
 * [P, hd/2, 2] at an 8-byte aligned offset: (cos, sin) of position p times inverse frequency i,
 * computed by the host (with any scaling rule); P bounds the positions (a row at or past P is left
 * unrotated). Pair i of each head, rotated by angle i:
 *   x'[a] = x[a] cos - x[b] sin,  x'[b] = x[b] cos + x[a] sin
 * with (a, b) as `pairing` says. hd even, 2..256; n_heads * hd <= row_stride. */
vkg_status vkg_rope(const vkg_kernels *k, vkg_cmd *cmd, vkg_view x, vkg_view step, vkg_view table, uint32_t T,
                    uint32_t n_heads, uint32_t hd, uint32_t row_stride, uint32_t P, vkg_rope_pairing pairing);

/* y[T, ff] = silu(gu[t, 0..ff)) * gu[t, ff..2ff): the SwiGLU product of the stacked gate/up matmul's
 * output [T, 2ff]. y must not overlap gu. */
vkg_status vkg_swiglu(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, vkg_view gu, uint32_t T, uint32_t ff);

/* Bytes of scratch vkg_argmax needs for n elements (0 when one workgroup does it all; any scratch,
 * even an empty view, is then accepted). */
uint64_t vkg_argmax_scratch_bytes(uint32_t n);

/* out[out_index] (uint32) = index of the largest of x[n]; ties go to the lowest index, NaNs are
 * skipped, an all-NaN x gives 0 (as ref_argmax). Two passes through `scratch` (at least
 * vkg_argmax_scratch_bytes(n) bytes at an offset aligned to minStorageBufferOffsetAlignment) unless n fits one workgroup. */
vkg_status vkg_argmax(const vkg_kernels *k, vkg_cmd *cmd, vkg_view out, uint32_t out_index, vkg_view x,
                      uint32_t n, vkg_view scratch);

#endif /* VKG_KERNELS_ROWWISE_H */
