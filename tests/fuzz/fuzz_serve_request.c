/*
 * fuzz_serve_request.c — libFuzzer target: arbitrary bytes as the JSON body of `vkgpt serve`'s
 * /v1/completions (byte 0 even) or /v1/chat/completions (odd) through serve_request_parse
 * (cli/serve_request.c). An accepted request must satisfy what the server relies on (abort
 * otherwise): every field in its documented range, exactly one prompt form, stop strings of 1..256
 * bytes; a refusal is a 400 (or 500) with a message. The generated-text path's UTF-8 replacement
 * runs on the same bytes: its output is valid UTF-8 (jansson takes it) and replacing again changes
 * nothing.
 */
#include "serve_request.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const serve_request *r) {
    if (r->endpoint == SERVE_COMPLETIONS) {
        if (!!r->prompt_text == !!r->prompt_ids || r->messages)
            abort();
        if (r->prompt_text && r->prompt_len == 0)
            abort();
        if (r->prompt_ids && r->n_prompt_ids == 0)
            abort();
        for (uint32_t i = 0; i < r->n_prompt_ids; i++)
            if (r->prompt_ids[i] < 0)
                abort();
        if (r->top_logprobs > 5)
            abort();
    } else {
        if (!r->messages || !r->n_messages || r->prompt_text || r->prompt_ids)
            abort();
        for (size_t i = 0; i < r->n_messages; i++)
            if (!r->messages[i].role || !r->messages[i].content)
                abort();
        if (r->top_logprobs > SERVE_MAX_TOP_LOGPROBS || (r->top_logprobs && !r->logprobs))
            abort();
    }
    if (!(r->temperature >= 0 && r->temperature <= 2) || !(r->top_p >= 0 && r->top_p <= 1) ||
        !(r->min_p >= 0 && r->min_p <= 1) || !(r->repeat_penalty > 0 && r->repeat_penalty <= 100) || r->top_k < 0)
        abort();
    if (r->max_tokens > (1u << 24) || r->n_stop > SERVE_MAX_STOP || (r->include_usage && !r->stream))
        abort();
    for (uint32_t i = 0; i < r->n_stop; i++)
        if (!r->stop[i] || r->stop_len[i] == 0 || r->stop_len[i] > SERVE_MAX_STOP_LEN)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    serve_endpoint ep = data[0] & 1 ? SERVE_CHAT : SERVE_COMPLETIONS;
    char *body = malloc(size); /* exactly the body's bytes: no NUL for the parser to lean on */
    if (!body)
        return 0;
    memcpy(body, data + 1, size - 1);
    serve_request r;
    serve_error err;
    if (serve_request_parse(ep, body, size - 1, &r, &err) == 0) {
        check_request(&r);
        serve_request_free(&r);
    } else if ((err.status != 400 && err.status != 500) || !err.message[0] || !err.type) {
        abort();
    }
    size_t n = 0, n2 = 0;
    char *clean = serve_utf8_sanitize(body, size - 1, &n);
    if (clean) {
        json_t *s = json_stringn(clean, n);
        if (!s)
            abort(); /* not valid UTF-8 after all */
        json_decref(s);
        char *again = serve_utf8_sanitize(clean, n, &n2);
        if (again && (n2 != n || memcmp(again, clean, n) != 0))
            abort();
        free(again);
    }
    free(clean);
    free(body);
    return 0;
}
