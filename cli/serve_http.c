/*
 * cli/serve_http.c — routing and connections of `vkgpt serve` on libmicrohttpd (see serve_http.h).
 *
 * Threads: MHD runs one thread per connection. A request's thread parses, tokenizes, submits a job
 * and then waits on the job's condition variable (non-streaming) or inside MHD's content-reader
 * callback (streaming), polling the socket every WAIT_MS so that a client that disconnects cancels
 * its job at once, even while it waits in the queue.
 */
#include "serve_http.h"

#include "serve_response.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

enum { WAIT_MS = 50 };
enum { STATE_LOADING = 0, STATE_READY = 1, STATE_STOPPING = 2 };

struct serve_http {
    serve_http_options o;
    struct MHD_Daemon *daemon;
    atomic_int state;
    serve_engine *engine;
    serve_sched *sched;
    serve_engine_info info;
    uint32_t n_ctx;
    long long started;
    atomic_ullong counter;
};

/* Per request: the body as it arrives. */
typedef struct conn_state {
    char *body;
    size_t len, cap;
    bool too_large;
} conn_state;

/* A streaming response in progress. */
typedef struct stream_state {
    serve_http *h;
    struct MHD_Connection *conn;
    serve_job *job;
    serve_resp_ctx rc;
    size_t text_sent;
    uint32_t tok_sent;
    bool role_sent, finished, ended;
    char *out;           /* formatted events not yet handed to MHD */
    size_t out_len, out_off;
} stream_state;

static long long unix_now(void) {
    return (long long)time(NULL);
}

static uint64_t mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static uint64_t fresh_u64(serve_http *h) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ mix64(atomic_fetch_add(&h->counter, 1)));
}

/* ---- plain responses ---- */

static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status, const char *type, const char *body,
                                 const char *allow) {
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static void log_request(serve_http *h, const char *method, const char *url, int status, const serve_job *j) {
    if (h->o.quiet)
        return;
    if (j)
        fprintf(stderr, "vkgpt serve: %s %s %d prompt %u (%u cached) generated %u finish %s\n", method, url,
                status, j->n_prompt, j->n_cached, j->n_tokens, j->finish_reason ? j->finish_reason : "-");
    else
        fprintf(stderr, "vkgpt serve: %s %s %d\n", method, url, status);
}

static enum MHD_Result send_error(serve_http *h, struct MHD_Connection *c, const char *method, const char *url,
                                  const serve_error *err, const char *allow) {
    char *body = serve_resp_error(err);
    log_request(h, method, url, err->status, NULL);
    enum MHD_Result ok = send_body(c, (unsigned)err->status, "application/json",
                                   body ? body : "{\"error\":{\"message\":\"out of memory\"}}", allow);
    free(body);
    return ok;
}

static enum MHD_Result error_at(serve_http *h, struct MHD_Connection *c, const char *method, const char *url,
                                int status, const char *type, const char *code, const char *msg) {
    serve_error e;
    serve_error_set(&e, status, type, code, NULL, "%s", msg);
    return send_error(h, c, method, url, &e, NULL);
}

/* ---- the client's socket ---- */

/* True when the peer has closed the connection (or reset it). */
static bool client_gone(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return false;
    struct pollfd p = {.fd = ci->connect_fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0)
        return false;
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
        return true;
    char b;
    ssize_t n = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Wait up to WAIT_MS for the job to publish something. Caller holds job->mu. */
static void wait_job(serve_job *j) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += WAIT_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&j->cv, &j->mu, &ts);
}

/* ---- streaming ---- */

static bool out_append(stream_state *st, char *ev) {
    if (!ev)
        return false;
    size_t n = strlen(ev);
    char *grown = realloc(st->out, st->out_len + n);
    if (!grown) {
        free(ev);
        return false;
    }
    st->out = grown;
    memcpy(st->out + st->out_len, ev, n);
    st->out_len += n;
    free(ev);
    return true;
}

/* Format whatever the job published since the last call. Caller holds job->mu. */
static bool stream_produce(stream_state *st) {
    serve_job *j = st->job;
    bool ok = true;
    if (j->failed) { /* headers are sent: the error travels as an event, as OpenAI's streams do */
        ok = out_append(st, strdup("data: ")) && out_append(st, serve_resp_error(&j->error)) &&
             out_append(st, strdup("\n\n"));
        st->finished = true;
    } else {
        bool role = st->rc.endpoint == SERVE_CHAT && !st->role_sent;
        bool fresh = j->text_len > st->text_sent || j->n_tokens > st->tok_sent || role;
        const char *finish = j->done ? j->finish_reason : NULL;
        /* The finish reason rides on its own last chunk (text empty), as OpenAI's streams do. */
        if (fresh)
            ok = out_append(st, serve_resp_chunk(&st->rc, j, st->text_sent, j->text_len, st->tok_sent, j->n_tokens,
                                                 NULL, role));
        st->role_sent = true;
        st->text_sent = j->text_len;
        st->tok_sent = j->n_tokens;
        if (ok && j->done) {
            ok = out_append(st, serve_resp_chunk(&st->rc, j, j->text_len, j->text_len, j->n_tokens, j->n_tokens,
                                                 finish ? finish : "stop", false));
            if (ok && j->req.include_usage)
                ok = out_append(st, serve_resp_usage_chunk(&st->rc, j));
            st->finished = true;
        }
    }
    if (ok && st->finished)
        ok = out_append(st, strdup("data: [DONE]\n\n"));
    return ok;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    stream_state *st = cls;
    while (st->out_off == st->out_len) {
        free(st->out);
        st->out = NULL;
        st->out_len = st->out_off = 0;
        if (st->finished) {
            st->ended = true;
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        pthread_mutex_lock(&st->job->mu);
        size_t before = st->out_len;
        if (!stream_produce(st)) {
            pthread_mutex_unlock(&st->job->mu);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (st->out_len == before)
            wait_job(st->job);
        pthread_mutex_unlock(&st->job->mu);
        if (st->out_len == before && client_gone(st->conn)) {
            serve_sched_cancel(st->h->sched, st->job);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
    size_t n = st->out_len - st->out_off;
    if (n > max)
        n = max;
    memcpy(buf, st->out + st->out_off, n);
    st->out_off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls) {
    stream_state *st = cls;
    if (!st->ended) /* the client went away (or a write failed): stop generating for it */
        serve_sched_cancel(st->h->sched, st->job);
    pthread_mutex_lock(&st->job->mu);
    serve_job *j = st->job;
    pthread_mutex_unlock(&j->mu);
    log_request(st->h, "POST", st->rc.endpoint == SERVE_CHAT ? "/v1/chat/completions" : "/v1/completions",
                st->ended ? 200 : 499, j);
    serve_job_release(j);
    free(st->out);
    free(st);
}

/* ---- /v1/completions and /v1/chat/completions ---- */

static enum MHD_Result handle_generate(serve_http *h, struct MHD_Connection *c, const char *method,
                                       const char *url, serve_endpoint ep, const conn_state *cs) {
    serve_error err;
    serve_request req;
    if (serve_request_parse(ep, cs->body ? cs->body : "", cs->len, &req, &err))
        return send_error(h, c, method, url, &err, NULL);
    /* The prompt as token ids. */
    int32_t *ids = NULL;
    size_t n_ids = 0;
    if (ep == SERVE_CHAT) {
        char *text = NULL;
        size_t len = 0;
        if (serve_engine_render_chat(h->engine, req.messages, req.n_messages, &text, &len, &err)) {
            serve_request_free(&req);
            return send_error(h, c, method, url, &err, NULL);
        }
        /* The template wrote the special tokens it wants (a BOS among them) as text. */
        int rc = serve_engine_tokenize(h->engine, text, len, false, &ids, &n_ids);
        free(text);
        if (rc) {
            serve_request_free(&req);
            return error_at(h, c, method, url, 400, "invalid_request_error", "invalid_value",
                            serve_engine_last_error());
        }
    } else if (req.prompt_text) {
        if (serve_engine_tokenize(h->engine, req.prompt_text, req.prompt_len, true, &ids, &n_ids)) {
            serve_request_free(&req);
            return error_at(h, c, method, url, 400, "invalid_request_error", "invalid_value",
                            serve_engine_last_error());
        }
    } else {
        for (uint32_t i = 0; i < req.n_prompt_ids; i++)
            if ((uint32_t)req.prompt_ids[i] >= h->info.vocab_size) {
                serve_error_set(&err, 400, "invalid_request_error", "invalid_value", "prompt",
                                "'prompt'[%u] is %d, outside the vocabulary of %u tokens", i, req.prompt_ids[i],
                                h->info.vocab_size);
                serve_request_free(&req);
                return send_error(h, c, method, url, &err, NULL);
            }
        ids = req.prompt_ids;
        n_ids = req.n_prompt_ids;
        req.prompt_ids = NULL;
        req.n_prompt_ids = 0;
    }
    if (n_ids == 0 || n_ids > h->n_ctx) {
        if (n_ids == 0)
            serve_error_set(&err, 400, "invalid_request_error", "invalid_value", "prompt", "the prompt has no tokens");
        else
            serve_error_set(&err, 400, "invalid_request_error", "context_length_exceeded",
                            ep == SERVE_CHAT ? "messages" : "prompt",
                            "the prompt has %zu tokens but the context holds %u", n_ids, h->n_ctx);
        free(ids);
        serve_request_free(&req);
        return send_error(h, c, method, url, &err, NULL);
    }
    serve_sampling sp = {.temperature = req.temperature, .top_p = req.top_p, .min_p = req.min_p,
                         .repeat_penalty = req.repeat_penalty, .top_k = req.top_k,
                         .seed = req.has_seed ? req.seed : fresh_u64(h)};
    /* OpenAI's default for completions is 16 tokens; chat runs until the end or the context. */
    uint32_t max_tokens = req.max_tokens ? req.max_tokens : ep == SERVE_CHAT ? h->n_ctx : 16;
    bool stream = req.stream;
    serve_job *job = serve_job_create(&req, ids, (uint32_t)n_ids, max_tokens, &sp);
    if (!job)
        return error_at(h, c, method, url, 500, "server_error", NULL, "out of memory");
    if (serve_sched_submit(h->sched, job, &err)) {
        serve_job_release(job);
        return send_error(h, c, method, url, &err, NULL);
    }
    serve_resp_ctx rc = {.engine = h->engine, .model = h->o.model_name, .created = unix_now(), .endpoint = ep};
    snprintf(rc.id, sizeof rc.id, "%s-%016llx", ep == SERVE_CHAT ? "chatcmpl" : "cmpl",
             (unsigned long long)fresh_u64(h));

    if (stream) {
        stream_state *st = calloc(1, sizeof *st);
        if (!st) {
            serve_sched_cancel(h->sched, job);
            serve_job_release(job);
            return error_at(h, c, method, url, 500, "server_error", NULL, "out of memory");
        }
        *st = (stream_state){.h = h, .conn = c, .job = job, .rc = rc};
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_free);
        if (!r) {
            stream_free(st);
            return MHD_NO;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ok;
    }

    /* Not streaming: wait for the end, dropping the job if the client goes away meanwhile. */
    pthread_mutex_lock(&job->mu);
    while (!job->done) {
        wait_job(job);
        if (!job->done && client_gone(c)) {
            pthread_mutex_unlock(&job->mu);
            serve_sched_cancel(h->sched, job);
            log_request(h, method, url, 499, job);
            serve_job_release(job);
            return MHD_NO;
        }
    }
    pthread_mutex_unlock(&job->mu);
    enum MHD_Result ok;
    if (job->failed) {
        ok = send_error(h, c, method, url, &job->error, NULL);
    } else {
        char *body = serve_resp_final(&rc, job);
        log_request(h, method, url, body ? 200 : 500, job);
        ok = body ? send_body(c, MHD_HTTP_OK, "application/json", body, NULL)
                  : error_at(h, c, method, url, 500, "server_error", NULL, "out of memory");
        free(body);
    }
    serve_job_release(job);
    return ok;
}

/* ---- GET endpoints ---- */

static enum MHD_Result handle_health(serve_http *h, struct MHD_Connection *c, const char *method, const char *url) {
    int state = atomic_load(&h->state);
    if (state != STATE_READY)
        return error_at(h, c, method, url, 503, "unavailable_error", state == STATE_LOADING ? "loading" : "shutting_down",
                        state == STATE_LOADING ? "the model is loading" : "the server is shutting down");
    serve_sched_stats st;
    serve_sched_get_stats(h->sched, &st);
    char body[256];
    snprintf(body, sizeof body,
             "{\"status\":\"ok\",\"slots_processing\":%u,\"slots_idle\":%u,\"queued\":%u,"
             "\"requests_done\":%llu,\"tokens_generated\":%llu}",
             st.slots_busy, st.n_slots - st.slots_busy, st.queued, (unsigned long long)st.requests_done,
             (unsigned long long)st.tokens_generated);
    log_request(h, method, url, 200, NULL);
    return send_body(c, MHD_HTTP_OK, "application/json", body, NULL);
}

static enum MHD_Result handle_models(serve_http *h, struct MHD_Connection *c, const char *method, const char *url) {
    char *name = serve_utf8_sanitize(h->o.model_name, strlen(h->o.model_name), NULL);
    json_t *m = json_object(), *data = json_array(), *root = json_object();
    json_object_set_new(m, "id", json_string(name ? name : "model"));
    json_object_set_new(m, "object", json_string("model"));
    json_object_set_new(m, "created", json_integer(h->started));
    json_object_set_new(m, "owned_by", json_string("vkgpt"));
    json_array_append_new(data, m);
    json_object_set_new(root, "object", json_string("list"));
    json_object_set_new(root, "data", data);
    char *body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    free(name);
    log_request(h, method, url, 200, NULL);
    enum MHD_Result ok = send_body(c, MHD_HTTP_OK, "application/json", body ? body : "{}", NULL);
    free(body);
    return ok;
}

/* ---- routing ---- */

typedef enum route { R_NONE, R_HEALTH, R_MODELS, R_COMPLETIONS, R_CHAT } route;

static route find_route(const char *url, const char **allow) {
    static const struct { const char *path; route r; const char *method; } routes[] = {
        {"/health", R_HEALTH, "GET"},
        {"/v1/health", R_HEALTH, "GET"},
        {"/v1/models", R_MODELS, "GET"},
        {"/v1/completions", R_COMPLETIONS, "POST"},
        {"/v1/chat/completions", R_CHAT, "POST"},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(url, routes[i].path) == 0) {
            *allow = routes[i].method;
            return routes[i].r;
        }
    return R_NONE;
}

/* Compare without an early exit, so the time taken does not say how much of the key matched. */
static bool key_equal(const char *given, const char *key) {
    size_t gl = strlen(given), kl = strlen(key);
    unsigned char diff = gl != kl;
    for (size_t i = 0; i < kl; i++)
        diff |= (unsigned char)key[i] ^ (unsigned char)(i < gl ? given[i] : 0);
    return diff == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    serve_http *h = cls;
    conn_state *cs = *con_cls;
    if (!cs) { /* first call: headers only. Refuse what needs no body before reading one. */
        if (!(cs = calloc(1, sizeof *cs)))
            return MHD_NO;
        *con_cls = cs;
        if (h->o.api_key) {
            const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
            if (!auth || strncmp(auth, "Bearer ", 7) != 0 || !key_equal(auth + 7, h->o.api_key))
                return error_at(h, c, method, url, 401, "authentication_error", "invalid_api_key",
                                "missing or wrong API key: send 'Authorization: Bearer <key>'");
        }
        const char *allow = NULL;
        route r = find_route(url, &allow);
        if (r == R_NONE) {
            char msg[300];
            snprintf(msg, sizeof msg, "no such endpoint: %.200s", url);
            return error_at(h, c, method, url, 404, "invalid_request_error", "not_found", msg);
        }
        if (strcmp(method, allow) != 0) {
            serve_error e;
            serve_error_set(&e, 405, "invalid_request_error", "method_not_allowed", NULL, "%.200s takes %s, not %.20s",
                            url, allow, method);
            return send_error(h, c, method, url, &e, allow);
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > h->o.max_body) {
            serve_error e;
            serve_error_set(&e, 413, "invalid_request_error", "body_too_large", NULL,
                            "the body has %s bytes; this server takes at most %zu (--max-body)", cl, h->o.max_body);
            return send_error(h, c, method, url, &e, NULL);
        }
        return MHD_YES;
    }
    if (*upload_size) { /* a piece of the body */
        if (cs->too_large || cs->len + *upload_size > h->o.max_body) {
            cs->too_large = true; /* chunked bodies have no Content-Length: counted here */
        } else {
            if (cs->len + *upload_size > cs->cap) {
                size_t cap = cs->cap ? cs->cap : 4096;
                while (cap < cs->len + *upload_size)
                    cap *= 2;
                char *grown = realloc(cs->body, cap);
                if (!grown)
                    return MHD_NO;
                cs->body = grown;
                cs->cap = cap;
            }
            memcpy(cs->body + cs->len, upload, *upload_size);
            cs->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    /* the whole request is here */
    if (cs->too_large) {
        serve_error e;
        serve_error_set(&e, 413, "invalid_request_error", "body_too_large", NULL,
                        "the body is larger than %zu bytes (--max-body)", h->o.max_body);
        return send_error(h, c, method, url, &e, NULL);
    }
    const char *allow = NULL;
    route r = find_route(url, &allow);
    if (r == R_HEALTH)
        return handle_health(h, c, method, url);
    int state = atomic_load(&h->state);
    if (state != STATE_READY)
        return error_at(h, c, method, url, 503, "unavailable_error", state == STATE_LOADING ? "loading" : "shutting_down",
                        state == STATE_LOADING ? "the model is loading; retry when /health answers 200"
                                               : "the server is shutting down");
    if (r == R_MODELS)
        return handle_models(h, c, method, url);
    return handle_generate(h, c, method, url, r == R_CHAT ? SERVE_CHAT : SERVE_COMPLETIONS, cs);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    (void)toe;
    conn_state *cs = *con_cls;
    if (cs) {
        free(cs->body);
        free(cs);
    }
    *con_cls = NULL;
}

int serve_http_start(const serve_http_options *o, serve_http **out, uint16_t *port) {
    *out = NULL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%u", o->port);
    int gai = getaddrinfo(o->host, port_s, &hints, &ai);
    if (gai != 0) {
        fprintf(stderr, "vkgpt serve: --host %s: %s\n", o->host, gai_strerror(gai));
        return -1;
    }
    serve_http *h = calloc(1, sizeof *h);
    if (!h) {
        freeaddrinfo(ai);
        return -1;
    }
    h->o = *o;
    h->started = unix_now();
    atomic_init(&h->state, STATE_LOADING);
    atomic_init(&h->counter, 0);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
                     MHD_USE_ERROR_LOG | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    h->daemon = MHD_start_daemon(flags, o->port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                 MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s, MHD_OPTION_NOTIFY_COMPLETED,
                                 on_completed, h, MHD_OPTION_CONNECTION_LIMIT, 1000u, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->daemon) {
        fprintf(stderr, "vkgpt serve: cannot listen on %s port %u: %s\n", o->host, o->port,
                errno ? strerror(errno) : "libmicrohttpd refused to start");
        free(h);
        return -1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    *port = di ? di->port : o->port;
    *out = h;
    return 0;
}

void serve_http_set_ready(serve_http *h, serve_engine *e, serve_sched *s, uint32_t n_ctx) {
    h->engine = e;
    h->sched = s;
    h->n_ctx = n_ctx;
    serve_engine_get_info(e, &h->info);
    atomic_store(&h->state, STATE_READY);
}

void serve_http_quiesce(serve_http *h) {
    atomic_store(&h->state, STATE_STOPPING);
}

void serve_http_stop(serve_http *h) {
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
