/* shaders/quantize_act_push.h — push constants of quantize_act.comp and the layout of the quantized
 * activations it writes (read by matmul_q_dot.comp), shared by C and GLSL. */
#include "push_common.h"

/* One block of 32 activations as quantize_act.comp writes it: 48 bytes = 3 uvec4, blocks of a row
 * back to back, rows back to back (row m, block b at index m * K / 32 + b):
 *   words 0-7  q: element 4i + c in byte c of word i, a signed 8-bit value in -127..127
 *   word  8    d: fp32 scale, x ~ d * q (d = max |x| / 127; 0 for an all-zero block)
 *   word  9    s0: sum of q over elements 0-15, as a 32-bit signed integer
 *   word 10    s1: sum of q over elements 16-31
 *   word 11    unused (zero) */
#define VKG_QACT_BLOCK_ELEMS 32u
#define VKG_QACT_BLOCK_BYTES 48u

VKG_PUSH_BEGIN(vkg_quantize_act_push)
    u32 n_blocks; /* blocks to write: M * K / 32 */
VKG_PUSH_END(vkg_quantize_act_push)
