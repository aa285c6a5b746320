/*
 * cli/serve_sched.h — the slot scheduler of `vkgpt serve` (continuous batching).
 *
 * One decode thread owns every slot (a sequence with its own KV cache, serve_engine.h). HTTP threads
 * create a job, submit it to the bounded queue and read its output through the job's own lock and
 * condition variable (the "channel"); they never touch a slot. Each turn of the decode thread:
 *   1. takes queued jobs, in order, into free slots — preferring the free slot whose cached tokens
 *      share the longest prefix with the prompt (prompt reuse: only the rest is prefilled);
 *   2. drops cancelled jobs (client gone), freeing their slots at once;
 *   3. samples the next token of every slot whose logits are ready, publishes it, and finishes the
 *      request on end-of-text, a stop string, max_tokens or a full context;
 *   4. prefills joining prompts, round robin, at most prefill_chunk tokens per turn, so running
 *      streams keep flowing while long prompts join (several short ones join in one turn);
 *   5. advances every decoding slot by one token in ONE call: serve_engine_step.
 * Not here: HTTP and JSON (serve_http.c), the library (serve_engine.c).
 */
#ifndef VKG_CLI_SERVE_SCHED_H
#define VKG_CLI_SERVE_SCHED_H

#include "serve_engine.h"
#include "serve_request.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct serve_sched serve_sched;

typedef struct serve_sched_options {
    uint32_t n_slots;       /* --parallel, >= 1 */
    uint32_t queue_len;     /* --queue: jobs waiting beyond the slots, >= 1 */
    uint32_t n_ctx;         /* tokens per sequence (<= the model's n_positions) */
    uint32_t prefill_chunk; /* prompt tokens prefilled per turn (all joining prompts together), >= 1 */
} serve_sched_options;

/* One generated token as published to the HTTP side. */
typedef struct serve_token {
    int32_t id;
    float logprob;                               /* log-softmax of the model's logits (when asked) */
    uint32_t n_top;
    int32_t top_id[SERVE_MAX_TOP_LOGPROBS];
    float top_logprob[SERVE_MAX_TOP_LOGPROBS];
} serve_token;

typedef struct serve_job {
    /* input: set before submit, read-only afterwards */
    serve_request req;
    int32_t *prompt;          /* owned */
    uint32_t n_prompt;
    uint32_t max_tokens;      /* resolved: >= 1 */
    serve_sampling sampling;

    /* output: guarded by mu; cv is signalled whenever something is published */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *text;               /* committed text: stop strings removed; raw bytes (may be invalid UTF-8) */
    size_t text_len, text_cap;
    serve_token *tokens;      /* every generated token (end-of-text included) */
    uint32_t n_tokens, tokens_cap;
    uint32_t n_cached;        /* prompt tokens reused from a slot's cache */
    bool started;             /* in a slot */
    bool done;
    const char *finish_reason; /* "stop" | "length" once done without error */
    bool failed;
    serve_error error;        /* when failed */
    double t_submit, t_first, t_done; /* monotonic seconds */

    atomic_bool cancelled;
    atomic_int refs;
} serve_job;

/* Create the slots (serve_engine_slot_create) and start the decode thread. */
int serve_sched_create(serve_engine *e, const serve_sched_options *o, serve_sched **out);
/* Stop the decode thread; queued and running jobs finish failed with 503 (shutting down). Further
 * submits are refused; cancel and the stats stay safe to call until destroy. */
void serve_sched_stop(serve_sched *s);
/* Stop (if not yet) and free the slots. */
void serve_sched_destroy(serve_sched *s);

/* A job taking ownership of *req (zeroed) and of `prompt` (malloc()ed). One reference. NULL when out
 * of memory (req and prompt are then freed). */
serve_job *serve_job_create(serve_request *req, int32_t *prompt, uint32_t n_prompt, uint32_t max_tokens,
                            const serve_sampling *sampling);
/* Enqueue; the scheduler takes its own reference. -1 with *err (503) when the queue is full or the
 * server is stopping. */
int serve_sched_submit(serve_sched *s, serve_job *job, serve_error *err);
/* The client is gone: the scheduler drops the job at its next turn (or from the queue). */
void serve_sched_cancel(serve_sched *s, serve_job *job);
/* Drop a reference; the last one frees the job. */
void serve_job_release(serve_job *job);

typedef struct serve_sched_stats {
    uint32_t n_slots, slots_busy, queued;
    uint64_t tokens_generated, requests_done;
} serve_sched_stats;
void serve_sched_get_stats(serve_sched *s, serve_sched_stats *st);

#endif /* VKG_CLI_SERVE_SCHED_H */
