/* ref_quant.h — the CPU reference of ggml's block formats: the value of any one element of a block,
 * decoded straight from the published layout (ggml-common.h's block structs and the dequantize_row_*
 * formulas), element by element. It is the oracle for src/model/quant.c and the quantized-matmul
 * shaders, written separately from both: no code is shared with them.
 *
 * Arithmetic: each ggml formula is evaluated in double and rounded to float after every operation,
 * which gives exactly the fp32 result of that operation (a product or sum of two floats is exact in
 * double, or close enough that one rounding to float is the correctly rounded fp32 result). So the
 * values equal, bit for bit, what ggml and gguf-py compute in fp32 without fused multiply-adds.
 *
 * Types are ggml's numbers: F32 0, F16 1, Q4_0 2, Q8_0 8, Q4_K 12, Q5_K 13, Q6_K 14, BF16 30.
 * Not a quantizer, not fast. */
#ifndef VKGPT_TESTS_REF_QUANT_H
#define VKGPT_TESTS_REF_QUANT_H

#include <stddef.h>
#include <stdint.h>

enum {
    REF_GGML_F32 = 0, REF_GGML_F16 = 1, REF_GGML_Q4_0 = 2, REF_GGML_Q8_0 = 8,
    REF_GGML_Q4_K = 12, REF_GGML_Q5_K = 13, REF_GGML_Q6_K = 14, REF_GGML_BF16 = 30,
};

/* Elements per block (1 for F32/F16/BF16) and bytes per block; 0 for a type not listed above. */
int ref_q_block_elems(int type);
int ref_q_block_bytes(int type);

/* Element i (0 <= i < block elements) of the block at `block`. */
float ref_q_element(int type, const uint8_t *block, int i);

/* dst[0..n) = the n elements at src (n a multiple of the block). */
void ref_q_dequantize(int type, const void *src, float *dst, size_t n);

#endif
