/*
 * add.comp — y = a + b element-wise (the residual connection).
 *
 * Grid:      1-D, ceil(n / (4 WG)) workgroups (folded); each invocation does 4 elements, WG apart.
 * Bindings:  0 a (read), 1 b (read), 2 y (written; may be a or b: each element is read before it
 *            is written, by the same invocation).
 * Push:      vkg_eltwise_push (n, y_off, a_off, b_off).
 * Spec:      0 WG.
 */
#version 450
#extension GL_GOOGLE_include_directive : require

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

#define VKG_ELTWISE_SHADER
#include "common.glsl"
#include "rowwise_push.h"

layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

void main() {
    uint base = vkg_group_id() * (4u * WG) + gl_LocalInvocationID.x;
    for (uint k = 0; k < 4u; k++) {
        uint i = base + k * WG;
        if (i < pc.n)
            y[pc.y_off + i] = a[pc.a_off + i] + b[pc.b_off + i];
    }
}
