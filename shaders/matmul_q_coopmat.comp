/*
 * matmul_q_coopmat.comp — the prefill path on tensor cores for W in a ggml block format (one variant
 * per FMT_*): Y = finish(X · W^T) as matmul_q_tiled.comp, on the fragments of matmul_coopmat.comp.
 *
 * Written with GL_NV_cooperative_matrix and embedded twice, as compiled ("matmul_q_coopmat_nv_<fmt>")
 * and rewritten into VK_KHR_cooperative_matrix form by tools/spirv/coopmat_khr.c
 * ("matmul_q_coopmat_khr_<fmt>"); the A, B and accumulator types stay distinct SPIR-V types for
 * that rewrite exactly as in matmul_coopmat.comp (FM, FN specialization constants, FK literal).
 *
 * A workgroup of exactly 4 full subgroups (the host requires the size: kernels/matmul.c) computes a
 * 64 x 64 block of Y, subgroup s the 32 x 32 quadrant (s / 2, s % 2). Per K step of BK (32, 64 or 128
 * elements: 1, 2 or 4 units of 32) the first min(WG, 64) invocations dequantize one W row's units each
 * into the fp16 B tile (quant_stage.glsl: fp32 values exactly as ggml, then rounded to fp16; units
 * past K are zeros) while the others (all, on a workgroup of 64 or fewer) stage X [64, BK] as fp16;
 * then the fragment loop of matmul_coopmat.comp: FM x 16 (A, row-major) times 16 x FN (B = W^T,
 * column-major from the W rows) into fp32 accumulators, which go through shared memory to the
 * bounds-checked epilogue.
 *
 * Precision: X and W are each rounded to fp16 once (the path's two losses; every product of two
 * halves is exact in fp32 and every sum is fp32). |x| or a dequantized |w| above 65504 overflows to
 * inf (a Q6_K block with d above 16, Q5_K above 33, Q4_K above 69, Q8_0 above 512 can reach it:
 * weights that large belong on the tiled path).
 *
 * COOPMAT_EMULATE (defined: "matmul_q_coopmat_emu_<fmt>", a test variant for devices without
 * cooperative matrices): the same staging, K loop and epilogue, with the fragments replaced by
 * scalar sums of the same fp16 tiles into Cs (exact products, fp32 sums); no subgroup requirement.
 * The tests run it where the real variants cannot run, so that all but the fragment calls is
 * checked on every CI run.
 *
 * Grid:      1-D (folded), pc.n_groups = ceil(n_count / 64) * ceil(M / 64); group g covers columns
 *            (g % groups_n) * 64 .. and rows (g / groups_n) * 64 ...
 * Bindings:  as matmul_q_tiled.comp (0 Y, 1 X, 2 W chunk as raw blocks, 3 bias, 4 R).
 * Push:      vkg_matmul_q_push (matmul_q_push.h); K is a multiple of 32, so X is staged as vec4.
 * Spec:      0 WG (4 x subgroup size), 1 BK (32, 64 or 128), 2 FN, 3 FM (8 or 16 each).
 *            Shared memory: 2 x 64 x BK halves + 64 x 64 floats = 24 KB at BK = 32, 32 KB at 64.
 * Needs:     shaderFloat16, the Vulkan memory model; not 16-bit storage (W is read as words), though
 *            the host asks for it anyway: one usability rule for both coopmat paths (matmul.c).
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#ifndef COOPMAT_EMULATE
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_NV_cooperative_matrix : require
#endif
#include "common.glsl"
#include "matmul_q_push.h"
#include "matmul_common.glsl"

layout(constant_id = 0) const uint WG = 128;
layout(constant_id = 1) const uint BK = 32;
layout(constant_id = 2) const uint FN = 16;
layout(constant_id = 3) const uint FM = 16;
layout(local_size_x_id = 0) in;

const uint BM = 64, BN = 64, FK = 16;
const uint MF = 32 / FM, NF = 32 / FN; /* fragments along m and n per subgroup quadrant */

shared float16_t As[BM * BK]; /* As[m][k] */
shared float16_t Bs[BN * BK]; /* Bs[n][k] = B[k][n] column-major */
shared float Cs[BM * BN];     /* Cs[m][n] */

#define QS_TILE Bs
#define QS_BK BK
#include "quant_stage.glsl"

void stage(uint m0, uint n0, uint k0, uint tid) {
    uint wt = min(WG, BN), xf = WG > BN ? BN : 0u; /* W decoders; first X stager */
    if (tid < wt)
        for (uint r = tid; r < BN; r += wt)
            q_stage_row(min(n0 + r, pc.n_count - 1u) * pc.row_bytes, k0 / 32u, pc.K / 32u, r);
    if (tid >= xf)
        for (uint i = tid - xf; i < BM * (BK / 4u); i += WG - xf) {
            uint r = i / (BK / 4u), kc = (i % (BK / 4u)) * 4u, m = m0 + r, k = k0 + kc;
            vec4 v = (m < pc.M && k < pc.K) ? x_data4[(m * pc.K + k) / 4u] : vec4(0.0);
            for (uint c = 0; c < 4u; c++)
                As[r * BK + kc + c] = float16_t(v[c]);
        }
}

void main() {
    uint g = vkg_group_id();
    if (g >= pc.n_groups)
        return; /* uniform per workgroup: before any barrier */
    uint n0 = (g % pc.groups_n) * BN, m0 = (g / pc.groups_n) * BM;
    uint tid = gl_LocalInvocationID.x;
#ifdef COOPMAT_EMULATE
    for (uint i = tid; i < BM * BN; i += WG)
        Cs[i] = 0.0;
    for (uint k0 = 0; k0 < pc.K; k0 += BK) {
        stage(m0, n0, k0, tid);
        barrier();
        for (uint i = tid; i < BM * BN; i += WG) {
            uint m = i / BN, n = i % BN;
            float s = Cs[i];
            for (uint kk = 0; kk < BK; kk++)
                s += float(As[m * BK + kk]) * float(Bs[n * BK + kk]);
            Cs[i] = s;
        }
        barrier();
    }
#else
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
#endif
    barrier();
    for (uint i = tid; i < BM * BN; i += WG) {
        uint m = m0 + i / BN, nl = n0 + i % BN;
        if (m < pc.M && nl < pc.n_count) {
            uint n = pc.n_offset + nl;
            y_data[m * pc.N + n] = vkg_matmul_finish(Cs[i], m, n);
        }
    }
}
