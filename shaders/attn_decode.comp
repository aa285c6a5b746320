/*
 * attn_decode.comp — one query token against the cached keys, flash-decoding, pass 1 of 2: each
 * workgroup attends to one fixed chunk of keys of one head and writes a partial softmax result;
 * attn_combine.comp merges the chunks.
 *
 * Math:      pos = step_pos (the query's position), keys 0..pos. For head h and chunk c covering
 *            keys [c*CHUNK, min((c+1)*CHUNK, pos+1)):
 *              s_k = (q_h · K[h,k]) / sqrt(HD)      m = max_k s_k
 *              l   = sum_k exp(s_k - m)             o[j] = sum_k exp(s_k - m) * V[h,k,j]
 *            written to scratch[h, c, :] = (m, l, o[0..HD)). Chunks starting past pos exit at once:
 *            the grid is fixed at record time for the largest context P, so one recording serves
 *            every position. Keys at or past P are never read (pos >= P would be a host bug).
 *            With one chunk for all P keys (pc.n_splits == 1, the host's choice on a CPU device,
 *            where a few long workgroups beat many short ones) the result is final: binding 4 is
 *            then the output [1, d] and out[h*HD + j] = o[j] / l is written, no combine pass.
 * Layout:    qkv fp32 [1, 3d] (q = columns [h*HD, (h+1)*HD)); K, V [H, P, HD] (fp32 or fp16);
 *            scratch fp32 [H, n_splits, HD + 2].
 * Grid:      (n_splits = ceil(P / CHUNK), H).
 * Bindings:  0 step (read), 1 qkv (read), 2 K cache (read), 3 V cache (read), 4 scratch (written;
 *            the output when n_splits == 1).
 * Push:      vkg_attention_push: H, P, n_splits (T = 1 and hd = HD unused).
 * Spec:      0 WG, 1 HD head dimension (any 1..256), 2 CHUNK keys per workgroup.
 * Defines:   KV_F16 — fp16 cache (see attn_kv.glsl).
 * Work split: pass 1 gives each thread whole keys (a dot product of HD, vec4 loads when HD % 4 == 0);
 *            the chunk's max and sum are workgroup reductions (subgroup ops, then one shared slot per
 *            subgroup, so any subgroup size works); pass 2 gives each thread four output dimensions
 *            (one when HD % 4 != 0) of one of several key subsets, so neighbouring threads read
 *            neighbouring V elements.
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "attn_kv.glsl"
#include "step.h"
#include "attention_push.h"

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint HD = 64;
layout(constant_id = 2) const uint CHUNK = 64;
layout(local_size_x_id = 0) in;

/* Pass 2 work split. Scalar (HD % 4 != 0): G key subsets of HD threads each. Vector (HD % 4 == 0):
 * G4 subsets of HD4 = HD / 4 threads, each thread four neighbouring dimensions (16-byte loads). */
const uint G = WG >= HD ? WG / HD : 1u;
const uint HD4 = HD / 4u > 0u ? HD / 4u : 1u;
const uint G4 = WG >= HD4 ? WG / HD4 : 1u;
const bool VEC4 = HD % 4u == 0u;

VKG_STEP_BUFFER(0)
layout(std430, binding = 1) readonly buffer QKV { float qkv[]; };
layout(std430, binding = 2) readonly buffer KCache { KV_STORE_T k_cache[]; };
/* The same binding seen as groups of four, for wide loads when HD % 4 == 0. */
layout(std430, binding = 2) readonly buffer KCache4 { KV_STORE4_T k_cache4[]; };
layout(std430, binding = 3) readonly buffer VCache { KV_STORE_T v_cache[]; };
layout(std430, binding = 3) readonly buffer VCache4 { KV_STORE4_T v_cache4[]; };
layout(std430, binding = 4) writeonly buffer Scratch { float scratch[]; };

shared float q_s[HD];      /* the query, pre-scaled by 1/sqrt(HD) */
shared float p_s[CHUNK];   /* scores, then exp(score - m) */
shared float red[WG];      /* one partial per subgroup (gl_NumSubgroups <= WG) */
shared float part[G * HD];    /* pass-2 partial outputs, [G, HD] (scalar path) */
shared vec4 part4[G4 * HD4];  /* the same, [G4, HD4] (vector path) */

float wg_max(float x) {
    x = subgroupMax(x);
    if (subgroupElect())
        red[gl_SubgroupID] = x;
    barrier();
    float r = red[0];
    for (uint i = 1; i < gl_NumSubgroups; i++)
        r = max(r, red[i]);
    barrier(); /* red is reused by the next reduction */
    return r;
}

float wg_sum(float x) {
    x = subgroupAdd(x);
    if (subgroupElect())
        red[gl_SubgroupID] = x;
    barrier();
    float r = 0.0;
    for (uint i = 0; i < gl_NumSubgroups; i++)
        r += red[i];
    barrier();
    return r;
}

void main() {
    const uint split = gl_WorkGroupID.x, h = gl_WorkGroupID.y, tid = gl_LocalInvocationID.x;
    const uint n_keys = min(step_pos + 1u, pc.P);
    const uint k0 = split * CHUNK;
    if (k0 >= n_keys)
        return; /* the whole workgroup: this chunk holds no key yet */
    const uint n = min(CHUNK, n_keys - k0);
    const uint base = (h * pc.P + k0) * HD; /* first element of this chunk in K and V */

    const float scale = 1.0 / sqrt(float(HD));
    for (uint j = tid; j < HD; j += WG)
        q_s[j] = qkv[h * HD + j] * scale;
    barrier();

    float local_max = uintBitsToFloat(0xff800000u); /* -inf */
    for (uint s = tid; s < n; s += WG) {
        float dot = 0.0;
        if (VEC4) {
            uint row4 = (base + s * HD) / 4u;
            for (uint j = 0; j < HD / 4u; j++) {
                vec4 k = KV_LOAD4(k_cache4[row4 + j]);
                dot += q_s[4u * j] * k.x + q_s[4u * j + 1u] * k.y + q_s[4u * j + 2u] * k.z +
                       q_s[4u * j + 3u] * k.w;
            }
        } else {
            uint row = base + s * HD;
            for (uint j = 0; j < HD; j++)
                dot += q_s[j] * KV_LOAD(k_cache[row + j]);
        }
        p_s[s] = dot;
        local_max = max(local_max, dot);
    }
    const float m = wg_max(local_max);

    float local_sum = 0.0;
    for (uint s = tid; s < n; s += WG) {
        float e = exp(p_s[s] - m);
        p_s[s] = e;
        local_sum += e;
    }
    const float l = wg_sum(local_sum); /* its barrier also publishes p_s */

    const bool direct = pc.n_splits == 1u;
    const float inv_l = 1.0 / l;
    /* Where o[j] goes: scratch row (h, split) after m and l, or straight to the output. */
    const uint dst = direct ? h * HD : (h * pc.n_splits + split) * (HD + 2u) + 2u;
    const float out_scale = direct ? inv_l : 1.0;
    if (tid == 0u && !direct) {
        scratch[dst - 2u] = m;
        scratch[dst - 1u] = l;
    }
    if (VEC4) {
        for (uint idx = tid; idx < G4 * HD4; idx += WG) {
            uint g = idx / HD4, j4 = idx - g * HD4;
            vec4 acc = vec4(0.0);
            for (uint s = g; s < n; s += G4)
                acc += p_s[s] * KV_LOAD4(v_cache4[base / 4u + s * HD4 + j4]);
            part4[idx] = acc;
        }
        barrier();
        for (uint j4 = tid; j4 < HD4; j4 += WG) {
            vec4 o = vec4(0.0);
            for (uint g = 0; g < G4; g++)
                o += part4[g * HD4 + j4];
            for (uint c = 0; c < 4u; c++)
                scratch[dst + 4u * j4 + c] = o[c] * out_scale;
        }
    } else {
        for (uint idx = tid; idx < G * HD; idx += WG) {
            uint g = idx / HD, j = idx - g * HD;
            float acc = 0.0;
            for (uint s = g; s < n; s += G)
                acc += p_s[s] * KV_LOAD(v_cache[base + s * HD + j]);
            part[idx] = acc;
        }
        barrier();
        for (uint j = tid; j < HD; j += WG) {
            float o = 0.0;
            for (uint g = 0; g < G; g++)
                o += part[g * HD + j];
            scratch[dst + j] = o * out_scale;
        }
    }
}
