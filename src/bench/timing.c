/* bench/timing.c — the measurement loop of the benchmarks (see timing.h for the method). */
#include "bench/timing.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

double vkg_bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double vkg_bench_median(const double *v, uint32_t n) {
    if (n == 0)
        return 0;
    double *c = malloc(n * sizeof *c);
    if (!c)
        return v[n / 2]; /* out of memory: an unsorted pick is still a sample */
    memcpy(c, v, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_double);
    double m = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    free(c);
    return m;
}

/* Record reps copies between two timestamps (when the device has them). */
static vkg_status record_reps(vkg_cmd *cmd, bool ts, vkg_bench_record_fn record, void *user, uint32_t reps,
                              uint32_t *dispatches) {
    uint32_t slot;
    VKG_TRY(vkg_cmd_begin(cmd));
    if (ts)
        VKG_TRY(vkg_cmd_timestamp(cmd, &slot));
    for (uint32_t r = 0; r < reps; r++) {
        VKG_TRY(record(user, cmd));
        if (r == 0)
            *dispatches = vkg_cmd_dispatch_count(cmd);
    }
    if (ts)
        VKG_TRY(vkg_cmd_timestamp(cmd, &slot));
    return vkg_cmd_end(cmd);
}

/* Run the recording once; nanoseconds for the whole recording. */
static vkg_status run_once(vkg_cmd *cmd, bool ts, double *ns) {
    double t0 = vkg_bench_now();
    VKG_TRY(vkg_cmd_run(cmd));
    double host = (vkg_bench_now() - t0) * 1e9;
    if (!ts) {
        *ns = host;
        return VKG_OK;
    }
    return vkg_cmd_elapsed_ns(cmd, 0, 1, ns);
}

vkg_status vkg_bench_time(vkg_context *ctx, vkg_cmd *cmd, vkg_bench_record_fn record, void *user,
                          const vkg_bench_policy *pol, vkg_bench_timing *out) {
    memset(out, 0, sizeof *out);
    bool ts = vkg_context_device(ctx)->timestamps;
    uint32_t dispatches = 0;
    double ns = 0;
    /* Warm-up with one copy: pipelines are created while recording, memory is touched first here. */
    VKG_TRY(record_reps(cmd, ts, record, user, 1, &dispatches));
    VKG_TRY(run_once(cmd, ts, &ns));
    VKG_TRY(run_once(cmd, ts, &ns));
    uint32_t reps = 1;
    if (ns > 0 && ns < pol->sample_time_s * 1e9) {
        double want = pol->sample_time_s * 1e9 / ns;
        reps = want > pol->max_reps ? pol->max_reps : (uint32_t)want;
        if (reps < 1)
            reps = 1;
    }
    if (reps > 1) {
        VKG_TRY(record_reps(cmd, ts, record, user, reps, &dispatches));
        VKG_TRY(run_once(cmd, ts, &ns)); /* warm-up of the longer recording */
    }
    uint32_t cap = pol->max_samples ? pol->max_samples : 1;
    double *samples = malloc(cap * sizeof *samples);
    if (!samples)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory for %u benchmark samples", cap);
    double total = 0;
    uint32_t n = 0;
    while (n < cap && (n < pol->min_samples || total < pol->min_time_s * 1e9)) {
        vkg_status st = run_once(cmd, ts, &ns);
        if (st != VKG_OK) {
            free(samples);
            return st;
        }
        samples[n++] = ns / reps;
        total += ns;
    }
    out->samples_ns = samples;
    out->n_samples = n;
    out->reps = reps;
    out->dispatches = dispatches;
    out->median_ns = vkg_bench_median(samples, n);
    out->min_ns = samples[0];
    for (uint32_t i = 1; i < n; i++)
        if (samples[i] < out->min_ns)
            out->min_ns = samples[i];
    out->gpu_timestamps = ts;
    return VKG_OK;
}
