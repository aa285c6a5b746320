/*
 * matmul_q_dot.comp — the quantized matmul through int8 dot products (VK_KHR_shader_integer_dot_product),
 * vector work split (decode, M = 1; decode_batch; any M on a CPU device): Y[m, n] = finish(X[m,:] · W[n,:])
 * with X already quantized per block of 32 (quantize_act.comp: x ~ dx * qx) and W [N, K] in a ggml block
 * format (quant_packed.glsl; one variant per format), finish = + bias, then GELU or + residual.
 *
 * Each unit of 32 weights (value sc * (q - off) - mn, sc per 16 elements) meets one activation block:
 *   dx * ( sc0 * (q·qx [0:16] - off * s0) + sc1 * (q·qx [16:32] - off * s1) - mn * (s0 + s1) )
 * where the dot products are OpSDot over 4 packed bytes (exact 32-bit integers), s0, s1 the block's
 * integer sums of qx, and everything after the integer part fp32. The result differs from the float
 * path by the activations' quantization error (at most dx / 2 per element), not by the weights.
 *
 * Work split, grid, bindings 0 and 2-4, push constants and spec constants: exactly matmul_q_vec.comp's
 * (so a row of a batched step equals a lone M = 1 step). Binding 1 is the quantized X [M, K / 32]
 * blocks of 3 uvec4 (quantize_act_push.h) instead of fp32 X.
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_spirv_intrinsics : require
#include "common.glsl"
#include "matmul_q_push.h"
#include "matmul_common.glsl"

/* OpSDot (SPV_KHR_integer_dot_product) on two words of 4 signed bytes (PackedVectorFormat4x8Bit = 0);
 * capabilities DotProductKHR (6019) and DotProductInput4x8BitPackedKHR (6018). Declared through
 * spirv_intrinsics because Debian 12's glslang (12.0) does not know GL_EXT_integer_dot_product. */
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int sdot4x8(uint a, uint b, spirv_literal int packed_fmt);

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint TPR = 16;
layout(constant_id = 2) const uint ROWS = 2;
layout(constant_id = 3) const uint MB = 1;
layout(local_size_x_id = 0) in;

layout(std430, binding = 1) readonly buffer XQ { uvec4 xq4[]; };

const uint TEAMS = WG / TPR;
const uint RB = TEAMS * ROWS;

shared float partial[TPR == 1u ? 1u : MB * RB * TPR];

uint x_row[MB];       /* first activation block of each X row */
uint x_block;         /* activation block of the current weight block's first unit, within a row */
float acc[MB * ROWS];

void qp_emit(uint r, uint j, uint q[8], int off, float sc0, float sc1, float mn);
#include "quant_packed.glsl"

void qp_emit(uint r, uint j, uint q[8], int off, float sc0, float sc1, float mn) {
    for (uint i = 0u; i < MB; i++) {
        uint xb = 3u * (x_row[i] + x_block + j);
        uvec4 a0 = xq4[xb], a1 = xq4[xb + 1u], a2 = xq4[xb + 2u];
        int d0 = sdot4x8(q[0], a0.x, 0) + sdot4x8(q[1], a0.y, 0) + sdot4x8(q[2], a0.z, 0) + sdot4x8(q[3], a0.w, 0);
        int d1 = sdot4x8(q[4], a1.x, 0) + sdot4x8(q[5], a1.y, 0) + sdot4x8(q[6], a1.z, 0) + sdot4x8(q[7], a1.w, 0);
        int s0 = int(a2.y), s1 = int(a2.z);
#ifdef FMT_Q6_K
        float v = sc0 * float(d0 - off * s0) + sc1 * float(d1 - off * s1);
#else
        float v = sc0 * float((d0 + d1) - off * (s0 + s1)); /* sc0 == sc1 */
#endif
        if (QMIN)
            v -= mn * float(s0 + s1);
        acc[i * ROWS + r] += uintBitsToFloat(a2.x) * v;
    }
}

void main() {
    uint g = vkg_group_id();
    if (g >= pc.n_groups)
        return; /* uniform per workgroup: before the barrier */
    uint m0 = (g / pc.groups_n) * MB, row0 = (g % pc.groups_n) * RB;
    uint tid = gl_LocalInvocationID.x, team = tid / TPR, lane = tid % TPR;
    uint lr0 = team * ROWS;
    /* Rows past the chunk and X rows past M are computed on the last one and not stored. */
    uint w_row[ROWS];
    for (uint r = 0u; r < ROWS; r++)
        w_row[r] = min(row0 + lr0 + r, pc.n_count - 1u) * pc.row_bytes;
    for (uint i = 0u; i < MB; i++)
        x_row[i] = min(m0 + i, pc.M - 1u) * (pc.K / 32u);
    for (uint i = 0u; i < MB * ROWS; i++)
        acc[i] = 0.0;

    const uint CPB = QU / QP; /* chunks per block */
    uint chunks = pc.K / (32u * QP);
    for (uint v = lane; v < chunks; v += TPR) {
        uint b = v / CPB, c = v - b * CPB;
        x_block = b * QU;
        for (uint r = 0u; r < ROWS; r++)
            qp_chunk(w_row[r] + b * QB, c, r);
    }

    for (uint i = 0u; i < MB; i++)
        for (uint r = 0u; r < ROWS; r++) {
            uint lr = lr0 + r, m = m0 + i;
            if (TPR == 1u) {
                if (m < pc.M && row0 + lr < pc.n_count) {
                    uint n = pc.n_offset + row0 + lr;
                    y_data[m * pc.N + n] = vkg_matmul_finish(acc[i * ROWS + r], m, n);
                }
            } else {
                partial[(i * RB + lr) * TPR + lane] = acc[i * ROWS + r];
            }
        }
    if (TPR == 1u)
        return;
    barrier();
    for (uint idx = tid; idx < MB * RB; idx += WG) {
        uint i = idx / RB, lr = idx - i * RB, m = m0 + i;
        if (m >= pc.M || row0 + lr >= pc.n_count)
            continue;
        float s = 0.0;
        for (uint t = 0u; t < TPR; t++)
            s += partial[idx * TPR + t];
        uint n = pc.n_offset + row0 + lr;
        y_data[m * pc.N + n] = vkg_matmul_finish(s, m, n);
    }
}
