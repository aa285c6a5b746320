/*
 * cli/serve_response.h — the JSON bodies `vkgpt serve` sends, in OpenAI's shapes: errors, a whole
 * completion (text_completion / chat.completion) and the Server-Sent-Event chunks of a stream
 * (text_completion / chat.completion.chunk). Generated text goes through serve_utf8_sanitize, so
 * invalid UTF-8 becomes U+FFFD. Not here: HTTP (serve_http.c), generation (serve_sched.c).
 */
#ifndef VKG_CLI_SERVE_RESPONSE_H
#define VKG_CLI_SERVE_RESPONSE_H

#include "serve_engine.h"
#include "serve_sched.h"

typedef struct serve_resp_ctx {
    const serve_engine *engine; /* token text for logprobs */
    const char *model;          /* the server's model name */
    char id[48];                /* "cmpl-..." / "chatcmpl-..." */
    long long created;          /* Unix seconds */
    serve_endpoint endpoint;
} serve_resp_ctx;

/* Each returns a malloc()ed NUL-terminated string (free()), or NULL when out of memory. */

/* {"error": {"message", "type", "param", "code"}} */
char *serve_resp_error(const serve_error *err);
/* The whole response of a finished job (the caller holds job->mu or the job is done). */
char *serve_resp_final(const serve_resp_ctx *c, const serve_job *job);
/* One SSE event "data: {...}\n\n" carrying text [text_from, text_to) and tokens [tok_from, tok_to)
 * of the job (their logprobs when asked); finish_reason NULL while running. For chat, `role` adds
 * the assistant role to the delta (the first chunk). Caller holds job->mu. */
char *serve_resp_chunk(const serve_resp_ctx *c, const serve_job *job, size_t text_from, size_t text_to,
                       uint32_t tok_from, uint32_t tok_to, const char *finish_reason, bool role);
/* The final usage chunk of stream_options.include_usage ("choices": []). Caller holds job->mu. */
char *serve_resp_usage_chunk(const serve_resp_ctx *c, const serve_job *job);

#endif /* VKG_CLI_SERVE_RESPONSE_H */
