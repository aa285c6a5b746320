/*
 * tests/test_quant_coopmat.c — block formats as fp16 tiles (kernels/matmul_q_coopmat.h):
 *   - the staging routine (shaders/quant_stage.glsl) through dequant_f16.comp, on every device with
 *     shaderFloat16: each element equal bit for bit to the reference decoder (tests/ref/ref_quant.c)
 *     rounded to fp16 by the reference converter (ref_half.c), every format, several shapes and each
 *     staging width, zeros past K, guard words; random quants, scales from subnormal to large, and a
 *     value past the fp16 range (inf);
 *   - the cooperative-matrix path (matmul_q_coopmat.comp) against dequantize-then-fp64 matmul with X
 *     and W rounded to fp16 as the path rounds them, where the device offers it (KHR and NV); a
 *     visible cmocka skip elsewhere (lavapipe); and the same cases on the shader's emulated variant
 *     (scalar sums for the fragments) on every device with shaderFloat16;
 *   - the routing and the self-check on any device: COOPMAT forced where unusable is refused with a
 *     message saying what is missing, AUTO takes the tiled path at fp32 accuracy, the self-check
 *     switches a named but unusable extension off (the fp16 choice untouched), and its known-exact
 *     product agrees between the tiled and vector paths bit for bit.
 */
#include "harness.h"

#include "kernels/matmul_q_coopmat.h"
#include "kernels/matmul_quant.h"
#include "model/quant.h"
#include "ref/ref.h"
#include "ref/ref_quant.h"
#include "vk/vk.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const vkg_storage formats[] = {VKG_STORAGE_Q8_0, VKG_STORAGE_Q4_0, VKG_STORAGE_Q4_K, VKG_STORAGE_Q5_K,
                                      VKG_STORAGE_Q6_K};
static const int ref_types[] = {REF_GGML_Q8_0, REF_GGML_Q4_0, REF_GGML_Q4_K, REF_GGML_Q5_K, REF_GGML_Q6_K};
static const char *const names[] = {"Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"};

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* An f16 scale: either sign, 2^-14 .. 2^2 (so that no element of any format passes 65504: Q6_K's
 * largest is 8 * 128 * 32), sometimes zero or subnormal (fp16 subnormal results). */
static uint16_t random_scale(ref_rng *rng) {
    uint64_t r = ref_rng_u64(rng);
    if (r % 31 == 0)
        return 0;
    if (r % 17 == 0)
        return (uint16_t)((r >> 16 & 1) << 15 | (r >> 20 & 0x3FF));
    uint16_t exp = (uint16_t)(1 + (r >> 8) % 17);
    return (uint16_t)((r >> 16 & 1) << 15 | exp << 10 | (r >> 24 & 0x3FF));
}

/* rows x cols elements of format f (index into formats[]) as random blocks, with vkg_matmul_quant_bytes
 * of room. */
static uint8_t *random_blocks(size_t f, uint32_t rows, uint32_t cols, ref_rng *rng, uint64_t *bytes) {
    *bytes = vkg_matmul_quant_bytes(formats[f], rows, cols);
    uint8_t *p = malloc(*bytes);
    assert_non_null(p);
    for (uint64_t i = 0; i < *bytes; i++)
        p[i] = (uint8_t)ref_rng_u64(rng);
    uint32_t bb = vkg_storage_block_bytes(formats[f]), be = vkg_storage_block_elems(formats[f]);
    for (uint64_t b = 0; b < (uint64_t)rows * cols / be; b++) {
        uint8_t *blk = p + b * bb;
        if (formats[f] == VKG_STORAGE_Q6_K) {
            put16(blk + 208, random_scale(rng));
        } else {
            put16(blk, random_scale(rng));
            if (formats[f] == VKG_STORAGE_Q4_K || formats[f] == VKG_STORAGE_Q5_K)
                put16(blk + 2, random_scale(rng));
        }
    }
    return p;
}

/* ---- the staging routine, through dequant_f16.comp ---- */

static float to_f16(float v) { return ref_f16_to_f32(ref_f32_to_f16(v)); }

static void run_staging(vkg_context *ctx, size_t f, uint32_t N, uint32_t K, uint32_t out_cols, uint32_t step,
                        bool overflow, uint64_t seed) {
    const vkg_kernels k = vkg_kernels_default(ctx);
    char what[128];
    snprintf(what, sizeof what, "dequant_f16 %s N=%u K=%u out_cols=%u step=%u", names[f], N, K, out_cols, step);
    ref_rng rng = ref_rng_seed(seed);
    uint64_t wbytes, out_words = (uint64_t)N * out_cols / 2;
    uint8_t *wq = random_blocks(f, N, K, &rng, &wbytes);
    if (overflow) { /* Q8_0 block 0: d = 1024: element 0 = 127 * 1024 (and any |q| >= 64) pass 65504 */
        put16(wq, 0x6400);
        wq[2] = 127;
    }
    vkg_buffer *wb = vkg_test_buffer(ctx, wbytes, "w"), *ob = vkg_test_buffer(ctx, (out_words + VKG_TEST_GUARD_WORDS) * 4, "out");
    vkg_test_ok(vkg_buffer_upload(wb, 0, wq, wbytes), "upload w");
    vkg_test_ok(vkg_buffer_fill(ob, 0, (out_words + VKG_TEST_GUARD_WORDS) * 4, VKG_TEST_GUARD), "fill out");
    vkg_matrix w = {.buf = wb, .rows = N, .cols = K, .storage = formats[f]};
    vkg_cmd *cmd = NULL;
    vkg_test_ok(vkg_cmd_create(ctx, "dequant_f16 test", &cmd), "cmd");
    vkg_test_ok(vkg_cmd_begin(cmd), "begin");
    vkg_test_ok(vkg_dequant_f16(&k, cmd, vkg_view_whole(ob), &w, out_cols, step), what);
    vkg_test_ok(vkg_cmd_end(cmd), "end");
    vkg_test_ok(vkg_cmd_run(cmd), "run");
    uint32_t *got = malloc((out_words + VKG_TEST_GUARD_WORDS) * 4);
    assert_non_null(got);
    vkg_test_ok(vkg_buffer_download(ob, 0, got, (out_words + VKG_TEST_GUARD_WORDS) * 4), "download");
    for (uint64_t i = out_words; i < out_words + VKG_TEST_GUARD_WORDS; i++)
        if (got[i] != VKG_TEST_GUARD)
            fail_msg("%s: guard word %llu after the output was overwritten", what, (unsigned long long)(i - out_words));
    uint32_t be = vkg_storage_block_elems(formats[f]), bb = vkg_storage_block_bytes(formats[f]);
    uint64_t row_bytes = K / be * bb;
    int infs = 0;
    for (uint32_t n = 0; n < N; n++)
        for (uint32_t c = 0; c < out_cols; c++) {
            uint16_t want = 0; /* zeros past K */
            if (c < K) {
                float v = ref_q_element(ref_types[f], wq + n * row_bytes + c / be * bb, (int)(c % be));
                want = ref_f32_to_f16(v);
                infs += isinf(ref_f16_to_f32(want)) != 0;
            }
            uint64_t e = (uint64_t)n * out_cols + c;
            uint16_t have = (uint16_t)(got[e / 2] >> (16 * (e % 2)));
            if (have != want)
                fail_msg("%s: W[%u, %u]: staged fp16 0x%04x (%.9g), reference 0x%04x (%.9g)", what, n, c, have,
                         ref_f16_to_f32(have), want, ref_f16_to_f32(want));
        }
    if (overflow)
        assert_true(infs >= 1 && isinf(to_f16(ref_q_element(ref_types[f], wq, 0))));
    vkg_cmd_destroy(cmd);
    vkg_buffer_destroy(wb);
    vkg_buffer_destroy(ob);
    free(wq);
    free(got);
}

static void test_staging_exact(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    if (!vkg_context_device(ctx)->fp16_arithmetic) {
        fprintf(stderr, "test_quant_coopmat: %s lacks shaderFloat16: the staging kernel cannot run\n",
                vkg_context_device(ctx)->name);
        skip();
    }
    /* N, K in blocks (32 or 256 elements), extra output columns past the padded K */
    static const uint32_t shapes[][3] = {{1, 1, 0}, {67, 3, 2}, {130, 5, 64}};
    static const uint32_t steps[] = {32, 64, 128};
    uint64_t seed = 300;
    for (size_t f = 0; f < VKG_ARRAY_LEN(formats); f++)
        for (size_t s = 0; s < VKG_ARRAY_LEN(shapes); s++)
            for (size_t t = 0; t < VKG_ARRAY_LEN(steps); t++) {
                uint32_t K = shapes[s][1] * vkg_storage_block_elems(formats[f]);
                uint32_t out_cols = (K + steps[t] - 1) / steps[t] * steps[t] + shapes[s][2];
                run_staging(ctx, f, shapes[s][0], K, out_cols, steps[t], f == 0 && s == 1, seed++);
            }
}

/* ---- the cooperative-matrix path, where the device has it ---- */

static void run_coopmat_case(vkg_context *ctx, const vkg_kernels *k, vkg_matmul_path path, size_t f, uint32_t M,
                             uint32_t K, uint32_t N, vkg_epilogue ep, uint32_t max_chunk_rows, uint64_t seed) {
    char what[160];
    snprintf(what, sizeof what, "%s %s M=%u K=%u N=%u ep=%d chunk=%u",
             path == VKG_MATMUL_PATH_COOPMAT ? "coopmat" : "emulated coopmat", names[f], M, K, N, (int)ep,
             max_chunk_rows);
    ref_rng rng = ref_rng_seed(seed);
    size_t nx = (size_t)M * K, nw = (size_t)N * K, ny = (size_t)M * N;
    float *x = malloc(nx * 4), *x16 = malloc(nx * 4), *w = malloc(nw * 4), *wd = malloc(nw * 4);
    float *b = malloc((size_t)N * 4), *r = malloc(ny * 4), *ref = malloc(ny * 4), *got = malloc(ny * 4);
    assert_true(x && x16 && w && wd && b && r && ref && got);
    ref_rng_fill(&rng, x, nx, -1, 1);
    float a = 4.5f / sqrtf((float)K);
    ref_rng_fill(&rng, w, nw, -a, a);
    uint64_t wbytes = vkg_matmul_quant_bytes(formats[f], N, K);
    uint8_t *wq = calloc(wbytes, 1);
    assert_non_null(wq);
    vkg_test_ok(vkg_quant_quantize((uint32_t)(ref_types[f]), w, wq, nw), "quantize");
    ref_q_dequantize(ref_types[f], wq, wd, nw);
    for (size_t i = 0; i < nx; i++) /* the path's two roundings, then an fp64-accumulated reference */
        x16[i] = to_f16(x[i]);
    for (size_t i = 0; i < nw; i++)
        wd[i] = to_f16(wd[i]);
    ref_rng_fill(&rng, b, N, -1, 1);
    ref_rng_fill(&rng, r, ny, -1, 1);
    ref_matmul_nk(ref, x16, wd, b, (int)M, (int)K, (int)N,
                  ep == VKG_EPILOGUE_GELU ? REF_EPILOGUE_GELU : ep == VKG_EPILOGUE_RESIDUAL ? REF_EPILOGUE_RESIDUAL
                                                                                          : REF_EPILOGUE_NONE, r);
    vkg_buffer *xb = vkg_test_buffer(ctx, nx * 4, "x"), *wb = vkg_test_buffer(ctx, wbytes, "w");
    vkg_buffer *bb = vkg_test_buffer(ctx, (uint64_t)N * 4, "bias"), *rb = vkg_test_buffer(ctx, ny * 4, "r");
    vkg_buffer *yb = vkg_test_buffer(ctx, (ny + VKG_TEST_GUARD_WORDS) * 4, "y");
    vkg_test_ok(vkg_buffer_upload(xb, 0, x, nx * 4), "upload x");
    vkg_test_ok(vkg_buffer_upload(wb, 0, wq, wbytes), "upload w");
    vkg_test_ok(vkg_buffer_upload(bb, 0, b, (uint64_t)N * 4), "upload bias");
    vkg_test_ok(vkg_buffer_upload(rb, 0, r, ny * 4), "upload r");
    vkg_test_ok(vkg_buffer_fill(yb, 0, (ny + VKG_TEST_GUARD_WORDS) * 4, VKG_TEST_GUARD), "fill y");
    vkg_matrix mat = {.buf = wb, .rows = N, .cols = K, .storage = formats[f]};
    vkg_view bv = vkg_view_whole(bb), rv = vkg_view_whole(rb);
    vkg_matmul_options opt = {.path = path, .max_chunk_rows = max_chunk_rows};
    vkg_cmd *cmd = NULL;
    vkg_test_ok(vkg_cmd_create(ctx, "coopmat quant test", &cmd), "cmd");
    vkg_test_ok(vkg_cmd_begin(cmd), "begin");
    vkg_test_ok(vkg_matmul_quant(k, cmd, (vkg_view){yb, 0, ny * 4}, vkg_view_whole(xb), &mat, &bv,
                              ep == VKG_EPILOGUE_RESIDUAL ? &rv : NULL, M, ep, &opt), what);
    assert_int_equal(vkg_cmd_dispatch_count(cmd), vkg_matmul_quant_chunk_count(k, &mat, &opt));
    vkg_test_ok(vkg_cmd_end(cmd), "end");
    vkg_test_ok(vkg_cmd_run(cmd), "run");
    uint32_t guard[VKG_TEST_GUARD_WORDS];
    vkg_test_ok(vkg_buffer_download(yb, 0, got, ny * 4), "download y");
    vkg_test_ok(vkg_buffer_download(yb, ny * 4, guard, sizeof guard), "download guard");
    for (int i = 0; i < VKG_TEST_GUARD_WORDS; i++)
        if (guard[i] != VKG_TEST_GUARD)
            fail_msg("%s: guard word %d after y was overwritten", what, i);
    vkg_test_check_close(what, got, ref, ny, 2e-5, 1e-4, 1e-8);
    vkg_cmd_destroy(cmd);
    vkg_buffer_destroy(xb);
    vkg_buffer_destroy(wb);
    vkg_buffer_destroy(bb);
    vkg_buffer_destroy(rb);
    vkg_buffer_destroy(yb);
    float *bufs[] = {x, x16, w, wd, b, r, ref, got};
    for (size_t i = 0; i < VKG_ARRAY_LEN(bufs); i++)
        free(bufs[i]);
    free(wq);
}

/* M, K in blocks (x 5 for the 32-element formats), N: sizes off the 64 x 64 block, several K steps,
 * partial last steps (an odd number of 32-element units), chunked W, every epilogue. */
static void run_shapes(vkg_context *ctx, const vkg_kernels *k, vkg_matmul_path path, uint64_t seed) {
    static const uint32_t shapes[][3] = {{2, 1, 3}, {70, 2, 72}, {64, 3, 130}, {129, 1, 67}};
    for (size_t f = 0; f < VKG_ARRAY_LEN(formats); f++)
        for (size_t s = 0; s < VKG_ARRAY_LEN(shapes); s++) {
            uint32_t K = shapes[s][1] * vkg_storage_block_elems(formats[f]) * (f < 2 ? 5 : 1);
            run_coopmat_case(ctx, k, path, f, shapes[s][0], K, shapes[s][2], (vkg_epilogue)(s % 3), s == 3 ? 16 : 0,
                             seed++);
        }
}

/* The COOPMAT shader's staging, K loop and epilogue with scalar sums for the fragments (the
 * _emu variant): on every device with shaderFloat16, so on CI. */
static void test_coopmat_emulated(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    if (!vkg_context_device(ctx)->fp16_arithmetic)
        skip();
    vkg_kernels k = vkg_kernels_default(ctx);
    run_shapes(ctx, &k, VKG_MATMUL_PATH_COOPMAT_EMULATED, 700);
}

static void test_coopmat_path(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    static const vkg_coopmat_api apis[] = {VKG_COOPMAT_KHR, VKG_COOPMAT_NV};
    static const char *const api_names[] = {"KHR", "NV"};
    bool any = false;
    uint64_t seed = 900;
    for (size_t a = 0; a < VKG_ARRAY_LEN(apis); a++) {
        vkg_kernels k = vkg_kernels_default(ctx);
        k.coopmat_quant = apis[a];
        if (!vkg_matmul_q_coopmat_usable(&k))
            continue;
        any = true;
        const char *why = NULL;
        vkg_test_ok(vkg_matmul_q_coopmat_verify(&k, &why), "block-format coopmat self-check");
        if (why)
            fail_msg("%s cooperative matrices for block formats: the self-check switched them off: %s",
                     api_names[a], why);
        run_shapes(ctx, &k, VKG_MATMUL_PATH_COOPMAT, seed);
        seed += 100;
    }
    if (!any) {
        fprintf(stderr, "test_quant_coopmat: %s has no usable cooperative matrices: the block-format "
                        "cooperative-matrix cases are skipped (they run on a GPU: scripts/gpu-check.sh)\n",
                vkg_context_device(ctx)->name);
        skip();
    }
}

/* ---- routing and the self-check, on any device ---- */

/* Y = X W^T through `opt->path` for a small Q4_K product, checked at fp32 accuracy (the tiled and
 * vector paths' bound; the cooperative-matrix path's fp16 X misses it by far on this data). Returns
 * the status of vkg_matmul_quant (nothing runs unless OK). */
static vkg_status routed(vkg_context *ctx, const vkg_kernels *k, vkg_matmul_path path, uint32_t M) {
    const uint32_t K = 512, N = 67;
    ref_rng rng = ref_rng_seed(4242);
    float *x = malloc((size_t)M * K * 4), *w = malloc((size_t)N * K * 4), *ref = malloc((size_t)M * N * 4);
    float *got = malloc((size_t)M * N * 4);
    assert_true(x && w && ref && got);
    ref_rng_fill(&rng, x, (size_t)M * K, -1, 1);
    ref_rng_fill(&rng, w, (size_t)N * K, -0.2f, 0.2f);
    uint64_t wbytes = vkg_matmul_quant_bytes(VKG_STORAGE_Q4_K, N, K);
    uint8_t *wq = calloc(wbytes, 1);
    assert_non_null(wq);
    vkg_test_ok(vkg_quant_quantize(VKG_GGML_Q4_K, w, wq, (uint64_t)N * K), "quantize");
    ref_q_dequantize(REF_GGML_Q4_K, wq, w, (size_t)N * K);
    ref_matmul_nk(ref, x, w, NULL, (int)M, (int)K, (int)N, REF_EPILOGUE_NONE, NULL);
    vkg_buffer *xb = vkg_test_buffer(ctx, (uint64_t)M * K * 4, "x"), *wb = vkg_test_buffer(ctx, wbytes, "w");
    vkg_buffer *yb = vkg_test_buffer(ctx, (uint64_t)M * N * 4, "y");
    vkg_test_ok(vkg_buffer_upload(xb, 0, x, (uint64_t)M * K * 4), "upload x");
    vkg_test_ok(vkg_buffer_upload(wb, 0, wq, wbytes), "upload w");
    vkg_matrix mat = {.buf = wb, .rows = N, .cols = K, .storage = VKG_STORAGE_Q4_K};
    vkg_matmul_options opt = {.path = path};
    vkg_cmd *cmd = NULL;
    vkg_test_ok(vkg_cmd_create(ctx, "routing", &cmd), "cmd");
    vkg_test_ok(vkg_cmd_begin(cmd), "begin");
    vkg_status st = vkg_matmul_quant(k, cmd, vkg_view_whole(yb), vkg_view_whole(xb), &mat, NULL, NULL, M,
                                     VKG_EPILOGUE_NONE, &opt);
    if (st == VKG_OK) {
        vkg_test_ok(vkg_cmd_end(cmd), "end");
        vkg_test_ok(vkg_cmd_run(cmd), "run");
        vkg_test_ok(vkg_buffer_download(yb, 0, got, (uint64_t)M * N * 4), "download");
        vkg_test_check_close("routed Q4_K product", got, ref, (size_t)M * N, 1e-5, 1e-5, 1e-10);
    } else {
        assert_int_equal(vkg_cmd_dispatch_count(cmd), 0);
    }
    vkg_cmd_destroy(cmd);
    vkg_buffer_destroy(xb);
    vkg_buffer_destroy(wb);
    vkg_buffer_destroy(yb);
    free(x);
    free(w);
    free(ref);
    free(got);
    free(wq);
    return st;
}

static void test_routing(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    static const vkg_coopmat_api named[] = {VKG_COOPMAT_NONE, VKG_COOPMAT_KHR, VKG_COOPMAT_NV};
    for (size_t i = 0; i < VKG_ARRAY_LEN(named); i++) {
        vkg_kernels k = vkg_kernels_default(ctx);
        k.cpu_tuning = false; /* the GPU choice: M > 1 goes to COOPMAT or TILED */
        k.coopmat_quant = named[i];
        if (vkg_matmul_q_coopmat_usable(&k))
            continue; /* this device runs it: test_coopmat_path */
        /* Forced: refused, saying what is missing; nothing recorded (routed checks). */
        assert_int_equal(routed(ctx, &k, VKG_MATMUL_PATH_COOPMAT, 7), VKG_ERROR_FEATURE_MISSING);
        const char *msg = vkg_last_error();
        if (!strstr(msg, "matmul_quant q4_k M=7 N=67 K=512") || !strstr(msg, "cooperative-matrix path needs") ||
            !strstr(msg, "subgroup size control") || !strstr(msg, vkg_context_device(ctx)->name))
            fail_msg("unclear refusal: %s", msg);
        /* AUTO: the tiled path, at fp32 accuracy. */
        vkg_test_ok(routed(ctx, &k, VKG_MATMUL_PATH_AUTO, 7), "AUTO without cooperative matrices");
        /* The self-check switches a named but unusable extension off, says why, leaves fp16's choice. */
        vkg_coopmat_api fp16 = k.coopmat;
        const char *why = NULL;
        vkg_test_ok(vkg_matmul_q_coopmat_verify(&k, &why), "self-check");
        assert_int_equal(k.coopmat_quant, VKG_COOPMAT_NONE);
        assert_int_equal(k.coopmat, fp16);
        if (named[i] == VKG_COOPMAT_NONE)
            assert_null(why);
        else if (!why || !strstr(why, "q8_0: the path refused"))
            fail_msg("self-check of an unusable extension: why = %s", why ? why : "(null)");
    }
    /* The self-check's product is exact: the tiled path (another summation order, other hardware
     * paths) agrees with the vector path bit for bit in every format. */
    vkg_kernels k = vkg_kernels_default(ctx);
    for (size_t f = 0; f < VKG_ARRAY_LEN(formats); f++) {
        const char *why = NULL;
        vkg_test_ok(vkg_matmul_quant_selfcheck(&k, formats[f], VKG_MATMUL_PATH_TILED, &why), "self-check product");
        if (why)
            fail_msg("%s: the tiled path and the vector path differ on the known-exact product: %s", names[f], why);
    }
}

/* Bad arguments to vkg_dequant_f16: specific statuses and messages, nothing recorded. */
static void test_dequant_bad_arguments(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    vkg_kernels k = vkg_kernels_default(ctx);
    vkg_buffer *b = vkg_test_buffer(ctx, 65536, "bad args");
    vkg_cmd *cmd = NULL;
    vkg_test_ok(vkg_cmd_create(ctx, "bad args", &cmd), "cmd");
    vkg_test_ok(vkg_cmd_begin(cmd), "begin");
    vkg_view out = {b, 0, 32768};
    vkg_matrix w = {.buf = b, .offset = 32768, .rows = 4, .cols = 256, .storage = VKG_STORAGE_F16};
    assert_int_equal(vkg_dequant_f16(&k, cmd, out, &w, 256, 0), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "not a block format"));
    w.storage = VKG_STORAGE_Q4_K;
    w.cols = 288;
    assert_int_equal(vkg_dequant_f16(&k, cmd, out, &w, 288, 0), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "K=288"));
    w.cols = 256;
    assert_int_equal(vkg_dequant_f16(&k, cmd, out, &w, 256, 48), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "step 48"));
    assert_int_equal(vkg_dequant_f16(&k, cmd, out, &w, 255, 0), VKG_ERROR_INVALID_ARGUMENT);
    assert_int_equal(vkg_dequant_f16(&k, cmd, (vkg_view){b, 0, 2047}, &w, 256, 0), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "needs 2048"));
    w.offset = 65536 - 64;
    assert_int_equal(vkg_dequant_f16(&k, cmd, out, &w, 256, 0), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "its buffer has 65536"));
    w.offset = 32768 + 2;
    assert_int_equal(vkg_dequant_f16(&k, cmd, out, &w, 256, 0), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "minStorageBufferOffsetAlignment"));
    assert_int_equal(vkg_cmd_dispatch_count(cmd), 0);
    vkg_test_ok(vkg_cmd_end(cmd), "end");
    vkg_cmd_destroy(cmd);
    vkg_buffer_destroy(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_staging_exact, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_coopmat_emulated, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_coopmat_path, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_routing, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_dequant_bad_arguments, vkg_test_setup, vkg_test_teardown),
    };
    return cmocka_run_group_tests(tests, vkg_test_group_setup, vkg_test_group_teardown);
}
