/*
 * shaders/rowwise_push.h — push constants of the row-wise and element-wise kernels (layernorm,
 * softmax, gelu, add, embedding, argmax). Shared by C (src/kernels/rowwise.c) and GLSL.
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
VKG_PUSH_END(vkg_embedding_push)
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
