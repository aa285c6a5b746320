/*
 * matmul_tiled.comp — the prefill path (M > 1): Y[m, n] = finish(X[m,:] · W[n,:]) (finish: + bias,
 * then GELU or + residual, matmul_common.glsl), tiled through shared memory. A workgroup computes a
 * BM x BN block of Y: per step of BK along K it stages the X block [BM, BK] and the W block [BN, BK]
 * in shared memory, stored k-major (As[k][m], Bs[k][n], padded by one to spread the banks), and each
 * thread accumulates a TM x TN micro-tile in registers. The micro-tile is strided (thread (tx, ty)
 * owns rows ty + i * BM/TM and columns tx + j * BN/TN) so that neighbouring threads read neighbouring
 * shared words and write neighbouring outputs. Loads are coalesced along K: both X and W rows are
 * K-contiguous; with pc.aligned (K % 4 == 0) each thread loads 4 consecutive k (vec4, or 4 halves as
 * uvec2 for fp16), otherwise single elements. Every edge (M, N, K not multiples of the tile) is
 * handled by zero-filling the staged blocks and skipping stores.
 *
 * Storage: fp32 W (default), fp16 W (WEIGHT_F16) or bf16 W (WEIGHT_BF16: 16-bit words widened as
 * uintBitsToFloat(w << 16)); converted to float when staged; 16-bit storage only, no fp16 or bf16
 * arithmetic.
 *
 * Grid:      1-D (folded), pc.n_groups = ceil(n_count / BN) * ceil(M / BM): group g covers columns
 *            (g % groups_n) * BN of the chunk and rows (g / groups_n) * BM.
 * Bindings:  0 Y[M,N] (written), 1 X[M,K], 2 W chunk [n_count,K], 3 bias[N], 4 R[M,N].
 * Push:      vkg_matmul_push (matmul_push.h).
 * Spec:      0 WG = (BM/TM) * (BN/TN), 1 BM, 2 BN, 3 BK (multiple of 4), 4 TM, 5 TN.
 *            Defaults 256, 64, 64, 16, 4, 4: 2 x 16 x 65 floats = 8.3 KB of shared memory.
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#if defined(WEIGHT_F16) || defined(WEIGHT_BF16)
#extension GL_EXT_shader_16bit_storage : require
#endif
#include "common.glsl"
#include "matmul_push.h"
#include "matmul_common.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;
layout(local_size_x_id = 0) in;

#ifdef WEIGHT_F16
#define STORE_T float16_t
#define W_SCALAR(v) float(v)
layout(std430, binding = 2) readonly buffer WBufV { uvec2 w_vec[]; }; /* 4 halves */
#elif defined(WEIGHT_BF16)
#define STORE_T uint16_t
#define W_SCALAR(v) uintBitsToFloat(uint(v) << 16)
layout(std430, binding = 2) readonly buffer WBufV { uvec2 w_vec[]; }; /* 4 bf16 */
#else
#define STORE_T float
#define W_SCALAR(v) (v)
layout(std430, binding = 2) readonly buffer WBufV { vec4 w_vec[]; };
#endif
layout(std430, binding = 2) readonly buffer WBuf { STORE_T w_data[]; };
#define ACC_T float

shared ACC_T As[BK * (BM + 1)];
shared ACC_T Bs[BK * (BN + 1)];

vec4 w_load4(uint i) {
#ifdef WEIGHT_F16
    uvec2 u = w_vec[i];
    return vec4(unpackHalf2x16(u.x), unpackHalf2x16(u.y));
#elif defined(WEIGHT_BF16)
    uvec2 u = w_vec[i];
    return vec4(vkg_bf16_lo(u.x), vkg_bf16_hi(u.x), vkg_bf16_lo(u.y), vkg_bf16_hi(u.y));
#else
    return w_vec[i];
#endif
}

/* Stage X rows m0.. and W rows n0.. for k0 .. k0 + BK - 1, zero outside the matrices. */
void stage(uint m0, uint n0, uint k0, uint tid) {
    if (pc.aligned != 0u) {
        for (uint i = tid; i < BM * (BK / 4u); i += WG) {
            uint r = i / (BK / 4u), kc = (i % (BK / 4u)) * 4u;
            uint m = m0 + r, k = k0 + kc;
            vec4 v = (m < pc.M && k < pc.K) ? x_data4[(m * pc.K + k) / 4u] : vec4(0.0);
            for (uint c = 0; c < 4u; c++)
                As[(kc + c) * (BM + 1u) + r] = v[c];
        }
        for (uint i = tid; i < BN * (BK / 4u); i += WG) {
            uint r = i / (BK / 4u), kc = (i % (BK / 4u)) * 4u;
            uint n = n0 + r, k = k0 + kc;
            vec4 v = (n < pc.n_count && k < pc.K) ? w_load4((n * pc.K + k) / 4u) : vec4(0.0);
            for (uint c = 0; c < 4u; c++)
                Bs[(kc + c) * (BN + 1u) + r] = v[c];
        }
    } else {
        for (uint i = tid; i < BM * BK; i += WG) {
            uint r = i / BK, kk = i % BK;
            uint m = m0 + r, k = k0 + kk;
            As[kk * (BM + 1u) + r] = (m < pc.M && k < pc.K) ? x_data[m * pc.K + k] : 0.0;
        }
        for (uint i = tid; i < BN * BK; i += WG) {
            uint r = i / BK, kk = i % BK;
            uint n = n0 + r, k = k0 + kk;
            Bs[kk * (BN + 1u) + r] = (n < pc.n_count && k < pc.K) ? W_SCALAR(w_data[n * pc.K + k]) : 0.0;
        }
    }
}

void main() {
    uint g = vkg_group_id();
    if (g >= pc.n_groups)
        return; /* uniform per workgroup: before any barrier */
    uint n0 = (g % pc.groups_n) * BN, m0 = (g / pc.groups_n) * BM;
    uint tid = gl_LocalInvocationID.x;
    const uint SM = BM / TM, SN = BN / TN; /* thread grid: SN threads along n, SM along m */
    uint tx = tid % SN, ty = tid / SN;

    ACC_T acc[TM * TN];
    for (uint i = 0; i < TM * TN; i++)
        acc[i] = 0.0;
    ACC_T a[TM], b[TN];

    for (uint k0 = 0; k0 < pc.K; k0 += BK) {
        stage(m0, n0, k0, tid);
        barrier();
        for (uint kk = 0; kk < BK; kk++) {
            for (uint i = 0; i < TM; i++)
                a[i] = As[kk * (BM + 1u) + ty + i * SM];
            for (uint j = 0; j < TN; j++)
                b[j] = Bs[kk * (BN + 1u) + tx + j * SN];
            for (uint i = 0; i < TM; i++)
                for (uint j = 0; j < TN; j++)
                    acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]);
        }
        barrier();
    }

    for (uint i = 0; i < TM; i++) {
        uint m = m0 + ty + i * SM;
        for (uint j = 0; j < TN; j++) {
            uint nl = n0 + tx + j * SN;
            if (m < pc.M && nl < pc.n_count) {
                uint n = pc.n_offset + nl;
                y_data[m * pc.N + n] = vkg_matmul_finish(acc[i * TN + j], m, n);
            }
        }
    }
}
