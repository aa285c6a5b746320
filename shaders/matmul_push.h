/* shaders/matmul_push.h — push constants of the matmul family (matmul_vec.comp, matmul_tiled.comp,
 * matmul_coopmat.comp), shared by C and GLSL. One dispatch covers all M rows of X and one chunk of
 * W's rows (outputs n_offset .. n_offset + n_count - 1); W larger than one binding takes several. */
#include "push_common.h"

/* Fused epilogues (push member `epilogue`), applied to acc = x·w (+ bias): */
#define VKG_MATMUL_EP_NONE 0u     /* y = acc */
#define VKG_MATMUL_EP_GELU 1u     /* y = gelu_new(acc) */
#define VKG_MATMUL_EP_RESIDUAL 2u /* y = acc + r, r read before y is written (r may alias y) */

VKG_PUSH_BEGIN(vkg_matmul_push)
    u32 M;        /* rows of X and Y */
    u32 N;        /* columns of Y (all outputs: the row stride of Y, R; the length of bias) */
    u32 K;        /* columns of X = row length of W */
    u32 n_offset; /* first output (row of the whole W) of this dispatch's W chunk */
    u32 n_count;  /* outputs in this chunk (rows of the bound W) */
    u32 groups_n; /* workgroups along n for this chunk; group g covers n-block g % groups_n, m-block g / groups_n */
    u32 n_groups; /* total workgroups (the folded 1-D grid may be padded past this) */
    u32 has_bias; /* 0: no bias (binding 3 is a dummy) */
    u32 epilogue; /* VKG_MATMUL_EP_* */
    u32 aligned;  /* 1: rows of X and W start on vector boundaries (K % 4 == 0; fp16 vec path: K % 8 == 0) */
VKG_PUSH_END(vkg_matmul_push)
