/*
 * bench/timing.h — how src/bench measures one piece of GPU work: record `reps` dependent copies of
 * it between two timestamps, warm up, calibrate reps to a target sample length, then sample until
 * the samples are long enough to trust and report the median. Used by the probes and the op table;
 * not by the inference path.
 */
#ifndef VKG_BENCH_TIMING_H
#define VKG_BENCH_TIMING_H

#include "vk/vk.h"

/* Records ONE copy of the measured work into cmd (between the timing harness's timestamps). */
typedef vkg_status (*vkg_bench_record_fn)(void *user, vkg_cmd *cmd);

typedef struct vkg_bench_policy {
    double sample_time_s; /* target length of one sample (reps are chosen to reach it) */
    double min_time_s;    /* sample until the samples add up to this ... */
    uint32_t min_samples; /* ... and there are at least this many ... */
    uint32_t max_samples; /* ... but never more than this */
    uint32_t max_reps;    /* cap on copies per recording (descriptor sets, timestamp span) */
} vkg_bench_policy;

typedef struct vkg_bench_timing {
    double *samples_ns;   /* n_samples times of ONE copy; malloc()ed, free() it */
    uint32_t n_samples;
    uint32_t reps;
    uint32_t dispatches;  /* dispatches one copy records */
    double median_ns, min_ns;
    bool gpu_timestamps;
} vkg_bench_timing;

/* Measure `record` on cmd (which it re-records). On success *out owns samples_ns. */
vkg_status vkg_bench_time(vkg_context *ctx, vkg_cmd *cmd, vkg_bench_record_fn record, void *user,
                          const vkg_bench_policy *policy, vkg_bench_timing *out);

/* vkg_bench_now and vkg_bench_median are public (vkgpt.h). */

#endif /* VKG_BENCH_TIMING_H */
