/*
 * shaders/quant_packed.glsl — decode ggml's block formats to packed 8-bit integer quants, for int8
 * dot products (matmul_q_dot.comp): quant.glsl's decoders (its one reading of each format, which its
 * float q_chunk also uses), without the float adapter.
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

#define VKG_QUANT_PACKED /* quant.glsl: the packed decoders only, no float q_chunk */
#include "quant.glsl"

#endif
