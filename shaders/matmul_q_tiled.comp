/*
 * matmul_q_tiled.comp — the prefill path over quantized weights (M > 1) for GPUs: Y = finish(X · W^T)
 * as matmul_q_vec.comp, in BM x BN = 64 x 64 output tiles. Per step of one unit (32 elements of K)
 * the first BN threads each dequantize one W row's unit into shared memory (bit-exact values; they
 * decode quant.glsl's whole chunk holding it, QP units, and keep one) while the others stage the
 * 64 x 32 X tile; then every thread accumulates a TM x TN = 4 x 4 register micro-tile from shared
 * memory in fp32. Decoding 2,048 values (up to 4x that for Q6_K's chunks) per 131,072 multiply-adds
 * keeps the dequantization off the critical path.
 *
 * Grid:      1-D (folded), pc.n_groups = ceil(n_count / 64) * ceil(M / 64); group g covers columns
 *            (g % groups_n) * 64 .. and rows (g / groups_n) * 64 ...
 * Bindings:  as matmul_q_vec.comp.  Push: vkg_matmul_q_push.
 * Spec:      0 WG = 256 (16 x 16 threads of 4 x 4 outputs; must be 256).
 * Shared:    2 x 32 x 64 floats = 16 KB (the minimum every device offers), stored k-major so that
 *            neighbouring threads read neighbouring (or the same) words.
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "matmul_q_push.h"
#include "matmul_common.glsl"

uint want_unit; /* the unit of the current K step; q_emit keeps only it */
void q_emit(uint r, uint j, vec4 q[8], float sc0, float sc1, float mn);
#include "quant.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

const uint BM = 64u, BN = 64u, BK = 32u, TM = 4u, TN = 4u;

shared float xs[BK * BM]; /* xs[k * BM + m] */
shared float ws[BK * BN]; /* ws[k * BN + n] */

/* Store the bit-exact values (sc * q - mn, as ggml) of the wanted unit as row r of the W tile. */
void q_emit(uint r, uint j, vec4 q[8], float sc0, float sc1, float mn) {
    if (j != want_unit)
        return;
    for (uint c = 0u; c < 8u; c++)
        for (uint e = 0u; e < 4u; e++) {
            precise float p = (c < 4u ? sc0 : sc1) * q[c][e];
            precise float v = p - mn;
            ws[(4u * c + e) * BN + r] = v;
        }
}

void main() {
    uint g = vkg_group_id();
    if (g >= pc.n_groups)
        return;
    uint n0 = (g % pc.groups_n) * BN, m0 = (g / pc.groups_n) * BM;
    uint tid = gl_LocalInvocationID.x, tm = tid / (BN / TN), tn = tid % (BN / TN);
    float acc[TM * TN];
    for (uint i = 0u; i < TM * TN; i++)
        acc[i] = 0.0;
    uint units = pc.K / 32u;
    for (uint u = 0u; u < units; u++) {
        if (tid < BN) {
            uint row = min(n0 + tid, pc.n_count - 1u), b = u / QU;
            want_unit = u - b * QU;
            q_chunk(row * pc.row_bytes + b * QB, want_unit / QP, tid);
        } else {
            for (uint e = tid - BN; e < BM * BK; e += WG - BN) {
                uint r = e / BK, c = e % BK;
                xs[c * BM + r] = x_data[min(m0 + r, pc.M - 1u) * pc.K + u * BK + c];
            }
        }
        barrier();
        for (uint kk = 0u; kk < BK; kk++) {
            float a[TM], bw[TN];
            for (uint i = 0u; i < TM; i++)
                a[i] = xs[kk * BM + tm * TM + i];
            for (uint j = 0u; j < TN; j++)
                bw[j] = ws[kk * BN + tn * TN + j];
            for (uint i = 0u; i < TM; i++)
                for (uint j = 0u; j < TN; j++)
                    acc[i * TN + j] += a[i] * bw[j];
        }
        barrier();
    }
    for (uint i = 0u; i < TM; i++)
        for (uint j = 0u; j < TN; j++) {
            uint m = m0 + tm * TM + i, nl = n0 + tn * TN + j;
            if (m < pc.M && nl < pc.n_count) {
                uint n = pc.n_offset + nl;
                y_data[m * pc.N + n] = vkg_matmul_finish(acc[i * TN + j], m, n);
            }
        }
}
