/*
 * kernels/quantize_act.h — quantize fp32 activations to 8 bits per block of 32 (shaders/quantize_act.comp)
 * for the int8 dot-product matmul (vkg_matmul_ex with opt->xq, see matmul_quant.h): per block an fp32
 * scale d = max |x| / 127, the 32 values q = round(x / d) in -127..127 and the sums of q over each half.
 * Block layout: shaders/quantize_act_push.h (48 bytes). Not a weight quantizer (model/quant.h).
 */
#ifndef VKG_KERNELS_QUANTIZE_ACT_H
#define VKG_KERNELS_QUANTIZE_ACT_H

#include "kernels/kernels.h"

/* Bytes the quantized form of X [M, K] takes: M * K / 32 blocks of 48 bytes; 0 when K is not a
 * multiple of 32 or M or K is 0, or on overflow. */
uint64_t vkg_quantize_act_bytes(uint32_t M, uint32_t K);

/* Record xq = the quantized form of fp32 X [M, K] into `cmd`. x: at least M * K floats; xq: at least
 * vkg_quantize_act_bytes(M, K) bytes, not overlapping x. Each row of X is quantized on its own, so
 * the blocks of row m do not depend on the other rows. Fails with VKG_ERROR_INVALID_ARGUMENT (NULL
 * arguments, zero sizes, K not a multiple of 32, views too small or overlapping) or
 * VKG_ERROR_DEVICE_LIMIT (a view larger than one binding); messages name quantize_act and the sizes. */
vkg_status vkg_quantize_act(const vkg_kernels *k, vkg_cmd *cmd, vkg_view xq, vkg_view x, uint32_t M, uint32_t K);

#endif /* VKG_KERNELS_QUANTIZE_ACT_H */
