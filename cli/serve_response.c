/* cli/serve_response.c — OpenAI-shaped JSON bodies and SSE chunks (see serve_response.h). */
#include "serve_response.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* A JSON string of arbitrary bytes (invalid UTF-8 → U+FFFD). NULL when out of memory. */
static json_t *text_json(const char *s, size_t n) {
    size_t len = 0;
    char *clean = serve_utf8_sanitize(s, n, &len);
    if (!clean)
        return NULL;
    json_t *j = json_stringn(clean, len);
    free(clean);
    return j;
}

static char *dump(json_t *root) {
    if (!root)
        return NULL;
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

char *serve_resp_error(const serve_error *err) {
    json_t *e = json_object();
    json_object_set_new(e, "message", text_json(err->message, strlen(err->message)));
    json_object_set_new(e, "type", json_string(err->type ? err->type : "server_error"));
    json_object_set_new(e, "param", err->param[0] ? json_string(err->param) : json_null());
    json_object_set_new(e, "code", err->code ? json_string(err->code) : json_null());
    json_t *root = json_object();
    json_object_set_new(root, "error", e);
    return dump(root);
}

static json_t *token_json(const serve_resp_ctx *c, int32_t id) {
    const char *b = "";
    size_t n = 0;
    if (serve_engine_token_text(c->engine, id, &b, &n))
        b = "", n = 0;
    return text_json(b, n);
}

static json_t *token_bytes(const serve_resp_ctx *c, int32_t id) {
    const char *b = "";
    size_t n = 0;
    if (serve_engine_token_text(c->engine, id, &b, &n))
        n = 0;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer((unsigned char)b[i]));
    return a;
}

/* completions: {"tokens", "token_logprobs", "top_logprobs", "text_offset"} over tokens [from, to). */
static json_t *logprobs_completions(const serve_resp_ctx *c, const serve_job *j, uint32_t from, uint32_t to) {
    json_t *tokens = json_array(), *lps = json_array(), *tops = json_array(), *offs = json_array();
    size_t off = 0;
    for (uint32_t i = 0; i < to; i++) {
        const serve_token *t = &j->tokens[i];
        const char *b;
        size_t n = 0;
        if (serve_engine_token_text(c->engine, t->id, &b, &n))
            n = 0;
        if (i >= from) {
            json_array_append_new(tokens, token_json(c, t->id));
            json_array_append_new(lps, json_real(t->logprob));
            json_array_append_new(offs, json_integer((json_int_t)off));
            json_t *top = json_object();
            for (uint32_t k = 0; k < t->n_top; k++) {
                json_t *key = token_json(c, t->top_id[k]);
                if (key && !json_object_get(top, json_string_value(key)))
                    json_object_set_new(top, json_string_value(key), json_real(t->top_logprob[k]));
                json_decref(key);
            }
            json_array_append_new(tops, top);
        }
        off += n;
    }
    json_t *o = json_object();
    json_object_set_new(o, "tokens", tokens);
    json_object_set_new(o, "token_logprobs", lps);
    json_object_set_new(o, "top_logprobs", tops);
    json_object_set_new(o, "text_offset", offs);
    return o;
}

/* chat: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]} */
static json_t *logprobs_chat(const serve_resp_ctx *c, const serve_job *j, uint32_t from, uint32_t to) {
    json_t *content = json_array();
    for (uint32_t i = from; i < to; i++) {
        const serve_token *t = &j->tokens[i];
        json_t *e = json_object(), *tops = json_array();
        json_object_set_new(e, "token", token_json(c, t->id));
        json_object_set_new(e, "logprob", json_real(t->logprob));
        json_object_set_new(e, "bytes", token_bytes(c, t->id));
        for (uint32_t k = 0; k < t->n_top; k++) {
            json_t *a = json_object();
            json_object_set_new(a, "token", token_json(c, t->top_id[k]));
            json_object_set_new(a, "logprob", json_real(t->top_logprob[k]));
            json_object_set_new(a, "bytes", token_bytes(c, t->top_id[k]));
            json_array_append_new(tops, a);
        }
        json_object_set_new(e, "top_logprobs", tops);
        json_array_append_new(content, e);
    }
    json_t *o = json_object();
    json_object_set_new(o, "content", content);
    return o;
}

static json_t *logprobs_json(const serve_resp_ctx *c, const serve_job *j, uint32_t from, uint32_t to) {
    if (!j->req.logprobs)
        return json_null();
    return c->endpoint == SERVE_CHAT ? logprobs_chat(c, j, from, to) : logprobs_completions(c, j, from, to);
}

static json_t *usage_json(const serve_job *j) {
    json_t *u = json_object(), *details = json_object();
    json_object_set_new(u, "prompt_tokens", json_integer(j->n_prompt));
    json_object_set_new(u, "completion_tokens", json_integer(j->n_tokens));
    json_object_set_new(u, "total_tokens", json_integer((json_int_t)j->n_prompt + j->n_tokens));
    json_object_set_new(details, "cached_tokens", json_integer(j->n_cached));
    json_object_set_new(u, "prompt_tokens_details", details);
    return u;
}

static json_t *envelope(const serve_resp_ctx *c, const char *object) {
    json_t *root = json_object();
    json_object_set_new(root, "id", json_string(c->id));
    json_object_set_new(root, "object", json_string(object));
    json_object_set_new(root, "created", json_integer(c->created));
    json_object_set_new(root, "model", json_string(c->model));
    json_object_set_new(root, "system_fingerprint", json_string("vkgpt"));
    return root;
}

char *serve_resp_final(const serve_resp_ctx *c, const serve_job *j) {
    bool chat = c->endpoint == SERVE_CHAT;
    json_t *root = envelope(c, chat ? "chat.completion" : "text_completion");
    json_t *choice = json_object(), *text = text_json(j->text ? j->text : "", j->text_len);
    json_object_set_new(choice, "index", json_integer(0));
    if (chat) {
        json_t *msg = json_object();
        json_object_set_new(msg, "role", json_string("assistant"));
        json_object_set_new(msg, "content", text);
        json_object_set_new(choice, "message", msg);
    } else {
        json_object_set_new(choice, "text", text);
    }
    json_object_set_new(choice, "logprobs", logprobs_json(c, j, 0, j->n_tokens));
    json_object_set_new(choice, "finish_reason", json_string(j->finish_reason ? j->finish_reason : "stop"));
    json_t *choices = json_array();
    json_array_append_new(choices, choice);
    json_object_set_new(root, "choices", choices);
    json_object_set_new(root, "usage", usage_json(j));
    return dump(root);
}

/* "data: <json>\n\n" */
static char *sse(json_t *root) {
    char *body = dump(root);
    if (!body)
        return NULL;
    size_t n = strlen(body);
    char *ev = malloc(n + 9);
    if (ev) {
        memcpy(ev, "data: ", 6);
        memcpy(ev + 6, body, n);
        memcpy(ev + 6 + n, "\n\n", 3);
    }
    free(body);
    return ev;
}

char *serve_resp_chunk(const serve_resp_ctx *c, const serve_job *j, size_t text_from, size_t text_to,
                       uint32_t tok_from, uint32_t tok_to, const char *finish_reason, bool role) {
    bool chat = c->endpoint == SERVE_CHAT;
    json_t *root = envelope(c, chat ? "chat.completion.chunk" : "text_completion");
    json_t *choice = json_object(), *text = text_json(j->text ? j->text + text_from : "", text_to - text_from);
    json_object_set_new(choice, "index", json_integer(0));
    if (chat) {
        json_t *delta = json_object();
        if (role)
            json_object_set_new(delta, "role", json_string("assistant"));
        if (text_to > text_from || role)
            json_object_set_new(delta, "content", text);
        else
            json_decref(text);
        json_object_set_new(choice, "delta", delta);
    } else {
        json_object_set_new(choice, "text", text);
    }
    json_object_set_new(choice, "logprobs", tok_to > tok_from ? logprobs_json(c, j, tok_from, tok_to) : json_null());
    json_object_set_new(choice, "finish_reason", finish_reason ? json_string(finish_reason) : json_null());
    json_t *choices = json_array();
    json_array_append_new(choices, choice);
    json_object_set_new(root, "choices", choices);
    if (j->req.include_usage) /* OpenAI: null in every chunk but the last */
        json_object_set_new(root, "usage", json_null());
    return sse(root);
}

char *serve_resp_usage_chunk(const serve_resp_ctx *c, const serve_job *j) {
    json_t *root = envelope(c, c->endpoint == SERVE_CHAT ? "chat.completion.chunk" : "text_completion");
    json_object_set_new(root, "choices", json_array());
    json_object_set_new(root, "usage", usage_json(j));
    return sse(root);
}
