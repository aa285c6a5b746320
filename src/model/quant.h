/*
 * model/quant.h — ggml's tensor types: their numbering and block layouts, and host code for the
 * block formats vkgpt computes with: dequantize blocks to fp32 and quantize fp32 to blocks.
 *
 * Layouts (ggml's published ones, little-endian, blocks packed back to back with no padding; a row
 * of K elements is K / block_elems blocks):
 *   Q8_0  32 elements, 34 bytes:  f16 d; i8 q[32].                            x = d * q
 *   Q4_0  32 elements, 18 bytes:  f16 d; u8 qs[16]; element j < 16 is the low nibble of qs[j],
 *                                 element j + 16 the high one.                x = (q - 8) * d
 *   Q4_K  256 elements, 144 bytes: f16 d, dmin; u8 scales[12]; u8 qs[128]. Eight sub-blocks of 32,
 *                                 each a 6-bit scale sc and min m packed in `scales`; sub-block 2p
 *                                 is the low nibbles of qs[32p..32p+31], 2p+1 the high ones.
 *                                                                             x = (d*sc) * q - dmin*m
 *   Q5_K  256 elements, 176 bytes: f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]. As Q4_K, with
 *                                 the fifth bit of element l of sub-block s in bit s of qh[l].
 *   Q6_K  256 elements, 210 bytes: u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d. Sixteen sub-blocks
 *                                 of 16 elements, scale scales[e / 16]; in each half h (128 elements)
 *                                 element 32g + l (g < 4, l < 32) takes the low (g < 2) or high
 *                                 nibble of ql[64h + 32(g & 1) + l] and bits 2g..2g+1 of qh[32h + l].
 *                                                                             x = (d*sc) * (q - 32)
 * The dequantizers compute exactly these fp32 expressions, in this order and without fused
 * multiply-adds, which is what ggml and gguf-py compute: their results are equal bit for bit.
 *
 * The quantizers are round-to-nearest ("RTN"): one pass per block, no search over scales. Scales
 * (d, dmin, the 6- and 8-bit sub-block scales) are rounded up, never down, so that every element
 * lies inside its sub-block's range and the error of an element is at most half its sub-block's step
 * (Q4_0: one step, as ggml's layout maps the largest magnitude to -8 and the other sign only to +7).
 * llama.cpp's quantizers search scales that minimise a weighted error; see the report/README for how
 * the two compare.
 *
 * Not here: the GGUF container (gguf.h), the device kernels (kernels/matmul_quant.h).
 */
#ifndef VKG_MODEL_QUANT_H
#define VKG_MODEL_QUANT_H

#include "common.h"

/* ggml's type numbers as GGUF files store them (ggml.h's enum ggml_type; gaps are retired types). */
typedef enum vkg_ggml_type {
    VKG_GGML_F32 = 0,
    VKG_GGML_F16 = 1,
    VKG_GGML_Q4_0 = 2,
    VKG_GGML_Q4_1 = 3,
    VKG_GGML_Q5_0 = 6,
    VKG_GGML_Q5_1 = 7,
    VKG_GGML_Q8_0 = 8,
    VKG_GGML_Q8_1 = 9,
    VKG_GGML_Q2_K = 10,
    VKG_GGML_Q3_K = 11,
    VKG_GGML_Q4_K = 12,
    VKG_GGML_Q5_K = 13,
    VKG_GGML_Q6_K = 14,
    VKG_GGML_Q8_K = 15,
    VKG_GGML_IQ2_XXS = 16,
    VKG_GGML_IQ2_XS = 17,
    VKG_GGML_IQ3_XXS = 18,
    VKG_GGML_IQ1_S = 19,
    VKG_GGML_IQ4_NL = 20,
    VKG_GGML_IQ3_S = 21,
    VKG_GGML_IQ2_S = 22,
    VKG_GGML_IQ4_XS = 23,
    VKG_GGML_I8 = 24,
    VKG_GGML_I16 = 25,
    VKG_GGML_I32 = 26,
    VKG_GGML_I64 = 27,
    VKG_GGML_F64 = 28,
    VKG_GGML_IQ1_M = 29,
    VKG_GGML_BF16 = 30,
    VKG_GGML_TQ1_0 = 34,
    VKG_GGML_TQ2_0 = 35,
    VKG_GGML_MXFP4 = 39,
    VKG_GGML_TYPE_END = 40, /* first number past the known ones */
} vkg_ggml_type;

/* Name of ggml type `t` ("Q4_K"), or NULL when `t` is not a known (current) type. */
const char *vkg_ggml_type_name(uint32_t t);

/* Block layout of a known type: elements per block and bytes per block (F32: 1 and 4). False for an
 * unknown type (outputs untouched). */
bool vkg_ggml_type_layout(uint32_t t, uint32_t *block_elems, uint32_t *block_bytes);

/* True for the types vkgpt reads: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K. */
bool vkg_ggml_type_supported(uint32_t t);

/* True for the block formats the quantizer writes: Q8_0, Q4_0, Q4_K, Q5_K, Q6_K. */
bool vkg_ggml_type_quantizable(uint32_t t);

/* Bytes of `n` elements of type `t`; 0 when `t` is unknown, `n` is not a multiple of its block or the
 * size overflows 64 bits. */
uint64_t vkg_ggml_bytes(uint32_t t, uint64_t n);

/* dst[0..n) = the values of the `n` elements of type `t` at `src` (unaligned is fine). `t` must be
 * supported and `n` a multiple of its block: VKG_ERROR_INVALID_ARGUMENT naming both otherwise. */
vkg_status vkg_quant_dequantize(uint32_t t, const void *src, float *dst, uint64_t n);

/* Quantize src[0..n) into vkg_ggml_bytes(t, n) bytes at `dst`, round-to-nearest (see above). `t` must
 * be quantizable and `n` a multiple of its block; src must be finite (VKG_ERROR_BAD_WEIGHTS naming
 * the index otherwise). */
vkg_status vkg_quant_quantize(uint32_t t, const float *src, void *dst, uint64_t n);

#endif /* VKG_MODEL_QUANT_H */
