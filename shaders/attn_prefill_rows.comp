/*
 * attn_prefill_rows.comp — causal attention for T query rows against the KV cache with the rows in
 * SIMD lanes: the CPU-device variant of attn_prefill.comp (same math, layouts, bindings, push
 * constants). On lavapipe (LLVM, Mesa 22) a workgroup runs as a loop over SIMD vectors, barriers
 * and shared-memory tiles buy nothing, and every buffer or shared-memory load inside a loop is
 * issued lane by lane (~45 cycles per 8-wide load, measured), so the tiled shader ran at ~0.1
 * GMAC/s there. Here each lane owns R rows and keeps their queries, running max, sum and outputs
 * in registers (fully unrolled, sizes from spec constants); a key row is loaded WG elements at a
 * time (lane i loads element i) and handed to every lane with subgroupBroadcast, so one load and
 * WG broadcasts feed WG x R rows. Not for GPUs: no tiling, long serial key loops.
 *
 * Math:      row t (t < T) sits at position p_t = step_pos + t and attends keys 0..p_t:
 *              s_k = (q_t · K[h,k]) / sqrt(HD)
 *              out[t, h*HD + j] = sum_k exp(s_k - m) * V[h,k,j] / sum_k exp(s_k - m)
 *            Online softmax over blocks of BK keys: the block's scores first (masked to -inf past
 *            p_t), then m' = max(m, block max), alpha = exp(m - m'), l = l * alpha + sum_k e_k,
 *            o = o * alpha + sum_k e_k V_k with e_k = exp(s_k - m'): one exp per key plus one per
 *            block. Keys at or past P are never read.
 * Layout:    qkv fp32 [T, 3d] (q = columns [h*HD, (h+1)*HD)); K, V [H, P, HD] (fp32 or fp16);
 *            out fp32 [T, d].
 * Grid:      (ceil(T / (WG * R)), H): lane i of workgroup (b, h) owns rows b*WG*R + r*WG + i,
 *            r < R, of head h. The key loop runs to the workgroup's last row (a uniform bound);
 *            other rows mask the keys past their position (exp gives 0). Lanes past T compute
 *            row T - 1 and do not write. Keys read are all below step_pos + T: written ones.
 * Bindings:  0 step (read), 1 qkv (read), 2 K cache (read), 3 V cache (read), 4 out (written).
 * Push:      vkg_attention_push: T, H, P.
 * Spec:      0 WG — must equal the subgroup size the pipeline runs with (one subgroup per
 *            workgroup: the broadcasts span the workgroup); 1 HD (1..256, padded to a multiple of
 *            WG in registers); 2 BK keys per softmax block; 3 R rows per lane. The unrolled key
 *            block is R x BK x HD multiply-adds: the host caps it (LLVM compile time).
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

void main() {
    const uint h = gl_WorkGroupID.y, lane = gl_LocalInvocationID.x;
    const uint d = pc.H * HD;
    const uint q0 = gl_WorkGroupID.x * WG * R;
    /* Keys any row of the workgroup sees (uniform); all of them were written by kv_store or before. */
    const uint n_keys = min(step_pos + min(q0 + WG * R, pc.T), pc.P);
    const uint head = h * pc.P * HD; /* head h's keys are contiguous in K and V */

    const float scale = 1.0 / sqrt(float(HD));
    float q[R][HDP], o[R][HDP];
    uint pos[R];
    float m[R], l[R];
    [[unroll]] for (uint r = 0; r < R; r++) {
        const uint tc = min(q0 + r * WG + lane, pc.T - 1u);
        pos[r] = step_pos + tc; /* this row's position: it sees keys 0..pos */
        m[r] = NEG_INF; /* alpha is 0 on the first block */
        l[r] = 0.0;
        [[unroll]] for (uint j = 0; j < HDP; j++) {
            q[r][j] = j < HD ? qkv[tc * 3u * d + h * HD + j] * scale : 0.0;
            o[r][j] = 0.0;
        }
    }

    for (uint k0 = 0; k0 < n_keys; k0 += BK) {
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
                s[r][b] = k0 + b <= pos[r] ? dot[r] : NEG_INF;
        }
        float e[R][BK];
        [[unroll]] for (uint r = 0; r < R; r++) {
            float mb = s[r][0];
            [[unroll]] for (uint b = 1; b < BK; b++)
                mb = max(mb, s[r][b]);
            /* Key 0 is in the first block and visible to every row, so m_new is finite. */
            const float m_new = max(m[r], mb);
            const float alpha = exp(m[r] - m_new);
            l[r] *= alpha;
            [[unroll]] for (uint j = 0; j < HDP; j++)
                o[r][j] *= alpha;
            [[unroll]] for (uint b = 0; b < BK; b++) {
                e[r][b] = exp(s[r][b] - m_new); /* 0 for masked keys */
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
        const uint t = q0 + r * WG + lane;
        if (t < pc.T) {
            const float inv = 1.0 / l[r];
            [[unroll]] for (uint j = 0; j < HD; j++)
                attn_out[t * d + h * HD + j] = o[r][j] * inv;
        }
    }
}
