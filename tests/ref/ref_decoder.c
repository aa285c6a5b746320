/* ref_decoder.c — the family-neutral decoder forward of the CPU reference (see ref_decoder.h):
 * norms, RoPE with its scaling rules, grouped-query attention with an optional sliding window,
 * gated or plain MLP, tied or separate LM head — plain loops, all activations in double. Not the
 * GPT-2-only reference (ref_gpt2.c), whose float-between-operations forward it reproduces on a
 * GPT-2 config to float rounding. */
#include "ref_decoder.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double PI = 3.14159265358979323846;

static int config_ok(const ref_decoder_config *c) {
    if (c->n_layer < 0 || c->d_model <= 0 || c->n_head <= 0 || c->n_kv_head <= 0 ||
        c->n_head % c->n_kv_head != 0 || c->head_dim <= 0 || c->d_ff <= 0 || c->vocab_size <= 0 ||
        c->n_positions <= 0 || !(c->norm_eps > 0) || c->sliding_window < 0 || c->attn_scale < 0)
        return 0;
    if (c->pos == REF_POS_ROPE) {
        if (c->head_dim % 2 != 0 || !(c->rope_theta > 1))
            return 0;
        if (c->rope_scaling != REF_ROPE_SCALING_NONE && !(c->rope_factor > 0))
            return 0;
        if (c->rope_scaling == REF_ROPE_SCALING_LLAMA3 &&
            (!(c->rope_high_freq_factor > c->rope_low_freq_factor) || !(c->rope_low_freq_factor > 0) ||
             c->rope_original_max_positions <= 0))
            return 0;
    }
    return 1;
}

static int norm_ok(const ref_decoder_config *c, const float *w, const float *b) {
    return w && (c->norm != REF_NORM_LAYERNORM || b);
}

int ref_decoder_check(const ref_decoder *m) {
    const ref_decoder_config *c = &m->config;
    if (!config_ok(c) || !m->embed || (c->n_layer > 0 && !m->layers) ||
        !norm_ok(c, m->final_norm_w, m->final_norm_b) || (c->pos == REF_POS_LEARNED && !m->pos_embed) ||
        (!c->tied_lm_head && !m->lm_head))
        return -1;
    for (int l = 0; l < c->n_layer; l++) {
        const ref_decoder_layer *L = &m->layers[l];
        if (!norm_ok(c, L->attn_norm_w, L->attn_norm_b) || !norm_ok(c, L->mlp_norm_w, L->mlp_norm_b) ||
            !L->q_w || !L->k_w || !L->v_w || !L->o_w || !L->up_w || !L->down_w)
            return -1;
        if ((c->qkv_bias && (!L->q_b || !L->k_b || !L->v_b)) || (c->o_bias && !L->o_b) ||
            (c->qk_norm && (!L->q_norm_w || !L->k_norm_w)) || (c->gated_mlp && !L->gate_w) ||
            (c->mlp_bias && (!L->up_b || !L->down_b || (c->gated_mlp && !L->gate_b))))
            return -1;
    }
    return 0;
}

/* ---- operators ------------------------------------------------------------------------------ */

void ref_decoder_inv_freq(const ref_decoder_config *c, double *inv_freq) {
    int half = c->head_dim / 2;
    for (int i = 0; i < half; i++) {
        double base = 1.0 / pow(c->rope_theta, (double)(2 * i) / c->head_dim);
        double f = base;
        if (c->rope_scaling == REF_ROPE_SCALING_LINEAR) {
            f = base / c->rope_factor;
        } else if (c->rope_scaling == REF_ROPE_SCALING_LLAMA3) {
            double old = c->rope_original_max_positions;
            double wavelen = 2 * PI / base;
            double low_wavelen = old / c->rope_low_freq_factor;
            double high_wavelen = old / c->rope_high_freq_factor;
            if (wavelen < high_wavelen) {
                f = base;
            } else if (wavelen > low_wavelen) {
                f = base / c->rope_factor;
            } else {
                double s = (old / wavelen - c->rope_low_freq_factor) /
                           (c->rope_high_freq_factor - c->rope_low_freq_factor);
                f = (1 - s) * base / c->rope_factor + s * base;
            }
        }
        inv_freq[i] = f;
    }
}

void ref_decoder_rope(const ref_decoder_config *c, const double *inv_freq, double *x, int pos) {
    int half = c->head_dim / 2;
    for (int i = 0; i < half; i++) {
        int a = c->rope_pairing == REF_ROPE_HALF ? i : 2 * i;
        int b = c->rope_pairing == REF_ROPE_HALF ? i + half : 2 * i + 1;
        double angle = (double)pos * inv_freq[i];
        double cs = cos(angle), sn = sin(angle);
        double xa = x[a], xb = x[b];
        x[a] = xa * cs - xb * sn;
        x[b] = xb * cs + xa * sn;
    }
}

void ref_decoder_rmsnorm(double *y, const double *x, const float *w, int n, double eps) {
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += x[i] * x[i];
    double r = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++)
        y[i] = x[i] * r * (w ? (double)w[i] : 1.0);
}

static void norm_row(const ref_decoder_config *c, double *y, const double *x, const float *w,
                     const float *b, int n) {
    if (c->norm == REF_NORM_RMSNORM) {
        ref_decoder_rmsnorm(y, x, w, n, c->norm_eps);
        return;
    }
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++)
        mean += x[i];
    mean /= n;
    for (int i = 0; i < n; i++)
        var += (x[i] - mean) * (x[i] - mean);
    var /= n;
    double r = 1.0 / sqrt(var + c->norm_eps);
    for (int i = 0; i < n; i++)
        y[i] = (x[i] - mean) * r * w[i] + b[i];
}

/* y[out] = W[out, in] · x[in] + b (b may be NULL); y += ... when `accumulate`. */
static void linear(double *y, const double *x, const float *W, const float *b, int in, int out,
                   int accumulate) {
    for (int o = 0; o < out; o++) {
        const float *row = W + (size_t)o * in;
        double acc = b ? (double)b[o] : 0.0;
        for (int i = 0; i < in; i++)
            acc += (double)row[i] * x[i];
        y[o] = accumulate ? y[o] + acc : acc;
    }
}

static double activate(const ref_decoder_config *c, double x) {
    if (c->act == REF_ACT_SILU)
        return x / (1.0 + exp(-x));
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / PI) * (x + 0.044715 * x * x * x)));
}

int ref_decoder_argmax(const double *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* ---- the forward ------------------------------------------------------------------------------ */

int ref_decoder_state_init(ref_decoder_state *s, const ref_decoder *m) {
    memset(s, 0, sizeof *s);
    if (ref_decoder_check(m) != 0)
        return -1;
    const ref_decoder_config *c = &m->config;
    size_t n = (size_t)(c->n_layer > 0 ? c->n_layer : 1) * c->n_positions * c->n_kv_head * c->head_dim;
    s->k = calloc(n, sizeof *s->k);
    s->v = calloc(n, sizeof *s->v);
    if (!s->k || !s->v) {
        ref_decoder_state_free(s);
        return -1;
    }
    s->m = m;
    return 0;
}

void ref_decoder_state_free(ref_decoder_state *s) {
    free(s->k);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* Scratch of one position. */
typedef struct scratch {
    double *x, *h, *q, *kv, *att, *scores, *gate, *up, *inv_freq;
} scratch;

static void scratch_free(scratch *w) {
    free(w->x), free(w->h), free(w->q), free(w->kv), free(w->att), free(w->scores), free(w->gate),
        free(w->up), free(w->inv_freq);
}

static int scratch_alloc(scratch *w, const ref_decoder_config *c) {
    int qd = c->n_head * c->head_dim, kvd = c->n_kv_head * c->head_dim;
    int wide = c->d_model > qd ? c->d_model : qd;
    w->x = malloc((size_t)c->d_model * sizeof(double));
    w->h = malloc((size_t)wide * sizeof(double));
    w->q = malloc((size_t)qd * sizeof(double));
    w->kv = malloc((size_t)kvd * sizeof(double));
    w->att = malloc((size_t)qd * sizeof(double));
    w->scores = malloc((size_t)c->n_positions * sizeof(double));
    w->gate = malloc((size_t)c->d_ff * sizeof(double));
    w->up = malloc((size_t)c->d_ff * sizeof(double));
    w->inv_freq = malloc((size_t)(c->head_dim / 2 + 1) * sizeof(double));
    if (!w->x || !w->h || !w->q || !w->kv || !w->att || !w->scores || !w->gate || !w->up || !w->inv_freq) {
        scratch_free(w);
        return -1;
    }
    return 0;
}

/* Attention of the H query heads in w->q at position p over the layer's keys [lo, p]: w->att. */
static void attend(const ref_decoder_config *c, scratch *w, const double *K, const double *V, int p) {
    int hd = c->head_dim, kvd = c->n_kv_head * hd, group = c->n_head / c->n_kv_head;
    int lo = c->sliding_window > 0 && p - c->sliding_window + 1 > 0 ? p - c->sliding_window + 1 : 0;
    double scale = c->attn_scale > 0 ? c->attn_scale : 1.0 / sqrt((double)hd);
    for (int h = 0; h < c->n_head; h++) {
        const double *q = w->q + (size_t)h * hd;
        size_t kv_off = (size_t)(h / group) * hd;
        double mx = -INFINITY;
        for (int s = lo; s <= p; s++) {
            const double *k = K + (size_t)s * kvd + kv_off;
            double dot = 0;
            for (int i = 0; i < hd; i++)
                dot += q[i] * k[i];
            w->scores[s] = dot * scale;
            mx = fmax(mx, w->scores[s]);
        }
        double sum = 0;
        for (int s = lo; s <= p; s++) {
            w->scores[s] = exp(w->scores[s] - mx);
            sum += w->scores[s];
        }
        double *out = w->att + (size_t)h * hd;
        for (int i = 0; i < hd; i++)
            out[i] = 0;
        for (int s = lo; s <= p; s++) {
            const double *v = V + (size_t)s * kvd + kv_off;
            double pr = w->scores[s] / sum;
            for (int i = 0; i < hd; i++)
                out[i] += pr * v[i];
        }
    }
}

/* One token at position p through every layer; logits (V) may be NULL. */
static void step(ref_decoder_state *st, scratch *w, int32_t token, int p, double *logits) {
    const ref_decoder *m = st->m;
    const ref_decoder_config *c = &m->config;
    int d = c->d_model, hd = c->head_dim, qd = c->n_head * hd, kvd = c->n_kv_head * hd;
    for (int i = 0; i < d; i++)
        w->x[i] = (double)m->embed[(size_t)token * d + i] +
                  (c->pos == REF_POS_LEARNED ? (double)m->pos_embed[(size_t)p * d + i] : 0.0);
    for (int l = 0; l < c->n_layer; l++) {
        const ref_decoder_layer *L = &m->layers[l];
        double *K = st->k + (size_t)l * c->n_positions * kvd, *V = st->v + (size_t)l * c->n_positions * kvd;
        double *k_row = K + (size_t)p * kvd, *v_row = V + (size_t)p * kvd;
        norm_row(c, w->h, w->x, L->attn_norm_w, L->attn_norm_b, d);
        linear(w->q, w->h, L->q_w, c->qkv_bias ? L->q_b : NULL, d, qd, 0);
        linear(k_row, w->h, L->k_w, c->qkv_bias ? L->k_b : NULL, d, kvd, 0);
        linear(v_row, w->h, L->v_w, c->qkv_bias ? L->v_b : NULL, d, kvd, 0);
        if (c->qk_norm) {
            for (int h = 0; h < c->n_head; h++)
                ref_decoder_rmsnorm(w->q + (size_t)h * hd, w->q + (size_t)h * hd, L->q_norm_w, hd, c->norm_eps);
            for (int h = 0; h < c->n_kv_head; h++)
                ref_decoder_rmsnorm(k_row + (size_t)h * hd, k_row + (size_t)h * hd, L->k_norm_w, hd, c->norm_eps);
        }
        if (c->pos == REF_POS_ROPE) {
            for (int h = 0; h < c->n_head; h++)
                ref_decoder_rope(c, w->inv_freq, w->q + (size_t)h * hd, p);
            for (int h = 0; h < c->n_kv_head; h++)
                ref_decoder_rope(c, w->inv_freq, k_row + (size_t)h * hd, p);
        }
        attend(c, w, K, V, p);
        linear(w->x, w->att, L->o_w, c->o_bias ? L->o_b : NULL, qd, d, 1);

        norm_row(c, w->h, w->x, L->mlp_norm_w, L->mlp_norm_b, d);
        linear(w->up, w->h, L->up_w, c->mlp_bias ? L->up_b : NULL, d, c->d_ff, 0);
        if (c->gated_mlp) {
            linear(w->gate, w->h, L->gate_w, c->mlp_bias ? L->gate_b : NULL, d, c->d_ff, 0);
            for (int i = 0; i < c->d_ff; i++)
                w->up[i] *= activate(c, w->gate[i]);
        } else {
            for (int i = 0; i < c->d_ff; i++)
                w->up[i] = activate(c, w->up[i]);
        }
        linear(w->x, w->up, L->down_w, c->mlp_bias ? L->down_b : NULL, c->d_ff, d, 1);
    }
    if (logits) {
        norm_row(c, w->h, w->x, m->final_norm_w, m->final_norm_b, d);
        linear(logits, w->h, c->tied_lm_head ? m->embed : m->lm_head, NULL, d, c->vocab_size, 0);
    }
}

int ref_decoder_append(ref_decoder_state *s, const int32_t *tokens, int T, double *logits) {
    assert(s && s->m);
    const ref_decoder_config *c = &s->m->config;
    if (T < 1 || T > c->n_positions - s->pos)
        return -1;
    for (int t = 0; t < T; t++)
        if (tokens[t] < 0 || tokens[t] >= c->vocab_size)
            return -1;
    scratch w = {0};
    if (scratch_alloc(&w, c) != 0)
        return -1;
    if (c->pos == REF_POS_ROPE)
        ref_decoder_inv_freq(c, w.inv_freq);
    for (int t = 0; t < T; t++)
        step(s, &w, tokens[t], s->pos + t, logits ? logits + (size_t)t * c->vocab_size : NULL);
    s->pos += T;
    scratch_free(&w);
    return 0;
}

int ref_decoder_forward(const ref_decoder *m, const int32_t *tokens, int T, double *logits) {
    ref_decoder_state s;
    if (ref_decoder_state_init(&s, m) != 0)
        return -1;
    int rc = ref_decoder_append(&s, tokens, T, logits);
    ref_decoder_state_free(&s);
    return rc;
}

int ref_decoder_greedy(const ref_decoder *m, const int32_t *prompt, int n_prompt, int n_gen,
                       int32_t *out) {
    ref_decoder_state s;
    if (n_prompt < 1 || n_gen < 0 || ref_decoder_state_init(&s, m) != 0)
        return -1;
    int V = m->config.vocab_size, rc = -1;
    double *logits = malloc((size_t)n_prompt * V * sizeof *logits);
    if (!logits || ref_decoder_append(&s, prompt, n_prompt, logits) != 0)
        goto out;
    const double *last = logits + (size_t)(n_prompt - 1) * V;
    for (int i = 0; i < n_gen; i++) {
        out[i] = ref_decoder_argmax(last, V);
        if (i + 1 < n_gen) {
            if (ref_decoder_append(&s, &out[i], 1, logits) != 0)
                goto out;
            last = logits;
        }
    }
    rc = 0;
out:
    free(logits);
    ref_decoder_state_free(&s);
    return rc;
}
