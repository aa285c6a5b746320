/* shaders/matmul_q_push.h — push constants of the quantized matmuls (matmul_q_vec.comp,
 * matmul_q_tiled.comp), shared by C and GLSL. As vkg_matmul_push (matmul_push.h), plus the byte
 * length of one W row (K / block_elems blocks). One dispatch covers all M rows of X and one chunk of
 * W's rows (outputs n_offset .. n_offset + n_count - 1). */
#include "push_common.h"

/* The epilogues, numbered as in matmul_push.h (matmul_common.glsl tests them). */
#ifndef VKG_MATMUL_EP_NONE
#define VKG_MATMUL_EP_NONE 0u
#define VKG_MATMUL_EP_GELU 1u
#define VKG_MATMUL_EP_RESIDUAL 2u
#endif

VKG_PUSH_BEGIN(vkg_matmul_q_push)
    u32 M;         /* rows of X and Y */
    u32 N;         /* columns of Y (all outputs: row stride of Y and R, length of bias) */
    u32 K;         /* columns of X = elements per W row; a multiple of the block */
    u32 n_offset;  /* first output (row of the whole W) of this dispatch's chunk */
    u32 n_count;   /* outputs in this chunk (rows of the bound W) */
    u32 groups_n;  /* workgroups along n; group g covers n-block g % groups_n, m-block g / groups_n */
    u32 n_groups;  /* total workgroups (the folded 1-D grid may be padded past this) */
    u32 has_bias;  /* 0: no bias (binding 3 is a dummy) */
    u32 epilogue;  /* VKG_MATMUL_EP_* */
    u32 row_bytes; /* bytes of one W row */
VKG_PUSH_END(vkg_matmul_q_push)
