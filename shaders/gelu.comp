/*
 * gelu.comp — GPT-2's "gelu_new" (tanh approximation), element-wise:
 *   y = 0.5 * a * (1 + tanh(sqrt(2/pi) * (a + 0.044715 a^3)))  computed as  a / (1 + exp(-2u)),
 *   u = sqrt(2/pi) * (a + 0.044715 a^3)
 * (the same function: 0.5 (1 + tanh u) = 1 / (1 + e^{-2u})). The exp form stays finite for any
 * input — exp overflows to +inf, giving a / inf = -0 — where a tanh built from exp would give
 * inf/inf = NaN for large |u| on some drivers.
 *
 * Grid:      1-D, ceil(n / (4 WG)) workgroups (folded); each invocation does 4 elements, WG apart.
 * Bindings:  0 a (read), 1 y (written; may be a).
 * Push:      vkg_eltwise_push (n, y_off, a_off; b_off unused).
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
layout(std430, binding = 1) writeonly buffer Y { float y[]; };

void main() {
    uint base = vkg_group_id() * (4u * WG) + gl_LocalInvocationID.x;
    for (uint k = 0; k < 4u; k++) {
        uint i = base + k * WG;
        if (i < pc.n) {
            float v = a[pc.a_off + i];
            float u = 0.7978845608028654 * (v + 0.044715 * v * v * v);
            y[pc.y_off + i] = v / (1.0 + exp(-2.0 * u));
        }
    }
}
