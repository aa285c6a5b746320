/*
 * matmul_coopmat.comp — the prefill path on tensor cores: Y[m, n] = finish(X[m,:] · W[n,:]) for fp16 W
 * only (finish: + bias, then GELU or + residual, matmul_common.glsl).
 *
 * Written with GL_NV_cooperative_matrix, the only cooperative-matrix syntax Debian 12's glslang 12.0
 * compiles. The build embeds it twice: as compiled (VK_NV_cooperative_matrix, "matmul_coopmat_nv")
 * and rewritten word by word into VK_KHR_cooperative_matrix form by tools/spirv/coopmat_khr.c
 * ("matmul_coopmat_khr", what AMD, Intel and NVIDIA offer). The KHR form gives each matrix a use
 * (A, B or accumulator) that the rewrite infers from coopMatMulAddNV, so the three fragment types
 * below must stay distinct SPIR-V types: A is FM x FK, B FK x FN, C FM x FN with FM and FN
 * specialization constants, which glslang never merges with the literal FK.
 *
 * A workgroup of 4 subgroups (WG = 4 x the subgroup size the host runs it with) computes a 64 x 64
 * block of Y. The host always creates the pipeline with that size required and full subgroups
 * (VK_EXT_subgroup_size_control, kernels/matmul.c), so gl_SubgroupID is exactly 0..3 and every
 * subgroup is complete whatever size the driver would have picked (AMD wave32/64, Intel 8..32);
 * subgroup s owns the 32 x 32 quadrant (s / 2, s % 2) as (32 / FM) x (32 / FN) fragments
 * of FM x FN fp32 accumulators. Per step of BK along K the workgroup stages X [64, BK] (fp32
 * converted to fp16 — the one precision loss of this path besides fp16 W; |x| above 65504 would
 * overflow) and W [64, BK] (already fp16) in shared memory, k-contiguous, and multiplies fragments of
 * FM x 16 (A, row-major) by 16 x FN (B = W^T, read column-major from the W rows). The accumulators
 * go through shared memory to a bounds-checked, coalesced epilogue. Needs shaderFloat16 (the fragment
 * types are fp16) and 16-bit storage.
 *
 * Grid:      1-D (folded), pc.n_groups = ceil(n_count / 64) * ceil(M / 64).
 * Bindings:  0 Y[M,N] (written), 1 X[M,K], 2 W chunk [n_count,K] fp16, 3 bias[N], 4 R[M,N].
 * Push:      vkg_matmul_push (matmul_push.h); pc.aligned: K % 4 == 0 (vector staging loads).
 * Spec:      0 WG (4 x subgroup size), 1 BK (multiple of 16; default 32), 2 FN, 3 FM (fragment
 *            rows and columns, 8 or 16 each: the device's FM x FN x 16 fp16 shape).
 *            Shared memory: 2 x 64 x BK halves + 64 x 64 floats = 24 KB at BK = 32.
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_NV_cooperative_matrix : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#include "common.glsl"
#include "matmul_push.h"
#include "matmul_common.glsl"

layout(constant_id = 0) const uint WG = 128;
layout(constant_id = 1) const uint BK = 32;
layout(constant_id = 2) const uint FN = 16;
layout(constant_id = 3) const uint FM = 16;
layout(local_size_x_id = 0) in;

const uint BM = 64, BN = 64, FK = 16;
const uint MF = 32 / FM, NF = 32 / FN; /* fragments along m and n per subgroup quadrant */

layout(std430, binding = 2) readonly buffer WBuf { float16_t w_data[]; };
layout(std430, binding = 2) readonly buffer WBufV { f16vec4 w_vec[]; };

shared float16_t As[BM * BK]; /* As[m][k] */
shared float16_t Bs[BN * BK]; /* Bs[n][k] = B[k][n] column-major */
shared float Cs[BM * BN];     /* Cs[m][n] */

void stage(uint m0, uint n0, uint k0, uint tid) {
    if (pc.aligned != 0u) {
        for (uint i = tid; i < BM * (BK / 4u); i += WG) {
            uint r = i / (BK / 4u), kc = (i % (BK / 4u)) * 4u;
            uint m = m0 + r, k = k0 + kc;
            vec4 v = (m < pc.M && k < pc.K) ? x_data4[(m * pc.K + k) / 4u] : vec4(0.0);
            for (uint c = 0; c < 4u; c++)
                As[r * BK + kc + c] = float16_t(v[c]);
        }
        for (uint i = tid; i < BN * (BK / 4u); i += WG) {
            uint r = i / (BK / 4u), kc = (i % (BK / 4u)) * 4u;
            uint n = n0 + r, k = k0 + kc;
            f16vec4 v = (n < pc.n_count && k < pc.K) ? w_vec[(n * pc.K + k) / 4u] : f16vec4(0.0);
            for (uint c = 0; c < 4u; c++)
                Bs[r * BK + kc + c] = v[c];
        }
    } else {
        for (uint i = tid; i < BM * BK; i += WG) {
            uint r = i / BK, kk = i % BK, m = m0 + r, k = k0 + kk;
            As[i] = float16_t((m < pc.M && k < pc.K) ? x_data[m * pc.K + k] : 0.0);
        }
        for (uint i = tid; i < BN * BK; i += WG) {
            uint r = i / BK, kk = i % BK, n = n0 + r, k = k0 + kk;
            Bs[i] = (n < pc.n_count && k < pc.K) ? w_data[n * pc.K + k] : float16_t(0.0);
        }
    }
}

void main() {
    uint g = vkg_group_id();
    if (g >= pc.n_groups)
        return; /* uniform per workgroup: before any barrier */
    uint n0 = (g % pc.groups_n) * BN, m0 = (g / pc.groups_n) * BM;
    uint tid = gl_LocalInvocationID.x;
    uint qm = (gl_SubgroupID / 2u) * 32u, qn = (gl_SubgroupID % 2u) * 32u; /* this subgroup's quadrant */

    fcoopmatNV<32, gl_ScopeSubgroup, FM, FN> acc[MF][NF];
    for (uint i = 0; i < MF; i++)
        for (uint j = 0; j < NF; j++)
            acc[i][j] = fcoopmatNV<32, gl_ScopeSubgroup, FM, FN>(0.0);

    for (uint k0 = 0; k0 < pc.K; k0 += BK) {
        stage(m0, n0, k0, tid);
        barrier();
        for (uint kk = 0; kk < BK; kk += FK) {
            fcoopmatNV<16, gl_ScopeSubgroup, FM, FK> a[MF];
            fcoopmatNV<16, gl_ScopeSubgroup, FK, FN> b[NF];
            for (uint i = 0; i < MF; i++)
                coopMatLoadNV(a[i], As, (qm + i * FM) * BK + kk, BK, false);
            for (uint j = 0; j < NF; j++)
                coopMatLoadNV(b[j], Bs, (qn + j * FN) * BK + kk, BK, true);
            for (uint i = 0; i < MF; i++)
                for (uint j = 0; j < NF; j++)
                    acc[i][j] = coopMatMulAddNV(a[i], b[j], acc[i][j]);
        }
        barrier();
    }

    for (uint i = 0; i < MF; i++)
        for (uint j = 0; j < NF; j++)
            coopMatStoreNV(acc[i][j], Cs, (qm + i * FM) * BN + qn + j * FN, BN, false);
    barrier();
    for (uint i = tid; i < BM * BN; i += WG) {
        uint m = m0 + i / BN, nl = n0 + i % BN;
        if (m < pc.M && nl < pc.n_count) {
            uint n = pc.n_offset + nl;
            y_data[m * pc.N + n] = vkg_matmul_finish(Cs[i], m, n);
        }
    }
}
