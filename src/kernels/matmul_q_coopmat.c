/*
 * kernels/matmul_q_coopmat.c — block formats as fp16 tiles on the host side: the COOPMAT path's
 * pipeline (shaders/matmul_q_coopmat.comp), its known-exact self-check, and the W-to-fp16 kernel
 * (shaders/dequant_f16.comp). vkg_matmul_quant (matmul_quant.c) routes to the path and records it.
 */
#include "kernels/matmul_q_coopmat.h"
#include "kernels/matmul_quant.h"

#include "matmul_q_push.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    /* the staging step: 64 elements where 32 KB of shared memory allow (a Q4_K/Q5_K chunk whole,
     * half the decoding of 32), else 32 (24 KB: what vkg_matmul_coopmat_usable asks) */
    STEP_WIDE = 64, STEP_NARROW = 32, SHARED_WIDE = 2 * 64 * STEP_WIDE * 2 + 64 * 64 * 4,
    COOP_SUBGROUPS = 4, DEQUANT_WG = 64, DEQUANT_ROWS = 64,
    EMULATED_WG = 128, /* the emulated variant's workgroup: as 4 subgroups of 32 (NVIDIA) */
    /* the self-check's sizes: off the 64 x 64 block, and K an odd number of 32-element units for the
     * 32-element formats (a partial last step) */
    CHECK_M = 70, CHECK_N = 72, CHECK_K_SMALL = 480, CHECK_K_LARGE = 512,
};

static const char *const fmt_names[] = {"", "", "", "q8_0", "q4_0", "q4_k", "q5_k", "q6_k"};

bool vkg_matmul_q_coopmat_usable(const vkg_kernels *k) {
    return k->coopmat_quant != VKG_COOPMAT_NONE && vkg_matmul_coopmat_usable(k, k->coopmat_quant);
}

vkg_status vkg_matmul_q_coopmat_pipeline(const vkg_kernels *k, vkg_kernel_desc desc, bool emulated,
                                         vkg_pipeline **out) {
    uint32_t fm = 16, fn = 16, sg = EMULATED_WG / COOP_SUBGROUPS;
    if (!emulated && !vkg_matmul_coopmat_config(k, k->coopmat_quant, &fm, &fn, &sg))
        return vkg_fail(VKG_ERROR_FEATURE_MISSING, "%s: cooperative matrices are not usable here", desc.shader);
    desc.n_spec = 4;
    desc.spec[0] = COOP_SUBGROUPS * sg;
    desc.spec[1] = vkg_context_device(k->ctx)->max_shared_memory >= SHARED_WIDE ? STEP_WIDE : STEP_NARROW;
    desc.spec[2] = fn;
    desc.spec[3] = fm;
    if (emulated) /* no fragments, no gl_SubgroupID: any subgroup size, as the tests force it */
        return vkg_kernels_pipeline(k, desc, out);
    desc.subgroup_size = sg; /* 4 full subgroups of exactly sg: the quadrants follow gl_SubgroupID */
    return vkg_pipeline_get(k->ctx, &desc, out);
}

/* ---- the self-check ---- */

static float check_x(uint32_t m, uint32_t kk) { return (float)((int)((m * 7 + kk * 3) % 9) - 4) * 0.25f; }

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* W [N, K] in format s: pseudo-random quants (every bit pattern), scales chosen so that every value
 * is an integer below 2048 in magnitude times 2^-4 (or 2^-2): exact in fp16. d = dmin = 2^-4 (0x2C00):
 * Q8_0 |q| <= 128; K-quants' 6-bit sc * q - m is in [-63, 63 * 31]; Q6_K's 8-bit scales are limited
 * to [-63, 63] so that sc * (q - 32) stays in [-2016, 2016]. Q4_0: d = 2^-2, q - 8 in [-8, 7].
 * |w| <= 126 and |x| <= 1 in steps of 2^-4 and 2^-2: K = 512 products sum below 2^16 in steps of
 * 2^-6, 22 bits, exact in fp32 in any order. */
static void check_w(vkg_storage s, uint8_t *w, uint64_t bytes, uint32_t blocks) {
    uint32_t st = 0x9E3779B9u;
    for (uint64_t i = 0; i < bytes; i++) {
        st = st * 1664525u + 1013904223u;
        w[i] = (uint8_t)(st >> 24);
    }
    uint32_t bb = vkg_storage_block_bytes(s);
    for (uint32_t b = 0; b < blocks; b++) {
        uint8_t *blk = w + (uint64_t)b * bb;
        if (s == VKG_STORAGE_Q6_K) {
            put16(blk + 208, 0x2C00);
            for (int j = 0; j < 16; j++)
                blk[192 + j] = (uint8_t)(int8_t)((blk[192 + j] % 127) - 63);
        } else {
            put16(blk, s == VKG_STORAGE_Q4_0 ? 0x3400 : 0x2C00);
            if (s == VKG_STORAGE_Q4_K || s == VKG_STORAGE_Q5_K)
                put16(blk + 2, 0x2C00);
        }
    }
}

/* Record and run Y = X W^T through `path` (y NaN-filled before); *mm: what vkg_matmul_quant said (the
 * recording is not run unless OK). */
static vkg_status check_run(const vkg_kernels *k, vkg_buffer *buf, const vkg_matrix *w, uint64_t y_off,
                            uint64_t x_bytes, vkg_matmul_path path, vkg_status *mm) {
    vkg_cmd *cmd = NULL;
    vkg_status st = vkg_cmd_create(k->ctx, "block-format self-check", &cmd);
    if (st == VKG_OK)
        st = vkg_cmd_begin(cmd);
    if (st == VKG_OK) {
        vkg_matmul_options opt = {.path = path};
        *mm = vkg_matmul_quant(k, cmd, (vkg_view){buf, y_off, (uint64_t)CHECK_M * CHECK_N * 4},
                               (vkg_view){buf, 0, x_bytes}, w, NULL, NULL, CHECK_M, VKG_EPILOGUE_NONE, &opt);
        if (*mm == VKG_OK && (st = vkg_cmd_end(cmd)) == VKG_OK)
            st = vkg_cmd_run(cmd);
    }
    vkg_cmd_destroy(cmd);
    return st;
}

vkg_status vkg_matmul_quant_selfcheck(const vkg_kernels *k, vkg_storage s, vkg_matmul_path path, const char **why) {
    /* One static message per format and outcome (indexed by storage - Q8_0). */
    static const char *const refused_msg[] = {
        "q8_0: the path refused or its pipeline could not be created", "q4_0: the path refused or its pipeline "
        "could not be created", "q4_k: the path refused or its pipeline could not be created", "q5_k: the path "
        "refused or its pipeline could not be created", "q6_k: the path refused or its pipeline could not be created"};
    static const char *const wrong_msg[] = {
        "q8_0: a known product came out wrong", "q4_0: a known product came out wrong",
        "q4_k: a known product came out wrong", "q5_k: a known product came out wrong",
        "q6_k: a known product came out wrong"};
    *why = NULL;
    if (!k || !vkg_storage_is_block(s))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "matmul_quant self-check: no kernels or not a block format");
    uint32_t K = vkg_storage_block_elems(s) == 32 ? CHECK_K_SMALL : CHECK_K_LARGE;
    uint64_t align = vkg_max_u32(vkg_context_device(k->ctx)->min_storage_buffer_offset_alignment, 16);
    uint64_t x_bytes = (uint64_t)CHECK_M * K * 4, w_bytes = vkg_matmul_quant_bytes(s, CHECK_N, K);
    uint64_t y_bytes = (uint64_t)CHECK_M * CHECK_N * 4;
    uint64_t w_off = vkg_div_up(x_bytes, align) * align, y_off = w_off + vkg_div_up(w_bytes, align) * align;
    uint64_t y2_off = y_off + vkg_div_up(y_bytes, align) * align;
    float *x = malloc(x_bytes), *y = malloc(2 * y_bytes);
    uint8_t *w = malloc(w_bytes);
    vkg_buffer *buf = NULL;
    vkg_status st = VKG_ERROR_OUT_OF_HOST_MEMORY;
    vkg_status mm = VKG_OK;
    if (!x || !y || !w)
        goto done;
    for (uint32_t m = 0; m < CHECK_M; m++)
        for (uint32_t kk = 0; kk < K; kk++)
            x[(size_t)m * K + kk] = check_x(m, kk);
    check_w(s, w, w_bytes, CHECK_N * (K / vkg_storage_block_elems(s)));
    if ((st = vkg_buffer_create(k->ctx, y2_off + y_bytes, VKG_MEMORY_DEVICE, "block-format self-check", &buf)) ||
        (st = vkg_buffer_upload(buf, 0, x, x_bytes)) || (st = vkg_buffer_upload(buf, w_off, w, w_bytes)) ||
        (st = vkg_buffer_fill(buf, y_off, y2_off + y_bytes - y_off, 0x7fc00000u)))
        goto done;
    vkg_matrix wm = {.buf = buf, .offset = w_off, .rows = CHECK_N, .cols = K, .storage = s};
    vkg_kernels kv = *k;
    kv.cpu_tuning = false; /* the GPU work split of the VECTOR path: any split gives the exact sums */
    if ((st = check_run(&kv, buf, &wm, y2_off, x_bytes, VKG_MATMUL_PATH_VECTOR, &mm)) || (st = mm))
        goto done; /* the reference path runs everywhere: its refusal is an error */
    if ((st = check_run(k, buf, &wm, y_off, x_bytes, path, &mm)))
        goto done;
    if (mm != VKG_OK) {
        *why = refused_msg[s - VKG_STORAGE_Q8_0];
        goto done;
    }
    if ((st = vkg_buffer_download(buf, y_off, y, y_bytes)) ||
        (st = vkg_buffer_download(buf, y2_off, y + CHECK_M * CHECK_N, y_bytes)))
        goto done;
    for (uint32_t i = 0; i < CHECK_M * CHECK_N; i++)
        if (memcmp(&y[i], &y[CHECK_M * CHECK_N + i], 4) != 0 || isnan(y[i])) {
            *why = wrong_msg[s - VKG_STORAGE_Q8_0];
            break;
        }
done:
    vkg_buffer_destroy(buf);
    free(x);
    free(y);
    free(w);
    return st;
}

vkg_status vkg_matmul_q_coopmat_verify(vkg_kernels *k, const char **why) {
    *why = NULL;
    if (k->coopmat_quant == VKG_COOPMAT_NONE)
        return VKG_OK;
    for (vkg_storage s = VKG_STORAGE_Q8_0; s <= VKG_STORAGE_Q6_K; s++) {
        VKG_TRY(vkg_matmul_quant_selfcheck(k, s, VKG_MATMUL_PATH_COOPMAT, why));
        if (*why) {
            k->coopmat_quant = VKG_COOPMAT_NONE;
            return VKG_OK;
        }
    }
    return VKG_OK;
}

/* ---- W rows to fp16 rows ---- */

vkg_status vkg_dequant_f16(const vkg_kernels *k, vkg_cmd *cmd, vkg_view out, const vkg_matrix *w, uint32_t out_cols,
                           uint32_t step) {
    if (!k || !k->ctx || !cmd || !w || !w->buf)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "dequant_f16: NULL kernels, recorder or weight matrix");
    const vkg_device_info *info = vkg_context_device(k->ctx);
    uint32_t N = w->rows, K = w->cols;
    if (!vkg_storage_is_block(w->storage))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "dequant_f16 N=%u K=%u: storage %d is not a block format", N, K,
                        (int)w->storage);
    const char *fmt = fmt_names[w->storage];
    uint64_t row_bytes = vkg_storage_row_bytes(w->storage, K), w_bytes = vkg_matmul_quant_bytes(w->storage, N, K);
    if (N == 0 || row_bytes == 0)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "dequant_f16 %s N=%u K=%u: no rows, or K not a whole number "
                        "of %u-element blocks", fmt, N, K, vkg_storage_block_elems(w->storage));
    if (step == 0)
        step = STEP_WIDE;
    if (step != 32 && step != 64 && step != 128)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "dequant_f16 %s N=%u K=%u: step %u is not 32, 64 or 128", fmt, N,
                        K, step);
    if (out_cols < K || out_cols % 2)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "dequant_f16 %s N=%u K=%u: %u output columns (must be even and "
                        "at least K)", fmt, N, K, out_cols);
    if (!info->fp16_arithmetic)
        return vkg_fail(VKG_ERROR_FEATURE_MISSING, "dequant_f16 %s: %s lacks shaderFloat16 (or VKG_DISABLE_FP16 is "
                        "set)", fmt, info->name);
    uint64_t out_bytes = (uint64_t)N * out_cols * 2, range = info->max_storage_buffer_range;
    if (out.size < out_bytes || !out.buf)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "dequant_f16 %s N=%u K=%u: the output view holds %llu bytes, "
                        "needs %llu", fmt, N, K, (unsigned long long)out.size, (unsigned long long)out_bytes);
    uint64_t w_end, align = vkg_max_u32(info->min_storage_buffer_offset_alignment, 1);
    if (w->offset % align || out.offset % align)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "dequant_f16 %s N=%u K=%u: W offset %llu or output offset %llu "
                        "is not a multiple of minStorageBufferOffsetAlignment %llu", fmt, N, K,
                        (unsigned long long)w->offset, (unsigned long long)out.offset, (unsigned long long)align);
    if (!vkg_add_u64(w->offset, w_bytes, &w_end) || w_end > vkg_buffer_size(w->buf))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "dequant_f16 %s N=%u K=%u: W at offset %llu needs %llu bytes, "
                        "its buffer has %llu", fmt, N, K, (unsigned long long)w->offset, (unsigned long long)w_bytes,
                        (unsigned long long)vkg_buffer_size(w->buf));
    if (out_bytes > range || w_bytes > range || row_bytes > UINT32_MAX || (uint64_t)N * out_cols > UINT32_MAX)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "dequant_f16 %s N=%u K=%u: W (%llu bytes) or the output (%llu) "
                        "exceeds one binding (%llu)", fmt, N, K, (unsigned long long)w_bytes,
                        (unsigned long long)out_bytes, (unsigned long long)range);
    char shader[32];
    snprintf(shader, sizeof shader, "dequant_f16_%s", fmt);
    vkg_kernel_desc desc = {.shader = shader, .n_bindings = 3, .writes = 1u, .push_size = sizeof(vkg_matmul_q_push),
                            .n_spec = 2, .spec = {DEQUANT_WG, step}};
    vkg_pipeline *p = NULL;
    VKG_TRY(vkg_kernels_pipeline(k, desc, &p));
    uint64_t groups_n = vkg_div_up(N, DEQUANT_ROWS), groups = groups_n * vkg_div_up(out_cols, step);
    vkg_matmul_q_push push = {.M = 1, .N = out_cols, .K = K, .n_offset = 0, .n_count = N,
                              .groups_n = (uint32_t)groups_n, .n_groups = (uint32_t)groups,
                              .row_bytes = (uint32_t)row_bytes};
    /* binding 1 (X in the matmuls) is not read here: W stands in for it */
    vkg_view views[3] = {{out.buf, out.offset, out_bytes}, {w->buf, w->offset, w_bytes}, {w->buf, w->offset, w_bytes}};
    return vkg_cmd_dispatch_1d(cmd, p, views, &push, groups);
}
