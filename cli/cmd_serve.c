/*
 * cli/cmd_serve.c — `vkgpt serve`: options, start-up order and shutdown of the OpenAI-compatible
 * HTTP server. The port is bound first and /health answers 503 while the model loads; then the
 * scheduler's slots are created and requests are served until SIGINT/SIGTERM. Not here: HTTP
 * (serve_http.c), scheduling (serve_sched.c), the library (serve_engine.c).
 */
#include "cli.h"
#include "options.h"
#include "serve_engine.h"
#include "serve_http.h"
#include "serve_sched.h"
#include "setup.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct serve_opts {
    serve_engine_options engine;
    serve_http_options http;
    serve_sched_options sched;
    const char *chat_template_path;
    const char *alias;
    uint32_t ctx_size;
} serve_opts;

static void print_help(void) {
    printf("usage: vkgpt serve (-m PATH | --config NAME) [options]\n\n"
           "An OpenAI-compatible HTTP server: GET /health, GET /v1/models, POST /v1/completions,\n"
           "POST /v1/chat/completions. Stops on SIGINT/SIGTERM.\n\n"
           "model:\n"
           "  -m, --model PATH       Hugging Face GPT-2 directory or .safetensors file\n"
           "  --config NAME          synthetic model instead: gpt-nano, gpt-mini, gpt2, ... (random weights)\n"
           "  --tokenizer DIR        tokenizer files (default: the model's directory; without them only\n"
           "                         token-id prompts work)\n"
           "  --dtype f32|f16|bf16|auto  weight storage (default auto: as the checkpoint stores it)\n"
           "  --quant FORMAT         quantize the linear layers at load: q8_0, q6_k, q5_k, q4_k, q4_0\n"
           "  --kv-dtype f32|f16     KV cache storage (default f32)\n"
           "  --device I             Vulkan device index (default: $VKG_DEVICE, else the first discrete GPU)\n"
           "  --chat-template FILE   chat template for /v1/chat/completions when the model has none\n"
           "  --alias NAME           the model's name in responses and /v1/models (default: the path or config)\n"
           "server:\n"
           "  --host ADDR            address to bind (default 127.0.0.1: this machine only)\n"
           "  --port N               TCP port; 0 = any free one, printed at start (default 8080)\n"
           "  --api-key KEY          require 'Authorization: Bearer KEY' on every request (401 otherwise)\n"
           "  --parallel N           slots: sequences decoded together in one batched step, each with its own KV\n"
           "                         cache (default 4, at most 64)\n"
           "  --queue N              requests waiting for a slot beyond that; more get 503 (default 64)\n"
           "  --ctx-size N           tokens per sequence, prompt + generated (default: the model's context)\n"
           "  --prefill-chunk N      prompt tokens per prefill pass, interleaved with decode steps (default 128)\n"
           "  --max-body BYTES       largest request body; larger get 413 (default 4194304)\n"
           "  --timeout S            close connections idle for S seconds (default 600)\n"
           "  -q, --quiet            no log line per request on stderr\n");
}

static int parse(int argc, char **argv, serve_opts *o) {
    const char *cmd = "serve";
    *o = (serve_opts){
        .engine = {.device = -1, .dtype = VKG_PRECISION_AUTO},
        .http = {.host = "127.0.0.1", .port = 8080, .max_body = 4u << 20, .timeout_s = 600},
        .sched = {.n_slots = 4, .queue_len = 64, .prefill_chunk = 128},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        uint32_t u = 0;
        uint64_t u64 = 0;
#define VALUE() do { if (opt_value(cmd, argc, argv, &i, &v)) return CLI_USAGE; } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return CLI_HELP;
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VALUE(); o->engine.model_path = v; }
        else if (!strcmp(a, "--config")) { VALUE(); o->engine.config = v; }
        else if (!strcmp(a, "--tokenizer")) { VALUE(); o->engine.tokenizer_dir = v; }
        else if (!strcmp(a, "--dtype")) { VALUE(); if (opt_weights(cmd, a, v, &o->engine.dtype)) return CLI_USAGE; }
        else if (!strcmp(a, "--quant")) { VALUE(); if (opt_quant(cmd, a, v, &o->engine.quant)) return CLI_USAGE; }
        else if (!strcmp(a, "--kv-dtype")) { VALUE(); if (opt_precision(cmd, a, v, &o->engine.kv_dtype)) return CLI_USAGE; }
        else if (!strcmp(a, "--device")) { VALUE(); if (opt_u32(cmd, a, v, 0, 1024, &u)) return CLI_USAGE; o->engine.device = (int)u; }
        else if (!strcmp(a, "--chat-template")) { VALUE(); o->chat_template_path = v; }
        else if (!strcmp(a, "--alias")) { VALUE(); if (!*v) return cli_usage_error(cmd, "--alias: empty name"); o->alias = v; }
        else if (!strcmp(a, "--host")) { VALUE(); o->http.host = v; }
        else if (!strcmp(a, "--port")) { VALUE(); if (opt_u32(cmd, a, v, 0, 65535, &u)) return CLI_USAGE; o->http.port = (uint16_t)u; }
        else if (!strcmp(a, "--api-key")) { VALUE(); if (!*v) return cli_usage_error(cmd, "--api-key: empty key"); o->http.api_key = v; }
        else if (!strcmp(a, "--parallel")) { VALUE(); if (opt_u32(cmd, a, v, 1, VKG_BATCH_MAX, &o->sched.n_slots)) return CLI_USAGE; }
        else if (!strcmp(a, "--queue")) { VALUE(); if (opt_u32(cmd, a, v, 1, 1u << 16, &o->sched.queue_len)) return CLI_USAGE; }
        else if (!strcmp(a, "--ctx-size")) { VALUE(); if (opt_u32(cmd, a, v, 1, 1u << 24, &o->ctx_size)) return CLI_USAGE; }
        else if (!strcmp(a, "--prefill-chunk")) { VALUE(); if (opt_u32(cmd, a, v, 1, 1u << 16, &o->sched.prefill_chunk)) return CLI_USAGE; }
        else if (!strcmp(a, "--max-body")) { VALUE(); if (opt_u64(cmd, a, v, &u64)) return CLI_USAGE; if (u64 < 64 || u64 > (1ull << 32)) return cli_usage_error(cmd, "--max-body: %s is outside 64..4294967296", v); o->http.max_body = (size_t)u64; }
        else if (!strcmp(a, "--timeout")) { VALUE(); if (opt_u32(cmd, a, v, 1, 86400, &u)) return CLI_USAGE; o->http.timeout_s = u; }
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) o->http.quiet = true;
        else return cli_usage_error(cmd, "unknown option '%s'", a);
#undef VALUE
    }
    if (!o->engine.model_path && !o->engine.config)
        return cli_usage_error(cmd, "no model: give -m PATH or --config NAME");
    if (o->engine.model_path && o->engine.config)
        return cli_usage_error(cmd, "-m and --config both given: choose one model");
    return CLI_OK;
}

int cmd_serve_parse(int argc, char **argv) {
    serve_opts o;
    return parse(argc, argv, &o);
}

/* The model's name: --alias, else the path without its directories, else the config name. */
static void model_name(const serve_opts *o, char *buf, size_t n) {
    if (o->alias) {
        snprintf(buf, n, "%s", o->alias);
        return;
    }
    if (!o->engine.model_path) {
        snprintf(buf, n, "%s", o->engine.config);
        return;
    }
    snprintf(buf, n, "%s", o->engine.model_path);
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = 0;
    const char *slash = strrchr(buf, '/');
    if (slash && slash[1])
        memmove(buf, slash + 1, strlen(slash + 1) + 1);
}

int cmd_serve(int argc, char **argv) {
    serve_opts o;
    int rc = parse(argc, argv, &o);
    if (rc != CLI_OK) {
        if (rc == CLI_HELP)
            print_help();
        return rc == CLI_HELP ? CLI_OK : rc;
    }
    char *template_text = NULL;
    if (o.chat_template_path) {
        size_t len = 0;
        if (!(template_text = cli_read_file(o.chat_template_path, &len))) {
            fprintf(stderr, "vkgpt serve: cannot read --chat-template file '%s'\n", o.chat_template_path);
            return CLI_FAILED;
        }
        o.engine.chat_template = template_text;
    }
    char name[256];
    model_name(&o, name, sizeof name);
    o.http.model_name = name;

    /* Every thread started from here on inherits this mask: SIGINT/SIGTERM reach only sigwait below.
     * A client that disconnects must not kill the server with SIGPIPE. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    serve_http *http = NULL;
    serve_engine *engine = NULL;
    serve_sched *sched = NULL;
    uint16_t port = 0;
    if (serve_http_start(&o.http, &http, &port)) {
        free(template_text);
        return CLI_FAILED;
    }
    fprintf(stderr, "vkgpt serve: listening on http://%s:%u (loading the model)\n", o.http.host, port);
    o.engine.ctx_size = o.ctx_size;
    if (serve_engine_open(&o.engine, &engine)) {
        fprintf(stderr, "vkgpt serve: %s\n", serve_engine_last_error());
        rc = CLI_FAILED;
        goto done;
    }
    serve_engine_info info;
    serve_engine_get_info(engine, &info);
    o.sched.n_ctx = o.ctx_size ? o.ctx_size : info.n_positions < 4096 ? info.n_positions : 4096;
    if (o.sched.n_ctx > info.n_positions) {
        fprintf(stderr, "vkgpt serve: --ctx-size %u is larger than the model's context of %u positions\n",
                o.sched.n_ctx, info.n_positions);
        rc = CLI_USAGE;
        goto done;
    }
    if (serve_sched_create(engine, &o.sched, &sched)) {
        fprintf(stderr, "vkgpt serve: creating %u slots: %s\n", o.sched.n_slots, serve_engine_last_error());
        rc = CLI_FAILED;
        goto done;
    }
    serve_http_set_ready(http, engine, sched, o.sched.n_ctx);
    fprintf(stderr, "vkgpt serve: ready: model %s, %u slots x %u tokens, queue %u%s\n", name, o.sched.n_slots,
            o.sched.n_ctx, o.sched.queue_len, info.has_tokenizer ? "" : " (no tokenizer: token-id prompts only)");
    int sig = 0;
    sigwait(&stop_signals, &sig);
    fprintf(stderr, "vkgpt serve: %s: shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
done:
    /* Order: refuse new work, end every job (which wakes the connection threads waiting on them),
     * close the connections, then free the slots and the model. */
    serve_http_quiesce(http);
    if (sched)
        serve_sched_stop(sched);
    serve_http_stop(http);
    serve_sched_destroy(sched);
    serve_engine_close(engine);
    free(template_text);
    return rc;
}
