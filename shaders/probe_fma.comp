/*
 * probe_fma.comp — fp32 arithmetic-throughput probe of the benchmarks: every invocation runs pc.n
 * iterations of 8 independent vec4 FMA chains (32 scalar FMAs = 64 FLOPs per iteration; independent
 * chains hide the FMA latency). Inputs come from the invocation id and pc.seed and the result is
 * written only if it equals pc.seed (practically never), so the compiler can neither fold nor drop
 * the loop. FLOPs per dispatch = n_groups * WG * pc.n * 64. Not a kernel of the model; only
 * src/bench/probes.c uses it.
 *
 * Grid:      1-D (folded by vkg_cmd_dispatch_1d), pc.n_groups workgroups of WG invocations.
 * Bindings:  0 sink (one float, written only in the impossible case).
 * Push:      vkg_probe_push (n = iterations, n_groups, stride unused, seed).
 * Spec:      0 WG.
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "probe_push.h"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) writeonly buffer Sink { float sink[]; };

void main() {
    uint g = vkg_group_id();
    if (g >= pc.n_groups)
        return;
    float t = float(gl_LocalInvocationID.x) * 1e-7;
    /* Multiplier just below 1 and a tiny addend: values stay finite for any iteration count. */
    vec4 b = vec4(0.9999999, 0.9999998, 0.9999997, 0.9999996);
    vec4 c = vec4(pc.seed * 1e-9);
    vec4 a0 = vec4(t + 0.10), a1 = vec4(t + 0.11), a2 = vec4(t + 0.12), a3 = vec4(t + 0.13);
    vec4 a4 = vec4(t + 0.14), a5 = vec4(t + 0.15), a6 = vec4(t + 0.16), a7 = vec4(t + 0.17);
    for (uint i = 0u; i < pc.n; i++) {
        a0 = fma(a0, b, c); a1 = fma(a1, b, c); a2 = fma(a2, b, c); a3 = fma(a3, b, c);
        a4 = fma(a4, b, c); a5 = fma(a5, b, c); a6 = fma(a6, b, c); a7 = fma(a7, b, c);
    }
    vec4 s = (a0 + a1) + (a2 + a3) + (a4 + a5) + (a6 + a7);
    float r = s.x + s.y + s.z + s.w;
    if (r == pc.seed)
        sink[0] = r;
}
