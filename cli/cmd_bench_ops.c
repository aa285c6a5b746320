/*
 * cli/cmd_bench_ops.c — `vkgpt bench ops`: every kernel at one config's shapes, timed on the GPU
 * (vkg_bench_ops_run), next to the device's own peaks measured first by the probe kernels
 * (vkg_probe_run). A row: op, shape, dispatches, median time, MB moved, GB/s and % of the probe's
 * streaming read, GFLOP and GFLOP/s and % of the probe's FMA throughput. --csv / --json write the
 * same rows (JSON with every sample) for machines.
 */
#include "cli.h"
#include "cmd_bench.h"
#include "options.h"
#include "setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Options that take a value (all of them). */
static const char *const KNOWN[] = {
    "--config", "--dtype", "--kv-dtype", "--quant", "--rows", "--filter", "--min-time", "--samples", "--probe-mib",
    "--csv", "--json", "--device", NULL
};

static void print_help(void) {
    printf("usage: vkgpt bench ops [options]\n\n"
           "Every kernel at the decode and prefill shapes of a config: GPU time (timestamp queries, median),\n"
           "bytes moved, GB/s, FLOPs, GFLOP/s and the %% of the device's peaks measured on the spot by probe\n"
           "kernels (streaming read, FMA loop, chain of tiny dispatches).\n\n"
           "  --config NAME       shapes of this synthetic config (default gpt2)\n"
           "  --dtype f32|f16|bf16 weight storage (default f32)\n"
           "  --kv-dtype f32|f16  KV cache storage (default f32)\n"
           "  --quant FORMAT      the linear layers' matmuls on q8_0, q6_k, q5_k, q4_k or q4_0 blocks (GB/s of\n"
           "                      the quantized bytes; default none)\n"
           "  --rows N            rows of the prefill shapes (default 512)\n"
           "  --filter TEXT       only ops whose name contains TEXT (e.g. matmul, attention)\n"
           "  --min-time MS       sample each op until the samples add up to MS ms (default 20)\n"
           "  --samples N         at least N samples per op (default 5)\n"
           "  --probe-mib N       size of the bandwidth probe's buffer (default: up to 512 MiB)\n"
           "  --csv FILE          the rows as CSV\n"
           "  --json FILE         device, driver, commit, peaks, the rows and every sample\n"
           "  --device I          Vulkan device index\n");
}

typedef struct ops_state {
    vkg_probe_results peaks;
    FILE *csv;
    json_t *rows;
} ops_state;

static void on_op(const vkg_bench_op *op, void *user) {
    ops_state *s = user;
    double us = op->median_ns * 1e-3;
    double gbs = (double)op->bytes / op->median_ns, gfs = (double)op->flops / op->median_ns;
    double pbw = 100.0 * gbs / s->peaks.read_gbps, pfma = 100.0 * gfs / s->peaks.fma_gflops;
    char flops[32] = "-", gf[32] = "-", pf[32] = "-";
    if (op->flops) {
        snprintf(flops, sizeof flops, "%.4f", (double)op->flops * 1e-9);
        snprintf(gf, sizeof gf, "%.2f", gfs);
        snprintf(pf, sizeof pf, "%.1f", pfma);
    }
    printf("%-24s %-24s %4u %11.2f %9.3f %9.2f %6.1f %9s %9s %6s\n", op->name, op->shape, op->dispatches, us,
           (double)op->bytes * 1e-6, gbs, pbw, flops, gf, pf);
    fflush(stdout);
    if (s->csv)
        fprintf(s->csv, "%s,%s,%u,%.3f,%.3f,%u,%u,%llu,%llu,%.4f,%.2f,%.4f,%.2f\n", op->name, op->shape,
                op->dispatches, us, op->min_ns * 1e-3, op->n_samples, op->reps, (unsigned long long)op->bytes,
                (unsigned long long)op->flops, gbs, pbw, gfs, op->flops ? pfma : 0.0);
    if (s->rows)
        json_array_append_new(s->rows, json_pack("{s:s, s:s, s:I, s:f, s:f, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:o}",
            "op", op->name, "shape", op->shape, "dispatches", (json_int_t)op->dispatches, "median_us", us,
            "min_us", op->min_ns * 1e-3, "reps", (json_int_t)op->reps, "bytes", (json_int_t)op->bytes, "flops",
            (json_int_t)op->flops, "gbps", gbs, "pct_read_peak", pbw, "gflops", gfs, "pct_fma_peak",
            op->flops ? pfma : 0.0, "samples_us", bench_json_doubles(op->samples_ns, op->n_samples, 1e-3)));
}

int bench_ops(int argc, char **argv) {
    const char *cmd = "bench ops";
    vkg_bench_ops_options bo = vkg_bench_ops_default_options();
    const char *csv = NULL, *json = NULL;
    uint32_t probe_mib = 0, min_ms = 20, u;
    int device = -1, dtype = 0, kv = 0, quant = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            print_help();
            return CLI_OK;
        }
        if (bench_option_value(cmd, KNOWN, argc, argv, &i, &v))
            return CLI_USAGE;
        int bad = 0;
        if (!strcmp(a, "--config")) bo.config = v;
        else if (!strcmp(a, "--dtype")) bad = opt_weights(cmd, a, v, &dtype);
        else if (!strcmp(a, "--kv-dtype")) bad = opt_precision(cmd, a, v, &kv);
        else if (!strcmp(a, "--quant")) bad = opt_quant(cmd, a, v, &quant);
        else if (!strcmp(a, "--rows")) bad = opt_u32(cmd, a, v, 1, 4096, &bo.prefill_rows);
        else if (!strcmp(a, "--filter")) bo.filter = v;
        else if (!strcmp(a, "--min-time")) bad = opt_u32(cmd, a, v, 0, 600000, &min_ms);
        else if (!strcmp(a, "--samples")) bad = opt_u32(cmd, a, v, 1, 100000, &bo.min_samples);
        else if (!strcmp(a, "--probe-mib")) bad = opt_u32(cmd, a, v, 1, 1u << 20, &probe_mib);
        else if (!strcmp(a, "--csv")) csv = v;
        else if (!strcmp(a, "--json")) json = v;
        else if (!strcmp(a, "--device")) {
            bad = opt_u32(cmd, a, v, 0, 1024, &u);
            device = (int)u;
        } else
            return cli_usage_error(cmd, "unknown option '%s'", a);
        if (bad)
            return CLI_USAGE;
    }
    vkg_model_config cfg;
    if (vkg_synthetic_config(bo.config, &cfg) != VKG_OK)
        return cli_usage_error(cmd, "--config: %s", vkg_last_error());
    bo.weights = (vkg_precision)dtype;
    bo.quant = (vkg_quant)quant;
    bo.kv = kv ? VKG_PRECISION_F16 : VKG_PRECISION_F32;
    bo.min_time_s = min_ms * 1e-3;
    if (bo.max_samples < bo.min_samples)
        bo.max_samples = bo.min_samples;
    /* Short samples when little time is asked for (the smoke test), else the default 2 ms. */
    if (bo.sample_time_s > bo.min_time_s / 5)
        bo.sample_time_s = bo.min_time_s / 5;

    vkg_context_options co = vkg_context_default_options();
    co.device_index = device;
    vkg_context *ctx = NULL;
    vkg_status st = vkg_context_create(&co, &ctx);
    if (st != VKG_OK)
        return cli_report("opening the Vulkan device", st);
    const vkg_device_info *info = vkg_context_device(ctx);
    ops_state s = {0};
    json_t *root = NULL;
    int rc = CLI_OK;
    char drv[400];
    printf("device: %s\n", info->name);
    printf("driver: %s\n", bench_driver_line(info, drv, sizeof drv));
    fflush(stdout);
    vkg_probe_options po = {.read_bytes = (uint64_t)probe_mib << 20};
    if ((st = vkg_probe_run(ctx, &po, &s.peaks)) != VKG_OK) {
        rc = cli_report("bench ops: probes", st);
        goto done;
    }
    printf("peaks (measured): streaming read %.2f GB/s (%.0f MiB buffer), fp32 FMA %.1f GFLOP/s, "
           "dispatch+barrier %.2f us, empty submit+wait %.1f us\n", s.peaks.read_gbps,
           (double)s.peaks.read_bytes / (1 << 20), s.peaks.fma_gflops, s.peaks.dispatch_us, s.peaks.submit_us);
    printf("config %s (%s, d=%u, %u heads, %u K/V heads, head_dim %u, FFN %u, vocab %u, %u positions), %s weights, "
           "%s KV cache; %s, median of >= %u samples and >= %u ms per op\n", bo.config, cfg.family, cfg.d_model,
           cfg.n_head, cfg.n_kv_head, cfg.head_dim, cfg.d_ff, cfg.vocab_size, cfg.n_positions,
           cli_precision_name(dtype), kv ? "f16" : "f32",
           s.peaks.gpu_timestamps ? "GPU timestamps" : "host clock (no timestamps)", bo.min_samples, min_ms);
    printf("%-24s %-24s %4s %11s %9s %9s %6s %9s %9s %6s\n", "op", "shape", "disp", "time(us)", "MB", "GB/s",
           "%read", "GFLOP", "GFLOP/s", "%fma");
    fflush(stdout);
    if (csv) {
        if (!(s.csv = fopen(csv, "w"))) {
            perror(csv);
            rc = CLI_FAILED;
            goto done;
        }
        fprintf(s.csv, "op,shape,dispatches,median_us,min_us,samples,reps,bytes,flops,gbps,pct_read_peak,gflops,"
                       "pct_fma_peak\n");
    }
    if (json)
        s.rows = json_array();
    if ((st = vkg_bench_ops_run(ctx, &bo, on_op, &s)) != VKG_OK) {
        rc = cli_report("bench ops", st);
        goto done;
    }
    if (json) {
        root = bench_json_header(info, "ops", argc, argv);
        json_object_set_new(root, "config", json_string(bo.config));
        json_object_set_new(root, "dtype", json_string(cli_precision_name(dtype)));
        json_object_set_new(root, "quant", json_string(cli_quant_name(quant)));
        json_object_set_new(root, "kv_dtype", json_string(kv ? "f16" : "f32"));
        json_object_set_new(root, "gpu_timestamps", json_boolean(s.peaks.gpu_timestamps));
        json_object_set_new(root, "peaks", json_pack("{s:f, s:I, s:f, s:f, s:f}", "read_gbps", s.peaks.read_gbps,
                            "read_bytes", (json_int_t)s.peaks.read_bytes, "fma_gflops", s.peaks.fma_gflops,
                            "dispatch_us", s.peaks.dispatch_us, "submit_us", s.peaks.submit_us));
        json_object_set(root, "ops", s.rows);
        if (!bench_json_write("ops", root, json))
            rc = CLI_FAILED;
    }
done:
    if (s.csv && fclose(s.csv) != 0 && rc == CLI_OK) {
        perror(csv);
        rc = CLI_FAILED;
    }
    json_decref(s.rows);
    json_decref(root);
    vkg_context_destroy(ctx);
    return rc;
}
