/*
 * cli/serve_request.h — what `vkgpt serve` accepts: the JSON body of an OpenAI-style request turned
 * into a fully validated serve_request, and the OpenAI-shaped error every refusal becomes.
 *
 * This is pure data: no model, no tokenizer, no HTTP. Limits that depend on the loaded model (prompt
 * length against the context, token ids against the vocabulary) are checked where the model is known
 * (cmd_serve.c), with serve_error_set as here.
 */
#ifndef VKG_CLI_SERVE_REQUEST_H
#define VKG_CLI_SERVE_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    SERVE_MAX_STOP = 4,          /* OpenAI: "up to 4 sequences" */
    SERVE_MAX_STOP_LEN = 256,    /* bytes per stop string */
    SERVE_MAX_TOP_LOGPROBS = 20, /* chat top_logprobs (0..20); completions logprobs is 0..5 */
};

typedef enum serve_endpoint { SERVE_COMPLETIONS = 0, SERVE_CHAT = 1 } serve_endpoint;

/* An error as the client sees it: {"error": {"message", "type", "param", "code"}} with an HTTP status. */
typedef struct serve_error {
    int status;        /* HTTP status: 400, 401, 404, 405, 413, 500, 501, 503 */
    const char *type;  /* "invalid_request_error", "authentication_error", "server_error", ... */
    const char *code;  /* short machine-readable code ("invalid_value", "context_length_exceeded") or NULL */
    char param[64];    /* the offending field, "" when none */
    char message[512];
} serve_error;

typedef struct serve_message {
    char *role;    /* "system", "user", "assistant", "tool", "developer" */
    char *content; /* text; content given as a list of {"type":"text"} parts is joined */
} serve_message;

/* One validated request. Fields the client did not send hold the defaults of serve_request_parse. */
typedef struct serve_request {
    serve_endpoint endpoint;
    /* completions: exactly one of prompt_text / prompt_ids; chat: messages */
    char *prompt_text;          /* may contain NUL bytes: use prompt_len */
    size_t prompt_len;
    int32_t *prompt_ids;        /* token-id prompt (ids >= 0; the vocabulary is checked later) */
    uint32_t n_prompt_ids;
    serve_message *messages;
    size_t n_messages;
    uint32_t max_tokens;        /* 0: not given (completions: 16 as OpenAI; chat: up to the context) */
    float temperature;          /* [0, 2], default 1 */
    float top_p;                /* [0, 1], default 1 */
    int32_t top_k;              /* >= 0, default 0 (off) */
    float min_p;                /* [0, 1], default 0 */
    float repeat_penalty;       /* (0, 100], default 1; also repetition_penalty */
    bool has_seed;
    uint64_t seed;
    char *stop[SERVE_MAX_STOP];
    size_t stop_len[SERVE_MAX_STOP];
    uint32_t n_stop;
    bool stream, include_usage;
    bool logprobs;              /* completions: "logprobs" given as an integer; chat: logprobs true */
    uint32_t top_logprobs;      /* alternatives per token: completions logprobs N, chat top_logprobs */
    char *model;                /* as sent (echoed nowhere: responses carry the server's name) */
} serve_request;

/* Parse and validate `len` bytes of a request body for `endpoint`. On success returns 0 and fills
 * *req (release with serve_request_free). On failure returns -1, fills *err (status 400, the field in
 * err->param) and leaves *req empty. Unknown fields are ignored, as OpenAI's API does, except those
 * that would change the result and that vkgpt cannot honour (n != 1, frequency_penalty,
 * presence_penalty, logit_bias, best_of, echo, suffix, tools, ...): those are refused by name. */
int serve_request_parse(serve_endpoint endpoint, const char *body, size_t len, serve_request *req,
                        serve_error *err);
void serve_request_free(serve_request *req);

/* Fill *err (the message printf-style). Returns -1 so that callers can `return serve_error_set(...)`. */
int serve_error_set(serve_error *err, int status, const char *type, const char *code, const char *param,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* A malloc()ed, NUL-terminated copy of `len` bytes of `text` with every invalid UTF-8 sequence
 * replaced by U+FFFD (one per maximal ill-formed subpart, as Unicode recommends and Python's
 * errors="replace" does), so that it can go into JSON; its length in *out_len. NULL when out of
 * memory. */
char *serve_utf8_sanitize(const char *text, size_t len, size_t *out_len);

#endif /* VKG_CLI_SERVE_REQUEST_H */
