/*
 * model/graph.h — one GPT-2 forward pass expressed as kernel calls, recorded into a vkg_cmd. The
 * session owns the buffers; this file owns the order of operations.
 *
 * Per layer (pre-LayerNorm block), for T rows at positions step_pos .. step_pos+T-1:
 *   h   = layernorm(x; ln_1)                       layernorm
 *   qkv = h W_attn + b                              matmul
 *   K[:, pos+t], V[:, pos+t] = k, v of qkv          kv_store (in place, in the session's cache)
 *   a   = softmax(q K^T / sqrt(hd)) V  (causal)     attention (decode: split-K + combine; prefill: tiled)
 *   x   = x + a W_proj + b                          matmul, residual epilogue, in place
 *   h   = layernorm(x; ln_2)                       layernorm
 *   f   = gelu(h W_fc + b)                          matmul, GELU epilogue
 *   x   = x + f W_fcproj + b                        matmul, residual epilogue, in place
 * then logits = layernorm(x_last; ln_f) wte^T and argmax on the device.
 */
#ifndef VKG_MODEL_GRAPH_H
#define VKG_MODEL_GRAPH_H

#include "model/model.h"

/* Buffers one forward pass works in, sized for `max_rows` rows at a time. */
typedef struct vkg_activations {
    uint32_t max_rows;
    vkg_buffer *step_host;   /* vkg_step written by the host (mapped) */
    vkg_buffer *step;        /* its device copy, read by the kernels */
    vkg_buffer *x;           /* [max_rows, d] residual stream */
    vkg_buffer *h;           /* [max_rows, d] LayerNorm output */
    vkg_buffer *qkv;         /* [max_rows, 3d] */
    vkg_buffer *att;         /* [max_rows, d] attention output */
    vkg_buffer *f;           /* [max_rows, 4d] MLP hidden */
    vkg_buffer *attn_scratch;/* split-K partial results of decode attention */
    vkg_buffer *logits;      /* [logit_rows, V] */
    uint32_t logit_rows;
    vkg_buffer *argmax;      /* u32 next token (device) */
    vkg_buffer *argmax_scratch; /* partial (max, index) pairs of the two-pass argmax */
    vkg_buffer *out;         /* readback: u32 token, then V floats of logits */
} vkg_activations;

typedef struct vkg_kv_cache {
    vkg_storage storage;
    vkg_buffer **k, **v; /* per layer, [H, P, hd] */
} vkg_kv_cache;

typedef enum vkg_logits_out {
    VKG_LOGITS_ARGMAX,    /* only the next token leaves the device */
    VKG_LOGITS_LAST,      /* plus the last row's logits, copied to the readback buffer */
    VKG_LOGITS_ALL,       /* logits of every row, left in a->logits (T <= logit_rows); no argmax */
} vkg_logits_out;

/* Record the forward pass of T rows (T == 1 and decode: the split-K decode attention). The step
 * buffer must hold step_pos and the T tokens when the recording runs. */
vkg_status vkg_graph_record(const vkg_model *m, vkg_cmd *cmd, const vkg_activations *a, const vkg_kv_cache *kv,
                            uint32_t T, bool decode, vkg_logits_out logits);

#endif /* VKG_MODEL_GRAPH_H */
