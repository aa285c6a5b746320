/*
 * tests/profile_step.c — a developer tool, not a test (ctest does not run it): per-kernel GPU time
 * of one forward step on a synthetic model (any family), to see where a decode step or a prefill spends
 * its time on a given device.
 *
 *   profile_step [--config gpt-mini] [--dtype f32|f16|bf16] [--kv f32|f16] [--rows T] [--pos P]
 *                [--reps N] [--all]
 *
 *   --rows 1 (default) profiles a decode step at position --pos (default 64): the split-K decode
 *   attention and the argmax head, as the session's replayed step. --rows T > 1 profiles a prefill
 *   of T rows at position 0 (tiled matmul and attention, the last row's logits).
 *   --all prints every op of every layer instead of the per-kernel sums.
 *
 * How: the session's own graph (vkg_graph_record_marked) is recorded with a GPU timestamp after every
 * op (one op may record two dispatches: decode attention, two-pass argmax). The recording is replayed
 * --reps times (after one warm-up) and the median of each op's time (timestamp delta: the op's
 * dispatches plus the barrier before them) is reported, summed per kernel over the layers, with the
 * sum of the per-op minimums beside it (on a shared, loaded machine the minimum is the steadier
 * estimate of a kernel's own cost). It also replays the same step without timestamps and reports the
 * median wall-clock time of submit + wait, which is what a decode step costs the session, and the
 * process CPU time of that step (on a CPU driver: the work done by all its threads, which other load
 * on the machine disturbs less than wall-clock time).
 *
 * Not: a benchmark for users (that is `vkgpt bench`), nor a correctness check.
 */
#include "model/graph.h"

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/rowwise.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_OPS = 127, MAX_REPS = 200 };

typedef struct profile {
    vkg_cmd *cmd;
    uint32_t n_ops;
    const char *label[MAX_OPS];
    uint32_t slot[MAX_OPS + 1];
    double ns[MAX_OPS][MAX_REPS];
} profile;

static vkg_status mark(profile *p, const char *label) {
    if (p->n_ops >= MAX_OPS)
        return VKG_OK; /* past the query pool: later ops are folded into the total only */
    p->label[p->n_ops] = label;
    return vkg_cmd_timestamp(p->cmd, &p->slot[++p->n_ops]);
}

/* The graph's hook: a timestamp after every op, labelled with the op's name. */
static vkg_status mark_op(void *user, vkg_cmd *cmd, const char *op) {
    profile *p = user;
    (void)cmd;
    return mark(p, op);
}

static double clock_ns(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, uint32_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static vkg_status run(vkg_model *m, uint32_t T, uint32_t pos, uint32_t reps, bool all, vkg_precision kvp) {
    vkg_session *sess = NULL;
    profile *p = calloc(1, sizeof *p);
    vkg_cmd *real = NULL;
    double *wall = calloc(reps, sizeof *wall), *prof_total = calloc(reps, sizeof *prof_total);
    double *cpu = calloc(reps, sizeof *cpu);
    vkg_session_options so = vkg_session_default_options();
    so.kv = kvp;
    vkg_status st = p && wall && prof_total && cpu ? VKG_OK : VKG_ERROR_OUT_OF_HOST_MEMORY;
    if (st == VKG_OK)
        st = vkg_session_create(m, &so, &sess);
    if (st == VKG_OK)
        st = vkg_cmd_create(m->ctx, "profiled step", &p->cmd);
    if (st == VKG_OK)
        st = vkg_cmd_create(m->ctx, "real step", &real);
    if (st != VKG_OK)
        goto done;
    vkg_graph_marker mk = {.fn = mark_op, .user = p};
    if ((st = vkg_cmd_begin(p->cmd)) || (st = vkg_cmd_timestamp(p->cmd, &p->slot[0])) ||
        (st = vkg_session_record_step(sess, p->cmd, pos, T, &mk)))
        goto done;
    uint32_t last;
    if ((st = vkg_cmd_timestamp(p->cmd, &last)) || (st = vkg_cmd_end(p->cmd)))
        goto done;
    p->slot[p->n_ops + 1] = last;
    if ((st = vkg_cmd_begin(real)) || (st = vkg_session_record_step(sess, real, pos, T, NULL)) ||
        (st = vkg_cmd_end(real)))
        goto done;
    uint32_t dispatches = vkg_cmd_dispatch_count(real), barriers = vkg_cmd_barrier_count(real);
    for (uint32_t r = 0; r <= reps; r++) { /* r == 0: warm-up */
        double t0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
        if ((st = vkg_cmd_run(real)))
            goto done;
        double t1 = clock_ns(CLOCK_MONOTONIC), c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
        if ((st = vkg_cmd_run(p->cmd)))
            goto done;
        if (r == 0)
            continue;
        wall[r - 1] = (t1 - t0) * 1e-6;
        cpu[r - 1] = (c1 - c0) * 1e-6;
        for (uint32_t i = 0; i < p->n_ops; i++)
            if ((st = vkg_cmd_elapsed_ns(p->cmd, p->slot[i], p->slot[i + 1], &p->ns[i][r - 1])))
                goto done;
        if ((st = vkg_cmd_elapsed_ns(p->cmd, p->slot[0], p->slot[p->n_ops + 1], &prof_total[r - 1])))
            goto done;
    }
    /* Per op: median over reps; then summed per label (kernel) in first-seen order. */
    const char *names[MAX_OPS];
    double sum[MAX_OPS] = {0}, sum_min[MAX_OPS] = {0};
    uint32_t count[MAX_OPS] = {0}, n_names = 0;
    double total_ops = 0;
    for (uint32_t i = 0; i < p->n_ops; i++) {
        double med = median(p->ns[i], reps) * 1e-6, lo = p->ns[i][0] * 1e-6; /* sorted by median() */
        total_ops += med;
        if (all)
            printf("  %3u %-22s %9.3f ms\n", i, p->label[i], med);
        uint32_t j = 0;
        while (j < n_names && strcmp(names[j], p->label[i]))
            j++;
        if (j == n_names)
            names[n_names++] = p->label[i];
        sum[j] += med;
        sum_min[j] += lo;
        count[j]++;
    }
    double total = median(prof_total, reps) * 1e-6;
    printf("%-22s %5s %10s %10s %6s %10s\n", "kernel", "calls", "sum ms", "per call", "share", "sum of min");
    for (uint32_t j = 0; j < n_names; j++)
        printf("%-22s %5u %10.3f %10.3f %5.1f%% %10.3f\n", names[j], count[j], sum[j], sum[j] / count[j],
               100.0 * sum[j] / total_ops, sum_min[j]);
    printf("sum of op medians %.3f ms; timestamped total (median) %.3f ms\n", total_ops, total);
    double wall_med = median(wall, reps);
    printf("real step (vkg_graph_record, %u dispatches, %u barriers): submit+wait median %.3f ms, min %.3f ms\n",
           dispatches, barriers, wall_med, wall[0]);
    printf("real step: CPU time of the process (all driver threads) median %.3f ms\n", median(cpu, reps));
done:
    vkg_cmd_destroy(real);
    if (p)
        vkg_cmd_destroy(p->cmd);
    vkg_session_free(sess);
    free(p);
    free(wall);
    free(prof_total);
    free(cpu);
    return st;
}

int main(int argc, char **argv) {
    const char *config = "gpt-mini";
    vkg_precision wp = VKG_PRECISION_F32;
    vkg_precision kvs = VKG_PRECISION_F32;
    uint32_t T = 1, pos = 64, reps = 15;
    bool all = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--all")) {
            all = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "profile_step: %s needs a value (see the header of tests/profile_step.c)\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--config"))
            config = v;
        else if (!strcmp(a, "--dtype"))
            wp = !strcmp(v, "f16") ? VKG_PRECISION_F16 : !strcmp(v, "bf16") ? VKG_PRECISION_BF16 : VKG_PRECISION_F32;
        else if (!strcmp(a, "--kv"))
            kvs = !strcmp(v, "f16") ? VKG_PRECISION_F16 : VKG_PRECISION_F32;
        else if (!strcmp(a, "--rows"))
            T = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--pos"))
            pos = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--reps"))
            reps = (uint32_t)strtoul(v, NULL, 10);
        else {
            fprintf(stderr, "profile_step: unknown option %s\n", a);
            return 2;
        }
    }
    if (T == 0 || T > 512 || reps == 0 || reps > MAX_REPS) {
        fprintf(stderr, "profile_step: --rows 1..512, --reps 1..%d\n", MAX_REPS);
        return 2;
    }
    if (T > 1)
        pos = 0;
    vkg_context *ctx = NULL;
    vkg_model *m = NULL;
    vkg_model_options mo = vkg_model_default_options();
    mo.weights = wp;
    vkg_status st = vkg_context_create(NULL, &ctx);
    if (st == VKG_OK)
        st = vkg_model_synthetic(ctx, config, 1, &mo, &m);
    if (st == VKG_OK) {
        printf("%s on %s, weights %s, kv %s, %s (%u rows at position %u), %u reps, weights %.1f MB\n", config,
               vkg_context_device(ctx)->name, wp == VKG_PRECISION_F16 ? "f16" : wp == VKG_PRECISION_BF16 ? "bf16" : "f32",
               kvs == VKG_PRECISION_F16 ? "f16" : "f32", T == 1 ? "decode" : "prefill", T, pos, reps,
               vkg_model_weight_bytes(m) / 1e6);
        st = run(m, T, pos, reps, all, kvs);
    }
    if (st != VKG_OK)
        fprintf(stderr, "profile_step: %s\n", vkg_last_error());
    vkg_model_free(m);
    vkg_context_destroy(ctx);
    return st == VKG_OK ? 0 : 1;
}
