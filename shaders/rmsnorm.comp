/*
 * rmsnorm.comp — RMS normalisation of vectors of `width` floats, each scaled by the weight w:
 *   y = x * (1 / sqrt(sum(x^2) / width + eps)) * w      (fp32; one pass for the sum of squares)
 * A vector is (t, h): row t of x, its h-th run of `width` elements (push: x_stride, heads). That
 * covers the model's RMSNorm of [T, d] rows (heads = 1) and Qwen3's q/k norm over each head of a
 * qkv row (heads = n_heads, width = head_dim, in place). No mean is subtracted, so no cancellation:
 * one pass is as accurate as two.
 *
 * Two layouts, chosen by the host with the specialization constant LANE_ROWS:
 *   0  a workgroup per vector: lanes stride the vector, the sum goes through reduce.glsl (GPUs,
 *      and wide rows everywhere).
 *   1  a lane per vector, WG vectors per workgroup, no barrier: for the many short head vectors
 *      on a CPU driver (lavapipe runs a workgroup as a loop over SIMD lanes; one workgroup with a
 *      barrier per 128-float head costs more than the head's arithmetic).
 *
 * Grid:      1-D (folded): rows workgroups (LANE_ROWS 0) or ceil(rows / WG) (LANE_ROWS 1); ids past
 *            the work exit (whole workgroups, before any barrier).
 * Bindings:  0 x (read), 1 w[width] (read), 2 y (written; may be x exactly: each lane reads its
 *            elements before writing the same ones).
 * Push:      vkg_rmsnorm_push (rowwise_push.h).
 * Spec:      0 WG (any), 1 LANE_ROWS (0 or 1).
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const uint LANE_ROWS = 0;
layout(local_size_x_id = 0) in;

#define VKG_RMSNORM_SHADER
#include "common.glsl"
#include "reduce.glsl"
#include "rowwise_push.h"

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

void main() {
    uint g = vkg_group_id();
    if (LANE_ROWS != 0u) {
        uint row = g * WG + gl_LocalInvocationID.x;
        if (g >= (pc.rows + WG - 1u) / WG || row >= pc.rows)
            return;
        uint t = row / pc.heads, h = row - t * pc.heads;
        uint xb = pc.x_off + t * pc.x_stride + h * pc.width, yb = pc.y_off + t * pc.y_stride + h * pc.width;
        float s = 0.0;
        for (uint c = 0; c < pc.width; c++)
            s += x[xb + c] * x[xb + c];
        float inv = 1.0 / sqrt(s / float(pc.width) + pc.eps);
        for (uint c = 0; c < pc.width; c++)
            y[yb + c] = x[xb + c] * inv * w[pc.w_off + c];
        return;
    }
    if (g >= pc.rows)
        return; /* the whole workgroup leaves together: barriers stay uniform */
    uint lid = gl_LocalInvocationID.x;
    uint t = g / pc.heads, h = g - t * pc.heads;
    uint xb = pc.x_off + t * pc.x_stride + h * pc.width, yb = pc.y_off + t * pc.y_stride + h * pc.width;
    float s = 0.0;
    for (uint c = lid; c < pc.width; c += WG)
        s += x[xb + c] * x[xb + c];
    float inv = 1.0 / sqrt(vkg_wg_sum(s) / float(pc.width) + pc.eps);
    for (uint c = lid; c < pc.width; c += WG)
        y[yb + c] = x[xb + c] * inv * w[pc.w_off + c];
}
