/*
 * cli/serve_sched.c — the slot scheduler (see serve_sched.h for the turn it runs). Knows nothing of
 * HTTP, JSON or Vulkan: slots are serve_engine calls, output goes into the job's channel.
 */
#include "serve_sched.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum slot_state {
    SLOT_FREE = 0, /* no job; cache[] still holds what the KV cache holds (for prompt reuse) */
    SLOT_PREFILL,  /* prompt tokens [n_cache, n_prompt) still to feed */
    SLOT_READY,    /* the next token's logits are ready: sample */
    SLOT_STEP,     /* `pending` sampled and published: feed it in the next step */
} slot_state;

typedef struct slot {
    serve_eslot *es;
    slot_state state;
    int32_t *cache;       /* the tokens in the slot's KV cache, in order (n_ctx entries) */
    uint32_t n_cache;
    uint64_t last_used;   /* turn counter, for choosing among equally good free slots */
    serve_job *job;
    serve_esampler *sampler;
    serve_edetok *detok;
    int32_t pending;
    uint32_t generated;
    char *hold;           /* decoded text not yet committed: it may be the start of a stop string */
    size_t hold_len, hold_cap;
} slot;

struct serve_sched {
    serve_engine *engine;
    serve_sched_options o;
    serve_engine_info info;
    slot *slots;
    float *logits;        /* vocab floats, decode thread only */
    serve_eslot **batch;  /* step arguments */
    int32_t *batch_tokens;
    uint32_t *batch_slots;
    uint32_t next_prefill;
    uint64_t turn;

    pthread_mutex_t mu;   /* guards queue, stopping, stats, wake */
    pthread_cond_t cv;
    serve_job **queue;    /* ring of q_size = queue_len + n_slots */
    uint32_t q_size, q_head, q_count;
    uint32_t n_free;      /* slots without a job: queued jobs up to this many are about to start */
    bool stopping;
    serve_sched_stats stats;
    pthread_t thread;
    bool thread_started;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- jobs and their channel ---- */

serve_job *serve_job_create(serve_request *req, int32_t *prompt, uint32_t n_prompt, uint32_t max_tokens,
                            const serve_sampling *sampling) {
    serve_job *j = calloc(1, sizeof *j);
    if (!j) {
        serve_request_free(req);
        free(prompt);
        return NULL;
    }
    j->req = *req;
    memset(req, 0, sizeof *req);
    j->prompt = prompt;
    j->n_prompt = n_prompt;
    j->max_tokens = max_tokens;
    j->sampling = *sampling;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    atomic_init(&j->cancelled, false);
    atomic_init(&j->refs, 1);
    j->t_submit = now_s();
    return j;
}

void serve_job_release(serve_job *j) {
    if (!j || atomic_fetch_sub(&j->refs, 1) != 1)
        return;
    serve_request_free(&j->req);
    free(j->prompt);
    free(j->text);
    free(j->tokens);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

/* Append committed text; caller holds j->mu. false when out of memory. */
static bool job_append_text(serve_job *j, const char *t, size_t n) {
    if (j->text_len + n + 1 > j->text_cap) {
        size_t cap = j->text_cap ? j->text_cap : 256;
        while (cap < j->text_len + n + 1)
            cap *= 2;
        char *grown = realloc(j->text, cap);
        if (!grown)
            return false;
        j->text = grown;
        j->text_cap = cap;
    }
    memcpy(j->text + j->text_len, t, n);
    j->text_len += n;
    j->text[j->text_len] = 0;
    return true;
}

static bool job_append_token(serve_job *j, const serve_token *t) {
    if (j->n_tokens == j->tokens_cap) {
        uint32_t cap = j->tokens_cap ? j->tokens_cap * 2 : 16;
        serve_token *grown = realloc(j->tokens, cap * sizeof *grown);
        if (!grown)
            return false;
        j->tokens = grown;
        j->tokens_cap = cap;
    }
    j->tokens[j->n_tokens++] = *t;
    return true;
}

/* Mark the job done (failed when err) and wake its reader; the scheduler's reference is dropped. */
static void job_finish(serve_sched *s, serve_job *j, const char *reason, const serve_error *err) {
    pthread_mutex_lock(&s->mu); /* counted before the reader can see the job done */
    s->stats.requests_done++;
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_lock(&j->mu);
    j->done = true;
    j->finish_reason = reason;
    if (err) {
        j->failed = true;
        j->error = *err;
    }
    j->t_done = now_s();
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    serve_job_release(j);
}

static void job_fail(serve_sched *s, serve_job *j, int status, const char *fmt_detail) {
    serve_error e;
    serve_error_set(&e, status, status == 503 ? "unavailable_error" : "server_error", NULL, NULL, "%s", fmt_detail);
    job_finish(s, j, NULL, &e);
}

/* ---- slots ---- */

static void slot_release(serve_sched *s, slot *sl) {
    pthread_mutex_lock(&s->mu);
    s->n_free++;
    pthread_mutex_unlock(&s->mu);
    serve_engine_sampler_free(sl->sampler);
    serve_engine_detok_free(sl->detok);
    sl->sampler = NULL;
    sl->detok = NULL;
    sl->job = NULL;
    sl->state = SLOT_FREE;
    sl->hold_len = 0;
    sl->last_used = ++s->turn;
}

/* An engine call failed: the slot's cache is unknown, so empty it, and fail its job. */
static void slot_fail(serve_sched *s, slot *sl, const char *what) {
    serve_job *j = sl->job;
    sl->n_cache = 0;
    serve_engine_slot_truncate(sl->es, 0);
    slot_release(s, sl);
    if (j) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s: %s", what, serve_engine_last_error());
        job_fail(s, j, 500, msg);
    }
}

/* Greedy without a repetition penalty takes the device's argmax, as `vkgpt run --temp 0` does, so that
 * the tokens are the same and no logits cross to the host. With a penalty, greedy is the sampler's
 * (argmax after the penalty, as vkg_sampler documents). */
static bool device_argmax(const serve_job *j) {
    return j->sampling.temperature == 0 && j->sampling.repeat_penalty == 1;
}

static uint32_t common_prefix(const int32_t *a, uint32_t na, const int32_t *b, uint32_t nb) {
    uint32_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* Put job j into a free slot: the one sharing the longest prefix with its prompt, else the least
 * recently used. On an engine failure the job fails (500) and the slot stays free. */
static void slot_start(serve_sched *s, serve_job *j) {
    slot *best = NULL;
    uint32_t best_lcp = 0;
    for (uint32_t i = 0; i < s->o.n_slots; i++) {
        slot *sl = &s->slots[i];
        if (sl->state != SLOT_FREE)
            continue;
        uint32_t lcp = common_prefix(sl->cache, sl->n_cache, j->prompt, j->n_prompt);
        if (!best || lcp > best_lcp || (lcp == best_lcp && sl->last_used < best->last_used)) {
            best = sl;
            best_lcp = lcp;
        }
    }
    /* At least the last prompt token is fed again: its logits start the generation. */
    uint32_t reuse = best_lcp < j->n_prompt ? best_lcp : j->n_prompt - 1;
    best->job = j; /* the caller took the slot from n_free */
    best->generated = 0;
    best->hold_len = 0;
    best->pending = -1;
    if (serve_engine_slot_truncate(best->es, reuse)) {
        slot_fail(s, best, "starting the request");
        return;
    }
    best->n_cache = reuse;
    if (serve_engine_sampler_create(s->engine, &j->sampling, &best->sampler) ||
        serve_engine_detok_create(s->engine, &best->detok)) {
        slot_fail(s, best, "starting the request");
        return;
    }
    serve_engine_slot_want_logits(best->es, !device_argmax(j) || j->req.logprobs);
    best->state = SLOT_PREFILL;
    pthread_mutex_lock(&j->mu);
    j->started = true;
    j->n_cached = reuse;
    pthread_mutex_unlock(&j->mu);
}

/* Commit `n` bytes of held text to the job and keep the rest held. Caller holds j->mu. */
static bool commit_hold(slot *sl, size_t n) {
    if (!job_append_text(sl->job, sl->hold, n))
        return false;
    memmove(sl->hold, sl->hold + n, sl->hold_len - n);
    sl->hold_len -= n;
    return true;
}

static bool hold_append(slot *sl, const char *t, size_t n) {
    if (sl->hold_len + n > sl->hold_cap) {
        size_t cap = sl->hold_cap ? sl->hold_cap : 64;
        while (cap < sl->hold_len + n)
            cap *= 2;
        char *grown = realloc(sl->hold, cap);
        if (!grown)
            return false;
        sl->hold = grown;
        sl->hold_cap = cap;
    }
    memcpy(sl->hold + sl->hold_len, t, n);
    sl->hold_len += n;
    return true;
}

/* Look for the request's stop strings in the held text. Returns true when one was found (the text
 * before it is committed, the rest dropped). Otherwise commits all but the longest held suffix that
 * could still grow into a stop string. Caller holds j->mu. */
static bool check_stop(slot *sl, bool *oom) {
    const serve_request *r = &sl->job->req;
    size_t first = SIZE_MAX;
    for (uint32_t k = 0; k < r->n_stop; k++)
        for (size_t at = 0; at + r->stop_len[k] <= sl->hold_len && at < first; at++)
            if (memcmp(sl->hold + at, r->stop[k], r->stop_len[k]) == 0) {
                first = at;
                break;
            }
    if (first != SIZE_MAX) {
        *oom = !commit_hold(sl, first);
        sl->hold_len = 0;
        return true;
    }
    size_t keep = 0;
    for (uint32_t k = 0; k < r->n_stop; k++)
        for (size_t l = r->stop_len[k] - 1; l > keep; l--)
            if (l <= sl->hold_len && memcmp(sl->hold + sl->hold_len - l, r->stop[k], l) == 0) {
                keep = l;
                break;
            }
    *oom = !commit_hold(sl, sl->hold_len - keep);
    return false;
}

/* log-softmax of the chosen token and the n best alternatives (ties: lower id first). */
static void logprobs(const float *lg, uint32_t v, int32_t tok, uint32_t n_top, serve_token *t) {
    float mx = -INFINITY;
    for (uint32_t i = 0; i < v; i++)
        mx = lg[i] > mx ? lg[i] : mx;
    double sum = 0;
    for (uint32_t i = 0; i < v; i++)
        sum += exp((double)lg[i] - mx);
    double lse = mx + log(sum);
    t->logprob = (float)(lg[tok] - lse);
    t->n_top = 0;
    for (uint32_t k = 0; k < n_top && k < v; k++) {
        int32_t best = -1;
        for (uint32_t i = 0; i < v; i++) {
            bool taken = false;
            for (uint32_t q = 0; q < k && !taken; q++)
                taken = t->top_id[q] == (int32_t)i;
            if (!taken && (best < 0 || lg[i] > lg[best]))
                best = (int32_t)i;
        }
        t->top_id[k] = best;
        t->top_logprob[k] = (float)(lg[best] - lse);
        t->n_top = k + 1;
    }
}

static void slot_finish(serve_sched *s, slot *sl, const char *reason) {
    serve_job *j = sl->job;
    slot_release(s, sl);
    job_finish(s, j, reason, NULL);
}

/* Sample the next token of a READY slot, publish it, and finish or queue it for the next step. */
static void slot_sample(serve_sched *s, slot *sl) {
    serve_job *j = sl->job;
    serve_token t = {0};
    bool need_logits = !device_argmax(j) || j->req.logprobs;
    if (need_logits && serve_engine_slot_logits(sl->es, s->logits)) {
        slot_fail(s, sl, "reading the logits");
        return;
    }
    if (device_argmax(j))
        t.id = serve_engine_slot_argmax(sl->es);
    else if (serve_engine_sample(sl->sampler, s->logits, s->info.vocab_size, sl->cache, sl->n_cache, &t.id)) {
        slot_fail(s, sl, "sampling");
        return;
    }
    if (j->req.logprobs)
        logprobs(s->logits, s->info.vocab_size, t.id, j->req.top_logprobs, &t);
    sl->generated++;
    bool eos = t.id == s->info.eos && s->info.eos >= 0;
    for (uint32_t i = 0; i < s->info.n_eos && i < 8; i++)
        eos |= t.id == s->info.eos_ids[i];
    const char *text = "";
    size_t len = 0;
    if (!eos && serve_engine_detok_push(sl->detok, t.id, &text, &len)) {
        slot_fail(s, sl, "decoding");
        return;
    }
    bool oom = !hold_append(sl, text, len), stopped = false;
    const char *reason = NULL;
    pthread_mutex_lock(&j->mu);
    if (j->n_tokens == 0)
        j->t_first = now_s();
    oom |= !job_append_token(j, &t);
    if (eos)
        reason = "stop";
    else if (!oom && (stopped = check_stop(sl, &oom)))
        reason = "stop";
    else if (sl->generated >= j->max_tokens || sl->n_cache >= s->o.n_ctx)
        reason = "length";
    if (reason && !stopped && !oom) { /* the end: what the decoder and the stop check held back */
        const char *rest;
        size_t n_rest;
        if (serve_engine_detok_flush(sl->detok, &rest, &n_rest) == 0)
            oom |= !hold_append(sl, rest, n_rest);
        oom |= !commit_hold(sl, sl->hold_len);
    }
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    pthread_mutex_lock(&s->mu);
    s->stats.tokens_generated++;
    pthread_mutex_unlock(&s->mu);
    if (oom) {
        serve_job *jj = sl->job;
        slot_release(s, sl);
        {
            job_fail(s, jj, 500, "out of memory while generating");
            return;
        }
    }
    if (reason) {
        slot_finish(s, sl, reason);
        return;
    }
    sl->pending = t.id;
    sl->state = SLOT_STEP;
}

/* Prefill joining prompts, round robin over the slots, until prefill_chunk tokens have been fed this
 * turn: a long prompt gets one chunk per turn, so running streams wait for at most one chunk between
 * their tokens, while several short prompts join in the same turn. */
static void prefill_turn(serve_sched *s) {
    uint32_t budget = s->o.prefill_chunk, first = s->next_prefill;
    for (uint32_t k = 0; k < s->o.n_slots && budget; k++) {
        uint32_t i = (first + k) % s->o.n_slots;
        slot *sl = &s->slots[i];
        if (sl->state != SLOT_PREFILL)
            continue;
        s->next_prefill = (i + 1) % s->o.n_slots;
        serve_job *j = sl->job;
        uint32_t n = j->n_prompt - sl->n_cache;
        if (n > budget)
            n = budget;
        if (serve_engine_slot_prefill(sl->es, j->prompt + sl->n_cache, n)) {
            slot_fail(s, sl, "prefill");
            continue;
        }
        memcpy(sl->cache + sl->n_cache, j->prompt + sl->n_cache, n * sizeof(int32_t));
        sl->n_cache += n;
        budget -= n;
        if (sl->n_cache == j->n_prompt)
            sl->state = SLOT_READY;
    }
}

/* Advance every slot holding a sampled token by one position: one engine call for all. */
static void step_all(serve_sched *s) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->o.n_slots; i++)
        if (s->slots[i].state == SLOT_STEP) {
            s->batch[n] = s->slots[i].es;
            s->batch_tokens[n] = s->slots[i].pending;
            s->batch_slots[n++] = i;
        }
    if (n == 0)
        return;
    if (serve_engine_step(s->engine, s->batch, s->batch_tokens, n)) {
        for (uint32_t k = 0; k < n; k++)
            slot_fail(s, &s->slots[s->batch_slots[k]], "decode step");
        return;
    }
    for (uint32_t k = 0; k < n; k++) {
        slot *sl = &s->slots[s->batch_slots[k]];
        sl->cache[sl->n_cache++] = sl->pending;
        sl->state = SLOT_READY;
    }
}

/* Drop cancelled jobs from the queue at once (keeping the others' order), so that clients that
 * gave up do not hold queue places. Caller holds s->mu; it is released around job_finish. */
static void purge_cancelled(serve_sched *s) {
    for (uint32_t k = 0; k < s->q_count;) {
        uint32_t at = (s->q_head + k) % s->q_size;
        serve_job *j = s->queue[at];
        if (!atomic_load(&j->cancelled)) {
            k++;
            continue;
        }
        for (uint32_t m = k; m + 1 < s->q_count; m++)
            s->queue[(s->q_head + m) % s->q_size] = s->queue[(s->q_head + m + 1) % s->q_size];
        s->q_count--;
        pthread_mutex_unlock(&s->mu);
        job_finish(s, j, NULL, &(serve_error){.status = 499, .type = "cancelled"});
        pthread_mutex_lock(&s->mu);
    }
}

static void *decode_main(void *arg) {
    serve_sched *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        purge_cancelled(s);
        /* 1. join: queued jobs into free slots, in order */
        for (uint32_t i = 0; i < s->o.n_slots && s->q_count && !s->stopping; i++) {
            if (s->slots[i].state != SLOT_FREE)
                continue;
            serve_job *j = s->queue[s->q_head];
            s->q_head = (s->q_head + 1) % s->q_size;
            s->q_count--;
            bool cancelled = atomic_load(&j->cancelled);
            if (!cancelled) /* with the pop, under the lock: submit never sees a slot twice */
                s->n_free--;
            pthread_mutex_unlock(&s->mu);
            if (cancelled)
                job_finish(s, j, NULL, &(serve_error){.status = 499, .type = "cancelled"});
            else
                slot_start(s, j);
            pthread_mutex_lock(&s->mu);
            i = (uint32_t)-1; /* slot_start picks its own slot: rescan from the first */
        }
        bool busy = false;
        for (uint32_t i = 0; i < s->o.n_slots; i++)
            busy |= s->slots[i].state != SLOT_FREE;
        if (s->stopping)
            break;
        if (!busy) {
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        pthread_mutex_unlock(&s->mu);

        /* 2. cancelled: free the slot now (its cache stays valid for reuse) */
        for (uint32_t i = 0; i < s->o.n_slots; i++) {
            slot *sl = &s->slots[i];
            if (sl->state != SLOT_FREE && atomic_load(&sl->job->cancelled)) {
                serve_job *j = sl->job;
                slot_release(s, sl);
                job_finish(s, j, NULL, &(serve_error){.status = 499, .type = "cancelled"});
            }
        }
        /* 3. sample and publish */
        for (uint32_t i = 0; i < s->o.n_slots; i++)
            if (s->slots[i].state == SLOT_READY)
                slot_sample(s, &s->slots[i]);
        /* 4. one prefill chunk; 5. one step for all decoding slots */
        prefill_turn(s);
        step_all(s);

        pthread_mutex_lock(&s->mu);
    }
    /* stopping: fail whatever is queued or running */
    while (s->q_count) {
        serve_job *j = s->queue[s->q_head];
        s->q_head = (s->q_head + 1) % s->q_size;
        s->q_count--;
        pthread_mutex_unlock(&s->mu);
        job_fail(s, j, 503, "the server is shutting down");
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    for (uint32_t i = 0; i < s->o.n_slots; i++) {
        slot *sl = &s->slots[i];
        if (sl->state != SLOT_FREE) {
            serve_job *j = sl->job;
            slot_release(s, sl);
            job_fail(s, j, 503, "the server is shutting down");
        }
    }
    return NULL;
}

int serve_sched_create(serve_engine *e, const serve_sched_options *o, serve_sched **out) {
    *out = NULL;
    if (!o->n_slots || !o->queue_len || !o->n_ctx || !o->prefill_chunk)
        return -1;
    serve_sched *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->engine = e;
    s->o = *o;
    serve_engine_get_info(e, &s->info);
    if (s->o.n_ctx > s->info.n_positions)
        s->o.n_ctx = s->info.n_positions;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->slots = calloc(o->n_slots, sizeof *s->slots);
    s->logits = malloc(s->info.vocab_size * sizeof *s->logits);
    s->batch = calloc(o->n_slots, sizeof *s->batch);
    s->batch_tokens = calloc(o->n_slots, sizeof *s->batch_tokens);
    s->batch_slots = calloc(o->n_slots, sizeof *s->batch_slots);
    s->q_size = o->queue_len + o->n_slots;
    s->n_free = o->n_slots;
    s->queue = calloc(s->q_size, sizeof *s->queue);
    if (!s->slots || !s->logits || !s->batch || !s->batch_tokens || !s->batch_slots || !s->queue)
        goto error;
    for (uint32_t i = 0; i < o->n_slots; i++) {
        /* one spare entry: a step may run at position n_ctx - 1 */
        if (!(s->slots[i].cache = malloc((s->o.n_ctx + 1) * sizeof(int32_t))) ||
            serve_engine_slot_create(e, &s->slots[i].es))
            goto error;
    }
    if (pthread_create(&s->thread, NULL, decode_main, s) != 0)
        goto error;
    s->thread_started = true;
    *out = s;
    return 0;
error:
    serve_sched_destroy(s);
    return -1;
}

void serve_sched_stop(serve_sched *s) {
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->thread_started)
        pthread_join(s->thread, NULL);
    s->thread_started = false;
}

void serve_sched_destroy(serve_sched *s) {
    if (!s)
        return;
    serve_sched_stop(s);
    for (uint32_t i = 0; s->slots && i < s->o.n_slots; i++) {
        serve_engine_slot_free(s->slots[i].es);
        free(s->slots[i].cache);
        free(s->slots[i].hold);
    }
    free(s->slots);
    free(s->logits);
    free(s->batch);
    free(s->batch_tokens);
    free(s->batch_slots);
    free(s->queue);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

int serve_sched_submit(serve_sched *s, serve_job *j, serve_error *err) {
    if (j->n_prompt == 0 || j->n_prompt > s->o.n_ctx || j->max_tokens == 0) /* the HTTP side checks first */
        return serve_error_set(err, 400, "invalid_request_error", "context_length_exceeded", "prompt",
                               "the prompt has %u tokens; a slot holds 1 to %u", j->n_prompt, s->o.n_ctx);
    pthread_mutex_lock(&s->mu);
    /* Jobs that will find a free slot at the decode thread's next turn do not count as waiting. */
    if (s->stopping || s->q_count >= s->o.queue_len + s->n_free) {
        bool stopping = s->stopping;
        pthread_mutex_unlock(&s->mu);
        return serve_error_set(err, 503, "unavailable_error", stopping ? "shutting_down" : "queue_full", NULL,
                               stopping ? "the server is shutting down"
                                        : "the server is busy: all %u slots are in use and %u requests are "
                                          "queued; retry later",
                               s->o.n_slots, s->o.queue_len);
    }
    atomic_fetch_add(&j->refs, 1);
    s->queue[(s->q_head + s->q_count) % s->q_size] = j;
    s->q_count++;
    s->stats.queued = s->q_count;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void serve_sched_cancel(serve_sched *s, serve_job *j) {
    atomic_store(&j->cancelled, true);
    pthread_mutex_lock(&s->mu);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void serve_sched_get_stats(serve_sched *s, serve_sched_stats *st) {
    pthread_mutex_lock(&s->mu);
    *st = s->stats;
    st->n_slots = s->o.n_slots;
    st->slots_busy = s->o.n_slots - s->n_free; /* n_free changes before a job is seen done */
    st->queued = s->q_count;
    pthread_mutex_unlock(&s->mu);
}
