/*
 * matmul_q_vec.comp — the decode path over quantized weights (M = 1, though any M works):
 * Y[m, n] = finish(X[m,:] · W[n,:]) with W [N, K] in a ggml block format (quant.glsl; one variant per
 * format), finish = + bias, then GELU or + residual (matmul_common.glsl). Memory bound: each W byte is
 * read once, dequantized in registers and used for all MB rows of X; accumulation is fp32.
 *
 * Each 32-element unit of a row adds sc0 * (q·x)[0:16] + sc1 * (q·x)[16:32] - mn * sum(x) (quant.glsl's
 * scales; evaluated `precise`, so with a one-hot x the output is exactly ggml's value sc * q - mn, which
 * the tests check bit for bit): the scales are applied once per 16 or 32 elements, not per element.
 *
 * Work split: a workgroup owns RB = (WG / TPR) * ROWS consecutive outputs of MB rows of X. Its threads
 * form WG / TPR teams of TPR lanes; a team computes ROWS outputs together: lane t takes chunks (QP
 * units that share their quant bytes) t, t + TPR, ... of each of its ROWS weight rows (neighbouring
 * lanes read neighbouring bytes). Teams of one lane (TPR = 1: the CPU-driver
 * configuration, see kernels/matmul_quant.c) hold whole sums and write them directly; wider teams
 * add their lanes' partial sums through shared memory after one barrier.
 *
 * Grid:      1-D (folded by vkg_cmd_dispatch_1d), pc.n_groups = ceil(n_count / RB) * ceil(M / MB):
 *            group g computes outputs (g % groups_n) * RB .. + RB - 1 of rows (g / groups_n) * MB ..
 *            + MB - 1. Groups past n_groups (fold padding) exit at once.
 * Bindings:  0 Y[M,N] (written), 1 X[M,K], 2 W chunk: n_count rows of pc.row_bytes, as 32-bit words
 *            (the host binds the byte length rounded up to 4, plus 4), 3 bias[N], 4 R[M,N].
 * Push:      vkg_matmul_q_push (matmul_q_push.h).
 * Spec:      0 WG (threads), 1 TPR (lanes per team, a divisor of WG), 2 ROWS (outputs per team),
 *            3 MB (rows of X per workgroup). Shared memory: MB * RB * TPR floats (none when TPR = 1).
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "matmul_q_push.h"
#include "matmul_common.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint TPR = 16;
layout(constant_id = 2) const uint ROWS = 2;
layout(constant_id = 3) const uint MB = 1;
layout(local_size_x_id = 0) in;

const uint TEAMS = WG / TPR;
const uint RB = TEAMS * ROWS;

shared float partial[TPR == 1u ? 1u : MB * RB * TPR];

uint x_row[MB];       /* first vec4 of each X row */
uint x_block;         /* vec4 index of the current block's first element in an X row */
float acc[MB * ROWS];

void q_emit(uint r, uint j, vec4 q[8], float sc0, float sc1, float mn);
#include "quant.glsl"

void q_emit(uint r, uint j, vec4 q[8], float sc0, float sc1, float mn) {
    for (uint i = 0u; i < MB; i++) {
        uint xb = x_row[i] + x_block + 8u * j;
        float s0 = 0.0, s1 = 0.0;
        vec4 sx = vec4(0.0);
        [[unroll]] for (uint c = 0u; c < 4u; c++) {
            vec4 x0 = x_data4[xb + c], x1 = x_data4[xb + 4u + c];
            s0 += dot(q[c], x0);
            s1 += dot(q[c + 4u], x1);
            if (QMIN)
                sx += x0 + x1;
        }
        precise float v = sc0 * s0 + sc1 * s1;
        if (QMIN) {
            precise float m = mn * ((sx.x + sx.y) + (sx.z + sx.w));
            v = v - m;
        }
        acc[i * ROWS + r] += v;
    }
}

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
    for (uint i = 0u; i < MB; i++)
        x_row[i] = min(m0 + i, pc.M - 1u) * (pc.K / 4u);
    for (uint i = 0u; i < MB * ROWS; i++)
        acc[i] = 0.0;

    const uint CPB = QU / QP; /* chunks per block */
    uint chunks = pc.K / (32u * QP);
    for (uint v = lane; v < chunks; v += TPR) {
        uint b = v / CPB, c = v - b * CPB;
        x_block = b * (QK / 4u);
        for (uint r = 0u; r < ROWS; r++)
            q_chunk(w_row[r] + b * QB, c, r);
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
