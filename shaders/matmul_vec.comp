/*
 * matmul_vec.comp — the decode path (M = 1, though any M works): Y[m, n] = finish(X[m,:] · W[n,:]),
 * with finish = + bias, then GELU or + residual (matmul_common.glsl). Memory bound: it must stream W
 * at close to the device's bandwidth.
 *
 * Work split: a workgroup owns RB = (WG / TPR) * ROWS * PASSES consecutive outputs of MB rows of X. Its
 * threads form WG / TPR teams of TPR threads; in each of PASSES passes a team computes ROWS outputs
 * together: lane t of the team reads vector chunks t, t + TPR, ... of each of the ROWS weight rows
 * (neighbouring lanes read neighbouring 16-byte chunks: coalesced) and reuses one load of x for the
 * ROWS rows, and each W load for the MB rows of X (MB > 1: the prefill path of a CPU device, a
 * register-blocked GEMM without shared memory or barriers). The lanes' partial sums go to shared memory — with one team (TPR = WG) pre-reduced by
 * subgroupAdd to one per subgroup (any subgroup size, gl_NumSubgroups <= WG) — and after the one
 * barrier, thread i < MB * RB adds up output i's partials and applies the epilogue. Teams of one
 * (TPR = 1) hold whole sums and write them directly: no shared memory, no barrier.
 * Why the knobs: a GPU wants many workgroups and wide teams (TPR = WG, PASSES = 1: all threads on a
 * few long rows); a CPU driver (lavapipe runs each workgroup as a loop over SIMD lanes on one core)
 * wants few, large workgroups with short teams, since every workgroup costs a fixed overhead and
 * lanes beyond a row's chunk count idle. The host chooses per device (kernels/matmul.c).
 *
 * Storage: fp32 W (default), fp16 W (WEIGHT_F16) or bf16 W (WEIGHT_BF16: 16-bit words, widened
 * as uintBitsToFloat(w << 16)); both 16-bit kinds need 16-bit storage only, no fp16 or bf16
 * arithmetic. Vector chunks: 4 floats (vec4) or 8 16-bit values (uvec4: unpackHalf2x16, or the
 * two halves of each word for bf16) when pc.aligned says every row starts on a chunk boundary;
 * otherwise the whole row is read scalar.
 *
 * Grid:      1-D (folded by vkg_cmd_dispatch_1d), pc.n_groups = ceil(n_count / RB) * ceil(M / MB)
 *            workgroups: group g computes outputs (g % groups_n) * RB .. + RB - 1 of rows
 *            (g / groups_n) * MB .. + MB - 1. Groups past n_groups (fold padding) exit at once.
 * Bindings:  0 Y[M,N] (written), 1 X[M,K], 2 W chunk [n_count,K], 3 bias[N], 4 R[M,N].
 * Push:      vkg_matmul_push (matmul_push.h).
 * Spec:      0 WG (threads), 1 ROWS (outputs per team pass, 1..8), 2 TPR (threads per team, a divisor
 *            of WG), 3 PASSES (team passes per workgroup), 4 MB (rows of X per workgroup).
 *            Shared memory: MB * RB * TPR floats (none when TPR = 1).
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#if defined(WEIGHT_F16) || defined(WEIGHT_BF16)
#extension GL_EXT_shader_16bit_storage : require
#define WEIGHT_16BIT /* 8 values per 16-byte vector chunk */
#endif
#include "common.glsl"
#include "matmul_push.h"
#include "matmul_common.glsl"

layout(constant_id = 0) const uint WG = 128;
layout(constant_id = 1) const uint ROWS = 2;
layout(constant_id = 2) const uint TPR = 128;
layout(constant_id = 3) const uint PASSES = 1;
layout(constant_id = 4) const uint MB = 1;
layout(local_size_x_id = 0) in;

const uint TEAMS = WG / TPR;
const uint RB = TEAMS * ROWS * PASSES; /* outputs per workgroup and X row */

#ifdef WEIGHT_F16
#define STORE_T float16_t
#define VEC_T uvec4 /* 8 halves */
const uint VW = 8;
#define W_SCALAR(v) float(v)
#elif defined(WEIGHT_BF16)
#define STORE_T uint16_t
#define VEC_T uvec4 /* 8 bf16 */
const uint VW = 8;
#define W_SCALAR(v) uintBitsToFloat(uint(v) << 16)
#else
#define STORE_T float
#define VEC_T vec4
const uint VW = 4;
#define W_SCALAR(v) (v)
#endif
#define ACC_T float

layout(std430, binding = 2) readonly buffer WBuf { STORE_T w_data[]; };
layout(std430, binding = 2) readonly buffer WBufV { VEC_T w_vec[]; };

/* Partial sums [MB][RB][TPR]: per output, one per lane, or one per subgroup with a single team.
 * Teams of one lane write their outputs directly and need none. */
shared ACC_T partial[TPR == 1u ? 1u : MB * RB * TPR];

/* This invocation's state for the current pass (private, module scope so helpers can update it). */
uint w_rows[ROWS];  /* rows of the W chunk */
uint x_rows[MB];    /* rows of X */
ACC_T acc[MB * ROWS];

/* Add vector chunk c of the ROWS weight rows times chunk c of the MB x rows: each W load is used
 * MB times, each x load ROWS times. */
void accumulate(uint c) {
    vec4 w0[ROWS];
#ifdef WEIGHT_16BIT
    vec4 w1[ROWS];
#endif
    for (uint r = 0; r < ROWS; r++) {
#ifdef WEIGHT_F16
        uvec4 u = w_vec[w_rows[r] * (pc.K / VW) + c];
        w0[r] = vec4(unpackHalf2x16(u.x), unpackHalf2x16(u.y));
        w1[r] = vec4(unpackHalf2x16(u.z), unpackHalf2x16(u.w));
#elif defined(WEIGHT_BF16)
        uvec4 u = w_vec[w_rows[r] * (pc.K / VW) + c];
        w0[r] = vec4(vkg_bf16_lo(u.x), vkg_bf16_hi(u.x), vkg_bf16_lo(u.y), vkg_bf16_hi(u.y));
        w1[r] = vec4(vkg_bf16_lo(u.z), vkg_bf16_hi(u.z), vkg_bf16_lo(u.w), vkg_bf16_hi(u.w));
#else
        w0[r] = w_vec[w_rows[r] * (pc.K / VW) + c];
#endif
    }
    for (uint i = 0; i < MB; i++) {
#ifdef WEIGHT_16BIT
        uint xb = x_rows[i] * (pc.K / 4u) + 2u * c;
        vec4 x0 = x_data4[xb], x1 = x_data4[xb + 1u];
        for (uint r = 0; r < ROWS; r++)
            acc[i * ROWS + r] += dot(w0[r], x0) + dot(w1[r], x1);
#else
        vec4 x0 = x_data4[x_rows[i] * (pc.K / 4u) + c];
        for (uint r = 0; r < ROWS; r++)
            acc[i * ROWS + r] += dot(w0[r], x0);
#endif
    }
}

void main() {
    uint g = vkg_group_id();
    if (g >= pc.n_groups)
        return; /* uniform per workgroup: before any barrier */
    uint m0 = (g / pc.groups_n) * MB;
    uint row0 = (g % pc.groups_n) * RB;
    uint tid = gl_LocalInvocationID.x;
    uint team = tid / TPR, lane = tid % TPR;
    uint n_vec = pc.aligned != 0u ? pc.K / VW : 0u;
    /* X rows past M are computed on the last row (no branch in the loop) and not stored. */
    for (uint i = 0; i < MB; i++)
        x_rows[i] = min(m0 + i, pc.M - 1u);

    for (uint pass = 0; pass < PASSES; pass++) {
        uint lr0 = (pass * TEAMS + team) * ROWS; /* this team's first output in the workgroup */
        /* The same for W rows past the chunk's end. */
        for (uint r = 0; r < ROWS; r++)
            w_rows[r] = min(row0 + lr0 + r, pc.n_count - 1u);
        for (uint i = 0; i < MB * ROWS; i++)
            acc[i] = 0.0;
        /* Two chunks per iteration so that each lane has 2 * ROWS independent loads in flight. */
        uint c = lane;
        for (; c + TPR < n_vec; c += 2u * TPR) {
            accumulate(c);
            accumulate(c + TPR);
        }
        if (c < n_vec)
            accumulate(c);
        /* Scalar rest: the whole row when rows are not vector aligned, else nothing. */
        for (uint k = n_vec * VW + lane; k < pc.K; k += TPR)
            for (uint r = 0; r < ROWS; r++) {
                ACC_T wk = W_SCALAR(w_data[w_rows[r] * pc.K + k]);
                for (uint i = 0; i < MB; i++)
                    acc[i * ROWS + r] += wk * x_data[x_rows[i] * pc.K + k];
            }
        for (uint i = 0; i < MB; i++)
            for (uint r = 0; r < ROWS; r++) {
                uint lr = lr0 + r, m = m0 + i;
                if (TPR == 1u) { /* the lane holds the whole sum */
                    if (m < pc.M && row0 + lr < pc.n_count) {
                        uint n = pc.n_offset + row0 + lr;
                        y_data[m * pc.N + n] = vkg_matmul_finish(acc[i * ROWS + r], m, n);
                    }
                } else if (TEAMS == 1u) { /* one team: whatever the subgroups are, each lies inside it */
                    ACC_T s = subgroupAdd(acc[i * ROWS + r]);
                    if (subgroupElect())
                        partial[(i * RB + lr) * TPR + gl_SubgroupID] = s;
                } else {
                    partial[(i * RB + lr) * TPR + lane] = acc[i * ROWS + r];
                }
            }
    }
    if (TPR == 1u)
        return;
    barrier();
    uint slots = TEAMS == 1u ? gl_NumSubgroups : TPR;
    for (uint idx = tid; idx < MB * RB; idx += WG) {
        uint i = idx / RB, lr = idx - i * RB, m = m0 + i;
        if (m >= pc.M || row0 + lr >= pc.n_count)
            continue;
        ACC_T s = 0.0;
        for (uint j = 0; j < slots; j++)
            s += partial[idx * TPR + j];
        uint n = pc.n_offset + row0 + lr;
        y_data[m * pc.N + n] = vkg_matmul_finish(s, m, n);
    }
}
