/*
 * shaders/rowwise_push.h — push constants of the row-wise and element-wise kernels (layernorm,
 * softmax, gelu, add, embedding, argmax, rmsnorm, rope, swiglu). Shared by C
 * (src/kernels/rowwise.c) and GLSL.
 *
 * A GLSL shader may declare only one push-constant block, so each shader defines its selector
 * (VKG_LAYERNORM_SHADER, ...) before including this file; C sees every block.
 *
 * The *_off members are element offsets inside the bound range: the host binds each tensor from
 * the nearest offset below it that meets minStorageBufferOffsetAlignment, so callers may pass views
 * at any element-aligned offset (one row of an activation, say).
 */
#ifndef VKG_ROWWISE_PUSH_H
#define VKG_ROWWISE_PUSH_H

#include "push_common.h"

#if !defined(VULKAN) || defined(VKG_LAYERNORM_SHADER)
VKG_PUSH_BEGIN(vkg_layernorm_push)
    u32 rows;    /* rows of x and y (one workgroup each) */
    u32 width;   /* elements per row */
    u32 x_off;   /* element offsets of x, gamma, beta, y in their bindings */
    u32 g_off;
    u32 b_off;
    u32 y_off;
    f32 eps;     /* added to the variance */
VKG_PUSH_END(vkg_layernorm_push)
#endif

#if !defined(VULKAN) || defined(VKG_SOFTMAX_SHADER)
VKG_PUSH_BEGIN(vkg_softmax_push)
    u32 rows;
    u32 width;
    u32 x_off;
    u32 y_off;
    f32 scale;      /* scores are scale * x */
    u32 causal;     /* nonzero: row r sees columns c <= r + row_offset only */
    i32 row_offset; /* absolute position of row 0 (causal only) */
VKG_PUSH_END(vkg_softmax_push)
#endif

#if !defined(VULKAN) || defined(VKG_ELTWISE_SHADER)
/* gelu (y = gelu(a)) and add (y = a + b). */
VKG_PUSH_BEGIN(vkg_eltwise_push)
    u32 n;      /* elements */
    u32 y_off;
    u32 a_off;
    u32 b_off;  /* add only */
VKG_PUSH_END(vkg_eltwise_push)
#endif

#if !defined(VULKAN) || defined(VKG_EMBEDDING_SHADER)
VKG_PUSH_BEGIN(vkg_embedding_push)
    u32 T;          /* rows (tokens) of this step */
    u32 d;          /* model width: columns of wte, wpe, y */
    u32 vocab;      /* rows of wte */
    u32 n_pos;      /* rows of wpe */
    u32 first_row;  /* first wte row covered by this dispatch's chunk bindings */
    u32 chunk_rows; /* wte rows per chunk binding */
    u32 n_chunks;   /* chunk bindings in use (1..VKG_EMBEDDING_MAX_CHUNKS) */
    u32 wte_off;    /* element offset of the chunk's first row in each chunk binding */
    u32 wpe_off;
    u32 y_off;
    u32 owns_invalid; /* nonzero: this dispatch writes the zero rows of bad tokens/positions */
    u32 wte_kind;     /* VKG_TABLE_* storage of wte (embedding_16bit variant only) */
    u32 wpe_kind;     /* VKG_TABLE_* storage of wpe, or VKG_TABLE_NONE: no position table */
VKG_PUSH_END(vkg_embedding_push)
#endif

/* Table storage kinds of vkg_embedding_push (wte_kind, wpe_kind). */
#define VKG_TABLE_F32 0u
#define VKG_TABLE_F16 1u
#define VKG_TABLE_BF16 2u  /* 16-bit words, the top half of an fp32 */
#define VKG_TABLE_NONE 3u  /* wpe only: no learned positions (binding 4 is a dummy) */

#if !defined(VULKAN) || defined(VKG_RMSNORM_SHADER)
/* RMSNorm of `rows` = T * heads vectors of `width` floats: vector (t, h) starts at element
 * x_off + t * x_stride + h * width of x (and y_off + t * y_stride + h * width of y). Plain RMSNorm
 * of [T, d] is heads = 1, width = d, strides d; Qwen3's q/k norm is heads = n_heads, width = hd,
 * strides = the qkv row. */
VKG_PUSH_BEGIN(vkg_rmsnorm_push)
    u32 rows;     /* T * heads vectors */
    u32 heads;    /* vectors per row of x */
    u32 width;    /* elements per vector (and of w) */
    u32 x_off;    /* element offsets of x, w, y in their bindings */
    u32 w_off;
    u32 y_off;
    u32 x_stride; /* elements between rows t and t + 1 of x */
    u32 y_stride; /* ... of y */
    f32 eps;      /* added to the mean square */
VKG_PUSH_END(vkg_rmsnorm_push)
#endif

#if !defined(VULKAN) || defined(VKG_ROPE_SHADER)
VKG_PUSH_BEGIN(vkg_rope_push)
    u32 T;          /* rows of x; row t is at position step_pos + t */
    u32 n_heads;    /* heads rotated per row, contiguous from the row's start */
    u32 half_dim;   /* hd / 2: rotation pairs per head */
    u32 row_stride; /* elements between rows of x */
    u32 x_off;      /* element offset of row 0 in the x binding */
    u32 table_off;  /* offset of the table [n_pos, half_dim] in (cos, sin) pairs (8 bytes) */
    u32 n_pos;      /* positions in the table; rows at or past it are left as they are */
    u32 pairing;    /* VKG_ROPE_PAIR_* */
VKG_PUSH_END(vkg_rope_push)
#endif

/* Rotation pairs of rope (vkg_rope_push.pairing): pair i of a head of hd elements rotates */
#define VKG_ROPE_PAIR_HALF 0u     /* (i, i + hd/2): Hugging Face's rotate_half */
#define VKG_ROPE_PAIR_ADJACENT 1u /* (2i, 2i + 1): GGUF Llama, the original RoFormer layout */
#define VKG_ROPE_MAX_HEAD_DIM 256u

#if !defined(VULKAN) || defined(VKG_SWIGLU_SHADER)
VKG_PUSH_BEGIN(vkg_swiglu_push)
    u32 n;      /* T * ff outputs */
    u32 ff;     /* outputs per row; gu rows hold 2 * ff (gate then up) */
    u32 y_off;  /* element offsets of y and gu in their bindings */
    u32 gu_off;
VKG_PUSH_END(vkg_swiglu_push)
#endif

#if !defined(VULKAN) || defined(VKG_ARGMAX_SHADER)
VKG_PUSH_BEGIN(vkg_argmax_push)
    u32 n;         /* candidates: floats of x (first pass) or (value, index) pairs (final pass) */
    u32 x_off;     /* element offset of x (first pass only) */
    u32 per_group; /* candidates per workgroup */
    u32 groups;    /* workgroups of this pass */
    u32 out_index; /* element of the output that receives the index (final pass) */
VKG_PUSH_END(vkg_argmax_push)
#endif

/* Wte chunk bindings one embedding dispatch can take (bindings 0..3). */
#define VKG_EMBEDDING_MAX_CHUNKS 4u

#endif /* VKG_ROWWISE_PUSH_H */
