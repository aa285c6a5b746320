/*
 * kernels/attention.h — the KV cache and attention kernels: kv_store, flash-decoding attention for
 * one token (decode), and tiled causal attention with an online softmax for T tokens (prefill).
 * Multi-head, grouped-query and multi-query attention, with an optional sliding window. Knows no
 * model family; it is not the layer (no projections, no RoPE, no residual).
 *
 * Layouts (one vkg_attn_shape s; qd = H * hd, kd = KVH * hd, W = qd + 2 * kd):
 *   qkv      fp32 [T, W] row-major, as a stacked q/k/v projection writes it: columns [0, qd) q,
 *            [qd, qd + kd) k, [qd + kd, W) v; query head h uses columns h*hd .. h*hd+hd-1 of the q
 *            part, K/V head g columns g*hd .. g*hd+hd-1 of the k and v parts.
 *   K, V     one layer's cache, each [KVH, P, hd] head-major (a K/V head's keys for positions
 *            0..P-1 are contiguous), fp32 or fp16 storage (vkg_storage; fp16 needs storage_16bit).
 *            Only the K/V heads are stored: query head h reads K/V head h / (H / KVH), and no
 *            kernel copies K/V per query head. Each cache fits one binding: KVH*P*hd*bytes must be
 *            <= maxStorageBufferRange (gpt2-xl fp32: 25*1024*64*4 = 6.6 MB).
 *   step     the step buffer (shaders/step.h): step_pos = position of row 0 of this step.
 *   out      fp32 [T, qd], same head column layout as q.
 * Masking: the query at position p sees keys lo..p, lo = 0 (window 0, or p < window) or
 * p - window + 1 (a sliding window of `window` keys, the query's own included).
 * Every view may be larger than needed; only the bytes the kernel uses are bound. Position checks
 * (step_pos + T <= P) are the caller's: the step buffer is read on the device. The shaders still
 * never touch cache rows at or past P.
 *
 * Arithmetic is fp32 throughout (fp16 cache values are converted on load); scores are
 * s->scale * (q . k).
 */
#ifndef VKG_KERNELS_ATTENTION_H
#define VKG_KERNELS_ATTENTION_H

#include "kernels/kernels.h"

/* Largest head dimension the attention shaders accept. */
#define VKG_ATTENTION_MAX_HEAD_DIM 256u

/* The shape of one attention call (every field is checked; a bad one fails with its name). */
typedef struct vkg_attn_shape {
    uint32_t T;      /* query rows of this step (decode: 1) */
    uint32_t H;      /* query heads */
    uint32_t KVH;    /* K/V heads; divides H (H == KVH: multi-head; 1: multi-query) */
    uint32_t hd;     /* head dimension, <= VKG_ATTENTION_MAX_HEAD_DIM (256) */
    uint32_t P;      /* cache capacity in positions */
    uint32_t window; /* 0: full causal; else the query at position p sees keys max(0, p-window+1)..p */
    float scale;     /* factor on q.k (usually 1/sqrt(hd)) */
} vkg_attn_shape;

/* Record: write the k and v parts of qkv rows t < s->T into K and V at positions step_pos + t
 * (rounded to fp16 when kv is VKG_STORAGE_F16). Positions >= P are skipped. */
vkg_status vkg_kv_store(const vkg_kernels *k, vkg_cmd *cmd, vkg_view k_cache, vkg_view v_cache, vkg_storage kv,
                        vkg_view qkv, vkg_view step, const vkg_attn_shape *s);

/* Bytes of scratch vkg_attention_decode needs for this shape (s->T is ignored):
 * H * n_chunks * (hd + 2) floats, n_chunks depending on the device tuning, P and H / KVH.
 * 0 when s is NULL or H, KVH, hd or P is 0. */
uint64_t vkg_attention_decode_scratch_bytes(const vkg_kernels *k, const vkg_attn_shape *s);

/* Record: attention of the single query in qkv row 0 (position step_pos) over the keys it sees
 * (0..step_pos, or the last `window` of them) in the cache, into out [1, H*hd]; s->T must be 1.
 * Two dispatches (partial results per key chunk into `scratch`, then a merge), or one where a
 * single chunk covers P (CPU tuning); the grid covers P, so one recording replays at every
 * position. Each workgroup reads one K/V head's chunk once for several of its query heads.
 * `scratch` must hold vkg_attention_decode_scratch_bytes() bytes and is overwritten. */
vkg_status vkg_attention_decode(const vkg_kernels *k, vkg_cmd *cmd, vkg_view out, vkg_view qkv, vkg_view k_cache,
                                vkg_view v_cache, vkg_storage kv, vkg_view step, vkg_view scratch,
                                const vkg_attn_shape *s);

/* Record: causal (optionally windowed) attention of the s->T query rows of qkv (positions
 * step_pos + t) over the cache keys each sees, into out [T, H*hd]. kv_store for these rows must be
 * recorded before it. */
vkg_status vkg_attention_prefill(const vkg_kernels *k, vkg_cmd *cmd, vkg_view out, vkg_view qkv, vkg_view k_cache,
                                 vkg_view v_cache, vkg_storage kv, vkg_view step, const vkg_attn_shape *s);

#endif /* VKG_KERNELS_ATTENTION_H */
