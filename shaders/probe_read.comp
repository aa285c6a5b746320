/*
 * probe_read.comp — streaming-read probe of the benchmarks: every invocation sums the vec4 elements
 * i, i + stride, i + 2*stride, ... of a buffer (neighbouring invocations read neighbouring 16-byte
 * elements: coalesced), so the whole buffer is read exactly once per dispatch. The sum is written
 * only if it equals an impossible value, which keeps the loads alive without write traffic. The
 * achieved bytes/s is the device's practical memory-read ceiling (what a decode step can hope for).
 * Not a kernel of the model; only src/bench/probes.c uses it.
 *
 * Grid:      1-D (folded by vkg_cmd_dispatch_1d), pc.n_groups workgroups of WG invocations.
 * Bindings:  0 data (vec4[pc.n], read), 1 sink (one float, written only in the impossible case).
 * Push:      vkg_probe_push (n = vec4 elements, n_groups, stride = n_groups * WG, seed).
 * Spec:      0 WG.
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "probe_push.h"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Data { vec4 data[]; };
layout(std430, binding = 1) writeonly buffer Sink { float sink[]; };

void main() {
    uint g = vkg_group_id();
    if (g >= pc.n_groups)
        return;
    vec4 acc = vec4(0.0);
    for (uint i = g * WG + gl_LocalInvocationID.x; i < pc.n; i += pc.stride)
        acc += data[i];
    float s = acc.x + acc.y + acc.z + acc.w;
    if (s == pc.seed)
        sink[0] = s;
}
