/*
 * argmax.comp — index of the largest element of x[n], ties to the lowest index, NaNs skipped
 * (an all-NaN vector gives 0), like ref_argmax; -inf counts as a value. Written to a uint32
 * output on the device so greedy decoding never reads logits back.
 *
 * Two passes (two variants of this file):
 *   default      x[n] floats -> per-workgroup (value, index) pairs, or straight to the output index
 *                when FINAL is defined too (n small enough for one workgroup).
 *   PAIRS_IN     (value, index) pairs[n] from the first pass -> output index (needs FINAL).
 * A candidate is (value, index); "none" is (-inf, 0xffffffff), which loses to any real element.
 *
 * Grid:      1-D, `groups` workgroups (folded), each taking per_group consecutive candidates with
 *            its invocations striding by WG (coalesced); ids >= groups exit. The final pass runs one.
 * Bindings:  0 input (x floats, or pairs as uints: bits of the value, then the index),
 *            1 output (pairs [2 * groups] uints, or with FINAL out[] receiving out[out_index]).
 * Push:      vkg_argmax_push (n, x_off, per_group, groups, out_index).
 * Spec:      0 WG.
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

#define VKG_ARGMAX_SHADER
#define VKG_REDUCE_ARGMAX
#include "common.glsl"
#include "reduce.glsl"
#include "rowwise_push.h"

#ifdef PAIRS_IN
layout(std430, binding = 0) readonly buffer In { uint pairs_in[]; };
#else
layout(std430, binding = 0) readonly buffer In { float x[]; };
#endif
layout(std430, binding = 1) writeonly buffer Out { uint out_u[]; };

void main() {
    uint g = vkg_group_id();
    if (g >= pc.groups)
        return;
    uint begin = g * pc.per_group;
    uint end = min(begin + pc.per_group, pc.n);
    float bv = -1.0 / 0.0;
    uint bi = 0xffffffffu;
    /* Each invocation scans increasing indices, so a strict '>' keeps the lowest index of a tie. */
    for (uint i = begin + gl_LocalInvocationID.x; i < end; i += WG) {
#ifdef PAIRS_IN
        float v = uintBitsToFloat(pairs_in[2u * i]);
        uint idx = pairs_in[2u * i + 1u];
        if (v > bv || (v == bv && idx < bi)) {
#else
        float v = x[pc.x_off + i];
        uint idx = i;
        if (v > bv || (v == bv && bi == 0xffffffffu)) { /* NaN compares false: skipped */
#endif
            bv = v;
            bi = idx;
        }
    }
    vkg_wg_argmax(bv, bi);
    if (gl_LocalInvocationID.x == 0u) {
#ifdef FINAL
        out_u[pc.out_index] = bi == 0xffffffffu ? 0u : bi;
#else
        out_u[2u * g] = floatBitsToUint(bv);
        out_u[2u * g + 1u] = bi;
#endif
    }
}
