/*
 * attn_prefill.comp — causal attention for T query rows against the KV cache, flash-attention
 * style: a workgroup owns BQ query rows of one head and streams the keys through shared memory in
 * blocks of BK, keeping a running max, sum and output per row (online softmax). Memory is O(T*d):
 * no T x T score matrix exists anywhere.
 *
 * Math:      row t (t < T) sits at position p_t = step_pos + t and attends keys 0..p_t:
 *              s_k = (q_t · K[h,k]) / sqrt(HD)
 *              out[t, h*HD + j] = sum_k exp(s_k - max) * V[h,k,j] / sum_k exp(s_k - max)
 *            per key block: m' = max(m, block max); acc = acc * exp(m - m') + sum_k e_k V_k;
 *            l = l * exp(m - m') + sum_k e_k with e_k = exp(s_k - m'). step_pos > 0 is a continued
 *            prompt (chat turn): kv_store has already put this step's keys at step_pos.. in the
 *            cache. Keys at or past P are never read.
 * Layout:    qkv fp32 [T, 3d] (q = columns [h*HD, (h+1)*HD)); K, V [H, P, HD] (fp32 or fp16);
 *            out fp32 [T, d].
 * Grid:      (ceil(T / BQ), H).
 * Bindings:  0 step (read), 1 qkv (read), 2 K cache (read), 3 V cache (read), 4 out (written).
 * Push:      vkg_attention_push: T, H, P.
 * Spec:      0 WG (a multiple of BQ), 1 HD (1..256), 2 BQ query rows per workgroup, 3 BK keys per
 *            block. Shared memory: 4 * (BQ*(HD+1) + BK*(HD+1) + BK*HD + BQ*(BK+1)) bytes; the host
 *            picks BQ, BK to fit.
 * Defines:   KV_F16 — fp16 cache (see attn_kv.glsl).
 * Work split: scores: each thread computes whole dot products of the BQ x BK tile from shared
 *            memory (rows padded to HD+1 floats against bank conflicts). Softmax and output: R =
 *            WG / BQ threads own one row; each keeps that row's m and l (the R copies compute the
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
const uint R = WG / BQ;              /* threads per query row */
const uint NACC = (HD + R - 1u) / R; /* output dimensions per thread */

VKG_STEP_BUFFER(0)
layout(std430, binding = 1) readonly buffer QKV { float qkv[]; };
layout(std430, binding = 2) readonly buffer KCache { KV_STORE_T k_cache[]; };
layout(std430, binding = 3) readonly buffer VCache { KV_STORE_T v_cache[]; };
layout(std430, binding = 4) writeonly buffer Out { float attn_out[]; };

shared float q_s[BQ * HDP]; /* this block's queries, pre-scaled by 1/sqrt(HD) */
shared float k_s[BK * HDP];
shared float v_s[BK * HD];
shared float s_s[BQ * BKP]; /* scores of the tile */

void main() {
    const uint qb = gl_WorkGroupID.x, h = gl_WorkGroupID.y, tid = gl_LocalInvocationID.x;
    const uint d = pc.H * HD;
    const uint q0 = qb * BQ;
    const uint rows_end = min(q0 + BQ, pc.T);
    const uint n_keys = min(step_pos + rows_end, pc.P); /* keys any row of the block sees */

    const float scale = 1.0 / sqrt(float(HD));
    for (uint idx = tid; idx < BQ * HD; idx += WG) {
        uint r = idx / HD, j = idx - r * HD, t = q0 + r;
        q_s[r * HDP + j] = t < pc.T ? qkv[t * 3u * d + h * HD + j] * scale : 0.0;
    }

    const uint r = tid / R, lane = tid - r * R;
    const uint t = q0 + r;
    const bool valid = t < pc.T;
    const uint p = step_pos + t; /* this row's position: it sees keys 0..p */
    float m = uintBitsToFloat(0xff800000u), l = 0.0;
    float acc[NACC];
    for (uint i = 0; i < NACC; i++)
        acc[i] = 0.0;

    for (uint k0 = 0; k0 < n_keys; k0 += BK) {
        const uint nb = min(BK, n_keys - k0);
        barrier(); /* the previous block's readers are done (first time: q_s is complete) */
        const uint src = (h * pc.P + k0) * HD; /* the block is contiguous in K and V */
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
        /* Keys k0 .. k0 + nv - 1 are visible to this row (causal mask). */
        const uint nv = (valid && p >= k0) ? min(nb, p - k0 + 1u) : 0u;
        if (nv > 0u) {
            float mb = s_s[r * BKP];
            for (uint s = 1; s < nv; s++)
                mb = max(mb, s_s[r * BKP + s]);
            const float m_new = max(m, mb);
            const float alpha = exp(m - m_new); /* 0 on the first block (m = -inf) */
            l *= alpha;
            for (uint i = 0; i < NACC; i++)
                acc[i] *= alpha;
            for (uint s = 0; s < nv; s++) {
                const float e = exp(s_s[r * BKP + s] - m_new);
                l += e;
                for (uint i = 0; i < NACC; i++) {
                    uint j = lane + R * i;
                    if (j < HD)
                        acc[i] += e * v_s[s * HD + j];
                }
            }
            m = m_new;
        }
    }

    if (valid) {
        const float inv = 1.0 / l;
        for (uint i = 0; i < NACC; i++) {
            uint j = lane + R * i;
            if (j < HD)
                attn_out[t * d + h * HD + j] = acc[i] * inv;
        }
    }
}
