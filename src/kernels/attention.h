/*
 * kernels/attention.h — the KV cache and attention kernels: kv_store, flash-decoding attention for
 * one token (decode), and tiled causal attention with an online softmax for T tokens (prefill).
 * Knows nothing of GPT-2 beyond the layouts below; it is not the layer (no projections, no residual).
 *
 * Layouts (d = H * hd):
 *   qkv      fp32 [T, 3d] row-major, as the c_attn matmul writes it: columns [0,d) q, [d,2d) k,
 *            [2d,3d) v; head h uses columns h*hd .. h*hd+hd-1 of each third.
 *   K, V     one layer's cache, each [H, P, hd] head-major (a head's keys for positions 0..P-1 are
 *            contiguous), fp32 or fp16 storage (vkg_storage; fp16 needs storage_16bit).
 *            P = the cache capacity in positions. Each cache fits one binding: H*P*hd*bytes must be
 *            <= maxStorageBufferRange (gpt2-xl fp32: 25*1024*64*4 = 6.6 MB).
 *   step     the step buffer (shaders/step.h): step_pos = position of row 0 of this step.
 *   out      fp32 [T, d], same head column layout as q.
 * Every view may be larger than needed; only the bytes the kernel uses are bound. Position checks
 * (step_pos + T <= P) are the caller's: the step buffer is read on the device. The shaders still
 * never touch cache rows at or past P.
 *
 * Arithmetic is fp32 throughout (fp16 cache values are converted on load). Scale 1/sqrt(hd).
 */
#ifndef VKG_KERNELS_ATTENTION_H
#define VKG_KERNELS_ATTENTION_H

#include "kernels/kernels.h"

/* Largest head dimension the attention shaders accept. */
#define VKG_ATTENTION_MAX_HEAD_DIM 256u

/* Record: write the k and v thirds of qkv rows t < T into K and V at positions step_pos + t
 * (rounded to fp16 when kv is VKG_STORAGE_F16). Positions >= P are skipped. */
vkg_status vkg_kv_store(const vkg_kernels *k, vkg_cmd *cmd, vkg_view k_cache, vkg_view v_cache, vkg_storage kv,
                        vkg_view qkv, vkg_view step, uint32_t T, uint32_t H, uint32_t hd, uint32_t P);

/* Bytes of scratch vkg_attention_decode needs for these sizes: H * ceil(P / chunk) * (hd + 2) floats.
 * 0 when a size is 0. */
uint64_t vkg_attention_decode_scratch_bytes(const vkg_kernels *k, uint32_t H, uint32_t hd, uint32_t P);

/* Record: attention of the single query in qkv row 0 (position step_pos) over keys 0..step_pos of
 * the cache, into out [1, d]. Two dispatches (partial results per key chunk into `scratch`, then a
 * merge), or one where a single chunk covers P (CPU tuning); the grid covers P, so one recording
 * replays at every position. `scratch` must hold
 * vkg_attention_decode_scratch_bytes() bytes and is overwritten. */
vkg_status vkg_attention_decode(const vkg_kernels *k, vkg_cmd *cmd, vkg_view out, vkg_view qkv, vkg_view k_cache,
                                vkg_view v_cache, vkg_storage kv, vkg_view step, vkg_view scratch, uint32_t H,
                                uint32_t hd, uint32_t P);

/* Record: causal attention of the T query rows of qkv (positions step_pos + t) over the cache keys
 * 0..step_pos + t, into out [T, d]. kv_store for these rows must be recorded before it. */
vkg_status vkg_attention_prefill(const vkg_kernels *k, vkg_cmd *cmd, vkg_view out, vkg_view qkv, vkg_view k_cache,
                                 vkg_view v_cache, vkg_storage kv, vkg_view step, uint32_t T, uint32_t H,
                                 uint32_t hd, uint32_t P);

#endif /* VKG_KERNELS_ATTENTION_H */
