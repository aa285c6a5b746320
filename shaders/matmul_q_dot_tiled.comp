/*
 * matmul_q_dot_tiled.comp — the prefill path (M > 1, GPUs) of the int8 dot-product matmul: the math of
 * matmul_q_dot.comp (X quantized per block of 32 by quantize_act.comp, weight quants packed by
 * quant_packed.glsl, OpSDot per 4 elements, scales, mins and offsets in fp32) in the tiles of
 * matmul_q_tiled.comp: BM x BN = 64 x 64 outputs per workgroup, one unit (32 elements of K) per step.
 * Per step the first BN threads decode one W row's unit (its chunk, keeping the wanted unit) to 8
 * packed words and its scales into shared memory while the others stage the 64 X blocks (8 words,
 * d, s0, s1); then every thread accumulates a TM x TN = 4 x 4 register micro-tile, 8 OpSDot per
 * output and unit.
 *
 * Grid, bindings 0 and 2-4, push constants: as matmul_q_tiled.comp. Binding 1: the quantized X, as
 * matmul_q_dot.comp. Spec: 0 WG = 256 (must be 256). Shared: 2 x 8 x 64 words + 6 x 64 floats = 5.5 KB.
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_spirv_intrinsics : require
#include "common.glsl"
#include "matmul_q_push.h"
#include "matmul_common.glsl"

/* OpSDot on packed 4 x 8-bit words: see matmul_q_dot.comp. */
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int sdot4x8(uint a, uint b, spirv_literal int packed_fmt);

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(std430, binding = 1) readonly buffer XQ { uvec4 xq4[]; };

const uint BM = 64u, BN = 64u, TM = 4u, TN = 4u;

shared uint xw[8u * BM];  /* xw[c * BM + m]: word c of row m's block */
shared vec3 xds[BM];      /* d, s0, s1 (sums as exact small floats) */
shared uint ww[8u * BN];  /* ww[c * BN + n] */
shared vec3 wsc[BN];      /* sc0, sc1, mn */

uint want_unit; /* the unit of the current K step; qp_emit keeps only it */
void qp_emit(uint r, uint j, uint q[8], int off, float sc0, float sc1, float mn);
#include "quant_packed.glsl"

void qp_emit(uint r, uint j, uint q[8], int off, float sc0, float sc1, float mn) {
    if (j != want_unit)
        return;
    for (uint c = 0u; c < 8u; c++)
        ww[c * BN + r] = q[c];
    wsc[r] = vec3(sc0, sc1, mn);
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
            qp_chunk(row * pc.row_bytes + b * QB, want_unit / QP, tid);
        } else if (tid < BN + BM) {
            uint r = tid - BN, xb = 3u * (min(m0 + r, pc.M - 1u) * units + u);
            uvec4 a0 = xq4[xb], a1 = xq4[xb + 1u], a2 = xq4[xb + 2u];
            for (uint c = 0u; c < 4u; c++) {
                xw[c * BM + r] = a0[c];
                xw[(c + 4u) * BM + r] = a1[c];
            }
            xds[r] = vec3(uintBitsToFloat(a2.x), float(int(a2.y)), float(int(a2.z)));
        }
        barrier();
        for (uint i = 0u; i < TM; i++) {
            uint m = tm * TM + i;
            uint xv[8];
            for (uint c = 0u; c < 8u; c++)
                xv[c] = xw[c * BM + m];
            vec3 xd = xds[m];
            int s0 = int(xd.y), s1 = int(xd.z);
            for (uint j = 0u; j < TN; j++) {
                uint n = tn * TN + j;
                int d0 = 0, d1 = 0;
                for (uint c = 0u; c < 4u; c++) {
                    d0 += sdot4x8(ww[c * BN + n], xv[c], 0);
                    d1 += sdot4x8(ww[(c + 4u) * BN + n], xv[c + 4u], 0);
                }
                vec3 sc = wsc[n];
                float v = sc.x * float(d0 - QOFF * s0) + sc.y * float(d1 - QOFF * s1);
                if (QMIN)
                    v -= sc.z * float(s0 + s1);
                acc[i * TN + j] += xd.x * v;
            }
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
