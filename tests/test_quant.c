/*
 * tests/test_quant.c — ggml's block formats: the reference decoder (tests/ref/ref_quant.c) on blocks
 * built by hand from the layout; the library's dequantizer (src/model/quant.c) equal to it bit for bit
 * on random blocks; the shaders' dequantization (shaders/quant.glsl) equal to it bit for bit through a
 * matmul with one-hot X (Y = W^T exactly); the RTN quantizers' error within each format's bound; the
 * quantized matmuls (src/kernels/matmul_quant.c) against dequantize-then-fp64-matmul on a shape grid,
 * both paths, both work distributions, chunked W, guard words; bad arguments (K not a multiple of the
 * block). One test prints M = 1 throughput (GB/s of quantized bytes) and the q4_k : f16 ratio for a
 * 2048 -> 5632 matrix; it asserts nothing about speed (VKG_TEST_QUANT_BENCH_ONLY=1 runs only it).
 */
#include "harness.h"

#include "kernels/matmul_quant.h"
#include "model/dtype.h"
#include "model/gguf.h"
#include "model/quant.h"
#include "ref/ref.h"
#include "ref/ref_quant.h"
#include "vk/vk.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t formats[] = {VKG_GGML_Q8_0, VKG_GGML_Q4_0, VKG_GGML_Q4_K, VKG_GGML_Q5_K, VKG_GGML_Q6_K};

static vkg_storage storage_of(uint32_t t) {
    switch (t) {
    case VKG_GGML_Q8_0: return VKG_STORAGE_Q8_0;
    case VKG_GGML_Q4_0: return VKG_STORAGE_Q4_0;
    case VKG_GGML_Q4_K: return VKG_STORAGE_Q4_K;
    case VKG_GGML_Q5_K: return VKG_STORAGE_Q5_K;
    default: return VKG_STORAGE_Q6_K;
    }
}

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* ---- the reference on hand-built blocks ---- */

static void expect_block(int type, const uint8_t *blk, const float *want, int n, const char *what) {
    for (int i = 0; i < n; i++) {
        float got = ref_q_element(type, blk, i);
        if (got != want[i]) {
            print_error("%s: element %d: reference %.9g, by hand %.9g\n", what, i, got, want[i]);
            fail();
        }
    }
}

static void test_reference_by_hand(void **state) {
    (void)state;
    uint8_t b[210];
    float want[256];

    /* Q8_0: d = 0.5 (f16 0x3800), q = i - 16 and the extremes -128, 127. */
    put16(b, 0x3800);
    for (int i = 0; i < 32; i++) {
        int q = i == 0 ? -128 : i == 31 ? 127 : i - 16;
        b[2 + i] = (uint8_t)(int8_t)q;
        want[i] = 0.5f * (float)q;
    }
    expect_block(REF_GGML_Q8_0, b, want, 32, "Q8_0");

    /* Q4_0: d = -2 (0xC000); byte j holds element j (low nibble j % 16) and element j + 16 (15 - j). */
    put16(b, 0xC000);
    for (int j = 0; j < 16; j++) {
        b[2 + j] = (uint8_t)(j | (15 - j) << 4);
        want[j] = -2.0f * (float)(j - 8);
        want[j + 16] = -2.0f * (float)(7 - j);
    }
    expect_block(REF_GGML_Q4_0, b, want, 32, "Q4_0");

    /* Q4_K and Q5_K: d = 1, dmin = 0.5; six-bit scales and mins with high bits set for sub-blocks 4-7;
     * the quants follow a pattern; the fifth bit (Q5_K) of element l of sub-block j is (l + j) % 3 == 0. */
    static const int sc[8] = {1, 2, 17, 63, 33, 47, 60, 5}, mn[8] = {0, 9, 31, 63, 20, 40, 50, 16};
    for (int five = 0; five < 2; five++) {
        memset(b, 0, sizeof b);
        put16(b, 0x3C00);
        put16(b + 2, 0x3800);
        uint8_t *s = b + 4, *qh = b + 16, *qs = b + (five ? 48 : 16);
        for (int j = 0; j < 4; j++) { /* bytes 0-3: scale j + top bits of scale j+4; 4-7 the mins */
            s[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
            s[j + 4] = (uint8_t)(mn[j] | (mn[j + 4] >> 4) << 6);
            s[j + 8] = (uint8_t)((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
        }
        for (int e = 0; e < 256; e++) {
            int j = e / 32, l = e % 32, q4 = (e * 7 + 3) % 16, hb = five && (l + j) % 3 == 0;
            qs[32 * (j / 2) + l] |= (uint8_t)(j % 2 ? q4 << 4 : q4);
            if (hb)
                qh[l] |= (uint8_t)(1 << j);
            want[e] = 1.0f * (float)sc[j] * (float)(q4 + 16 * hb) - 0.5f * (float)mn[j];
        }
        expect_block(five ? REF_GGML_Q5_K : REF_GGML_Q4_K, b, want, 256, five ? "Q5_K" : "Q4_K");
    }

    /* Q6_K: d = 0.25 (0x3400), signed scales, the six-bit value of element e is (e * 11 + 5) % 64,
     * packed as the layout says (half h, quarter g, lane l). */
    memset(b, 0, sizeof b);
    put16(b + 208, 0x3400);
    for (int j = 0; j < 16; j++)
        b[192 + j] = (uint8_t)(int8_t)(j % 2 ? -(j * 8 + 1) : j * 5 + 2);
    for (int e = 0; e < 256; e++) {
        int q = (e * 11 + 5) % 64, h = e / 128, g = (e % 128) / 32, l = e % 32;
        int qlb = 64 * h + l + (g % 2) * 32;
        b[qlb] |= (uint8_t)((q & 15) << (g / 2 * 4));
        b[128 + 32 * h + l] |= (uint8_t)((q >> 4) << (2 * g));
        want[e] = 0.25f * (float)(int8_t)b[192 + e / 16] * (float)(q - 32);
    }
    expect_block(REF_GGML_Q6_K, b, want, 256, "Q6_K");
}

/* ---- random blocks ---- */

/* A finite f16 scale of moderate size, either sign, sometimes zero or subnormal. */
static uint16_t random_scale(ref_rng *rng) {
    uint64_t r = ref_rng_u64(rng);
    if (r % 61 == 0)
        return 0;
    if (r % 53 == 0)
        return (uint16_t)(r >> 20 & 0x3FF); /* subnormal */
    uint16_t exp = (uint16_t)(5 + (r >> 8) % 16); /* 2^-10 .. 2^5 */
    return (uint16_t)((r >> 16 & 1) << 15 | exp << 10 | (r >> 24 & 0x3FF));
}

/* n elements of type t as random blocks: random bytes with the f16 scales replaced by finite ones. */
static uint8_t *random_blocks(uint32_t t, uint64_t n, ref_rng *rng) {
    uint32_t be, bb;
    assert_true(vkg_ggml_type_layout(t, &be, &bb));
    uint64_t bytes = vkg_ggml_bytes(t, n);
    uint8_t *p = malloc(bytes + 8); /* + the padding vkg_matmul_quant_bytes asks for */
    assert_non_null(p);
    for (uint64_t i = 0; i < bytes + 8; i++)
        p[i] = (uint8_t)ref_rng_u64(rng);
    for (uint64_t b = 0; b < n / be; b++) {
        uint8_t *blk = p + b * bb;
        if (t == VKG_GGML_Q6_K) {
            put16(blk + 208, random_scale(rng));
        } else {
            put16(blk, random_scale(rng));
            if (t == VKG_GGML_Q4_K || t == VKG_GGML_Q5_K)
                put16(blk + 2, random_scale(rng));
        }
    }
    return p;
}

static void test_library_matches_reference(void **state) {
    (void)state;
    ref_rng rng = ref_rng_seed(13);
    for (size_t f = 0; f < VKG_ARRAY_LEN(formats); f++) {
        const uint64_t n = 256 * 64;
        uint8_t *blocks = random_blocks(formats[f], n, &rng);
        float *lib = malloc(n * 4), *ref = malloc(n * 4);
        assert_true(lib && ref);
        vkg_test_ok(vkg_quant_dequantize(formats[f], blocks, lib, n), "dequantize");
        ref_q_dequantize((int)formats[f], blocks, ref, n);
        for (uint64_t i = 0; i < n; i++)
            if (memcmp(&lib[i], &ref[i], 4) != 0) {
                print_error("%s element %llu: library %.9g, reference %.9g\n", vkg_ggml_type_name(formats[f]),
                            (unsigned long long)i, lib[i], ref[i]);
                fail();
            }
        free(blocks);
        free(lib);
        free(ref);
    }
    /* F16 and BF16 rows too. */
    uint16_t h[3] = {0x3C00, 0x8001, 0x7BFF};
    float out[3];
    vkg_test_ok(vkg_quant_dequantize(VKG_GGML_F16, h, out, 3), "f16");
    for (int i = 0; i < 3; i++)
        assert_true(out[i] == ref_q_element(REF_GGML_F16, (const uint8_t *)&h[i], 0));
    vkg_test_ok(vkg_quant_dequantize(VKG_GGML_BF16, h, out, 3), "bf16");
    for (int i = 0; i < 3; i++)
        assert_true(out[i] == ref_q_element(REF_GGML_BF16, (const uint8_t *)&h[i], 0));
    /* Refusals: a partial block, a type vkgpt does not read. */
    assert_int_equal(vkg_quant_dequantize(VKG_GGML_Q4_K, h, out, 255), VKG_ERROR_INVALID_ARGUMENT);
    assert_int_equal(vkg_quant_dequantize(VKG_GGML_Q2_K, h, out, 256), VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "Q2_K"));
    assert_int_equal(vkg_quant_quantize(VKG_GGML_Q8_0, (float[32]){NAN}, h, 32), VKG_ERROR_BAD_WEIGHTS);
}

/* ---- quantizer error ---- */

/* The bound on |x - dequant(quant(x))| of element i of a block of `be` values, derived from the data
 * alone for vkgpt's RTN quantizers (see quant.h): half a sub-block step, where each step is at most
 * the sub-block's range over the levels plus one unit of the (f16, rounded up) super-scale. */
static void error_bounds(uint32_t t, const float *x, float *bound) {
    const double up = 1.0 + 1.0 / 1024, tiny = 6e-8; /* f16 rounding up, smallest subnormal */
    double amax = 0;
    for (int i = 0; i < (t == VKG_GGML_Q8_0 || t == VKG_GGML_Q4_0 ? 32 : 256); i++)
        amax = fmax(amax, fabs(x[i]));
    double eps = 4e-7 * amax; /* fp32 rounding of the products */
    if (t == VKG_GGML_Q8_0 || t == VKG_GGML_Q4_0) {
        double d = amax / (t == VKG_GGML_Q8_0 ? 127 : 8) * up + tiny;
        for (int i = 0; i < 32; i++)
            bound[i] = (float)((t == VKG_GGML_Q8_0 ? 0.5 : 1.0) * d + eps);
        return;
    }
    if (t == VKG_GGML_Q6_K) {
        double s[16], top = 0;
        for (int j = 0; j < 16; j++) {
            double a = 0;
            for (int l = 0; l < 16; l++)
                a = fmax(a, fabs(x[16 * j + l]));
            s[j] = a / 31;
            top = fmax(top, s[j]);
        }
        double d = top / 127 * up + tiny;
        for (int i = 0; i < 256; i++)
            bound[i] = (float)(0.5 * (s[i / 16] * up + d) + eps);
        return;
    }
    double levels = t == VKG_GGML_Q5_K ? 31 : 15, lo[8], hi[8], top_min = 0, top_s = 0;
    for (int j = 0; j < 8; j++) {
        lo[j] = 0;
        hi[j] = -INFINITY;
        for (int l = 0; l < 32; l++) {
            lo[j] = fmin(lo[j], x[32 * j + l]);
            hi[j] = fmax(hi[j], x[32 * j + l]);
        }
        top_min = fmax(top_min, -lo[j]);
    }
    double dmin = top_min / 63 * up + tiny;
    for (int j = 0; j < 8; j++)
        top_s = fmax(top_s, (hi[j] - lo[j] + dmin) / levels);
    double d = top_s / 63 * up + tiny;
    for (int i = 0; i < 256; i++) {
        int j = i / 32;
        bound[i] = (float)(0.5 * ((hi[j] - lo[j] + dmin) / levels * up + d) + eps);
    }
}

static void check_quantizer(uint32_t t, const float *x, uint64_t n, const char *data, double *rel_rms) {
    uint8_t *q = malloc(vkg_ggml_bytes(t, n));
    float *y = malloc(n * 4), *ry = malloc(n * 4), bound[256];
    assert_true(q && y && ry);
    vkg_test_ok(vkg_quant_quantize(t, x, q, n), "quantize");
    vkg_test_ok(vkg_quant_dequantize(t, q, y, n), "dequantize");
    ref_q_dequantize((int)t, q, ry, n);
    uint32_t be = t == VKG_GGML_Q8_0 || t == VKG_GGML_Q4_0 ? 32 : 256;
    double se = 0, sx = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (i % be == 0)
            error_bounds(t, x + i, bound);
        assert_true(memcmp(&y[i], &ry[i], 4) == 0);
        double e = fabs((double)x[i] - y[i]);
        if (!(e <= bound[i % be])) {
            print_error("%s on %s: element %llu: x = %.9g, dequantized %.9g, error %.3g > bound %.3g\n",
                        vkg_ggml_type_name(t), data, (unsigned long long)i, x[i], y[i], e, bound[i % be]);
            fail();
        }
        se += e * e;
        sx += (double)x[i] * x[i];
    }
    *rel_rms = sx > 0 ? sqrt(se / sx) : sqrt(se);
    free(q);
    free(y);
    free(ry);
}

static void test_quantize_error(void **state) {
    (void)state;
    const uint64_t n = 256 * 256;
    float *x = malloc(n * 4);
    assert_non_null(x);
    ref_rng rng = ref_rng_seed(7);
    static const char *const kinds[] = {"uniform", "gaussian", "outliers", "positive", "zeros", "tiny"};
    for (size_t kind = 0; kind < VKG_ARRAY_LEN(kinds); kind++) {
        for (uint64_t i = 0; i < n; i++) {
            float u = ref_rng_uniform(&rng, -1, 1);
            switch (kind) {
            case 0: x[i] = u; break;
            case 1: { /* sum of 4 uniforms: close enough to a bell */
                float s = u;
                for (int k = 0; k < 3; k++)
                    s += ref_rng_uniform(&rng, -1, 1);
                x[i] = 0.02f * s;
                break;
            }
            case 2: x[i] = i % 97 == 0 ? 40 * u : 0.05f * u; break;
            case 3: x[i] = 1 + u; break;
            case 4: x[i] = 0; break;
            default: x[i] = 1e-6f * u; break;
            }
        }
        for (size_t f = 0; f < VKG_ARRAY_LEN(formats); f++) {
            double rr;
            check_quantizer(formats[f], x, n, kinds[kind], &rr);
            if (kind == 1)
                fprintf(stderr, "test_quant: RTN %s on gaussian data: relative RMS error %.4f\n",
                        vkg_ggml_type_name(formats[f]), rr);
        }
    }
    free(x);
}

/* The RTN quantizers on llama.cpp's own quantized tensors (tests/data/gguf, written by gguf-py's and
 * llama-quantize's search-based quantizers): each tensor's values are re-quantized by RTN into the same
 * format. A quantizer that chose llama.cpp's scales would reproduce them exactly (they lie on its grid),
 * so the relative RMS of the difference measures how far RTN's scale choice is from llama.cpp's on the
 * same data; printed next to RTN's error on fresh data of the same spread. Asserted: the error stays
 * within the format's bound (as test_quantize_error), nothing about its size. */
static void test_requantize_llama_cpp(void **state) {
    (void)state;
    static const char *const files[] = {"tiny-llama-q4_k_m", "tiny-qwen3-q6_k", "tiny-qwen2-q5_k_m",
                                        "tiny-llama-q8_0", "tiny-llama-q4_0"};
    double se[VKG_GGML_TYPE_END] = {0}, sx[VKG_GGML_TYPE_END] = {0}, same[VKG_GGML_TYPE_END] = {0},
           count[VKG_GGML_TYPE_END] = {0};
    for (size_t fi = 0; fi < VKG_ARRAY_LEN(files); fi++) {
        char path[256];
        snprintf(path, sizeof path, "tests/data/gguf/%s.gguf", files[fi]);
        vkg_gguf_file *f = NULL;
        vkg_test_ok(vkg_gguf_open(vkg_test_source_path(path), 0, &f), path);
        for (size_t i = 0; i < vkg_gguf_tensor_count(f); i++) {
            const vkg_gguf_tensor *t = vkg_gguf_tensor_at(f, i);
            if (!vkg_ggml_type_quantizable(t->type))
                continue;
            float *v = malloc(t->nelem * 4), *back = malloc(t->nelem * 4);
            uint8_t *q = malloc(t->nbytes);
            assert_true(v && back && q);
            vkg_test_ok(vkg_quant_dequantize(t->type, t->data, v, t->nelem), t->name);
            double rr;
            check_quantizer(t->type, v, t->nelem, t->name, &rr); /* the bound holds on these values too */
            vkg_test_ok(vkg_quant_quantize(t->type, v, q, t->nelem), "quantize");
            vkg_test_ok(vkg_quant_dequantize(t->type, q, back, t->nelem), "dequantize");
            for (uint64_t e = 0; e < t->nelem; e++) {
                double d = (double)v[e] - back[e];
                se[t->type] += d * d;
                sx[t->type] += (double)v[e] * v[e];
                same[t->type] += d == 0;
            }
            count[t->type] += (double)t->nelem;
            free(v);
            free(back);
            free(q);
        }
        vkg_gguf_close(f);
    }
    for (uint32_t t = 0; t < VKG_GGML_TYPE_END; t++)
        if (count[t] > 0)
            fprintf(stderr, "test_quant: RTN re-quantizing llama.cpp's %s values (%.0f): relative RMS difference "
                    "%.4f, %.1f%% of values reproduced exactly\n", vkg_ggml_type_name(t), count[t],
                    sqrt(se[t] / sx[t]), 100 * same[t] / count[t]);
}

/* ---- device ---- */

typedef struct qcase {
    uint32_t type, M, K, N;
    vkg_epilogue ep;
    bool bias;
    vkg_matmul_path path;
    uint32_t max_chunk_rows;
    bool one_hot; /* X[m] = e_m (M = K): Y = W^T exactly */
} qcase;

static void run_case(vkg_context *ctx, const vkg_kernels *k, const qcase *c, uint64_t seed) {
    const uint32_t M = c->M, K = c->K, N = c->N;
    const size_t nx = (size_t)M * K, nw = (size_t)N * K, ny = (size_t)M * N;
    char what[200];
    snprintf(what, sizeof what, "matmul_quant %s %s M=%u K=%u N=%u ep=%d%s chunk=%u cpu=%d%s",
             vkg_ggml_type_name(c->type), c->path == VKG_MATMUL_PATH_TILED ? "tiled" : "vector", M, K, N, (int)c->ep,
             c->bias ? " bias" : "", c->max_chunk_rows, k->cpu_tuning, c->one_hot ? " one-hot" : "");
    ref_rng rng = ref_rng_seed(seed);
    float *x = calloc(nx, 4), *w = malloc(nw * 4), *wd = malloc(nw * 4), *b = malloc((size_t)N * 4);
    float *r = malloc(ny * 4), *ref = malloc(ny * 4), *got = malloc((ny + VKG_TEST_GUARD_WORDS) * 4);
    uint64_t wbytes = vkg_matmul_quant_bytes(storage_of(c->type), N, K);
    uint8_t *wq = NULL;
    assert_true(x && w && wd && b && r && ref && got && wbytes);
    if (c->one_hot) {
        for (uint32_t m = 0; m < M; m++)
            x[(size_t)m * K + m] = 1.0f;
        wq = random_blocks(c->type, nw, &rng); /* every bit pattern of the quants */
    } else {
        ref_rng_fill(&rng, x, nx, -1, 1);
        float a = 4.5f / sqrtf((float)K);
        ref_rng_fill(&rng, w, nw, -a, a);
        wq = calloc(wbytes, 1);
        assert_non_null(wq);
        vkg_test_ok(vkg_quant_quantize(c->type, w, wq, nw), "quantize");
    }
    ref_q_dequantize((int)c->type, wq, wd, nw);
    ref_rng_fill(&rng, b, N, -1, 1);
    ref_rng_fill(&rng, r, ny, -1, 1);
    ref_epilogue rep = c->ep == VKG_EPILOGUE_GELU ? REF_EPILOGUE_GELU
                     : c->ep == VKG_EPILOGUE_RESIDUAL ? REF_EPILOGUE_RESIDUAL : REF_EPILOGUE_NONE;
    ref_matmul_nk(ref, x, wd, c->bias ? b : NULL, (int)M, (int)K, (int)N, rep, r);

    uint64_t y_bytes = (ny + VKG_TEST_GUARD_WORDS) * 4;
    vkg_buffer *xb = vkg_test_buffer(ctx, nx * 4, "x"), *wb = vkg_test_buffer(ctx, wbytes, "w");
    vkg_buffer *bb = vkg_test_buffer(ctx, (uint64_t)N * 4, "bias"), *yb = vkg_test_buffer(ctx, y_bytes, "y");
    vkg_buffer *rb = vkg_test_buffer(ctx, ny * 4, "residual");
    vkg_test_ok(vkg_buffer_upload(xb, 0, x, nx * 4), "upload x");
    vkg_test_ok(vkg_buffer_upload(wb, 0, wq, wbytes), "upload w");
    vkg_test_ok(vkg_buffer_upload(bb, 0, b, (uint64_t)N * 4), "upload bias");
    vkg_test_ok(vkg_buffer_upload(rb, 0, r, ny * 4), "upload residual");
    vkg_test_ok(vkg_buffer_fill(yb, 0, y_bytes, VKG_TEST_GUARD), "fill y");
    vkg_matrix mat = {.buf = wb, .rows = N, .cols = K, .storage = storage_of(c->type)};
    vkg_view bv = vkg_view_whole(bb), rv = vkg_view_whole(rb);
    vkg_matmul_options opt = {.path = c->path, .max_chunk_rows = c->max_chunk_rows};
    vkg_cmd *cmd = NULL;
    vkg_test_ok(vkg_cmd_create(ctx, "matmul_quant test", &cmd), "cmd");
    vkg_test_ok(vkg_cmd_begin(cmd), "begin");
    vkg_test_ok(vkg_matmul_quant(k, cmd, (vkg_view){yb, 0, ny * 4}, vkg_view_whole(xb), &mat, c->bias ? &bv : NULL,
                              c->ep == VKG_EPILOGUE_RESIDUAL ? &rv : NULL, M, c->ep, &opt), what);
    assert_int_equal(vkg_cmd_dispatch_count(cmd), vkg_matmul_quant_chunk_count(k, &mat, &opt));
    vkg_test_ok(vkg_cmd_end(cmd), "end");
    vkg_test_ok(vkg_cmd_run(cmd), "run");
    vkg_test_ok(vkg_buffer_download(yb, 0, got, y_bytes), "download y");
    for (size_t i = ny; i < ny + VKG_TEST_GUARD_WORDS; i++)
        if (memcmp(&got[i], &(uint32_t){VKG_TEST_GUARD}, 4) != 0) {
            print_error("%s: guard word %zu after y was overwritten\n", what, i - ny);
            fail();
        }
    if (c->one_hot) {
        /* Y[m, n] = W[n, m]: the shader's dequantized value, which must equal the reference's. */
        for (uint32_t m = 0; m < M; m++)
            for (uint32_t n = 0; n < N; n++)
                if (!(got[(size_t)m * N + n] == wd[(size_t)n * K + m])) {
                    print_error("%s: W[%u, %u]: shader %.9g, reference %.9g\n", what, n, m, got[(size_t)m * N + n],
                                wd[(size_t)n * K + m]);
                    fail();
                }
    } else {
        vkg_test_check_close(what, got, ref, ny, 2e-5, 1e-4, 1e-8);
    }
    vkg_cmd_destroy(cmd);
    vkg_buffer_destroy(xb);
    vkg_buffer_destroy(wb);
    vkg_buffer_destroy(bb);
    vkg_buffer_destroy(yb);
    vkg_buffer_destroy(rb);
    free(x);
    free(w);
    free(wd);
    free(b);
    free(r);
    free(ref);
    free(got);
    free(wq);
}

/* Both work distributions (CPU driver and GPU) on any device. */
static vkg_kernels tuning(vkg_context *ctx, bool cpu) {
    vkg_kernels k = vkg_kernels_default(ctx);
    k.cpu_tuning = cpu;
    k.coopmat_quant = VKG_COOPMAT_NONE; /* AUTO is then vector or tiled at fp32 accuracy; the fp16-rounding
                                           cooperative-matrix path has its own bounds: test_quant_coopmat.c */
    return k;
}

static void test_shader_dequant_exact(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    uint64_t seed = 100;
    for (size_t f = 0; f < VKG_ARRAY_LEN(formats); f++)
        for (int cpu = 0; cpu < 2; cpu++) {
            vkg_kernels k = tuning(ctx, cpu);
            /* K = 256 one-hot rows; N odd so that rows start at every alignment of 2-byte blocks. */
            qcase c = {.type = formats[f], .M = 256, .K = 256, .N = 37, .path = VKG_MATMUL_PATH_VECTOR, .one_hot = true};
            run_case(ctx, &k, &c, seed++);
            c.path = VKG_MATMUL_PATH_TILED;
            c.N = 67;
            run_case(ctx, &k, &c, seed++);
        }
}

static void test_shape_grid(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    static const uint32_t shapes[][3] = {/* M, K-blocks of 256, N */
        {1, 1, 1}, {1, 2, 17}, {1, 3, 130}, {2, 1, 3}, {7, 2, 64}, {65, 1, 67}, {1, 8, 300}, {3, 4, 129}};
    uint64_t seed = 1000;
    int rot = 0;
    for (size_t f = 0; f < VKG_ARRAY_LEN(formats); f++)
        for (size_t s = 0; s < VKG_ARRAY_LEN(shapes); s++)
            for (int cpu = 0; cpu < 2; cpu++) {
                vkg_kernels k = tuning(ctx, cpu);
                uint32_t blk = formats[f] == VKG_GGML_Q8_0 || formats[f] == VKG_GGML_Q4_0 ? 32 : 256;
                /* 32-element formats also take odd block counts */
                uint32_t K = shapes[s][1] * 256 + (blk == 32 ? 32 * (uint32_t)(s % 3) : 0);
                rot++;
                qcase c = {.type = formats[f], .M = shapes[s][0], .K = K, .N = shapes[s][2],
                           .ep = (vkg_epilogue)(rot % 3), .bias = rot % 2 == 0,
                           .path = rot % 4 == 1 && shapes[s][0] > 1 ? VKG_MATMUL_PATH_TILED : VKG_MATMUL_PATH_AUTO,
                           .max_chunk_rows = rot % 5 == 0 ? 16 : 0};
                run_case(ctx, &k, &c, seed++);
            }
}

/* Both paths with W forced into several chunks: each chunk's first row lands on a new binding. */
static void test_chunked(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    uint64_t seed = 5000;
    for (size_t f = 0; f < VKG_ARRAY_LEN(formats); f++) {
        vkg_kernels k = vkg_kernels_default(ctx);
        qcase c = {.type = formats[f], .M = 1, .K = 512, .N = 203, .bias = true, .path = VKG_MATMUL_PATH_VECTOR,
                   .max_chunk_rows = 24};
        run_case(ctx, &k, &c, seed++);
        c.M = 5;
        c.path = VKG_MATMUL_PATH_TILED;
        c.ep = VKG_EPILOGUE_RESIDUAL;
        run_case(ctx, &k, &c, seed++);
        vkg_matrix w = {.buf = NULL, .rows = 203, .cols = 512, .storage = storage_of(formats[f])};
        vkg_matmul_options opt = {.max_chunk_rows = 24};
        assert_true(vkg_matmul_quant_chunk_count(&k, &w, &opt) >= 9);
    }
}

/* A real W larger than one binding: Q6_K [48000, 4096] is 161 MB against lavapipe's 128 MiB
 * maxStorageBufferRange, so it takes two chunks, the second starting in the middle of the 2-byte
 * aligned blocks' word pattern. Checked on the rows around each chunk boundary and a sample of others
 * (dequantized by the reference, dot products in double), to keep the host work small. */
static void test_large_w(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    const uint32_t K = 4096, N = 48000;
    vkg_kernels k = vkg_kernels_default(ctx);
    vkg_matrix w = {.rows = N, .cols = K, .storage = VKG_STORAGE_Q6_K};
    uint32_t chunks = vkg_matmul_quant_chunk_count(&k, &w, NULL);
    uint64_t wbytes = vkg_matmul_quant_bytes(VKG_STORAGE_Q6_K, N, K), row_bytes = K / 256 * 210;
    if (wbytes <= vkg_context_device(ctx)->max_storage_buffer_range) {
        fprintf(stderr, "test_quant: W of %llu bytes fits one binding here; the chunked case is covered by "
                "test_chunked only\n", (unsigned long long)wbytes);
        assert_int_equal(chunks, 1);
        return;
    }
    assert_true(chunks >= 2);
    uint8_t *wq = malloc(wbytes);
    float *x = malloc(K * 4), *y = malloc((size_t)N * 4), *row = malloc(K * 4);
    assert_true(wq && x && y && row);
    ref_rng rng = ref_rng_seed(77);
    for (uint64_t i = 0; i < wbytes; i += 8) {
        uint64_t r = ref_rng_u64(&rng);
        memcpy(wq + i, &r, wbytes - i < 8 ? wbytes - i : 8);
    }
    for (uint64_t b = 0; b < (uint64_t)N * K / 256; b++)
        put16(wq + b * 210 + 208, 0x2000); /* d = 2^-7: finite, moderate sums */
    ref_rng_fill(&rng, x, K, -1, 1);
    vkg_buffer *wb = vkg_test_buffer(ctx, wbytes, "large w"), *xb = vkg_test_buffer(ctx, K * 4, "x");
    vkg_buffer *yb = vkg_test_buffer(ctx, (uint64_t)N * 4, "y");
    vkg_test_ok(vkg_buffer_upload(wb, 0, wq, wbytes), "upload w");
    vkg_test_ok(vkg_buffer_upload(xb, 0, x, K * 4), "upload x");
    w.buf = wb;
    vkg_cmd *cmd = NULL;
    vkg_test_ok(vkg_cmd_create(ctx, "large w", &cmd), "cmd");
    vkg_test_ok(vkg_cmd_begin(cmd), "begin");
    vkg_test_ok(vkg_matmul_quant(&k, cmd, vkg_view_whole(yb), vkg_view_whole(xb), &w, NULL, NULL, 1, VKG_EPILOGUE_NONE,
                              NULL), "matmul_quant large");
    assert_int_equal(vkg_cmd_dispatch_count(cmd), chunks);
    vkg_test_ok(vkg_cmd_end(cmd), "end");
    vkg_test_ok(vkg_cmd_run(cmd), "run");
    vkg_test_ok(vkg_buffer_download(yb, 0, y, (uint64_t)N * 4), "download y");
    uint64_t rows_per = (vkg_context_device(ctx)->max_storage_buffer_range - 8) / row_bytes;
    int checked = 0;
    for (uint32_t n = 0; n < N; n++) {
        bool near_edge = false;
        for (uint64_t c = 1; c <= chunks; c++)
            if ((uint64_t)n + 40 >= c * rows_per && n <= c * rows_per + 40)
                near_edge = true;
        if (!near_edge && n % 997 != 0 && n != N - 1)
            continue;
        ref_q_dequantize(REF_GGML_Q6_K, wq + (uint64_t)n * row_bytes, row, K);
        double want = 0, mag = 0;
        for (uint32_t kk = 0; kk < K; kk++) {
            want += (double)row[kk] * x[kk];
            mag += fabs((double)row[kk] * x[kk]);
        }
        if (!(fabs(y[n] - want) <= 1e-5 * mag + 1e-6)) {
            print_error("large W: row %u: got %.9g, want %.9g\n", n, y[n], want);
            fail();
        }
        checked++;
    }
    fprintf(stderr, "test_quant: Q6_K [%u, %u] (%llu bytes) in %u chunks: %d rows checked\n", N, K,
            (unsigned long long)wbytes, chunks, checked);
    vkg_cmd_destroy(cmd);
    vkg_buffer_destroy(wb);
    vkg_buffer_destroy(xb);
    vkg_buffer_destroy(yb);
    free(wq);
    free(x);
    free(y);
    free(row);
}

static void test_bad_arguments(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    vkg_kernels k = vkg_kernels_default(ctx);
    vkg_buffer *b = vkg_test_buffer(ctx, 1 << 20, "bad args");
    vkg_cmd *cmd = NULL;
    vkg_test_ok(vkg_cmd_create(ctx, "bad args", &cmd), "cmd");
    vkg_test_ok(vkg_cmd_begin(cmd), "begin");
    vkg_view y = {b, 0, 4096}, x = {b, 4096, 65536};
    vkg_matrix w = {.buf = b, .offset = 131072, .rows = 4, .cols = 48, .storage = VKG_STORAGE_Q8_0};
    assert_int_equal(vkg_matmul_quant(&k, cmd, y, x, &w, NULL, NULL, 1, VKG_EPILOGUE_NONE, NULL),
                     VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "not a multiple of the q8_0 block of 32"));
    w.cols = 320;
    w.storage = VKG_STORAGE_Q4_K;
    assert_int_equal(vkg_matmul_quant(&k, cmd, y, x, &w, NULL, NULL, 1, VKG_EPILOGUE_NONE, NULL),
                     VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "K = 320"));
    assert_int_equal(vkg_storage_row_bytes(VKG_STORAGE_Q4_K, 320), 0);
    w.storage = VKG_STORAGE_F16;
    w.cols = 256;
    assert_int_equal(vkg_matmul_quant(&k, cmd, y, x, &w, NULL, NULL, 1, VKG_EPILOGUE_NONE, NULL),
                     VKG_ERROR_INVALID_ARGUMENT);
    w.storage = VKG_STORAGE_Q6_K; /* 4 rows of 210 bytes = 840, + 4: the buffer must hold them */
    w.offset = (1 << 20) - 832;
    assert_int_equal(vkg_matmul_quant_bytes(VKG_STORAGE_Q6_K, 4, 256), 844);
    assert_int_equal(vkg_matmul_quant(&k, cmd, y, x, &w, NULL, NULL, 1, VKG_EPILOGUE_NONE, NULL),
                     VKG_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkg_last_error(), "needs 844 bytes"));
    w.offset = 131072;
    vkg_matmul_options coop = {.path = VKG_MATMUL_PATH_COOPMAT};
    k.coopmat_quant = VKG_COOPMAT_NONE; /* switched off: refused on every device (test_quant_coopmat.c) */
    assert_int_equal(vkg_matmul_quant(&k, cmd, y, x, &w, NULL, NULL, 2, VKG_EPILOGUE_NONE, &coop),
                     VKG_ERROR_FEATURE_MISSING);
    assert_int_equal(vkg_matmul_quant(&k, cmd, y, x, &w, NULL, NULL, 1, VKG_EPILOGUE_RESIDUAL, NULL),
                     VKG_ERROR_INVALID_ARGUMENT);
    assert_int_equal(vkg_matmul_quant(&k, cmd, y, (vkg_view){b, 4096, 100}, &w, NULL, NULL, 1, VKG_EPILOGUE_NONE,
                                      NULL), VKG_ERROR_INVALID_ARGUMENT);
    assert_int_equal(vkg_cmd_dispatch_count(cmd), 0);
    vkg_test_ok(vkg_cmd_end(cmd), "end");
    vkg_cmd_destroy(cmd);
    vkg_buffer_destroy(b);
}

/* ---- throughput (printed) ---- */

/* One recording of 10 back-to-back M = 1 matmuls between two timestamps. */
typedef struct timing {
    vkg_buffer *w, *x, *y;
    vkg_cmd *cmd;
    uint32_t t0, t1;
    uint64_t wbytes;
    double best_ns;
} timing;

static void timing_record(vkg_context *ctx, const vkg_kernels *k, uint32_t K, uint32_t N, vkg_storage st, timing *t) {
    t->wbytes = vkg_storage_is_block(st) ? vkg_matmul_quant_bytes(st, N, K) : (uint64_t)N * K * vkg_storage_bytes(st);
    t->w = vkg_test_buffer(ctx, t->wbytes, "timing w");
    t->x = vkg_test_buffer(ctx, (uint64_t)K * 4, "timing x");
    t->y = vkg_test_buffer(ctx, (uint64_t)N * 4, "timing y");
    vkg_test_ok(vkg_buffer_fill(t->w, 0, t->wbytes, 0x3c003c00u), "fill w"); /* finite scales in every format */
    vkg_test_ok(vkg_buffer_fill(t->x, 0, (uint64_t)K * 4, 0x3f800000u), "fill x");
    vkg_matrix w = {.buf = t->w, .rows = N, .cols = K, .storage = st};
    vkg_test_ok(vkg_cmd_create(ctx, "matmul_quant timing", &t->cmd), "cmd");
    vkg_test_ok(vkg_cmd_begin(t->cmd), "begin");
    vkg_test_ok(vkg_cmd_timestamp(t->cmd, &t->t0), "timestamp");
    for (int i = 0; i < 10; i++)
        vkg_test_ok(vkg_storage_is_block(st)
                     ? vkg_matmul_quant(k, t->cmd, vkg_view_whole(t->y), vkg_view_whole(t->x), &w, NULL, NULL, 1,
                                        VKG_EPILOGUE_NONE, NULL)
                     : vkg_matmul(k, t->cmd, vkg_view_whole(t->y), vkg_view_whole(t->x), &w, NULL, NULL, 1,
                                  VKG_EPILOGUE_NONE),
                 "matmul");
    vkg_test_ok(vkg_cmd_timestamp(t->cmd, &t->t1), "timestamp");
    vkg_test_ok(vkg_cmd_end(t->cmd), "end");
    vkg_test_ok(vkg_cmd_run(t->cmd), "run"); /* warm-up: pipelines, first touch */
    t->best_ns = 1e30;
}

/* The 2048 -> 5632 matrix (a 1B model's MLP) in each format, runs interleaved so that a busy machine
 * slows all alike; the best of 5 per format. */
static void test_decode_throughput(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    const vkg_device_info *info = vkg_context_device(ctx);
    if (!info->timestamps)
        skip();
    vkg_kernels k = vkg_kernels_default(ctx);
    const uint32_t K = 2048, N = 5632;
    static const vkg_storage st[] = {VKG_STORAGE_F16, VKG_STORAGE_Q8_0, VKG_STORAGE_Q6_K, VKG_STORAGE_Q5_K,
                                     VKG_STORAGE_Q4_K, VKG_STORAGE_Q4_0};
    static const char *const names[] = {"f16", "q8_0", "q6_k", "q5_k", "q4_k", "q4_0"};
    timing t[VKG_ARRAY_LEN(st)];
    bool on[VKG_ARRAY_LEN(st)];
    for (size_t i = 0; i < VKG_ARRAY_LEN(st); i++) {
        on[i] = st[i] != VKG_STORAGE_F16 || info->storage_16bit;
        if (on[i])
            timing_record(ctx, &k, K, N, st[i], &t[i]);
    }
    for (int rep = 0; rep < 5; rep++)
        for (size_t i = 0; i < VKG_ARRAY_LEN(st); i++) {
            double ns = 0;
            if (!on[i])
                continue;
            vkg_test_ok(vkg_cmd_run(t[i].cmd), "run");
            vkg_test_ok(vkg_cmd_elapsed_ns(t[i].cmd, t[i].t0, t[i].t1, &ns), "elapsed");
            t[i].best_ns = fmin(t[i].best_ns, ns / 10);
        }
    for (size_t i = 0; i < VKG_ARRAY_LEN(st); i++) {
        if (!on[i])
            continue;
        fprintf(stderr, "test_quant: M=1 %u -> %u %s on %s: %.3f ms, %.2f GB/s of weights", K, N, names[i], info->name,
                t[i].best_ns / 1e6, (double)t[i].wbytes / t[i].best_ns);
        if (on[0] && i)
            fprintf(stderr, ", %.2fx the f16 speed (%.2fx fewer bytes)", t[0].best_ns / t[i].best_ns,
                    (double)t[0].wbytes / (double)t[i].wbytes);
        fprintf(stderr, "\n");
        vkg_cmd_destroy(t[i].cmd);
        vkg_buffer_destroy(t[i].w);
        vkg_buffer_destroy(t[i].x);
        vkg_buffer_destroy(t[i].y);
    }
}

int main(void) {
    if (getenv("VKG_TEST_QUANT_BENCH_ONLY")) { /* a developer's shortcut: only the printed throughput */
        const struct CMUnitTest b[] = {cmocka_unit_test_setup_teardown(test_decode_throughput, vkg_test_setup, vkg_test_teardown)};
        return cmocka_run_group_tests(b, vkg_test_group_setup, vkg_test_group_teardown);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_by_hand),
        cmocka_unit_test(test_library_matches_reference),
        cmocka_unit_test(test_quantize_error),
        cmocka_unit_test(test_requantize_llama_cpp),
        cmocka_unit_test_setup_teardown(test_shader_dequant_exact, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_shape_grid, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_chunked, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_large_w, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_decode_throughput, vkg_test_setup, vkg_test_teardown),
    };
    return cmocka_run_group_tests(tests, vkg_test_group_setup, vkg_test_group_teardown);
}
