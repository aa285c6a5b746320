/* ref_decoder.h — the family-neutral decoder forward pass of the CPU reference, in double precision:
 * GPT-2, Llama 2/3, Mistral, Qwen2 and Qwen3 are all one ref_decoder with different switches. It is
 * the oracle the model tests compare the device against.
 *
 * What it is not: a loader (the caller points a ref_decoder at float arrays it already holds, e.g.
 * from tests/family_writer.c), fast, or part of the library. It shares nothing with src/.
 *
 * Conventions:
 *  - Weights are float arrays in Hugging Face nn.Linear layout [out, in] (W[o*in + i]), the layout
 *    save_pretrained writes for Llama-family models. (GPT-2's Conv1D weights are [in, out]: transpose
 *    them first, ref_transpose does.)
 *  - Every activation (residual stream, norms, q/k/v, scores, MLP) is a double; nothing is rounded
 *    to float between operations. Logits come out as doubles.
 *  - Preconditions that are bugs in the caller (NULL state) are assert()ed; a bad config, a missing
 *    weight that the config requires, a bad token or an exhausted context return -1. */
#ifndef VKGPT_TESTS_REF_DECODER_H
#define VKGPT_TESTS_REF_DECODER_H

#include <stddef.h>
#include <stdint.h>

typedef enum ref_norm_kind {
    REF_NORM_LAYERNORM = 0, /* (x - mean) / sqrt(var + eps) * w + b  (biased variance) */
    REF_NORM_RMSNORM        /* x / sqrt(mean(x^2) + eps) * w          (no bias) */
} ref_norm_kind;

typedef enum ref_activation {
    REF_ACT_GELU_TANH = 0, /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) — GPT-2 gelu_new */
    REF_ACT_SILU           /* x / (1 + exp(-x)) — Llama "silu" */
} ref_activation;

typedef enum ref_position {
    REF_POS_LEARNED = 0, /* x = embed[tok] + pos_embed[p] */
    REF_POS_ROPE         /* rotary embedding of each q and k head */
} ref_position;

typedef enum ref_rope_pairing {
    REF_ROPE_HALF = 0,  /* Hugging Face rotate_half: pairs (i, i + hd/2) turn by p * inv_freq[i] */
    REF_ROPE_ADJACENT   /* GGUF / Meta original: pairs (2i, 2i + 1) turn by p * inv_freq[i] */
} ref_rope_pairing;

typedef enum ref_rope_scaling {
    REF_ROPE_SCALING_NONE = 0,
    REF_ROPE_SCALING_LINEAR, /* inv_freq / factor */
    REF_ROPE_SCALING_LLAMA3  /* transformers' _compute_llama3_parameters (see ref_decoder_inv_freq) */
} ref_rope_scaling;

typedef struct ref_decoder_config {
    int n_layer;      /* decoder blocks */
    int d_model;      /* d, the residual width */
    int n_head;       /* H query heads */
    int n_kv_head;    /* KVH key/value heads; H % KVH == 0; query head h uses K/V head h / (H/KVH) */
    int head_dim;     /* hd; need not be d / H (Qwen3); even when RoPE is used */
    int d_ff;         /* MLP width */
    int vocab_size;   /* V */
    int n_positions;  /* P: positions the model (and a ref_decoder_state) holds */
    ref_norm_kind norm;
    double norm_eps;  /* every norm of the model, the q/k norms included */
    ref_activation act;
    int gated_mlp;    /* 1: down(act(gate(x)) * up(x)); 0: down(act(up(x))) (GPT-2 c_fc/c_proj) */
    ref_position pos;
    /* RoPE (pos == REF_POS_ROPE): */
    double rope_theta;
    ref_rope_pairing rope_pairing;
    ref_rope_scaling rope_scaling;
    double rope_factor;                 /* linear and llama3 */
    double rope_low_freq_factor;        /* llama3 */
    double rope_high_freq_factor;       /* llama3 */
    int rope_original_max_positions;    /* llama3: original_max_position_embeddings */
    int qkv_bias;      /* q, k and v projections carry a bias */
    int o_bias;        /* the attention output projection carries a bias */
    int mlp_bias;      /* gate, up and down carry a bias */
    int qk_norm;       /* Qwen3: RMSNorm over head_dim of every q and k head (weights (hd)), before RoPE */
    int tied_lm_head;  /* logits = norm(x) · embed^T; otherwise lm_head */
    int sliding_window; /* 0: none; W > 0: the query at p sees keys p-W+1 .. p */
    double attn_scale; /* score scale; 0 means 1 / sqrt(head_dim) */
} ref_decoder_config;

/* One block. Shapes with d = d_model, q = H*hd, kv = KVH*hd, f = d_ff. A pointer the config does not
 * call for is ignored (may be NULL). */
typedef struct ref_decoder_layer {
    const float *attn_norm_w, *attn_norm_b; /* (d), (d); _b for layernorm only */
    const float *q_w, *q_b;                 /* (q, d), (q) */
    const float *k_w, *k_b;                 /* (kv, d), (kv) */
    const float *v_w, *v_b;                 /* (kv, d), (kv) */
    const float *q_norm_w, *k_norm_w;       /* (hd), (hd); qk_norm only */
    const float *o_w, *o_b;                 /* (d, q), (d) */
    const float *mlp_norm_w, *mlp_norm_b;   /* (d), (d); _b for layernorm only */
    const float *gate_w, *gate_b;           /* (f, d), (f); gated only */
    const float *up_w, *up_b;               /* (f, d), (f); GPT-2's c_fc (transposed) */
    const float *down_w, *down_b;           /* (d, f), (d); GPT-2's mlp c_proj (transposed) */
} ref_decoder_layer;

typedef struct ref_decoder {
    ref_decoder_config config;
    const float *embed;                   /* (V, d) token embedding */
    const float *pos_embed;               /* (P, d) learned positions only */
    const ref_decoder_layer *layers;      /* (n_layer) */
    const float *final_norm_w, *final_norm_b; /* (d), (d); _b for layernorm only */
    const float *lm_head;                 /* (V, d) when not tied */
} ref_decoder;

/* 0 when the config is consistent and every weight it calls for is present, else -1. */
int ref_decoder_check(const ref_decoder *m);

/* The RoPE inverse frequencies inv_freq[hd/2] of the config, in double:
 *   base[i] = 1 / theta^(2i / hd)
 *   linear: base[i] / factor
 *   llama3 (transformers' _compute_llama3_parameters), with old = original_max_positions:
 *     wavelen = 2 pi / base[i]; low = old / low_freq_factor; high = old / high_freq_factor
 *     wavelen < high  -> base[i]
 *     wavelen > low   -> base[i] / factor
 *     otherwise       -> (1 - s) * base[i] / factor + s * base[i],
 *                        s = (old / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
 * (transformers computes them in float32; the device does too. The double values differ from
 * those by float rounding only.) */
void ref_decoder_inv_freq(const ref_decoder_config *c, double *inv_freq);

/* Rotates one head x[hd] in place to position `pos` with the config's pairing and inv_freq:
 * for each pair (a, b): x[a] = xa cos - xb sin, x[b] = xb cos + xa sin, angle = pos * inv_freq[i]. */
void ref_decoder_rope(const ref_decoder_config *c, const double *inv_freq, double *x, int pos);

/* y[n] = x / sqrt(mean(x^2) + eps) * w (w NULL: 1). y may be x. */
void ref_decoder_rmsnorm(double *y, const double *x, const float *w, int n, double eps);

/* The K/V history of one sequence: per layer, K and V of every position so far, in double. */
typedef struct ref_decoder_state {
    const ref_decoder *m;
    int pos;    /* tokens so far */
    double *k;  /* (n_layer, P, KVH*hd), after RoPE (and q/k norm) */
    double *v;  /* (n_layer, P, KVH*hd) */
} ref_decoder_state;

/* Starts an empty sequence (pos 0). 0, or -1 on a bad model or allocation failure. */
int ref_decoder_state_init(ref_decoder_state *s, const ref_decoder *m);
void ref_decoder_state_free(ref_decoder_state *s);

/* Appends tokens[T] at positions pos .. pos+T-1 and writes their logits[T, V] (logits may be NULL
 * when only the history is wanted). -1 on a bad token id or when pos + T > n_positions (the state is
 * then unchanged), or on allocation failure. Appending a sequence in any number of pieces gives the
 * same logits as appending it at once: this is the one forward of the reference, not a cache to be
 * tested. */
int ref_decoder_append(ref_decoder_state *s, const int32_t *tokens, int T, double *logits);

/* The whole sequence at positions 0 .. T-1: logits[T, V]. 0 or -1 (as ref_decoder_append). */
int ref_decoder_forward(const ref_decoder *m, const int32_t *tokens, int T, double *logits);

/* Greedy continuation: appends prompt[n_prompt], then n_gen times the argmax (lowest id on a tie) of
 * the last logits, writing those n_gen tokens to out (the last one is not appended). 0 or -1. */
int ref_decoder_greedy(const ref_decoder *m, const int32_t *prompt, int n_prompt, int n_gen,
                       int32_t *out);

/* Index of the largest of x[n]; ties go to the lowest index. */
int ref_decoder_argmax(const double *x, int n);

#endif /* VKGPT_TESTS_REF_DECODER_H */
