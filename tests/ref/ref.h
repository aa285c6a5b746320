/* ref.h — the plain CPU reference of vkgpt: every kernel and the whole GPT-2 forward pass, written
 * as straightforward loops. It is the oracle that the GPU kernels and the model are tested against.
 *
 * What it is not: fast, or part of the library. It is linked only into tests (static lib
 * vkgpt_ref), never into libvkgpt, and it reports nothing through vkg_status.
 *
 * Conventions (all functions):
 *  - Storage is float (fp32) in and out; every dot product and every reduction (sums, means,
 *    variances, softmax denominators) accumulates in double, and element-wise math (gelu, exp,
 *    normalisation) is done in double before one final rounding to float.
 *  - Matrices are dense and row-major, with the shape written next to each argument, e.g. X[M,K]
 *    means X[m*K + k]. No strides, no padding.
 *  - Sizes are positive ints; preconditions are checked with assert() because a wrong call is a bug
 *    in the test, not a runtime condition.
 *  - Unless a function says otherwise, outputs must not overlap inputs. */
#ifndef VKGPT_TESTS_REF_H
#define VKGPT_TESTS_REF_H

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------------------------------------
 * Seeded random numbers (splitmix64). Used to build test inputs and random models; the GPU tests
 * regenerate the same numbers from the same seed, so the sequence is part of the contract:
 *   state += 0x9E3779B97F4A7C15; z = state;
 *   z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
 *   return z ^ (z >> 31);
 * A uniform float in [0, 1) is (u64 >> 40) * 2^-24 (24 random bits, exactly representable). */
typedef struct ref_rng {
    uint64_t state;
} ref_rng;

/* Starts a generator; the first output is splitmix64 of (seed + 0x9E3779B97F4A7C15). */
ref_rng ref_rng_seed(uint64_t seed);
/* Next 64 random bits. */
uint64_t ref_rng_u64(ref_rng *rng);
/* Uniform float: lo + (hi - lo) * u with u as above (one u64 draw), computed in double and rounded
 * to float once; in [lo, hi) except that the rounding may give exactly hi. */
float ref_rng_uniform(ref_rng *rng, float lo, float hi);
/* x[n] = n successive ref_rng_uniform(rng, lo, hi), in index order. */
void ref_rng_fill(ref_rng *rng, float *x, size_t n, float lo, float hi);

/* ---------------------------------------------------------------------------------------------
 * Matrix multiply with a fused epilogue. */
typedef enum ref_epilogue {
    REF_EPILOGUE_NONE = 0, /* Y = X·W + b */
    REF_EPILOGUE_GELU,     /* Y = gelu(X·W + b), gelu as ref_gelu, applied after the bias */
    REF_EPILOGUE_RESIDUAL  /* Y = X·W + b + residual */
} ref_epilogue;

/* Y[M,N] = epilogue(X[M,K] · W[K,N] + b[N]).
 * W is in [K,N] layout ("in, out"), the layout of Hugging Face GPT-2 Conv1D weights as stored in
 * the safetensors file. b may be NULL (no bias). residual[M,N] is read only for
 * REF_EPILOGUE_RESIDUAL (must be non-NULL then) and may be the same array as Y (in-place
 * "x += ..."). Y must not overlap X, W or b. The bias, the residual and gelu are applied to the
 * double-precision sum; Y is rounded to float once. */
void ref_matmul(float *Y, const float *X, const float *W, const float *b, int M, int K, int N,
                ref_epilogue ep, const float *residual);

/* Same as ref_matmul but W is given as W[N,K] ("out, in", i.e. the transpose of the Conv1D
 * layout): Y[m,n] = sum_k X[m,k] * W[n,k]. This is how the GPU kernels store weights, and how the
 * tied LM head uses wte[V,d]. The k-summation order is the same as ref_matmul's, so for W2 =
 * transpose(W) both functions give bit-identical results. */
void ref_matmul_nk(float *Y, const float *X, const float *W, const float *b, int M, int K, int N,
                   ref_epilogue ep, const float *residual);

/* dst[cols,rows] = transpose(src[rows,cols]). Converts a Conv1D [K,N] weight into [N,K]. */
void ref_transpose(float *dst, const float *src, int rows, int cols);

/* ---------------------------------------------------------------------------------------------
 * Element-wise and row-wise operations. */

/* Layer normalisation of each row of x[rows,width]:
 *   mean = sum(x)/width; var = sum((x-mean)^2)/width   (two passes, double, biased variance)
 *   y = (x - mean) / sqrt(var + eps) * gamma[width] + beta[width]
 * y may be the same array as x. */
void ref_layernorm(float *y, const float *x, const float *gamma, const float *beta, int rows,
                   int width, float eps);

/* Row-wise softmax of x[rows,width] scaled by `scale`: y[r,c] = exp(s[r,c] - max_r) / sum_r,
 * s = scale * x, max and sum taken over the visible columns in double.
 * causal: row r sees only columns c <= r + row_offset; hidden columns get probability 0 (for
 * attention scores of query rows starting at absolute position row_offset). A row with no visible
 * column, or whose visible scores are all -inf, is all zeros. Without causal, row_offset is unused.
 * y may be the same array as x. */
void ref_softmax(float *y, const float *x, int rows, int width, float scale, int causal,
                 int row_offset);

/* GPT-2 "gelu_new" (tanh approximation), computed in double:
 *   gelu(x) = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
 * y[n], x[n]; y may be the same array as x. */
void ref_gelu(float *y, const float *x, size_t n);
/* The same function on one double (what the GELU epilogue applies before rounding). */
double ref_gelu_f64(double x);

/* y[n] = a[n] + b[n]. y may be the same array as a or b. */
void ref_add(float *y, const float *a, const float *b, size_t n);

/* Token + position embedding: y[t,:] = wte[tokens[t],:] + wpe[pos0 + t,:] for t in [0,T).
 * y[T,d], wte[V,d], wpe[P,d], tokens[T]; the caller guarantees 0 <= tokens[t] < V and
 * pos0 + T <= P. */
void ref_embedding(float *y, const float *wte, const float *wpe, const int32_t *tokens, int T,
                   int d, int pos0);

/* Causal multi-head attention, scale 1/sqrt(hd).
 *   q[T,H*hd], k[S,H*hd], v[S,H*hd] -> out[T,H*hd]; head h uses columns [h*hd, (h+1)*hd).
 * Query row t sits at absolute position q_pos0 + t and attends to keys 0 .. q_pos0 + t:
 *   p[s] = softmax_s(q[t]·k[s] / sqrt(hd)),  out[t] = sum_s p[s] * v[s]   (all in double)
 * Prefill: q_pos0 = 0, S = T. Decode of one token with a cache of S keys: T = 1, q_pos0 = S - 1.
 * Requires q_pos0 >= 0 and q_pos0 + T <= S. Returns 0, or -1 if scratch memory could not be
 * allocated (out is then unspecified). */
int ref_attention(float *out, const float *q, const float *k, const float *v, int T, int S, int H,
                  int hd, int q_pos0);

/* Index of the largest of x[n] (n >= 1); ties go to the lowest index. NaNs are skipped; if every
 * element is NaN the result is 0. */
int ref_argmax(const float *x, int n);

/* ---------------------------------------------------------------------------------------------
 * Half-precision conversions: the oracle for the library's own converters. Written with plain
 * arithmetic (frexp/ldexp/rint in double) rather than bit manipulation, so that they do not share
 * a bug with a bit-twiddling implementation. They rely on the default rounding mode
 * (round-to-nearest-even), which rint() follows.
 *
 * f32 -> f16 (IEEE 754 binary16): round to nearest, ties to even; results beyond the largest
 * finite half (65504) round to +-inf (from 65520 up, the halfway point to 2^16); subnormal halves
 * (multiples of 2^-24) are produced; the sign of zero is kept. NaN gives the quiet NaN
 * sign|0x7E00 (payload dropped): compare NaNs by class (ref_f16_is_nan), not by bits.
 * f16 -> f32 is exact for every pattern; NaN patterns give a NaN of the same sign. */
uint16_t ref_f32_to_f16(float f);
float ref_f16_to_f32(uint16_t h);
int ref_f16_is_nan(uint16_t h);

/* bfloat16 (the top 16 bits of a binary32): f32 -> bf16 rounds to nearest, ties to even, keeps
 * subnormals (multiples of 2^-133) and rounds values from (2 - 2^-8) * 2^127 up to +-inf. NaN gives
 * sign|0x7FC0. bf16 -> f32 is exact (the 16 bits shifted up). */
uint16_t ref_f32_to_bf16(float f);
float ref_bf16_to_f32(uint16_t h);
int ref_bf16_is_nan(uint16_t h);

/* ---------------------------------------------------------------------------------------------
 * GPT-2 (Hugging Face layout, pre-LN, learned positions, tied LM head). */
typedef struct ref_gpt2_config {
    int n_layer;     /* transformer blocks */
    int n_head;      /* attention heads; n_embd % n_head == 0 */
    int n_embd;      /* d, the model width */
    int vocab_size;  /* V */
    int n_positions; /* P, the context length */
    float eps;       /* layer-norm epsilon (GPT-2: 1e-5) */
} ref_gpt2_config;

/* One block's weights. d = n_embd. Weight matrices are in Conv1D [in, out] layout. */
typedef struct ref_gpt2_layer {
    const float *ln1_g, *ln1_b;       /* ln_1: (d), (d) */
    const float *attn_w, *attn_b;     /* attn.c_attn: (d, 3d), (3d); columns are q | k | v */
    const float *proj_w, *proj_b;     /* attn.c_proj: (d, d), (d) */
    const float *ln2_g, *ln2_b;       /* ln_2: (d), (d) */
    const float *fc_w, *fc_b;         /* mlp.c_fc: (d, 4d), (4d) */
    const float *fcproj_w, *fcproj_b; /* mlp.c_proj: (4d, d), (d) */
} ref_gpt2_layer;

typedef struct ref_gpt2 {
    ref_gpt2_config config;
    const float *wte;              /* token embedding (V, d); also the LM head (tied) */
    const float *wpe;              /* position embedding (P, d) */
    const ref_gpt2_layer *layers;  /* (n_layer) */
    const float *lnf_g, *lnf_b;    /* ln_f: (d), (d) */
    /* Set only by ref_gpt2_random (NULL when the caller points the fields at its own arrays): */
    float *storage;                /* every weight above, in the order ref_gpt2_random documents */
    size_t storage_len;            /* floats in storage */
    ref_gpt2_layer *owned_layers;  /* == layers */
} ref_gpt2;

/* Number of floats in all weights of a model with this config (0 if it does not fit size_t). */
size_t ref_gpt2_param_count(const ref_gpt2_config *config);

/* Builds a random model owning its weights (free with ref_gpt2_free). One splitmix64 stream seeded
 * with `seed` fills, in this order: wte, wpe, then for each layer ln1_g, ln1_b, attn_w, attn_b,
 * proj_w, proj_b, ln2_g, ln2_b, fc_w, fc_b, fcproj_w, fcproj_b, then lnf_g, lnf_b. They lie in
 * `storage` in that same order. Every value is uniform in [-scale, scale), except layer-norm
 * gammas, which are 1 + uniform in [-scale, scale). Returns 0, or -1 on a bad config or allocation failure
 * (*m is then zeroed). */
int ref_gpt2_random(ref_gpt2 *m, const ref_gpt2_config *config, uint64_t seed, float scale);
/* Frees what ref_gpt2_random allocated and zeroes *m. Safe on a zeroed struct. */
void ref_gpt2_free(ref_gpt2 *m);

/* Full forward pass over tokens[T] (positions 0 .. T-1), writing logits[T, V]:
 *   x = wte[tok] + wpe[pos]
 *   per layer: h = ln1(x); qkv = h·attn_w + attn_b; a = attention(q, k, v) (causal, prefill);
 *              x += a·proj_w + proj_b; h = ln2(x); x += gelu(h·fc_w + fc_b)·fcproj_w + fcproj_b
 *   logits = ln_f(x) · wte^T
 * Activations are stored as float between operations, like the GPU path. Returns 0, or -1 if T is
 * not in [1, n_positions], a token is not in [0, V), or scratch memory could not be allocated. */
int ref_gpt2_forward(const ref_gpt2 *m, const int32_t *tokens, int T, float *logits);

#endif /* VKGPT_TESTS_REF_H */
