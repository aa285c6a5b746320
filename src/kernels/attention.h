/*
 * kernels/attention.h — the KV cache and attention kernels: kv_store, flash-decoding attention for
 * one token (decode), and tiled causal attention with an online softmax for T tokens (prefill).
 * Knows nothing of GPT-2 beyond the layouts below; it is not the layer (no projections, no residual).
 *
 * Layouts (W = (H + 2*KVH) * hd, the width of one qkv row):
 *   qkv      fp32 [T, W] row-major, as the stacked q/k/v matmul writes it: columns [0, H*hd) q,
 *            [H*hd, (H+KVH)*hd) k, [(H+KVH)*hd, W) v; head h of each part uses its columns
 *            h*hd .. h*hd+hd-1.
 *   K, V     one layer's cache, each [KVH, P, hd] head-major (a head's keys for positions 0..P-1 are
 *            contiguous), fp32 or fp16 storage (vkg_storage; fp16 needs storage_16bit).
 *            P = the cache capacity in positions. Each cache fits one binding: KVH*P*hd*bytes must be
 *            <= maxStorageBufferRange.
 *   step     the step buffer (shaders/step.h): step_pos = position of row 0 of this step.
 *   out      fp32 [T, H*hd], same head column layout as q.
 * Every view may be larger than needed; only the bytes the kernel uses are bound. Position checks
 * (step_pos + T <= P) are the caller's: the step buffer is read on the device. The shaders still
 * never touch cache rows at or past P.
 *
 * Arithmetic is fp32 throughout (fp16 cache values are converted on load).
 */
#ifndef VKG_KERNELS_ATTENTION_H
#define VKG_KERNELS_ATTENTION_H

#include "kernels/kernels.h"

/* Largest head dimension the attention shaders accept. */
#define VKG_ATTENTION_MAX_HEAD_DIM 256u

/* The shape of one attention call. Grouped-query attention: query head h reads K/V head
 * h / (H / KVH); K/V are never copied per query head. */
typedef struct vkg_attn_shape {
    uint32_t T;      /* query rows of this step (decode: 1) */
    uint32_t H;      /* query heads */
    uint32_t KVH;    /* K/V heads; divides H (H == KVH: multi-head; 1: multi-query) */
    uint32_t hd;     /* head dimension, <= VKG_ATTENTION_MAX_HEAD_DIM */
    uint32_t P;      /* cache capacity in positions */
    uint32_t window; /* 0: full causal; else the query at position p sees keys max(0, p-window+1)..p */
    float scale;     /* factor on q.k (usually 1/sqrt(hd)) */
} vkg_attn_shape;

/* Record: write the k and v parts of qkv rows t < T into K and V at positions step_pos + t
 * (rounded to fp16 when kv is VKG_STORAGE_F16). Positions >= P are skipped. */
vkg_status vkg_kv_store(const vkg_kernels *k, vkg_cmd *cmd, vkg_view k_cache, vkg_view v_cache, vkg_storage kv,
                        vkg_view qkv, vkg_view step, const vkg_attn_shape *s);

/* Bytes of scratch vkg_attention_decode needs for this shape (0 when a size is 0). */
uint64_t vkg_attention_decode_scratch_bytes(const vkg_kernels *k, const vkg_attn_shape *s);

/* Record: attention of the single query in qkv row 0 (position step_pos) over keys 0..step_pos of
 * the cache (the last `window` of them when windowed), into out [1, H*hd]. The grid covers P, so one
 * recording replays at every position. `scratch` must hold vkg_attention_decode_scratch_bytes(). */
vkg_status vkg_attention_decode(const vkg_kernels *k, vkg_cmd *cmd, vkg_view out, vkg_view qkv, vkg_view k_cache,
                                vkg_view v_cache, vkg_storage kv, vkg_view step, vkg_view scratch,
                                const vkg_attn_shape *s);

/* Record: causal (optionally windowed) attention of the T query rows of qkv (positions step_pos + t)
 * over the cache keys, into out [T, H*hd]. kv_store for these rows must be recorded before it. */
vkg_status vkg_attention_prefill(const vkg_kernels *k, vkg_cmd *cmd, vkg_view out, vkg_view qkv, vkg_view k_cache,
                                 vkg_view v_cache, vkg_storage kv, vkg_view step, const vkg_attn_shape *s);

#endif /* VKG_KERNELS_ATTENTION_H */
