/*
 * matmul_q_vec.comp — the decode path over quantized weights (M = 1, though any M works):
 * Y[m, n] = finish(X[m,:] · W[n,:]) with W [N, K] in a ggml block format (quant.glsl; one variant per
 * format), finish = + bias, then GELU or + residual (matmul_common.glsl). Memory bound: each W byte is
 * read once, dequantized in registers and used for all MB rows of X; accumulation is fp32.
 *
 * Work split: a workgroup owns RB = (WG / TPR) * ROWS consecutive outputs of MB rows of X. Its threads
 * form WG / TPR teams of TPR lanes; a team computes ROWS outputs together: lane t takes units (32
 * elements) t, t + TPR, ... of each of its ROWS weight rows (neighbouring lanes read neighbouring
 * unit bytes) and reuses each X load for the ROWS rows. Teams of one lane (TPR = 1: the CPU-driver
 * configuration, see kernels/matmul_quant.c) hold whole sums and write them directly; wider teams
 * add their lanes' partial sums through shared memory after one barrier.
 *
 * Grid:      1-D (folded by vkg_cmd_dispatch_1d), pc.n_groups = ceil(n_count / RB) * ceil(M / MB):
 *            group g computes outputs (g % groups_n) * RB .. + RB - 1 of rows (g / groups_n) * MB ..
 *            + MB - 1. Groups past n_groups (fold padding) exit at once.
 * Bindings:  0 Y[M,N] (written), 1 X[M,K], 2 W chunk: n_count rows of pc.row_bytes, as 32-bit words
 *            (the host binds the byte length rounded up to 16), 3 bias[N], 4 R[M,N].
 * Push:      vkg_matmul_q_push (matmul_q_push.h).
 * Spec:      0 WG (threads), 1 TPR (lanes per team, a divisor of WG), 2 ROWS (outputs per team),
 *            3 MB (rows of X per workgroup). Shared memory: MB * RB * TPR floats (none when TPR = 1).
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "matmul_q_push.h"
#include "matmul_common.glsl"
#include "quant.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint TPR = 16;
layout(constant_id = 2) const uint ROWS = 2;
layout(constant_id = 3) const uint MB = 1;
layout(local_size_x_id = 0) in;

const uint TEAMS = WG / TPR;
const uint RB = TEAMS * ROWS;

shared float partial[TPR == 1u ? 1u : MB * RB * TPR];

void main() {
    uint g = vkg_group_id();
    if (g >= pc.n_groups)
        return; /* uniform per workgroup: before the barrier */
    uint m0 = (g / pc.groups_n) * MB, row0 = (g % pc.groups_n) * RB;
    uint tid = gl_LocalInvocationID.x, team = tid / TPR, lane = tid % TPR;
    uint lr0 = team * ROWS;
    /* Rows past the chunk and X rows past M are computed on the last one (no branch in the loop)
     * and not stored. */
    uint w_row[ROWS];
    for (uint r = 0u; r < ROWS; r++)
        w_row[r] = min(row0 + lr0 + r, pc.n_count - 1u) * pc.row_bytes;
    uint x_row[MB];
    for (uint i = 0u; i < MB; i++)
        x_row[i] = min(m0 + i, pc.M - 1u) * (pc.K / 4u);
    float acc[MB * ROWS];
    for (uint i = 0u; i < MB * ROWS; i++)
        acc[i] = 0.0;

    uint units = pc.K / 32u;
    for (uint u = lane; u < units; u += TPR) {
        uint b = u / QU, j = u - b * QU;
        for (uint r = 0u; r < ROWS; r++) {
            vec4 w[8];
            q_unit(w_row[r] + b * QB, j, w);
            for (uint i = 0u; i < MB; i++) {
                uint xb = x_row[i] + u * 8u;
                float s = 0.0;
                for (uint c = 0u; c < 8u; c++)
                    s += dot(w[c], x_data4[xb + c]);
                acc[i * ROWS + r] += s;
            }
        }
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
