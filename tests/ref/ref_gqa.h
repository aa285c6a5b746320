/* ref_gqa.h — CPU reference of grouped-query attention with an optional sliding window: the oracle
 * of the attention kernels' Llama-family shapes (multi-head, grouped-query, multi-query; any scale).
 * Same conventions as ref.h (fp32 storage, double arithmetic, dense row-major, assert()ed
 * preconditions); not part of the library. ref_attention (ref.h) is the GPT-2 special case
 * KVH = H, window 0, scale 1/sqrt(hd). */
#ifndef VKGPT_TESTS_REF_GQA_H
#define VKGPT_TESTS_REF_GQA_H

/* Shape of one call. */
typedef struct ref_gqa_shape {
    int T;         /* query rows */
    int H;         /* query heads */
    int KVH;       /* key/value heads; divides H */
    int hd;        /* head dimension */
    int q_pos0;    /* absolute position of query row 0 */
    int window;    /* 0: full causal; else row at position p sees keys max(0, p - window + 1) .. p */
    double scale;  /* factor on q·k */
} ref_gqa_shape;

/* q[T,H*hd], k[S,KVH*hd], v[S,KVH*hd] -> out[T,H*hd], S = q_pos0 + T keys (positions 0..S-1).
 * Query head h uses columns [h*hd, (h+1)*hd) of q and out and reads key/value head
 * g = h / (H / KVH), columns [g*hd, (g+1)*hd) of k and v. Row t at position p = q_pos0 + t:
 *   p[s] = softmax over visible s of (scale * q[t,h]·k[s,g]),  out[t,h] = sum_s p[s] * v[s,g]
 * Returns 0, or -1 if scratch memory could not be allocated (out is then unspecified). */
int ref_gqa_attention(float *out, const float *q, const float *k, const float *v, const ref_gqa_shape *s);

#endif /* VKGPT_TESTS_REF_GQA_H */
