/*
 * kernels/matmul_quant.c — host wrapper of the quantized matmuls (shaders/matmul_q_vec.comp,
 * matmul_q_tiled.comp, their int8 dot-product twins matmul_q_dot.comp, matmul_q_dot_tiled.comp, and
 * matmul_q_coopmat.comp, whose pipeline is in matmul_q_coopmat.c): checks shapes and limits, picks the
 * path and the format's pipeline (int dot when the activations come quantized, k->int_dot and the path
 * is VECTOR or TILED), splits W into binding-sized row chunks and records one dispatch per chunk. The
 * math and grids are in the shaders' headers.
 */
#include "kernels/matmul_quant.h"
#include "kernels/matmul_q_coopmat.h"

#include "kernels/quantize_act.h"
#include "matmul_q_push.h"

#include <stdio.h>

enum { BIND_Y, BIND_X, BIND_W, BIND_BIAS, BIND_R, N_BIND, TILE = 64, TILE_WG = 256 };

static const char *const fmt_names[] = {"", "", "", "q8_0", "q4_0", "q4_k", "q5_k", "q6_k"};

uint64_t vkg_matmul_quant_bytes(vkg_storage s, uint32_t rows, uint32_t cols) {
    uint64_t row = vkg_storage_row_bytes(s, cols);
    if (!vkg_storage_is_block(s) || row == 0)
        return 0;
    return vkg_align_up((uint64_t)rows * row, 4) + 4;
}

/* Rows per chunk: as many as one binding holds (less 8 bytes for the rounded-up last word and the one
 * after it), or at
 * most opt->max_chunk_rows, keeping rows * row_bytes a multiple of the offset alignment so that every
 * chunk starts aligned. */
static uint64_t chunk_rows(const vkg_kernels *k, uint64_t row_bytes, const vkg_matmul_options *opt) {
    const vkg_device_info *info = vkg_context_device(k->ctx);
    uint64_t align = info->min_storage_buffer_offset_alignment ? info->min_storage_buffer_offset_alignment : 1;
    uint64_t rows = (info->max_storage_buffer_range - 8) / row_bytes;
    if (opt && opt->max_chunk_rows && opt->max_chunk_rows < rows)
        rows = opt->max_chunk_rows;
    /* Alignments are powers of two: some multiple of rows below `align` steps works, unless row_bytes
     * needs more rows than allowed; then round up to the smallest aligned count. */
    uint64_t r = rows;
    while (r > 1 && (r * row_bytes) % align)
        r--;
    if ((r * row_bytes) % align) {
        r = 1;
        while ((r * row_bytes) % align)
            r++;
    }
    return r;
}

uint32_t vkg_matmul_quant_chunk_count(const vkg_kernels *k, const vkg_matrix *w, const vkg_matmul_options *opt) {
    uint64_t row = vkg_storage_row_bytes(w->storage, w->cols);
    if (!vkg_storage_is_block(w->storage) || row == 0)
        return 0;
    uint64_t rows = chunk_rows(k, row, opt);
    return (uint32_t)((w->rows + rows - 1) / rows);
}

static bool overlaps(vkg_view a, vkg_buffer *b_buf, uint64_t b_off, uint64_t b_size) {
    return a.buf == b_buf && a.offset < b_off + b_size && b_off < a.offset + a.size;
}

static vkg_status bind_view(const char *what, vkg_view v, uint64_t bytes, uint64_t range, const char *tag,
                            vkg_view *out) {
    if (!v.buf)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: %s view has no buffer", tag, what);
    if (v.size < bytes)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: %s view holds %llu bytes, needs %llu", tag, what,
                        (unsigned long long)v.size, (unsigned long long)bytes);
    if (bytes > range)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "%s: %s needs %llu bytes in one binding, the device allows %llu "
                        "(maxStorageBufferRange): split M", tag, what, (unsigned long long)bytes,
                        (unsigned long long)range);
    *out = (vkg_view){v.buf, v.offset, bytes};
    return VKG_OK;
}

vkg_status vkg_matmul_quant(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, vkg_view x, const vkg_matrix *w,
                            const vkg_view *bias, const vkg_view *residual, uint32_t M, vkg_epilogue ep,
                            const vkg_matmul_options *opt) {
    if (!k || !k->ctx || !cmd || !w || !w->buf)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul_quant: NULL kernels, recorder or weight matrix");
    const vkg_device_info *info = vkg_context_device(k->ctx);
    uint32_t N = w->rows, K = w->cols;
    /* Y may be wider than W's outputs (a row segment of a larger weight: y_cols, y_col0). */
    uint32_t NY = opt && opt->y_cols ? opt->y_cols : N, col0 = opt && opt->y_cols ? opt->y_col0 : 0;
    if (!vkg_storage_is_block(w->storage))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul_quant M=%u N=%u K=%u: weight storage %d is not a block "
                        "format (use vkg_matmul)", M, N, K, (int)w->storage);
    const char *fmt = fmt_names[w->storage];
    char tag[96];
    snprintf(tag, sizeof tag, "matmul_quant %s M=%u N=%u K=%u", fmt, M, N, K);
    if (M == 0 || N == 0 || K == 0)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: every size must be at least 1", tag);
    uint32_t be = vkg_storage_block_elems(w->storage);
    if (K % be)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: K = %u is not a multiple of the %s block of %u elements",
                        tag, K, fmt, be);
    if (ep != VKG_EPILOGUE_NONE && ep != VKG_EPILOGUE_GELU && ep != VKG_EPILOGUE_RESIDUAL)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: unknown epilogue %d", tag, (int)ep);
    if (ep == VKG_EPILOGUE_RESIDUAL && !residual)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: residual epilogue without a residual view", tag);
    vkg_matmul_path path = opt ? opt->path : VKG_MATMUL_PATH_AUTO;
    bool coop_ok = vkg_matmul_q_coopmat_usable(k); /* matmul_q_coopmat.c */
    if (path == VKG_MATMUL_PATH_COOPMAT && !coop_ok)
        return vkg_fail(VKG_ERROR_FEATURE_MISSING, "%s: the cooperative-matrix path needs VK_KHR_ or "
                        "VK_NV_cooperative_matrix with an fp16 8|16 x 8|16 x 16 shape, shaderFloat16, 16-bit "
                        "storage, the Vulkan memory model, 24 KB of shared memory and subgroup size control (4 full "
                        "subgroups); %s %s", tag, info->name,
                        k->coopmat_quant == VKG_COOPMAT_NONE ? "has none of it usable for block formats (or it is "
                                                               "switched off, or failed its self-check)"
                                                             : "does not offer them through the chosen extension");
    bool tiled_ok = info->max_workgroup_invocations >= TILE_WG && info->max_shared_memory >= 2 * 32 * TILE * 4;
    if (path == VKG_MATMUL_PATH_TILED && !tiled_ok)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "%s: the tiled path needs %u invocations and 16 KB of shared memory "
                        "per workgroup", tag, TILE_WG);
    /* decode_batch: every row as a lone M = 1 product, i.e. the vector path (its rows do not interact) */
    bool batch = opt && opt->decode_batch;
    if (path == VKG_MATMUL_PATH_AUTO)
        path = M == 1 || batch || k->cpu_tuning ? VKG_MATMUL_PATH_VECTOR
               : coop_ok               ? VKG_MATMUL_PATH_COOPMAT
               : tiled_ok              ? VKG_MATMUL_PATH_TILED
                                       : VKG_MATMUL_PATH_VECTOR;
    bool emulated = path == VKG_MATMUL_PATH_COOPMAT_EMULATED; /* the COOPMAT shader's test variant */
    if (emulated && !info->fp16_arithmetic)
        return vkg_fail(VKG_ERROR_FEATURE_MISSING, "%s: the emulated cooperative-matrix path needs shaderFloat16", tag);
    if (path != VKG_MATMUL_PATH_VECTOR && path != VKG_MATMUL_PATH_TILED && path != VKG_MATMUL_PATH_COOPMAT &&
        !emulated)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: unknown path %d", tag, (int)path);

    uint64_t row_bytes = vkg_storage_row_bytes(w->storage, K), range = info->max_storage_buffer_range;
    uint64_t y_bytes, x_bytes, w_bytes = vkg_matmul_quant_bytes(w->storage, N, K), w_end;
    if ((uint64_t)col0 + N > NY)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul M=%u N=%u K=%u: outputs %u.. do not fit a Y of %u columns",
                        M, N, K, col0, NY);
    if (!vkg_mul_u64((uint64_t)M * NY, 4, &y_bytes) || !vkg_mul_u64((uint64_t)M * K, 4, &x_bytes) ||
        !vkg_add_u64(w->offset, w_bytes, &w_end) || row_bytes > UINT32_MAX)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: sizes overflow", tag);
    if (w_end > vkg_buffer_size(w->buf))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: weight matrix at offset %llu needs %llu bytes (rows of "
                        "%llu, rounded up to 4, and 4 more), its buffer has %llu", tag, (unsigned long long)w->offset,
                        (unsigned long long)w_bytes, (unsigned long long)row_bytes,
                        (unsigned long long)vkg_buffer_size(w->buf));
    uint32_t align = info->min_storage_buffer_offset_alignment ? info->min_storage_buffer_offset_alignment : 1;
    if (w->offset % align)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: weight offset %llu is not a multiple of "
                        "minStorageBufferOffsetAlignment %u", tag, (unsigned long long)w->offset, align);
    vkg_view views[N_BIND];
    VKG_TRY(bind_view("y", y, y_bytes, range, tag, &views[BIND_Y]));
    VKG_TRY(bind_view("x", x, x_bytes, range, tag, &views[BIND_X]));
    views[BIND_BIAS] = views[BIND_R] = views[BIND_X]; /* dummies: never read when absent */
    /* The int8 dot-product paths read the quantized X instead. */
    bool dot = opt && opt->xq.buf && k->int_dot &&
               (path == VKG_MATMUL_PATH_VECTOR || path == VKG_MATMUL_PATH_TILED);
    if (dot && !info->integer_dot_product)
        return vkg_fail(VKG_ERROR_FEATURE_MISSING, "%s: k->int_dot is set but %s has no int8 dot products "
                        "(VK_KHR_shader_integer_dot_product, or VKG_DISABLE_INT_DOT is set)", tag, info->name);
    if (dot) {
        VKG_TRY(bind_view("xq", opt->xq, vkg_quantize_act_bytes(M, K), range, tag, &views[BIND_X]));
        if (overlaps(views[BIND_Y], opt->xq.buf, views[BIND_X].offset, views[BIND_X].size))
            return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: y overlaps xq", tag);
    }
    if (bias)
        VKG_TRY(bind_view("bias", *bias, (uint64_t)NY * 4, range, tag, &views[BIND_BIAS]));
    if (ep == VKG_EPILOGUE_RESIDUAL) {
        VKG_TRY(bind_view("residual", *residual, y_bytes, range, tag, &views[BIND_R]));
        vkg_view r = views[BIND_R], yb = views[BIND_Y];
        if (overlaps(yb, r.buf, r.offset, r.size) && r.offset != yb.offset)
            return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: residual overlaps y without being the same range", tag);
    }
    vkg_view yb = views[BIND_Y];
    if (overlaps(yb, x.buf, x.offset, x_bytes) || overlaps(yb, w->buf, w->offset, w_bytes) ||
        (bias && overlaps(yb, bias->buf, bias->offset, (uint64_t)N * 4)))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: y overlaps x, the weights or the bias", tag);

    char shader[40];
    vkg_kernel_desc desc = {.n_bindings = N_BIND, .writes = 1u << BIND_Y, .push_size = sizeof(vkg_matmul_q_push),
                            .shader = shader};
    uint32_t block_n, block_m;
    if (path == VKG_MATMUL_PATH_VECTOR) {
        uint32_t wg, tpr, rows, mb = M > 1 ? 4 : 1;
        if (k->cpu_tuning) {
            /* As matmul_vec on lavapipe: each invocation owns whole rows (no reduction, no barrier), one
             * SIMD row of invocations per workgroup; x loads are then uniform (cheap) and W loads per
             * lane. */
            wg = vkg_max_u32(info->subgroup_size, 1);
            tpr = 1;
            rows = 4; /* measured on lavapipe: x loads shared by 4 rows beat 2 (q4_k 1.3-1.6x vs 1.0-1.2x of f16) */
        } else {
            wg = 64;
            tpr = 16;
            rows = 2;
        }
        if (k->subgroup_size > wg) { /* a forced subgroup size must fit the workgroup */
            tpr *= k->subgroup_size / wg;
            wg = k->subgroup_size;
        }
        snprintf(shader, sizeof shader, "matmul_q_%s_%s", dot ? "dot" : "vec", fmt);
        desc.n_spec = 4;
        desc.spec[0] = wg;
        desc.spec[1] = tpr;
        desc.spec[2] = rows;
        desc.spec[3] = mb;
        block_n = wg / tpr * rows;
        block_m = mb;
    } else if (path == VKG_MATMUL_PATH_TILED) {
        snprintf(shader, sizeof shader, "matmul_q_%s_%s", dot ? "dot_tiled" : "tiled", fmt);
        desc.n_spec = 1;
        desc.spec[0] = TILE_WG;
        block_n = block_m = TILE;
    } else { /* COOPMAT: the same 64 x 64 grid; workgroup, step and subgroup size set there */
        snprintf(shader, sizeof shader, "matmul_q_coopmat_%s_%s",
                 emulated ? "emu" : k->coopmat_quant == VKG_COOPMAT_KHR ? "khr" : "nv", fmt);
        block_n = block_m = TILE;
    }
    vkg_pipeline *p = NULL;
    if (path == VKG_MATMUL_PATH_COOPMAT || emulated)
        VKG_TRY(vkg_matmul_q_coopmat_pipeline(k, desc, emulated, &p));
    else
        VKG_TRY(vkg_kernels_pipeline(k, desc, &p));

    uint64_t rows = chunk_rows(k, row_bytes, opt);
    for (uint64_t first = 0; first < N; first += rows) {
        uint32_t count = (uint32_t)(N - first < rows ? N - first : rows);
        uint64_t groups_n = vkg_div_up(count, block_n), groups = groups_n * vkg_div_up(M, block_m);
        if (groups > UINT32_MAX)
            return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "%s: %llu workgroups in one dispatch", tag,
                            (unsigned long long)groups);
        vkg_matmul_q_push push = {
            .M = M, .N = NY, .K = K, .n_offset = col0 + (uint32_t)first, .n_count = count,
            .groups_n = (uint32_t)groups_n, .n_groups = (uint32_t)groups,
            .has_bias = bias != NULL, .epilogue = (uint32_t)ep, .row_bytes = (uint32_t)row_bytes,
        };
        views[BIND_W] = (vkg_view){w->buf, w->offset + first * row_bytes,
                                   vkg_align_up((uint64_t)count * row_bytes, 4) + 4};
        VKG_TRY(vkg_cmd_dispatch_1d(cmd, p, views, &push, groups));
    }
    return VKG_OK;
}
