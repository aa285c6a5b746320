/*
 * scale.comp — y[i] = a * x[i] + b for i < n: the smallest real kernel, used by the runtime's own
 * tests (specialization constants, push constants, folded grids, replayed command buffers) and by the
 * benchmarks' dispatch-cost probe.
 *
 * Grid:      1-D, ceil(n / WG) workgroups, folded by vkg_cmd_dispatch_1d.
 * Bindings:  0 x (read), 1 y (written).
 * Push:      vkg_scale_push (n, a, b).
 * Spec:      0 WG (workgroup size).
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "scale_push.h"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };

void main() {
    uint i = vkg_group_id() * WG + gl_LocalInvocationID.x;
    if (i < pc.n)
        y[i] = pc.a * x[i] + pc.b;
}
