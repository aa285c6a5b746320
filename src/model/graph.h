/*
 * model/graph.h — one forward pass of the family-neutral decoder expressed as kernel calls, recorded
 * into a vkg_cmd. The session owns the buffers; this file owns the order of operations, and reads
 * the model's description (vkg_model_config), never its family.
 *
 * For T rows at positions step_pos .. step_pos+T-1:
 *   x   = tok_embd[tokens] (+ pos_embd[positions] when learned)       embedding
 * per layer (pre-norm block):
 *   h   = norm(x; attn_norm)                     layernorm or rmsnorm
 *   qkv = h W_qkv^T (+ b)                        one matmul over the stacked q/k/v weight
 *   q, k = rmsnorm per head (q_norm, k_norm)     when qk_norm (Qwen3)
 *   q, k = rope(q, k, positions)                 when RoPE (table of cos/sin made by the session)
 *   K[:, pos+t], V[:, pos+t] = k, v              kv_store (in place, in the session's cache)
 *   a   = softmax(scale q K^T) V                 grouped-query, causal (windowed when set)
 *   x   = x + a W_o^T (+ b)                      matmul, residual epilogue, in place
 *   h   = norm(x; ffn_norm)
 *   gated:  x += (silu(h W_gate^T) * h W_up^T) W_down^T    one matmul over gate|up, swiglu, matmul
 *   plain:  x += gelu(h W_up^T + b) W_down^T + b
 * then logits = norm(x_last; out_norm) W_head^T (the token embedding when tied) and argmax on the
 * device.
 */
#ifndef VKG_MODEL_GRAPH_H
#define VKG_MODEL_GRAPH_H

#include "kernels/attention.h"
#include "model/model.h"

/* Buffers one forward pass works in, sized for `max_rows` rows at a time. */
typedef struct vkg_activations {
    uint32_t max_rows;
    vkg_buffer *step_host;   /* vkg_step written by the host (mapped) */
    vkg_buffer *step;        /* its device copy, read by the kernels */
    vkg_buffer *x;           /* [max_rows, d] residual stream */
    vkg_buffer *h;           /* [max_rows, d] norm output */
    vkg_buffer *qkv;         /* [max_rows, (H + 2 KVH) hd] */
    vkg_buffer *att;         /* [max_rows, max(H hd, d)] attention output (and the last row of x) */
    vkg_buffer *f;           /* [max_rows, 2 ff] gate|up, or [max_rows, ff] the plain MLP's hidden */
    vkg_buffer *g;           /* [max_rows, ff] silu(gate) * up (gated MLP only) */
    vkg_buffer *rope;        /* [n_ctx, hd/2, 2] cos, sin (RoPE only) */
    vkg_buffer *attn_scratch;/* split-K partial results of decode attention */
    vkg_buffer *xq;          /* [max_rows, widest matmul input] quantized to 8 bits (vkg_quantize_act) for
                                the int8 dot-product matmuls; NULL unless the model uses them (m->int_dot) */
    vkg_buffer *logits;      /* [logit_rows, V] */
    uint32_t logit_rows;
    vkg_buffer *argmax;      /* u32 next token (device) */
    vkg_buffer *argmax_scratch; /* partial (max, index) pairs of the two-pass argmax */
    vkg_buffer *out;         /* readback: u32 token, then V floats of logits */
} vkg_activations;

typedef struct vkg_kv_cache {
    vkg_storage storage;
    uint32_t n_ctx;       /* positions each layer's cache holds */
    vkg_buffer **k, **v;  /* per layer, [KVH, n_ctx, hd] */
} vkg_kv_cache;

/* The widest input of the graph's matmuls (d_model, H * head_dim or d_ff): what xq must hold per row. */
uint32_t vkg_graph_widest_input(const vkg_model_config *c);

/* The attention shape of layer l for T rows (scale, window and heads from the config). */
vkg_attn_shape vkg_graph_attn_shape(const vkg_model *m, const vkg_kv_cache *kv, uint32_t l, uint32_t T);

/* Fill `table` ([n_ctx, hd/2, 2] floats) with the cos and sin of position p times inverse frequency
 * i, computed as Hugging Face does (fp32 inverse frequencies from theta and the scaling rule, fp32
 * angle, cos/sin in double rounded once). */
void vkg_rope_table(const vkg_model_config *c, uint32_t n_ctx, float *table);

typedef enum vkg_logits_out {
    VKG_LOGITS_ARGMAX,    /* only the next token leaves the device */
    VKG_LOGITS_LAST,      /* plus the last row's logits, copied to the readback buffer */
    VKG_LOGITS_ALL,       /* logits of every row, left in a->logits (T <= logit_rows); no argmax */
} vkg_logits_out;

/* Record the forward pass of T rows (T == 1 and decode: the split-K decode attention). The step
 * buffer must hold step_pos and the T tokens when the recording runs. */
vkg_status vkg_graph_record(const vkg_model *m, vkg_cmd *cmd, const vkg_activations *a, const vkg_kv_cache *kv,
                            uint32_t T, bool decode, vkg_logits_out logits);

/* A hook called after each recorded op with its name ("matmul qkv", "rope", ...): the step
 * profiler (tests/profile_step.c) records a timestamp there. */
typedef struct vkg_graph_marker {
    vkg_status (*fn)(void *user, vkg_cmd *cmd, const char *op);
    void *user;
} vkg_graph_marker;

/* vkg_graph_record with `mk` called after every op (NULL: none). */
vkg_status vkg_graph_record_marked(const vkg_model *m, vkg_cmd *cmd, const vkg_activations *a,
                                   const vkg_kv_cache *kv, uint32_t T, bool decode, vkg_logits_out logits,
                                   const vkg_graph_marker *mk);

/* One sequence of a batched decode step: its own buffers (step, RoPE table, per-token scratch, the
 * readback of its next token and logits) and KV cache. */
typedef struct vkg_graph_row {
    const vkg_activations *a;
    const vkg_kv_cache *kv;
    bool want_logits;     /* copy its logits row to a->out as well */
} vkg_graph_row;

/* Record one decode step of n sequences (one token each, at each one's own position): embedding,
 * RoPE, the cache write and attention per sequence on its own buffers; norms, every matmul and the
 * LM head once for all n rows in `b` (b->max_rows >= n), the matmuls with each row computed exactly as
 * in a lone decode step. Each sequence's step buffer must hold its position and token. */
vkg_status vkg_graph_record_batch(const vkg_model *m, vkg_cmd *cmd, const vkg_activations *b,
                                  const vkg_graph_row *seq, uint32_t n);

/* For tools: record session s's forward pass of T rows at position `pos` (token ids spread over the
 * vocabulary, written to the step buffer now) into `cmd`, which the caller begins and ends. Decode
 * shapes when T == 1. src/session.c. */
vkg_status vkg_session_record_step(vkg_session *s, vkg_cmd *cmd, uint32_t pos, uint32_t T, const vkg_graph_marker *mk);

#endif /* VKG_MODEL_GRAPH_H */
