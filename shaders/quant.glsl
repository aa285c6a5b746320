/*
 * shaders/quant.glsl — decode ggml's block formats (layouts: src/model/quant.h) from the weight
 * binding (2), read as 32-bit words: no 8- or 16-bit storage, no 8-bit arithmetic. Blocks of Q8_0
 * (34 bytes), Q4_0 (18) and Q6_K (210) are only 2-byte aligned, so their bytes are gathered from two
 * words where they straddle one (q_word); Q4_K (144) and Q5_K (176) blocks are 16-byte aligned and
 * read as uvec4.
 *
 * Define one of FMT_Q8_0, FMT_Q4_0, FMT_Q4_K, FMT_Q5_K, FMT_Q6_K before including. The format gives:
 *   QK  elements per block, QB bytes per block, QU units of 32 elements per block;
 *   q_unit(blk, j, w): the 32 values of unit j of the block at byte address blk, w[c] = elements
 *   4c .. 4c + 3 of the unit.
 * Values are computed exactly as ggml writes them (fp32, the same order, `precise`: no fused
 * multiply-add), so they equal the host dequantizer bit for bit.
 */
#ifndef VKG_QUANT_GLSL
#define VKG_QUANT_GLSL

layout(std430, binding = 2) readonly buffer WQ { uint wq[]; };
layout(std430, binding = 2) readonly buffer WQ4 { uvec4 wq4[]; };

/* The 32-bit word at byte address a (any alignment; a + 3 must lie in the binding). */
uint q_word(uint a) {
    uint s = (a & 3u) * 8u, lo = wq[a >> 2];
    return s == 0u ? lo : (lo >> s) | (wq[(a >> 2) + 1u] << (32u - s));
}
uint q_byte(uint a) { return (wq[a >> 2] >> ((a & 3u) * 8u)) & 0xFFu; }
int q_sbyte(uint a) { return int(q_byte(a) << 24) >> 24; }
/* The f16 at an even byte address, widened (exactly) to fp32. */
float q_half(uint a) { return unpackHalf2x16((wq[a >> 2] >> ((a & 2u) * 8u)) & 0xFFFFu).x; }

float q_mul(float a, float b) {
    precise float r = a * b;
    return r;
}
vec4 q_mul4(vec4 a, float b) { return vec4(q_mul(a.x, b), q_mul(a.y, b), q_mul(a.z, b), q_mul(a.w, b)); }
/* a * q - m, rounded after the product as ggml does. */
vec4 q_mul_sub4(float a, vec4 q, float m) {
    precise vec4 p = a * q;
    precise vec4 r = p - m;
    return r;
}
/* The four bytes of v as a vec4, masked with `mask` (0xF for nibbles after a shift, 0xFF bytes). */
vec4 q_bytes4(uint v, uint mask) {
    return vec4(float(v & mask), float((v >> 8) & mask), float((v >> 16) & mask), float((v >> 24) & mask));
}

#if defined(FMT_Q8_0)
const uint QK = 32u, QB = 34u, QU = 1u;
void q_unit(uint blk, uint j, out vec4 w[8]) {
    float d = q_half(blk);
    for (uint i = 0u; i < 8u; i++) {
        uint v = q_word(blk + 2u + 4u * i);
        vec4 q = vec4(float(int(v << 24) >> 24), float(int(v << 16) >> 24), float(int(v << 8) >> 24),
                      float(int(v) >> 24));
        w[i] = q_mul4(q, d);
    }
}
#elif defined(FMT_Q4_0)
const uint QK = 32u, QB = 18u, QU = 1u;
void q_unit(uint blk, uint j, out vec4 w[8]) {
    float d = q_half(blk);
    for (uint i = 0u; i < 4u; i++) {
        uint v = q_word(blk + 2u + 4u * i);
        w[i] = q_mul4(q_bytes4(v, 0xFu) - 8.0, d);
        w[i + 4u] = q_mul4(q_bytes4(v >> 4, 0xFu) - 8.0, d);
    }
}
#elif defined(FMT_Q4_K) || defined(FMT_Q5_K)
#ifdef FMT_Q4_K
const uint QK = 256u, QB = 144u, QU = 8u, QS = 16u;
#else
const uint QK = 256u, QB = 176u, QU = 8u, QS = 48u;
#endif
void q_unit(uint blk, uint j, out vec4 w[8]) {
    uvec4 head = wq4[blk >> 4]; /* d, dmin | scales 0-3 | scales 4-7 | scales 8-11 */
    vec2 dm = unpackHalf2x16(head.x);
    uint sj = (j < 4u ? head.y : head.z) >> (8u * (j & 3u)); /* byte j of the scales */
    uint sj4 = (j < 4u ? head.z : head.w) >> (8u * (j & 3u)); /* byte j + 4 */
    uint sc, mn;
    if (j < 4u) {
        sc = sj & 63u;
        mn = sj4 & 63u;
    } else {
        uint sjm4 = head.y >> (8u * (j & 3u)); /* byte j - 4 */
        sc = (sj4 & 0xFu) | (((sjm4 >> 6) & 3u) << 4);
        mn = ((sj4 >> 4) & 0xFu) | (((sj >> 6) & 3u) << 4);
    }
    float d1 = q_mul(dm.x, float(sc)), m1 = q_mul(dm.y, float(mn));
    uint qa = (blk + QS + 32u * (j >> 1)) >> 4, shift = (j & 1u) * 4u;
    uvec4 q0 = wq4[qa], q1 = wq4[qa + 1u];
    uint qv[8] = uint[8](q0.x, q0.y, q0.z, q0.w, q1.x, q1.y, q1.z, q1.w);
#ifdef FMT_Q5_K
    uvec4 h0 = wq4[(blk >> 4) + 1u], h1 = wq4[(blk >> 4) + 2u];
    uint hv[8] = uint[8](h0.x, h0.y, h0.z, h0.w, h1.x, h1.y, h1.z, h1.w);
#endif
    for (uint i = 0u; i < 8u; i++) {
        vec4 q = q_bytes4(qv[i] >> shift, 0xFu);
#ifdef FMT_Q5_K
        q += 16.0 * q_bytes4(hv[i] >> j, 1u);
#endif
        w[i] = q_mul_sub4(d1, q, m1);
    }
}
#elif defined(FMT_Q6_K)
const uint QK = 256u, QB = 210u, QU = 8u;
void q_unit(uint blk, uint j, out vec4 w[8]) {
    uint h = j >> 2, g = j & 3u;
    uint ql = blk + 64u * h + 32u * (g & 1u), qh = blk + 128u + 32u * h;
    float d = q_half(blk + 208u);
    float ds0 = q_mul(d, float(q_sbyte(blk + 192u + 2u * j)));
    float ds1 = q_mul(d, float(q_sbyte(blk + 193u + 2u * j)));
    for (uint i = 0u; i < 8u; i++) {
        vec4 lo = q_bytes4(q_word(ql + 4u * i) >> (4u * (g >> 1)), 0xFu);
        vec4 hi = q_bytes4(q_word(qh + 4u * i) >> (2u * g), 3u);
        w[i] = q_mul4(lo + 16.0 * hi - 32.0, i < 4u ? ds0 : ds1);
    }
}
#else
#error "define the block format: FMT_Q8_0, FMT_Q4_0, FMT_Q4_K, FMT_Q5_K or FMT_Q6_K"
#endif

#endif
