/*
 * sample.c — choosing the next token from logits: repetition penalty, temperature, top-k, top-p,
 * min-p, then a draw from the renormalised distribution with the sampler's own seeded PRNG
 * (xoshiro256** seeded through splitmix64), so that a seed gives the same tokens everywhere.
 * Not here: computing logits (the session) or turning tokens into text (the tokenizer).
 *
 * Everything runs on the host in O(V) plus O(m log m) for the m tokens that survive to a sort,
 * with scratch preallocated at create: sampling never allocates. Ties between equal logits are
 * broken towards the lower token id everywhere (argmax, top-k, top-p), so results do not depend
 * on sort stability.
 */
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A surviving token: its id and, depending on the step, its scaled logit or unnormalised
 * probability. */
typedef struct item {
    float v;
    int32_t id;
} item;

struct vkg_sampler {
    vkg_sampler_params p;
    size_t cap;        /* vocab_size given at create */
    float *logits;     /* (cap) the logits after the repetition penalty */
    uint32_t *seen;    /* (cap) == stamp when the token is in the current history */
    uint32_t stamp;
    item *items;       /* (cap) candidates */
    uint64_t rng[4];   /* xoshiro256** state */
};

/* ---- PRNG ---- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro_next(uint64_t s[4]) {
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static double uniform01(uint64_t s[4]) { return (double)(xoshiro_next(s) >> 11) * 0x1.0p-53; }

void vkg_sampler_reseed(vkg_sampler *s, uint64_t seed) {
    if (!s)
        return;
    s->p.seed = seed;
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix64(&x); /* never all zero: splitmix64 is a bijection of distinct x */
}

void vkg_sampler_reset(vkg_sampler *s) {
    if (s)
        vkg_sampler_reseed(s, s->p.seed);
}

/* ---- ordering helpers: "better" = larger value, then lower id ---- */

static bool better(const item *a, const item *b) {
    return a->v > b->v || (a->v == b->v && a->id < b->id);
}

/* Sift down in a heap whose root is the worst item. */
static void sift_down(item *a, size_t n, size_t i) {
    item x = a[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && better(&a[c], &a[c + 1]))
            c++;
        if (!better(&x, &a[c]))
            break;
        a[i] = a[c];
        i = c;
    }
    a[i] = x;
}

static void heapify_worst_root(item *a, size_t n) {
    for (size_t i = n / 2; i-- > 0;)
        sift_down(a, n, i);
}

/* Sorts best first, in place, without allocating (qsort may). */
static void sort_best_first(item *a, size_t n) {
    heapify_worst_root(a, n);
    for (size_t end = n; end > 1; end--) {
        item t = a[0];
        a[0] = a[end - 1];
        a[end - 1] = t;
        sift_down(a, end - 1, 0);
    }
}

/* Moves the k best of a[0, n) to a[0, k) (in no particular order). */
static void select_best(item *a, size_t n, size_t k) {
    heapify_worst_root(a, k);
    for (size_t j = k; j < n; j++) {
        if (better(&a[j], &a[0])) {
            a[0] = a[j];
            sift_down(a, k, 0);
        }
    }
}

/* ---- the sampler ---- */

vkg_sampler_params vkg_sampler_defaults(void) {
    return (vkg_sampler_params){
        .temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f,
        .repetition_penalty = 1.0f, .seed = 0};
}

static vkg_status check_params(const vkg_sampler_params *p) {
    if (!(p->temperature >= 0.0f) || isinf(p->temperature))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT,
                        "sampler: temperature %g must be finite and >= 0 (0 = greedy)",
                        (double)p->temperature);
    if (p->top_k < 0)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "sampler: top_k %d must be >= 0 (0 = off)",
                        (int)p->top_k);
    if (!(p->top_p >= 0.0f && p->top_p <= 1.0f))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "sampler: top_p %g must be in [0, 1] (1 = off)",
                        (double)p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "sampler: min_p %g must be in [0, 1] (0 = off)",
                        (double)p->min_p);
    if (!(p->repetition_penalty > 0.0f) || isinf(p->repetition_penalty))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT,
                        "sampler: repetition_penalty %g must be finite and > 0 (1 = off)",
                        (double)p->repetition_penalty);
    return VKG_OK;
}

vkg_status vkg_sampler_create(const vkg_sampler_params *params, size_t vocab_size,
                              vkg_sampler **out) {
    if (!out)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_sampler_create: out is NULL");
    *out = NULL;
    if (!params)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_sampler_create: params is NULL");
    if (vocab_size == 0 || vocab_size > INT32_MAX)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT,
                        "vkg_sampler_create: vocab_size %zu must be in [1, 2^31)", vocab_size);
    VKG_TRY(check_params(params));
    vkg_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    s->p = *params;
    s->cap = vocab_size;
    s->logits = malloc(vocab_size * sizeof *s->logits);
    s->seen = calloc(vocab_size, sizeof *s->seen);
    s->items = malloc(vocab_size * sizeof *s->items);
    if (!s->logits || !s->seen || !s->items) {
        vkg_sampler_destroy(s);
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY,
                        "out of host memory for a sampler of %zu tokens", vocab_size);
    }
    vkg_sampler_reseed(s, params->seed);
    *out = s;
    return VKG_OK;
}

void vkg_sampler_destroy(vkg_sampler *s) {
    if (!s)
        return;
    free(s->logits);
    free(s->seen);
    free(s->items);
    free(s);
}

/* Copies the logits, rejecting NaN and +inf, and applies the repetition penalty once per distinct
 * history token. */
static vkg_status prepare_logits(vkg_sampler *s, const float *logits, size_t n,
                                 const int32_t *history, size_t n_history) {
    for (size_t i = 0; i < n; i++) {
        float x = logits[i];
        if (isnan(x) || x == INFINITY)
            return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "sampler: logits[%zu] is %s", i,
                            isnan(x) ? "NaN" : "+inf");
        s->logits[i] = x;
    }
    for (size_t i = 0; i < n_history; i++)
        if (history[i] < 0 || (size_t)history[i] >= n)
            return vkg_fail(VKG_ERROR_TOKEN_RANGE,
                            "sampler: history[%zu] = %d is outside the %zu logits", i,
                            (int)history[i], n);
    float penalty = s->p.repetition_penalty;
    if (penalty == 1.0f)
        return VKG_OK;
    if (++s->stamp == 0) { /* wrapped after 2^32 calls: forget the old stamps */
        memset(s->seen, 0, s->cap * sizeof *s->seen);
        s->stamp = 1;
    }
    for (size_t i = 0; i < n_history; i++) {
        int32_t t = history[i];
        if (s->seen[t] == s->stamp)
            continue;
        s->seen[t] = s->stamp;
        float x = s->logits[t];
        s->logits[t] = x > 0.0f ? x / penalty : x * penalty;
    }
    return VKG_OK;
}

vkg_status vkg_sampler_sample(vkg_sampler *s, const float *logits, size_t n_vocab,
                              const int32_t *history, size_t n_history, int32_t *out_token) {
    if (!s || !logits || !out_token || (!history && n_history))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_sampler_sample: NULL argument");
    if (n_vocab == 0 || n_vocab > s->cap)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT,
                        "vkg_sampler_sample: n_vocab %zu must be in [1, %zu] (the vocab_size "
                        "given at create)",
                        n_vocab, s->cap);
    VKG_TRY(prepare_logits(s, logits, n_vocab, history, n_history));

    size_t best = 0;
    for (size_t i = 1; i < n_vocab; i++)
        if (s->logits[i] > s->logits[best])
            best = i;
    float max = s->logits[best];
    if (max == -INFINITY)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "sampler: every one of the %zu logits is -inf",
                        n_vocab);
    if (s->p.temperature == 0.0f) {
        *out_token = (int32_t)best;
        return VKG_OK;
    }

    /* Temperature, shifted so that the best token has 0: dividing by a tiny temperature then
     * sends the others to -inf (probability 0) instead of overflowing the best one to +inf. */
    item *it = s->items;
    size_t n = 0;
    float inv_t = 1.0f / s->p.temperature;
    bool tiny_t = isinf(inv_t); /* a subnormal temperature: only the best tokens remain */
    for (size_t i = 0; i < n_vocab; i++) {
        float x = s->logits[i];
        if (x == -INFINITY)
            continue;
        float v = tiny_t ? (x == max ? 0.0f : -INFINITY) : (x - max) * inv_t;
        it[n++] = (item){.v = v, .id = (int32_t)i};
    }

    if (s->p.top_k > 0 && (size_t)s->p.top_k < n) {
        select_best(it, n, (size_t)s->p.top_k);
        n = (size_t)s->p.top_k;
    }

    /* Unnormalised probabilities; the best token has exactly 1. */
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        it[i].v = expf(it[i].v);
        sum += it[i].v;
    }

    if (s->p.top_p < 1.0f) {
        /* Only tokens at or above a threshold whose tokens already hold top_p of the mass can be
         * in the nucleus (every token below it has all of those ahead of it), so only those are
         * sorted. The threshold starts at the mean probability and drops until that holds. */
        double target = (double)s->p.top_p * sum, mass = 0.0;
        size_t m = 0;
        for (float thr = (float)(sum / (double)n); m < n; thr *= 1.0f / 16.0f) {
            if (thr < 1e-30f) {
                m = n;
                break;
            }
            for (size_t i = m; i < n; i++) {
                if (it[i].v >= thr) {
                    item t = it[m];
                    it[m] = it[i];
                    it[i] = t;
                    mass += it[m].v;
                    m++;
                }
            }
            if (mass >= target)
                break;
        }
        sort_best_first(it, m);
        double cum = 0.0;
        size_t keep = 0;
        while (keep < m && (keep == 0 || cum < target))
            cum += it[keep++].v;
        n = keep;
        sum = cum;
    }

    if (s->p.min_p > 0.0f) {
        /* The best token is still there (every step keeps it) with probability 1. */
        size_t k = 0;
        sum = 0.0;
        for (size_t i = 0; i < n; i++) {
            if (it[i].v >= s->p.min_p) {
                it[k++] = it[i];
                sum += it[i].v;
            }
        }
        n = k;
    }

    assert(n > 0);
    double r = uniform01(s->rng) * sum, cum = 0.0;
    for (size_t i = 0; i < n; i++) {
        cum += it[i].v;
        if (r < cum) {
            *out_token = it[i].id;
            return VKG_OK;
        }
    }
    *out_token = it[n - 1].id; /* r within rounding of the total */
    return VKG_OK;
}
