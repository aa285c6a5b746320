/*
 * attn_prefill_rows.comp — causal attention for T query rows against the KV cache with the rows in
 * SIMD lanes: the CPU-device variant of attn_prefill.comp (same math, layouts, bindings, push
 * constants). On lavapipe (LLVM, Mesa 22) a workgroup runs as a loop over SIMD vectors, barriers
 * and shared-memory tiles buy nothing, and every buffer or shared-memory load inside a loop is
 * issued lane by lane (~45 cycles per 8-wide load, measured), so the tiled shader ran at ~0.1
 * GMAC/s there. Here each lane owns R (row, query head) pairs and keeps their queries, running
 * max, sum and outputs in registers (fully unrolled, sizes from spec constants); a key row is
 * loaded WG elements at a time (lane i loads element i) and handed to every lane with
 * subgroupBroadcast, so one load and WG broadcasts feed WG x R pairs. Not for GPUs: no tiling,
 * long serial key loops.
 *
 * Math:      G = H / KVH query heads share K/V head g (query head h reads g = h / G). Row t
 *            (t < T) sits at position p_t = step_pos + t and attends keys lo_t..p_t, lo_t = 0 when
 *            pc.window is 0 or p_t < window, else p_t - window + 1:
 *              s_k = scale * (q_{t,h} · K[g,k])
 *              out[t, h*HD + j] = sum_k exp(s_k - m) * V[g,k,j] / sum_k exp(s_k - m)
 *            Online softmax over blocks of BK keys: the block's scores first (masked to -inf
 *            outside lo_t..p_t), then m' = max(m, block max), alpha = exp(m - m'), l = l * alpha +
 *            sum_k e_k, o = o * alpha + sum_k e_k V_k with e_k = exp(s_k - m'): one exp per key plus
 *            one per block. A block wholly outside a pair's window leaves m' = -inf; the exps then
 *            use 0 in its place, giving alpha = e_k = 0 instead of NaN. Keys at or past P are never
 *            read.
 * Layout:    qkv fp32 [T, (H + 2*KVH)*HD] (q of head h = columns [h*HD, (h+1)*HD)); K, V
 *            [KVH, P, HD] (fp32 or fp16); out fp32 [T, H*HD].
 * Grid:      (ceil(T * G / (WG * R)), KVH): the (row, query head) pairs of K/V head g are taken in
 *            the order i = t * G + (h - g*G); lane l of workgroup (b, g) owns pairs
 *            b*WG*R + r*WG + l, r < R, so every key broadcast serves all G heads of the rows. The
 *            key loop runs from the first pair's window start to the last pair's position (uniform
 *            bounds); other pairs mask the keys outside their window (exp gives 0). Lanes past
 *            T * G compute the last pair and do not write. Keys read are all below step_pos + T:
 *            written ones.
 * Bindings:  0 step (read), 1 qkv (read), 2 K cache (read), 3 V cache (read), 4 out (written).
 * Push:      vkg_attention_push: T, H, KVH, P, window, scale.
 * Spec:      0 WG — must equal the subgroup size the pipeline runs with (one subgroup per
 *            workgroup: the broadcasts span the workgroup). The host creates this pipeline with
 *            requiredSubgroupSize = WG and full subgroups (VK_EXT_subgroup_size_control) and takes
 *            attn_prefill.comp where a device cannot promise that. 1 HD (1..256, padded to a
 *            multiple of WG in registers); 2 BK keys per softmax block; 3 R pairs per lane. The
 *            unrolled key block is R x BK x HD multiply-adds: the host caps it (LLVM compile time).
 *            No shared memory, no barriers. Needs subgroup ballot (subgroupBroadcast).
 * Defines:   KV_F16 — fp16 cache (see attn_kv.glsl).
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#include "attn_kv.glsl"
#include "step.h"
#include "attention_push.h"

layout(constant_id = 0) const uint WG = 8;
layout(constant_id = 1) const uint HD = 64;
layout(constant_id = 2) const uint BK = 8;
layout(constant_id = 3) const uint R = 4;
layout(local_size_x_id = 0) in;

const uint NC = (HD + WG - 1u) / WG; /* chunks of WG elements per key row */
const uint HDP = NC * WG;            /* HD padded to whole chunks */
#define NEG_INF uintBitsToFloat(0xff800000u)

VKG_STEP_BUFFER(0)
layout(std430, binding = 1) readonly buffer QKV { float qkv[]; };
layout(std430, binding = 2) readonly buffer KCache { KV_STORE_T k_cache[]; };
layout(std430, binding = 3) readonly buffer VCache { KV_STORE_T v_cache[]; };
layout(std430, binding = 4) writeonly buffer Out { float attn_out[]; };

/* First key the query at position p sees. */
uint window_start(uint p) { return (pc.window == 0u || p < pc.window) ? 0u : p - pc.window + 1u; }

void main() {
    const uint kvh = gl_WorkGroupID.y, lane = gl_LocalInvocationID.x;
    const uint G = pc.H / pc.KVH;
    const uint d = pc.H * HD, w = (pc.H + 2u * pc.KVH) * HD;
    const uint n_pairs = pc.T * G;
    const uint q0 = gl_WorkGroupID.x * WG * R;
    /* Keys any pair of the workgroup sees (uniform); all of them were written by kv_store or before. */
    const uint n_keys = min(step_pos + (min(q0 + WG * R, n_pairs) - 1u) / G + 1u, pc.P);
    const uint key_lo = window_start(step_pos + q0 / G);
    const uint head = kvh * pc.P * HD; /* K/V head kvh's keys are contiguous in K and V */

    float q[R][HDP], o[R][HDP];
    uint pos[R], lo[R];
    float m[R], l[R];
    [[unroll]] for (uint r = 0; r < R; r++) {
        const uint i = min(q0 + r * WG + lane, n_pairs - 1u);
        const uint t = i / G, h = kvh * G + (i - t * G);
        pos[r] = step_pos + t; /* this pair's position: it sees keys lo..pos */
        lo[r] = window_start(pos[r]);
        m[r] = NEG_INF; /* alpha is 0 on the first visible block */
        l[r] = 0.0;
        [[unroll]] for (uint j = 0; j < HDP; j++) {
            q[r][j] = j < HD ? qkv[t * w + h * HD + j] * pc.scale : 0.0;
            o[r][j] = 0.0;
        }
    }

    for (uint k0 = key_lo; k0 < n_keys; k0 += BK) {
        float s[R][BK];
        [[unroll]] for (uint b = 0; b < BK; b++) {
            const uint base = head + min(k0 + b, n_keys - 1u) * HD; /* stay inside the written keys */
            float dot[R];
            [[unroll]] for (uint r = 0; r < R; r++)
                dot[r] = 0.0;
            [[unroll]] for (uint c = 0; c < NC; c++) {
                /* Lane i loads element c*WG + i of the key; every lane then gets all WG of them. */
                const float kx = KV_LOAD(k_cache[base + min(c * WG + lane, HD - 1u)]);
                [[unroll]] for (uint i = 0; i < WG; i++) {
                    const float kv = subgroupBroadcast(kx, i);
                    [[unroll]] for (uint r = 0; r < R; r++)
                        dot[r] += q[r][c * WG + i] * kv;
                }
            }
            [[unroll]] for (uint r = 0; r < R; r++)
                s[r][b] = (k0 + b <= pos[r] && k0 + b >= lo[r]) ? dot[r] : NEG_INF;
        }
        float e[R][BK];
        [[unroll]] for (uint r = 0; r < R; r++) {
            float mb = s[r][0];
            [[unroll]] for (uint b = 1; b < BK; b++)
                mb = max(mb, s[r][b]);
            const float m_new = max(m[r], mb);
            const float m_use = m_new == NEG_INF ? 0.0 : m_new; /* no key visible yet */
            const float alpha = exp(m[r] - m_use);
            l[r] *= alpha;
            [[unroll]] for (uint j = 0; j < HDP; j++)
                o[r][j] *= alpha;
            [[unroll]] for (uint b = 0; b < BK; b++) {
                e[r][b] = exp(s[r][b] - m_use); /* 0 for masked keys */
                l[r] += e[r][b];
            }
            m[r] = m_new;
        }
        [[unroll]] for (uint b = 0; b < BK; b++) {
            const uint base = head + min(k0 + b, n_keys - 1u) * HD;
            [[unroll]] for (uint c = 0; c < NC; c++) {
                const float vx = KV_LOAD(v_cache[base + min(c * WG + lane, HD - 1u)]);
                [[unroll]] for (uint i = 0; i < WG; i++) {
                    const float vv = subgroupBroadcast(vx, i);
                    [[unroll]] for (uint r = 0; r < R; r++)
                        o[r][c * WG + i] += e[r][b] * vv;
                }
            }
        }
    }

    [[unroll]] for (uint r = 0; r < R; r++) {
        const uint i = q0 + r * WG + lane;
        if (i < n_pairs) {
            const uint t = i / G, h = kvh * G + (i - t * G);
            const float inv = 1.0 / l[r];
            [[unroll]] for (uint j = 0; j < HD; j++)
                attn_out[t * d + h * HD + j] = o[r][j] * inv;
        }
    }
}
