/*
 * dequant_f16.comp — W rows in a ggml block format to fp16 rows: out[n, k] = fp16(W[n, k]), through
 * the staging routine of the cooperative-matrix prefill path (quant_stage.glsl: the same tile, the
 * same values, the same zeros past K). For W used many times as fp16 (a GEMM on another path), and
 * the tests' window on that routine on devices without cooperative matrices.
 *
 * A workgroup stages a 64-row x BK-column tile: its first min(WG, 64) invocations decode one W row's
 * step each (rows past n_count repeat the last row: never written), then all copy the tile out as
 * pairs of halves, columns below pc.N (the output's row stride, >= K: columns K.. get the zeros).
 *
 * Grid:      1-D (folded), pc.n_groups = ceil(n_count / 64) * ceil(ceil(N / 32) / (BK / 32)); group
 *            g covers rows (g % groups_n) * 64 .. and columns (g / groups_n) * BK ...
 * Bindings:  0 out [n_count, N] fp16 as 32-bit words (element 2i in the low half), 2 W chunk (raw
 *            blocks, quant.glsl).
 * Push:      vkg_matmul_q_push (matmul_q_push.h): K, N (output row stride, even, >= K), n_offset
 *            (first output row), n_count, groups_n, n_groups, row_bytes; M, bias, epilogue unused.
 * Spec:      0 WG = 64, 1 BK = 64 (the step: 32, 64 or 128, as the matmul's).
 * Needs:     shaderFloat16 (the shared tile), no 16-bit storage.
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#include "common.glsl"
#include "matmul_q_push.h"

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint BK = 64;
layout(local_size_x_id = 0) in;

const uint BN = 64u;

layout(std430, binding = 0) writeonly buffer OutBuf { uint out_data[]; };

shared float16_t Ws[BN * BK]; /* Ws[n][k] */
#define QS_TILE Ws
#define QS_BK BK
#include "quant_stage.glsl"

void main() {
    uint g = vkg_group_id();
    if (g >= pc.n_groups)
        return;
    uint n0 = (g % pc.groups_n) * BN, u0 = (g / pc.groups_n) * (BK / 32u);
    uint tid = gl_LocalInvocationID.x, wt = min(WG, BN);
    for (uint r = tid; r < BN && tid < wt; r += wt)
        q_stage_row(min(n0 + r, pc.n_count - 1u) * pc.row_bytes, u0, pc.K / 32u, r);
    barrier();
    for (uint i = tid; i < BN * BK / 2u; i += WG) {
        uint r = i / (BK / 2u), kk = (i % (BK / 2u)) * 2u, k = u0 * 32u + kk;
        if (n0 + r < pc.n_count && k < pc.N)
            out_data[((pc.n_offset + n0 + r) * pc.N + k) / 2u] = packFloat2x16(f16vec2(Ws[r * BK + kk], Ws[r * BK + kk + 1u]));
    }
}
