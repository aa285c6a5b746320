/*
 * tests/profile_step.c — a developer tool, not a test (ctest does not run it): per-kernel GPU time
 * of one GPT-2 forward step on a synthetic model, to see where a decode step or a prefill spends
 * its time on a given device.
 *
 *   profile_step [--config gpt-mini] [--dtype f32|f16] [--kv f32|f16] [--rows T] [--pos P]
 *                [--reps N] [--all]
 *
 *   --rows 1 (default) profiles a decode step at position --pos (default 64): the split-K decode
 *   attention and the argmax head, as the session's replayed step. --rows T > 1 profiles a prefill
 *   of T rows at position 0 (tiled matmul and attention, the last row's logits).
 *   --all prints every op of every layer instead of the per-kernel sums.
 *
 * How: the op sequence of model/graph.c is recorded again here, with a GPU timestamp after every
 * kernel wrapper call (one wrapper may record two dispatches: decode attention, two-pass argmax).
 * The recording is replayed --reps times (after one warm-up) and the median of each op's time
 * (timestamp delta: the op's dispatches plus the barrier before them) is reported, summed per kernel
 * over the layers, with the sum of the per-op minimums beside it (on a shared, loaded machine the
 * minimum is the steadier estimate of a kernel's own cost). It also replays the real vkg_graph_record() step (no timestamps) and reports the
 * median wall-clock time of submit + wait, which is what a decode step costs the session, and the
 * process CPU time of that step (on a CPU driver: the work done by all its threads, which other
 * load on the machine disturbs less than wall-clock time). When the
 * graph changes, change record_profiled() below to match (the check of the total against the real
 * step's time shows a mismatch).
 *
 * Not: a benchmark for users (that is `vkgpt bench`), nor a correctness check.
 */
#include "model/graph.h"

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/rowwise.h"

#include <math.h>
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

static vkg_view rows_of(vkg_buffer *b, uint32_t n, uint32_t width) {
    return (vkg_view){b, 0, (uint64_t)n * width * sizeof(float)};
}

/* The op sequence of vkg_graph_record (model/graph.c) with a timestamp after each op. */
static vkg_status record_profiled(profile *p, const vkg_model *m, const vkg_activations *a, const vkg_kv_cache *kv,
                                  uint32_t T) {
    const vkg_kernels *k = &m->kernels;
    uint32_t d = m->cfg.n_embd, H = m->cfg.n_head, hd = d / H, P = m->cfg.n_positions, V = m->cfg.vocab_size;
    float eps = m->cfg.layer_norm_epsilon;
    bool decode = T == 1;
    vkg_cmd *cmd = p->cmd;
    p->n_ops = 0;
    VKG_TRY(vkg_cmd_timestamp(cmd, &p->slot[0]));
    uint64_t step_bytes = (4 + (uint64_t)T) * sizeof(uint32_t);
    VKG_TRY(vkg_cmd_copy(cmd, (vkg_view){a->step_host, 0, step_bytes}, (vkg_view){a->step, 0, step_bytes}));
    VKG_TRY(mark(p, "step copy"));
    VKG_TRY(vkg_embedding(k, cmd, rows_of(a->x, T, d), &m->wte, &m->wpe, vkg_view_whole(a->step), T));
    VKG_TRY(mark(p, "embedding"));
    vkg_view x = rows_of(a->x, T, d), h = rows_of(a->h, T, d), qkv = rows_of(a->qkv, T, 3 * d);
    vkg_view att = rows_of(a->att, T, d), f = rows_of(a->f, T, 4 * d), step = vkg_view_whole(a->step);
    for (uint32_t l = 0; l < m->cfg.n_layer; l++) {
        const vkg_layer_weights *w = &m->layers[l];
        vkg_view kc = vkg_view_whole(kv->k[l]), vc = vkg_view_whole(kv->v[l]);
        vkg_view b_attn = vkg_view_whole(w->attn_b), b_proj = vkg_view_whole(w->proj_b);
        vkg_view b_fc = vkg_view_whole(w->fc_b), b_fcproj = vkg_view_whole(w->fcproj_b);
        VKG_TRY(vkg_layernorm(k, cmd, h, x, vkg_view_whole(w->ln1_g), vkg_view_whole(w->ln1_b), T, d, eps));
        VKG_TRY(mark(p, "layernorm"));
        VKG_TRY(vkg_matmul(k, cmd, qkv, h, &w->attn_w, &b_attn, NULL, T, VKG_EPILOGUE_NONE));
        VKG_TRY(mark(p, "matmul qkv"));
        vkg_attn_shape as = {.T = T, .H = H, .KVH = H, .hd = hd, .P = P, .scale = 1.0f / sqrtf((float)hd)};
        VKG_TRY(vkg_kv_store(k, cmd, kc, vc, kv->storage, qkv, step, &as));
        VKG_TRY(mark(p, "kv_store"));
        if (decode)
            VKG_TRY(vkg_attention_decode(k, cmd, att, qkv, kc, vc, kv->storage, step,
                                         vkg_view_whole(a->attn_scratch), &as));
        else
            VKG_TRY(vkg_attention_prefill(k, cmd, att, qkv, kc, vc, kv->storage, step, &as));
        VKG_TRY(mark(p, decode ? "attention decode" : "attention prefill"));
        VKG_TRY(vkg_matmul(k, cmd, x, att, &w->proj_w, &b_proj, &x, T, VKG_EPILOGUE_RESIDUAL));
        VKG_TRY(mark(p, "matmul proj+res"));
        VKG_TRY(vkg_layernorm(k, cmd, h, x, vkg_view_whole(w->ln2_g), vkg_view_whole(w->ln2_b), T, d, eps));
        VKG_TRY(mark(p, "layernorm"));
        VKG_TRY(vkg_matmul(k, cmd, f, h, &w->fc_w, &b_fc, NULL, T, VKG_EPILOGUE_GELU));
        VKG_TRY(mark(p, "matmul fc+gelu"));
        VKG_TRY(vkg_matmul(k, cmd, x, f, &w->fcproj_w, &b_fcproj, &x, T, VKG_EPILOGUE_RESIDUAL));
        VKG_TRY(mark(p, "matmul fcproj+res"));
    }
    vkg_view x_last = rows_of(a->x, 1, d);
    if (T > 1) {
        VKG_TRY(vkg_cmd_copy(cmd, (vkg_view){a->x, (uint64_t)(T - 1) * d * sizeof(float), (uint64_t)d * sizeof(float)},
                             rows_of(a->att, 1, d)));
        x_last = rows_of(a->att, 1, d);
    }
    VKG_TRY(vkg_layernorm(k, cmd, rows_of(a->h, 1, d), x_last, vkg_view_whole(m->lnf_g), vkg_view_whole(m->lnf_b), 1,
                          d, eps));
    VKG_TRY(mark(p, "layernorm final"));
    VKG_TRY(vkg_matmul(k, cmd, rows_of(a->logits, 1, V), rows_of(a->h, 1, d), &m->wte, NULL, NULL, 1,
                       VKG_EPILOGUE_NONE));
    VKG_TRY(mark(p, "matmul lm head"));
    VKG_TRY(vkg_argmax(k, cmd, (vkg_view){a->argmax, 0, 16}, 0, rows_of(a->logits, 1, V), V,
                       vkg_view_whole(a->argmax_scratch)));
    VKG_TRY(mark(p, "argmax"));
    VKG_TRY(vkg_cmd_copy(cmd, (vkg_view){a->argmax, 0, sizeof(uint32_t)}, (vkg_view){a->out, 0, sizeof(uint32_t)}));
    uint32_t last;
    return vkg_cmd_timestamp(cmd, &last) == VKG_OK ? (p->slot[p->n_ops + 1] = last, VKG_OK) : VKG_ERROR_INTERNAL;
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

static vkg_status make(vkg_context *ctx, uint64_t bytes, vkg_memory_kind kind, const char *name, vkg_buffer **out) {
    VKG_TRY(vkg_buffer_create(ctx, bytes, kind, name, out));
    return kind == VKG_MEMORY_DEVICE ? vkg_buffer_fill(*out, 0, bytes, 0) : VKG_OK;
}

static vkg_status alloc_activations(vkg_model *m, uint32_t R, vkg_activations *a, vkg_kv_cache *kv,
                                    vkg_storage kv_storage) {
    vkg_context *ctx = m->ctx;
    uint64_t d = m->cfg.n_embd, V = m->cfg.vocab_size, f = sizeof(float), H = m->cfg.n_head, P = m->cfg.n_positions;
    memset(a, 0, sizeof *a);
    a->max_rows = R;
    a->logit_rows = 1;
    VKG_TRY(make(ctx, (4 + R) * 4, VKG_MEMORY_HOST, "step (host)", &a->step_host));
    VKG_TRY(make(ctx, (4 + R) * 4, VKG_MEMORY_DEVICE, "step", &a->step));
    VKG_TRY(make(ctx, R * d * f, VKG_MEMORY_DEVICE, "x", &a->x));
    VKG_TRY(make(ctx, R * d * f, VKG_MEMORY_DEVICE, "h", &a->h));
    VKG_TRY(make(ctx, R * 3 * d * f, VKG_MEMORY_DEVICE, "qkv", &a->qkv));
    VKG_TRY(make(ctx, R * d * f, VKG_MEMORY_DEVICE, "att", &a->att));
    VKG_TRY(make(ctx, R * 4 * d * f, VKG_MEMORY_DEVICE, "mlp", &a->f));
    vkg_attn_shape as = {.T = 1, .H = (uint32_t)H, .KVH = (uint32_t)H, .hd = (uint32_t)(d / H), .P = (uint32_t)P,
                         .scale = 1.0f / sqrtf((float)(d / H))};
    VKG_TRY(make(ctx, vkg_attention_decode_scratch_bytes(&m->kernels, &as), VKG_MEMORY_DEVICE,
                 "attention scratch", &a->attn_scratch));
    VKG_TRY(make(ctx, V * f, VKG_MEMORY_DEVICE, "logits", &a->logits));
    VKG_TRY(make(ctx, 16, VKG_MEMORY_DEVICE, "argmax", &a->argmax));
    uint64_t scratch = vkg_argmax_scratch_bytes((uint32_t)V);
    VKG_TRY(make(ctx, scratch ? scratch : 16, VKG_MEMORY_DEVICE, "argmax scratch", &a->argmax_scratch));
    VKG_TRY(make(ctx, 16 + V * f, VKG_MEMORY_READBACK, "out", &a->out));
    kv->storage = kv_storage;
    kv->k = calloc(m->cfg.n_layer, sizeof *kv->k);
    kv->v = calloc(m->cfg.n_layer, sizeof *kv->v);
    if (!kv->k || !kv->v)
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    for (uint32_t l = 0; l < m->cfg.n_layer; l++) {
        VKG_TRY(make(ctx, H * P * (d / H) * vkg_storage_bytes(kv_storage), VKG_MEMORY_DEVICE, "K", &kv->k[l]));
        VKG_TRY(make(ctx, H * P * (d / H) * vkg_storage_bytes(kv_storage), VKG_MEMORY_DEVICE, "V", &kv->v[l]));
    }
    return VKG_OK;
}

static void free_activations(const vkg_model *m, vkg_activations *a, vkg_kv_cache *kv) {
    vkg_buffer *bufs[] = {a->step_host, a->step, a->x, a->h, a->qkv, a->att, a->f, a->attn_scratch, a->logits,
                          a->argmax, a->argmax_scratch, a->out};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        vkg_buffer_destroy(bufs[i]);
    for (uint32_t l = 0; kv->k && l < m->cfg.n_layer; l++) {
        vkg_buffer_destroy(kv->k[l]);
        vkg_buffer_destroy(kv->v[l]);
    }
    free(kv->k);
    free(kv->v);
}

static void set_step(vkg_activations *a, uint32_t pos, uint32_t T, uint32_t vocab) {
    uint32_t *s = vkg_buffer_map(a->step_host);
    s[0] = pos;
    for (uint32_t t = 0; t < T; t++)
        s[4 + t] = (t * 2654435761u) % vocab;
}

static vkg_status run(vkg_model *m, uint32_t T, uint32_t pos, uint32_t reps, bool all, vkg_storage kvs) {
    vkg_activations a;
    vkg_kv_cache kv = {0};
    profile *p = calloc(1, sizeof *p);
    vkg_cmd *real = NULL;
    double *wall = calloc(reps, sizeof *wall), *prof_total = calloc(reps, sizeof *prof_total);
    double *cpu = calloc(reps, sizeof *cpu);
    vkg_status st = p && wall && prof_total && cpu ? VKG_OK : VKG_ERROR_OUT_OF_HOST_MEMORY;
    if (st == VKG_OK)
        st = alloc_activations(m, T, &a, &kv, kvs);
    if (st == VKG_OK)
        st = vkg_cmd_create(m->ctx, "profiled step", &p->cmd);
    if (st == VKG_OK)
        st = vkg_cmd_create(m->ctx, "real step", &real);
    if (st != VKG_OK)
        goto done;
    set_step(&a, pos, T, m->cfg.vocab_size);
    if ((st = vkg_cmd_begin(p->cmd)) || (st = record_profiled(p, m, &a, &kv, T)) || (st = vkg_cmd_end(p->cmd)))
        goto done;
    if ((st = vkg_cmd_begin(real)) ||
        (st = vkg_graph_record(m, real, &a, &kv, T, T == 1, VKG_LOGITS_ARGMAX)) || (st = vkg_cmd_end(real)))
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
    if (a.max_rows)
        free_activations(m, &a, &kv);
    free(p);
    free(wall);
    free(prof_total);
    free(cpu);
    return st;
}

int main(int argc, char **argv) {
    const char *config = "gpt-mini";
    vkg_precision wp = VKG_PRECISION_F32;
    vkg_storage kvs = VKG_STORAGE_F32;
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
            wp = !strcmp(v, "f16") ? VKG_PRECISION_F16 : VKG_PRECISION_F32;
        else if (!strcmp(a, "--kv"))
            kvs = !strcmp(v, "f16") ? VKG_STORAGE_F16 : VKG_STORAGE_F32;
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
               vkg_context_device(ctx)->name, wp == VKG_PRECISION_F16 ? "f16" : "f32",
               kvs == VKG_STORAGE_F16 ? "f16" : "f32", T == 1 ? "decode" : "prefill", T, pos, reps,
               vkg_model_weight_bytes(m) / 1e6);
        st = run(m, T, pos, reps, all, kvs);
    }
    if (st != VKG_OK)
        fprintf(stderr, "profile_step: %s\n", vkg_last_error());
    vkg_model_free(m);
    vkg_context_destroy(ctx);
    return st == VKG_OK ? 0 : 1;
}
