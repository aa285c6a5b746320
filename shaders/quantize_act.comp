/*
 * quantize_act.comp — quantize fp32 activations X [M, K] (K a multiple of 32) to 8 bits per block of
 * 32 for the int8 dot-product matmul (matmul_q_dot.comp): per block d = max |x| / 127 and
 * q = round(x / d) (halves away from zero, clamped to -127..127; all zero when d = 0), plus the sums of
 * q over each half block, which the weight formats' offsets and mins need. Layout of a block:
 * quantize_act_push.h. Not a weight quantizer (model/quant.c is).
 *
 * Grid:      1-D (folded by vkg_cmd_dispatch_1d), one invocation per block; ceil(n_blocks / WG) groups.
 * Bindings:  0 XQ (written, n_blocks * 48 bytes), 1 X [n_blocks * 32] fp32.
 * Push:      vkg_quantize_act_push.
 * Spec:      0 WG.
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "quantize_act_push.h"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) writeonly buffer XQ { uvec4 xq4[]; };
layout(std430, binding = 1) readonly buffer X4 { vec4 x4[]; };

void main() {
    uint blk = vkg_group_id() * WG + gl_LocalInvocationID.x;
    if (blk >= pc.n_blocks)
        return;
    vec4 x[8];
    float amax = 0.0;
    for (uint i = 0u; i < 8u; i++) {
        x[i] = x4[8u * blk + i];
        vec4 a = abs(x[i]);
        amax = max(amax, max(max(a.x, a.y), max(a.z, a.w)));
    }
    float d = amax / 127.0;
    uint q[8];
    int s0 = 0, s1 = 0;
    for (uint i = 0u; i < 8u; i++) {
        /* x / d, not x * (1 / d): the reference (tests/ref) divides too; 0 / 0 is avoided for d = 0 */
        vec4 v = d > 0.0 ? x[i] / d : vec4(0.0);
        ivec4 r = clamp(ivec4(sign(v) * floor(abs(v) + 0.5)), ivec4(-127), ivec4(127));
        int s = (r.x + r.y) + (r.z + r.w);
        if (i < 4u)
            s0 += s;
        else
            s1 += s;
        uvec4 b = uvec4(r) & 0xFFu;
        q[i] = b.x | (b.y << 8) | (b.z << 16) | (b.w << 24);
    }
    xq4[3u * blk] = uvec4(q[0], q[1], q[2], q[3]);
    xq4[3u * blk + 1u] = uvec4(q[4], q[5], q[6], q[7]);
    xq4[3u * blk + 2u] = uvec4(floatBitsToUint(d), uint(s0), uint(s1), 0u);
}
