/*
 * softmax.comp — row-wise softmax of x[rows, width] with scale and optional causal mask:
 *   s = scale * x;  visible columns c < vis(r) (vis = width, or clamp(r + row_offset + 1, 0, width)
 *   when causal);  y[r, c] = exp(s[c] - max) / sum_{visible} exp(s - max), 0 for hidden columns.
 * A row with no visible column, or whose visible scores are all -inf, becomes all zeros.
 * Three passes over the row: max; exp written to y and summed (Kahan-compensated per invocation,
 * so 50257-wide rows keep fp32 sums accurate to ~1 ulp); y scaled by 1/sum (re-reading y).
 *
 * Grid:      1-D, one workgroup per row (folded); ids >= rows exit.
 * Bindings:  0 x (read), 1 y (read and written; may be x: each invocation reads and writes only
 *            its own columns c = lid + k*WG, in program order).
 * Push:      vkg_softmax_push (rows, width, offsets, scale, causal, row_offset).
 * Spec:      0 WG.
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

#define VKG_SOFTMAX_SHADER
#include "common.glsl"
#include "reduce.glsl"
#include "rowwise_push.h"

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) buffer Y { float y[]; };

void main() {
    uint row = vkg_group_id();
    if (row >= pc.rows)
        return;
    uint lid = gl_LocalInvocationID.x;
    uint xb = pc.x_off + row * pc.width, yb = pc.y_off + row * pc.width;
    uint vis = pc.width;
    if (pc.causal != 0) {
        int last = int(row) + pc.row_offset; /* rows and offsets stay far below 2^31 */
        vis = last < 0 ? 0u : min(uint(last) + 1u, pc.width);
    }

    float m = -1.0 / 0.0;
    for (uint c = lid; c < vis; c += WG) {
        float v = pc.scale * x[xb + c];
        if (!isnan(v))
            m = max(m, v);
    }
    m = vkg_wg_max(m);
    if (vis == 0u || (isinf(m) && m < 0.0)) { /* uniform: every invocation has the same max */
        for (uint c = lid; c < pc.width; c += WG)
            y[yb + c] = 0.0;
        return;
    }

    precise float sum = 0.0, comp = 0.0;
    for (uint c = lid; c < vis; c += WG) {
        float e = exp(pc.scale * x[xb + c] - m);
        y[yb + c] = e;
        precise float t = e - comp;
        precise float u = sum + t;
        comp = (u - sum) - t;
        sum = u;
    }
    for (uint c = vis + lid; c < pc.width; c += WG)
        y[yb + c] = 0.0;
    float total = vkg_wg_sum(sum);

    for (uint c = lid; c < vis; c += WG)
        y[yb + c] = y[yb + c] / total;
}
