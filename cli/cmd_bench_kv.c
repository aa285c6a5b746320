/*
 * cli/cmd_bench_kv.c — `vkgpt bench kv`: the KV-cache table. At each context length T it times one
 * generation step as a user waits for it (record/submit/wait and the device argmax, host clock):
 *   no KV  an uncached session holding T-1 tokens takes token T: a forward pass over all T tokens;
 *   KV     a cached session holding T-1 positions takes token T: one token against the cache.
 * After every timed step the session is truncated back to T-1 tokens, so each repetition measures
 * the same step. Untimed warm-up: one cached step per context, one uncached step at the first
 * context only (see run_config). The median is printed, every sample goes to --json. Synthetic
 * weights; token ids are a fixed spread over the vocabulary.
 */
#include "cli.h"
#include "cmd_bench.h"
#include "options.h"
#include "progress.h"
#include "setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DEFAULT_REPS_KV = 20, DEFAULT_REPS_NOKV = 5, MAX_CONTEXTS = 64 };

/* Options that take a value (all of them). */
static const char *const KNOWN[] = {
    "--configs", "--contexts", "--dtype", "--kv-dtype", "--reps", "--reps-kv", "--reps-no-kv", "--json",
    "--plot", "--seed", "--device", NULL
};

static void print_help(void) {
    printf("usage: vkgpt bench kv [options]\n\n"
           "The KV-cache table: median latency of one generation step at each context length T, without\n"
           "the cache (a forward pass over all T tokens) and with it (one token against T-1 cached\n"
           "positions), and the speedup.\n\n"
           "  --configs A,B       synthetic configs (default gpt-mini,gpt2)\n"
           "  --contexts T1,T2    context lengths (default 64,128,256,512,1024,1536)\n"
           "  --dtype f32|f16|bf16 weight storage (default f32)\n"
           "  --kv-dtype f32|f16  KV cache storage (default f32)\n"
           "  --reps N            timed steps per mode and context (default %d without the cache, %d with it)\n"
           "  --reps-kv N, --reps-no-kv N   the same for one mode\n"
           "  --json FILE         device, driver, commit and every raw sample\n"
           "  --plot FILE.svg     latency against context, both modes, log scales\n"
           "  --seed S            seed of the synthetic weights (default 1)\n"
           "  --device I          Vulkan device index\n",
           DEFAULT_REPS_NOKV, DEFAULT_REPS_KV);
}

typedef struct kv_opts {
    char **configs;
    uint32_t n_configs;
    uint32_t contexts[MAX_CONTEXTS];
    uint32_t n_contexts;
    int dtype, kv_dtype;
    uint32_t reps_kv, reps_nokv;
    const char *json, *plot;
    uint64_t seed;
    int device;
} kv_opts;

/* Per config: medians and samples (ms) per context and mode (0 no KV, 1 KV). */
typedef struct kv_result {
    double params_m;
    double median[MAX_CONTEXTS][2];
    double *samples[MAX_CONTEXTS][2];
} kv_result;

static int token_at(uint32_t i, uint32_t vocab) { return (int)(((uint64_t)i * 7919u + 13u) % vocab); }

/* Bring s to exactly `pos` tokens of the fixed sequence. */
static vkg_status seek(vkg_session *s, uint32_t pos, const int32_t *tokens) {
    uint32_t have = vkg_session_pos(s);
    if (have > pos)
        return vkg_session_truncate(s, pos);
    if (have < pos)
        return vkg_session_prefill(s, tokens + have, pos - have, NULL);
    return VKG_OK;
}

/* Time `reps` steps at context T (session holding T-1 tokens before each), after `warmup` untimed ones;
 * progress counts the steps (an uncached step at T = 1536 takes minutes on a CPU device). */
static vkg_status time_steps(vkg_session *s, uint32_t T, const int32_t *tokens, uint32_t warmup, uint32_t reps,
                             double *ms, cli_progress *p) {
    vkg_status st = seek(s, T - 1, tokens);
    for (uint32_t r = 1 - warmup; st == VKG_OK && r <= reps; r++) {
        double t0 = vkg_bench_now();
        st = vkg_session_step(s, tokens[T - 1]);
        volatile int32_t next = vkg_session_argmax(s);
        (void)next;
        double t = (vkg_bench_now() - t0) * 1e3;
        if (r > 0) /* r == 0 is the warm-up */
            ms[r - 1] = t;
        cli_progress_update(p, r + warmup);
        if (st == VKG_OK)
            st = vkg_session_truncate(s, T - 1);
    }
    return st;
}

static int run_config(const kv_opts *o, const char *config, vkg_context **ctx, kv_result *res) {
    model_args args = {.config = config, .device = o->device, .dtype = o->dtype, .seed = o->seed};
    vkg_model *m = NULL;
    vkg_status st;
    if (!*ctx) {
        int rc = setup_model("bench kv", &args, ctx, &m);
        if (rc != CLI_OK)
            return rc;
        printf("device: %s\n", vkg_context_device(*ctx)->name);
    } else {
        vkg_model_options mo = vkg_model_default_options();
        mo.weights = (vkg_precision)o->dtype;
        cli_progress up;
        cli_progress_begin(&up, "generating synthetic weights", "MiB", 0, 1.0);
        mo.progress = cli_progress_bytes;
        mo.progress_user = &up;
        st = vkg_model_synthetic(*ctx, config, o->seed, &mo, &m);
        cli_progress_end(&up);
        if (st != VKG_OK)
            return cli_report("bench kv: loading the model", st);
    }
    const vkg_model_config *cfg = vkg_model_get_config(m);
    char desc[256];
    res->params_m = (double)vkg_model_param_count(m) / 1e6;
    printf("%s\n", describe_model(&args, m, desc, sizeof desc));
    printf("Context T   no KV (ms)   KV (ms)   speedup\n");
    printf("--------------------------------------------------\n");
    fflush(stdout);

    uint32_t max_T = 0;
    for (uint32_t i = 0; i < o->n_contexts; i++)
        max_T = o->contexts[i] > max_T ? o->contexts[i] : max_T;
    int32_t *tokens = calloc(max_T, sizeof *tokens);
    vkg_session *s[2] = {NULL, NULL};
    st = tokens ? VKG_OK : VKG_ERROR_OUT_OF_HOST_MEMORY;
    for (int mode = 0; st == VKG_OK && mode < 2; mode++) {
        vkg_session_options so = vkg_session_default_options();
        so.no_kv_cache = mode == 0;
        so.kv = o->kv_dtype ? VKG_PRECISION_F16 : VKG_PRECISION_F32;
        so.n_ctx = max_T + 1 < cfg->n_positions ? max_T + 1 : cfg->n_positions;
        st = vkg_session_create(m, &so, &s[mode]);
    }
    for (uint32_t i = 0; tokens && i < max_T; i++)
        tokens[i] = token_at(i, cfg->vocab_size);
    int rc = CLI_OK;
    for (uint32_t c = 0; st == VKG_OK && c < o->n_contexts; c++) {
        uint32_t T = o->contexts[c];
        for (int mode = 0; st == VKG_OK && mode < 2; mode++) {
            uint32_t reps = mode ? o->reps_kv : o->reps_nokv;
            res->samples[c][mode] = calloc(reps, sizeof(double));
            if (!res->samples[c][mode]) {
                st = VKG_ERROR_OUT_OF_HOST_MEMORY;
                break;
            }
            /* The cached step warms up at every context (cheap). An uncached step is a whole forward
             * pass that is recorded afresh each time: after the first context nothing is left to warm
             * (same pipelines), and on a CPU driver one step at T = 1536 costs minutes. */
            uint32_t warmup = mode == 1 || c == 0 ? 1 : 0;
            char label[128];
            snprintf(label, sizeof label, "%s T=%u %s", config, T, mode ? "KV" : "no KV");
            cli_progress p;
            cli_progress_begin(&p, label, "steps", warmup + reps, 2.0);
            st = time_steps(s[mode], T, tokens, warmup, reps, res->samples[c][mode], &p);
            cli_progress_end(&p);
            res->median[c][mode] = vkg_bench_median(res->samples[c][mode], reps);
        }
        if (st == VKG_OK) {
            printf("%-9u   %10.2f   %7.2f   %6.2fx\n", T, res->median[c][0], res->median[c][1],
                   res->median[c][0] / res->median[c][1]);
            fflush(stdout);
        }
    }
    if (st != VKG_OK)
        rc = cli_report("bench kv", st);
    vkg_session_free(s[0]);
    vkg_session_free(s[1]);
    vkg_model_free(m);
    free(tokens);
    return rc;
}

static bool write_json(const kv_opts *o, const vkg_device_info *info, const kv_result *res, uint32_t n_done,
                       int argc, char **argv) {
    json_t *root = bench_json_header(info, "kv", argc, argv);
    json_t *models = json_array();
    json_object_set_new(root, "dtype", json_string(cli_precision_name(o->dtype)));
    json_object_set_new(root, "kv_dtype", json_string(o->kv_dtype ? "f16" : "f32"));
    json_object_set_new(root, "reps_no_kv", json_integer(o->reps_nokv));
    json_object_set_new(root, "reps_kv", json_integer(o->reps_kv));
    json_object_set_new(root, "unit", json_string("ms"));
    json_object_set_new(root, "method", json_string(
        "host clock around vkg_session_step + vkg_session_argmax; session truncated back to T-1 tokens "
        "between repetitions; untimed warm-up: one KV step per context, one no-KV step at the first context; "
        "median over repetitions"));
    for (uint32_t i = 0; i < n_done; i++) {
        json_t *rows = json_array();
        for (uint32_t c = 0; c < o->n_contexts; c++) {
            if (!res[i].samples[c][0] || !res[i].samples[c][1])
                break;
            json_array_append_new(rows, json_pack("{s:I, s:f, s:f, s:f, s:o, s:o}", "context",
                (json_int_t)o->contexts[c], "no_kv_ms", res[i].median[c][0], "kv_ms", res[i].median[c][1],
                "speedup", res[i].median[c][0] / res[i].median[c][1],
                "no_kv_samples_ms", bench_json_doubles(res[i].samples[c][0], o->reps_nokv, 1),
                "kv_samples_ms", bench_json_doubles(res[i].samples[c][1], o->reps_kv, 1)));
        }
        json_array_append_new(models, json_pack("{s:s, s:f, s:o}", "config", o->configs[i], "params_m",
                                                res[i].params_m, "rows", rows));
    }
    json_object_set_new(root, "models", models);
    bool ok = bench_json_write("kv", root, o->json);
    json_decref(root);
    return ok;
}

static bool write_plot(const kv_opts *o, const vkg_device_info *info, const kv_result *res, uint32_t n_done) {
    static const char *colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};
    plot_series series[2 * 16];
    double x[MAX_CONTEXTS], y[2 * 16][MAX_CONTEXTS];
    char labels[2 * 16][96];
    uint32_t n = 0;
    for (uint32_t c = 0; c < o->n_contexts; c++)
        x[c] = o->contexts[c];
    for (uint32_t i = 0; i < n_done && i < 16; i++) {
        uint32_t done = 0;
        while (done < o->n_contexts && res[i].samples[done][1])
            done++;
        for (int mode = 0; mode < 2; mode++, n++) {
            for (uint32_t c = 0; c < done; c++)
                y[n][c] = res[i].median[c][mode];
            snprintf(labels[n], sizeof labels[n], "%s %s", o->configs[i], mode ? "KV cache" : "no KV cache");
            series[n] = (plot_series){labels[n], x, y[n], done, colors[i % 6], mode == 0};
        }
    }
    char sub[600], drv[400];
    snprintf(sub, sizeof sub, "%s; %s weights, %s KV cache; median of %u / %u steps; commit %.12s",
             bench_driver_line(info, drv, sizeof drv), cli_precision_name(o->dtype), o->kv_dtype ? "f16" : "f32",
             o->reps_nokv, o->reps_kv, bench_commit());
    char title[400];
    snprintf(title, sizeof title, "vkgpt: one generation step, with and without the KV cache — %s", info->name);
    if (!plot_write_svg(o->plot, title, sub, "context length T (tokens)", "latency of one step (ms)", series, n)) {
        perror("vkgpt bench kv: writing the plot");
        return false;
    }
    return true;
}

int bench_kv(int argc, char **argv) {
    static const uint32_t default_ctx[] = {64, 128, 256, 512, 1024, 1536};
    kv_opts o = {.reps_kv = DEFAULT_REPS_KV, .reps_nokv = DEFAULT_REPS_NOKV, .seed = 1, .device = -1};
    memcpy(o.contexts, default_ctx, sizeof default_ctx);
    o.n_contexts = sizeof default_ctx / sizeof default_ctx[0];
    const char *configs = "gpt-mini,gpt2";
    const char *cmd = "bench kv";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            print_help();
            return CLI_OK;
        }
        if (bench_option_value(cmd, KNOWN, argc, argv, &i, &v))
            return CLI_USAGE;
        uint32_t u;
        if (!strcmp(a, "--configs")) {
            configs = v;
        } else if (!strcmp(a, "--contexts")) {
            int32_t *ids = NULL;
            uint32_t n = 0;
            if (opt_ids(cmd, a, v, &ids, &n))
                return CLI_USAGE;
            if (n > MAX_CONTEXTS) {
                free(ids);
                return cli_usage_error(cmd, "--contexts: at most %d values", MAX_CONTEXTS);
            }
            for (uint32_t k = 0; k < n; k++) {
                if (ids[k] < 1) {
                    int bad = ids[k];
                    free(ids);
                    return cli_usage_error(cmd, "--contexts: %d is not a context length (>= 1)", bad);
                }
                o.contexts[k] = (uint32_t)ids[k];
            }
            o.n_contexts = n;
            free(ids);
        } else if (!strcmp(a, "--dtype")) {
            if (opt_weights(cmd, a, v, &o.dtype))
                return CLI_USAGE;
        } else if (!strcmp(a, "--kv-dtype")) {
            if (opt_precision(cmd, a, v, &o.kv_dtype))
                return CLI_USAGE;
        } else if (!strcmp(a, "--reps")) {
            if (opt_u32(cmd, a, v, 1, 100000, &u))
                return CLI_USAGE;
            o.reps_kv = o.reps_nokv = u;
        } else if (!strcmp(a, "--reps-kv")) {
            if (opt_u32(cmd, a, v, 1, 100000, &o.reps_kv))
                return CLI_USAGE;
        } else if (!strcmp(a, "--reps-no-kv")) {
            if (opt_u32(cmd, a, v, 1, 100000, &o.reps_nokv))
                return CLI_USAGE;
        } else if (!strcmp(a, "--json")) {
            o.json = v;
        } else if (!strcmp(a, "--plot")) {
            o.plot = v;
        } else if (!strcmp(a, "--seed")) {
            if (opt_u64(cmd, a, v, &o.seed))
                return CLI_USAGE;
        } else if (!strcmp(a, "--device")) {
            if (opt_u32(cmd, a, v, 0, 1024, &u))
                return CLI_USAGE;
            o.device = (int)u;
        } else {
            return cli_usage_error(cmd, "unknown option '%s'", a);
        }
    }
    if (bench_parse_names(cmd, "--configs", configs, &o.configs, &o.n_configs))
        return CLI_USAGE;
    for (uint32_t i = 0; i < o.n_configs; i++) {
        vkg_model_config cfg;
        if (vkg_synthetic_config(o.configs[i], &cfg) != VKG_OK) {
            bench_free_names(o.configs, o.n_configs);
            return cli_usage_error(cmd, "--configs: %s", vkg_last_error());
        }
        for (uint32_t c = 0; c < o.n_contexts; c++)
            if (o.contexts[c] > cfg.n_positions) {
                int bad = cli_usage_error(cmd, "--contexts: %u is beyond the %u positions of %s", o.contexts[c],
                                          cfg.n_positions, o.configs[i]);
                bench_free_names(o.configs, o.n_configs);
                return bad;
            }
    }
    kv_result *res = calloc(o.n_configs, sizeof *res);
    vkg_context *ctx = NULL;
    int rc = res ? CLI_OK : CLI_FAILED;
    uint32_t done = 0;
    for (; rc == CLI_OK && done < o.n_configs; done++)
        rc = run_config(&o, o.configs[done], &ctx, &res[done]);
    if (rc == CLI_OK && o.json && !write_json(&o, vkg_context_device(ctx), res, done, argc, argv) && rc == CLI_OK)
        rc = CLI_FAILED;
    if (rc == CLI_OK && o.plot && !write_plot(&o, vkg_context_device(ctx), res, done) && rc == CLI_OK)
        rc = CLI_FAILED;
    for (uint32_t i = 0; res && i < o.n_configs; i++)
        for (uint32_t c = 0; c < MAX_CONTEXTS; c++)
            free(res[i].samples[c][0]), free(res[i].samples[c][1]);
    free(res);
    vkg_context_destroy(ctx);
    bench_free_names(o.configs, o.n_configs);
    return rc;
}
