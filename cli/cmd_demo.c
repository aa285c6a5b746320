/*
 * cli/cmd_demo.c — `vkgpt demo`: the main job on the embedded default, no files needed. Builds a
 * synthetic model on the default device, generates greedily with and without the KV cache, and shows
 * both times, the speedup, and that the two sequences are identical (exit status 1 if they are not).
 * Each phase shows its progress on stderr (progress.h). Without -n the length suits the device: a
 * GPU generates 511 tokens; a CPU device (lavapipe) fewer, because the uncached baseline costs the
 * square of the length and 511 tokens take minutes there.
 */
#include "cli.h"
#include "options.h"
#include "progress.h"
#include "setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Default lengths: on a GPU all 511 tokens that fit after the prompt in GPT-2's 512 positions; on a
 * CPU device the length whose whole demo takes about a minute with gpt-mini on 2 lavapipe cores with
 * warm caches (measured on a lightly loaded machine: 55 s in all, 6 s with the cache and 49 s
 * without; 511 tokens take several minutes without the cache). */
enum { N_GPU = 511, N_CPU = 192 };

static void print_help(void) {
    printf("usage: vkgpt demo [options]\n\n"
           "Generates tokens greedily from a synthetic GPT-2 with and without the KV cache and compares.\n\n"
           "  --config NAME     synthetic model: gpt-nano, gpt-mini, gpt2, gpt2-medium, gpt2-large, gpt2-xl (default gpt-mini)\n"
           "  -n N              tokens to generate (default: 511 on a GPU, %u on a CPU device such as lavapipe,\n"
           "                    where the uncached baseline's time grows with the square of N)\n"
           "  --dtype f32|f16|bf16 weight storage (default f32)\n"
           "  --kv-dtype f32|f16 KV cache storage (default f32)\n"
           "  --seed S          seed of the synthetic weights (default 1)\n"
           "  --device I        Vulkan device index (default: $VKG_DEVICE, else the first discrete GPU)\n\n"
           "The synthetic models have random weights and 2048 positions (GPT-2 has 1024), so that `vkgpt bench\n"
           "kv` can measure the KV cache up to T = 1536.\n", N_CPU);
}

/* Generate n tokens greedily after `prompt`; fills out[n] and the elapsed seconds. Progress counts
 * tokens; without the cache step i recomputes all i tokens before it, so i tokens are i(i+1)/2 of
 * n(n+1)/2 units of work, which is what the estimate of the time left goes by. */
static vkg_status generate(vkg_model *m, bool cached, int kv, const int32_t *prompt, uint32_t n_prompt, uint32_t n,
                           int32_t *out, double *seconds, bool show) {
    vkg_session_options so = vkg_session_default_options();
    so.no_kv_cache = !cached;
    so.kv = kv ? VKG_PRECISION_F16 : VKG_PRECISION_F32;
    vkg_session *s = NULL;
    vkg_status st = vkg_session_create(m, &so, &s);
    if (st != VKG_OK)
        return st;
    cli_progress p;
    cli_progress_begin(&p, cached ? "with KV cache" : "without KV cache", "tokens", n, show ? 0 : 1e30);
    double t0 = vkg_bench_now(), all = (double)n * (n + 1) / 2;
    st = vkg_session_prefill(s, prompt, n_prompt, NULL);
    for (uint32_t i = 0; st == VKG_OK && i < n; i++) {
        out[i] = vkg_session_argmax(s);
        if (i + 1 < n)
            st = vkg_session_step(s, out[i]);
        /* Inside the timed loop: a clock read per token, a terminal redraw at most ten times a second. */
        if (cached)
            cli_progress_update(&p, i + 1);
        else
            cli_progress_update_work(&p, i + 1, (double)(i + 1) * (i + 2) / 2 / all);
    }
    *seconds = vkg_bench_now() - t0;
    cli_progress_end(&p);
    vkg_session_free(s);
    return st;
}

typedef struct demo_opts {
    model_args args;
    uint32_t n; /* 0: by the device */
    int kv;
} demo_opts;

static int parse(int argc, char **argv, demo_opts *o) {
    *o = (demo_opts){.args = {.config = "gpt-mini", .device = -1, .seed = 1}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return CLI_HELP;
        if (!strcmp(a, "--config") || !strcmp(a, "-n") || !strcmp(a, "--dtype") || !strcmp(a, "--kv-dtype") ||
            !strcmp(a, "--seed") || !strcmp(a, "--device")) {
            if (opt_value("demo", argc, argv, &i, &v))
                return CLI_USAGE;
        } else {
            return cli_usage_error("demo", "unknown option '%s'", a);
        }
        uint32_t d;
        if (!strcmp(a, "--config")) o->args.config = v;
        else if (!strcmp(a, "-n") && opt_u32("demo", a, v, 1, 100000, &o->n)) return CLI_USAGE;
        else if (!strcmp(a, "--dtype") && opt_weights("demo", a, v, &o->args.dtype)) return CLI_USAGE;
        else if (!strcmp(a, "--kv-dtype") && opt_precision("demo", a, v, &o->kv)) return CLI_USAGE;
        else if (!strcmp(a, "--seed") && opt_u64("demo", a, v, &o->args.seed)) return CLI_USAGE;
        else if (!strcmp(a, "--device")) {
            if (opt_u32("demo", a, v, 0, 1024, &d))
                return CLI_USAGE;
            o->args.device = (int)d;
        }
    }
    return CLI_OK;
}

int cmd_demo_parse(int argc, char **argv) {
    demo_opts o;
    vkg_model_config cfg;
    int rc = parse(argc, argv, &o);
    if (rc == CLI_OK && vkg_synthetic_config(o.args.config, &cfg) != VKG_OK)
        rc = cli_usage_error("demo", "%s", vkg_last_error());
    return rc;
}

int cmd_demo(int argc, char **argv) {
    demo_opts o;
    int prc = parse(argc, argv, &o);
    if (prc == CLI_HELP) {
        print_help();
        return CLI_OK;
    }
    if (prc != CLI_OK)
        return prc;
    model_args args = o.args;
    uint32_t n = o.n;
    int kv = o.kv;
    vkg_model_config cfg;
    if (vkg_synthetic_config(args.config, &cfg) != VKG_OK)
        return cli_usage_error("demo", "%s", vkg_last_error());
    /* A one-token prompt (the end-of-text token GPT-2 uses to start a text); n more must fit. */
    const int32_t prompt[1] = {cfg.bos_token_id >= 0 ? cfg.bos_token_id : cfg.n_eos ? cfg.eos_token_ids[0] : 0};
    if (n && n + 1 > cfg.n_positions)
        return cli_usage_error("demo", "-n %u: prompt and generated tokens must fit the %u positions", n,
                               cfg.n_positions);

    vkg_context *ctx = NULL;
    vkg_model *m = NULL;
    int rc = setup_model("demo", &args, &ctx, &m);
    if (rc != CLI_OK)
        return rc;
    char desc[256];
    const vkg_device_info *dev = vkg_context_device(ctx);
    printf("device: %s\n", dev->name);
    printf("model: %s, %s weights, %s KV cache, prompt of 1 token\n", describe_model(&args, m, desc, sizeof desc),
           cli_precision_name(args.dtype), kv ? "f16" : "f32");
    if (n) {
        printf("generating %u tokens greedily (-n)\n", n);
    } else if (dev->type == VKG_DEVICE_CPU) {
        n = N_CPU < cfg.n_positions - 1 ? N_CPU : cfg.n_positions - 1;
        printf("generating %u tokens greedily: the default on a CPU device, where the uncached baseline's time "
               "grows with the square of the length (-n %u for the full run takes minutes)\n", n, N_GPU);
    } else {
        n = N_GPU < cfg.n_positions - 1 ? N_GPU : cfg.n_positions - 1;
        printf("generating %u tokens greedily: the default on a GPU (-n N for another length)\n", n);
    }
    fflush(stdout);
    int32_t *with = calloc(n, sizeof *with), *without = calloc(n, sizeof *without);
    double t_with = 0, t_without = 0;
    vkg_status s = with && without ? VKG_OK : VKG_ERROR_OUT_OF_HOST_MEMORY;
    /* Untimed: both modes once for two tokens, so that neither timed phase pays for compiling its
     * pipelines (measured on lavapipe: 37 s with cold Mesa and pipeline caches on a busy machine,
     * under 2 s once they are warm). */
    cli_progress warm;
    cli_progress_begin(&warm, "warm-up", "modes", 2, 0);
    for (int cached = 1; s == VKG_OK && cached >= 0; cached--) {
        s = generate(m, cached, kv, prompt, 1, n < 2 ? n : 2, with, &t_with, false);
        cli_progress_update(&warm, 2 - (uint64_t)cached);
    }
    printf("warm-up:          %8.3f s  (both modes, 2 tokens each, not counted below)\n", cli_progress_end(&warm));
    fflush(stdout);
    if (s == VKG_OK)
        s = generate(m, true, kv, prompt, 1, n, with, &t_with, true);
    if (s == VKG_OK) {
        printf("with KV cache:    %8.3f s  (%.2f ms/token)\n", t_with, t_with * 1e3 / n);
        fflush(stdout);
        s = generate(m, false, kv, prompt, 1, n, without, &t_without, true);
    }
    if (s != VKG_OK) {
        rc = cli_report("demo", s);
    } else {
        printf("without KV cache: %8.3f s  (%.2f ms/token)\n", t_without, t_without * 1e3 / n);
        printf("speedup: %.2fx\n", t_without / t_with);
        uint32_t first_diff = n;
        for (uint32_t i = 0; i < n && first_diff == n; i++)
            if (with[i] != without[i])
                first_diff = i;
        if (first_diff == n) {
            printf("sequences identical: yes (%u tokens)\n", n);
        } else {
            printf("sequences identical: NO (first difference at token %u: %d with the cache, %d without)\n",
                   first_diff, with[first_diff], without[first_diff]);
            rc = CLI_FAILED;
        }
        printf("first tokens:");
        for (uint32_t i = 0; i < n && i < 16; i++)
            printf(" %d", with[i]);
        printf("%s\n", n > 16 ? " ..." : "");
    }
    free(with);
    free(without);
    vkg_model_free(m);
    vkg_context_destroy(ctx);
    return rc;
}
