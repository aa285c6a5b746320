/*
 * swiglu.comp — the SwiGLU product of the stacked gate/up projection, element-wise:
 *   y[t, j] = silu(g) * u,  g = gu[t, j], u = gu[t, ff + j],  silu(g) = g / (1 + exp(-g))
 * for t < T, j < ff (gu is [T, 2 ff]: the gate rows' outputs, then the up rows'). The exp form stays
 * finite for every finite g: exp(-g) overflows to +inf for g < -88 and g / inf = -0 (silu's limit).
 *
 * Grid:      1-D (folded), ceil(T * ff / (4 WG)) workgroups; each invocation does 4 outputs, WG apart.
 * Bindings:  0 gu (read), 1 y (written; must not overlap gu).
 * Push:      vkg_swiglu_push (rowwise_push.h).
 * Spec:      0 WG.
 */
#version 450
#extension GL_GOOGLE_include_directive : require

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

#define VKG_SWIGLU_SHADER
#include "common.glsl"
#include "rowwise_push.h"

layout(std430, binding = 0) readonly buffer GU { float gu[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };

void main() {
    uint base = vkg_group_id() * (4u * WG) + gl_LocalInvocationID.x;
    for (uint k = 0; k < 4u; k++) {
        uint i = base + k * WG;
        if (i >= pc.n)
            return;
        uint t = i / pc.ff, j = i - t * pc.ff;
        uint gi = pc.gu_off + t * 2u * pc.ff + j;
        float g = gu[gi], u = gu[gi + pc.ff];
        y[pc.y_off + i] = g / (1.0 + exp(-g)) * u;
    }
}
