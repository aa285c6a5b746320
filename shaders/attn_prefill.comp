/*
 * attn_prefill.comp — causal attention for T query rows against the KV cache, flash-attention
 * style: a workgroup owns BQ (row, query head) pairs of one K/V head and streams that head's keys
 * through shared memory in blocks of BK, keeping a running max, sum and output per pair (online
 * softmax). Memory is O(T*d): no T x T score matrix exists anywhere.
 *
 * Math:      G = H / KVH query heads share K/V head g (query head h reads g = h / G). Row t
 *            (t < T) sits at position p_t = step_pos + t and attends keys lo_t..p_t, lo_t = 0 when
 *            pc.window is 0 or p_t < window, else p_t - window + 1:
 *              s_k = scale * (q_{t,h} · K[g,k])
 *              out[t, h*HD + j] = sum_k exp(s_k - max) * V[g,k,j] / sum_k exp(s_k - max)
 *            per key block: m' = max(m, block max); acc = acc * exp(m - m') + sum_k e_k V_k;
 *            l = l * exp(m - m') + sum_k e_k with e_k = exp(s_k - m'). step_pos > 0 is a continued
 *            prompt (chat turn): kv_store has already put this step's keys at step_pos.. in the
 *            cache. Keys at or past P are never read.
 * Layout:    qkv fp32 [T, (H + 2*KVH)*HD] (q of head h = columns [h*HD, (h+1)*HD)); K, V
 *            [KVH, P, HD] (fp32 or fp16); out fp32 [T, H*HD].
 * Grid:      (ceil(T * G / BQ), KVH). The T * G (row, query head) pairs of K/V head g are taken
 *            in the order i = t * G + (h - g*G), so a block holds all G heads of consecutive rows
 *            and each K/V block loaded serves G times as many queries as without grouping.
 * Bindings:  0 step (read), 1 qkv (read), 2 K cache (read), 3 V cache (read), 4 out (written).
 * Push:      vkg_attention_push: T, H, KVH, P, window, scale.
 * Spec:      0 WG (a multiple of BQ), 1 HD (1..256), 2 BQ pairs per workgroup, 3 BK keys per
 *            block. Shared memory: 4 * (BQ*(HD+1) + BK*(HD+1) + BK*HD + BQ*(BK+1)) bytes; the host
 *            picks BQ, BK to fit.
 * Defines:   KV_F16 — fp16 cache (see attn_kv.glsl).
 * Work split: scores: each thread computes whole dot products of the BQ x BK tile from shared
 *            memory (rows padded to HD+1 floats against bank conflicts). Softmax and output: R =
 *            WG / BQ threads own one pair; each keeps that pair's m and l (the R copies compute the
 *            same values) and NACC = ceil(HD / R) of its output dimensions, j = lane + R * i, in
 *            registers. No subgroup operations, so no subgroup size is assumed.
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#include "attn_kv.glsl"
#include "step.h"
#include "attention_push.h"

layout(constant_id = 0) const uint WG = 128;
layout(constant_id = 1) const uint HD = 64;
layout(constant_id = 2) const uint BQ = 32;
layout(constant_id = 3) const uint BK = 32;
layout(local_size_x_id = 0) in;

const uint HDP = HD + 1u;            /* padded row stride of Q and K tiles */
const uint BKP = BK + 1u;            /* padded row stride of the score tile */
const uint R = WG / BQ;              /* threads per pair */
const uint NACC = (HD + R - 1u) / R; /* output dimensions per thread */

VKG_STEP_BUFFER(0)
layout(std430, binding = 1) readonly buffer QKV { float qkv[]; };
layout(std430, binding = 2) readonly buffer KCache { KV_STORE_T k_cache[]; };
layout(std430, binding = 3) readonly buffer VCache { KV_STORE_T v_cache[]; };
layout(std430, binding = 4) writeonly buffer Out { float attn_out[]; };

shared float q_s[BQ * HDP]; /* this block's queries, pre-scaled by pc.scale */
shared float k_s[BK * HDP];
shared float v_s[BK * HD];
shared float s_s[BQ * BKP]; /* scores of the tile */

/* First key the query at position p sees. */
uint window_start(uint p) { return (pc.window == 0u || p < pc.window) ? 0u : p - pc.window + 1u; }

void main() {
    const uint qb = gl_WorkGroupID.x, kvh = gl_WorkGroupID.y, tid = gl_LocalInvocationID.x;
    const uint G = pc.H / pc.KVH;
    const uint d = pc.H * HD, w = (pc.H + 2u * pc.KVH) * HD;
    const uint i0 = qb * BQ;                                /* first pair of the block */
    const uint i_end = min(i0 + BQ, pc.T * G);
    const uint n_keys = min(step_pos + (i_end - 1u) / G + 1u, pc.P); /* keys below the last row's end */
    const uint key_lo = window_start(step_pos + i0 / G);     /* the first row's window start */

    for (uint idx = tid; idx < BQ * HD; idx += WG) {
        uint r = idx / HD, j = idx - r * HD, i = i0 + r;
        uint t = i / G, h = kvh * G + (i - t * G);
        q_s[r * HDP + j] = i < i_end ? qkv[t * w + h * HD + j] * pc.scale : 0.0;
    }

    const uint r = tid / R, lane = tid - r * R;
    const uint i = i0 + r;
    const bool valid = i < i_end;
    const uint t = i / G, h = kvh * G + (i - t * G);
    const uint p = step_pos + t; /* this row's position: it sees keys lo..p */
    const uint lo = window_start(p);
    float m = uintBitsToFloat(0xff800000u), l = 0.0;
    float acc[NACC];
    for (uint a = 0; a < NACC; a++)
        acc[a] = 0.0;

    for (uint k0 = key_lo; k0 < n_keys; k0 += BK) {
        const uint nb = min(BK, n_keys - k0);
        barrier(); /* the previous block's readers are done (first time: q_s is complete) */
        const uint src = (kvh * pc.P + k0) * HD; /* the block is contiguous in K and V */
        for (uint idx = tid; idx < BK * HD; idx += WG) {
            uint s = idx / HD, j = idx - s * HD;
            bool in_block = s < nb;
            k_s[s * HDP + j] = in_block ? KV_LOAD(k_cache[src + idx]) : 0.0;
            v_s[idx] = in_block ? KV_LOAD(v_cache[src + idx]) : 0.0;
        }
        barrier();
        for (uint idx = tid; idx < BQ * BK; idx += WG) {
            uint rr = idx / BK, s = idx - rr * BK;
            float dot = 0.0;
            for (uint j = 0; j < HD; j++)
                dot += q_s[rr * HDP + j] * k_s[s * HDP + j];
            s_s[rr * BKP + s] = dot;
        }
        barrier();
        /* Keys k0 + sa .. k0 + sb - 1 of the block are visible to this row (causal + window). */
        const uint sa = lo > k0 ? lo - k0 : 0u;
        const uint sb = (valid && p >= k0) ? min(nb, p - k0 + 1u) : 0u;
        if (sa < sb) {
            float mb = s_s[r * BKP + sa];
            for (uint s = sa + 1u; s < sb; s++)
                mb = max(mb, s_s[r * BKP + s]);
            const float m_new = max(m, mb);
            const float alpha = exp(m - m_new); /* 0 on the first visible block (m = -inf) */
            l *= alpha;
            for (uint a = 0; a < NACC; a++)
                acc[a] *= alpha;
            for (uint s = sa; s < sb; s++) {
                const float e = exp(s_s[r * BKP + s] - m_new);
                l += e;
                for (uint a = 0; a < NACC; a++) {
                    uint j = lane + R * a;
                    if (j < HD)
                        acc[a] += e * v_s[s * HD + j];
                }
            }
            m = m_new;
        }
    }

    if (valid) {
        const float inv = 1.0 / l;
        for (uint a = 0; a < NACC; a++) {
            uint j = lane + R * a;
            if (j < HD)
                attn_out[t * d + h * HD + j] = acc[a] * inv;
        }
    }
}
