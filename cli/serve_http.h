/*
 * cli/serve_http.h — the HTTP front end of `vkgpt serve` on libmicrohttpd: routing, the API key,
 * body limits, OpenAI-shaped JSON and Server-Sent-Event responses. It turns requests into
 * serve_jobs for the scheduler and streams what comes back; it knows nothing of Vulkan or the graph,
 * and reaches the library only through serve_engine.h (tokenizing prompts, token text).
 */
#ifndef VKG_CLI_SERVE_HTTP_H
#define VKG_CLI_SERVE_HTTP_H

#include "serve_engine.h"
#include "serve_sched.h"

#include <stddef.h>
#include <stdint.h>

typedef struct serve_http_options {
    const char *host;        /* numeric address or name to bind (default 127.0.0.1) */
    uint16_t port;           /* 0: any free port (serve_http_start says which) */
    const char *api_key;     /* NULL: no authentication */
    const char *model_name;  /* the "model" of responses and /v1/models */
    size_t max_body;         /* bytes; larger bodies get 413 */
    unsigned timeout_s;      /* idle connection timeout */
    bool quiet;              /* no per-request log line on stderr */
} serve_http_options;

typedef struct serve_http serve_http;

/* Bind and start answering: /health says 503 (loading) until serve_http_set_ready. *port receives
 * the bound port. Returns 0, or -1 after printing why on stderr. */
int serve_http_start(const serve_http_options *o, serve_http **out, uint16_t *port);
/* The model is loaded: serve requests with these (which outlive serve_http_stop). */
void serve_http_set_ready(serve_http *h, serve_engine *e, serve_sched *s, uint32_t n_ctx);
/* Refuse new work (503) from now on; running requests continue until their jobs end. */
void serve_http_quiesce(serve_http *h);
/* Close every connection and free the server (call after serve_sched_stop, which ends all jobs). */
void serve_http_stop(serve_http *h);

#endif /* VKG_CLI_SERVE_HTTP_H */
