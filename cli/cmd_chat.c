/*
 * cli/cmd_chat.c — `vkgpt chat`: a multi-turn conversation on the terminal in the model's own chat
 * template. Each turn renders the whole conversation, tokenizes it, and prefills only what is not
 * already in the KV cache (the longest common prefix with the tokens the cache holds, so a template
 * that re-renders earlier turns differently still gives exactly the tokens a fresh run would see).
 * The reply streams until an end-of-turn token, -n tokens or a full context. One line of stdin per
 * user turn, so it works over a pipe; /reset starts over; Ctrl-C stops the reply and keeps the
 * conversation.
 */
#include "cli.h"
#include "options.h"
#include "progress.h"
#include "setup.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

typedef struct chat_opts {
    gen_args gen;              /* model, storage, context, sampling, -n, -q (shared with run) */
    const char *template_file, *system;
    bool ids;
} chat_opts;

typedef struct chat {
    const chat_opts *o;
    vkg_model *model;
    vkg_session *session;
    vkg_tokenizer *tok;
    vkg_template *tmpl;
    vkg_detok *detok;
    vkg_sampler *sampler;
    json_t *messages;
    int32_t *cache;     /* the tokens the KV cache holds */
    uint32_t n_cache;
    float *logits;
} chat;

static void print_help(void) {
    printf("usage: vkgpt chat (-m PATH | --config NAME --tokenizer DIR) [options]\n\n"
           "A conversation in the model's chat template: one line of stdin per user turn (a pipe works), the\n"
           "reply streamed to stdout. Each turn prefills only what the KV cache does not already hold.\n"
           "  /reset     start a new conversation        /exit    leave (as does the end of stdin)\n"
           "Ctrl-C stops the current reply and keeps the conversation.\n\n"
           "model:\n"
           "  -m, --model PATH       model directory (config.json, safetensors, tokenizer files) or .gguf file\n"
           "  --config NAME          synthetic model (random weights: the replies are noise), see `vkgpt run --help`\n"
           "  --tokenizer DIR        tokenizer and template files (default: the model's directory)\n"
           "  --chat-template FILE   Jinja template to use instead of the model's\n"
           "  --dtype f32|f16|bf16|auto, --quant FORMAT, --kv-dtype f32|f16, -c/--ctx-size N, --device I: as `vkgpt run`\n"
           "conversation:\n"
           "  --system TEXT          a system message first\n"
           "  -n, --n-predict N      most tokens per reply (default 512)\n"
           "  --temp T, --top-k K, --top-p P, --min-p P, --repeat-penalty R, --seed S: sampling as `vkgpt run`\n"
           "                         (default: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05)\n"
           "output:\n"
           "  --ids                  print each reply's token ids instead of its text\n"
           "  -q, --quiet            no statistics or notes on stderr\n");
}

static int parse(int argc, char **argv, chat_opts *o) {
    const char *cmd = "chat";
    *o = (chat_opts){.gen = gen_args_defaults(512)};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int shared = gen_args_option(cmd, argc, argv, &i, &o->gen);
        if (shared == CLI_USAGE)
            return CLI_USAGE;
#define VALUE() do { if (opt_value(cmd, argc, argv, &i, &v)) return CLI_USAGE; } while (0)
        if (shared) continue;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) return CLI_HELP;
        else if (!strcmp(a, "--chat-template")) { VALUE(); o->template_file = v; }
        else if (!strcmp(a, "--system")) { VALUE(); o->system = v; }
        else if (!strcmp(a, "--ids")) o->ids = true;
        else return cli_usage_error(cmd, "unknown option '%s'", a);
#undef VALUE
    }
    if (!o->gen.model.path && !o->gen.model.config)
        return cli_usage_error(cmd, "no model: give -m PATH or --config NAME");
    if (o->gen.model.path && o->gen.model.config)
        return cli_usage_error(cmd, "-m and --config both given: choose one model");
    if (o->gen.model.config && !o->gen.tokenizer_dir)
        return cli_usage_error(cmd, "a synthetic model has no tokenizer or template: give --tokenizer DIR");
    return CLI_OK;
}

int cmd_chat_parse(int argc, char **argv) {
    chat_opts o;
    return parse(argc, argv, &o);
}

static bool greedy_on_device(const chat *c) { return cli_greedy_on_device(&c->o->gen.sampling); }

static bool ends_turn(const chat *c, int32_t id) { return cli_ends_sequence(c->model, c->tok, id); }

static vkg_status next_token(chat *c, int32_t *out) {
    if (greedy_on_device(c)) {
        *out = vkg_session_argmax(c->session);
        return VKG_OK;
    }
    vkg_status s = vkg_session_logits(c->session, c->logits);
    if (s != VKG_OK)
        return s;
    return vkg_sampler_sample(c->sampler, c->logits, vkg_model_get_config(c->model)->vocab_size, c->cache,
                              c->n_cache, out);
}

static bool add_message(json_t *messages, const char *role, const char *content, size_t len) {
    json_t *m = json_pack("{s:s, s:s%}", "role", role, "content", content, len);
    return m && json_array_append_new(messages, m) == 0;
}

static void start_over(chat *c) {
    json_array_clear(c->messages);
    if (c->o->system)
        add_message(c->messages, "system", c->o->system, strlen(c->o->system));
    vkg_session_reset(c->session);
    c->n_cache = 0;
}

/* Render the conversation with the assistant's header, tokenize it (the template writes its special
 * tokens as text), and bring the cache up to it. *fits is false when it does not fit the context. */
static vkg_status prepare_prompt(chat *c, uint32_t *reused, uint32_t *fed, bool *fits) {
    char *msgs = json_dumps(c->messages, JSON_COMPACT | JSON_ENSURE_ASCII);
    char *prompt = NULL;
    size_t len = 0, n = 0;
    int32_t *ids = NULL;
    vkg_status s = msgs ? vkg_template_apply(c->tmpl, msgs, NULL, true, NULL, NULL, &prompt, &len)
                        : VKG_ERROR_OUT_OF_HOST_MEMORY;
    if (s == VKG_OK)
        s = vkg_tokenizer_encode(c->tok, prompt, len, false, &ids, &n);
    uint32_t ctx = vkg_session_ctx(c->session);
    *fits = s == VKG_OK && n < ctx;
    if (s == VKG_OK && *fits && n > 0) {
        uint32_t lcp = 0;
        while (lcp < c->n_cache && lcp < n && c->cache[lcp] == ids[lcp])
            lcp++;
        if (lcp == n) /* the whole prompt is cached: feed its last token again for its logits */
            lcp--;
        s = vkg_session_truncate(c->session, lcp);
        if (s == VKG_OK)
            s = cli_prefill(c->session, ids + lcp, (uint32_t)(n - lcp));
        if (s == VKG_OK) {
            memcpy(c->cache + lcp, ids + lcp, (n - lcp) * sizeof *ids);
            c->n_cache = (uint32_t)n;
            *reused = lcp;
            *fed = (uint32_t)(n - lcp);
        } else {
            c->n_cache = vkg_session_pos(c->session) < lcp ? vkg_session_pos(c->session) : lcp;
        }
    } else if (s == VKG_OK && !*fits) {
        *fed = (uint32_t)n; /* for the message: what the conversation would need */
    }
    free(ids);
    free(prompt);
    free(msgs);
    return s;
}

/* Generate and stream the reply; its tokens (without the end-of-turn token) go to *reply. */
static vkg_status reply(chat *c, int32_t *reply_ids, uint32_t *n_reply, bool *context_full) {
    uint32_t ctx = vkg_session_ctx(c->session);
    *n_reply = 0;
    *context_full = false;
    vkg_session_want_logits(c->session, !greedy_on_device(c));
    for (uint32_t i = 0; i < c->o->gen.n_predict && !interrupted; i++) {
        int32_t next;
        vkg_status s = next_token(c, &next);
        if (s != VKG_OK)
            return s;
        if (ends_turn(c, next))
            break;
        reply_ids[(*n_reply)++] = next;
        if (c->o->ids) {
            printf("%s%d", *n_reply > 1 ? " " : "", next);
        } else if (!vkg_tokenizer_is_special(c->tok, next)) {
            const char *text;
            size_t len;
            if (vkg_detok_push(c->detok, next, &text, &len) == VKG_OK)
                fwrite(text, 1, len, stdout);
        }
        fflush(stdout);
        if (vkg_session_pos(c->session) + 1 >= ctx) {
            *context_full = true;
            break;
        }
        if ((s = vkg_session_step(c->session, next)) != VKG_OK)
            return s;
        c->cache[c->n_cache++] = next;
    }
    if (!c->o->ids) {
        const char *text;
        size_t len;
        if (vkg_detok_flush(c->detok, &text, &len) == VKG_OK)
            fwrite(text, 1, len, stdout);
    }
    putchar('\n');
    fflush(stdout);
    return VKG_OK;
}

static int turn(chat *c, const char *line, size_t len, int32_t *reply_ids) {
    if (!add_message(c->messages, "user", line, len))
        return cli_report("chat", VKG_ERROR_OUT_OF_HOST_MEMORY);
    uint32_t reused = 0, fed = 0, n_reply = 0;
    bool fits = true, full = false;
    double t0 = vkg_bench_now();
    vkg_status s = prepare_prompt(c, &reused, &fed, &fits);
    if (s != VKG_OK) {
        json_array_remove(c->messages, json_array_size(c->messages) - 1);
        return cli_report("chat", s);
    }
    if (!fits) {
        json_array_remove(c->messages, json_array_size(c->messages) - 1);
        fprintf(stderr, "vkgpt chat: the context is full: the conversation needs %u tokens and the context holds "
                "%u (-c/--ctx-size); /reset starts a new one\n", fed, vkg_session_ctx(c->session));
        return CLI_OK;
    }
    double t1 = vkg_bench_now();
    s = reply(c, reply_ids, &n_reply, &full);
    double t2 = vkg_bench_now();
    if (s != VKG_OK)
        return cli_report("chat", s);
    char *text = NULL;
    size_t text_len = 0;
    if ((s = vkg_tokenizer_decode(c->tok, reply_ids, n_reply, true, &text, &text_len)) != VKG_OK)
        return cli_report("chat", s);
    bool ok = add_message(c->messages, "assistant", text, text_len);
    free(text);
    if (!ok)
        return cli_report("chat", VKG_ERROR_OUT_OF_HOST_MEMORY);
    if (!c->o->gen.quiet)
        fprintf(stderr, "vkgpt: prefilled %u tokens in %.2f s, %u reused from the KV cache | reply %u tokens in "
                "%.2f s (%.1f tok/s) | context %u/%u%s\n", fed, t1 - t0, reused, n_reply, t2 - t1,
                t2 > t1 ? n_reply / (t2 - t1) : 0.0, vkg_session_pos(c->session), vkg_session_ctx(c->session),
                interrupted ? " | stopped (Ctrl-C)" : "");
    if (full)
        fprintf(stderr, "vkgpt chat: the context is full (%u positions): the reply was cut; /reset starts a new "
                "conversation\n", vkg_session_ctx(c->session));
    return CLI_OK;
}

static int loop(chat *c) {
    char *line = NULL;
    size_t cap = 0;
    bool tty = isatty(STDIN_FILENO);
    int32_t *reply_ids = malloc((size_t)c->o->gen.n_predict * sizeof *reply_ids);
    int rc = reply_ids ? CLI_OK : cli_report("chat", VKG_ERROR_OUT_OF_HOST_MEMORY);
    while (rc == CLI_OK) {
        if (tty)
            fputs("> ", stderr);
        interrupted = 0;
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0)
            break;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n == 0)
            continue;
        if (!strcmp(line, "/exit") || !strcmp(line, "/quit"))
            break;
        if (!strcmp(line, "/reset")) {
            start_over(c);
            if (!c->o->gen.quiet)
                fprintf(stderr, "vkgpt: a new conversation\n");
            continue;
        }
        rc = turn(c, line, (size_t)n, reply_ids);
    }
    free(reply_ids);
    free(line);
    return rc;
}

int cmd_chat(int argc, char **argv) {
    chat_opts o;
    int rc = parse(argc, argv, &o);
    if (rc != CLI_OK) {
        if (rc == CLI_HELP)
            print_help();
        return rc == CLI_HELP ? CLI_OK : rc;
    }
    if (o.gen.model.path && (rc = cli_check_model("chat", o.gen.model.path)) != CLI_OK)
        return rc;
    chat c = {.o = &o};
    vkg_context *ctx = NULL;
    char buf[4096];
    const char *dir = cli_tokenizer_dir(o.gen.model.path, o.gen.tokenizer_dir, buf, sizeof buf);
    vkg_status s = vkg_tokenizer_load(dir, &c.tok);
    if (s != VKG_OK) {
        rc = cli_report("chat: loading the tokenizer", s);
        goto done;
    }
    if ((s = vkg_template_load(dir, o.template_file, &c.tmpl)) != VKG_OK) {
        rc = cli_report("chat: loading the chat template (--chat-template FILE gives one)", s);
        goto done;
    }
    if ((rc = setup_model("chat", &o.gen.model, &ctx, &c.model)) != CLI_OK)
        goto done;
    vkg_session_options so = vkg_session_default_options();
    so.kv = o.gen.kv_dtype ? VKG_PRECISION_F16 : VKG_PRECISION_F32;
    so.n_ctx = o.gen.n_ctx;
    uint32_t V = vkg_model_get_config(c.model)->vocab_size;
    if ((s = vkg_session_create(c.model, &so, &c.session)) == VKG_OK &&
        (s = vkg_sampler_create(&o.gen.sampling, V, &c.sampler)) == VKG_OK)
        s = vkg_detok_create(c.tok, &c.detok);
    c.messages = json_array();
    c.cache = s == VKG_OK ? malloc(((size_t)vkg_session_ctx(c.session) + 1) * sizeof *c.cache) : NULL;
    c.logits = malloc((size_t)V * sizeof *c.logits);
    if (s == VKG_OK && (!c.messages || !c.cache || !c.logits))
        s = VKG_ERROR_OUT_OF_HOST_MEMORY;
    if (s != VKG_OK) {
        rc = cli_report("chat", s);
        goto done;
    }
    start_over(&c);
    signal(SIGINT, on_sigint);
    rc = loop(&c);
done:
    signal(SIGINT, SIG_DFL);
    json_decref(c.messages);
    free(c.cache);
    free(c.logits);
    vkg_detok_destroy(c.detok);
    vkg_sampler_destroy(c.sampler);
    vkg_session_free(c.session);
    vkg_model_free(c.model);
    vkg_context_destroy(ctx);
    vkg_template_free(c.tmpl);
    vkg_tokenizer_free(c.tok);
    return rc;
}
