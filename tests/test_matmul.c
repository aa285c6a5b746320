/*
 * tests/test_matmul.c — the matmul family (src/kernels/matmul.c, shaders/matmul_*.comp) against the
 * CPU reference ref_matmul_nk: every path (vector, tiled, and cooperative matrix where the device has
 * it) forced at M = 1 and M > 1, fp32, fp16 and bf16 weights, the three epilogues with and without bias,
 * the residual in place, W split into row chunks (forced small, and the real 154 MB LM head past
 * lavapipe's 128 MiB binding range), guard words after Y, every forced subgroup size, bad arguments.
 *
 * Inputs: X, bias, R uniform in [-1, 1); W uniform in [-a, a) with a = 4.5 / sqrt(K), so that X·W^T
 * has a standard deviation near 1.5 at every K (GELU sees both its curved and its linear part, and
 * one absolute tolerance fits every K).
 *
 * Tolerances (|got - ref| <= atol + rtol |ref|, and the normalised error):
 *   fp32 W, and fp16 W against the reference computed with the same fp16-rounded W: rtol 1e-4,
 *     NMSE 1e-8 (the fp32 matmul bounds), atol 2e-5 (~1e-5 of the outputs' scale: fp32
 *     rounding of K-term sums, GELU's exp).
 *   fp16 W against the fp32-W reference: rtol 1e-2, NMSE 5e-5 (the fp16 bounds), atol 5e-3
 *     (the rounding of W to fp16 moves a sum by ~4e-4 rms; 5e-3 is ~12 sigma).
 *   bf16 W: against the reference on the same bf16-rounded W the fp32 bounds above; against the
 *     fp32-W reference rtol 2e-2, NMSE 5e-5, atol 2.5e-2 (bf16 keeps 8 bits: rounding W moves a
 *     sum by ~1.7e-3 rms, NMSE ~1.3e-6; 2.5e-2 is ~15 sigma).
 *   cooperative matrix (X rounded to fp16 too): the fp16 bounds against both references, atol 1e-2.
 *
 * The CI grid covers every K and N of {1, 3, 17, 64, 767, 768, 3072, 50257}, every M of
 * {1, 2, 7, 64, 513} and GPT-2's shapes; VKG_TEST_EXHAUSTIVE=1 runs the full cross product (for a
 * GPU machine: the double-precision reference alone takes hours on the largest shapes).
 * One test also prints the M = 1 throughput (GB/s of W streamed) for 768 -> 3072 and 768 -> 50257
 * over 20 timed dispatches; it asserts nothing about speed.
 */
#include "harness.h"

#include "kernels/matmul.h"
#include "ref/ref.h"
#include "vk/vk.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mm_case {
    uint32_t M, K, N;
    vkg_storage storage;
    vkg_epilogue ep;
    bool bias;
    bool in_place;           /* residual = y */
    vkg_matmul_path path;
    uint32_t max_chunk_rows; /* 0: device limit */
} mm_case;

static const char *path_name(vkg_matmul_path p) {
    return p == VKG_MATMUL_PATH_VECTOR ? "vector" : p == VKG_MATMUL_PATH_TILED ? "tiled"
                                                  : p == VKG_MATMUL_PATH_COOPMAT ? "coopmat" : "auto";
}

static bool exhaustive(void) {
    const char *e = getenv("VKG_TEST_EXHAUSTIVE");
    return e && strcmp(e, "1") == 0;
}

/* The fp16 or bf16 weights the GPU reads, and the floats they round to. */
static void to_16bit(vkg_storage s, const float *w, size_t n, uint16_t *h, float *back) {
    for (size_t i = 0; i < n; i++) {
        h[i] = s == VKG_STORAGE_BF16 ? ref_f32_to_bf16(w[i]) : ref_f32_to_f16(w[i]);
        back[i] = s == VKG_STORAGE_BF16 ? ref_bf16_to_f32(h[i]) : ref_f16_to_f32(h[i]);
    }
}

static const char *storage_name(vkg_storage s) {
    return s == VKG_STORAGE_F16 ? "fp16" : s == VKG_STORAGE_BF16 ? "bf16" : "fp32";
}

static vkg_buffer *make_buffer(vkg_context *ctx, uint64_t bytes, const char *name) {
    vkg_buffer *b = NULL;
    vkg_status s = vkg_buffer_create(ctx, bytes, VKG_MEMORY_DEVICE, name, &b);
    if (s != VKG_OK)
        print_error("%s: %s\n", name, vkg_last_error());
    assert_int_equal(s, VKG_OK);
    return b;
}

/* Run one case on the GPU and compare with the reference; `seed` varies the data. */
static void run_case(vkg_context *ctx, const vkg_kernels *k, const mm_case *c, uint64_t seed) {
    const uint32_t M = c->M, K = c->K, N = c->N;
    const size_t nx = (size_t)M * K, nw = (size_t)N * K, ny = (size_t)M * N;
    /* f16: either 16-bit storage (fp16 or bf16): W uploaded as 16-bit words, two references */
    const bool f16 = c->storage != VKG_STORAGE_F32, coop = c->path == VKG_MATMUL_PATH_COOPMAT;
    const bool bf16 = c->storage == VKG_STORAGE_BF16;
    char what[160];
    snprintf(what, sizeof what, "matmul %s M=%u K=%u N=%u %s ep=%d%s%s sg=%u", path_name(c->path), M, K, N,
             storage_name(c->storage), (int)c->ep, c->bias ? " bias" : "", c->in_place ? " in-place" : "",
             k->subgroup_size);

    float *x = malloc(nx * 4), *w = malloc(nw * 4), *wr = f16 ? malloc(nw * 4) : NULL;
    uint16_t *wh = f16 ? malloc(nw * 2) : NULL;
    float *b = malloc((size_t)N * 4), *r = malloc(ny * 4), *ref = malloc(ny * 4), *ref32 = malloc(ny * 4);
    float *got = malloc((ny + VKG_TEST_GUARD_WORDS) * 4);
    assert_true(x && w && b && r && ref && ref32 && got && (!f16 || (wr && wh)));
    ref_rng rng = ref_rng_seed(seed);
    float a = 4.5f / sqrtf((float)K);
    ref_rng_fill(&rng, x, nx, -1.0f, 1.0f);
    ref_rng_fill(&rng, w, nw, -a, a);
    ref_rng_fill(&rng, b, N, -1.0f, 1.0f);
    ref_rng_fill(&rng, r, ny, -1.0f, 1.0f);
    if (f16)
        to_16bit(c->storage, w, nw, wh, wr);
    ref_epilogue rep = c->ep == VKG_EPILOGUE_GELU ? REF_EPILOGUE_GELU
                     : c->ep == VKG_EPILOGUE_RESIDUAL ? REF_EPILOGUE_RESIDUAL : REF_EPILOGUE_NONE;
    ref_matmul_nk(ref32, x, w, c->bias ? b : NULL, (int)M, (int)K, (int)N, rep, r);
    if (f16)
        ref_matmul_nk(ref, x, wr, c->bias ? b : NULL, (int)M, (int)K, (int)N, rep, r);

    uint64_t y_bytes = (ny + VKG_TEST_GUARD_WORDS) * 4;
    vkg_buffer *xb = make_buffer(ctx, nx * 4, "matmul x");
    vkg_buffer *wb = make_buffer(ctx, nw * vkg_storage_bytes(c->storage), "matmul w");
    vkg_buffer *bb = make_buffer(ctx, (uint64_t)N * 4, "matmul bias");
    vkg_buffer *yb = make_buffer(ctx, y_bytes, "matmul y");
    vkg_buffer *rb = c->in_place ? NULL : make_buffer(ctx, ny * 4, "matmul residual");
    vkg_test_ok(vkg_buffer_upload(xb, 0, x, nx * 4), "upload x");
    vkg_test_ok(f16 ? vkg_buffer_upload(wb, 0, wh, nw * 2) : vkg_buffer_upload(wb, 0, w, nw * 4), "upload w");
    vkg_test_ok(vkg_buffer_upload(bb, 0, b, (uint64_t)N * 4), "upload bias");
    vkg_test_ok(vkg_buffer_fill(yb, 0, y_bytes, VKG_TEST_GUARD), "fill y");
    vkg_test_ok(vkg_buffer_upload(c->in_place ? yb : rb, 0, r, ny * 4), "upload residual");

    vkg_matrix mat = {.buf = wb, .offset = 0, .rows = N, .cols = K, .storage = c->storage};
    vkg_view yv = vkg_view_whole(yb), bv = vkg_view_whole(bb);
    vkg_view rv = c->in_place ? (vkg_view){yb, 0, ny * 4} : vkg_view_whole(rb);
    vkg_matmul_options opt = {.path = c->path, .max_chunk_rows = c->max_chunk_rows};
    vkg_cmd *cmd = NULL;
    vkg_test_ok(vkg_cmd_create(ctx, "matmul test", &cmd), "cmd");
    vkg_test_ok(vkg_cmd_begin(cmd), "begin");
    vkg_test_ok(vkg_matmul_ex(k, cmd, yv, vkg_view_whole(xb), &mat, c->bias ? &bv : NULL,
                           c->ep == VKG_EPILOGUE_RESIDUAL ? &rv : NULL, M, c->ep, &opt), what);
    assert_int_equal(vkg_cmd_dispatch_count(cmd), vkg_matmul_chunk_count(k, &mat, &opt));
    vkg_test_ok(vkg_cmd_end(cmd), "end");
    vkg_test_ok(vkg_cmd_run(cmd), "run");
    vkg_test_ok(vkg_buffer_download(yb, 0, got, y_bytes), "download y");

    for (size_t i = ny; i < ny + VKG_TEST_GUARD_WORDS; i++)
        if (memcmp(&got[i], &(uint32_t){VKG_TEST_GUARD}, 4) != 0) {
            print_error("%s: guard word %zu after y was overwritten\n", what, i - ny);
            fail();
        }
    if (coop) {
        vkg_test_check_close(what, got, ref, ny, 1e-2, 1e-2, 5e-5);
        vkg_test_check_close(what, got, ref32, ny, 1e-2, 1e-2, 5e-5);
    } else if (bf16) {
        vkg_test_check_close(what, got, ref, ny, 2e-5, 1e-4, 1e-8);
        vkg_test_check_close(what, got, ref32, ny, 2.5e-2, 2e-2, 5e-5);
    } else if (f16) {
        vkg_test_check_close(what, got, ref, ny, 2e-5, 1e-4, 1e-8);
        vkg_test_check_close(what, got, ref32, ny, 5e-3, 1e-2, 5e-5);
    } else {
        vkg_test_check_close(what, got, ref32, ny, 2e-5, 1e-4, 1e-8);
    }

    vkg_cmd_destroy(cmd);
    vkg_buffer_destroy(xb);
    vkg_buffer_destroy(wb);
    vkg_buffer_destroy(bb);
    vkg_buffer_destroy(yb);
    vkg_buffer_destroy(rb);
    free(x);
    free(w);
    free(wr);
    free(wh);
    free(b);
    free(r);
    free(ref);
    free(ref32);
    free(got);
}

/* Storages this device runs: fp32 always, fp16 and bf16 with 16-bit storage (else a printed note). */
static int storages(vkg_context *ctx, vkg_storage out[3]) {
    out[0] = VKG_STORAGE_F32;
    if (vkg_context_device(ctx)->storage_16bit) {
        out[1] = VKG_STORAGE_F16;
        out[2] = VKG_STORAGE_BF16;
        return 3;
    }
    static bool noted;
    if (!noted)
        fprintf(stderr, "test_matmul: %s has no 16-bit storage: fp16 and bf16 cases skipped\n",
                vkg_context_device(ctx)->name);
    noted = true;
    return 1;
}

static const vkg_matmul_path forced_paths[] = {VKG_MATMUL_PATH_VECTOR, VKG_MATMUL_PATH_TILED};

/* The CI grid: every K, N and M value of the issue appears, most of them several times, each shape
 * on both paths and both storages with an epilogue and bias chosen by rotation. */
static void test_shape_grid(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    vkg_kernels k = vkg_kernels_default(ctx);
    static const uint32_t shapes[][3] = {/* M, K, N */
        {1, 1, 1}, {2, 3, 17}, {7, 17, 3}, {64, 64, 767}, {1, 767, 768}, {7, 768, 64}, {2, 3072, 3},
        {1, 50257, 17}, {7, 50257, 1}, {513, 64, 17}, {513, 17, 768}, {2, 17, 50257}, {64, 767, 64},
        {1, 3, 3072}, {7, 1, 767}, {513, 3, 1}, {64, 1, 3}, {2, 64, 1},
        /* K % 8 == 4: vector loads of fp32 rows, scalar fp16 rows in the vector path */
        {7, 20, 33}, {1, 764, 9},
        /* two outputs per decode workgroup with an odd N */
        {1, 17, 2049}};
    vkg_storage st[3];
    int n_st = storages(ctx, st);
    int rot = 0;
    for (size_t i = 0; i < VKG_ARRAY_LEN(shapes); i++)
        for (int s = 0; s < n_st; s++)
            for (size_t p = 0; p < VKG_ARRAY_LEN(forced_paths); p++, rot++) {
                mm_case c = {.M = shapes[i][0], .K = shapes[i][1], .N = shapes[i][2], .storage = st[s],
                             .ep = (vkg_epilogue)(rot % 3), .bias = rot % 2 == 0, .in_place = rot % 4 == 2,
                             .path = forced_paths[p]};
                /* Both work splits of the vector path (CPU: lanes own rows, 4 rows of X per group;
                 * GPU: the workgroup on 1..4 rows) whatever the device: alternate shapes. */
                k.cpu_tuning = (i + (size_t)s) % 2 == 0;
                run_case(ctx, &k, &c, 1000 + (uint64_t)rot);
            }
}

/* GPT-2 small's shapes (c_attn 768 -> 2304, c_fc 768 -> 3072, c_proj 3072 -> 768, the LM head
 * 768 -> 50257) at M = 1 (decode) and M = 7 (a short prompt), through the automatic path choice. */
static void test_gpt2_shapes(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    vkg_kernels k = vkg_kernels_default(ctx);
    static const uint32_t kn[][2] = {{768, 2304}, {768, 3072}, {3072, 768}, {768, 50257}};
    static const uint32_t ms[] = {1, 7};
    vkg_storage st[3];
    int n_st = storages(ctx, st);
    for (size_t i = 0; i < VKG_ARRAY_LEN(kn); i++)
        for (size_t m = 0; m < VKG_ARRAY_LEN(ms); m++)
            for (int s = 0; s < n_st; s++) {
                mm_case c = {.M = ms[m], .K = kn[i][0], .N = kn[i][1], .storage = st[s],
                             .ep = i == 1 ? VKG_EPILOGUE_GELU : i == 2 ? VKG_EPILOGUE_RESIDUAL : VKG_EPILOGUE_NONE,
                             .bias = i != 3, .in_place = i == 2, .path = VKG_MATMUL_PATH_AUTO};
                run_case(ctx, &k, &c, 2000 + i * 10 + m * 2 + (uint64_t)s);
            }
}

/* Every epilogue, with and without bias, residual in place and separate, both paths, both storages. */
static void test_epilogues(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    vkg_kernels k = vkg_kernels_default(ctx);
    static const uint32_t shapes[][3] = {{1, 768, 64}, {7, 64, 17}, {2, 767, 3}};
    vkg_storage st[3];
    int n_st = storages(ctx, st);
    uint64_t seed = 3000;
    for (size_t i = 0; i < VKG_ARRAY_LEN(shapes); i++)
        for (int s = 0; s < n_st; s++)
            for (size_t p = 0; p < VKG_ARRAY_LEN(forced_paths); p++)
                for (int ep = 0; ep < 3; ep++)
                    for (int bias = 0; bias < 2; bias++)
                        for (int in_place = 0; in_place < (ep == VKG_EPILOGUE_RESIDUAL ? 2 : 1); in_place++) {
                            mm_case c = {.M = shapes[i][0], .K = shapes[i][1], .N = shapes[i][2],
                                         .storage = st[s], .ep = (vkg_epilogue)ep, .bias = bias,
                                         .in_place = in_place, .path = forced_paths[p]};
                            k.cpu_tuning = bias; /* both vector-path work splits */
                            run_case(ctx, &k, &c, seed++);
                        }
}

/* W split into row chunks: forced small chunks (several dispatches with n_offset), and the LM head
 * in fp32 (154 MB) which must split on any device whose binding range is below that. */
static void test_chunked_weights(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    vkg_kernels k = vkg_kernels_default(ctx);
    vkg_storage st[3];
    int n_st = storages(ctx, st);
    static const uint32_t shapes[][3] = {{1, 17, 67}, {7, 64, 100}, {2, 3, 300}};
    uint64_t seed = 4000;
    for (size_t i = 0; i < VKG_ARRAY_LEN(shapes); i++)
        for (int s = 0; s < n_st; s++)
            for (size_t p = 0; p < VKG_ARRAY_LEN(forced_paths); p++) {
                mm_case c = {.M = shapes[i][0], .K = shapes[i][1], .N = shapes[i][2], .storage = st[s],
                             .ep = (vkg_epilogue)(i % 3), .bias = true, .in_place = i == 2,
                             .path = forced_paths[p], .max_chunk_rows = 16};
                vkg_matrix m = {.buf = NULL, .rows = c.N, .cols = c.K, .storage = c.storage};
                assert_true(vkg_matmul_chunk_count(&k, &m, &(vkg_matmul_options){.max_chunk_rows = 16}) >= 2);
                k.cpu_tuning = (i + (size_t)s) % 2 == 0;
                run_case(ctx, &k, &c, seed++);
            }
    const vkg_device_info *info = vkg_context_device(ctx);
    vkg_matrix head = {.rows = 50257, .cols = 768, .storage = VKG_STORAGE_F32};
    if (50257ull * 768 * 4 > info->max_storage_buffer_range)
        assert_true(vkg_matmul_chunk_count(&k, &head, NULL) >= 2);
    for (size_t p = 0; p < VKG_ARRAY_LEN(forced_paths); p++) {
        mm_case c = {.M = 2, .K = 768, .N = 50257, .storage = VKG_STORAGE_F32, .ep = VKG_EPILOGUE_NONE,
                     .path = forced_paths[p]};
        k.cpu_tuning = p == 0; /* the vector path with 2 rows of X in one group (CPU split) */
        run_case(ctx, &k, &c, seed++);
    }
}

/* The cooperative-matrix path through each extension the device offers (KHR, NV); where it offers
 * neither, forcing the path must fail cleanly, the self-check must switch it off, and the automatic
 * choice must fall back to the tiled path. */
static void test_coopmat(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    static const vkg_coopmat_api apis[] = {VKG_COOPMAT_KHR, VKG_COOPMAT_NV};
    static const char *api_names[] = {"KHR", "NV"};
    bool any = false;
    uint64_t seed = 5100;
    for (size_t a = 0; a < VKG_ARRAY_LEN(apis); a++) {
        vkg_kernels k = vkg_kernels_default(ctx);
        if (!vkg_matmul_coopmat_usable(&k, apis[a]))
            continue;
        any = true;
        k.coopmat = apis[a];
        const char *why = NULL;
        vkg_test_ok(vkg_matmul_coopmat_verify(&k, &why), "coopmat self-check");
        if (why)
            fail_msg("%s cooperative matrices: the self-check switched them off: %s", api_names[a], why);
        static const uint32_t shapes[][3] = {{2, 3, 17}, {7, 17, 3}, {64, 64, 767}, {7, 768, 64}, {513, 64, 17},
                                             {64, 768, 2304}, {7, 768, 50257}, {65, 3072, 768}, {2, 767, 65}};
        for (size_t i = 0; i < VKG_ARRAY_LEN(shapes); i++)
            for (int ep = 0; ep < 3; ep++) {
                mm_case c = {.M = shapes[i][0], .K = shapes[i][1], .N = shapes[i][2],
                             .storage = VKG_STORAGE_F16, .ep = (vkg_epilogue)ep, .bias = ep != 1,
                             .in_place = ep == 2 && i % 2, .path = VKG_MATMUL_PATH_COOPMAT,
                             .max_chunk_rows = i == 0 ? 8 : 0};
                run_case(ctx, &k, &c, seed++);
            }
        /* bf16 weights never take this path: the automatic choice runs them tiled, at fp32
         * accuracy (X rounded to fp16 would miss the bound), and forcing it is refused. */
        mm_case bc = {.M = 65, .K = 768, .N = 67, .storage = VKG_STORAGE_BF16, .ep = VKG_EPILOGUE_GELU,
                      .bias = true, .path = VKG_MATMUL_PATH_AUTO};
        k.cpu_tuning = false;
        run_case(ctx, &k, &bc, seed++);
        /* The workgroup is 4 full subgroups of a required size: every size the device lets us
         * force that the path can use (NVIDIA: 32 only; AMD 32 and 64; Intel 8..32). */
        const vkg_device_info *info = vkg_context_device(ctx);
        for (uint32_t sg = info->subgroup_min; info->subgroup_size_control && sg <= info->subgroup_max; sg *= 2) {
            vkg_kernels ks = k;
            ks.subgroup_size = sg;
            if (!vkg_matmul_coopmat_usable(&ks, apis[a])) {
                fprintf(stderr, "test_matmul: %s cooperative matrices: subgroup size %u not usable\n", api_names[a],
                        sg);
                continue;
            }
            for (size_t i = 0; i < 3; i++) {
                mm_case c = {.M = shapes[i + 2][0], .K = shapes[i + 2][1], .N = shapes[i + 2][2],
                             .storage = VKG_STORAGE_F16, .ep = (vkg_epilogue)i, .bias = true,
                             .path = VKG_MATMUL_PATH_COOPMAT};
                run_case(ctx, &ks, &c, seed++);
            }
        }
    }
    if (any)
        return;
    fprintf(stderr, "test_matmul: %s has no usable cooperative matrices (KHR or NV extension, fp16 FMxFNx16 "
                    "shape, shaderFloat16): checking the fallback only\n", vkg_context_device(ctx)->name);
    vkg_kernels k = vkg_kernels_default(ctx);
    assert_int_equal(k.coopmat, VKG_COOPMAT_NONE);
    vkg_buffer *b = make_buffer(ctx, 4096, "coopmat fallback");
    vkg_matrix w = {.buf = b, .rows = 8, .cols = 8, .storage = VKG_STORAGE_F16};
    vkg_view y = {b, 1024, 1024}, x = {b, 2048, 1024};
    vkg_matmul_options o = {.path = VKG_MATMUL_PATH_COOPMAT};
    for (int forced = 0; forced < 3; forced++) {
        /* None chosen, and each extension named although the device lacks it. */
        k.coopmat = forced == 0 ? VKG_COOPMAT_NONE : apis[forced - 1];
        vkg_cmd *cmd = NULL;
        vkg_test_ok(vkg_cmd_create(ctx, "coopmat fallback", &cmd), "cmd");
        vkg_test_ok(vkg_cmd_begin(cmd), "begin");
        assert_int_equal(vkg_matmul_ex(&k, cmd, y, x, &w, NULL, NULL, 8, VKG_EPILOGUE_NONE, &o),
                         VKG_ERROR_FEATURE_MISSING);
        assert_non_null(strstr(vkg_last_error(),
                               vkg_context_device(ctx)->storage_16bit ? "cooperative" : "16-bit storage"));
        assert_int_equal(vkg_cmd_dispatch_count(cmd), 0);
        vkg_cmd_destroy(cmd);
        /* The self-check turns a named but unusable extension off, and says why. */
        const char *why = NULL;
        vkg_test_ok(vkg_matmul_coopmat_verify(&k, &why), "coopmat self-check");
        assert_int_equal(k.coopmat, VKG_COOPMAT_NONE);
        if (forced == 0)
            assert_null(why);
        else
            assert_non_null(why);
    }
    vkg_buffer_destroy(b);
    /* The automatic choice takes the tiled path here. */
    mm_case c = {.M = 7, .K = 64, .N = 17, .storage = VKG_STORAGE_F32, .ep = VKG_EPILOGUE_GELU,
                 .bias = true, .path = VKG_MATMUL_PATH_AUTO};
    run_case(ctx, &k, &c, 5000);
}

/* The small grid again at every subgroup size the device can force (lavapipe: 8 only; NVIDIA 32):
 * even a single size, because a required size with full subgroups is another pipeline path (the
 * one the cooperative-matrix path always takes). */
static void test_subgroup_sizes(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    const vkg_device_info *info = vkg_context_device(ctx);
    if (!info->subgroup_size_control) {
        fprintf(stderr, "test_matmul: %s has no subgroup size control: nothing to force\n", info->name);
        skip();
    }
    vkg_storage st[3];
    int n_st = storages(ctx, st);
    uint64_t seed = 6000;
    for (uint32_t sg = info->subgroup_min; sg <= info->subgroup_max; sg *= 2) {
        vkg_kernels k = vkg_kernels_default(ctx);
        k.subgroup_size = sg;
        static const uint32_t shapes[][3] = {{1, 768, 67}, {1, 17, 5}, {7, 64, 17}};
        for (size_t i = 0; i < VKG_ARRAY_LEN(shapes); i++)
            for (int s = 0; s < n_st; s++)
                for (size_t p = 0; p < VKG_ARRAY_LEN(forced_paths); p++) {
                    mm_case c = {.M = shapes[i][0], .K = shapes[i][1], .N = shapes[i][2], .storage = st[s],
                                 .ep = (vkg_epilogue)(i % 3), .bias = true, .path = forced_paths[p]};
                    run_case(ctx, &k, &c, seed++);
                }
    }
}

/* The full cross product of the sizes (VKG_TEST_EXHAUSTIVE=1 only: hours on lavapipe). */
static void test_exhaustive(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    if (!exhaustive())
        skip();
    vkg_kernels k = vkg_kernels_default(ctx);
    static const uint32_t kn[] = {1, 3, 17, 64, 767, 768, 3072, 50257};
    static const uint32_t ms[] = {1, 2, 7, 64, 513};
    vkg_storage st[3];
    int n_st = storages(ctx, st);
    uint64_t seed = 7000;
    for (size_t a = 0; a < VKG_ARRAY_LEN(kn); a++)
        for (size_t b = 0; b < VKG_ARRAY_LEN(kn); b++)
            for (size_t m = 0; m < VKG_ARRAY_LEN(ms); m++)
                for (int s = 0; s < n_st; s++)
                    for (size_t p = 0; p < VKG_ARRAY_LEN(forced_paths) + 1; p++) {
                        vkg_matmul_path path = p < VKG_ARRAY_LEN(forced_paths) ? forced_paths[p]
                                                                                : VKG_MATMUL_PATH_COOPMAT;
                        if (path == VKG_MATMUL_PATH_COOPMAT &&
                            (st[s] != VKG_STORAGE_F16 || k.coopmat == VKG_COOPMAT_NONE ||
                             !vkg_matmul_coopmat_usable(&k, k.coopmat)))
                            continue;
                        mm_case c = {.M = ms[m], .K = kn[a], .N = kn[b], .storage = st[s],
                                     .ep = (vkg_epilogue)(seed % 3), .bias = seed % 2, .in_place = seed % 4 == 2,
                                     .path = path};
                        run_case(ctx, &k, &c, seed++);
                    }
}

/* Bad arguments: specific statuses, messages naming matmul and the sizes, nothing recorded. */
static void test_bad_arguments(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    vkg_kernels k = vkg_kernels_default(ctx);
    const vkg_device_info *info = vkg_context_device(ctx);
    vkg_buffer *b = make_buffer(ctx, 1 << 16, "bad args");
    vkg_cmd *cmd = NULL;
    vkg_test_ok(vkg_cmd_create(ctx, "bad args", &cmd), "cmd");
    vkg_test_ok(vkg_cmd_begin(cmd), "begin");
    /* W [17, 64] fp32 at 0 (4352 bytes); x at 8192, y at 16384, bias/residual at 32768. */
    vkg_matrix w = {.buf = b, .offset = 0, .rows = 17, .cols = 64, .storage = VKG_STORAGE_F32};
    vkg_view x = {b, 8192, 2 * 64 * 4}, y = {b, 16384, 2 * 17 * 4}, bias = {b, 32768, 17 * 4};
    vkg_view r = {b, 32768, 2 * 17 * 4};
    assert_int_equal(vkg_matmul(&k, cmd, y, x, &w, &bias, &r, 2, VKG_EPILOGUE_RESIDUAL), VKG_OK);
    uint32_t recorded = vkg_cmd_dispatch_count(cmd);

    assert_int_equal(vkg_matmul(&k, cmd, y, x, &w, NULL, NULL, 0, VKG_EPILOGUE_NONE), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "M=0 N=17 K=64"));
    vkg_matrix w0 = w;
    w0.cols = 0;
    assert_int_equal(vkg_matmul(&k, cmd, y, x, &w0, NULL, NULL, 2, VKG_EPILOGUE_NONE), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "K=0"));
    assert_int_equal(vkg_matmul(&k, cmd, y, x, &w, NULL, NULL, 3, VKG_EPILOGUE_NONE), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "y view holds 136 bytes, needs 204"));
    vkg_view xs = x;
    xs.size -= 4;
    assert_int_equal(vkg_matmul(&k, cmd, y, xs, &w, NULL, NULL, 2, VKG_EPILOGUE_NONE), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "x view"));
    vkg_view bs = bias;
    bs.size = 16 * 4;
    assert_int_equal(vkg_matmul(&k, cmd, y, x, &w, &bs, NULL, 2, VKG_EPILOGUE_NONE), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "bias view"));
    assert_int_equal(vkg_matmul(&k, cmd, y, x, &w, NULL, NULL, 2, VKG_EPILOGUE_RESIDUAL), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "without a residual"));
    vkg_view rs = r;
    rs.size -= 4;
    assert_int_equal(vkg_matmul(&k, cmd, y, x, &w, NULL, &rs, 2, VKG_EPILOGUE_RESIDUAL), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "residual view"));
    vkg_view shifted = {b, y.offset + 4, y.size};
    assert_int_equal(vkg_matmul(&k, cmd, y, x, &w, NULL, &shifted, 2, VKG_EPILOGUE_RESIDUAL),
                     VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "residual overlaps y"));
    vkg_view y_on_x = {b, x.offset, y.size};
    assert_int_equal(vkg_matmul(&k, cmd, y_on_x, x, &w, NULL, NULL, 2, VKG_EPILOGUE_NONE), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "y overlaps"));
    assert_int_equal(vkg_matmul(&k, cmd, y, x, &w, NULL, NULL, 2, (vkg_epilogue)7), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "epilogue 7"));
    vkg_matrix wbig = w;
    wbig.rows = 1000;
    assert_int_equal(vkg_matmul(&k, cmd, y, x, &wbig, NULL, NULL, 1, VKG_EPILOGUE_NONE), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "weight matrix [1000,64]"));
    /* Y larger than one binding: the caller must split M (view sizes are only checked, not bound). */
    uint32_t m_big = (uint32_t)(info->max_storage_buffer_range / (17 * 4)) + 1;
    vkg_view ybig = {b, 16384, (uint64_t)m_big * 17 * 4}, xbig = {b, 8192, (uint64_t)m_big * 64 * 4};
    assert_int_equal(vkg_matmul(&k, cmd, ybig, xbig, &w, NULL, NULL, m_big, VKG_EPILOGUE_NONE),
                     VKG_ERROR_DEVICE_LIMIT);
    assert_non_null(strstr(vkg_last_error(), "maxStorageBufferRange"));
    vkg_matmul_options bad_path = {.path = (vkg_matmul_path)9};
    assert_int_equal(vkg_matmul_ex(&k, cmd, y, x, &w, NULL, NULL, 2, VKG_EPILOGUE_NONE, &bad_path),
                     VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "unknown path 9"));
    /* Cooperative matrices never take fp32 weights (they would lose fp32 accuracy). */
    vkg_matmul_options coop = {.path = VKG_MATMUL_PATH_COOPMAT};
    assert_int_equal(vkg_matmul_ex(&k, cmd, y, x, &w, NULL, NULL, 2, VKG_EPILOGUE_NONE, &coop),
                     VKG_ERROR_FEATURE_MISSING);
    /* ... nor bf16 weights (they take the tiled path). */
    vkg_matrix wb16 = w;
    wb16.storage = VKG_STORAGE_BF16;
    assert_int_equal(vkg_matmul_ex(&k, cmd, y, x, &wb16, NULL, NULL, 2, VKG_EPILOGUE_NONE, &coop),
                     VKG_ERROR_FEATURE_MISSING);
    assert_non_null(strstr(vkg_last_error(), info->storage_16bit ? "these are bf16" : "16-bit storage"));
    vkg_matrix wbad = w;
    wbad.storage = (vkg_storage)99; /* 3..7 are ggml's block formats (kernels/matmul_quant.h) */
    assert_int_equal(vkg_matmul(&k, cmd, y, x, &wbad, NULL, NULL, 2, VKG_EPILOGUE_NONE), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "unknown weight storage 99"));
    if (!info->storage_16bit) { /* e.g. VKG_DISABLE_FP16=1 */
        vkg_matrix w16 = w;
        w16.storage = VKG_STORAGE_F16;
        assert_int_equal(vkg_matmul(&k, cmd, y, x, &w16, NULL, NULL, 2, VKG_EPILOGUE_NONE), VKG_ERROR_FEATURE_MISSING);
        assert_non_null(strstr(vkg_last_error(), "16-bit storage"));
        assert_int_equal(vkg_matmul(&k, cmd, y, x, &wb16, NULL, NULL, 2, VKG_EPILOGUE_NONE), VKG_ERROR_FEATURE_MISSING);
        assert_non_null(strstr(vkg_last_error(), "bf16 weights need 16-bit storage"));
    }
    assert_int_equal(vkg_cmd_dispatch_count(cmd), recorded);
    vkg_test_ok(vkg_cmd_end(cmd), "end");
    vkg_cmd_destroy(cmd);
    vkg_buffer_destroy(b);
}

/* M = 1 throughput over 20 back-to-back dispatches between two timestamps (printed, not asserted). */
static void time_one(vkg_context *ctx, const vkg_kernels *k, uint32_t K, uint32_t N, vkg_storage st) {
    uint64_t wbytes = (uint64_t)N * K * vkg_storage_bytes(st);
    vkg_buffer *wb = make_buffer(ctx, wbytes, "timing w"), *xb = make_buffer(ctx, (uint64_t)K * 4, "timing x");
    vkg_buffer *yb = make_buffer(ctx, (uint64_t)N * 4, "timing y");
    vkg_test_ok(vkg_buffer_fill(wb, 0, wbytes, 0x3c003c00u), "fill w"); /* 1.0 in fp16; tiny in fp32 */
    vkg_test_ok(vkg_buffer_fill(xb, 0, (uint64_t)K * 4, 0x3f800000u), "fill x");
    vkg_matrix w = {.buf = wb, .rows = N, .cols = K, .storage = st};
    vkg_cmd *cmd = NULL;
    uint32_t t0, t1;
    vkg_test_ok(vkg_cmd_create(ctx, "matmul timing", &cmd), "cmd");
    vkg_test_ok(vkg_cmd_begin(cmd), "begin");
    vkg_test_ok(vkg_cmd_timestamp(cmd, &t0), "timestamp");
    for (int i = 0; i < 20; i++)
        vkg_test_ok(vkg_matmul(k, cmd, vkg_view_whole(yb), vkg_view_whole(xb), &w, NULL, NULL, 1, VKG_EPILOGUE_NONE),
                 "matmul");
    vkg_test_ok(vkg_cmd_timestamp(cmd, &t1), "timestamp");
    vkg_test_ok(vkg_cmd_end(cmd), "end");
    vkg_test_ok(vkg_cmd_run(cmd), "run"); /* warm-up: pipeline creation, first touch */
    vkg_test_ok(vkg_cmd_run(cmd), "run");
    double ns = 0;
    vkg_test_ok(vkg_cmd_elapsed_ns(cmd, t0, t1, &ns), "elapsed");
    fprintf(stderr, "test_matmul: M=1 %u -> %u %s on %s: %.3f ms per matmul, %.1f GB/s of weights\n", K, N,
            storage_name(st), vkg_context_device(ctx)->name, ns / 20 / 1e6,
            (double)wbytes * 20 / ns);
    vkg_cmd_destroy(cmd);
    vkg_buffer_destroy(wb);
    vkg_buffer_destroy(xb);
    vkg_buffer_destroy(yb);
}

static void test_decode_throughput(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    if (!vkg_context_device(ctx)->timestamps)
        skip();
    vkg_kernels k = vkg_kernels_default(ctx);
    vkg_storage st[3];
    int n_st = storages(ctx, st);
    for (int s = 0; s < n_st; s++) {
        time_one(ctx, &k, 768, 3072, st[s]);
        time_one(ctx, &k, 768, 50257, st[s]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_arguments, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_shape_grid, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_epilogues, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_gpt2_shapes, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_chunked_weights, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_coopmat, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_subgroup_sizes, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_decode_throughput, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_exhaustive, vkg_test_setup, vkg_test_teardown),
    };
    return cmocka_run_group_tests(tests, vkg_test_group_setup, vkg_test_group_teardown);
}
