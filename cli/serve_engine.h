/*
 * cli/serve_engine.h — the ONE seam between `vkgpt serve` and the library (include/vkgpt.h).
 *
 * The scheduler (serve_sched.c) and the HTTP front end (serve_http.c, cmd_serve.c) call only these
 * functions; serve_engine.c implements them on today's public API, and tests/serve_fake_engine.c
 * implements them on a deterministic fake model so that the scheduler is tested without a device.
 * When the library's API changes (family-neutral model config, tokenizer flags, the chat-template
 * renderer, the batched decode step) only serve_engine.c changes.
 *
 * Threads: functions marked [any thread] may be called from the HTTP threads concurrently (they
 * only read the immutable tokenizer); all others only from the scheduler's decode thread, which
 * owns every slot.
 *
 * Errors: calls return 0 on success; otherwise non-zero, and serve_engine_last_error() says why (on
 * the calling thread).
 */
#ifndef VKG_CLI_SERVE_ENGINE_H
#define VKG_CLI_SERVE_ENGINE_H

#include "serve_request.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct serve_engine serve_engine;
typedef struct serve_eslot serve_eslot;       /* one sequence with its own KV cache (a session today) */
typedef struct serve_esampler serve_esampler; /* one request's sampler */
typedef struct serve_edetok serve_edetok;     /* one request's streaming detokenizer */

typedef struct serve_engine_options {
    const char *model_path;     /* -m PATH, or NULL */
    const char *config;         /* --config NAME (synthetic weights), or NULL */
    uint64_t seed;              /* synthetic weights' seed */
    int device;                 /* -1: the default device */
    int dtype;                  /* weights: a vkg_precision (3: auto, as the checkpoint stores them) */
    int kv_dtype;               /* 0 f32, 1 f16 */
    int quant;                  /* --quant: a vkg_quant */
    uint32_t ctx_size;          /* positions of each slot's KV cache; 0: the model's, at most 4096 */
    const char *tokenizer_dir;  /* NULL: the model's directory */
    const char *chat_template;  /* --chat-template FILE's text (read by cmd_serve), or NULL */
} serve_engine_options;

typedef struct serve_engine_info {
    uint32_t n_positions;  /* the model's context */
    uint32_t vocab_size;
    int32_t eos;           /* the first end-of-sequence id, -1 when none */
    uint32_t n_eos;        /* every end-of-sequence id (eos, and end-of-turn ids such as eot) */
    int32_t eos_ids[8];
    bool has_tokenizer;    /* false: only token-id prompts, and generated text is empty */
} serve_engine_info;

typedef struct serve_sampling {
    float temperature, top_p, min_p, repeat_penalty;
    int32_t top_k;
    uint64_t seed;
} serve_sampling;

/* The reason for the last failure on this thread ("VKG_ERROR_CONTEXT_FULL: ..."). */
const char *serve_engine_last_error(void);

/* Open the device, load the model and tokenizer. Slow (seconds to minutes): cmd_serve runs it while
 * /health answers 503. */
int serve_engine_open(const serve_engine_options *opts, serve_engine **out);
void serve_engine_close(serve_engine *e);
void serve_engine_get_info(const serve_engine *e, serve_engine_info *info);

/* [any thread] Text → ids (malloc()ed; free()); add_special: the tokenizer's own BOS/EOS as Hugging
 * Face's add_special_tokens (a completion prompt), not for a rendered chat (the template has them). */
int serve_engine_tokenize(const serve_engine *e, const char *text, size_t len, bool add_special, int32_t **ids,
                          size_t *n);
/* [any thread] The bytes of one token (owned by the engine), for logprobs. */
int serve_engine_token_text(const serve_engine *e, int32_t id, const char **bytes, size_t *len);
/* [any thread] Chat messages → prompt text (malloc()ed) with the model's chat template, or the one
 * given with --chat-template. Returns -1 with *err filled (400 when the model has no template). */
int serve_engine_render_chat(const serve_engine *e, const serve_message *msgs, size_t n, char **prompt,
                             size_t *len, serve_error *err);

/* Slots: created once at start (--parallel N of them). */
int serve_engine_slot_create(serve_engine *e, serve_eslot **out);
void serve_engine_slot_free(serve_eslot *s);
/* Keep the first `pos` tokens of the slot's sequence (0: empty it). */
int serve_engine_slot_truncate(serve_eslot *s, uint32_t pos);
/* Append n tokens in one pass; afterwards the slot's next-token logits are ready. */
int serve_engine_slot_prefill(serve_eslot *s, const int32_t *ids, uint32_t n);
/* Whether the logits of the next step are copied to the host (sampling, logprobs), or only argmax. */
void serve_engine_slot_want_logits(serve_eslot *s, bool want);
int serve_engine_slot_logits(serve_eslot *s, float *logits);
int32_t serve_engine_slot_argmax(serve_eslot *s);

/* THE decode step: append tokens[i] to slots[i] for every i < n, one token each, so that each slot's
 * next-token logits are ready. Today a loop of one step per slot; with the library's batched step
 * this becomes one call (M = n). On failure every slot of the batch is in an unknown state (the
 * scheduler fails their requests and empties them). */
int serve_engine_step(serve_engine *e, serve_eslot *const *slots, const int32_t *tokens, uint32_t n);

/* Sampler: one per request. */
int serve_engine_sampler_create(const serve_engine *e, const serve_sampling *p, serve_esampler **out);
void serve_engine_sampler_free(serve_esampler *s);
int serve_engine_sample(serve_esampler *s, const float *logits, uint32_t n_vocab, const int32_t *history,
                        uint32_t n_history, int32_t *token);

/* Streaming detokenizer: whole UTF-8 characters only (a split character is held back). */
int serve_engine_detok_create(const serve_engine *e, serve_edetok **out);
void serve_engine_detok_free(serve_edetok *d);
/* The bytes now complete after `id` (valid until the next call). */
int serve_engine_detok_push(serve_edetok *d, int32_t id, const char **text, size_t *len);
/* What is held back at the end of a stream; the decoder is then empty. */
int serve_engine_detok_flush(serve_edetok *d, const char **text, size_t *len);

#endif /* VKG_CLI_SERVE_ENGINE_H */
