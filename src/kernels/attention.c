/*
 * kernels/attention.c — host wrappers of the KV-cache and attention shaders (kv_store.comp,
 * attn_decode.comp + attn_combine.comp, attn_prefill.comp, attn_prefill_rows.comp): shape and
 * limit checks, tile and grouping choice, pipeline variant (fp32 / fp16 cache, required subgroup
 * size), dispatch. Layouts and semantics: attention.h.
 */
#include "kernels/attention.h"

#include "attention_push.h"
#include "step.h"

#include <math.h>

enum {
    KV_STORE_WG = 256,
    DECODE_WG = 64,
    /* Keys per decode workgroup on a GPU. 64 gives gpt2 (H = 12) at context 2048 384 workgroups:
     * enough to fill a large GPU, while each still streams 2 x 64 x hd elements. */
    DECODE_CHUNK = 64,
    /* Query heads one decode workgroup serves at most (attn_decode's QG): each K/V element loaded
     * feeds this many dot products or outputs, held in registers (QG floats in pass 1, QG vec4 in
     * pass 2). Llama-family models have 4 to 8 query heads per K/V head. */
    DECODE_QG_MAX = 8,
    /* On a CPU device one workgroup per K/V head group takes all keys (up to this many; the
     * scores sit in shared memory): lavapipe pays a fixed cost for every workgroup, even those
     * that exit at once because their chunk is past the position, and a few heads already keep its
     * threads busy. One chunk also makes the combine pass unnecessary. */
    DECODE_CHUNK_CPU_MAX = 4096,
    COMBINE_WG = 64,
    PREFILL_WG = 128,
    /* CPU prefill (attn_prefill_rows.comp): keys per softmax block (one rescale of the output per
     * block), the widest SIMD vector of rows taken, the most rows per invocation, and the cap on
     * rows x BK x padded hd (the length of the shader's unrolled key block: compile time). */
    PREFILL_ROWS_BK = 1,
    PREFILL_ROWS_WG_MAX = 64,
    PREFILL_ROWS_R = 16,
    PREFILL_ROWS_WORK = 256,
    /* Shared-memory budget of a prefill workgroup: lavapipe's limit, below NVIDIA's 48 KiB. */
    PREFILL_SHARED_MAX = 32768,
};

/* Workgroup size `wg`, raised to a forced subgroup size so that full subgroups are possible. */
static uint32_t workgroup(const vkg_kernels *k, uint32_t wg) {
    return k->subgroup_size > wg ? k->subgroup_size : wg;
}

/* A view's first `need` bytes, after checking it holds them and fits one binding. */
static vkg_status bind(const vkg_kernels *k, const char *kernel, const char *what, vkg_view v, uint64_t need,
                       vkg_view *out) {
    if (!v.buf)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: %s view has no buffer", kernel, what);
    if (v.size < need)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: %s view holds %llu bytes, the shape needs %llu", kernel,
                        what, (unsigned long long)v.size, (unsigned long long)need);
    uint64_t range = vkg_context_device(k->ctx)->max_storage_buffer_range;
    if (need > range)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "%s: %s needs %llu bytes in one binding, above the device's "
                        "maxStorageBufferRange (%llu)", kernel, what, (unsigned long long)need,
                        (unsigned long long)range);
    *out = (vkg_view){v.buf, v.offset, need};
    return VKG_OK;
}

/* Width in floats of one qkv row: q of H heads, k and v of KVH heads. */
static uint64_t qkv_width(const vkg_attn_shape *s) { return ((uint64_t)s->H + 2u * s->KVH) * s->hd; }

/* The shape alone (no device): sizes, grouping, scale. */
static vkg_status check_shape(const char *kernel, const vkg_attn_shape *s) {
    if (!s)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: no shape", kernel);
    if (s->T == 0 || s->H == 0 || s->KVH == 0 || s->hd == 0 || s->P == 0)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: zero size (T %u, H %u, KVH %u, hd %u, P %u)", kernel,
                        s->T, s->H, s->KVH, s->hd, s->P);
    if (s->H % s->KVH)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: %u K/V heads do not divide %u query heads", kernel,
                        s->KVH, s->H);
    if (s->hd > VKG_ATTENTION_MAX_HEAD_DIM)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: head dimension %u above the supported %u", kernel, s->hd,
                        VKG_ATTENTION_MAX_HEAD_DIM);
    if (s->T > s->P)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: %u rows do not fit a cache of %u positions", kernel, s->T,
                        s->P);
    if (!isfinite(s->scale))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: attention scale %g is not finite", kernel,
                        (double)s->scale);
    return VKG_OK;
}

/* Checks shared by every kernel of the family; binds the caches and the step buffer. */
static vkg_status check_common(const vkg_kernels *k, const char *kernel, vkg_view k_cache, vkg_view v_cache,
                               vkg_storage kv, vkg_view step, const vkg_attn_shape *s, vkg_view *kb, vkg_view *vb,
                               vkg_view *sb) {
    if (!k || !k->ctx)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: no kernel context", kernel);
    VKG_TRY(check_shape(kernel, s));
    if (kv != VKG_STORAGE_F32 && kv != VKG_STORAGE_F16)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: unknown KV storage %d", kernel, (int)kv);
    if (kv == VKG_STORAGE_F16 && !vkg_context_device(k->ctx)->storage_16bit)
        return vkg_fail(VKG_ERROR_FEATURE_MISSING, "%s: fp16 KV cache needs 16-bit storage buffers, which %s "
                        "does not offer", kernel, vkg_context_device(k->ctx)->name);
    uint64_t cache = 0, rows = 0;
    if (!vkg_mul_u64((uint64_t)s->KVH * s->hd, s->P, &cache) ||
        !vkg_mul_u64(cache, vkg_storage_bytes(kv), &cache) || !vkg_mul_u64(qkv_width(s), s->T, &rows) ||
        cache > UINT32_MAX || rows > UINT32_MAX)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "%s: sizes T %u, H %u, KVH %u, hd %u, P %u overflow 32-bit "
                        "indexing", kernel, s->T, s->H, s->KVH, s->hd, s->P);
    VKG_TRY(bind(k, kernel, "K cache", k_cache, cache, kb));
    VKG_TRY(bind(k, kernel, "V cache", v_cache, cache, vb));
    VKG_TRY(bind(k, kernel, "step", step, 4u * VKG_STEP_HEADER_WORDS, sb));
    return VKG_OK;
}

static vkg_attention_push push_of(const vkg_attn_shape *s, uint32_t n_splits) {
    return (vkg_attention_push){.T = s->T, .H = s->H, .hd = s->hd, .P = s->P, .n_splits = n_splits,
                                .KVH = s->KVH, .window = s->window, .scale = s->scale};
}

static vkg_status pipeline(const vkg_kernels *k, const char *shader, uint32_t n_bindings, uint32_t writes,
                           uint32_t n_spec, const uint32_t *spec, vkg_pipeline **out) {
    vkg_kernel_desc d = {.shader = shader, .n_bindings = n_bindings, .writes = writes,
                         .push_size = sizeof(vkg_attention_push), .n_spec = n_spec};
    for (uint32_t i = 0; i < n_spec; i++)
        d.spec[i] = spec[i];
    return vkg_kernels_pipeline(k, d, out);
}

vkg_status vkg_kv_store(const vkg_kernels *k, vkg_cmd *cmd, vkg_view k_cache, vkg_view v_cache, vkg_storage kv,
                        vkg_view qkv, vkg_view step, const vkg_attn_shape *s) {
    static const char *name = "kv_store";
    vkg_view views[4];
    VKG_TRY(check_common(k, name, k_cache, v_cache, kv, step, s, &views[2], &views[3], &views[0]));
    VKG_TRY(bind(k, name, "qkv", qkv, (uint64_t)s->T * qkv_width(s) * 4u, &views[1]));
    uint32_t wg = workgroup(k, KV_STORE_WG);
    vkg_pipeline *p = NULL;
    VKG_TRY(pipeline(k, kv == VKG_STORAGE_F16 ? "kv_store_f16" : "kv_store", 4, (1u << 2) | (1u << 3), 1, &wg, &p));
    vkg_attention_push push = push_of(s, 0);
    uint64_t n = (uint64_t)s->T * s->KVH * s->hd;
    return vkg_cmd_dispatch_1d(cmd, p, views, &push, (n + wg - 1) / wg);
}

/* ---- decode ------------------------------------------------------------------------------------- */

/* Shared-memory bytes of attn_decode.comp (see the shader's header). */
static uint64_t decode_shared(uint32_t hd, uint32_t chunk, uint32_t qg, uint32_t wg) {
    uint64_t g1 = wg >= hd ? wg / hd : 1, hd4 = hd / 4 ? hd / 4 : 1, g4 = wg >= hd4 ? wg / hd4 : 1;
    return 4u * (uint64_t)qg * (hd + chunk + wg + g1 * hd) + 16u * qg * g4 * hd4;
}

/* How attn_decode splits the work: query heads per workgroup (QG) and keys per workgroup (CHUNK). */
typedef struct decode_plan {
    uint32_t wg, qg, chunk, n_splits;
} decode_plan;

static decode_plan decode_plan_of(const vkg_kernels *k, const vkg_attn_shape *s) {
    uint64_t shared = vkg_context_device(k->ctx)->max_shared_memory;
    decode_plan d = {.wg = workgroup(k, DECODE_WG)};
    /* As many query heads of a group as fit (with 64-key chunks; every head size fits QG = 1). */
    d.qg = vkg_min_u32(s->H / s->KVH, DECODE_QG_MAX);
    while (d.qg > 1 && decode_shared(s->hd, DECODE_CHUNK, d.qg, d.wg) > shared)
        d.qg--;
    if (!k->cpu_tuning) {
        d.chunk = DECODE_CHUNK;
    } else {
        /* The scores take 4 * QG * CHUNK bytes: at most half of the shared memory, and all of it
         * together must fit. */
        uint32_t max = vkg_min_u32(DECODE_CHUNK_CPU_MAX, (uint32_t)(shared / (8u * d.qg)));
        max = vkg_max_u32(max / 64 * 64, 64);
        while (max > 64 && decode_shared(s->hd, max, d.qg, d.wg) > shared)
            max -= 64;
        d.chunk = s->P <= max ? vkg_div_up(s->P, 64) * 64 : vkg_div_up(s->P, vkg_div_up(s->P, max));
    }
    d.n_splits = vkg_div_up(s->P, d.chunk);
    return d;
}

uint64_t vkg_attention_decode_scratch_bytes(const vkg_kernels *k, const vkg_attn_shape *s) {
    if (!k || !k->ctx || !s || s->H == 0 || s->KVH == 0 || s->hd == 0 || s->P == 0)
        return 0;
    return (uint64_t)s->H * decode_plan_of(k, s).n_splits * (s->hd + 2u) * 4u;
}

vkg_status vkg_attention_decode(const vkg_kernels *k, vkg_cmd *cmd, vkg_view out, vkg_view qkv, vkg_view k_cache,
                                vkg_view v_cache, vkg_storage kv, vkg_view step, vkg_view scratch,
                                const vkg_attn_shape *s) {
    static const char *name = "attention_decode";
    vkg_view dv[5], cv[3];
    VKG_TRY(check_common(k, name, k_cache, v_cache, kv, step, s, &dv[2], &dv[3], &dv[0]));
    if (s->T != 1)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: decode takes one query row, the shape has T %u", name,
                        s->T);
    VKG_TRY(bind(k, name, "qkv", qkv, qkv_width(s) * 4u, &dv[1]));
    VKG_TRY(bind(k, name, "scratch", scratch, vkg_attention_decode_scratch_bytes(k, s), &dv[4]));
    VKG_TRY(bind(k, name, "out", out, (uint64_t)s->H * s->hd * 4u, &cv[2]));
    decode_plan d = decode_plan_of(k, s);
    uint32_t groups = s->KVH * vkg_div_up(s->H / s->KVH, d.qg); /* grid y: (K/V head, query-head block) */
    const uint32_t *max = vkg_context_device(k->ctx)->max_workgroup_count;
    if (d.n_splits > max[0] || groups > max[1] || s->H > max[0])
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "%s: grid %u x %u (P %u) above the device's %u x %u", name,
                        d.n_splits, groups, s->P, max[0], max[1]);
    cv[0] = dv[0];
    cv[1] = dv[4];

    uint32_t dspec[4] = {d.wg, s->hd, d.chunk, d.qg};
    uint32_t cspec[3] = {workgroup(k, COMBINE_WG), s->hd, d.chunk};
    vkg_pipeline *dp = NULL, *cp = NULL;
    VKG_TRY(pipeline(k, kv == VKG_STORAGE_F16 ? "attn_decode_f16" : "attn_decode", 5, 1u << 4, 4, dspec, &dp));
    vkg_attention_push push = push_of(s, d.n_splits);
    if (d.n_splits == 1) { /* one chunk: attn_decode writes the output itself */
        dv[4] = cv[2];
        return vkg_cmd_dispatch(cmd, dp, dv, &push, 1, groups, 1);
    }
    VKG_TRY(pipeline(k, "attn_combine", 3, 1u << 2, 3, cspec, &cp));
    VKG_TRY(vkg_cmd_dispatch(cmd, dp, dv, &push, d.n_splits, groups, 1));
    return vkg_cmd_dispatch(cmd, cp, cv, &push, s->H, 1, 1);
}

/* ---- prefill ------------------------------------------------------------------------------------ */

/* Shared-memory bytes of attn_prefill.comp for a tile (see the shader's header). */
static uint64_t prefill_shared(uint32_t hd, uint32_t bq, uint32_t bk) {
    return 4u * ((uint64_t)bq * (hd + 1) + (uint64_t)bk * (hd + 1) + (uint64_t)bk * hd + (uint64_t)bq * (bk + 1));
}

/* Grid check shared by both prefill variants. */
static vkg_status prefill_grid(const vkg_kernels *k, const char *name, uint32_t n_blocks, uint32_t KVH) {
    const uint32_t *max = vkg_context_device(k->ctx)->max_workgroup_count;
    if (n_blocks > max[0] || KVH > max[1])
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "%s: grid %u x %u above the device's %u x %u", name, n_blocks, KVH,
                        max[0], max[1]);
    return VKG_OK;
}

/* The subgroup size attn_prefill_rows.comp can be created with (its workgroup is one full
 * subgroup, required through VK_EXT_subgroup_size_control), or 0 where none can be required: the
 * driver could then run the workgroup as several subgroups or a partial one (AMD wave32/64, Intel
 * 8 to 32) and the shader's broadcasts would read garbage. */
static uint32_t prefill_rows_subgroup(const vkg_kernels *k) {
    const vkg_device_info *info = vkg_context_device(k->ctx);
    if (!info->subgroup_size_control)
        return 0;
    uint32_t sg = k->subgroup_size ? k->subgroup_size : info->subgroup_size;
    if (sg < info->subgroup_min || sg > info->subgroup_max || sg > PREFILL_ROWS_WG_MAX)
        sg = info->subgroup_min; /* the default is not on offer to require: the smallest is */
    return sg <= PREFILL_ROWS_WG_MAX ? sg : 0;
}

/* CPU devices: attn_prefill_rows.comp, (row, query head) pairs in SIMD lanes, no shared memory. A
 * workgroup is one subgroup of size `wg` (required), each lane owning `rows` pairs. Same bindings
 * and push constants as the tiled variant. */
static vkg_status prefill_rows(const vkg_kernels *k, vkg_cmd *cmd, const vkg_view *views, vkg_storage kv,
                               const vkg_attn_shape *s, uint32_t wg) {
    static const char *name = "attention_prefill";
    /* Rows per invocation: each key element loaded and broadcast serves `rows` rows, but the
     * shader's unrolled key block is rows x BK x hd multiply-adds long and LLVM's compile time
     * grows fast with it (measured on lavapipe, cold shader cache: a cap of 1024 cost ~15 s per
     * variant, 256 ~2 s; BK 1 ran as fast as BK 4 with R fixed). */
    uint32_t hdp = vkg_div_up(s->hd, wg) * wg;
    uint32_t rows = vkg_max_u32(1, vkg_min_u32(PREFILL_ROWS_R, PREFILL_ROWS_WORK / (PREFILL_ROWS_BK * hdp)));
    uint32_t n_blocks = vkg_div_up(s->T * (s->H / s->KVH), wg * rows);
    VKG_TRY(prefill_grid(k, name, n_blocks, s->KVH));
    uint32_t spec[4] = {wg, s->hd, PREFILL_ROWS_BK, rows};
    vkg_kernels forced = *k; /* the broadcasts span the workgroup: require it to be one subgroup */
    forced.subgroup_size = wg;
    vkg_pipeline *p = NULL;
    VKG_TRY(pipeline(&forced, kv == VKG_STORAGE_F16 ? "attn_prefill_rows_f16" : "attn_prefill_rows", 5, 1u << 4, 4,
                     spec, &p));
    vkg_attention_push push = push_of(s, 0);
    return vkg_cmd_dispatch(cmd, p, views, &push, n_blocks, s->KVH, 1);
}

vkg_status vkg_attention_prefill(const vkg_kernels *k, vkg_cmd *cmd, vkg_view out, vkg_view qkv, vkg_view k_cache,
                                 vkg_view v_cache, vkg_storage kv, vkg_view step, const vkg_attn_shape *s) {
    static const char *name = "attention_prefill";
    vkg_view views[5];
    VKG_TRY(check_common(k, name, k_cache, v_cache, kv, step, s, &views[2], &views[3], &views[0]));
    VKG_TRY(bind(k, name, "qkv", qkv, (uint64_t)s->T * qkv_width(s) * 4u, &views[1]));
    VKG_TRY(bind(k, name, "out", out, (uint64_t)s->T * s->H * s->hd * 4u, &views[4]));
    uint32_t rows_sg = k->cpu_tuning ? prefill_rows_subgroup(k) : 0;
    if (rows_sg)
        return prefill_rows(k, cmd, views, kv, s, rows_sg);

    /* Largest tile that fits: more (row, head) pairs per workgroup reuse each key block more. */
    static const uint32_t tiles[][2] = {{32, 32}, {32, 16}, {16, 16}, {16, 8}, {8, 8}, {4, 4}};
    uint64_t budget = vkg_context_device(k->ctx)->max_shared_memory;
    if (budget > PREFILL_SHARED_MAX)
        budget = PREFILL_SHARED_MAX;
    uint32_t bq = 0, bk = 0;
    for (size_t i = 0; i < sizeof tiles / sizeof tiles[0] && !bq; i++)
        if (prefill_shared(s->hd, tiles[i][0], tiles[i][1]) <= budget) {
            bq = tiles[i][0];
            bk = tiles[i][1];
        }
    if (!bq)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "%s: head dimension %u needs more than the %llu bytes of shared "
                        "memory available", name, s->hd, (unsigned long long)budget);
    uint32_t n_blocks = vkg_div_up(s->T * (s->H / s->KVH), bq);
    VKG_TRY(prefill_grid(k, name, n_blocks, s->KVH));
    uint32_t spec[4] = {workgroup(k, PREFILL_WG), s->hd, bq, bk};
    vkg_pipeline *p = NULL;
    VKG_TRY(pipeline(k, kv == VKG_STORAGE_F16 ? "attn_prefill_f16" : "attn_prefill", 5, 1u << 4, 4, spec, &p));
    vkg_attention_push push = push_of(s, 0);
    return vkg_cmd_dispatch(cmd, p, views, &push, n_blocks, s->KVH, 1);
}
