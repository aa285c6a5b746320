/*
 * shaders/quant_packed.glsl — decode ggml's block formats to packed 8-bit integer quants, for int8
 * dot products (matmul_q_dot.comp). Uses quant.glsl's layouts, constants (QK, QB, QU, QP, QMIN) and
 * word loaders, not its float decoder (q_chunk; q_emit is defined empty for it here).
 *
 * Before including, define
 *   void qp_emit(uint r, uint j, uint q[8], int off, float sc0, float sc1, float mn)
 * which receives unit j (32 elements) of the block: q[i] holds elements 4i..4i+3, one per byte
 * (element 4i + c in byte c), each a signed byte as OpSDot reads it (the unsigned 4-, 5- and 6-bit
 * codes are < 128, so they read as themselves); the element's value is sc * (q - off) - mn with
 * sc = sc0 for elements 0-15 and sc1 for 16-31 (off: Q4_0 8, Q6_K 32, else 0). sc and mn are the
 * same fp32 products quant.glsl computes.
 *   qp_chunk(blk, c, r): decode chunk c (< QU / QP) of the block at byte address blk, calling qp_emit
 *   for its QP units in order, passing r through.
 * Not here: the activations' side (quantize_act.comp) or the dot products.
 */
#ifndef VKG_QUANT_PACKED_GLSL
#define VKG_QUANT_PACKED_GLSL

/* quant.glsl's float decoder calls this; it is never called here */
void q_emit(uint r, uint j, vec4 q[8], float sc0, float sc1, float mn) {}
#include "quant.glsl"

#if defined(FMT_Q8_0)
const int QOFF = 0;
void qp_chunk(uint blk, uint c, uint r) {
    float d = unpackHalf2x16(q_u16(blk)).x;
    uint w[8];
    Q_LOAD(w, 8u, blk + 2u)
    qp_emit(r, 0u, w, QOFF, d, d, 0.0);
}
#elif defined(FMT_Q4_0)
const int QOFF = 8;
void qp_chunk(uint blk, uint c, uint r) {
    float d = unpackHalf2x16(q_u16(blk)).x;
    uint w[4];
    Q_LOAD(w, 4u, blk + 2u)
    uint q[8];
    /* byte l holds element l (low nibble) and element l + 16 (high nibble) */
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        q[i] = w[i] & 0x0F0F0F0Fu;
        q[i + 4u] = (w[i] >> 4) & 0x0F0F0F0Fu;
    }
    qp_emit(r, 0u, q, QOFF, d, d, 0.0);
}
#elif defined(FMT_Q4_K) || defined(FMT_Q5_K)
const int QOFF = 0;
void qp_chunk(uint blk, uint c, uint r) {
    q_kchunk k = q_kload(blk, c); /* quant.glsl: the same bytes its float decoder reads */
    [[unroll]] for (uint half_ = 0u; half_ < 2u; half_++) {
        uint j = 2u * c + half_, q[8];
        float d1, m1;
        q_ksub(k, j, half_, q, d1, m1);
        qp_emit(r, j, q, QOFF, d1, d1, m1);
    }
}
#elif defined(FMT_Q6_K)
const int QOFF = 32;
void qp_chunk(uint blk, uint c, uint r) {
    /* chunk c = half h of the block: 128 elements, units 4h + g; quarter g takes the low (g < 2) or
     * high nibbles of ql bytes 32 (g & 1) .. + 31 and bits 2g, 2g + 1 of the qh bytes */
    uint ql = blk + 64u * c, qh = blk + 128u + 32u * c;
    float d = unpackHalf2x16(q_u16(blk + 208u)).x;
    uint sv[2], lv[16], hv[8];
    Q_LOAD(sv, 2u, blk + 192u + 8u * c) /* scales 8h .. 8h + 7, one per 16 elements */
    Q_LOAD(lv, 16u, ql)
    Q_LOAD(hv, 8u, qh)
    [[unroll]] for (uint g = 0u; g < 4u; g++) {
        uint q[8];
        [[unroll]] for (uint i = 0u; i < 8u; i++)
            q[i] = ((lv[i + 8u * (g & 1u)] >> (4u * (g >> 1))) & 0x0F0F0F0Fu) |
                   (((hv[i] >> (2u * g)) & 0x03030303u) << 4);
        uint sw = g < 2u ? sv[0] : sv[1], sh = 16u * (g & 1u);
        qp_emit(r, 4u * c + g, q, QOFF, q_mul(d, float(q_sext8(sw >> sh))), q_mul(d, float(q_sext8(sw >> (sh + 8u)))),
                0.0);
    }
}
#endif

#endif
