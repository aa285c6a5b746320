/*
 * kernels/matmul.c — host wrapper of the matmul family: checks shapes and limits, chooses the path
 * (vector / tiled / cooperative matrix) and its pipeline variant, splits W into binding-sized row
 * chunks and records one dispatch per chunk. The math and the grids are documented in the shaders
 * (shaders/matmul_vec.comp, matmul_tiled.comp, matmul_coopmat.comp).
 */
#include "kernels/matmul.h"

#include "matmul_push.h"

enum {
    BIND_Y, BIND_X, BIND_W, BIND_BIAS, BIND_R, N_BIND,
    /* matmul_tiled.comp tile, in elements; 256 threads of 4 x 4 outputs, 8.3 KB shared memory */
    TILE_BM = 64, TILE_BN = 64, TILE_BK = 16, TILE_TM = 4, TILE_TN = 4,
    /* matmul_coopmat.comp: 64 x 64 block, 4 subgroups of 32, BK = 32, 24 KB shared memory */
    COOP_WG = 128, COOP_BM = 64, COOP_BN = 64, COOP_BK = 32, COOP_SUBGROUP = 32,
    COOP_SHARED = 2 * 64 * COOP_BK * 2 + 64 * 64 * 4,
};

/* The fragment width FN of the device's fp16 16 x FN x 16 shape (16 preferred, else 8); 0 if none. */
static uint32_t coopmat_fn(const vkg_device_info *info) {
    uint32_t fn = 0;
    for (uint32_t i = 0; i < info->n_coopmat_shapes; i++) {
        uint32_t m = info->coopmat_shapes[i].m, n = info->coopmat_shapes[i].n, kk = info->coopmat_shapes[i].k;
        if (m == 16 && kk == 16 && (n == 16 || (n == 8 && fn == 0)))
            fn = n;
    }
    return fn;
}

bool vkg_matmul_coopmat_usable(const vkg_kernels *k) {
    const vkg_device_info *info = vkg_context_device(k->ctx);
    bool sg32 = k->subgroup_size ? k->subgroup_size == COOP_SUBGROUP
                                 : info->subgroup_size == COOP_SUBGROUP ||
                                       (info->subgroup_size_control && info->subgroup_min <= COOP_SUBGROUP &&
                                        info->subgroup_max >= COOP_SUBGROUP);
    return info->coopmat_nv && info->fp16_arithmetic && info->storage_16bit && coopmat_fn(info) != 0 && sg32 &&
           info->max_shared_memory >= COOP_SHARED;
}

/* matmul_vec.comp's work split (see its header): WG threads in teams of TPR, each team computing
 * ROWS outputs per pass, PASSES passes: (WG / TPR) * ROWS * PASSES outputs per workgroup. */
typedef struct vec_shape {
    uint32_t wg, rows, tpr, passes, mb;
} vec_shape;

static vec_shape vec_shape_for(const vkg_kernels *k, uint32_t M, uint32_t K, uint32_t N, bool f16) {
    uint32_t chunks = K / (f16 ? 8 : 4);
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
    } else {
        /* One team of the whole workgroup on 1..4 rows: many workgroups to fill a GPU; more rows
         * per workgroup share x loads where N is large enough to keep every core busy anyway. */
        s.wg = chunks >= 128 ? 128 : 64;
        s.rows = N >= 16384 ? 4 : N >= 2048 ? 2 : 1;
        s.tpr = s.wg;
        s.passes = 1;
        s.mb = 1;
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
    const vkg_device_info *info = vkg_context_device(k->ctx);
    uint32_t N = w->rows, K = w->cols;
    if (M == 0 || N == 0 || K == 0)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: every size must be at least 1", M, N, K);
    if (ep != VKG_EPILOGUE_NONE && ep != VKG_EPILOGUE_GELU && ep != VKG_EPILOGUE_RESIDUAL)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: unknown epilogue %d", M, N, K, (int)ep);
    if (ep == VKG_EPILOGUE_RESIDUAL && !residual)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: residual epilogue without a residual "
                        "view", M, N, K);
    if (w->storage != VKG_STORAGE_F32 && w->storage != VKG_STORAGE_F16)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: unknown weight storage %d", M, N, K,
                        (int)w->storage);
    if (w->storage == VKG_STORAGE_F16 && !info->storage_16bit)
        return vkg_fail(VKG_ERROR_FEATURE_MISSING, "matmul M=%u N=%u K=%u: fp16 weights need 16-bit storage, "
                        "which %s lacks (or VKG_DISABLE_FP16 is set)", M, N, K, info->name);
    vkg_matmul_path path = opt ? opt->path : VKG_MATMUL_PATH_AUTO;
    bool coop_ok = w->storage == VKG_STORAGE_F16 && vkg_matmul_coopmat_usable(k);
    if (path == VKG_MATMUL_PATH_COOPMAT && !coop_ok)
        return vkg_fail(VKG_ERROR_FEATURE_MISSING, "matmul M=%u N=%u K=%u: the cooperative-matrix path needs fp16 "
                        "weights and VK_NV_cooperative_matrix with a 16x16x16 or 16x8x16 fp16 shape, shaderFloat16 "
                        "and subgroup size 32; %s does not offer them", M, N, K, info->name);
    /* A CPU device runs prefill on the vector path too, with MB rows of X per workgroup: the tiled
     * path's shared-memory staging and barriers in its K loop cost far more there (lavapipe). */
    if (path == VKG_MATMUL_PATH_AUTO)
        path = M == 1 || k->cpu_tuning ? VKG_MATMUL_PATH_VECTOR
                      : (k->use_coopmat && coop_ok) ? VKG_MATMUL_PATH_COOPMAT : VKG_MATMUL_PATH_TILED;
    if (path != VKG_MATMUL_PATH_VECTOR && path != VKG_MATMUL_PATH_TILED && path != VKG_MATMUL_PATH_COOPMAT)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: unknown path %d", M, N, K, (int)path);

    /* Sizes of what is bound; all products checked (M*N*4 may pass 2^32 on large prompts). */
    uint32_t eb = vkg_storage_bytes(w->storage);
    uint64_t y_bytes, x_bytes, w_bytes, w_end, row_bytes = (uint64_t)K * eb, range = info->max_storage_buffer_range;
    if (!vkg_mul_u64((uint64_t)M * N, 4, &y_bytes) || !vkg_mul_u64((uint64_t)M * K, 4, &x_bytes) ||
        !vkg_mul_u64(N, row_bytes, &w_bytes) || !vkg_add_u64(w->offset, w_bytes, &w_end))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: sizes overflow", M, N, K);
    if (w_end > vkg_buffer_size(w->buf))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: weight matrix [%u,%u] (%s) at offset "
                        "%llu needs %llu bytes, its buffer has %llu", M, N, K, N, K, eb == 2 ? "fp16" : "fp32",
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
        VKG_TRY(bind_view("bias", *bias, (uint64_t)N * 4, range, M, N, K, &views[BIND_BIAS]));
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
    bool f16 = w->storage == VKG_STORAGE_F16;
    vkg_kernel_desc desc = {.n_bindings = N_BIND, .writes = 1u << BIND_Y, .push_size = sizeof(vkg_matmul_push)};
    uint32_t block_n, block_m, aligned;
    vkg_pipeline *p = NULL;
    if (path == VKG_MATMUL_PATH_VECTOR) {
        vec_shape vs = vec_shape_for(k, M, K, N, f16);
        block_n = (vs.wg / vs.tpr) * vs.rows * vs.passes;
        block_m = vs.mb;
        aligned = K % (f16 ? 8 : 4) == 0;
        desc.shader = f16 ? "matmul_vec_f16" : "matmul_vec_f32";
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
        desc.shader = f16 ? "matmul_tiled_f16" : "matmul_tiled_f32";
        desc.n_spec = 6;
        uint32_t spec[6] = {(TILE_BM / TILE_TM) * (TILE_BN / TILE_TN), TILE_BM, TILE_BN, TILE_BK, TILE_TM, TILE_TN};

        for (int i = 0; i < 6; i++)
            desc.spec[i] = spec[i];
        VKG_TRY(vkg_kernels_pipeline(k, desc, &p));
    } else {
        block_n = COOP_BN;
        block_m = COOP_BM;
        aligned = K % 4 == 0;
        desc.shader = "matmul_coopmat";
        desc.n_spec = 3;
        desc.spec[0] = COOP_WG;
        desc.spec[1] = COOP_BK;
        desc.spec[2] = coopmat_fn(info);
        /* The fragments are laid out for subgroups of 32: require it where that is not the default. */
        desc.subgroup_size = info->subgroup_size == COOP_SUBGROUP ? 0 : COOP_SUBGROUP;
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
            .M = M, .N = N, .K = K, .n_offset = (uint32_t)first, .n_count = count,
            .groups_n = (uint32_t)groups_n, .n_groups = (uint32_t)groups,
            .has_bias = bias != NULL, .epilogue = (uint32_t)ep, .aligned = aligned,
        };
        views[BIND_W] = (vkg_view){w->buf, w->offset + first * row_bytes, (uint64_t)count * row_bytes};
        VKG_TRY(vkg_cmd_dispatch_1d(cmd, p, views, &push, groups));
    }
    return VKG_OK;
}
