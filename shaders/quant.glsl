/*
 * shaders/quant.glsl — decode ggml's block formats (layouts: src/model/quant.h) from the weight
 * binding (2), read as 32-bit words: no 8- or 16-bit storage, no 8-bit arithmetic. Blocks of Q8_0
 * (34 bytes), Q4_0 (18) and Q6_K (210) are only 2-byte aligned: their words are assembled from two
 * aligned loads (q_word; neighbouring words share a load), which may read the 4 bytes after W — the
 * host binds and requires them. Q4_K (144) and Q5_K (176) blocks are 16-byte aligned: read as uvec4.
 *
 * Define one of FMT_Q8_0, FMT_Q4_0, FMT_Q4_K, FMT_Q5_K, FMT_Q6_K, and before including, define
 *   void q_emit(uint r, uint j, vec4 q[8], float sc0, float sc1, float mn)
 * which receives unit j (32 elements) of the block as its integer quants q (q[c] = elements 4c..4c+3,
 * exact small integers as floats) with value(e) = sc * q - mn, sc = sc0 for elements 0-15 and sc1 for
 * 16-31; sc and mn are computed exactly as ggml computes them (fp32 products, `precise`). A consumer
 * that needs bit-exact values evaluates sc * q - mn with `precise` (one product, one difference, as
 * ggml). The format gives:
 *   QK elements per block, QB bytes per block, QU units of 32 per block, QP units per chunk (what one
 *   q_chunk call decodes: units that share their quant bytes), QMIN whether there is a min;
 *   q_chunk(blk, c, r): decode chunk c (< QU / QP) of the block at byte address blk, calling q_emit
 *   for its QP units in order, passing r through.
 * Consumers of the packed codes (int8 dot products) define VKG_QUANT_PACKED and qp_emit instead of
 * q_emit, and call qp_chunk (quant_packed.glsl); both decoders share one reading of each format.
 */
#ifndef VKG_QUANT_GLSL
#define VKG_QUANT_GLSL

#extension GL_EXT_control_flow_attributes : require

layout(std430, binding = 2) readonly buffer WQ { uint wq[]; };
layout(std430, binding = 2) readonly buffer WQ4 { uvec4 wq4[]; };

/* The 32-bit word at byte address a of any alignment, from the two aligned words around it. */
uint q_word(uint a) {
    uint i = a >> 2, s = (a & 3u) * 8u;
    return (wq[i] >> s) | ((wq[i + 1u] << (31u - s)) << 1);
}
/* dst[0..n) = the n words from byte address a (any alignment): n + 1 aligned loads, each used twice
 * (lavapipe checks the bounds of every load, so loads are what a decode costs there). */
#define Q_LOAD(dst, n, a)                                                         \
    {                                                                             \
        uint i0_ = (a) >> 2, s_ = ((a)&3u) * 8u, r_[(n) + 1u];                    \
        [[unroll]] for (uint k_ = 0u; k_ <= (n); k_++)                                       \
            r_[k_] = wq[i0_ + k_];                                                \
        [[unroll]] for (uint k_ = 0u; k_ < (n); k_++)                                      \
            dst[k_] = (r_[k_] >> s_) | ((r_[k_ + 1u] << (31u - s_)) << 1);        \
    }
/* The 16 bits at an even byte address. */
uint q_u16(uint a) { return (wq[a >> 2] >> ((a & 2u) * 8u)) & 0xFFFFu; }
int q_sext8(uint v) { return int(v << 24) >> 24; }

float q_mul(float a, float b) {
    precise float r = a * b;
    return r;
}
/* The four bytes of v as a vec4, each masked with `mask` (< 0x80). Converted as signed integers:
 * CPUs without an unsigned conversion instruction (x86 before AVX-512: lavapipe) emulate
 * float(uint) with several instructions. */
vec4 q_bytes4(uint v, uint mask) {
    return vec4(ivec4(int(v & mask), int((v >> 8) & mask), int((v >> 16) & mask), int((v >> 24) & mask)));
}

#ifndef VKG_QUANT_PACKED
void qp_emit(uint r, uint j, uint w[8], int off, float sc0, float sc1, float mn);
#endif
/* Each format decodes a chunk once, into packed codes: qp_chunk(blk, c, r) calls
 *   qp_emit(r, j, uint q[8], int off, float sc0, float sc1, float mn)
 * for its units, q[i] holding elements 4i..4i+3 one per byte (element 4i + e in byte e), each a signed
 * byte as OpSDot reads it (the unsigned 4-, 5- and 6-bit codes are < 128, so they read as themselves),
 * the element's value being sc * (q - off) - mn (off = QOFF: Q4_0 8, Q6_K 32, else 0). The float
 * decoder q_chunk (below the formats) turns those codes into q_emit's vec4s. */
#if defined(FMT_Q8_0)
const uint QK = 32u, QB = 34u, QU = 1u, QP = 1u;
const bool QMIN = false;
const int QOFF = 0;
void qp_chunk(uint blk, uint c, uint r) {
    float d = unpackHalf2x16(q_u16(blk)).x;
    uint w[8];
    Q_LOAD(w, 8u, blk + 2u)
    qp_emit(r, 0u, w, QOFF, d, d, 0.0);
}
#elif defined(FMT_Q4_0)
const uint QK = 32u, QB = 18u, QU = 1u, QP = 1u;
const bool QMIN = false;
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
#ifdef FMT_Q4_K
const uint QK = 256u, QB = 144u, QU = 8u, QP = 2u, QS = 16u;
#else
const uint QK = 256u, QB = 176u, QU = 8u, QP = 2u, QS = 48u;
#endif
const bool QMIN = true;
const int QOFF = 0;
/* Scale and min of sub-block j from the 12 scale bytes s (s.x = bytes 0-3, s.y 4-7, s.z 8-11). */
void q_scale_min(uvec3 s, uint j, out uint sc, out uint mn) {
    uint sh = 8u * (j & 3u);
    if (j < 4u) {
        sc = (s.x >> sh) & 63u;
        mn = (s.y >> sh) & 63u;
    } else {
        uint lo = s.z >> sh;
        sc = (lo & 0xFu) | (((s.x >> sh) >> 6) & 3u) << 4;
        mn = ((lo >> 4) & 0xFu) | (((s.y >> sh) >> 6) & 3u) << 4;
    }
}
/* Chunk c: 32 bytes of quants holding sub-block 2c in their low nibbles and 2c + 1 in their high
 * ones; Q5_K's fifth bit of sub-block j is bit j of the qh bytes. */
void qp_chunk(uint blk, uint c, uint r) {
    uvec4 head = wq4[blk >> 4]; /* d, dmin | scale bytes 0-3 | 4-7 | 8-11 */
    vec2 dm = unpackHalf2x16(head.x);
    uint qa = (blk + QS + 32u * c) >> 4;
    uvec4 qs0 = wq4[qa], qs1 = wq4[qa + 1u];
    uint qv[8] = uint[8](qs0.x, qs0.y, qs0.z, qs0.w, qs1.x, qs1.y, qs1.z, qs1.w);
#ifdef FMT_Q5_K
    uvec4 h0 = wq4[(blk >> 4) + 1u], h1 = wq4[(blk >> 4) + 2u];
    uint hv[8] = uint[8](h0.x, h0.y, h0.z, h0.w, h1.x, h1.y, h1.z, h1.w);
#endif
    [[unroll]] for (uint half_ = 0u; half_ < 2u; half_++) {
        uint j = 2u * c + half_, sc, mn;
        q_scale_min(head.yzw, j, sc, mn);
        uint q[8];
        [[unroll]] for (uint i = 0u; i < 8u; i++) {
            q[i] = (qv[i] >> (4u * half_)) & 0x0F0F0F0Fu;
#ifdef FMT_Q5_K
            q[i] |= ((hv[i] >> j) & 0x01010101u) << 4;
#endif
        }
        float d1 = q_mul(dm.x, float(sc));
        qp_emit(r, j, q, QOFF, d1, d1, q_mul(dm.y, float(mn)));
    }
}
#elif defined(FMT_Q6_K)
const uint QK = 256u, QB = 210u, QU = 8u, QP = 4u;
const bool QMIN = false;
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
#else
#error "define the block format: FMT_Q8_0, FMT_Q4_0, FMT_Q4_K, FMT_Q5_K or FMT_Q6_K"
#endif

#ifndef VKG_QUANT_PACKED
/* The float decoder: the packed codes as exact small integers in floats, less the offset. Q8_0's
 * bytes are signed; every other format's are unsigned codes below 0x40. */
void qp_emit(uint r, uint j, uint w[8], int off, float sc0, float sc1, float mn) {
    vec4 q[8];
    [[unroll]] for (uint i = 0u; i < 8u; i++) {
#ifdef FMT_Q8_0
        uint v = w[i];
        q[i] = vec4(float(q_sext8(v)), float(q_sext8(v >> 8)), float(q_sext8(v >> 16)), float(int(v) >> 24));
#else
        q[i] = q_bytes4(w[i], 0x3Fu) - float(off);
#endif
    }
    q_emit(r, j, q, sc0, sc1, mn);
}
void q_chunk(uint blk, uint c, uint r) { qp_chunk(blk, c, r); }
#endif

#endif
