/*
 * bench/probes.c — the device's own peaks, measured on the spot (vkg_probe_run): a streaming read
 * (shaders/probe_read.comp) for memory bandwidth, an FMA loop (shaders/probe_fma.comp) for fp32
 * throughput, a chain of tiny dependent dispatches (shaders/scale.comp on 64 floats) for the cost of
 * one dispatch + barrier, and an empty submission for the host round trip. `vkgpt bench ops` and
 * `bench gen` divide what the kernels achieve by these. Not a kernel test: values are not checked.
 */
#include "bench/timing.h"

#include "probe_push.h"
#include "scale_push.h"

#include <stdlib.h>
#include <string.h>

enum {
    PROBE_WG = 256,
    READ_PER_INV = 16,     /* vec4 loads per invocation: enough in flight, few enough groups */
    FMA_ITERS = 1024,      /* loop iterations per invocation (64 FLOPs each) */
    CHAIN = 64,            /* dependent dispatches in the dispatch-cost chain */
    SUBMITS = 50,          /* empty submissions timed */
};

typedef struct probe_job {
    vkg_pipeline *pipe;
    vkg_view views[2];
    vkg_probe_push push;
    uint64_t groups;
} probe_job;

static vkg_status record_probe(void *user, vkg_cmd *cmd) {
    probe_job *j = user;
    return vkg_cmd_dispatch_1d(cmd, j->pipe, j->views, &j->push, j->groups);
}

typedef struct chain_job {
    vkg_pipeline *pipe;
    vkg_view a, b;
} chain_job;

/* One link = one dispatch reading the previous link's output (a -> b, then b -> a, ...). */
static vkg_status record_link(void *user, vkg_cmd *cmd) {
    chain_job *j = user;
    vkg_scale_push push = {.n = 64, .a = 1.0f, .b = 0.0f};
    vkg_view v[2] = {j->a, j->b};
    vkg_view t = j->a;
    j->a = j->b;
    j->b = t;
    return vkg_cmd_dispatch(cmd, j->pipe, v, &push, 1, 1, 1);
}

static vkg_status empty(void *user, vkg_cmd *cmd) {
    (void)user;
    (void)cmd;
    return VKG_OK;
}

static uint64_t default_read_bytes(const vkg_device_info *info) {
    uint64_t b = 512ull << 20, heap = 0;
    for (uint32_t i = 0; i < info->n_heaps; i++)
        if (info->heaps[i].device_local && info->heaps[i].size > heap)
            heap = info->heaps[i].size;
    if (heap && heap / 4 < b)
        b = heap / 4;
    if (info->max_storage_buffer_range < b)
        b = info->max_storage_buffer_range;
    return b;
}

static vkg_status run_probes(vkg_context *ctx, const vkg_probe_options *o, vkg_cmd *cmd, vkg_buffer **bufs,
                             vkg_probe_results *out) {
    const vkg_device_info *info = vkg_context_device(ctx);
    vkg_bench_policy pol = {.sample_time_s = o->min_time_s / 5, .min_time_s = o->min_time_s, .min_samples = 5,
                            .max_samples = 200, .max_reps = 64};
    vkg_bench_timing t;
    vkg_pipeline *pipe;

    /* Streaming read. */
    uint64_t bytes = o->read_bytes ? o->read_bytes : default_read_bytes(info);
    if (bytes > info->max_storage_buffer_range)
        bytes = info->max_storage_buffer_range;
    bytes &= ~((64ull << 10) - 1);
    if (bytes == 0)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "probe: a read buffer of %llu bytes is below 64 KiB",
                        (unsigned long long)o->read_bytes);
    VKG_TRY(vkg_buffer_create(ctx, bytes, VKG_MEMORY_DEVICE, "probe read data", &bufs[0]));
    VKG_TRY(vkg_buffer_create(ctx, 256, VKG_MEMORY_DEVICE, "probe sink", &bufs[1]));
    VKG_TRY(vkg_buffer_fill(bufs[0], 0, bytes, 0x3c23d70a)); /* 0.01f: finite sums */
    VKG_TRY(vkg_pipeline_get(ctx, &(vkg_kernel_desc){.shader = "probe_read", .n_bindings = 2, .writes = 2,
                                                     .push_size = sizeof(vkg_probe_push), .n_spec = 1,
                                                     .spec = {PROBE_WG}}, &pipe));
    uint32_t n_vec4 = (uint32_t)(bytes / 16);
    probe_job read = {.pipe = pipe, .views = {vkg_view_whole(bufs[0]), vkg_view_whole(bufs[1])}};
    read.groups = vkg_div_up(n_vec4, PROBE_WG * READ_PER_INV);
    read.push = (vkg_probe_push){.n = n_vec4, .n_groups = (uint32_t)read.groups,
                                 .stride = (uint32_t)read.groups * PROBE_WG, .seed = -1.0f};
    VKG_TRY(vkg_bench_time(ctx, cmd, record_probe, &read, &pol, &t));
    out->read_bytes = bytes;
    out->read_gbps = (double)bytes / t.median_ns;
    out->gpu_timestamps = t.gpu_timestamps;
    free(t.samples_ns);
    vkg_buffer_destroy(bufs[0]);
    bufs[0] = NULL;

    /* FMA throughput: grow the grid until one dispatch lasts long enough to hide launch costs. */
    VKG_TRY(vkg_pipeline_get(ctx, &(vkg_kernel_desc){.shader = "probe_fma", .n_bindings = 1, .writes = 1,
                                                     .push_size = sizeof(vkg_probe_push), .n_spec = 1,
                                                     .spec = {PROBE_WG}}, &pipe));
    probe_job fma = {.pipe = pipe, .views = {vkg_view_whole(bufs[1])}};
    for (uint64_t groups = 16;; groups *= 4) {
        fma.groups = groups;
        fma.push = (vkg_probe_push){.n = FMA_ITERS, .n_groups = (uint32_t)groups, .seed = -1.0f};
        vkg_bench_policy once = {.sample_time_s = 0, .min_time_s = 0, .min_samples = 1, .max_samples = 1,
                                 .max_reps = 1};
        VKG_TRY(vkg_bench_time(ctx, cmd, record_probe, &fma, &once, &t));
        free(t.samples_ns);
        if (t.median_ns >= 2e6 || groups >= (1u << 20))
            break;
    }
    VKG_TRY(vkg_bench_time(ctx, cmd, record_probe, &fma, &pol, &t));
    out->fma_gflops = (double)fma.groups * PROBE_WG * FMA_ITERS * 64.0 / t.median_ns;
    free(t.samples_ns);

    /* Dispatch + barrier: CHAIN dependent one-workgroup dispatches per copy. */
    VKG_TRY(vkg_buffer_create(ctx, 256, VKG_MEMORY_DEVICE, "probe chain a", &bufs[2]));
    VKG_TRY(vkg_buffer_create(ctx, 256, VKG_MEMORY_DEVICE, "probe chain b", &bufs[3]));
    VKG_TRY(vkg_buffer_fill(bufs[2], 0, 256, 0));
    VKG_TRY(vkg_buffer_fill(bufs[3], 0, 256, 0));
    VKG_TRY(vkg_pipeline_get(ctx, &(vkg_kernel_desc){.shader = "scale", .n_bindings = 2, .writes = 2,
                                                     .push_size = sizeof(vkg_scale_push), .n_spec = 1,
                                                     .spec = {64}}, &pipe));
    chain_job chain = {.pipe = pipe, .a = vkg_view_whole(bufs[2]), .b = vkg_view_whole(bufs[3])};
    vkg_bench_policy chain_pol = pol;
    chain_pol.max_reps = CHAIN;
    chain_pol.sample_time_s = 1e9; /* always CHAIN links per sample */
    VKG_TRY(vkg_bench_time(ctx, cmd, record_link, &chain, &chain_pol, &t));
    out->dispatch_us = t.median_ns * 1e-3;
    free(t.samples_ns);

    /* Empty submit + fence wait, host clock. */
    double s[SUBMITS];
    VKG_TRY(vkg_cmd_begin(cmd));
    VKG_TRY(empty(NULL, cmd));
    VKG_TRY(vkg_cmd_end(cmd));
    VKG_TRY(vkg_cmd_run(cmd));
    for (int i = 0; i < SUBMITS; i++) {
        double t0 = vkg_bench_now();
        VKG_TRY(vkg_cmd_run(cmd));
        s[i] = (vkg_bench_now() - t0) * 1e6;
    }
    out->submit_us = vkg_bench_median(s, SUBMITS);
    return VKG_OK;
}

vkg_status vkg_probe_run(vkg_context *ctx, const vkg_probe_options *opts, vkg_probe_results *out) {
    if (!ctx || !out)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_probe_run: NULL argument");
    memset(out, 0, sizeof *out);
    vkg_probe_options o = opts ? *opts : (vkg_probe_options){0};
    if (!(o.min_time_s > 0))
        o.min_time_s = 0.05;
    vkg_cmd *cmd = NULL;
    vkg_buffer *bufs[4] = {0};
    vkg_status st = vkg_cmd_create(ctx, "probes", &cmd);
    if (st == VKG_OK)
        st = run_probes(ctx, &o, cmd, bufs, out);
    vkg_cmd_destroy(cmd);
    for (size_t i = 0; i < VKG_ARRAY_LEN(bufs); i++)
        vkg_buffer_destroy(bufs[i]);
    return st == VKG_OK ? VKG_OK : vkg_fail_context(st, "measuring the device's peaks (probes)");
}
