/*
 * kernels/matmul.c — host wrapper of the matmul family: checks shapes and limits, chooses the path
 * (vector / tiled / cooperative matrix) and its pipeline variant, splits W into binding-sized row
 * chunks and records one dispatch per chunk. The math and the grids are documented in the shaders
 * (shaders/matmul_vec.comp, matmul_tiled.comp, matmul_coopmat.comp).
 */
#include "kernels/matmul.h"
#include "kernels/matmul_quant.h"

#include "matmul_push.h"

#include <stdlib.h>

enum {
    BIND_Y, BIND_X, BIND_W, BIND_BIAS, BIND_R, N_BIND,
    /* matmul_tiled.comp tile, in elements; 256 threads of 4 x 4 outputs, 8.3 KB shared memory */
    TILE_BM = 64, TILE_BN = 64, TILE_BK = 16, TILE_TM = 4, TILE_TN = 4,
    /* matmul_coopmat.comp: 64 x 64 block, 4 subgroups (of 32 where possible), BK = 32, 24 KB shared */
    COOP_SUBGROUPS = 4, COOP_BM = 64, COOP_BN = 64, COOP_BK = 32, COOP_SUBGROUP = 32, COOP_FK = 16,
    COOP_SHARED = 2 * 64 * COOP_BK * 2 + 64 * 64 * 4,
};

static const char *storage_name(vkg_storage s) {
    return s == VKG_STORAGE_F16 ? "fp16" : s == VKG_STORAGE_BF16 ? "bf16" : "fp32";
}

/* The fragment rows FM and columns FN of an fp16 FM x FN x 16 shape that extension `api` offers, the
 * largest with FM, FN in {8, 16} (they must divide the 32 x 32 quadrant of a subgroup); false if none. */
static bool coopmat_shape(const vkg_device_info *info, vkg_coopmat_api api, uint32_t *fm, uint32_t *fn) {
    uint32_t best = 0;
    for (uint32_t i = 0; i < info->n_coopmat_shapes; i++) {
        uint32_t m = info->coopmat_shapes[i].m, n = info->coopmat_shapes[i].n;
        if (info->coopmat_shapes[i].khr != (api == VKG_COOPMAT_KHR) || info->coopmat_shapes[i].k != COOP_FK ||
            (m != 8 && m != 16) || (n != 8 && n != 16) || m * n <= best)
            continue;
        best = m * n;
        *fm = m;
        *fn = n;
    }
    return best != 0;
}

/* The subgroup size the cooperative-matrix workgroup is laid out for: a forced size, else 32 (what
 * NVIDIA runs, and what AMD runs matrix cores with) where the device can run 32, else its default.
 * matmul_coopmat.comp gives each of exactly 4 subgroups a quadrant (gl_SubgroupID), so the pipeline
 * always requires this size with full subgroups (VK_EXT_subgroup_size_control, core in 1.3):
 * without that a driver may pick another size for the pipeline (AMD wave32/64, Intel 8..32) or
 * launch partial subgroups, and the quadrants would be computed by the wrong lanes or not at all.
 * 0 where that cannot be required, or where `api` cannot use the size (NV is NVIDIA's: 32). */
static uint32_t coopmat_subgroup(const vkg_kernels *k, vkg_coopmat_api api) {
    const vkg_device_info *info = vkg_context_device(k->ctx);
    if (!info->subgroup_size_control)
        return 0;
    uint32_t s = k->subgroup_size;
    if (!s)
        s = info->subgroup_min <= COOP_SUBGROUP && info->subgroup_max >= COOP_SUBGROUP ? COOP_SUBGROUP
                                                                                       : info->subgroup_size;
    if (s < info->subgroup_min || s > info->subgroup_max || (api == VKG_COOPMAT_NV && s != COOP_SUBGROUP))
        return 0;
    return s * COOP_SUBGROUPS <= info->max_workgroup_invocations ? s : 0;
}

bool vkg_matmul_coopmat_usable(const vkg_kernels *k, vkg_coopmat_api api) {
    const vkg_device_info *info = vkg_context_device(k->ctx);
    uint32_t fm, fn;
    bool ext = api == VKG_COOPMAT_KHR ? info->coopmat_khr : api == VKG_COOPMAT_NV && info->coopmat_nv;
    /* glslang declares the Vulkan memory model for cooperative-matrix shaders. */
    return ext && info->fp16_arithmetic && info->storage_16bit && info->vulkan_memory_model &&
           coopmat_shape(info, api, &fm, &fn) && coopmat_subgroup(k, api) != 0 &&
           info->max_shared_memory >= COOP_SHARED;
}

bool vkg_matmul_coopmat_config(const vkg_kernels *k, vkg_coopmat_api api, uint32_t *fm, uint32_t *fn, uint32_t *sg) {
    if (!vkg_matmul_coopmat_usable(k, api))
        return false;
    coopmat_shape(vkg_context_device(k->ctx), api, fm, fn);
    *sg = coopmat_subgroup(k, api);
    return true;
}

/* matmul_vec.comp's work split (see its header): WG threads in teams of TPR, each team computing
 * ROWS outputs per pass, PASSES passes: (WG / TPR) * ROWS * PASSES outputs per workgroup. */
typedef struct vec_shape {
    uint32_t wg, rows, tpr, passes, mb;
} vec_shape;

enum { DECODE_BATCH_MB = 8 }; /* rows of X per workgroup in a batched decode step (shared memory) */

static vec_shape vec_shape_for(const vkg_kernels *k, uint32_t M, uint32_t K, uint32_t N, bool w16, bool batch) {
    uint32_t chunks = K / (w16 ? 8 : 4);
    vec_shape s;
    if (k->cpu_tuning) {
        /* Each invocation owns 4 whole rows (teams of one: no reduction, x reused 4 times) and,
         * for prefill, 4 rows of X (each W load used 4 times); one SIMD row of invocations (the
         * subgroup width: 8 on lavapipe) per workgroup, whose barrier-free loop then runs with no
         * coroutine switches; as many passes as keep ~16 workgroups for the driver's threads to
         * share on small N, at most 8 on large N, where each workgroup's fixed cost is then
         * amortised. Measured on lavapipe with tests/profile_step.c: the gpt-mini LM head went from
         * 66 ms (128 threads on 4 rows) to about 6-11 ms. */
        uint32_t wg = vkg_max_u32(vkg_context_device(k->ctx)->subgroup_size, 1);
        uint32_t per_pass = wg * 4, rb = vkg_div_up(vkg_div_up(N, 16), per_pass) * per_pass;
        s = (vec_shape){.wg = wg, .rows = 4, .tpr = 1, .passes = vkg_min_u32(rb / per_pass, 8), .mb = M > 1 ? 4 : 1};
        if (batch) /* teams of one hold whole sums: any MB leaves each row's arithmetic as at M = 1 */
            s.mb = vkg_min_u32(M, DECODE_BATCH_MB);
    } else {
        /* One team of the whole workgroup on 1..4 rows: many workgroups to fill a GPU; more rows
         * per workgroup share x loads where N is large enough to keep every core busy anyway. */
        s.wg = chunks >= 128 ? 128 : 64;
        s.rows = N >= 16384 ? 4 : N >= 2048 ? 2 : 1;
        s.tpr = s.wg;
        s.passes = 1;
        s.mb = batch ? vkg_min_u32(M, DECODE_BATCH_MB) : 1;
    }
    /* A forced subgroup size must fit the workgroup (and teams then still divide it). */
    if (k->subgroup_size > s.wg) {
        s.tpr = s.tpr * (k->subgroup_size / s.wg);
        s.wg = k->subgroup_size;
    }
    return s;
}

static uint32_t gcd_u32(uint32_t a, uint32_t b) {
    while (b) {
        uint32_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Rows of W per chunk: as many as one binding allows, or fewer when the options ask, keeping
 * rows * row_bytes a multiple of the offset alignment so that every chunk starts aligned. */
static uint64_t chunk_rows(const vkg_kernels *k, uint64_t row_bytes, const vkg_matmul_options *opt) {
    uint64_t rows = vkg_rows_per_binding(k->ctx, row_bytes);
    if (opt && opt->max_chunk_rows && opt->max_chunk_rows < rows) {
        uint32_t align = vkg_context_device(k->ctx)->min_storage_buffer_offset_alignment;
        uint64_t step = align ? align / gcd_u32(align, (uint32_t)(row_bytes % align ? row_bytes % align : align)) : 1;
        rows = opt->max_chunk_rows / step * step;
        if (rows == 0)
            rows = step;
    }
    return rows;
}

uint32_t vkg_matmul_chunk_count(const vkg_kernels *k, const vkg_matrix *w, const vkg_matmul_options *opt) {
    if (vkg_storage_is_block(w->storage))
        return vkg_matmul_quant_chunk_count(k, w, opt);
    uint64_t rows = chunk_rows(k, (uint64_t)w->cols * vkg_storage_bytes(w->storage), opt);
    return (uint32_t)((w->rows + rows - 1) / rows);
}

static bool overlaps(vkg_view a, vkg_buffer *b_buf, uint64_t b_off, uint64_t b_size) {
    return a.buf == b_buf && a.offset < b_off + b_size && b_off < a.offset + a.size;
}

/* A view bound as exactly `bytes` of `v`, after checking that `v` holds that much. */
static vkg_status bind_view(const char *what, vkg_view v, uint64_t bytes, uint64_t range, uint32_t M,
                            uint32_t N, uint32_t K, vkg_view *out) {
    if (!v.buf)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: %s view has no buffer", M, N, K, what);
    if (v.size < bytes)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: %s view holds %llu bytes, needs %llu",
                        M, N, K, what, (unsigned long long)v.size, (unsigned long long)bytes);
    if (bytes > range)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "matmul M=%u N=%u K=%u: %s needs %llu bytes in one binding, the "
                        "device allows %llu (maxStorageBufferRange): split M", M, N, K, what,
                        (unsigned long long)bytes, (unsigned long long)range);
    *out = (vkg_view){v.buf, v.offset, bytes};
    return VKG_OK;
}

vkg_status vkg_matmul(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, vkg_view x, const vkg_matrix *w,
                      const vkg_view *bias, const vkg_view *residual, uint32_t M, vkg_epilogue ep) {
    return vkg_matmul_ex(k, cmd, y, x, w, bias, residual, M, ep, NULL);
}

vkg_status vkg_matmul_ex(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, vkg_view x, const vkg_matrix *w,
                         const vkg_view *bias, const vkg_view *residual, uint32_t M, vkg_epilogue ep,
                         const vkg_matmul_options *opt) {
    if (!k || !k->ctx || !cmd || !w || !w->buf)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul: NULL kernels, recorder or weight matrix");
    if (vkg_storage_is_block(w->storage)) /* ggml block formats: their own shaders */
        return vkg_matmul_quant(k, cmd, y, x, w, bias, residual, M, ep, opt);
    const vkg_device_info *info = vkg_context_device(k->ctx);
    uint32_t N = w->rows, K = w->cols;
    /* Y may be wider than W's outputs (a row segment of a larger weight: y_cols, y_col0). */
    uint32_t NY = opt && opt->y_cols ? opt->y_cols : N, col0 = opt && opt->y_cols ? opt->y_col0 : 0;
    if (M == 0 || N == 0 || K == 0)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: every size must be at least 1", M, N, K);
    if (ep != VKG_EPILOGUE_NONE && ep != VKG_EPILOGUE_GELU && ep != VKG_EPILOGUE_RESIDUAL)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: unknown epilogue %d", M, N, K, (int)ep);
    if (ep == VKG_EPILOGUE_RESIDUAL && !residual)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: residual epilogue without a residual "
                        "view", M, N, K);
    if (w->storage != VKG_STORAGE_F32 && w->storage != VKG_STORAGE_F16 && w->storage != VKG_STORAGE_BF16)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: unknown weight storage %d", M, N, K,
                        (int)w->storage);
    const char *sname = storage_name(w->storage);
    if (w->storage != VKG_STORAGE_F32 && !info->storage_16bit)
        return vkg_fail(VKG_ERROR_FEATURE_MISSING, "matmul M=%u N=%u K=%u: %s weights need 16-bit storage, "
                        "which %s lacks (or VKG_DISABLE_FP16 is set)", M, N, K, sname, info->name);
    vkg_matmul_path path = opt ? opt->path : VKG_MATMUL_PATH_AUTO;
    bool coop_ok = w->storage == VKG_STORAGE_F16 && k->coopmat != VKG_COOPMAT_NONE &&
                   vkg_matmul_coopmat_usable(k, k->coopmat);
    if (path == VKG_MATMUL_PATH_COOPMAT && !coop_ok)
        return vkg_fail(VKG_ERROR_FEATURE_MISSING, "matmul M=%u N=%u K=%u: the cooperative-matrix path needs fp16 "
                        "weights (these are %s) and VK_KHR_ or VK_NV_cooperative_matrix with an fp16 8|16 x 8|16 "
                        "x 16 shape, shaderFloat16, 16-bit storage, the Vulkan memory model, 24 KB of shared "
                        "memory and subgroup size control (4 full subgroups); %s %s", M, N, K, sname, info->name,
                        k->coopmat == VKG_COOPMAT_NONE ? "has none of it usable (or it is switched off)"
                                                       : "does not offer them through the chosen extension");
    /* A CPU device runs prefill on the vector path too, with MB rows of X per workgroup: the tiled
     * path's shared-memory staging and barriers in its K loop cost far more there (lavapipe). */
    if (path == VKG_MATMUL_PATH_AUTO)
        path = M == 1 || k->cpu_tuning ? VKG_MATMUL_PATH_VECTOR
                      : coop_ok ? VKG_MATMUL_PATH_COOPMAT : VKG_MATMUL_PATH_TILED;
    if (path != VKG_MATMUL_PATH_VECTOR && path != VKG_MATMUL_PATH_TILED && path != VKG_MATMUL_PATH_COOPMAT)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: unknown path %d", M, N, K, (int)path);

    /* Sizes of what is bound; all products checked (M*N*4 may pass 2^32 on large prompts). */
    uint32_t eb = vkg_storage_bytes(w->storage);
    uint64_t y_bytes, x_bytes, w_bytes, w_end, row_bytes = (uint64_t)K * eb, range = info->max_storage_buffer_range;
    if ((uint64_t)col0 + N > NY)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: outputs %u.. do not fit a Y of %u columns",
                        M, N, K, col0, NY);
    if (!vkg_mul_u64((uint64_t)M * NY, 4, &y_bytes) || !vkg_mul_u64((uint64_t)M * K, 4, &x_bytes) ||
        !vkg_mul_u64(N, row_bytes, &w_bytes) || !vkg_add_u64(w->offset, w_bytes, &w_end))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: sizes overflow", M, N, K);
    if (w_end > vkg_buffer_size(w->buf))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: weight matrix [%u,%u] (%s) at offset "
                        "%llu needs %llu bytes, its buffer has %llu", M, N, K, N, K, sname,
                        (unsigned long long)w->offset, (unsigned long long)w_bytes,
                        (unsigned long long)vkg_buffer_size(w->buf));
    uint32_t align = info->min_storage_buffer_offset_alignment ? info->min_storage_buffer_offset_alignment : 1;
    if (w->offset % align)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: weight offset %llu is not a multiple "
                        "of minStorageBufferOffsetAlignment %u", M, N, K, (unsigned long long)w->offset, align);
    vkg_view views[N_BIND];
    VKG_TRY(bind_view("y", y, y_bytes, range, M, N, K, &views[BIND_Y]));
    VKG_TRY(bind_view("x", x, x_bytes, range, M, N, K, &views[BIND_X]));
    views[BIND_BIAS] = views[BIND_R] = views[BIND_X]; /* dummies: never read when absent */
    if (bias)
        VKG_TRY(bind_view("bias", *bias, (uint64_t)NY * 4, range, M, N, K, &views[BIND_BIAS]));
    if (ep == VKG_EPILOGUE_RESIDUAL) {
        VKG_TRY(bind_view("residual", *residual, y_bytes, range, M, N, K, &views[BIND_R]));
        vkg_view r = views[BIND_R], yb = views[BIND_Y];
        if (overlaps(yb, r.buf, r.offset, r.size) && r.offset != yb.offset)
            return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: residual overlaps y without being "
                            "the same range (in place is fine, shifted is not)", M, N, K);
    }
    vkg_view yb = views[BIND_Y];
    if (overlaps(yb, x.buf, views[BIND_X].offset, x_bytes) || overlaps(yb, w->buf, w->offset, w_bytes) ||
        (bias && overlaps(yb, bias->buf, bias->offset, (uint64_t)N * 4)))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: y overlaps x, the weights or the bias",
                        M, N, K);

    /* The pipeline and the grid's block sizes of the chosen path. */
    bool w16 = w->storage != VKG_STORAGE_F32; /* fp16 or bf16: 8 per vector chunk */
    static const char *vec_names[] = {"matmul_vec_f32", "matmul_vec_f16", "matmul_vec_bf16"};
    static const char *tiled_names[] = {"matmul_tiled_f32", "matmul_tiled_f16", "matmul_tiled_bf16"};
    vkg_kernel_desc desc = {.n_bindings = N_BIND, .writes = 1u << BIND_Y, .push_size = sizeof(vkg_matmul_push)};
    uint32_t block_n, block_m, aligned;
    vkg_pipeline *p = NULL;
    if (path == VKG_MATMUL_PATH_VECTOR) {
        vec_shape vs = vec_shape_for(k, M, K, N, w16, opt && opt->decode_batch);
        block_n = (vs.wg / vs.tpr) * vs.rows * vs.passes;
        block_m = vs.mb;
        aligned = K % (w16 ? 8 : 4) == 0;
        desc.shader = vec_names[w->storage];
        desc.n_spec = 5;
        desc.spec[0] = vs.wg;
        desc.spec[1] = vs.rows;
        desc.spec[2] = vs.tpr;
        desc.spec[3] = vs.passes;
        desc.spec[4] = vs.mb;
        VKG_TRY(vkg_kernels_pipeline(k, desc, &p));
    } else if (path == VKG_MATMUL_PATH_TILED) {
        block_n = TILE_BN;
        block_m = TILE_BM;
        aligned = K % 4 == 0;
        desc.shader = tiled_names[w->storage];
        desc.n_spec = 6;
        uint32_t spec[6] = {(TILE_BM / TILE_TM) * (TILE_BN / TILE_TN), TILE_BM, TILE_BN, TILE_BK, TILE_TM, TILE_TN};

        for (int i = 0; i < 6; i++)
            desc.spec[i] = spec[i];
        VKG_TRY(vkg_kernels_pipeline(k, desc, &p));
    } else {
        block_n = COOP_BN;
        block_m = COOP_BM;
        aligned = K % 4 == 0;
        uint32_t fm = 0, fn = 0, sg = coopmat_subgroup(k, k->coopmat);
        coopmat_shape(info, k->coopmat, &fm, &fn);
        desc.shader = k->coopmat == VKG_COOPMAT_KHR ? "matmul_coopmat_khr" : "matmul_coopmat_nv";
        desc.n_spec = 4;
        desc.spec[0] = COOP_SUBGROUPS * sg;
        desc.spec[1] = COOP_BK;
        desc.spec[2] = fn;
        desc.spec[3] = fm;
        /* The workgroup is exactly 4 full subgroups of sg (coopmat_subgroup): always required. */
        desc.subgroup_size = sg;
        VKG_TRY(vkg_pipeline_get(k->ctx, &desc, &p));
    }

    uint64_t rows = chunk_rows(k, row_bytes, opt);
    for (uint64_t first = 0; first < N; first += rows) {
        uint32_t count = (uint32_t)(N - first < rows ? N - first : rows);
        uint64_t groups_n = vkg_div_up(count, block_n), groups = groups_n * vkg_div_up(M, block_m);
        if (groups > UINT32_MAX)
            return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "matmul M=%u N=%u K=%u: %llu workgroups in one dispatch", M, N,
                            K, (unsigned long long)groups);
        vkg_matmul_push push = {
            .M = M, .N = NY, .K = K, .n_offset = col0 + (uint32_t)first, .n_count = count,
            .groups_n = (uint32_t)groups_n, .n_groups = (uint32_t)groups,
            .has_bias = bias != NULL, .epilogue = (uint32_t)ep, .aligned = aligned,
        };
        views[BIND_W] = (vkg_view){w->buf, w->offset + first * row_bytes, (uint64_t)count * row_bytes};
        VKG_TRY(vkg_cmd_dispatch_1d(cmd, p, views, &push, groups));
    }
    return VKG_OK;
}

/* vkg_matmul_coopmat_verify's problem: sizes that are not multiples of the 64 x 64 block or of the
 * fragments, inputs that fp16 holds exactly (multiples of 1/4 and 1/2 below 2) so that every product
 * and every partial sum is exact in fp32 and the result must match to the bit. */
enum { VERIFY_M = 70, VERIFY_N = 72, VERIFY_K = 48 };

static float verify_x(uint32_t m, uint32_t k) { return (float)((int)((m * 7 + k * 3) % 9) - 4) * 0.25f; }

static int verify_w(uint32_t n, uint32_t k) { return (int)((n * 5 + k * 11) % 7) - 3; } /* times 0.5 */

vkg_status vkg_matmul_coopmat_verify(vkg_kernels *k, const char **why) {
    /* fp16 bit patterns of 0, 0.5, 1 and 1.5 (the sign is bit 15). */
    static const uint16_t half_bits[4] = {0x0000, 0x3800, 0x3C00, 0x3E00};
    *why = NULL;
    if (k->coopmat == VKG_COOPMAT_NONE)
        return VKG_OK;
    uint64_t align = vkg_max_u32(vkg_context_device(k->ctx)->min_storage_buffer_offset_alignment, 16);
    uint64_t x_bytes = VERIFY_M * VERIFY_K * 4, w_bytes = VERIFY_N * VERIFY_K * 2, y_bytes = VERIFY_M * VERIFY_N * 4;
    uint64_t w_off = vkg_div_up(x_bytes, align) * align, y_off = w_off + vkg_div_up(w_bytes, align) * align;
    float *x = malloc(x_bytes), *y = malloc(y_bytes);
    uint16_t *w = malloc(w_bytes);
    vkg_buffer *buf = NULL;
    vkg_cmd *cmd = NULL;
    vkg_status st = VKG_ERROR_OUT_OF_HOST_MEMORY;
    if (!x || !y || !w)
        goto done;
    for (uint32_t m = 0; m < VERIFY_M; m++)
        for (uint32_t kk = 0; kk < VERIFY_K; kk++)
            x[m * VERIFY_K + kk] = verify_x(m, kk);
    for (uint32_t n = 0; n < VERIFY_N; n++)
        for (uint32_t kk = 0; kk < VERIFY_K; kk++) {
            int v = verify_w(n, kk);
            w[n * VERIFY_K + kk] = (uint16_t)(half_bits[v < 0 ? -v : v] | (v < 0 ? 0x8000 : 0));
        }
    if ((st = vkg_buffer_create(k->ctx, y_off + y_bytes, VKG_MEMORY_DEVICE, "coopmat self-check", &buf)) ||
        (st = vkg_buffer_upload(buf, 0, x, x_bytes)) || (st = vkg_buffer_upload(buf, w_off, w, w_bytes)) ||
        (st = vkg_buffer_fill(buf, y_off, y_bytes, 0x7fc00000u)) ||
        (st = vkg_cmd_create(k->ctx, "coopmat self-check", &cmd)) || (st = vkg_cmd_begin(cmd)))
        goto done;
    vkg_matrix wm = {.buf = buf, .offset = w_off, .rows = VERIFY_N, .cols = VERIFY_K, .storage = VKG_STORAGE_F16};
    vkg_matmul_options opt = {.path = VKG_MATMUL_PATH_COOPMAT};
    st = vkg_matmul_ex(k, cmd, (vkg_view){buf, y_off, y_bytes}, (vkg_view){buf, 0, x_bytes}, &wm, NULL, NULL,
                       VERIFY_M, VKG_EPILOGUE_NONE, &opt);
    if (st != VKG_OK) {
        /* The driver would not build the pipeline (or the path refused): use the tiled path. */
        *why = "the pipeline could not be created";
        st = VKG_OK;
        goto disable;
    }
    if ((st = vkg_cmd_end(cmd)) || (st = vkg_cmd_run(cmd)) || (st = vkg_buffer_download(buf, y_off, y, y_bytes)))
        goto done;
    for (uint32_t m = 0; m < VERIFY_M && !*why; m++)
        for (uint32_t n = 0; n < VERIFY_N; n++) {
            double want = 0;
            for (uint32_t kk = 0; kk < VERIFY_K; kk++)
                want += (double)verify_x(m, kk) * verify_w(n, kk) * 0.5;
            if (y[m * VERIFY_N + n] != (float)want) {
                *why = "a known product came out wrong";
                break;
            }
        }
disable:
    if (*why)
        k->coopmat = VKG_COOPMAT_NONE;
done:
    vkg_cmd_destroy(cmd);
    vkg_buffer_destroy(buf);
    free(x);
    free(y);
    free(w);
    return st;
}
