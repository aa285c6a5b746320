/*
 * cli/cmd_run.c — `vkgpt run`: prompt in, tokens streamed out, a timing summary on stderr; with -i a
 * chat-like loop that keeps its KV cache across turns.
 */
#include "cli.h"
#include "options.h"
#include "progress.h"
#include "setup.h"
#include "stop_text.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;

#define TRY(expr)                     \
    do {                              \
        vkg_status try_s_ = (expr);   \
        if (try_s_ != VKG_OK)         \
            return try_s_;            \
    } while (0)

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

typedef struct run_opts {
    gen_args gen;              /* model, storage, context, sampling, -n, -q (shared with chat) */
    const char *prompt, *prompt_file, *dump_logits;
    int32_t *prompt_ids;
    uint32_t n_prompt_ids;
    bool ids, ignore_eos, interactive, no_kv_cache;
    const char *stops[16];     /* --stop STRING, repeatable */
    uint32_t n_stops;
} run_opts;

typedef struct gen {
    const run_opts *o;
    vkg_model *model;
    vkg_session *session;
    vkg_tokenizer *tok;
    vkg_detok *detok;
    vkg_sampler *sampler;
    FILE *dump;
    float *logits;
    int32_t *history;      /* every token of the sequence, prompt and generated */
    uint32_t n_history;
    int32_t pending;       /* generated last but not yet fed to the model (-1: none) */
    bool printed_ids;
    stop_text stop;        /* --stop strings over the streamed text */
    bool stopped;          /* a stop string completed this turn */
    /* statistics of the last turn */
    uint32_t prompt_tokens, reused, generated;
    double prompt_s, gen_s;
    bool context_full;
} gen;

static void print_help(void) {
    printf("usage: vkgpt run (-m PATH | --config NAME) [options]\n\n"
           "Generates text from a prompt, streaming tokens to stdout.\n\n"
           "model:\n"
           "  -m, --model PATH       Hugging Face model directory (config.json + model.safetensors; GPT-2, Llama, Mistral,\n"
           "                         Qwen2, Qwen3) or a .safetensors file with config.json beside it\n"
           "  --config NAME          synthetic model (random weights) instead: gpt-nano, gpt-mini, gpt2, gpt2-medium,\n"
           "                         gpt2-large, gpt2-xl, llama-nano, tinyllama-1.1b, llama3.2-1b, qwen2.5-0.5b, qwen3-0.6b\n"
           "                         (random weights, so the text is noise; the GPT-2 shapes have 2048 positions where\n"
           "                         GPT-2 has 1024, so that `vkgpt bench kv` can measure the KV cache up to T = 1536)\n"
           "  --tokenizer DIR        tokenizer files (vocab.json + merges.txt, or tokenizer.json) (default: the model's directory; a .gguf file's own)\n"
           "  --dtype f32|f16|bf16|auto  weight storage on the device (default auto: as the checkpoint stores its\n"
           "                         matrices, bf16 and f16 kept as they are, anything else f32; synthetic: f32)\n"
           "  --quant q8_0|q6_k|q5_k|q4_k|q4_0  quantize the linear layers at load (round-to-nearest; the\n"
           "                         embedding stays in --dtype; GGUF files keep their own formats)\n"
           "  --kv-dtype f32|f16     KV cache storage (default f32)\n"
           "  -c, --ctx-size N       positions the KV cache holds (default: the model's context, at most 4096)\n"
           "  --no-kv-cache          recompute the whole sequence for every token (the uncached baseline)\n"
           "  --device I             Vulkan device index (default: $VKG_DEVICE, else the first discrete GPU; see `vkgpt devices`)\n"
           "prompt:\n"
           "  -p, --prompt TEXT      prompt text\n"
           "  -f, --file FILE        read the prompt from FILE\n"
           "  --prompt-ids IDS       prompt as token ids, e.g. 464,3290 (works without tokenizer files)\n"
           "  -i, --interactive      read further turns from stdin, one line each; the KV cache is kept across turns\n"
           "generation:\n"
           "  -n, --n-predict N      tokens to generate per turn (default 128)\n"
           "  --temp T               temperature; 0 = greedy, on the device (default 0.8)\n"
           "  --top-k K              keep the K most likely tokens; 0 = off (default 40)\n"
           "  --top-p P              nucleus sampling; 1 = off (default 0.95)\n"
           "  --min-p P              drop tokens below P x the most likely; 0 = off (default 0.05)\n"
           "  --repeat-penalty R     repetition penalty; 1 = off (default 1)\n"
           "  --seed S               sampling seed: same seed, model, device and options give the same tokens (default 0)\n"
           "  --ignore-eos           do not stop at the end-of-sequence tokens (config.json, generation_config.json\n"
           "                         and the tokenizer's end-of-turn tokens)\n"
           "  --stop STRING          stop when the text contains STRING (repeatable, up to 16; not printed)\n"
           "output:\n"
           "  --ids                  print generated token ids (space-separated, one line) instead of text\n"
           "  --dump-logits FILE     write raw little-endian float32 logits, one row of vocab_size per generated token\n"
           "  -q, --quiet            no timing summary, progress or notes on stderr\n"
           "Ctrl-C stops generation: the text so far stays, the summary is printed, exit status 130.\n");
}

static int parse(int argc, char **argv, run_opts *o) {
    const char *cmd = "run";
    *o = (run_opts){.gen = gen_args_defaults(128)};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int shared = gen_args_option(cmd, argc, argv, &i, &o->gen);
        if (shared == CLI_USAGE)
            return CLI_USAGE;
#define VALUE() do { if (opt_value(cmd, argc, argv, &i, &v)) return CLI_USAGE; } while (0)
        if (shared) continue;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) return CLI_HELP;
        else if (!strcmp(a, "--no-kv-cache")) o->no_kv_cache = true;
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) { VALUE(); o->prompt = v; }
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) { VALUE(); o->prompt_file = v; }
        else if (!strcmp(a, "--prompt-ids")) { VALUE(); free(o->prompt_ids); o->prompt_ids = NULL; if (opt_ids(cmd, a, v, &o->prompt_ids, &o->n_prompt_ids)) return CLI_USAGE; }
        else if (!strcmp(a, "-i") || !strcmp(a, "--interactive")) o->interactive = true;
        else if (!strcmp(a, "--ignore-eos")) o->ignore_eos = true;
        else if (!strcmp(a, "--stop")) {
            VALUE();
            if (!*v || o->n_stops == 16)
                return cli_usage_error(cmd, "--stop: give 1 to 16 non-empty strings");
            o->stops[o->n_stops++] = v;
        }
        else if (!strcmp(a, "--ids")) o->ids = true;
        else if (!strcmp(a, "--dump-logits")) { VALUE(); o->dump_logits = v; }
        else return cli_usage_error(cmd, "unknown option '%s'", a);
#undef VALUE
    }
    if (!o->gen.model.path && !o->gen.model.config)
        return cli_usage_error(cmd, "no model: give -m PATH or --config NAME");
    if (o->gen.model.path && o->gen.model.config)
        return cli_usage_error(cmd, "-m and --config both given: choose one model");
    int sources = !!o->prompt + !!o->prompt_file + !!o->prompt_ids;
    if (sources > 1)
        return cli_usage_error(cmd, "give only one of -p, -f and --prompt-ids");
    if (sources == 0 && !o->interactive)
        return cli_usage_error(cmd, "no prompt: give -p TEXT, -f FILE, --prompt-ids IDS or -i");
    return CLI_OK;
}


/* Print a generated token: its text (streamed through the UTF-8-safe decoder) or its id. */
static void emit(gen *g, int32_t id) {
    if (g->o->ids || !g->tok) {
        printf("%s%d", g->printed_ids ? " " : "", id);
        g->printed_ids = true;
    } else {
        const char *text;
        size_t len;
        if (vkg_detok_push(g->detok, id, &text, &len) == VKG_OK && stop_text_push(&g->stop, text, len, stdout))
            g->stopped = true;
    }
    fflush(stdout);
}

static void finish_output(gen *g) {
    if (g->o->ids || !g->tok) {
        if (g->printed_ids)
            putchar('\n');
        g->printed_ids = false;
    } else {
        const char *text;
        size_t len;
        if (g->stopped) {
            vkg_detok_flush(g->detok, &text, &len); /* what followed the stop string: dropped */
        } else {
            if (vkg_detok_flush(g->detok, &text, &len) == VKG_OK && stop_text_push(&g->stop, text, len, stdout))
                g->stopped = true;
            stop_text_flush(&g->stop, stdout);
        }
        stop_text_reset(&g->stop);
        putchar('\n');
    }
    fflush(stdout);
}

static bool is_eos(const gen *g, int32_t id) { return cli_ends_sequence(g->model, g->tok, id); }

static bool device_argmax(const gen *g) { return cli_greedy_on_device(&g->o->gen.sampling); }

/* The next token from the logits of the last position. */
static vkg_status choose(gen *g, int32_t *next) {
    const vkg_model_config *c = vkg_model_get_config(g->model);
    bool need_logits = !device_argmax(g) || g->dump;
    if (need_logits)
        TRY(vkg_session_logits(g->session, g->logits));
    if (g->dump) /* write errors surface at fflush/fclose, reported by cmd_run */
        fwrite(g->logits, sizeof(float), c->vocab_size, g->dump);
    if (device_argmax(g)) {
        *next = vkg_session_argmax(g->session);
        return VKG_OK;
    }
    return vkg_sampler_sample(g->sampler, g->logits, c->vocab_size, g->history, g->n_history, next);
}

/* One turn: feed the pending token and `prompt`, then generate up to n_predict tokens. */
static vkg_status turn(gen *g, const int32_t *prompt, uint32_t n_prompt) {
    g->prompt_tokens = g->generated = 0;
    g->prompt_s = g->gen_s = 0;
    g->reused = vkg_session_pos(g->session);
    g->context_full = false;
    g->stopped = false;
    uint32_t n_feed = n_prompt + (g->pending >= 0);
    if (n_feed == 0)
        return VKG_OK;
    if (vkg_session_pos(g->session) + n_feed > vkg_session_ctx(g->session)) {
        g->context_full = true;
        return VKG_OK;
    }
    /* The pending token is already the last of the history (it was recorded when generated):
     * feed it from there rather than appending it a second time, which let the history outgrow its
     * n_positions + 1 entries over a few interactive turns (found by ASan in test_cli_run). */
    int32_t *feed = g->history + g->n_history - (g->pending >= 0);
    memcpy(feed + (g->pending >= 0), prompt, n_prompt * sizeof *prompt);
    g->n_history += n_prompt;
    g->pending = -1;
    double t0 = vkg_bench_now();
    /* Cached: in pieces with progress (a long prompt takes minutes on a CPU device). Uncached, every
     * piece would recompute all those before it. */
    TRY(g->o->no_kv_cache ? vkg_session_prefill(g->session, feed, n_feed, NULL) : cli_prefill(g->session, feed, n_feed));
    g->prompt_s = vkg_bench_now() - t0;
    g->prompt_tokens = n_feed;
    vkg_session_want_logits(g->session, !device_argmax(g) || g->dump);

    double t1 = vkg_bench_now();
    for (uint32_t i = 0; i < g->o->gen.n_predict && !interrupted; i++) {
        int32_t next;
        TRY(choose(g, &next));
        if (is_eos(g, next) && !g->o->ignore_eos)
            break;
        emit(g, next);
        g->history[g->n_history++] = next;
        g->generated++;
        if (g->stopped || i + 1 == g->o->gen.n_predict) {
            g->pending = next; /* fed with the next turn, so the cache stays the whole sequence */
            break;
        }
        if (vkg_session_pos(g->session) == vkg_session_ctx(g->session)) {
            g->context_full = true;
            break;
        }
        TRY(vkg_session_step(g->session, next));
    }
    g->gen_s = vkg_bench_now() - t1;
    finish_output(g);
    return VKG_OK;
}

static void summary(const gen *g) {
    if (g->o->gen.quiet)
        return;
    uint32_t n_ctx = vkg_session_ctx(g->session);
    fprintf(stderr, "vkgpt: prompt %u tokens in %.3f s (%.1f tok/s)", g->prompt_tokens, g->prompt_s,
            g->prompt_s > 0 ? g->prompt_tokens / g->prompt_s : 0.0);
    if (g->reused)
        fprintf(stderr, ", %u reused from the KV cache", g->reused);
    uint32_t steps = g->generated > 1 ? g->generated - 1 : 0; /* the first token comes from the prompt pass */
    double per = steps ? g->gen_s / steps : 0;
    fprintf(stderr, " | generated %u tokens in %.3f s", g->generated, g->gen_s);
    if (steps)
        fprintf(stderr, ": %.1f tok/s, %.2f ms/token, %.2f GB/s", 1.0 / per, per * 1e3,
                (double)vkg_session_step_bytes(g->session) / per / 1e9);
    fprintf(stderr, " | context %u/%u, KV cache %.1f MiB\n", vkg_session_pos(g->session), n_ctx,
            vkg_session_kv_bytes(g->session) / 1048576.0);
    if (g->context_full)
        fprintf(stderr, "vkgpt: the context is full (%u positions): no more tokens fit in this session%s\n", n_ctx,
                n_ctx < vkg_model_get_config(g->model)->n_positions ? " (a larger --ctx-size allows more)" : "");
    if (interrupted)
        fprintf(stderr, "vkgpt: interrupted\n");
}

static vkg_status encode(gen *g, const char *text, size_t len, int32_t **ids, size_t *n) {
    if (!g->tok)
        return VKG_ERROR_INVALID_ARGUMENT;
    return vkg_tokenizer_encode(g->tok, text, len, true, ids, n);
}

static int interactive_loop(gen *g) {
    char *line = NULL;
    size_t cap = 0;
    bool tty = isatty(STDIN_FILENO);
    int rc = CLI_OK;
    while (!interrupted && !g->context_full) {
        if (tty)
            fputs("> ", stderr);
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0)
            break;
        int32_t *ids = NULL;
        size_t n_ids = 0;
        vkg_status s = encode(g, line, (size_t)n, &ids, &n_ids);
        if (s == VKG_OK)
            s = turn(g, ids, (uint32_t)n_ids);
        free(ids);
        if (s != VKG_OK) {
            rc = cli_report("run", s);
            break;
        }
        summary(g);
    }
    free(line);
    return rc;
}

int cmd_run_parse(int argc, char **argv) {
    run_opts o;
    int rc = parse(argc, argv, &o);
    free(o.prompt_ids);
    return rc;
}

int cmd_run(int argc, char **argv) {
    run_opts o;
    int rc = parse(argc, argv, &o);
    if (rc != CLI_OK) {
        free(o.prompt_ids);
        if (rc == CLI_HELP)
            print_help();
        return rc == CLI_HELP ? CLI_OK : rc;
    }
    gen g = {.o = &o, .pending = -1, .stop = {.stops = o.stops, .n = o.n_stops}};
    vkg_context *ctx = NULL;
    int32_t *prompt = NULL;
    size_t n_prompt = 0;
    char *text = NULL;
    size_t text_len = 0;

    if ((rc = cli_check_model("run", o.gen.model.path)) != CLI_OK)
        goto done;
    if (o.prompt_file && !(text = cli_read_file(o.prompt_file, &text_len))) {
        fprintf(stderr, "vkgpt run: cannot read prompt file '%s'\n", o.prompt_file);
        rc = CLI_FAILED;
        goto done;
    }
    if (o.prompt) {
        text_len = strlen(o.prompt);
        text = malloc(text_len + 1);
        if (text)
            memcpy(text, o.prompt, text_len + 1);
    }
    if (o.dump_logits && !(g.dump = fopen(o.dump_logits, "wb"))) {
        fprintf(stderr, "vkgpt run: cannot write --dump-logits file '%s'\n", o.dump_logits);
        rc = CLI_FAILED;
        goto done;
    }
    /* Tokenizer: needed for text in or out; --prompt-ids with --ids works without one. */
    char dir[4096];
    const char *tok_dir = cli_tokenizer_dir(o.gen.model.path, o.gen.tokenizer_dir, dir, sizeof dir);
    /* A .gguf path is its own tokenizer (vkg_tokenizer_load reads the file's metadata); one that
     * vkgpt cannot build (a placeholder vocabulary) matters only when there is text to encode. */
    size_t n_path = o.gen.model.path ? strlen(o.gen.model.path) : 0;
    bool from_gguf = !o.gen.tokenizer_dir && n_path > 5 && strcmp(o.gen.model.path + n_path - 5, ".gguf") == 0;
    if (tok_dir) {
        vkg_status s = vkg_tokenizer_load(tok_dir, &g.tok);
        if (s != VKG_OK && ((s != VKG_ERROR_IO && !from_gguf) || text || o.interactive)) {
            rc = cli_report("run: loading the tokenizer", s);
            goto done;
        }
    } else if (text || o.interactive) {
        rc = cli_usage_error("run", "a text prompt needs a tokenizer: give --tokenizer DIR (or use --prompt-ids)");
        goto done;
    }
    if (g.tok && vkg_detok_create(g.tok, &g.detok) != VKG_OK) {
        rc = cli_report("run", VKG_ERROR_OUT_OF_HOST_MEMORY);
        goto done;
    }
    if (text) {
        vkg_status s = encode(&g, text, text_len, &prompt, &n_prompt);
        if (s != VKG_OK) {
            rc = cli_report("run: encoding the prompt", s);
            goto done;
        }
        if (n_prompt == 0 && !o.interactive) {
            fprintf(stderr, "vkgpt run: the prompt is empty: give some text\n");
            rc = CLI_USAGE;
            goto done;
        }
    } else if (o.prompt_ids) {
        prompt = o.prompt_ids;
        n_prompt = o.n_prompt_ids;
        o.prompt_ids = NULL;
    }

    if ((rc = setup_model("run", &o.gen.model, &ctx, &g.model)) != CLI_OK)
        goto done;
    const vkg_model_config *c = vkg_model_get_config(g.model);
    vkg_session_options so = vkg_session_default_options();
    so.kv = o.gen.kv_dtype ? VKG_PRECISION_F16 : VKG_PRECISION_F32;
    so.no_kv_cache = o.no_kv_cache;
    so.n_ctx = o.gen.n_ctx;
    vkg_status s = vkg_session_create(g.model, &so, &g.session);
    if (s == VKG_OK && n_prompt > vkg_session_ctx(g.session)) {
        fprintf(stderr, "vkgpt run: the prompt has %zu tokens but the context holds %u%s\n", n_prompt,
                vkg_session_ctx(g.session), vkg_session_ctx(g.session) < c->n_positions ? " (see --ctx-size)" : "");
        rc = CLI_FAILED;
        goto done;
    }
    if (s == VKG_OK && !o.gen.quiet)
        fprintf(stderr, "vkgpt: %s model, %s weights %.1f MiB, KV cache %.1f MiB (%u positions, %s)%s\n",
                c->family, cli_precision_name(vkg_model_precision(g.model)),
                vkg_model_weight_bytes(g.model) / 1048576.0, vkg_session_kv_bytes(g.session) / 1048576.0,
                vkg_session_ctx(g.session), so.kv ? "f16" : "f32",
                vkg_model_int8_activations(g.model) ? ", 8-bit activations (int8 dot products)" : "");
    if (s == VKG_OK)
        s = vkg_sampler_create(&o.gen.sampling, c->vocab_size, &g.sampler);
    g.logits = malloc(c->vocab_size * sizeof(float));
    g.history = g.session ? malloc(((size_t)vkg_session_ctx(g.session) + 1) * sizeof(int32_t)) : NULL;
    if (s == VKG_OK && (!g.logits || !g.history))
        s = VKG_ERROR_OUT_OF_HOST_MEMORY;
    if (s != VKG_OK) {
        rc = cli_report("run", s);
        goto done;
    }
    signal(SIGINT, on_sigint);
    if (n_prompt) {
        s = turn(&g, prompt, (uint32_t)n_prompt);
        if (s != VKG_OK) {
            rc = cli_report("run", s);
            goto done;
        }
        summary(&g);
    }
    if (o.interactive)
        rc = interactive_loop(&g);
    if (g.dump && fflush(g.dump) != 0) {
        fprintf(stderr, "vkgpt run: writing '%s' failed\n", o.dump_logits);
        rc = CLI_FAILED;
    }
    if (interrupted && rc == CLI_OK)
        rc = CLI_INTERRUPTED;
done:
    signal(SIGINT, SIG_DFL);
    if (g.dump && fclose(g.dump) != 0 && rc == CLI_OK)
        rc = CLI_FAILED;
    vkg_sampler_destroy(g.sampler);
    vkg_session_free(g.session);
    vkg_model_free(g.model);
    vkg_context_destroy(ctx);
    vkg_detok_destroy(g.detok);
    stop_text_free(&g.stop);
    vkg_tokenizer_free(g.tok);
    free(g.logits);
    free(g.history);
    free(prompt);
    free(text);
    free(o.prompt_ids);
    return rc;
}
