/*
 * tests/test_gguf.c — the GGUF reader (src/model/gguf.c) on files written by the tests' own writer
 * (tests/gguf_writer.c, from the specification) and on the five files made by llama.cpp's tools in
 * tests/data/gguf/ (copied from ../shared/gguf; see its README):
 *   - a valid file of every metadata type and of each tensor type vkgpt reads: every getter, every
 *     tensor field, data pointers at the writer's positions, the data decoded as the reference does;
 *   - a file truncated at every byte: TRUNCATED before the data section, OFFSETS inside it;
 *   - more than 30 malformed files, each with its status and a message naming the field, key or
 *     tensor (the sanitizer suite runs them under ASan/LSan: no crash, no leak);
 *   - the five llama.cpp files: every tensor's type and shape, and its values dequantized by the
 *     library equal to what gguf-py computed (the .json beside each file: first 256 values exactly,
 *     sum and sum of squares), and to the reference decoder bit for bit.
 */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include "gguf_writer.h"
#include "model/gguf.h"
#include "ref/ref.h"
#include "ref/ref_quant.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Parse a private copy of exactly `size` bytes (so that ASan sees a read past the end). */
static vkg_status parse_copy(const uint8_t *img, size_t size, uint32_t flags, vkg_gguf_file **f) {
    uint8_t *copy = malloc(size ? size : 1);
    assert_non_null(copy);
    memcpy(copy, img, size);
    vkg_status s = vkg_gguf_parse(copy, size, "test.gguf", flags, f);
    if (s == VKG_OK) { /* the file points into copy: keep it for the caller's checks, then leak-free */
        vkg_gguf_close(*f);
        s = vkg_gguf_parse(img, size, "test.gguf", flags, f);
    }
    free(copy);
    return s;
}

static void expect_fail(const char *what, const uint8_t *img, size_t size, vkg_status want, const char *needle) {
    vkg_gguf_file *f = (vkg_gguf_file *)1;
    vkg_status s = parse_copy(img, size, 0, &f);
    if (s != want || (needle && !strstr(vkg_last_error(), needle))) {
        print_error("%s: got %s (%s), want %s naming \"%s\"\n", what, vkg_status_str(s), vkg_last_error(),
                    vkg_status_str(want), needle ? needle : "");
        fail();
    }
    assert_null(f);
    assert_non_null(strstr(vkg_last_error(), "test.gguf"));
}

/* ---- the valid file ---- */

enum { T_A, T_B, T_C, T_D, T_E, T_F, N_T };

typedef struct base_data {
    float a[8];
    uint8_t b[2 * 2 * 34];   /* Q8_0 [64, 2] */
    uint8_t c[3 * 144];      /* Q4_K [256, 3] */
    uint8_t d[210];          /* Q6_K [256] */
    uint16_t e[4 * 2 * 3];   /* F16 [4, 2, 3] */
    uint8_t f[2 * 18];       /* Q4_0 [32, 1, 1, 2] */
} base_data;

static base_data data;

static void fill_data(void) {
    ref_rng rng = ref_rng_seed(3);
    ref_rng_fill(&rng, data.a, 8, -2, 2);
    uint8_t *parts[] = {data.b, data.c, data.d, (uint8_t *)data.e, data.f};
    size_t sizes[] = {sizeof data.b, sizeof data.c, sizeof data.d, sizeof data.e, sizeof data.f};
    for (int i = 0; i < 5; i++)
        for (size_t j = 0; j < sizes[i]; j++)
            parts[i][j] = (uint8_t)ref_rng_u64(&rng);
    /* finite f16 scales: 0x3555 ~ 0.33 */
    for (int blk = 0; blk < 4; blk++)
        data.b[34 * blk + 1] = 0x35;
    for (int blk = 0; blk < 3; blk++)
        data.c[144 * blk + 1] = data.c[144 * blk + 3] = 0x31;
    data.d[209] = 0x2e;
    for (int i = 0; i < 24; i++)
        data.e[i] = (uint16_t)(data.e[i] & 0xBBFF); /* clear an exponent bit: finite */
    data.f[1] = data.f[19] = 0x3a;
}

static void base_writer(gguf_writer *w, uint32_t version, uint32_t alignment) {
    gw_init(w, version, alignment);
    static const char *const toks[] = {"a", "bc", "<s>", ""};
    int32_t ints[3] = {1, -2, 3};
    float floats[2] = {0.5f, -1.0f};
    gw_kv_str(w, "general.architecture", "llama");
    gw_kv_u32(w, "llama.block_count", 2);
    gw_kv_i32(w, "test.i32", -5);
    gw_kv_u64(w, "test.u64", 1ull << 40);
    gw_kv_f32(w, "llama.rope.freq_base", 10000.5f);
    gw_kv_bool(w, "tokenizer.ggml.add_bos_token", 1);
    gw_kv_str_array(w, "tokenizer.ggml.tokens", 4, toks);
    gw_kv_array(w, "test.ints", 5, 3, ints);
    gw_kv_array(w, "tokenizer.ggml.scores", 6, 2, floats);
    gw_tensor(w, "a", 0, 1, (uint64_t[]){8}, data.a, sizeof data.a);
    gw_tensor(w, "blk.0.b", 8, 2, (uint64_t[]){64, 2}, data.b, sizeof data.b);
    gw_tensor(w, "blk.0.c", 12, 2, (uint64_t[]){256, 3}, data.c, sizeof data.c);
    gw_tensor(w, "d", 14, 1, (uint64_t[]){256}, data.d, sizeof data.d);
    gw_tensor(w, "e", 1, 3, (uint64_t[]){4, 2, 3}, data.e, sizeof data.e);
    gw_tensor(w, "f", 2, 4, (uint64_t[]){32, 1, 1, 2}, data.f, sizeof data.f);
}

static void check_valid(vkg_gguf_file *f, const uint8_t *img, const gguf_writer *w) {
    assert_int_equal(vkg_gguf_kv_count(f), w->n_kv);
    assert_int_equal(vkg_gguf_tensor_count(f), N_T);
    uint32_t u;
    int32_t i;
    uint64_t u64, n;
    float x;
    bool b;
    vkg_gguf_str s;
    const vkg_gguf_str *strs;
    vkg_test_ok(vkg_gguf_get_str(f, "general.architecture", &s), "architecture");
    assert_true(s.len == 5 && memcmp(s.ptr, "llama", 5) == 0);
    vkg_test_ok(vkg_gguf_get_u32(f, "llama.block_count", &u), "block_count");
    assert_int_equal(u, 2);
    vkg_test_ok(vkg_gguf_get_i32(f, "llama.block_count", &i), "block_count as i32");
    assert_int_equal(i, 2);
    vkg_test_ok(vkg_gguf_get_i32(f, "test.i32", &i), "i32");
    assert_int_equal(i, -5);
    vkg_test_ok(vkg_gguf_get_u64(f, "test.u64", &u64), "u64");
    assert_true(u64 == 1ull << 40);
    vkg_test_ok(vkg_gguf_get_f32(f, "llama.rope.freq_base", &x), "f32");
    assert_true(x == 10000.5f);
    vkg_test_ok(vkg_gguf_get_f32(f, "llama.block_count", &x), "integer as f32");
    assert_true(x == 2.0f);
    vkg_test_ok(vkg_gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &b), "bool");
    assert_true(b);
    vkg_test_ok(vkg_gguf_get_str_array(f, "tokenizer.ggml.tokens", &strs, &n), "tokens");
    assert_int_equal(n, 4);
    assert_true(strs[2].len == 3 && memcmp(strs[2].ptr, "<s>", 3) == 0 && strs[3].len == 0);
    int64_t iv[3];
    float fv[3];
    vkg_test_ok(vkg_gguf_get_array_len(f, "test.ints", &n), "ints len");
    assert_int_equal(n, 3);
    vkg_test_ok(vkg_gguf_get_int_array(f, "test.ints", iv, 3), "ints");
    assert_true(iv[0] == 1 && iv[1] == -2 && iv[2] == 3);
    vkg_test_ok(vkg_gguf_get_float_array(f, "test.ints", fv, 3), "ints as floats");
    assert_true(fv[1] == -2.0f);
    vkg_test_ok(vkg_gguf_get_float_array(f, "tokenizer.ggml.scores", fv, 2), "floats");
    assert_true(fv[0] == 0.5f && fv[1] == -1.0f);
    /* Refusals of the getters. */
    assert_int_equal(vkg_gguf_get_u32(f, "llama.context_length", &u), VKG_ERROR_GGUF_KEY_MISSING);
    assert_non_null(strstr(vkg_last_error(), "llama.context_length"));
    assert_int_equal(vkg_gguf_get_u32(f, "general.architecture", &u), VKG_ERROR_GGUF_KEY_TYPE);
    assert_non_null(strstr(vkg_last_error(), "general.architecture"));
    assert_int_equal(vkg_gguf_get_u32(f, "test.i32", &u), VKG_ERROR_GGUF_KEY_TYPE); /* negative */
    assert_int_equal(vkg_gguf_get_u32(f, "test.u64", &u), VKG_ERROR_GGUF_KEY_TYPE); /* too large */
    assert_int_equal(vkg_gguf_get_i32(f, "test.u64", &i), VKG_ERROR_GGUF_KEY_TYPE);
    assert_int_equal(vkg_gguf_get_bool(f, "llama.block_count", &b), VKG_ERROR_GGUF_KEY_TYPE);
    assert_int_equal(vkg_gguf_get_str(f, "tokenizer.ggml.tokens", &s), VKG_ERROR_GGUF_KEY_TYPE);
    assert_int_equal(vkg_gguf_get_str_array(f, "test.ints", &strs, &n), VKG_ERROR_GGUF_KEY_TYPE);
    assert_int_equal(vkg_gguf_get_int_array(f, "tokenizer.ggml.scores", iv, 2), VKG_ERROR_GGUF_KEY_TYPE);
    assert_int_equal(vkg_gguf_get_int_array(f, "test.ints", iv, 2), VKG_ERROR_INVALID_ARGUMENT);
    assert_int_equal(vkg_gguf_get_array_len(f, "tokenizer.ggml.tokens", &n), VKG_ERROR_GGUF_KEY_TYPE);
    assert_non_null(vkg_gguf_find_kv(f, "test.u64"));
    assert_null(vkg_gguf_find_kv(f, "test.u6"));

    /* Tensors: fields, positions, lookup, values. */
    static const struct { const char *name; uint32_t type, n_dims; uint64_t ne[4], nelem; } want[N_T] = {
        {"a", 0, 1, {8, 1, 1, 1}, 8},           {"blk.0.b", 8, 2, {64, 2, 1, 1}, 128},
        {"blk.0.c", 12, 2, {256, 3, 1, 1}, 768}, {"d", 14, 1, {256, 1, 1, 1}, 256},
        {"e", 1, 3, {4, 2, 3, 1}, 24},           {"f", 2, 4, {32, 1, 1, 2}, 64}};
    for (size_t t = 0; t < N_T; t++) {
        const vkg_gguf_tensor *g = vkg_gguf_tensor_at(f, t);
        assert_string_equal(g->name, want[t].name);
        assert_ptr_equal(vkg_gguf_find_tensor(f, want[t].name), g);
        assert_int_equal(g->type, want[t].type);
        assert_int_equal(g->n_dims, want[t].n_dims);
        for (int d = 0; d < 4; d++)
            assert_int_equal(g->ne[d], want[t].ne[d]);
        assert_int_equal(g->nelem, want[t].nelem);
        assert_int_equal(g->nbytes, w->t[t].nbytes);
        assert_ptr_equal(g->data, img + w->pos_t[t].data);
        assert_int_equal(g->offset, w->pos_t[t].data - w->pos_data);
        float *lib = malloc(g->nelem * 4), *ref = malloc(g->nelem * 4);
        assert_true(lib && ref);
        vkg_test_ok(vkg_quant_dequantize(g->type, g->data, lib, g->nelem), g->name);
        ref_q_dequantize((int)g->type, w->t[t].data, ref, g->nelem);
        assert_memory_equal(lib, ref, g->nelem * 4);
        free(lib);
        free(ref);
    }
    assert_null(vkg_gguf_find_tensor(f, "blk.0"));
    assert_null(vkg_gguf_tensor_at(f, N_T));
}

static void test_valid(void **state) {
    (void)state;
    fill_data();
    for (uint32_t version = 2; version <= 3; version++)
        for (uint32_t alignment = 0; alignment <= 64; alignment += 64) {
            gguf_writer w;
            base_writer(&w, version, alignment);
            size_t size;
            uint8_t *img = gw_finish(&w, &size);
            vkg_gguf_file *f = NULL;
            vkg_test_ok(vkg_gguf_parse(img, size, "test.gguf", 0, &f), "valid file");
            assert_int_equal(vkg_gguf_version(f), version);
            assert_int_equal(vkg_gguf_alignment(f), alignment ? alignment : 32);
            check_valid(f, img, &w);
            vkg_gguf_close(f);
            /* The same through a file and mmap. */
            char path[] = "/tmp/vkg_test_gguf_XXXXXX";
            int fd = mkstemp(path);
            assert_true(fd >= 0);
            assert_int_equal(write(fd, img, size), (ssize_t)size);
            close(fd);
            vkg_test_ok(vkg_gguf_open(path, 0, &f), "open");
            assert_string_equal(vkg_gguf_label(f), path);
            assert_int_equal(vkg_gguf_tensor_count(f), N_T);
            vkg_gguf_close(f);
            unlink(path);
            free(img);
            gw_free(&w);
        }
    vkg_gguf_file *f = NULL;
    assert_int_equal(vkg_gguf_open("/nonexistent/x.gguf", 0, &f), VKG_ERROR_IO);
    assert_non_null(strstr(vkg_last_error(), "/nonexistent/x.gguf"));
    /* A vocabulary-only file: metadata and no tensors, ending right after the last entry. */
    gguf_writer w;
    gw_init(&w, 3, 0);
    gw_kv_str(&w, "tokenizer.ggml.model", "llama");
    size_t size;
    uint8_t *img = gw_finish(&w, &size);
    vkg_test_ok(parse_copy(img, size, 0, &f), "vocabulary-only");
    assert_int_equal(vkg_gguf_tensor_count(f), 0);
    vkg_gguf_close(f);
    free(img);
    gw_free(&w);
}

/* Every prefix of the valid file: the header cut anywhere is TRUNCATED, the data section cut before
 * the last tensor's end is OFFSETS (that tensor lies outside it), after it (padding) still valid. */
static void test_truncated_everywhere(void **state) {
    (void)state;
    fill_data();
    gguf_writer w;
    base_writer(&w, 3, 0);
    size_t size;
    uint8_t *img = gw_finish(&w, &size);
    size_t last_end = w.pos_t[N_T - 1].data + (size_t)w.t[N_T - 1].nbytes;
    for (size_t len = 0; len < size; len++) {
        vkg_gguf_file *f = NULL;
        vkg_status want = len < w.pos_data ? VKG_ERROR_GGUF_TRUNCATED : len < last_end ? VKG_ERROR_GGUF_OFFSETS : VKG_OK;
        vkg_status s = parse_copy(img, len, 0, &f);
        if (s != want) {
            print_error("prefix of %zu of %zu bytes: got %s (%s), want %s\n", len, size, vkg_status_str(s),
                        vkg_last_error(), vkg_status_str(want));
            fail();
        }
        vkg_gguf_close(f);
    }
    free(img);
    gw_free(&w);
}

/* ---- malformed files ---- */

typedef struct img {
    uint8_t *p;
    size_t size;
    gguf_writer w;
} img;

static img base_img(void) {
    img m;
    base_writer(&m.w, 3, 0);
    m.p = gw_finish(&m.w, &m.size);
    return m;
}

static void img_free(img *m) {
    free(m->p);
    gw_free(&m->w);
}

/* A file with one extra metadata entry given raw (type + value bytes), after the valid ones. */
static void expect_raw_kv(const char *what, const char *key, uint32_t type, const void *value, size_t len,
                          vkg_status want, const char *needle) {
    gguf_writer w;
    gw_init(&w, 3, 0);
    gw_kv_str(&w, "general.architecture", "llama");
    gw_kv_raw(&w, key, type, value, len);
    size_t size;
    uint8_t *p = gw_finish(&w, &size);
    expect_fail(what, p, size, want, needle);
    free(p);
    gw_free(&w);
}

/* A file with the tensors given (names, types, dims) and the writer's layout. */
static void expect_tensor(const char *what, uint32_t type, uint32_t n_dims, const uint64_t *ne, vkg_status want,
                          const char *needle) {
    gguf_writer w;
    gw_init(&w, 3, 0);
    static uint8_t zeros[4096];
    gw_tensor(&w, "blk.3.ffn_up.weight", type, n_dims, ne, zeros, 64);
    size_t size;
    uint8_t *p = gw_finish(&w, &size);
    expect_fail(what, p, size, want, needle);
    free(p);
    gw_free(&w);
}

static void test_malformed(void **state) {
    (void)state;
    fill_data();
    int cases = 0;
#define CASE(...) (cases++, expect_fail(__VA_ARGS__))
    img m = base_img();
    uint8_t *p = malloc(m.size);
    assert_non_null(p);
#define FRESH() memcpy(p, m.p, m.size)

    CASE("empty file", p, 0, VKG_ERROR_GGUF_TRUNCATED, "too short");
    CASE("three bytes", m.p, 3, VKG_ERROR_GGUF_TRUNCATED, "too short");
    FRESH();
    memcpy(p, "GGML", 4);
    CASE("bad magic", p, m.size, VKG_ERROR_GGUF_MAGIC, "GGUF");
    FRESH();
    gw_put_u32(p + 4, 1);
    CASE("version 1", p, m.size, VKG_ERROR_GGUF_VERSION, "version 1");
    FRESH();
    gw_put_u32(p + 4, 4);
    CASE("version 4", p, m.size, VKG_ERROR_GGUF_VERSION, "version 4");
    FRESH();
    gw_put_u32(p + 4, 3u << 24);
    CASE("big-endian", p, m.size, VKG_ERROR_GGUF_VERSION, "big-endian");
    CASE("cut in the version", m.p, 6, VKG_ERROR_GGUF_TRUNCATED, "version");
    CASE("cut in tensor_count", m.p, 12, VKG_ERROR_GGUF_TRUNCATED, "tensor_count");
    CASE("cut in kv_count", m.p, 20, VKG_ERROR_GGUF_TRUNCATED, "metadata_kv_count");
    FRESH();
    gw_put_u64(p + m.w.pos_tensor_count, 1ull << 60);
    CASE("huge tensor_count", p, m.size, VKG_ERROR_GGUF_TOO_LARGE, "tensor_count");
    FRESH();
    gw_put_u64(p + m.w.pos_kv_count, ~0ull);
    CASE("huge kv_count", p, m.size, VKG_ERROR_GGUF_TOO_LARGE, "metadata_kv_count");
    FRESH();
    gw_put_u64(p + m.w.pos_kv_count, 100000);
    CASE("kv_count beyond the file", p, m.size, VKG_ERROR_GGUF_TRUNCATED, "metadata");
    FRESH();
    gw_put_u64(p + m.w.pos_tensor_count, N_T + 1);
    /* the zero padding after the last info is read as an info of an empty name */
    CASE("one tensor info too few", p, m.size, VKG_ERROR_GGUF_METADATA, "tensor name at byte");
    CASE("one tensor info too few, no padding", p, m.w.pos_t[N_T - 1].offset + 8, VKG_ERROR_GGUF_TRUNCATED,
         "a tensor name");
    FRESH();
    gw_put_u64(p + m.w.pos_kv[1], 1ull << 40);
    CASE("huge key length", p, m.size, VKG_ERROR_GGUF_TOO_LARGE, "metadata key");
    FRESH();
    gw_put_u64(p + m.w.pos_kv[1], 60000);
    CASE("key beyond the file", p, m.size, VKG_ERROR_GGUF_TRUNCATED, "metadata key");
    FRESH();
    p[m.w.pos_kv[1] + 8 + 2] = 0;
    CASE("NUL in a key", p, m.size, VKG_ERROR_GGUF_METADATA, "NUL");
    FRESH();
    gw_put_u32(p + m.w.pos_kv[1] + 8 + strlen("llama.block_count"), 13);
    CASE("unknown value type", p, m.size, VKG_ERROR_GGUF_METADATA, "llama.block_count: unknown value type 13");
    FRESH();
    p[m.w.pos_kv[5] + 8 + strlen("tokenizer.ggml.add_bos_token") + 4] = 2;
    CASE("bool 2", p, m.size, VKG_ERROR_GGUF_METADATA, "tokenizer.ggml.add_bos_token");
    FRESH();
    gw_put_u64(p + m.w.pos_kv[0] + 8 + strlen("general.architecture") + 4, 1ull << 50);
    CASE("huge string value", p, m.size, VKG_ERROR_GGUF_TOO_LARGE, "general.architecture");
    FRESH();
    gw_put_u64(p + m.w.pos_kv[0] + 8 + strlen("general.architecture") + 4, 1u << 20);
    CASE("string beyond the file", p, m.size, VKG_ERROR_GGUF_TRUNCATED, "general.architecture");
    FRESH();
    gw_put_u64(p + m.w.pos_kv[6] + 8 + strlen("tokenizer.ggml.tokens") + 8, 1ull << 62);
    CASE("huge array length", p, m.size, VKG_ERROR_GGUF_TOO_LARGE, "tokenizer.ggml.tokens");
    FRESH();
    gw_put_u64(p + m.w.pos_kv[6] + 8 + strlen("tokenizer.ggml.tokens") + 8, 1u << 24);
    CASE("array beyond the file", p, m.size, VKG_ERROR_GGUF_TRUNCATED, "tokenizer.ggml.tokens");
    FRESH();
    gw_put_u32(p + m.w.pos_kv[7] + 8 + strlen("test.ints") + 4, 99);
    CASE("unknown array element type", p, m.size, VKG_ERROR_GGUF_METADATA, "test.ints: unknown array element");
    FRESH();
    gw_put_u32(p + m.w.pos_t[2].type, 77);
    CASE("unknown tensor type", p, m.size, VKG_ERROR_GGUF_TENSOR_TYPE, "blk.0.c: unknown ggml type 77");
    FRESH();
    gw_put_u32(p + m.w.pos_t[2].type, 4); /* retired Q4_2 */
    CASE("retired tensor type", p, m.size, VKG_ERROR_GGUF_TENSOR_TYPE, "unknown ggml type 4");
    FRESH();
    gw_put_u32(p + m.w.pos_t[1].n_dims, 5);
    CASE("n_dims 5", p, m.size, VKG_ERROR_GGUF_SHAPE, "blk.0.b: n_dims 5");
    FRESH();
    gw_put_u32(p + m.w.pos_t[0].n_dims, 0);
    CASE("n_dims 0", p, m.size, VKG_ERROR_GGUF_SHAPE, "n_dims 0");
    FRESH();
    gw_put_u64(p + m.w.pos_t[1].dims + 8, 0);
    CASE("zero dimension", p, m.size, VKG_ERROR_GGUF_SHAPE, "blk.0.b: dimension 1 is 0");
    FRESH();
    gw_put_u64(p + m.w.pos_t[2].offset, 16);
    CASE("misaligned offset", p, m.size, VKG_ERROR_GGUF_ALIGNMENT, "blk.0.c: offset 16");
    FRESH();
    gw_put_u64(p + m.w.pos_t[2].offset, 1u << 20);
    CASE("offset past the data", p, m.size, VKG_ERROR_GGUF_OFFSETS, "blk.0.c");
    FRESH();
    gw_put_u64(p + m.w.pos_t[2].offset, ~0ull - 31);
    CASE("offset + size overflow", p, m.size, VKG_ERROR_GGUF_OVERFLOW, "blk.0.c");
    FRESH();
    gw_put_u64(p + m.w.pos_t[3].offset, m.w.pos_t[2].data - m.w.pos_data + 128);
    CASE("overlapping tensors", p, m.size, VKG_ERROR_GGUF_OVERLAP, "overlap");
    FRESH();
    memcpy(p + m.w.pos_t[3].name + 8, "a", 1); /* "d" -> "a" */
    CASE("duplicate tensor name", p, m.size, VKG_ERROR_GGUF_DUPLICATE, "tensor a appears twice");
    FRESH();
    gw_put_u64(p + m.w.pos_t[0].name, 0);
    CASE("empty tensor name", p, m.size, VKG_ERROR_GGUF_METADATA, "tensor name");
    free(p);
    img_free(&m);
    expect_tensor("dims overflow", 0, 3, (uint64_t[]){1ull << 32, 1ull << 32, 1ull << 32}, VKG_ERROR_GGUF_OVERFLOW,
                  "blk.3.ffn_up.weight: dimensions");
    cases++;
    expect_tensor("dim above INT64_MAX", 0, 1, (uint64_t[]){1ull << 63}, VKG_ERROR_GGUF_OVERFLOW, "overflow");
    cases++;
    expect_tensor("bytes overflow", 0, 2, (uint64_t[]){1ull << 31, 1ull << 31}, VKG_ERROR_GGUF_OVERFLOW, "bytes");
    cases++;
    expect_tensor("row not a block multiple", 12, 2, (uint64_t[]){100, 2}, VKG_ERROR_GGUF_SHAPE, "blocks of 256");
    cases++;
    expect_tensor("tensor beyond the data", 0, 1, (uint64_t[]){1024}, VKG_ERROR_GGUF_OFFSETS, "blk.3.ffn_up.weight");
    cases++;
    /* Types vkgpt does not read are refused by name, naming the tensor. */
    static const uint32_t refused[] = {3, 6, 7, 9, 10, 11, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 26, 28, 29, 34,
                                       35, 39};
    for (size_t i = 0; i < VKG_ARRAY_LEN(refused); i++) {
        char needle[80];
        snprintf(needle, sizeof needle, "blk.3.ffn_up.weight has type %s,", vkg_ggml_type_name(refused[i]));
        expect_tensor("refused type", refused[i], 1, (uint64_t[]){256}, VKG_ERROR_GGUF_TENSOR_TYPE, needle);
        cases++;
    }
    /* ... unless the caller asks to list any type (the layout is still checked). */
    {
        gguf_writer w;
        gw_init(&w, 3, 0);
        static uint8_t zeros[84];
        gw_tensor(&w, "q2", 10, 1, (uint64_t[]){256}, zeros, 84);
        size_t size;
        uint8_t *img2 = gw_finish(&w, &size);
        vkg_gguf_file *f = NULL;
        vkg_test_ok(parse_copy(img2, size, VKG_GGUF_ANY_TYPE, &f), "any type");
        assert_int_equal(vkg_gguf_tensor_at(f, 0)->nbytes, 84);
        vkg_gguf_close(f);
        free(img2);
        gw_free(&w);
    }
    uint8_t v[64] = {0};
    expect_raw_kv("empty key", "", 4, v, 4, VKG_ERROR_GGUF_METADATA, "empty");
    cases++;
    gw_put_u32(v, 48);
    expect_raw_kv("alignment 48", "general.alignment", 4, v, 4, VKG_ERROR_GGUF_ALIGNMENT, "general.alignment 48");
    cases++;
    gw_put_u32(v, 0);
    expect_raw_kv("alignment 0", "general.alignment", 4, v, 4, VKG_ERROR_GGUF_ALIGNMENT, "general.alignment 0");
    cases++;
    expect_raw_kv("alignment as u64", "general.alignment", 10, v, 8, VKG_ERROR_GGUF_ALIGNMENT, "not u32");
    cases++;
    gw_put_u64(v, 4);
    memcpy(v + 8, "llam", 4);
    expect_raw_kv("duplicate key", "general.architecture", 8, v, 12, VKG_ERROR_GGUF_METADATA,
                  "general.architecture appears twice");
    cases++;
    /* Arrays of arrays: depth 4 allowed, 5 refused. Each level: u32 type 9, u64 count 1; innermost u8. */
    for (int depth = 4; depth <= 5; depth++) {
        uint8_t nest[80];
        size_t len = 0;
        for (int d = 0; d < depth; d++) {
            gw_put_u32(nest + len, d == depth - 1 ? 0 : 9);
            gw_put_u64(nest + len + 4, 1);
            len += 12;
        }
        nest[len++] = 7;
        if (depth == 4) {
            gguf_writer w;
            gw_init(&w, 3, 0);
            gw_kv_raw(&w, "test.nested", 9, nest, len);
            size_t size;
            uint8_t *img2 = gw_finish(&w, &size);
            vkg_gguf_file *f = NULL;
            vkg_test_ok(parse_copy(img2, size, 0, &f), "nested 4");
            uint64_t n;
            assert_int_equal(vkg_gguf_get_array_len(f, "test.nested", &n), VKG_ERROR_GGUF_KEY_TYPE);
            vkg_gguf_close(f);
            free(img2);
            gw_free(&w);
        } else {
            expect_raw_kv("arrays nested 5 deep", "test.nested", 9, nest, len, VKG_ERROR_GGUF_METADATA, "nested");
            cases++;
        }
    }
    gw_put_u32(v, 7);
    gw_put_u64(v + 4, 3);
    v[12] = 1;
    v[13] = 0;
    v[14] = 9;
    expect_raw_kv("bool array element 9", "test.flags", 9, v, 15, VKG_ERROR_GGUF_METADATA, "bool element 2");
    cases++;
    /* A file cut inside the padding before the data section. */
    {
        img m2 = base_img();
        CASE("cut in the padding", m2.p, m2.w.pos_data - 1, VKG_ERROR_GGUF_TRUNCATED, "data section");
        img_free(&m2);
    }
    fprintf(stderr, "test_gguf: %d malformed files refused with their status\n", cases);
    assert_true(cases >= 30);
#undef CASE
#undef FRESH
}

/* ---- llama.cpp's files ---- */

static void check_llama_cpp_file(const char *name) {
    char path[512], json_path[512];
    snprintf(path, sizeof path, "tests/data/gguf/%s.gguf", name);
    snprintf(json_path, sizeof json_path, "tests/data/gguf/%s.json", name);
    vkg_gguf_file *f = NULL;
    vkg_test_ok(vkg_gguf_open(vkg_test_source_path(path), 0, &f), path);
    json_error_t jerr;
    json_t *root = json_load_file(vkg_test_source_path(json_path), 0, &jerr);
    if (!root)
        print_error("%s: %s\n", json_path, jerr.text);
    assert_non_null(root);
    json_t *tensors = json_object_get(root, "tensors");
    assert_true(json_is_object(tensors));
    assert_int_equal(json_object_size(tensors), vkg_gguf_tensor_count(f));
    const char *tname;
    json_t *jt;
    json_object_foreach(tensors, tname, jt) {
        const vkg_gguf_tensor *t = vkg_gguf_find_tensor(f, tname);
        if (!t)
            print_error("%s: tensor %s missing\n", name, tname);
        assert_non_null(t);
        assert_string_equal(vkg_ggml_type_name(t->type), json_string_value(json_object_get(jt, "type")));
        json_t *ne = json_object_get(jt, "ne");
        assert_int_equal(json_array_size(ne), t->n_dims);
        for (size_t d = 0; d < t->n_dims; d++)
            assert_int_equal(json_integer_value(json_array_get(ne, d)), t->ne[d]);
        float *v = malloc(t->nelem * 4), *ref = malloc(t->nelem * 4);
        assert_true(v && ref);
        vkg_test_ok(vkg_quant_dequantize(t->type, t->data, v, t->nelem), tname);
        ref_q_dequantize((int)t->type, t->data, ref, t->nelem);
        assert_memory_equal(v, ref, t->nelem * 4);
        json_t *first = json_object_get(jt, "first_256");
        for (size_t i = 0; i < json_array_size(first); i++) {
            double want = json_real_value(json_array_get(first, i));
            if (json_is_integer(json_array_get(first, i)))
                want = (double)json_integer_value(json_array_get(first, i));
            if ((double)v[i] != want) {
                print_error("%s: %s (%s) element %zu: vkgpt %.17g, gguf-py %.17g\n", name, tname,
                            vkg_ggml_type_name(t->type), i, (double)v[i], want);
                fail();
            }
        }
        double sum = 0, sum_sq = 0, sum_abs = 0;
        for (uint64_t i = 0; i < t->nelem; i++) {
            sum += v[i];
            sum_sq += (double)v[i] * v[i];
            sum_abs += fabs(v[i]);
        }
        double want_sum = json_number_value(json_object_get(jt, "sum"));
        double want_sq = json_number_value(json_object_get(jt, "sum_sq"));
        if (fabs(sum - want_sum) > 1e-9 * sum_abs + 1e-12 || fabs(sum_sq - want_sq) > 1e-9 * want_sq + 1e-12) {
            print_error("%s: %s: sum %.17g / %.17g, sum_sq %.17g / %.17g\n", name, tname, sum, want_sum, sum_sq,
                        want_sq);
            fail();
        }
        free(v);
        free(ref);
    }
    vkg_gguf_str arch;
    vkg_test_ok(vkg_gguf_get_str(f, "general.architecture", &arch), "architecture");
    assert_true(arch.len >= 4 && memcmp(arch.ptr, name + 5, arch.len) == 0); /* "tiny-<arch>-..." */
    json_decref(root);
    vkg_gguf_close(f);
}

static void test_llama_cpp_files(void **state) {
    (void)state;
    static const char *const files[] = {"tiny-llama-q4_k_m", "tiny-qwen3-q6_k", "tiny-qwen2-q5_k_m",
                                        "tiny-llama-q8_0", "tiny-llama-q4_0"};
    for (size_t i = 0; i < VKG_ARRAY_LEN(files); i++)
        check_llama_cpp_file(files[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_llama_cpp_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
