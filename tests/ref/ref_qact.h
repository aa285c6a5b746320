/* ref_qact.h — the CPU reference of the activation quantization for int8 dot products (what
 * src/kernels/quantize_act.h computes on the device), written from its definition, sharing no code
 * with the shader: per block of 32 values d = max |x| / 127 (one fp32 division), q = x / d rounded to
 * the nearest integer, halves away from zero, clamped to -127..127 (all 0 when d = 0), and the sums
 * of q over elements 0-15 and 16-31. Not fast. */
#ifndef VKGPT_TESTS_REF_QACT_H
#define VKGPT_TESTS_REF_QACT_H

#include <stdint.h>

/* Quantize the 32 values at x: q[32], *d, *s0, *s1 as above; *exact_q is set to the quotient x / d
 * in double (for tests that allow a difference of one where it lies next to a rounding boundary). */
void ref_qact_block(const float *x, int8_t *q, float *d, int32_t *s0, int32_t *s1, double *exact_q);

#endif
