/*
 * kernels/attention.c — host wrappers of the KV-cache and attention shaders (kv_store.comp,
 * attn_decode.comp + attn_combine.comp, attn_prefill.comp): shape and limit checks, tile choice,
 * pipeline variant (fp32 / fp16 cache), dispatch. Layouts and semantics: attention.h.
 */
#include "kernels/attention.h"

#include "attention_push.h"
#include "step.h"

enum {
    KV_STORE_WG = 256,
    DECODE_WG = 64,
    /* Keys per decode workgroup on a GPU. 64 gives gpt2 (H = 12) at context 2048 384 workgroups:
     * enough to fill a large GPU, while each still streams 2 x 64 x hd elements. */
    DECODE_CHUNK = 64,
    /* On a CPU device one workgroup per head takes all keys (up to this many; 16 KB of scores in
     * shared memory): lavapipe pays a fixed cost for every workgroup, even those that exit at
     * once because their chunk is past the position, and a few heads already keep its threads
     * busy. One chunk also makes the combine pass unnecessary. */
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

/* Checks shared by every kernel of the family; binds the caches and the step buffer. */
static vkg_status check_common(const vkg_kernels *k, const char *kernel, vkg_view k_cache, vkg_view v_cache,
                               vkg_storage kv, vkg_view step, uint32_t T, uint32_t H, uint32_t hd, uint32_t P,
                               vkg_view *kb, vkg_view *vb, vkg_view *sb) {
    if (!k || !k->ctx)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: no kernel context", kernel);
    if (T == 0 || H == 0 || hd == 0 || P == 0)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: zero size (T %u, H %u, hd %u, P %u)", kernel, T, H, hd, P);
    if (hd > VKG_ATTENTION_MAX_HEAD_DIM)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: head dimension %u above the supported %u", kernel, hd,
                        VKG_ATTENTION_MAX_HEAD_DIM);
    if (T > P)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: %u rows do not fit a cache of %u positions", kernel, T, P);
    if (kv != VKG_STORAGE_F32 && kv != VKG_STORAGE_F16)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: unknown KV storage %d", kernel, (int)kv);
    if (kv == VKG_STORAGE_F16 && !vkg_context_device(k->ctx)->storage_16bit)
        return vkg_fail(VKG_ERROR_FEATURE_MISSING, "%s: fp16 KV cache needs 16-bit storage buffers, which %s "
                        "does not offer", kernel, vkg_context_device(k->ctx)->name);
    uint64_t cache = 0, d3 = 0, rows = 0;
    if (!vkg_mul_u64((uint64_t)H * hd, P, &cache) || !vkg_mul_u64(cache, vkg_storage_bytes(kv), &cache) ||
        !vkg_mul_u64((uint64_t)H * hd, 3, &d3) || !vkg_mul_u64(d3, T, &rows) || cache > UINT32_MAX ||
        rows > UINT32_MAX)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "%s: sizes T %u, H %u, hd %u, P %u overflow 32-bit indexing",
                        kernel, T, H, hd, P);
    VKG_TRY(bind(k, kernel, "K cache", k_cache, cache, kb));
    VKG_TRY(bind(k, kernel, "V cache", v_cache, cache, vb));
    VKG_TRY(bind(k, kernel, "step", step, 4u * VKG_STEP_HEADER_WORDS, sb));
    return VKG_OK;
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
                        vkg_view qkv, vkg_view step, uint32_t T, uint32_t H, uint32_t hd, uint32_t P) {
    static const char *name = "kv_store";
    vkg_view views[4];
    VKG_TRY(check_common(k, name, k_cache, v_cache, kv, step, T, H, hd, P, &views[2], &views[3], &views[0]));
    VKG_TRY(bind(k, name, "qkv", qkv, (uint64_t)T * 3u * H * hd * 4u, &views[1]));
    uint32_t wg = workgroup(k, KV_STORE_WG);
    vkg_pipeline *p = NULL;
    VKG_TRY(pipeline(k, kv == VKG_STORAGE_F16 ? "kv_store_f16" : "kv_store", 4, (1u << 2) | (1u << 3), 1, &wg, &p));
    vkg_attention_push push = {.T = T, .H = H, .hd = hd, .P = P};
    uint64_t n = (uint64_t)T * H * hd;
    return vkg_cmd_dispatch_1d(cmd, p, views, &push, (n + wg - 1) / wg);
}

/* Keys per decode workgroup (attn_decode's CHUNK) for this device and cache size. */
static uint32_t decode_chunk(const vkg_kernels *k, uint32_t P) {
    if (!k->cpu_tuning)
        return DECODE_CHUNK;
    /* The scores take 4 * CHUNK bytes of shared memory: at most half of the device's. */
    uint32_t max = vkg_min_u32(DECODE_CHUNK_CPU_MAX, vkg_context_device(k->ctx)->max_shared_memory / 8);
    max = vkg_max_u32(max / 64 * 64, 64);
    return P <= max ? vkg_div_up(P, 64) * 64 : vkg_div_up(P, vkg_div_up(P, max));
}

static uint32_t decode_splits(const vkg_kernels *k, uint32_t P) { return vkg_div_up(P, decode_chunk(k, P)); }

uint64_t vkg_attention_decode_scratch_bytes(const vkg_kernels *k, uint32_t H, uint32_t hd, uint32_t P) {
    if (H == 0 || hd == 0 || P == 0)
        return 0;
    return (uint64_t)H * decode_splits(k, P) * (hd + 2u) * 4u;
}

vkg_status vkg_attention_decode(const vkg_kernels *k, vkg_cmd *cmd, vkg_view out, vkg_view qkv, vkg_view k_cache,
                                vkg_view v_cache, vkg_storage kv, vkg_view step, vkg_view scratch, uint32_t H,
                                uint32_t hd, uint32_t P) {
    static const char *name = "attention_decode";
    vkg_view dv[5], cv[3];
    VKG_TRY(check_common(k, name, k_cache, v_cache, kv, step, 1, H, hd, P, &dv[2], &dv[3], &dv[0]));
    VKG_TRY(bind(k, name, "qkv", qkv, (uint64_t)3u * H * hd * 4u, &dv[1]));
    VKG_TRY(bind(k, name, "scratch", scratch, vkg_attention_decode_scratch_bytes(k, H, hd, P), &dv[4]));
    VKG_TRY(bind(k, name, "out", out, (uint64_t)H * hd * 4u, &cv[2]));
    uint32_t n_splits = decode_splits(k, P), chunk = decode_chunk(k, P);
    const uint32_t *max = vkg_context_device(k->ctx)->max_workgroup_count;
    if (n_splits > max[0] || H > max[1] || H > max[0])
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "%s: grid %u x %u (P %u) above the device's %u x %u", name,
                        n_splits, H, P, max[0], max[1]);
    cv[0] = dv[0];
    cv[1] = dv[4];

    uint32_t dspec[3] = {workgroup(k, DECODE_WG), hd, chunk};
    uint32_t cspec[3] = {workgroup(k, COMBINE_WG), hd, chunk};
    vkg_pipeline *dp = NULL, *cp = NULL;
    VKG_TRY(pipeline(k, kv == VKG_STORAGE_F16 ? "attn_decode_f16" : "attn_decode", 5, 1u << 4, 3, dspec, &dp));
    vkg_attention_push push = {.T = 1, .H = H, .hd = hd, .P = P, .n_splits = n_splits};
    if (n_splits == 1) { /* one chunk: attn_decode writes the output itself */
        dv[4] = cv[2];
        return vkg_cmd_dispatch(cmd, dp, dv, &push, 1, H, 1);
    }
    VKG_TRY(pipeline(k, "attn_combine", 3, 1u << 2, 3, cspec, &cp));
    VKG_TRY(vkg_cmd_dispatch(cmd, dp, dv, &push, n_splits, H, 1));
    return vkg_cmd_dispatch(cmd, cp, cv, &push, H, 1, 1);
}

/* Shared-memory bytes of attn_prefill.comp for a tile (see the shader's header). */
static uint64_t prefill_shared(uint32_t hd, uint32_t bq, uint32_t bk) {
    return 4u * ((uint64_t)bq * (hd + 1) + (uint64_t)bk * (hd + 1) + (uint64_t)bk * hd + (uint64_t)bq * (bk + 1));
}

/* Grid check shared by both prefill variants. */
static vkg_status prefill_grid(const vkg_kernels *k, const char *name, uint32_t n_blocks, uint32_t H) {
    const uint32_t *max = vkg_context_device(k->ctx)->max_workgroup_count;
    if (n_blocks > max[0] || H > max[1])
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "%s: grid %u x %u above the device's %u x %u", name, n_blocks, H,
                        max[0], max[1]);
    return VKG_OK;
}

/* CPU devices: attn_prefill_rows.comp, query rows in SIMD lanes, no shared memory. A workgroup is
 * one subgroup (the shader broadcasts across it; lavapipe's is its SIMD width, 8), each lane owning
 * `rows` rows. Same bindings and push constants as the tiled variant. */
static vkg_status prefill_rows(const vkg_kernels *k, vkg_cmd *cmd, const vkg_view *views, vkg_storage kv,
                               uint32_t T, uint32_t H, uint32_t hd, uint32_t P) {
    static const char *name = "attention_prefill";
    uint32_t wg = k->subgroup_size ? k->subgroup_size : vkg_context_device(k->ctx)->subgroup_size;
    wg = vkg_min_u32(vkg_max_u32(wg, 1), PREFILL_ROWS_WG_MAX);
    /* Rows per invocation: each key element loaded and broadcast serves `rows` rows, but the
     * shader's unrolled key block is rows x BK x hd multiply-adds long and LLVM's compile time
     * grows fast with it (measured on lavapipe, cold shader cache: a cap of 1024 cost ~15 s per
     * variant, 256 ~2 s; BK 1 ran as fast as BK 4 with R fixed). */
    uint32_t hdp = vkg_div_up(hd, wg) * wg;
    uint32_t rows = vkg_max_u32(1, vkg_min_u32(PREFILL_ROWS_R, PREFILL_ROWS_WORK / (PREFILL_ROWS_BK * hdp)));
    uint32_t n_blocks = vkg_div_up(T, wg * rows);
    VKG_TRY(prefill_grid(k, name, n_blocks, H));
    uint32_t spec[4] = {wg, hd, PREFILL_ROWS_BK, rows};
    vkg_pipeline *p = NULL;
    VKG_TRY(pipeline(k, kv == VKG_STORAGE_F16 ? "attn_prefill_rows_f16" : "attn_prefill_rows", 5, 1u << 4, 4, spec,
                     &p));
    vkg_attention_push push = {.T = T, .H = H, .hd = hd, .P = P};
    return vkg_cmd_dispatch(cmd, p, views, &push, n_blocks, H, 1);
}

vkg_status vkg_attention_prefill(const vkg_kernels *k, vkg_cmd *cmd, vkg_view out, vkg_view qkv, vkg_view k_cache,
                                 vkg_view v_cache, vkg_storage kv, vkg_view step, uint32_t T, uint32_t H,
                                 uint32_t hd, uint32_t P) {
    static const char *name = "attention_prefill";
    vkg_view views[5];
    VKG_TRY(check_common(k, name, k_cache, v_cache, kv, step, T, H, hd, P, &views[2], &views[3], &views[0]));
    VKG_TRY(bind(k, name, "qkv", qkv, (uint64_t)T * 3u * H * hd * 4u, &views[1]));
    VKG_TRY(bind(k, name, "out", out, (uint64_t)T * H * hd * 4u, &views[4]));
    if (k->cpu_tuning)
        return prefill_rows(k, cmd, views, kv, T, H, hd, P);

    /* Largest tile that fits: more query rows per workgroup reuse each key block more. */
    static const uint32_t tiles[][2] = {{32, 32}, {32, 16}, {16, 16}, {16, 8}, {8, 8}, {4, 4}};
    uint64_t budget = vkg_context_device(k->ctx)->max_shared_memory;
    if (budget > PREFILL_SHARED_MAX)
        budget = PREFILL_SHARED_MAX;
    uint32_t bq = 0, bk = 0;
    for (size_t i = 0; i < sizeof tiles / sizeof tiles[0] && !bq; i++)
        if (prefill_shared(hd, tiles[i][0], tiles[i][1]) <= budget) {
            bq = tiles[i][0];
            bk = tiles[i][1];
        }
    if (!bq)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "%s: head dimension %u needs more than the %llu bytes of shared "
                        "memory available", name, hd, (unsigned long long)budget);
    uint32_t n_blocks = vkg_div_up(T, bq);
    VKG_TRY(prefill_grid(k, name, n_blocks, H));
    uint32_t spec[4] = {workgroup(k, PREFILL_WG), hd, bq, bk};
    vkg_pipeline *p = NULL;
    VKG_TRY(pipeline(k, kv == VKG_STORAGE_F16 ? "attn_prefill_f16" : "attn_prefill", 5, 1u << 4, 4, spec, &p));
    vkg_attention_push push = {.T = T, .H = H, .hd = hd, .P = P};
    return vkg_cmd_dispatch(cmd, p, views, &push, n_blocks, H, 1);
}
