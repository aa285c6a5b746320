/*
 * tests/test_quant_dot.c — the int8 dot-product path of the quantized matmuls: the activation quantizer
 * (src/kernels/quantize_act.c) against the CPU reference (tests/ref/ref_qact.c); the int-dot matmuls
 * (shaders/matmul_q_dot*.comp, routed through vkg_matmul_ex with opt.xq) for every block format on a
 * shape grid, both work splits (vector, tiled), against the exact product of the device's own
 * quantized activations (read back) with the reference's dequantized weights (tests/ref/ref_quant.c), and against the fp32 product within the
 * bound the activations' quantization implies; decode_batch rows equal lone M = 1 products; the
 * routing (xq set but k->int_dot false: exactly the float path).
 * Without int8 dot products on the device (or with VKG_DISABLE_INT_DOT=1) the int-dot cases are
 * skipped and the program exits with 77, which ctest reports as skipped. A printed throughput
 * comparison of the paths runs only on request (VKG_TEST_QUANT_DOT_BENCH=1: ~30 s on lavapipe, too long
 * for the suite); it asserts nothing about speed.
 */
#include "harness.h"

#include "kernels/matmul.h"
#include "kernels/matmul_quant.h"
#include "kernels/quantize_act.h"
#include "model/quant.h"
#include "ref/ref.h"
#include "ref/ref_qact.h"
#include "ref/ref_quant.h"
#include "vk/vk.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { QB = 48 }; /* bytes of one quantized activation block (quantize_act_push.h) */

static const uint32_t formats[] = {VKG_GGML_Q8_0, VKG_GGML_Q4_0, VKG_GGML_Q4_K, VKG_GGML_Q5_K, VKG_GGML_Q6_K};

static bool int_dot_skipped; /* some case was skipped: main exits with 77 */

static vkg_storage storage_of(uint32_t t) {
    switch (t) {
    case VKG_GGML_Q8_0: return VKG_STORAGE_Q8_0;
    case VKG_GGML_Q4_0: return VKG_STORAGE_Q4_0;
    case VKG_GGML_Q4_K: return VKG_STORAGE_Q4_K;
    case VKG_GGML_Q5_K: return VKG_STORAGE_Q5_K;
    default: return VKG_STORAGE_Q6_K;
    }
}

/* The context, or a visible skip when the device has no int8 dot products (or they are disabled). */
static vkg_context *int_dot_ctx(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    if (!vkg_context_device(ctx)->integer_dot_product) {
        fprintf(stderr, "test_quant_dot: %s has no int8 dot products (or VKG_DISABLE_INT_DOT is set): skipped\n",
                vkg_context_device(ctx)->name);
        int_dot_skipped = true;
        skip();
    }
    return ctx;
}

/* One quantized activation block read back: q, d, s0, s1, pad (quantize_act_push.h). */
typedef struct qblock {
    int8_t q[32];
    float d;
    int32_t s0, s1;
    uint32_t pad;
} qblock;

static qblock read_block(const uint8_t *p) {
    qblock b;
    memcpy(b.q, p, 32);
    memcpy(&b.d, p + 32, 4);
    memcpy(&b.s0, p + 36, 4);
    memcpy(&b.s1, p + 40, 4);
    memcpy(&b.pad, p + 44, 4);
    return b;
}

/* Record quantize_act on X [M, K] (uploaded) and return the blocks read back (M * K / 32 * 48 bytes). */
static uint8_t *device_quantize(vkg_context *ctx, const vkg_kernels *k, const float *x, uint32_t M, uint32_t K) {
    uint64_t qbytes = vkg_quantize_act_bytes(M, K), guard = VKG_TEST_GUARD_WORDS * 4;
    vkg_buffer *xb = vkg_test_buffer(ctx, (uint64_t)M * K * 4, "x"), *qb = vkg_test_buffer(ctx, qbytes + guard, "xq");
    vkg_test_ok(vkg_buffer_upload(xb, 0, x, (uint64_t)M * K * 4), "upload x");
    vkg_test_ok(vkg_buffer_fill(qb, 0, qbytes + guard, VKG_TEST_GUARD), "fill xq");
    vkg_cmd *cmd = NULL;
    vkg_test_ok(vkg_cmd_create(ctx, "quantize_act test", &cmd), "cmd");
    vkg_test_ok(vkg_cmd_begin(cmd), "begin");
    vkg_test_ok(vkg_quantize_act(k, cmd, (vkg_view){qb, 0, qbytes}, vkg_view_whole(xb), M, K), "quantize_act");
    vkg_test_ok(vkg_cmd_end(cmd), "end");
    vkg_test_ok(vkg_cmd_run(cmd), "run");
    uint8_t *out = malloc(qbytes + guard);
    assert_non_null(out);
    vkg_test_ok(vkg_buffer_download(qb, 0, out, qbytes + guard), "download xq");
    for (uint64_t i = qbytes; i < qbytes + guard; i += 4)
        if (memcmp(out + i, &(uint32_t){VKG_TEST_GUARD}, 4) != 0) {
            print_error("quantize_act M=%u K=%u: guard word %llu after xq was overwritten\n", M, K,
                        (unsigned long long)(i - qbytes) / 4);
            fail();
        }
    vkg_cmd_destroy(cmd);
    vkg_buffer_destroy(xb);
    vkg_buffer_destroy(qb);
    return out;
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* ---- the activation quantizer ---- */

static void check_quantizer(vkg_context *ctx, uint32_t M, uint32_t K, const float *x, const char *data) {
    vkg_kernels k = vkg_kernels_default(ctx);
    uint8_t *xq = device_quantize(ctx, &k, x, M, K);
    int near_half = 0;
    for (uint64_t blk = 0; blk < (uint64_t)M * K / 32; blk++) {
        qblock g = read_block(xq + blk * QB);
        int8_t q[32];
        float d;
        int32_t s0, s1;
        double exact[32];
        ref_qact_block(x + blk * 32, q, &d, &s0, &s1, exact);
        /* d: one fp32 division, which SPIR-V allows to be off by an ulp or so */
        uint32_t gd = f32_bits(g.d), rd = f32_bits(d);
        if ((gd > rd ? gd - rd : rd - gd) > 1) {
            print_error("quantize_act %s M=%u K=%u block %llu: d = %.9g, reference %.9g\n", data, M, K,
                        (unsigned long long)blk, g.d, d);
            fail();
        }
        int32_t t0 = 0, t1 = 0;
        for (int i = 0; i < 32; i++) {
            double frac = fabs(exact[i]) - floor(fabs(exact[i]));
            bool boundary = fabs(frac - 0.5) < 1e-4; /* the device's own d and division may round across */
            near_half += boundary;
            int diff = g.q[i] - q[i];
            if (!(diff == 0 || (boundary && (diff == 1 || diff == -1)))) {
                print_error("quantize_act %s M=%u K=%u block %llu element %d: x = %.9g, q = %d, reference %d "
                            "(x / d = %.9g)\n", data, M, K, (unsigned long long)blk, i, x[blk * 32 + i], g.q[i],
                            q[i], exact[i]);
                fail();
            }
            if (i < 16)
                t0 += g.q[i];
            else
                t1 += g.q[i];
        }
        if (g.s0 != t0 || g.s1 != t1 || g.pad != 0) {
            print_error("quantize_act %s block %llu: sums %d %d (pad %u), its q sum to %d %d\n", data,
                        (unsigned long long)blk, g.s0, g.s1, g.pad, t0, t1);
            fail();
        }
    }
    if (near_half)
        fprintf(stderr, "test_quant_dot: quantize_act %s: %d values within 1e-4 of a rounding boundary\n", data,
                near_half);
    free(xq);
}

static void test_quantize_act(void **state) {
    vkg_context *ctx = vkg_test_ctx(state); /* needs no int8 arithmetic: runs on every device */
    static const uint32_t shapes[][2] = {{1, 32}, {3, 96}, {7, 2048}};
    ref_rng rng = ref_rng_seed(31);
    for (size_t s = 0; s < VKG_ARRAY_LEN(shapes); s++) {
        uint32_t M = shapes[s][0], K = shapes[s][1];
        size_t n = (size_t)M * K;
        float *x = malloc(n * 4);
        assert_non_null(x);
        ref_rng_fill(&rng, x, n, -1, 1);
        check_quantizer(ctx, M, K, x, "uniform");
        /* special blocks: all zero; halves (d = 1 exactly: x / d = k + 0.5); a negative outlier; tiny
         * values; a large spread; then Gaussian-like rows */
        for (uint64_t b = 0; b < n / 32; b++) {
            float *v = x + b * 32;
            for (int i = 0; i < 32; i++) {
                switch (b % 6) {
                case 0: v[i] = 0; break;
                case 1: v[i] = i == 31 ? 127.0f : (float)(i - 16) + 0.5f; break;
                case 2: v[i] = i == 5 ? -300.0f : ref_rng_uniform(&rng, -1, 1); break;
                case 3: v[i] = 1e-30f * ref_rng_uniform(&rng, -1, 1); break;
                case 4: v[i] = ldexpf(ref_rng_uniform(&rng, -1, 1), i % 20 - 10); break;
                default: v[i] = ref_rng_uniform(&rng, -1, 1) + ref_rng_uniform(&rng, -1, 1); break;
                }
            }
        }
        check_quantizer(ctx, M, K, x, "special");
        free(x);
    }
    /* Refusals: K not a multiple of 32, xq too small. */
    vkg_kernels k = vkg_kernels_default(ctx);
    vkg_buffer *b = vkg_test_buffer(ctx, 1 << 16, "bad args");
    vkg_cmd *cmd = NULL;
    vkg_test_ok(vkg_cmd_create(ctx, "bad args", &cmd), "cmd");
    vkg_test_ok(vkg_cmd_begin(cmd), "begin");
    assert_int_equal(vkg_quantize_act_bytes(2, 48), 0);
    assert_int_equal(vkg_quantize_act_bytes(2, 64), 192);
    assert_int_equal(vkg_quantize_act(&k, cmd, (vkg_view){b, 0, 4096}, (vkg_view){b, 8192, 4096}, 2, 48),
                     VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "multiple of 32"));
    assert_int_equal(vkg_quantize_act(&k, cmd, (vkg_view){b, 0, 100}, (vkg_view){b, 8192, 4096}, 2, 64),
                     VKG_ERROR_INVALID_ARGUMENT);
    assert_int_equal(vkg_quantize_act(&k, cmd, (vkg_view){b, 0, 4096}, (vkg_view){b, 128, 4096}, 2, 64),
                     VKG_ERROR_INVALID_ARGUMENT);
    assert_int_equal(vkg_cmd_dispatch_count(cmd), 0);
    vkg_test_ok(vkg_cmd_end(cmd), "end");
    vkg_cmd_destroy(cmd);
    vkg_buffer_destroy(b);
}

/* ---- the int-dot matmul ---- */

typedef struct dcase {
    uint32_t type, M, K, N;
    vkg_epilogue ep;
    bool bias;
    uint32_t max_chunk_rows;
    uint32_t y_cols, y_col0; /* 0: Y is [M, N] */
    bool batch;              /* decode_batch */
    bool int_dot;            /* k->int_dot (false: the routing must fall back to the float path) */
    bool skip_ref;           /* only run (the caller compares results) */
    bool gpu_split;          /* k->cpu_tuning false (the GPU work split) on any device */
    vkg_matmul_path path;    /* AUTO, VECTOR or TILED */
} dcase;

/* W [N, K] of the case's format: RTN-quantized uniform values, the same for a seed whatever M is. */
static uint8_t *make_w(const dcase *c, uint64_t seed, float *wd) {
    size_t nw = (size_t)c->N * c->K;
    uint64_t wbytes = vkg_matmul_quant_bytes(storage_of(c->type), c->N, c->K);
    float *w = malloc(nw * 4);
    uint8_t *wq = calloc(wbytes, 1);
    assert_true(w && wq && wbytes);
    ref_rng rng = ref_rng_seed(seed);
    float a = 4.5f / sqrtf((float)c->K);
    ref_rng_fill(&rng, w, nw, -a, a);
    vkg_test_ok(vkg_quant_quantize(c->type, w, wq, nw), "quantize w");
    ref_q_dequantize((int)c->type, wq, wd, nw);
    free(w);
    return wq;
}

/* Run the case on X (M x K) through vkg_matmul_ex with opt.xq; return Y [M, NY] (caller frees) and
 * check it unless c->skip_ref. */
static float *run_dot(vkg_context *ctx, const dcase *c, const float *x, uint64_t seed) {
    const uint32_t M = c->M, K = c->K, N = c->N, NY = c->y_cols ? c->y_cols : N, col0 = c->y_col0;
    const size_t nx = (size_t)M * K, nw = (size_t)N * K, ny = (size_t)M * NY;
    char what[200];
    snprintf(what, sizeof what, "int-dot %s %s M=%u K=%u N=%u ep=%d%s chunk=%u cols=%u+%u%s%s%s",
             vkg_ggml_type_name(c->type), c->path == VKG_MATMUL_PATH_TILED ? "tiled" : "auto", M, K, N, (int)c->ep,
             c->bias ? " bias" : "", c->max_chunk_rows, col0, NY,
             c->batch ? " batch" : "", c->gpu_split ? " gpu-split" : "", c->int_dot ? "" : " (int_dot off)");
    vkg_kernels k = vkg_kernels_default(ctx);
    k.int_dot = c->int_dot;
    k.cpu_tuning = !c->gpu_split;
    float *wd = malloc(nw * 4), *b = malloc((size_t)NY * 4), *r = malloc(ny * 4);
    float *got = malloc((ny + VKG_TEST_GUARD_WORDS) * 4);
    assert_true(wd && b && r && got);
    uint8_t *wq = make_w(c, seed, wd);
    ref_rng rng = ref_rng_seed(seed + 1);
    ref_rng_fill(&rng, b, NY, -1, 1);
    ref_rng_fill(&rng, r, ny, -1, 1);

    uint64_t wbytes = vkg_matmul_quant_bytes(storage_of(c->type), N, K), qbytes = vkg_quantize_act_bytes(M, K);
    uint64_t y_bytes = (ny + VKG_TEST_GUARD_WORDS) * 4;
    vkg_buffer *xb = vkg_test_buffer(ctx, nx * 4, "x"), *wb = vkg_test_buffer(ctx, wbytes, "w");
    vkg_buffer *qb = vkg_test_buffer(ctx, qbytes, "xq"), *bb = vkg_test_buffer(ctx, (uint64_t)NY * 4, "bias");
    vkg_buffer *yb = vkg_test_buffer(ctx, y_bytes, "y"), *rb = vkg_test_buffer(ctx, ny * 4, "residual");
    vkg_test_ok(vkg_buffer_upload(xb, 0, x, nx * 4), "upload x");
    vkg_test_ok(vkg_buffer_upload(wb, 0, wq, wbytes), "upload w");
    vkg_test_ok(vkg_buffer_upload(bb, 0, b, (uint64_t)NY * 4), "upload bias");
    vkg_test_ok(vkg_buffer_upload(rb, 0, r, ny * 4), "upload residual");
    vkg_test_ok(vkg_buffer_fill(yb, 0, y_bytes, VKG_TEST_GUARD), "fill y");
    vkg_matrix mat = {.buf = wb, .rows = N, .cols = K, .storage = storage_of(c->type)};
    vkg_view bv = vkg_view_whole(bb), rv = vkg_view_whole(rb);
    vkg_matmul_options opt = {.path = c->path, .max_chunk_rows = c->max_chunk_rows, .y_cols = c->y_cols, .y_col0 = col0,
                              .decode_batch = c->batch, .xq = vkg_view_whole(qb)};
    vkg_cmd *cmd = NULL;
    vkg_test_ok(vkg_cmd_create(ctx, "int-dot test", &cmd), "cmd");
    vkg_test_ok(vkg_cmd_begin(cmd), "begin");
    vkg_test_ok(vkg_quantize_act(&k, cmd, vkg_view_whole(qb), vkg_view_whole(xb), M, K), what);
    vkg_test_ok(vkg_matmul_ex(&k, cmd, (vkg_view){yb, 0, ny * 4}, vkg_view_whole(xb), &mat, c->bias ? &bv : NULL,
                           c->ep == VKG_EPILOGUE_RESIDUAL ? &rv : NULL, M, c->ep, &opt), what);
    assert_int_equal(vkg_cmd_dispatch_count(cmd), 1 + vkg_matmul_chunk_count(&k, &mat, &opt));
    vkg_test_ok(vkg_cmd_end(cmd), "end");
    vkg_test_ok(vkg_cmd_run(cmd), "run");
    vkg_test_ok(vkg_buffer_download(yb, 0, got, y_bytes), "download y");
    uint8_t *xq = malloc(qbytes);
    assert_non_null(xq);
    vkg_test_ok(vkg_buffer_download(qb, 0, xq, qbytes), "download xq");

    /* Guards after Y and around the segment: untouched. */
    for (size_t i = 0; i < ny + VKG_TEST_GUARD_WORDS; i++) {
        bool inside = i < ny && i % NY >= col0 && i % NY < col0 + N;
        if (!inside && memcmp(&got[i], &(uint32_t){VKG_TEST_GUARD}, 4) != 0) {
            print_error("%s: word %zu outside the outputs was overwritten\n", what, i);
            fail();
        }
    }
    for (uint32_t m = 0; m < M && !c->skip_ref; m++)
        for (uint32_t n = 0; n < N; n++) {
            /* exact: the device's quantized activations times the reference's weights, in double;
             * fp32: the unquantized activations. The activations' error is at most d / 2 per element. */
            double exact = 0, mag = 0, fp = 0, qerr = 0;
            for (uint32_t kk = 0; kk < K; kk++) {
                qblock qbk = read_block(xq + ((size_t)m * K / 32 + kk / 32) * QB);
                double w = wd[(size_t)n * K + kk], xd = (double)qbk.d * qbk.q[kk % 32];
                exact += w * xd;
                mag += fabs(w * xd);
                fp += w * x[(size_t)m * K + kk];
                qerr += fabs(w) * qbk.d * 0.5;
            }
            size_t yi = (size_t)m * NY + col0 + n;
            double add = (c->bias ? b[col0 + n] : 0) + 0.0;
            double res = c->ep == VKG_EPILOGUE_RESIDUAL ? r[yi] : 0;
            double e_out = exact + add, f_out = fp + add;
            if (c->ep == VKG_EPILOGUE_GELU) {
                e_out = ref_gelu_f64(e_out);
                f_out = ref_gelu_f64(f_out);
                qerr *= 1.13; /* the tanh GELU's slope is at most 1.13 */
            }
            e_out += res;
            f_out += res;
            mag += fabs(add) + fabs(res);
            /* fp32 rounding: a few per block (the integer part is exact) plus one per block added */
            double tol = 3.0 * (K / 32 + 16) * 0x1p-24 * mag + 1e-7;
            float g = got[yi];
            if (!(fabs(g - e_out) <= tol)) {
                print_error("%s: Y[%u, %u] = %.9g, exact on the quantized activations %.9g (tolerance %.3g)\n", what,
                            m, n, g, e_out, tol);
                fail();
            }
            if (!(fabs(g - f_out) <= qerr * 1.001 + tol)) {
                print_error("%s: Y[%u, %u] = %.9g, fp32 product %.9g: error %.3g above the activations' "
                            "quantization bound %.3g\n", what, m, n, g, f_out, fabs(g - f_out), qerr);
                fail();
            }
        }
    vkg_cmd_destroy(cmd);
    vkg_buffer_destroy(xb);
    vkg_buffer_destroy(wb);
    vkg_buffer_destroy(qb);
    vkg_buffer_destroy(bb);
    vkg_buffer_destroy(yb);
    vkg_buffer_destroy(rb);
    free(wd);
    free(b);
    free(r);
    free(wq);
    free(xq);
    return got;
}

static float *random_x(uint32_t M, uint32_t K, uint64_t seed) {
    float *x = malloc((size_t)M * K * 4);
    assert_non_null(x);
    ref_rng rng = ref_rng_seed(seed);
    ref_rng_fill(&rng, x, (size_t)M * K, -1, 1);
    return x;
}

static void test_dot_grid(void **state) {
    vkg_context *ctx = int_dot_ctx(state);
    static const uint32_t shapes[][3] = {/* M, K-blocks of 256, N */
        {1, 1, 1}, {1, 2, 17}, {1, 3, 130}, {2, 1, 3}, {7, 2, 64}, {65, 1, 67}, {1, 8, 300}, {3, 4, 129}};
    uint64_t seed = 1000;
    int rot = 0;
    for (size_t f = 0; f < VKG_ARRAY_LEN(formats); f++)
        for (size_t s = 0; s < VKG_ARRAY_LEN(shapes); s++) {
            uint32_t blk = formats[f] == VKG_GGML_Q8_0 || formats[f] == VKG_GGML_Q4_0 ? 32 : 256;
            uint32_t K = shapes[s][1] * 256 + (blk == 32 ? 32 * (uint32_t)(s % 3) : 0);
            rot++;
            dcase c = {.type = formats[f], .M = shapes[s][0], .K = K, .N = shapes[s][2], .ep = (vkg_epilogue)(rot % 3),
                       .bias = rot % 2 == 0, .max_chunk_rows = rot % 4 == 0 ? 16 : 0, .int_dot = true,
                       .gpu_split = rot % 3 == 1};
            if (c.M > 1 && c.gpu_split) /* AUTO: the tiled int-dot variant, or the vector one for a batch */
                c.batch = rot % 2 == 0;
            else if (c.M > 1 && rot % 4 == 1)
                c.path = VKG_MATMUL_PATH_TILED;
            if (rot % 5 == 1) { /* a row segment of a wider Y */
                c.y_cols = c.N + 7;
                c.y_col0 = 5;
            }
            float *x = random_x(c.M, K, seed + 7);
            free(run_dot(ctx, &c, x, seed));
            seed += 11;
            free(x);
        }
}

/* The tiled int-dot variant for every format: forced, with W in chunks of 24 rows; and as the GPU
 * split's AUTO choice for M > 1 over two row tiles, writing a segment of a wider Y. */
static void test_tiled(void **state) {
    vkg_context *ctx = int_dot_ctx(state);
    for (size_t f = 0; f < VKG_ARRAY_LEN(formats); f++) {
        dcase c = {.type = formats[f], .M = 5, .K = 512, .N = 203, .ep = VKG_EPILOGUE_RESIDUAL, .bias = true,
                   .max_chunk_rows = 24, .path = VKG_MATMUL_PATH_TILED, .int_dot = true};
        float *x = random_x(c.M, c.K, 60 + f);
        free(run_dot(ctx, &c, x, 600 + f));
        free(x);
        c = (dcase){.type = formats[f], .M = 66, .K = 256, .N = 130, .ep = VKG_EPILOGUE_GELU, .y_cols = 140,
                    .y_col0 = 9, .gpu_split = true, .int_dot = true};
        x = random_x(c.M, c.K, 70 + f);
        free(run_dot(ctx, &c, x, 700 + f));
        free(x);
    }
}

/* The CPU-driver and GPU work splits (cpu_tuning both ways) with decode_batch: each row of a batched
 * product equals, bit for bit, the M = 1 product of that row alone. */
static void test_decode_batch(void **state) {
    vkg_context *ctx = int_dot_ctx(state);
    for (size_t f = 0; f < VKG_ARRAY_LEN(formats); f++)
        for (int gpu = 0; gpu < 2; gpu++) {
            dcase c = {.type = formats[f], .M = 5, .K = 512, .N = 70, .ep = VKG_EPILOGUE_RESIDUAL, .bias = true,
                       .batch = true, .int_dot = true, .max_chunk_rows = 32, .gpu_split = gpu};
            float *x = random_x(c.M, c.K, 40 + f);
            free(run_dot(ctx, &c, x, 400 + f)); /* checked against the reference */
            /* without the residual (seeded per M rows), compared row by row */
            c.ep = VKG_EPILOGUE_NONE;
            c.skip_ref = true;
            float *all = run_dot(ctx, &c, x, 400 + f);
            for (uint32_t m = 0; m < c.M; m++) {
                dcase one = c;
                one.M = 1;
                one.batch = false;
                float *row = run_dot(ctx, &one, x + (size_t)m * c.K, 400 + f);
                if (memcmp(row, all + (size_t)m * c.N, (size_t)c.N * 4) != 0) {
                    print_error("decode_batch %s gpu=%d: row %u differs from its lone M = 1 product\n",
                                vkg_ggml_type_name(c.type), gpu, m);
                    fail();
                }
                free(row);
            }
            free(all);
            free(x);
        }
}

/* xq set but k->int_dot false: exactly the float path's result (same shader, same bits). Runs on
 * every device; with int dot available, the int-dot result must differ (the route was taken). */
static void test_routing(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    const vkg_device_info *info = vkg_context_device(ctx);
    vkg_kernels k = vkg_kernels_default(ctx);
    assert_true(k.int_dot == info->integer_dot_product); /* the default policy: matmul_quant.h */
    static const uint32_t types[] = {VKG_GGML_Q4_K, VKG_GGML_Q6_K, VKG_GGML_Q8_0};
    for (size_t t = 0; t < VKG_ARRAY_LEN(types); t++)
        for (uint32_t M = 1; M <= 3; M += 2) {
            dcase c = {.type = types[t], .M = M, .K = 512, .N = 45, .bias = true, .skip_ref = true};
            float *x = random_x(M, c.K, 90 + t);
            float *fallback = run_dot(ctx, &c, x, 900 + t);
            /* the float path alone, without xq */
            const size_t ny = (size_t)M * c.N;
            float *wd = malloc((size_t)c.N * c.K * 4), *plain = malloc(ny * 4), *b = malloc(c.N * 4);
            assert_true(wd && plain && b);
            uint8_t *wq = make_w(&c, 900 + t, wd);
            ref_rng rng = ref_rng_seed(900 + t + 1);
            ref_rng_fill(&rng, b, c.N, -1, 1);
            uint64_t wbytes = vkg_matmul_quant_bytes(storage_of(c.type), c.N, c.K);
            vkg_buffer *xb = vkg_test_buffer(ctx, (uint64_t)M * c.K * 4, "x"), *wb = vkg_test_buffer(ctx, wbytes, "w");
            vkg_buffer *bb = vkg_test_buffer(ctx, c.N * 4, "bias"), *yb = vkg_test_buffer(ctx, ny * 4, "y");
            vkg_test_ok(vkg_buffer_upload(xb, 0, x, (uint64_t)M * c.K * 4), "upload x");
            vkg_test_ok(vkg_buffer_upload(wb, 0, wq, wbytes), "upload w");
            vkg_test_ok(vkg_buffer_upload(bb, 0, b, c.N * 4), "upload bias");
            vkg_matrix mat = {.buf = wb, .rows = c.N, .cols = c.K, .storage = storage_of(c.type)};
            vkg_view bv = vkg_view_whole(bb);
            vkg_cmd *cmd = NULL;
            vkg_test_ok(vkg_cmd_create(ctx, "float path", &cmd), "cmd");
            vkg_test_ok(vkg_cmd_begin(cmd), "begin");
            vkg_test_ok(vkg_matmul(&k, cmd, vkg_view_whole(yb), vkg_view_whole(xb), &mat, &bv, NULL, M,
                                VKG_EPILOGUE_NONE), "float path");
            if (!info->integer_dot_product) { /* asking for int dot where there is none fails clearly */
                vkg_kernels kd = k;
                kd.int_dot = true;
                vkg_matmul_options opt = {.xq = vkg_view_whole(yb)};
                assert_int_equal(vkg_matmul_ex(&kd, cmd, vkg_view_whole(yb), vkg_view_whole(xb), &mat, &bv, NULL, M,
                                               VKG_EPILOGUE_NONE, &opt), VKG_ERROR_FEATURE_MISSING);
                assert_non_null(strstr(vkg_last_error(), "int8 dot products"));
            }
            vkg_test_ok(vkg_cmd_end(cmd), "end");
            vkg_test_ok(vkg_cmd_run(cmd), "run");
            vkg_test_ok(vkg_buffer_download(yb, 0, plain, ny * 4), "download");
            if (memcmp(plain, fallback, ny * 4) != 0) {
                print_error("%s M=%u: xq set with int_dot off differs from the float path\n",
                            vkg_ggml_type_name(c.type), M);
                fail();
            }
            if (info->integer_dot_product) {
                c.int_dot = true;
                float *dot = run_dot(ctx, &c, x, 900 + t);
                assert_true(memcmp(plain, dot, ny * 4) != 0);
                free(dot);
            }
            vkg_cmd_destroy(cmd);
            vkg_buffer_destroy(xb);
            vkg_buffer_destroy(wb);
            vkg_buffer_destroy(bb);
            vkg_buffer_destroy(yb);
            free(wd);
            free(plain);
            free(b);
            free(wq);
            free(fallback);
            free(x);
        }
}

/* ---- throughput (printed; only with VKG_TEST_QUANT_DOT_BENCH=1) ---- */

/* One recording of 10 back-to-back M = 1 products (quantize_act + matmul on the int-dot path) between
 * two timestamps. */
typedef struct timing {
    vkg_buffer *w, *x, *xq, *y;
    vkg_cmd *cmd;
    uint32_t t0, t1;
    uint64_t wbytes;
    double ns[16];
} timing;

static void timing_record(vkg_context *ctx, uint32_t K, uint32_t N, vkg_storage st, bool dot, timing *t) {
    vkg_kernels k = vkg_kernels_default(ctx);
    k.int_dot = dot;
    t->wbytes = vkg_storage_is_block(st) ? vkg_matmul_quant_bytes(st, N, K) : (uint64_t)N * K * vkg_storage_bytes(st);
    t->w = vkg_test_buffer(ctx, t->wbytes, "timing w");
    t->x = vkg_test_buffer(ctx, (uint64_t)K * 4, "timing x");
    t->xq = vkg_test_buffer(ctx, vkg_quantize_act_bytes(1, K), "timing xq");
    t->y = vkg_test_buffer(ctx, (uint64_t)N * 4, "timing y");
    vkg_test_ok(vkg_buffer_fill(t->w, 0, t->wbytes, 0x3c003c00u), "fill w"); /* finite scales in every format */
    vkg_test_ok(vkg_buffer_fill(t->x, 0, (uint64_t)K * 4, 0x3f800000u), "fill x");
    vkg_matrix w = {.buf = t->w, .rows = N, .cols = K, .storage = st};
    vkg_matmul_options opt = {.xq = dot ? vkg_view_whole(t->xq) : (vkg_view){0}};
    vkg_test_ok(vkg_cmd_create(ctx, "int-dot timing", &t->cmd), "cmd");
    vkg_test_ok(vkg_cmd_begin(t->cmd), "begin");
    vkg_test_ok(vkg_cmd_timestamp(t->cmd, &t->t0), "timestamp");
    for (int i = 0; i < 10; i++) {
        if (dot)
            vkg_test_ok(vkg_quantize_act(&k, t->cmd, opt.xq, vkg_view_whole(t->x), 1, K), "quantize_act");
        vkg_test_ok(vkg_matmul_ex(&k, t->cmd, vkg_view_whole(t->y), vkg_view_whole(t->x), &w, NULL, NULL, 1,
                               VKG_EPILOGUE_NONE, &opt), "matmul");
    }
    vkg_test_ok(vkg_cmd_timestamp(t->cmd, &t->t1), "timestamp");
    vkg_test_ok(vkg_cmd_end(t->cmd), "end");
    vkg_test_ok(vkg_cmd_run(t->cmd), "run"); /* warm-up: pipelines, first touch */
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* TinyLlama's decode matrices (2048 -> 5632, 5632 -> 2048, 2048 -> 2048) in f16, each block format on
 * the float path and through int dot (quantize_act included); all runs interleaved so that a busy
 * machine slows all alike;
 * the median of 7 per variant. Prints, asserts nothing about speed. */
static void test_decode_throughput(void **state) {
    vkg_context *ctx = int_dot_ctx(state);
    const vkg_device_info *info = vkg_context_device(ctx);
    if (!info->timestamps || !info->storage_16bit)
        skip();
    static const uint32_t shapes[][2] = {{2048, 5632}, {5632, 2048}, {2048, 2048}}; /* K, N */
    static const vkg_storage st[] = {VKG_STORAGE_Q4_K, VKG_STORAGE_Q8_0, VKG_STORAGE_Q6_K, VKG_STORAGE_Q5_K,
                                     VKG_STORAGE_Q4_0};
    static const char *const names[] = {"q4_k", "q8_0", "q6_k", "q5_k", "q4_0"};
    enum { NS = 3, NF = 5, NV = 1 + 2 * NF, REPS = 7 };
    timing t[NS][NV];
    for (int s = 0; s < NS; s++)
        for (int v = 0; v < NV; v++)
            timing_record(ctx, shapes[s][0], shapes[s][1], v == 0 ? VKG_STORAGE_F16 : st[(v - 1) / 2],
                          v > 0 && v % 2 == 0, &t[s][v]);
    for (int rep = 0; rep < REPS; rep++)
        for (int s = 0; s < NS; s++)
            for (int v = 0; v < NV; v++) {
                vkg_test_ok(vkg_cmd_run(t[s][v].cmd), "run");
                vkg_test_ok(vkg_cmd_elapsed_ns(t[s][v].cmd, t[s][v].t0, t[s][v].t1, &t[s][v].ns[rep]), "elapsed");
            }
    for (int s = 0; s < NS; s++) {
        double med[NV];
        for (int v = 0; v < NV; v++) {
            qsort(t[s][v].ns, REPS, sizeof(double), cmp_double);
            med[v] = t[s][v].ns[REPS / 2] / 10;
        }
        fprintf(stderr, "test_quant_dot: M=1 %u -> %u on %s, median of %d: f16 %.3f ms (%.2f GB/s)\n", shapes[s][0],
                shapes[s][1], info->name, REPS, med[0] / 1e6, (double)t[s][0].wbytes / med[0]);
        for (int f = 0; f < NF; f++)
            fprintf(stderr, "test_quant_dot:   %s float %.3f ms (%.2f GB/s), int dot %.3f ms (%.2f GB/s): "
                    "int dot %.2fx the float path, %.2fx f16\n", names[f], med[1 + 2 * f] / 1e6,
                    (double)t[s][1 + 2 * f].wbytes / med[1 + 2 * f], med[2 + 2 * f] / 1e6,
                    (double)t[s][2 + 2 * f].wbytes / med[2 + 2 * f], med[1 + 2 * f] / med[2 + 2 * f],
                    med[0] / med[2 + 2 * f]);
        for (int v = 0; v < NV; v++) {
            vkg_cmd_destroy(t[s][v].cmd);
            vkg_buffer_destroy(t[s][v].w);
            vkg_buffer_destroy(t[s][v].x);
            vkg_buffer_destroy(t[s][v].xq);
            vkg_buffer_destroy(t[s][v].y);
        }
    }
}

int main(void) {
    if (getenv("VKG_TEST_QUANT_DOT_BENCH")) { /* only the printed throughput */
        const struct CMUnitTest b[] = {
            cmocka_unit_test_setup_teardown(test_decode_throughput, vkg_test_setup, vkg_test_teardown)};
        return cmocka_run_group_tests(b, vkg_test_group_setup, vkg_test_group_teardown);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_quantize_act, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_dot_grid, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_tiled, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_decode_batch, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_routing, vkg_test_setup, vkg_test_teardown),
    };
    int failed = cmocka_run_group_tests(tests, vkg_test_group_setup, vkg_test_group_teardown);
    return failed ? failed : int_dot_skipped ? 77 : 0;
}
