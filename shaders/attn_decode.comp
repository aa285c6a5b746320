/*
 * attn_decode.comp — one query token against the cached keys, flash-decoding, pass 1 of 2: each
 * workgroup attends to one fixed chunk of keys of one K/V head for QG of the query heads that share
 * it (grouped-query attention), and writes a partial softmax result per query head;
 * attn_combine.comp merges the chunks.
 *
 * Math:      pos = step_pos (the query's position); it sees keys lo..pos, lo = 0 when pc.window
 *            is 0 or pos < window, else pos - window + 1. G = H / KVH query heads share K/V head
 *            g = h / G. For query head h and chunk c, the keys of [c*CHUNK, (c+1)*CHUNK) that it
 *            sees:
 *              s_k = scale * (q_h · K[g,k])      m = max_k s_k
 *              l   = sum_k exp(s_k - m)          o[j] = sum_k exp(s_k - m) * V[g,k,j]
 *            written to scratch[h, c, :] = (m, l, o[0..HD)). Chunks holding no visible key exit at
 *            once: the grid is fixed at record time for the largest context P, so one recording
 *            serves every position. Keys at or past P are never read (pos >= P would be a host bug).
 *            With one chunk for all P keys (pc.n_splits == 1, the host's choice on a CPU device,
 *            where a few long workgroups beat many short ones) the result is final: binding 4 is
 *            then the output [1, H*HD] and out[h*HD + j] = o[j] / l is written, no combine pass.
 * Layout:    qkv fp32 [1, (H + 2*KVH)*HD] (q of head h = columns [h*HD, (h+1)*HD)); K, V
 *            [KVH, P, HD] (fp32 or fp16); scratch fp32 [H, n_splits, HD + 2].
 * Grid:      (n_splits = ceil(P / CHUNK), KVH * ceil(G / QG)): workgroup (c, y) serves K/V head
 *            y / ceil(G/QG) and its query heads QG * (y % ceil(G/QG)) .. (those past G idle).
 * Bindings:  0 step (read), 1 qkv (read), 2 K cache (read), 3 V cache (read), 4 scratch (written;
 *            the output when n_splits == 1).
 * Push:      vkg_attention_push: H, KVH, P, n_splits, window, scale (T = 1 and hd = HD unused).
 * Spec:      0 WG, 1 HD head dimension (any 1..256), 2 CHUNK keys per workgroup, 3 QG query heads
 *            per workgroup. Shared memory: 4 * (QG*HD + QG*CHUNK + QG*WG + QG*G1*HD) + 16 * QG*G4*HD4
 *            bytes (G1, G4, HD4 below); the host picks CHUNK and QG to fit.
 * Defines:   KV_F16 — fp16 cache (see attn_kv.glsl).
 * Work split: pass 1 gives each thread whole keys: one K row is loaded once (vec4 loads when
 *            HD % 4 == 0) and dotted with all QG queries, so a K/V head is read once per
 *            workgroup, not once per query head. The chunk's max and sum per query head are
 *            workgroup reductions (subgroup ops, then one shared slot per subgroup, so any subgroup
 *            size works). Pass 2 gives each thread four output dimensions (one when HD % 4 != 0)
 *            of one of several key subsets, for all QG query heads: each V element is loaded once
 *            and neighbouring threads read neighbouring elements.
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "attn_kv.glsl"
#include "step.h"
#include "attention_push.h"

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint HD = 64;
layout(constant_id = 2) const uint CHUNK = 64;
layout(constant_id = 3) const uint QG = 1;
layout(local_size_x_id = 0) in;

/* Pass 2 work split. Scalar (HD % 4 != 0): G1 key subsets of HD threads each. Vector (HD % 4 == 0):
 * G4 subsets of HD4 = HD / 4 threads, each thread four neighbouring dimensions (16-byte loads). */
const uint G1 = WG >= HD ? WG / HD : 1u;
const uint HD4 = HD / 4u > 0u ? HD / 4u : 1u;
const uint G4 = WG >= HD4 ? WG / HD4 : 1u;
const bool VEC4 = HD % 4u == 0u;
#define NEG_INF uintBitsToFloat(0xff800000u)

VKG_STEP_BUFFER(0)
layout(std430, binding = 1) readonly buffer QKV { float qkv[]; };
layout(std430, binding = 2) readonly buffer KCache { KV_STORE_T k_cache[]; };
/* The same binding seen as groups of four, for wide loads when HD % 4 == 0. */
layout(std430, binding = 2) readonly buffer KCache4 { KV_STORE4_T k_cache4[]; };
layout(std430, binding = 3) readonly buffer VCache { KV_STORE_T v_cache[]; };
layout(std430, binding = 3) readonly buffer VCache4 { KV_STORE4_T v_cache4[]; };
layout(std430, binding = 4) writeonly buffer Scratch { float scratch[]; };

shared float q_s[QG * HD];         /* the queries, pre-scaled by pc.scale, [QG, HD] */
shared float p_s[QG * CHUNK];      /* scores, then exp(score - m), [QG, CHUNK] */
shared float red[QG * WG];         /* one partial per query head and subgroup (gl_NumSubgroups <= WG) */
shared float part[QG * G1 * HD];   /* pass-2 partial outputs, [QG, G1, HD] (scalar path) */
shared vec4 part4[QG * G4 * HD4];  /* the same, [QG, G4, HD4] (vector path) */

void main() {
    const uint split = gl_WorkGroupID.x, tid = gl_LocalInvocationID.x;
    const uint G = pc.H / pc.KVH;            /* query heads per K/V head */
    const uint nqb = (G + QG - 1u) / QG;     /* workgroups per K/V head and chunk */
    const uint kvh = gl_WorkGroupID.y / nqb;
    const uint g0 = (gl_WorkGroupID.y - kvh * nqb) * QG;
    const uint nq = min(QG, G - g0);         /* query heads this workgroup serves */
    const uint h0 = kvh * G + g0;            /* the first of them */
    const uint pos = step_pos;
    const uint n_keys = min(pos + 1u, pc.P);
    const uint lo = (pc.window == 0u || pos < pc.window) ? 0u : pos - pc.window + 1u;
    const uint k0 = split * CHUNK;
    if (k0 >= n_keys || k0 + CHUNK <= lo)
        return; /* the whole workgroup: this chunk holds no visible key */
    const uint kb = max(k0, lo);                 /* first visible key of the chunk */
    const uint n = min(k0 + CHUNK, n_keys) - kb; /* visible keys of the chunk */
    const uint base = (kvh * pc.P + kb) * HD;    /* first element of them in K and V */

    for (uint idx = tid; idx < QG * HD; idx += WG) {
        uint g = idx / HD, j = idx - g * HD;
        q_s[idx] = g < nq ? qkv[(h0 + g) * HD + j] * pc.scale : 0.0;
    }
    barrier();

    float mx[QG];
    [[unroll]] for (uint g = 0; g < QG; g++)
        mx[g] = NEG_INF;
    for (uint s = tid; s < n; s += WG) {
        float dot[QG];
        [[unroll]] for (uint g = 0; g < QG; g++)
            dot[g] = 0.0;
        if (VEC4) {
            uint row4 = (base + s * HD) / 4u;
            for (uint j = 0; j < HD / 4u; j++) {
                vec4 k = KV_LOAD4(k_cache4[row4 + j]);
                [[unroll]] for (uint g = 0; g < QG; g++) {
                    uint q = g * HD + 4u * j;
                    dot[g] += q_s[q] * k.x + q_s[q + 1u] * k.y + q_s[q + 2u] * k.z + q_s[q + 3u] * k.w;
                }
            }
        } else {
            uint row = base + s * HD;
            for (uint j = 0; j < HD; j++) {
                float k = KV_LOAD(k_cache[row + j]);
                [[unroll]] for (uint g = 0; g < QG; g++)
                    dot[g] += q_s[g * HD + j] * k;
            }
        }
        [[unroll]] for (uint g = 0; g < QG; g++) {
            p_s[g * CHUNK + s] = dot[g];
            mx[g] = max(mx[g], dot[g]);
        }
    }
    /* Workgroup max per query head. */
    [[unroll]] for (uint g = 0; g < QG; g++) {
        float r = subgroupMax(mx[g]);
        if (subgroupElect())
            red[g * WG + gl_SubgroupID] = r;
    }
    barrier();
    float m[QG];
    [[unroll]] for (uint g = 0; g < QG; g++) {
        m[g] = red[g * WG];
        for (uint i = 1; i < gl_NumSubgroups; i++)
            m[g] = max(m[g], red[g * WG + i]);
    }
    barrier(); /* red is reused by the sums */

    float sum[QG];
    [[unroll]] for (uint g = 0; g < QG; g++)
        sum[g] = 0.0;
    for (uint s = tid; s < n; s += WG)
        [[unroll]] for (uint g = 0; g < QG; g++) {
            float e = exp(p_s[g * CHUNK + s] - m[g]);
            p_s[g * CHUNK + s] = e;
            sum[g] += e;
        }
    [[unroll]] for (uint g = 0; g < QG; g++) {
        float r = subgroupAdd(sum[g]);
        if (subgroupElect())
            red[g * WG + gl_SubgroupID] = r;
    }
    barrier(); /* also publishes p_s */
    float l[QG];
    [[unroll]] for (uint g = 0; g < QG; g++) {
        l[g] = 0.0;
        for (uint i = 0; i < gl_NumSubgroups; i++)
            l[g] += red[g * WG + i];
    }

    const bool direct = pc.n_splits == 1u;
    /* Where o[j] of query head h goes: scratch row (h, split) after m and l, or the output. */
#define DST(h) (direct ? (h) * HD : ((h) * pc.n_splits + split) * (HD + 2u) + 2u)
    if (!direct)
        [[unroll]] for (uint g = 0; g < QG; g++)
            if (tid == g && g < nq) {
                scratch[DST(h0 + g) - 2u] = m[g];
                scratch[DST(h0 + g) - 1u] = l[g];
            }
    if (VEC4) {
        for (uint idx = tid; idx < G4 * HD4; idx += WG) {
            uint gs = idx / HD4, j4 = idx - gs * HD4;
            vec4 acc[QG];
            [[unroll]] for (uint g = 0; g < QG; g++)
                acc[g] = vec4(0.0);
            for (uint s = gs; s < n; s += G4) {
                vec4 v = KV_LOAD4(v_cache4[base / 4u + s * HD4 + j4]);
                [[unroll]] for (uint g = 0; g < QG; g++)
                    acc[g] += p_s[g * CHUNK + s] * v;
            }
            [[unroll]] for (uint g = 0; g < QG; g++)
                part4[(g * G4 + gs) * HD4 + j4] = acc[g];
        }
        barrier();
        for (uint idx = tid; idx < QG * HD4; idx += WG) {
            uint g = idx / HD4, j4 = idx - g * HD4;
            if (g >= nq)
                continue;
            vec4 o = vec4(0.0);
            for (uint gs = 0; gs < G4; gs++)
                o += part4[(g * G4 + gs) * HD4 + j4];
            float f = 1.0;
            [[unroll]] for (uint i = 0; i < QG; i++)
                if (i == g && direct)
                    f = 1.0 / l[i];
            const uint dst = DST(h0 + g) + 4u * j4;
            for (uint c = 0; c < 4u; c++)
                scratch[dst + c] = o[c] * f;
        }
    } else {
        for (uint idx = tid; idx < G1 * HD; idx += WG) {
            uint gs = idx / HD, j = idx - gs * HD;
            float acc[QG];
            [[unroll]] for (uint g = 0; g < QG; g++)
                acc[g] = 0.0;
            for (uint s = gs; s < n; s += G1) {
                float v = KV_LOAD(v_cache[base + s * HD + j]);
                [[unroll]] for (uint g = 0; g < QG; g++)
                    acc[g] += p_s[g * CHUNK + s] * v;
            }
            [[unroll]] for (uint g = 0; g < QG; g++)
                part[(g * G1 + gs) * HD + j] = acc[g];
        }
        barrier();
        for (uint idx = tid; idx < QG * HD; idx += WG) {
            uint g = idx / HD, j = idx - g * HD;
            if (g >= nq)
                continue;
            float o = 0.0;
            for (uint gs = 0; gs < G1; gs++)
                o += part[(g * G1 + gs) * HD + j];
            float f = 1.0;
            [[unroll]] for (uint i = 0; i < QG; i++)
                if (i == g && direct)
                    f = 1.0 / l[i];
            scratch[DST(h0 + g) + j] = o * f;
        }
    }
}
