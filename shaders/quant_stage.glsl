/*
 * shaders/quant_stage.glsl — dequantize a K step of one W row (QS_BK / 32 consecutive units of 32
 * elements) into one row of a shared fp16 tile. The one staging routine of the block formats'
 * fp16 consumers: matmul_q_coopmat.comp (the B tile of its fragments) and dequant_f16.comp (W rows
 * to fp16 rows; what the tests run on devices without cooperative matrices, so that this code is
 * checked on every CI run).
 *
 * Values: sc * q - mn exactly as ggml (fp32, `precise`: one product, one difference, as
 * matmul_q_tiled.comp), then converted to fp16. That conversion is the staging's only precision
 * loss: fp16 keeps 11 significant bits (|w| from 2^-24 to 65504, subnormals below 2^-14), a value
 * with |w| > 65504 overflows to +-inf. Vulkan leaves the rounding of a narrowing conversion to the
 * implementation unless the module asks for RoundingModeRTE (VK_KHR_shader_float_controls); the
 * tests expect round-to-nearest-even, what lavapipe and NVIDIA do, and would show a device that
 * rounds otherwise.
 *
 * Before including, the includer defines
 *   QS_TILE  the shared float16_t array (row r of the tile is QS_TILE[r * QS_BK .. + QS_BK))
 *   QS_BK    its row length: a multiple of 32 (a constant or specialization constant)
 * and the format (FMT_*, see quant.glsl, included here). This file defines quant.glsl's q_emit.
 */
#ifndef VKG_QUANT_STAGE_GLSL
#define VKG_QUANT_STAGE_GLSL

#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require

void q_emit(uint r, uint j, vec4 q[8], float sc0, float sc1, float mn);
#include "quant.glsl"

/* What q_emit keeps of the chunk being decoded: units qs_lo .. qs_hi - 1 of the block, unit qs_lo at
 * tile column qs_col. Private per invocation. */
uint qs_lo, qs_hi, qs_col;

void q_emit(uint r, uint j, vec4 q[8], float sc0, float sc1, float mn) {
    if (j < qs_lo || j >= qs_hi)
        return;
    uint base = r * QS_BK + qs_col + (j - qs_lo) * 32u;
    [[unroll]] for (uint c = 0u; c < 8u; c++)
        [[unroll]] for (uint e = 0u; e < 4u; e++) {
            precise float p = (c < 4u ? sc0 : sc1) * q[c][e];
            precise float v = p - mn;
            QS_TILE[base + 4u * c + e] = float16_t(v);
        }
}

/* Tile row r = elements 32 u0 .. 32 u0 + QS_BK - 1 of the W row whose first block is at byte address
 * row (of the weight binding); units at or past `units` (the row's K / 32) are zeros, so a K that is
 * not a multiple of QS_BK adds nothing. Decodes each chunk of quant.glsl once per call, keeping the
 * units that fall in the step (a step narrower than a chunk decodes the chunk and drops the rest). */
void q_stage_row(uint row, uint u0, uint units, uint r) {
    uint end = min(u0 + QS_BK / 32u, units), u = u0;
    while (u < end) {
        uint b = u / QU, j = u - b * QU, c = j / QP;
        qs_lo = j;
        qs_hi = min((c + 1u) * QP, j + (end - u));
        qs_col = (u - u0) * 32u;
        q_chunk(row + b * QB, c, r);
        u += qs_hi - j;
    }
    for (uint k = (max(end, u0) - u0) * 32u; k < QS_BK; k++)
        QS_TILE[r * QS_BK + k] = float16_t(0.0);
}

#endif
