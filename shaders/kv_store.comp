/*
 * kv_store.comp — append this step's keys and values to one layer's KV cache, in place.
 *
 * Math:      dk = KVH * hd (the width of the k and of the v part of a qkv row), qd = H * hd.
 *            For t < T, c < dk, g = c / hd, j = c % hd, p = step_pos + t:
 *              K[g, p, j] = qkv[t, qd + c]      V[g, p, j] = qkv[t, qd + dk + c]
 *            rows with p >= P are not written (the host checks capacity too; this guard keeps a
 *            bad position from scribbling past the cache). With KV_F16 the values are rounded to
 *            fp16 on store (round to nearest, the conversion OpFConvert does).
 * Layout:    qkv fp32 [T, W], W = (H + 2*KVH) * hd (q | k | v columns); K, V [KVH, P, hd]
 *            head-major. Only the K/V heads are stored: grouped-query attention shares them.
 * Grid:      1-D, ceil(T * dk / WG) workgroups (vkg_cmd_dispatch_1d, folded), one element each.
 * Bindings:  0 step (read: step_pos), 1 qkv (read), 2 K cache (written), 3 V cache (written).
 * Push:      vkg_attention_push: T, H, KVH, hd, P (n_splits, window, scale unused).
 * Spec:      0 WG.
 * Defines:   KV_F16 — the cache is stored as fp16 (attn_kv.glsl; needs storageBuffer16BitAccess).
 * Not:       fused into the QKV matmul (a possible later optimisation).
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#include "attn_kv.glsl"
#include "common.glsl"
#include "step.h"
#include "attention_push.h"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

VKG_STEP_BUFFER(0)
layout(std430, binding = 1) readonly buffer QKV { float qkv[]; };
layout(std430, binding = 2) writeonly buffer KCache { KV_STORE_T k_cache[]; };
layout(std430, binding = 3) writeonly buffer VCache { KV_STORE_T v_cache[]; };

void main() {
    const uint dk = pc.KVH * pc.hd, qd = pc.H * pc.hd, w = qd + 2u * dk;
    uint i = vkg_group_id() * WG + gl_LocalInvocationID.x;
    if (i >= pc.T * dk)
        return;
    uint t = i / dk, c = i - t * dk;
    uint p = step_pos + t;
    if (p >= pc.P || p < step_pos) /* past the cache, or the sum wrapped */
        return;
    uint g = c / pc.hd, j = c - g * pc.hd;
    uint dst = (g * pc.P + p) * pc.hd + j;
    uint src = t * w + qd + c;
    k_cache[dst] = KV_STORE_T(qkv[src]);
    v_cache[dst] = KV_STORE_T(qkv[src + dk]);
}
