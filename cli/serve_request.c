/*
 * cli/serve_request.c — the JSON body of /v1/completions and /v1/chat/completions → serve_request,
 * every field checked for type and range (see serve_request.h). Not here: HTTP, the model's limits,
 * the response side (serve_http.c).
 */
#include "serve_request.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int serve_error_set(serve_error *err, int status, const char *type, const char *code, const char *param,
                    const char *fmt, ...) {
    err->status = status;
    err->type = type;
    err->code = code;
    snprintf(err->param, sizeof err->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

#define BAD(param, ...) serve_error_set(err, 400, "invalid_request_error", "invalid_value", param, __VA_ARGS__)
#define BAD_TYPE(param, what) \
    serve_error_set(err, 400, "invalid_request_error", "invalid_type", param, "'%s' must be %s", param, what)

void serve_request_free(serve_request *req) {
    free(req->prompt_text);
    free(req->prompt_ids);
    for (size_t i = 0; i < req->n_messages; i++) {
        free(req->messages[i].role);
        free(req->messages[i].content);
    }
    free(req->messages);
    for (uint32_t i = 0; i < req->n_stop; i++)
        free(req->stop[i]);
    free(req->model);
    memset(req, 0, sizeof *req);
}

static char *dup_bytes(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static int oom(serve_error *err) {
    return serve_error_set(err, 500, "server_error", NULL, NULL, "out of memory parsing the request");
}

/* A JSON number in [lo, hi] (integers count as numbers). */
static int get_float(json_t *v, const char *name, double lo, double hi, bool lo_open, float *out,
                     serve_error *err) {
    if (!json_is_number(v))
        return BAD_TYPE(name, "a number");
    double d = json_number_value(v);
    if (d < lo || d > hi || (lo_open && d == lo))
        return BAD(name, "'%s' is %g; it must be in %s%g, %g]", name, d, lo_open ? "(" : "[", lo, hi);
    *out = (float)d;
    return 0;
}

static int get_int(json_t *v, const char *name, long long lo, long long hi, long long *out, serve_error *err) {
    if (!json_is_integer(v))
        return BAD_TYPE(name, "an integer");
    long long i = json_integer_value(v);
    if (i < lo || i > hi)
        return BAD(name, "'%s' is %lld; it must be in [%lld, %lld]", name, i, lo, hi);
    *out = i;
    return 0;
}

static int get_bool(json_t *v, const char *name, bool *out, serve_error *err) {
    if (!json_is_boolean(v))
        return BAD_TYPE(name, "true or false");
    *out = json_is_true(v);
    return 0;
}

static int parse_prompt(json_t *v, serve_request *req, serve_error *err) {
    if (json_is_string(v)) {
        req->prompt_len = json_string_length(v);
        if (req->prompt_len == 0)
            return BAD("prompt", "'prompt' is empty");
        if (!(req->prompt_text = dup_bytes(json_string_value(v), req->prompt_len)))
            return oom(err);
        return 0;
    }
    if (!json_is_array(v))
        return BAD_TYPE("prompt", "a string or an array of token ids");
    size_t n = json_array_size(v);
    if (n == 0)
        return BAD("prompt", "'prompt' is an empty array");
    if (json_is_string(json_array_get(v, 0)) || json_is_array(json_array_get(v, 0)))
        return BAD("prompt", "'prompt' holds several prompts; this server takes one prompt per request");
    if (n > (1u << 24))
        return BAD("prompt", "'prompt' has %zu token ids, more than any context", n);
    if (!(req->prompt_ids = malloc(n * sizeof *req->prompt_ids)))
        return oom(err);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_integer(e))
            return BAD("prompt", "'prompt'[%zu] is not an integer token id", i);
        long long id = json_integer_value(e);
        if (id < 0 || id > INT32_MAX)
            return BAD("prompt", "'prompt'[%zu] is %lld, not a token id", i, id);
        req->prompt_ids[i] = (int32_t)id;
    }
    req->n_prompt_ids = (uint32_t)n;
    return 0;
}

/* content: a string, null (an assistant turn that only called tools), or [{"type":"text","text":...}]. */
static int parse_content(json_t *c, size_t i, char **out, serve_error *err) {
    if (json_is_null(c) || !c) {
        *out = dup_bytes("", 0);
        return *out ? 0 : oom(err);
    }
    if (json_is_string(c)) {
        *out = dup_bytes(json_string_value(c), json_string_length(c));
        return *out ? 0 : oom(err);
    }
    if (!json_is_array(c))
        return BAD("messages", "'messages'[%zu].content must be a string or an array of text parts", i);
    size_t total = 0, k;
    json_t *part;
    json_array_foreach(c, k, part) {
        json_t *type = json_object_get(part, "type"), *text = json_object_get(part, "text");
        if (!json_is_string(type) || strcmp(json_string_value(type), "text") != 0 || !json_is_string(text))
            return BAD("messages", "'messages'[%zu].content[%zu] is not a {\"type\": \"text\", \"text\": ...} "
                       "part (only text is supported)", i, k);
        total += json_string_length(text);
    }
    char *s = malloc(total + 1);
    if (!s)
        return oom(err);
    size_t at = 0;
    json_array_foreach(c, k, part) {
        json_t *text = json_object_get(part, "text");
        memcpy(s + at, json_string_value(text), json_string_length(text));
        at += json_string_length(text);
    }
    s[at] = 0;
    *out = s;
    return 0;
}

static int parse_messages(json_t *v, serve_request *req, serve_error *err) {
    static const char *const roles[] = {"system", "user", "assistant", "tool", "developer"};
    if (!json_is_array(v))
        return BAD_TYPE("messages", "an array of messages");
    size_t n = json_array_size(v);
    if (n == 0)
        return BAD("messages", "'messages' is empty");
    if (!(req->messages = calloc(n, sizeof *req->messages)))
        return oom(err);
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(v, i), *role = json_object_get(m, "role");
        if (!json_is_object(m))
            return BAD("messages", "'messages'[%zu] is not an object", i);
        if (!json_is_string(role))
            return BAD("messages", "'messages'[%zu].role is missing or not a string", i);
        bool known = false;
        for (size_t r = 0; r < sizeof roles / sizeof roles[0]; r++)
            known |= strcmp(json_string_value(role), roles[r]) == 0 && strlen(roles[r]) == json_string_length(role);
        if (!known)
            return BAD("messages", "'messages'[%zu].role '%.40s' is not system, user, assistant, tool or developer",
                       i, json_string_value(role));
        req->n_messages = i + 1;
        if (!(req->messages[i].role = dup_bytes(json_string_value(role), json_string_length(role))))
            return oom(err);
        if (parse_content(json_object_get(m, "content"), i, &req->messages[i].content, err))
            return -1;
    }
    return 0;
}

static int parse_stop(json_t *v, serve_request *req, serve_error *err) {
    if (json_is_null(v))
        return 0;
    size_t n = json_is_string(v) ? 1 : json_is_array(v) ? json_array_size(v) : 0;
    if (!json_is_string(v) && !json_is_array(v))
        return BAD_TYPE("stop", "a string or an array of strings");
    if (n > SERVE_MAX_STOP)
        return BAD("stop", "'stop' has %zu strings; at most %d are allowed", n, SERVE_MAX_STOP);
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_is_string(v) ? v : json_array_get(v, i);
        if (!json_is_string(s))
            return BAD("stop", "'stop'[%zu] is not a string", i);
        size_t len = json_string_length(s);
        if (len == 0 || len > SERVE_MAX_STOP_LEN)
            return BAD("stop", "'stop'[%zu] has %zu bytes; a stop string has 1 to %d", i, len, SERVE_MAX_STOP_LEN);
        if (!(req->stop[i] = dup_bytes(json_string_value(s), len)))
            return oom(err);
        req->stop_len[i] = len;
        req->n_stop = (uint32_t)i + 1;
    }
    return 0;
}

/* Fields OpenAI defines that would change the result and that vkgpt cannot honour: accepted only
 * with their neutral value. */
static int refuse_unsupported(const char *key, json_t *v, serve_error *err) {
    if (json_is_null(v))
        return 0;
    if (!strcmp(key, "n") || !strcmp(key, "best_of")) {
        if (json_is_integer(v) && json_integer_value(v) == 1)
            return 0;
        return BAD(key, "'%s' must be 1: this server generates one choice per request", key);
    }
    if (!strcmp(key, "frequency_penalty") || !strcmp(key, "presence_penalty")) {
        if (!json_is_number(v))
            return BAD_TYPE(key, "a number");
        if (json_number_value(v) == 0)
            return 0;
        return BAD(key, "'%s' is not supported by vkgpt's sampler; use repeat_penalty", key);
    }
    if (strstr(key, "penalty")) /* a penalty we do not know (dry_penalty, ...): never silently ignored */
        return BAD(key, "'%s' is not supported by vkgpt's sampler (it has repeat_penalty)", key);
    if (!strcmp(key, "logit_bias")) {
        if (json_is_object(v) && json_object_size(v) == 0)
            return 0;
        return BAD(key, "'logit_bias' is not supported");
    }
    if (!strcmp(key, "echo")) {
        if (json_is_false(v))
            return 0;
        return BAD(key, "'echo' is not supported");
    }
    if (!strcmp(key, "suffix")) {
        if (json_is_string(v) && json_string_length(v) == 0)
            return 0;
        return BAD(key, "'suffix' (insertion) is not supported");
    }
    if (!strcmp(key, "tools") || !strcmp(key, "functions")) {
        if (json_is_array(v) && json_array_size(v) == 0)
            return 0;
        return BAD(key, "'%s' (tool calling) is not supported", key);
    }
    if (!strcmp(key, "response_format")) {
        json_t *t = json_object_get(v, "type");
        if (json_is_string(t) && !strcmp(json_string_value(t), "text"))
            return 0;
        return BAD(key, "'response_format' other than {\"type\": \"text\"} is not supported");
    }
    return 0;
}

static int parse_fields(serve_endpoint ep, json_t *root, serve_request *req, serve_error *err) {
    const char *key;
    json_t *v;
    long long i64 = 0;
    bool have_input = false, max_completion = false;
    json_t *stream_options = NULL, *top_logprobs = NULL;
    json_object_foreach(root, key, v) {
        bool chat = ep == SERVE_CHAT;
        if (!strcmp(key, "prompt") && !chat) {
            if (parse_prompt(v, req, err))
                return -1;
            have_input = true;
        } else if (!strcmp(key, "messages") && chat) {
            if (parse_messages(v, req, err))
                return -1;
            have_input = true;
        } else if (!strcmp(key, "model")) {
            if (!json_is_string(v))
                return BAD_TYPE(key, "a string");
            free(req->model);
            if (!(req->model = dup_bytes(json_string_value(v), json_string_length(v))))
                return oom(err);
        } else if (!strcmp(key, "max_tokens") || !strcmp(key, "max_completion_tokens")) {
            bool mct = !strcmp(key, "max_completion_tokens");
            if (json_is_null(v))
                continue;
            if (get_int(v, key, 1, 1 << 24, &i64, err))
                return -1;
            if (mct || !max_completion) /* max_completion_tokens wins over the deprecated max_tokens */
                req->max_tokens = (uint32_t)i64;
            max_completion |= mct;
        } else if (!strcmp(key, "temperature")) {
            if (!json_is_null(v) && get_float(v, key, 0, 2, false, &req->temperature, err))
                return -1;
        } else if (!strcmp(key, "top_p")) {
            if (!json_is_null(v) && get_float(v, key, 0, 1, false, &req->top_p, err))
                return -1;
        } else if (!strcmp(key, "min_p")) {
            if (!json_is_null(v) && get_float(v, key, 0, 1, false, &req->min_p, err))
                return -1;
        } else if (!strcmp(key, "top_k")) {
            if (json_is_null(v))
                continue;
            if (get_int(v, key, -1, 1 << 24, &i64, err)) /* -1: off, as vLLM spells it */
                return -1;
            req->top_k = i64 < 0 ? 0 : (int32_t)i64;
        } else if (!strcmp(key, "repeat_penalty") || !strcmp(key, "repetition_penalty")) {
            if (!json_is_null(v) && get_float(v, key, 0, 100, true, &req->repeat_penalty, err))
                return -1;
        } else if (!strcmp(key, "seed")) {
            if (json_is_null(v))
                continue;
            if (!json_is_integer(v))
                return BAD_TYPE(key, "an integer");
            req->has_seed = true;
            req->seed = (uint64_t)json_integer_value(v);
        } else if (!strcmp(key, "stop")) {
            if (parse_stop(v, req, err))
                return -1;
        } else if (!strcmp(key, "stream")) {
            if (!json_is_null(v) && get_bool(v, key, &req->stream, err))
                return -1;
        } else if (!strcmp(key, "stream_options")) {
            if (!json_is_null(v) && !json_is_object(v))
                return BAD_TYPE(key, "an object");
            stream_options = json_is_null(v) ? NULL : v;
        } else if (!strcmp(key, "logprobs")) {
            if (json_is_null(v))
                continue;
            if (chat) {
                if (get_bool(v, key, &req->logprobs, err))
                    return -1;
            } else {
                if (get_int(v, key, 0, 5, &i64, err)) /* the legacy API: alternatives per token, 0..5 */
                    return -1;
                req->logprobs = true;
                req->top_logprobs = (uint32_t)i64;
            }
        } else if (!strcmp(key, "top_logprobs") && chat) {
            if (!json_is_null(v))
                top_logprobs = v;
        } else if (!strcmp(key, "user")) {
            /* ignored, as the issue asks */
        } else if (refuse_unsupported(key, v, err)) {
            return -1;
        }
    }
    if (!have_input)
        return ep == SERVE_CHAT ? BAD("messages", "'messages' is required")
                                : BAD("prompt", "'prompt' is required");
    if (top_logprobs) {
        if (get_int(top_logprobs, "top_logprobs", 0, SERVE_MAX_TOP_LOGPROBS, &i64, err))
            return -1;
        if (!req->logprobs)
            return BAD("top_logprobs", "'top_logprobs' needs 'logprobs': true");
        req->top_logprobs = (uint32_t)i64;
    }
    if (stream_options) {
        if (!req->stream)
            return BAD("stream_options", "'stream_options' is only allowed with 'stream': true");
        const char *k;
        json_t *o;
        json_object_foreach(stream_options, k, o) {
            if (!strcmp(k, "include_usage")) {
                if (!json_is_null(o) && get_bool(o, "stream_options.include_usage", &req->include_usage, err))
                    return -1;
            }
        }
    }
    return 0;
}

int serve_request_parse(serve_endpoint endpoint, const char *body, size_t len, serve_request *req,
                        serve_error *err) {
    memset(req, 0, sizeof *req);
    req->endpoint = endpoint;
    req->temperature = 1;
    req->top_p = 1;
    req->repeat_penalty = 1;
    json_error_t jerr;
    /* Duplicate keys are refused: which one wins differs between parsers, so a request that
     * relies on it would mean different things to different servers. */
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root)
        return serve_error_set(err, 400, "invalid_request_error", "invalid_json", NULL,
                               "the body is not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                               jerr.column);
    int rc = 0;
    if (!json_is_object(root))
        rc = serve_error_set(err, 400, "invalid_request_error", "invalid_json", NULL,
                             "the body must be a JSON object");
    else
        rc = parse_fields(endpoint, root, req, err);
    json_decref(root);
    if (rc) {
        serve_endpoint ep = req->endpoint;
        serve_request_free(req);
        req->endpoint = ep;
    }
    return rc;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes available), or 0 when the bytes there are
 * ill-formed; *bad then holds the length of the maximal ill-formed subpart to replace (>= 1). */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad) {
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* the range of the second byte (Unicode Table 3-7) */
    *bad = 1;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    for (size_t i = 1; i < need; i++) {
        if (i >= n)
            return *bad = i, 0;
        unsigned char b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
            return *bad = i, 0;
    }
    return need;
}

char *serve_utf8_sanitize(const char *text, size_t len, size_t *out_len) {
    /* Each replaced byte run becomes 3 bytes (EF BF BD): at most 3x the input. */
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    const unsigned char *s = (const unsigned char *)text;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t bad, k = utf8_seq(s + i, len - i, &bad);
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += bad;
        }
    }
    out[o] = 0;
    if (out_len)
        *out_len = o;
    return out;
}
