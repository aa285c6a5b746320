/*
 * matmul_vec.comp — the decode path (M = 1, though any M works): Y[m, n] = finish(X[m,:] · W[n,:]),
 * with finish = + bias, then GELU or + residual (matmul_common.glsl). Memory bound: it must stream W
 * at close to the device's bandwidth, so each workgroup owns ROWS consecutive outputs of one row m
 * and all its threads sweep K together: thread t reads vector chunks t, t + WG, ... of each of the
 * ROWS weight rows (neighbouring threads read neighbouring 16-byte chunks: coalesced) and reuses one
 * load of x for the ROWS rows. Partial sums are reduced with subgroupAdd, then across subgroups
 * through a small shared array (any subgroup size from 1 to WG).
 *
 * Storage: fp32 W (default) or fp16 W (WEIGHT_F16; 16-bit storage only, converted to float on load,
 * no fp16 arithmetic). Vector chunks: 4 floats (vec4) or 8 halves (uvec4, unpackHalf2x16) when
 * pc.aligned says every row starts on a chunk boundary; otherwise the whole row is read scalar.
 *
 * Grid:      1-D (folded by vkg_cmd_dispatch_1d), pc.n_groups = ceil(n_count / ROWS) * M
 *            workgroups: group g computes outputs (g % groups_n) * ROWS .. + ROWS - 1 of row
 *            g / groups_n. Groups past n_groups (fold padding) exit at once.
 * Bindings:  0 Y[M,N] (written), 1 X[M,K], 2 W chunk [n_count,K], 3 bias[N], 4 R[M,N].
 * Push:      vkg_matmul_push (matmul_push.h).
 * Spec:      0 WG (threads), 1 ROWS (outputs per workgroup, 1..8).
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#ifdef WEIGHT_F16
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require /* the float16_t name only */
#endif
#include "common.glsl"
#include "matmul_push.h"
#include "matmul_common.glsl"

layout(constant_id = 0) const uint WG = 128;
layout(constant_id = 1) const uint ROWS = 2;
layout(local_size_x_id = 0) in;

#ifdef WEIGHT_F16
#define STORE_T float16_t
#define VEC_T uvec4 /* 8 halves */
const uint VW = 8;
#else
#define STORE_T float
#define VEC_T vec4
const uint VW = 4;
#endif
#define ACC_T float

layout(std430, binding = 2) readonly buffer WBuf { STORE_T w_data[]; };
layout(std430, binding = 2) readonly buffer WBufV { VEC_T w_vec[]; };

/* One partial sum per (row, subgroup); gl_NumSubgroups <= WG for any subgroup size. */
shared ACC_T partial[ROWS * WG];

/* Dot product of vector chunk c of W row `row` with the matching x values x0 (and x1 for fp16). */
ACC_T chunk_dot(uint row, uint c, vec4 x0, vec4 x1) {
#ifdef WEIGHT_F16
    uvec4 u = w_vec[row * (pc.K / VW) + c];
    return dot(vec4(unpackHalf2x16(u.x), unpackHalf2x16(u.y)), x0) +
           dot(vec4(unpackHalf2x16(u.z), unpackHalf2x16(u.w)), x1);
#else
    return dot(w_vec[row * (pc.K / VW) + c], x0);
#endif
}

/* The x values of vector chunk c of x row m (xbase4: the row's start in vec4 units). */
void load_x(uint xbase4, uint c, out vec4 x0, out vec4 x1) {
#ifdef WEIGHT_F16
    x0 = x_data4[xbase4 + 2u * c];
    x1 = x_data4[xbase4 + 2u * c + 1u];
#else
    x0 = x_data4[xbase4 + c];
    x1 = vec4(0.0);
#endif
}

void main() {
    uint g = vkg_group_id();
    if (g >= pc.n_groups)
        return; /* uniform per workgroup: before any barrier */
    uint m = g / pc.groups_n;
    uint row0 = (g % pc.groups_n) * ROWS;
    uint tid = gl_LocalInvocationID.x;

    /* Rows past the chunk's end are computed on the last row (no branch in the loop) and not stored. */
    uint rows[ROWS];
    for (uint r = 0; r < ROWS; r++)
        rows[r] = min(row0 + r, pc.n_count - 1u);

    ACC_T acc[ROWS];
    for (uint r = 0; r < ROWS; r++)
        acc[r] = 0.0;

    uint n_vec = pc.aligned != 0u ? pc.K / VW : 0u;
    uint xbase4 = m * (pc.K / 4u);
    /* Two chunks per iteration so that each thread has 2 * ROWS independent loads in flight. */
    uint c = tid;
    for (; c + WG < n_vec; c += 2u * WG) {
        vec4 xa0, xa1, xb0, xb1;
        load_x(xbase4, c, xa0, xa1);
        load_x(xbase4, c + WG, xb0, xb1);
        for (uint r = 0; r < ROWS; r++)
            acc[r] += chunk_dot(rows[r], c, xa0, xa1) + chunk_dot(rows[r], c + WG, xb0, xb1);
    }
    if (c < n_vec) {
        vec4 x0, x1;
        load_x(xbase4, c, x0, x1);
        for (uint r = 0; r < ROWS; r++)
            acc[r] += chunk_dot(rows[r], c, x0, x1);
    }
    /* Scalar rest: the whole row when rows are not vector aligned, else nothing. */
    for (uint k = n_vec * VW + tid; k < pc.K; k += WG) {
        ACC_T xk = x_data[m * pc.K + k];
        for (uint r = 0; r < ROWS; r++)
            acc[r] += ACC_T(w_data[rows[r] * pc.K + k]) * xk;
    }

    for (uint r = 0; r < ROWS; r++) {
        ACC_T s = subgroupAdd(acc[r]);
        if (subgroupElect())
            partial[r * WG + gl_SubgroupID] = s;
    }
    barrier();
    if (tid < ROWS && row0 + tid < pc.n_count) {
        ACC_T s = 0.0;
        for (uint i = 0; i < gl_NumSubgroups; i++)
            s += partial[tid * WG + i];
        uint n = pc.n_offset + row0 + tid;
        y_data[m * pc.N + n] = vkg_matmul_finish(s, m, n);
    }
}
