/*
 * cli/cmd_bench_gen.c — `vkgpt bench gen`: end-to-end throughput like llama-bench.
 *   ppN  prompt processing: N tokens prefilled into an empty session in one call; tokens/s.
 *   tgN  token generation: N greedy decode steps from an empty session, each fed the argmax of the
 *        one before; tokens/s, and the decode's achieved GB/s = the bytes the steps must read
 *        (weights + KV cache up to their positions, vkg_session_step_bytes) / their time, against
 *        the device's streaming-read bandwidth measured on the spot (vkg_probe_run).
 * Each test runs once untimed (warm-up), then --reps times; the mean ± standard deviation of
 * tokens/s over repetitions is printed (as llama-bench does), the samples go to --json.
 */
#include "cli.h"
#include "cmd_bench.h"
#include "options.h"
#include "progress.h"
#include "setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Options that take a value (all of them). */
static const char *const KNOWN[] = {
    "-p", "-n", "--config", "-m", "--dtype", "--kv-dtype", "--quant", "--reps", "--probe-mib", "--json", "--seed",
    "--device", NULL
};

static void print_help(void) {
    printf("usage: vkgpt bench gen [options]\n\n"
           "Prompt processing (ppN) and token generation (tgN) in tokens/s, and the decode's achieved GB/s\n"
           "against the streaming-read bandwidth measured on the spot.\n\n"
           "  -p N                prompt tokens (default 512; 0 skips pp)\n"
           "  -n N                generated tokens (default 128; 0 skips tg)\n"
           "  --config NAME       synthetic model (default gpt2)\n"
           "  -m PATH             a checkpoint instead (directory or .safetensors)\n"
           "  --dtype f32|f16|bf16 weight storage (default f32)\n"
           "  --kv-dtype f32|f16  KV cache storage (default f32)\n"
           "  --quant FORMAT      quantize the linear layers at load: q8_0, q6_k, q5_k, q4_k, q4_0 (default none)\n"
           "  --reps N            timed repetitions of each test (default 3)\n"
           "  --probe-mib N       size of the bandwidth probe's buffer (default: up to 512 MiB)\n"
           "  --json FILE         device, driver, commit, probe results and every sample\n"
           "  --seed S            seed of the synthetic weights (default 1)\n"
           "  --device I          Vulkan device index\n");
}

typedef struct gen_opts {
    model_args args;
    uint32_t p, n, reps, probe_mib;
    int kv_dtype;
    const char *json;
} gen_opts;

static int token_at(uint32_t i, uint32_t vocab) { return (int)(((uint64_t)i * 7919u + 13u) % vocab); }

/* One ppN run: seconds. */
static vkg_status run_pp(vkg_session *s, const int32_t *tokens, uint32_t p, double *sec) {
    vkg_session_reset(s);
    double t0 = vkg_bench_now();
    vkg_status st = vkg_session_prefill(s, tokens, p, NULL);
    volatile int32_t next = vkg_session_argmax(s);
    (void)next;
    *sec = vkg_bench_now() - t0;
    return st;
}

/* One tgN run: seconds and the bytes the steps had to read. */
static vkg_status run_tg(vkg_session *s, uint32_t n, int32_t first, double *sec, double *bytes) {
    vkg_session_reset(s);
    int32_t tok = first;
    double b = 0, t0 = vkg_bench_now();
    for (uint32_t i = 0; i < n; i++) {
        b += (double)vkg_session_step_bytes(s);
        vkg_status st = vkg_session_step(s, tok);
        if (st != VKG_OK)
            return st;
        tok = vkg_session_argmax(s);
    }
    *sec = vkg_bench_now() - t0;
    *bytes = b;
    return VKG_OK;
}

static int parse(int argc, char **argv, gen_opts *o) {
    const char *cmd = "bench gen";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            print_help();
            return -1;
        }
        if (bench_option_value(cmd, KNOWN, argc, argv, &i, &v))
            return CLI_USAGE;
        uint32_t u;
        int bad = 0;
        if (!strcmp(a, "-p")) bad = opt_u32(cmd, a, v, 0, 1u << 20, &o->p);
        else if (!strcmp(a, "-n")) bad = opt_u32(cmd, a, v, 0, 1u << 20, &o->n);
        else if (!strcmp(a, "--config")) o->args.config = v;
        else if (!strcmp(a, "-m")) o->args.path = v;
        else if (!strcmp(a, "--dtype")) bad = opt_weights(cmd, a, v, &o->args.dtype);
        else if (!strcmp(a, "--kv-dtype")) bad = opt_precision(cmd, a, v, &o->kv_dtype);
        else if (!strcmp(a, "--quant")) bad = opt_quant(cmd, a, v, &o->args.quant);
        else if (!strcmp(a, "--reps")) bad = opt_u32(cmd, a, v, 1, 100000, &o->reps);
        else if (!strcmp(a, "--probe-mib")) bad = opt_u32(cmd, a, v, 1, 1u << 20, &o->probe_mib);
        else if (!strcmp(a, "--json")) o->json = v;
        else if (!strcmp(a, "--seed")) bad = opt_u64(cmd, a, v, &o->args.seed);
        else if (!strcmp(a, "--device")) {
            bad = opt_u32(cmd, a, v, 0, 1024, &u);
            o->args.device = (int)u;
        } else
            return cli_usage_error(cmd, "unknown option '%s'", a);
        if (bad)
            return CLI_USAGE;
    }
    if (o->args.path && o->args.config)
        return cli_usage_error(cmd, "give either -m PATH or --config NAME, not both");
    if (!o->args.path && !o->args.config)
        o->args.config = "gpt2";
    if (o->args.config) {
        vkg_model_config cfg;
        if (vkg_synthetic_config(o->args.config, &cfg) != VKG_OK)
            return cli_usage_error(cmd, "--config: %s", vkg_last_error());
    }
    if (o->p == 0 && o->n == 0)
        return cli_usage_error(cmd, "-p 0 and -n 0: nothing to measure");
    return 0;
}

/* One llama-bench style row: "pp512  <mean> ± <stdev>  <ms per token>" from tokens/s samples. */
static void print_rate(const char *kind, uint32_t tokens, const double *rates, uint32_t reps) {
    double mean = 0;
    for (uint32_t r = 0; r < reps; r++)
        mean += rates[r] / reps;
    char test[32];
    snprintf(test, sizeof test, "%s%u", kind, tokens);
    printf("%-8s %9.2f ± %-5.2f %12.3f\n", test, mean, bench_stdev(rates, reps), 1e3 / mean);
}

int bench_gen(int argc, char **argv) {
    gen_opts o = {.args = {.device = -1, .seed = 1}, .p = 512, .n = 128, .reps = 3};
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    vkg_context *ctx = NULL;
    vkg_model *m = NULL;
    if ((rc = setup_model("bench gen", &o.args, &ctx, &m)) != CLI_OK)
        return rc;
    const vkg_model_config *cfg = vkg_model_get_config(m);
    const vkg_device_info *info = vkg_context_device(ctx);
    vkg_session *s = NULL;
    int32_t *tokens = NULL;
    double *pp = calloc(o.reps, sizeof *pp), *tg = calloc(o.reps, sizeof *tg), *gbs = calloc(o.reps, sizeof *gbs);
    json_t *root = NULL;
    char desc[300], drv[400];
    vkg_probe_results peaks;
    vkg_probe_options po = {.read_bytes = (uint64_t)o.probe_mib << 20};
    vkg_status st = pp && tg && gbs ? VKG_OK : VKG_ERROR_OUT_OF_HOST_MEMORY;
    if (o.p > cfg->n_positions || o.n + 1 > cfg->n_positions) {
        rc = cli_usage_error("bench gen", "-p %u / -n %u: the model has %u positions", o.p, o.n, cfg->n_positions);
        goto done;
    }
    printf("device: %s\n", info->name);
    printf("driver: %s\n", bench_driver_line(info, drv, sizeof drv));
    printf("model: %s, %s weights%s%s (%.1f MiB), %s KV cache; repetitions: %u after a warm-up\n",
           describe_model(&o.args, m, desc, sizeof desc), cli_precision_name(vkg_model_precision(m)),
           o.args.quant ? ", linear layers " : "", o.args.quant ? cli_quant_name(o.args.quant) : "",
           vkg_model_weight_bytes(m) / 1048576.0, o.kv_dtype ? "f16" : "f32", o.reps);
    printf("prefill matmul: %s\n", vkg_model_prefill_matmul(m));
    if (vkg_model_int8_activations(m))
        printf("block-format matmuls: 8-bit activations, int8 dot products (VKG_DISABLE_INT_DOT=1: fp32)\n");
    fflush(stdout);
    if (st == VKG_OK)
        st = vkg_probe_run(ctx, &po, &peaks);
    if (st != VKG_OK) {
        rc = cli_report("bench gen: probes", st);
        goto done;
    }
    printf("streaming read (probe): %.2f GB/s\n", peaks.read_gbps);
    vkg_session_options so = vkg_session_default_options();
    so.kv = o.kv_dtype ? VKG_PRECISION_F16 : VKG_PRECISION_F32;
    so.n_ctx = o.p > o.n + 1 ? o.p : o.n + 1; /* what the runs need, not the model's whole context */
    tokens = calloc(o.p ? o.p : 1, sizeof *tokens);
    if (!tokens || (st = vkg_session_create(m, &so, &s)) != VKG_OK) {
        rc = cli_report("bench gen", tokens ? st : VKG_ERROR_OUT_OF_HOST_MEMORY);
        goto done;
    }
    for (uint32_t i = 0; i < o.p; i++)
        tokens[i] = token_at(i, cfg->vocab_size);
    printf("%-8s %16s %12s\n", "test", "t/s", "ms/token");
    double sec, bytes = 0, total_bytes = 0, total_sec = 0;
    /* Progress between runs (never inside a timed one), counted in runs: the warm-up, then --reps. */
    cli_progress prog;
    char label[64];
    if (o.p) {
        snprintf(label, sizeof label, "pp%u", o.p);
        cli_progress_begin(&prog, label, "runs", o.reps + 1, 2.0);
        for (uint32_t r = 0; st == VKG_OK && r <= o.reps; r++) {
            if ((st = run_pp(s, tokens, o.p, &sec)) == VKG_OK && r > 0)
                pp[r - 1] = o.p / sec;
            cli_progress_update(&prog, r + 1);
        }
        cli_progress_end(&prog);
        if (st != VKG_OK) {
            rc = cli_report("bench gen: pp", st);
            goto done;
        }
        print_rate("pp", o.p, pp, o.reps);
        fflush(stdout);
    }
    if (o.n) {
        int32_t first = cfg->bos_token_id >= 0 ? cfg->bos_token_id : cfg->n_eos ? cfg->eos_token_ids[0] : 0;
        snprintf(label, sizeof label, "tg%u", o.n);
        cli_progress_begin(&prog, label, "runs", o.reps + 1, 2.0);
        for (uint32_t r = 0; st == VKG_OK && r <= o.reps; r++) {
            if ((st = run_tg(s, o.n, first, &sec, &bytes)) == VKG_OK && r > 0) {
                tg[r - 1] = o.n / sec;
                gbs[r - 1] = bytes / sec * 1e-9;
                total_bytes += bytes;
                total_sec += sec;
            }
            cli_progress_update(&prog, r + 1);
        }
        cli_progress_end(&prog);
        if (st != VKG_OK) {
            rc = cli_report("bench gen: tg", st);
            goto done;
        }
        print_rate("tg", o.n, tg, o.reps);
        double g = total_bytes / total_sec * 1e-9;
        printf("decode: %.2f GB/s (%.1f MB read per token on average) = %.1f%% of the measured streaming read "
               "(%.2f GB/s)\n", g, bytes / o.n * 1e-6, 100.0 * g / peaks.read_gbps, peaks.read_gbps);
    }
    if (o.json) {
        root = bench_json_header(info, "gen", argc, argv);
        json_object_set_new(root, "model", json_pack("{s:s, s:f, s:s, s:s, s:I, s:s, s:s}", "name", o.args.path ?
                            o.args.path : o.args.config, "params_m", (double)vkg_model_param_count(m) / 1e6, "dtype",
                            cli_precision_name(vkg_model_precision(m)), "quant", cli_quant_name(o.args.quant),
                            "weight_bytes", (json_int_t)vkg_model_weight_bytes(m), "kv_dtype", o.kv_dtype ? "f16" : "f32",
                            "prefill_matmul", vkg_model_prefill_matmul(m)));
        json_object_set_new(json_object_get(root, "model"), "int8_activations",
                            json_boolean(vkg_model_int8_activations(m)));
        json_object_set_new(root, "probe", json_pack("{s:f, s:I, s:f, s:f, s:f}", "read_gbps", peaks.read_gbps,
                            "read_bytes", (json_int_t)peaks.read_bytes, "fma_gflops", peaks.fma_gflops,
                            "dispatch_us", peaks.dispatch_us, "submit_us", peaks.submit_us));
        json_object_set_new(root, "reps", json_integer(o.reps));
        if (o.p)
            json_object_set_new(root, "pp", json_pack("{s:I, s:o}", "tokens", (json_int_t)o.p,
                                "tokens_per_s", bench_json_doubles(pp, o.reps, 1)));
        if (o.n)
            json_object_set_new(root, "tg", json_pack("{s:I, s:o, s:o, s:f}", "tokens", (json_int_t)o.n,
                                "tokens_per_s", bench_json_doubles(tg, o.reps, 1), "decode_gbps",
                                bench_json_doubles(gbs, o.reps, 1), "bytes_per_run", bytes));
        if (!bench_json_write("gen", root, o.json))
            rc = CLI_FAILED;
    }
done:
    json_decref(root);
    free(pp);
    free(tg);
    free(gbs);
    free(tokens);
    vkg_session_free(s);
    vkg_model_free(m);
    vkg_context_destroy(ctx);
    return rc;
}
