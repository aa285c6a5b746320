/*
 * test_loader.c — the checkpoint loader without Vulkan: dtype conversion against values computed
 * independently (Python's IEEE half packing, exact rational rounding, ldexp), safetensors files
 * written by tests/st_writer.c (valid ones round-tripped in F32/F16/BF16 and both namings, sharded
 * checkpoints, and malformed ones that must each fail with their specific status and a message
 * naming the tensor, field or file), config.json rules, and the GPT-2 tensor mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/checkpoint.h"
#include "model/config.h"
#include "model/dtype.h"
#include "model/tensors.h"
#include "model/safetensors.h"
#include "st_writer.h"

/* Fail with the status and message when a call does not fail as expected. */
#define ASSERT_FAIL(expr, status, needle)                                                   \
    do {                                                                                    \
        vkg_status got_ = (expr);                                                           \
        if (got_ != (status) || !strstr(vkg_last_error(), (needle))) {                      \
            print_error("expected %s with \"%s\", got %s: %s\n", vkg_status_str(status),    \
                        (needle), vkg_status_str(got_), vkg_last_error());                  \
            fail();                                                                         \
        }                                                                                   \
    } while (0)

#define ASSERT_OK(expr)                                                                     \
    do {                                                                                    \
        vkg_status got_ = (expr);                                                           \
        if (got_ != VKG_OK) {                                                               \
            print_error("%s: %s\n", vkg_status_str(got_), vkg_last_error());                \
            fail();                                                                         \
        }                                                                                   \
    } while (0)

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float float_of(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- dtype conversion ---- */

/* f32 bits -> f16 bits, from Python: struct.pack('<e', x) (round half to even; OverflowError
 * taken as Inf). */
static const uint32_t f16_table[][2] = {
    {0x3f800000u, 0x3c00u}, /* 1.0 */
    {0x00000000u, 0x0000u}, /* 0.0 */
    {0x80000000u, 0x8000u}, /* -0.0 */
    {0x477fe000u, 0x7bffu}, /* 65504.0, largest half */
    {0x477ff000u, 0x7c00u}, /* 65520.0: tie with 65536, even side is Inf */
    {0x477fefffu, 0x7bffu}, /* 65519.996 */
    {0x47800000u, 0x7c00u}, /* 65536.0 */
    {0xc77ff000u, 0xfc00u}, /* -65520.0 */
    {0x33800000u, 0x0001u}, /* 2^-24, smallest subnormal */
    {0x33000000u, 0x0000u}, /* 2^-25: tie, even side is 0 */
    {0x33000001u, 0x0001u}, /* just above 2^-25 */
    {0x33400000u, 0x0001u}, /* 1.5 * 2^-25 */
    {0x33c00000u, 0x0002u}, /* 1.5 * 2^-24: tie, even side is 2 */
    {0x38800000u, 0x0400u}, /* 2^-14, smallest normal */
    {0x387fc000u, 0x03ffu}, /* largest subnormal */
    {0x387fe000u, 0x0400u}, /* tie between largest subnormal and smallest normal */
    {0x3f802000u, 0x3c01u}, /* 1 + 2^-10 */
    {0x3f801000u, 0x3c00u}, /* 1 + 2^-11: tie, down to even */
    {0x3f803000u, 0x3c02u}, /* 1 + 3 * 2^-11: tie, up to even */
    {0x3f806000u, 0x3c03u}, /* 1.0029296875 */
    {0x3f801fffu, 0x3c01u}, /* 1.0009764 */
    {0x3f802001u, 0x3c01u}, /* 1.0009767 */
    {0x7f800000u, 0x7c00u}, /* Inf */
    {0xff800000u, 0xfc00u}, /* -Inf */
    {0x3eaaaaabu, 0x3555u}, /* 1/3 */
    {0x40490fdbu, 0x4248u}, /* pi */
    {0xbf8ccccdu, 0xbc66u}, /* -1.1 */
    {0x00000001u, 0x0000u}, /* smallest f32 subnormal */
    {0x7f7fffffu, 0x7c00u}, /* FLT_MAX */
    {0x38000000u, 0x0200u}, /* 2^-15 */
    {0x37ffe000u, 0x0200u}, /* just below 2^-15, rounds up to it */
};

/* f32 bits -> bf16 bits, from Python with exact rational round-to-nearest-even. */
static const uint32_t bf16_table[][2] = {
    {0x3f800000u, 0x3f80u}, {0x3f808000u, 0x3f80u}, /* tie, down to even */
    {0x3f818000u, 0x3f82u},                         /* tie, up to even */
    {0x3f808001u, 0x3f81u}, {0x3f807fffu, 0x3f80u}, {0x7f7fffffu, 0x7f80u}, /* FLT_MAX -> Inf */
    {0x7f7f8000u, 0x7f80u}, {0x7f7effffu, 0x7f7fu}, {0xbf818000u, 0xbf82u},
    {0x00008000u, 0x0000u}, {0x00018000u, 0x0002u}, /* subnormal ties */
    {0x40490fdbu, 0x4049u}, {0x3eaaaaabu, 0x3eabu},
};

static void test_f16_table(void **state) {
    (void)state;
    for (size_t i = 0; i < VKG_ARRAY_LEN(f16_table); i++) {
        uint16_t got = vkg_f32_to_f16(float_of(f16_table[i][0]));
        if (got != f16_table[i][1]) {
            print_error("f32 0x%08x -> f16 0x%04x, expected 0x%04x\n", f16_table[i][0], got,
                        f16_table[i][1]);
            fail();
        }
    }
    /* NaN stays NaN, even one whose payload lives only in the low 13 bits. */
    uint16_t h = vkg_f32_to_f16(float_of(0x7f800001u));
    assert_int_equal(h & 0x7c00u, 0x7c00u);
    assert_true((h & 0x3ffu) != 0);
    assert_true(isnan(vkg_f16_to_f32(0x7e00u)));
}

/* Every half against ldexp in double, and back again. */
static void test_f16_exhaustive(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 0x10000u; h++) {
        uint32_t e = (h >> 10) & 31, m = h & 1023;
        double want = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY)
                                                       : ldexp(1024 + m, (int)e - 25);
        if (h & 0x8000u)
            want = -want;
        float got = vkg_f16_to_f32((uint16_t)h);
        if (isnan(want)) {
            assert_true(isnan(got));
            continue;
        }
        if ((double)got != want || !signbit(got) != !signbit(want)) {
            print_error("f16 0x%04x -> %.9g, expected %.9g\n", h, (double)got, want);
            fail();
        }
        assert_int_equal(vkg_f32_to_f16(got), h);
    }
}

/* Midpoints between adjacent halves (exact in f32) go to the even one; one f32 ulp either side
 * goes to the nearer. */
static void test_f16_midpoints(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 0x7bffu; h++) {
        float lo = vkg_f16_to_f32((uint16_t)h), hi = vkg_f16_to_f32((uint16_t)(h + 1));
        float mid = (float)(((double)lo + (double)hi) / 2);
        assert_true((double)mid == ((double)lo + (double)hi) / 2);
        uint32_t even = (h & 1) ? h + 1 : h;
        assert_int_equal(vkg_f32_to_f16(mid), even);
        assert_int_equal(vkg_f32_to_f16(-mid), even | 0x8000u);
        assert_int_equal(vkg_f32_to_f16(nextafterf(mid, 0.0f)), h);
        assert_int_equal(vkg_f32_to_f16(nextafterf(mid, INFINITY)), h + 1);
    }
}

static void test_bf16(void **state) {
    (void)state;
    for (size_t i = 0; i < VKG_ARRAY_LEN(bf16_table); i++) {
        uint16_t got = vkg_f32_to_bf16(float_of(bf16_table[i][0]));
        if (got != bf16_table[i][1]) {
            print_error("f32 0x%08x -> bf16 0x%04x, expected 0x%04x\n", bf16_table[i][0], got,
                        bf16_table[i][1]);
            fail();
        }
    }
    /* A NaN whose payload is only in the low half must not become Inf. */
    assert_true(isnan(vkg_bf16_to_f32(vkg_f32_to_bf16(float_of(0x7f800001u)))));
    for (uint32_t b = 0; b < 0x10000u; b++)
        assert_int_equal(bits_of(vkg_bf16_to_f32((uint16_t)b)), b << 16);
}

/* Whole arrays, from an unaligned source, against the scalar conversions tested above; bf16 to
 * f16 rounds once (through the exact f32). */
static void test_convert_arrays(void **state) {
    (void)state;
    enum { N = 300 };
    float f[N], out[N];
    uint16_t h[N], b[N], out16[N];
    uint8_t raw[4 * N + 1];
    for (int i = 0; i < N; i++) {
        f[i] = (float)ldexp((double)(i - 150) * 1.37, (i % 40) - 30);
        h[i] = vkg_f32_to_f16(f[i]);
        b[i] = vkg_f32_to_bf16(f[i]);
    }
    memcpy(raw + 1, f, sizeof f);
    ASSERT_OK(vkg_dtype_to_f32(VKG_DTYPE_F32, raw + 1, out, N));
    assert_memory_equal(out, f, sizeof f);
    ASSERT_OK(vkg_dtype_to_f16(VKG_DTYPE_F32, raw + 1, out16, N));
    assert_memory_equal(out16, h, sizeof h);
    memcpy(raw + 1, h, sizeof h);
    ASSERT_OK(vkg_dtype_to_f32(VKG_DTYPE_F16, raw + 1, out, N));
    for (int i = 0; i < N; i++)
        assert_int_equal(bits_of(out[i]), bits_of(vkg_f16_to_f32(h[i])));
    memcpy(raw + 1, b, sizeof b);
    ASSERT_OK(vkg_dtype_to_f32(VKG_DTYPE_BF16, raw + 1, out, N));
    for (int i = 0; i < N; i++)
        assert_int_equal(bits_of(out[i]), (uint32_t)b[i] << 16);
    ASSERT_OK(vkg_dtype_to_f16(VKG_DTYPE_BF16, raw + 1, out16, N));
    for (int i = 0; i < N; i++)
        assert_int_equal(out16[i], vkg_f32_to_f16(vkg_bf16_to_f32(b[i])));
    ASSERT_FAIL(vkg_dtype_to_f32(VKG_DTYPE_I64, raw, out, 1), VKG_ERROR_ST_DTYPE, "I64");
    ASSERT_FAIL(vkg_dtype_to_f16(VKG_DTYPE_F64, raw, out16, 1), VKG_ERROR_ST_DTYPE, "F64");
}

static void test_check_finite(void **state) {
    (void)state;
    float f[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    uint16_t h[9], b[9];
    for (int i = 0; i < 9; i++) {
        h[i] = vkg_f32_to_f16(f[i]);
        b[i] = vkg_f32_to_bf16(f[i]);
    }
    assert_int_equal(vkg_check_finite(VKG_DTYPE_F32, f, 9), 9);
    assert_int_equal(vkg_check_finite(VKG_DTYPE_F16, h, 9), 9);
    assert_int_equal(vkg_check_finite(VKG_DTYPE_BF16, b, 9), 9);
    f[5] = NAN;
    f[7] = INFINITY;
    h[6] = 0xfc00u; /* -Inf */
    h[8] = 0x7e00u;
    b[4] = 0x7fc0u; /* NaN */
    assert_int_equal(vkg_check_finite(VKG_DTYPE_F32, f, 9), 5);
    assert_int_equal(vkg_check_finite(VKG_DTYPE_F16, h, 9), 6);
    assert_int_equal(vkg_check_finite(VKG_DTYPE_BF16, b, 9), 4);
    /* 65504 and the largest bf16 are finite. */
    h[0] = 0x7bffu;
    b[0] = 0x7f7fu;
    assert_int_equal(vkg_check_finite(VKG_DTYPE_F16, h, 6), 6);
    assert_int_equal(vkg_check_finite(VKG_DTYPE_BF16, b, 4), 4);
}

/* ---- a tiny GPT-2 written with st_writer ---- */

enum { L = 2, H = 2, D = 8, V = 16, P = 8, MAXT = 64 };

typedef struct spec {
    st_entry e[MAXT];
    char names[MAXT][64];
    float vals[MAXT][V * D * 4]; /* largest tensor is (D, 4D) = 256 or (V, D) = 128 */
    uint8_t enc[MAXT][V * D * 4 * 4];
    size_t n;
} spec;

/* Values k/8, |k| <= 16: exact in F16 and BF16, so a round trip must reproduce them bit for bit. */
static float value(size_t t, size_t i) { return (float)((int)((i * 7 + t * 3) % 33) - 16) / 8.0f; }

/* Exact f16 encoding of a value that needs no rounding (checked): independent of dtype.c. */
static uint16_t exact_f16(float x) {
    if (x == 0.0f)
        return 0;
    int e;
    double m = frexp(fabs((double)x), &e); /* x = m 2^e, m in [0.5, 1) */
    double frac = (m * 2 - 1) * 1024;
    assert_true(frac == floor(frac) && e - 1 + 15 > 0 && e - 1 + 15 < 31);
    return (uint16_t)((x < 0 ? 0x8000u : 0) | (uint32_t)(e - 1 + 15) << 10 | (uint32_t)frac);
}

static st_entry *spec_add(spec *s, const char *name, st_dtype dt, uint32_t ndim, uint64_t d0,
                          uint64_t d1) {
    assert_true(s->n < MAXT);
    size_t t = s->n++;
    st_entry *e = &s->e[t];
    snprintf(s->names[t], sizeof s->names[t], "%s", name);
    *e = (st_entry){.name = s->names[t], .dtype = dt, .ndim = ndim, .shape = {d0, d1}};
    size_t n = ndim == 0 ? 1 : ndim == 1 ? d0 : d0 * d1;
    assert_true(n <= V * D * 4);
    for (size_t i = 0; i < n; i++) {
        float v = value(t, i);
        s->vals[t][i] = v;
        if (dt == ST_F32) {
            memcpy(s->enc[t] + 4 * i, &v, 4);
        } else if (dt == ST_F16 || dt == ST_BF16) {
            uint32_t u = bits_of(v);
            assert_true(dt == ST_F16 || (u & 0xffffu) == 0);
            uint16_t x = dt == ST_F16 ? exact_f16(v) : (uint16_t)(u >> 16);
            memcpy(s->enc[t] + 2 * i, &x, 2);
        }
    }
    e->data = (dt == ST_F32 || dt == ST_F16 || dt == ST_BF16) ? s->enc[t] : NULL;
    return e;
}

static st_entry *spec_get(spec *s, const char *name) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return &s->e[i];
    return NULL;
}

static void spec_remove(spec *s, const char *name) {
    st_entry *e = spec_get(s, name);
    assert_non_null(e);
    e->name = "removed-by-test"; /* st_write_spec skips it */
}

/* The full model. `prefix` "transformer." or ""; the original form also carries the legacy mask
 * buffers, the prefixed form an lm_head. */
static void spec_init(spec *s, const char *prefix, st_dtype dt) {
    s->n = 0;
    char n[64];
#define ADD(nd, a, b, ...)                     \
    do {                                       \
        snprintf(n, sizeof n, __VA_ARGS__);    \
        spec_add(s, n, dt, nd, a, b);          \
    } while (0)
    ADD(2, V, D, "%swte.weight", prefix);
    ADD(2, P, D, "%swpe.weight", prefix);
    for (int l = 0; l < L; l++) {
        ADD(1, D, 0, "%sh.%d.ln_1.weight", prefix, l);
        ADD(1, D, 0, "%sh.%d.ln_1.bias", prefix, l);
        ADD(2, D, 3 * D, "%sh.%d.attn.c_attn.weight", prefix, l);
        ADD(1, 3 * D, 0, "%sh.%d.attn.c_attn.bias", prefix, l);
        ADD(2, D, D, "%sh.%d.attn.c_proj.weight", prefix, l);
        ADD(1, D, 0, "%sh.%d.attn.c_proj.bias", prefix, l);
        ADD(1, D, 0, "%sh.%d.ln_2.weight", prefix, l);
        ADD(1, D, 0, "%sh.%d.ln_2.bias", prefix, l);
        ADD(2, D, 4 * D, "%sh.%d.mlp.c_fc.weight", prefix, l);
        ADD(1, 4 * D, 0, "%sh.%d.mlp.c_fc.bias", prefix, l);
        ADD(2, 4 * D, D, "%sh.%d.mlp.c_proj.weight", prefix, l);
        ADD(1, D, 0, "%sh.%d.mlp.c_proj.bias", prefix, l);
        if (!prefix[0]) {
            snprintf(n, sizeof n, "h.%d.attn.bias", l);
            spec_add(s, n, ST_U8, 2, P, P);
            snprintf(n, sizeof n, "h.%d.attn.masked_bias", l);
            spec_add(s, n, ST_F32, 0, 0, 0);
        }
    }
    ADD(1, D, 0, "%sln_f.weight", prefix);
    ADD(1, D, 0, "%sln_f.bias", prefix);
    if (prefix[0])
        spec_add(s, "lm_head.weight", dt, 2, V, D);
#undef ADD
}

/* Write entries [first, last) of the spec (skipping removed ones) to dir/file. */
static void spec_write_range(const spec *s, const char *dir, const char *file, size_t first,
                             size_t last) {
    st_entry e[MAXT];
    size_t n = 0;
    for (size_t i = first; i < last; i++)
        if (strcmp(s->e[i].name, "removed-by-test") != 0)
            e[n++] = s->e[i];
    assert_int_equal(st_write(st_path(dir, file), e, n), 0);
}

static void spec_write(const spec *s, const char *dir) {
    spec_write_range(s, dir, "model.safetensors", 0, s->n);
    assert_int_equal(st_write_config(st_path(dir, "config.json"), L, H, D, V, P), 0);
}

static spec *new_spec(const char *prefix, st_dtype dt) {
    spec *s = calloc(1, sizeof *s);
    assert_non_null(s);
    spec_init(s, prefix, dt);
    return s;
}

static int setup_dir(void **state) {
    *state = st_tmpdir_create();
    return *state ? 0 : -1;
}

static int teardown_dir(void **state) {
    st_tmpdir_remove(*state);
    return 0;
}

/* Open and map; every weight must come back with the values written. */
static void check_roundtrip(const char *path, const spec *s) {
    vkg_checkpoint *c;
    vkg_model_tensors *g;
    ASSERT_OK(vkg_checkpoint_open(path, &c));
    const vkg_model_config *cfg = vkg_checkpoint_config(c);
    assert_int_equal(cfg->n_layer, L);
    assert_int_equal(cfg->d_model, D);
    assert_int_equal(cfg->vocab_size, V);
    assert_int_equal(cfg->n_positions, P);
    ASSERT_OK(vkg_model_tensors_map(c, &g));
    size_t checked = 0;
    float buf[V * D * 4];
    for (size_t i = 0; i < s->n; i++) {
        const vkg_st_tensor *t = vkg_checkpoint_find(c, s->names[i]);
        assert_non_null(t);
        assert_string_equal(t->name, s->names[i]);
        if (t->dtype == VKG_DTYPE_U8 || t->ndim == 0)
            continue; /* mask buffers */
        assert_int_equal(t->nelem, t->ndim == 1 ? t->shape[0] : t->shape[0] * t->shape[1]);
        ASSERT_OK(vkg_dtype_to_f32(t->dtype, t->data, buf, t->nelem));
        assert_memory_equal(buf, s->vals[i], t->nelem * sizeof(float));
        checked++;
    }
    assert_int_equal(checked, 4 + 12 * L + (vkg_checkpoint_find(c, "lm_head.weight") != NULL));
    /* The mapping put each tensor in its slot (a tied lm_head is checked but has none). */
#define ROLE(r, l) vkg_model_tensors_role(g, r, l)->parts[0]->name
    assert_true(strstr(ROLE(VKG_W_TOK_EMBD, 0), "wte.weight") != NULL);
    assert_true(strstr(ROLE(VKG_W_POS_EMBD, 0), "wpe.weight") != NULL);
    assert_true(strstr(ROLE(VKG_W_OUT_NORM_B, 0), "ln_f.bias") != NULL);
    assert_true(strstr(ROLE(VKG_W_UP, 1), "h.1.mlp.c_fc.weight") != NULL);
    assert_true(strstr(ROLE(VKG_W_DOWN_B, 0), "h.0.mlp.c_proj.bias") != NULL);
    assert_true(strstr(ROLE(VKG_W_O, 1), "h.1.attn.c_proj.weight") != NULL);
#undef ROLE
    assert_int_equal(vkg_model_tensors_role(g, VKG_W_QKV, 1)->parts[0]->shape[1], 3 * D);
    assert_int_equal(vkg_model_tensors_role(g, VKG_W_LM_HEAD, 0)->n_parts, 0);
    vkg_model_tensors_free(g);
    vkg_checkpoint_close(c);
}

static void roundtrip(void **state, const char *prefix, st_dtype dt) {
    spec *s = new_spec(prefix, dt);
    spec_write(s, *state);
    check_roundtrip(*state, s);                                  /* the directory */
    check_roundtrip(st_path(*state, "model.safetensors"), s);    /* the file */
    free(s);
}

static void test_roundtrip_f32_prefixed(void **state) { roundtrip(state, "transformer.", ST_F32); }
static void test_roundtrip_f16_prefixed(void **state) { roundtrip(state, "transformer.", ST_F16); }
static void test_roundtrip_bf16_original(void **state) { roundtrip(state, "", ST_BF16); }
static void test_roundtrip_f32_original(void **state) { roundtrip(state, "", ST_F32); }


/* A file with metadata, a scalar, an empty tensor and tensors listed out of offset order. */
static void test_st_features(void **state) {
    const char *path = st_path(*state, "x.safetensors");
    float data[4] = {1.5f, -2.0f, 3.25f, 7.0f};
    assert_int_equal(st_write_raw(path,
                                  "{\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[4,16]},"
                                  "\"__metadata__\":{\"format\":\"pt\"},"
                                  "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                                  "\"empty\":{\"dtype\":\"F16\",\"shape\":[0,4],"
                                  "\"data_offsets\":[16,16]},"
                                  "\"i\":{\"dtype\":\"I64\",\"shape\":[0],\"data_offsets\":[4,4]}}",
                                  data, sizeof data),
                     0);
    vkg_st_file *f;
    ASSERT_OK(vkg_st_open(path, &f));
    assert_int_equal(vkg_st_count(f), 4);
    assert_string_equal(vkg_st_at(f, 0)->name, "b"); /* header order */
    assert_string_equal(vkg_st_metadata(f, "format"), "pt");
    assert_null(vkg_st_metadata(f, "nope"));
    const vkg_st_tensor *a = vkg_st_find(f, "a"), *b = vkg_st_find(f, "b");
    const vkg_st_tensor *e = vkg_st_find(f, "empty");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(e);
    assert_null(vkg_st_find(f, "c"));
    assert_int_equal(a->ndim, 0);
    assert_int_equal(a->nelem, 1);
    assert_true(*(const float *)a->data == 1.5f);
    assert_int_equal(b->nbytes, 12);
    assert_memory_equal(b->data, data + 1, 12);
    assert_int_equal(e->nelem, 0);
    assert_int_equal(e->nbytes, 0);
    assert_string_equal(b->file, path);
    ASSERT_OK(vkg_st_check_finite(b));
    vkg_st_close(f);
}

static void test_bad_weights(void **state) {
    const char *path = st_path(*state, "nan.safetensors");
    uint16_t h[6] = {0x3c00, 0x3c00, 0x3c00, 0x7e00, 0x3c00, 0x3c00};
    st_entry e = {.name = "h.0.ln_1.weight", .dtype = ST_F16, .ndim = 1, .shape = {6}, .data = h};
    assert_int_equal(st_write(path, &e, 1), 0);
    vkg_st_file *f;
    ASSERT_OK(vkg_st_open(path, &f));
    ASSERT_FAIL(vkg_st_check_finite(vkg_st_at(f, 0)), VKG_ERROR_BAD_WEIGHTS,
                "tensor h.0.ln_1.weight: element 3 is NaN");
    vkg_st_close(f);
}

/* ---- malformed safetensors files: each must fail with its own status ---- */

/* Write `header` + `data_len` zero bytes, open, and expect status with `needle` in the message. */
static void expect_raw(void **state, const char *header, size_t data_len, vkg_status status,
                       const char *needle) {
    const char *path = st_path(*state, "bad.safetensors");
    uint8_t *zeros = calloc(data_len + 1, 1);
    assert_int_equal(st_write_raw(path, header, zeros, data_len), 0);
    free(zeros);
    vkg_st_file *f = (vkg_st_file *)1;
    ASSERT_FAIL(vkg_st_open(path, &f), status, needle);
    assert_null(f);
    assert_non_null(strstr(vkg_last_error(), "bad.safetensors")); /* the file is named */
}

static void expect_bytes(void **state, const void *bytes, size_t len, vkg_status status,
                         const char *needle) {
    const char *path = st_path(*state, "bytes.safetensors");
    assert_int_equal(st_write_bytes(path, bytes, len), 0);
    vkg_st_file *f;
    ASSERT_FAIL(vkg_st_open(path, &f), status, needle);
    assert_non_null(strstr(vkg_last_error(), "bytes.safetensors"));
    /* The in-memory parser agrees. */
    ASSERT_FAIL(vkg_st_parse(bytes, len, "mem", &f), status, "mem");
}

static void test_bad_empty_and_truncated(void **state) {
    static const uint8_t five[5] = {8, 0, 0, 0, 0};
    expect_bytes(state, "", 0, VKG_ERROR_ST_TRUNCATED, "0 bytes");
    expect_bytes(state, five, 5, VKG_ERROR_ST_TRUNCATED, "5 bytes");
}

static void test_bad_header_size(void **state) {
    /* Claims a 64-byte header, has 10 bytes after the prefix. */
    static const uint8_t b[18] = {64, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' ',
                                  ' ', ' '};
    expect_bytes(state, b, sizeof b, VKG_ERROR_ST_HEADER_SIZE, "header length 64");
    /* A text file: its first 8 bytes read as an enormous length. */
    static const char text[] = "this is a plain text file, not a model at all\n";
    expect_bytes(state, text, sizeof text - 1, VKG_ERROR_ST_HEADER_SIZE, "not a safetensors file");
}

static void test_bad_json(void **state) {
    expect_raw(state, "{\"a\": {\"dtype\": \"F32\", ", 0, VKG_ERROR_ST_HEADER_JSON,
               "not valid JSON");
    expect_raw(state, "[1, 2, 3]", 0, VKG_ERROR_ST_HEADER_JSON, "not an object");
    expect_raw(state, "{\"w\": 5}", 0, VKG_ERROR_ST_HEADER_JSON, "tensor w");
    expect_raw(state, "{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4,
               VKG_ERROR_ST_HEADER_JSON, "tensor w: \"dtype\"");
    expect_raw(state, "{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", 4,
               VKG_ERROR_ST_HEADER_JSON, "tensor w: \"shape\"");
    expect_raw(state, "{\"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}",
               4, VKG_ERROR_ST_HEADER_JSON, "negative");
    expect_raw(state, "{\"w\": {\"dtype\": \"F32\", \"shape\": [2.5], \"data_offsets\": [0, 4]}}",
               4, VKG_ERROR_ST_HEADER_JSON, "not an integer");
    expect_raw(state, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", 4,
               VKG_ERROR_ST_HEADER_JSON, "tensor w: \"data_offsets\"");
    expect_raw(state, "{\"__metadata__\": {\"k\": 1}}", 0, VKG_ERROR_ST_HEADER_JSON,
               "__metadata__");
}

static void test_bad_duplicate_key(void **state) {
    expect_raw(state,
               "{\"h.0.ln_1.bias\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
               " \"h.0.ln_1.bias\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}",
               8, VKG_ERROR_ST_DUPLICATE_KEY, "tensor \"h.0.ln_1.bias\" appears twice");
    /* A name longer than jansson's own messages quote. */
    expect_raw(state,
               "{\"transformer.h.0.mlp.c_fc.weight\":{\"dtype\":\"F32\",\"shape\":[1],"
               "\"data_offsets\":[0,4]},\"transformer.h.0.mlp.c_fc.weight\"  :"
               "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
               8, VKG_ERROR_ST_DUPLICATE_KEY, "tensor \"transformer.h.0.mlp.c_fc.weight\" appears");
}

static void test_bad_dtype(void **state) {
    expect_raw(state, "{\"wq\": {\"dtype\": \"Q4_K\", \"shape\": [4], \"data_offsets\": [0, 4]}}",
               4, VKG_ERROR_ST_DTYPE, "tensor wq: unknown dtype \"Q4_K\"");
}

static void test_bad_offsets(void **state) {
    expect_raw(state, "{\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}",
               12, VKG_ERROR_ST_OFFSETS, "tensor w");
    expect_raw(state, "{\"w\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [8, 4]}}",
               12, VKG_ERROR_ST_OFFSETS, "tensor w");
}

static void test_bad_overlap(void **state) {
    expect_raw(state,
               "{\"x\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
               " \"y\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [12, 20]}}",
               20, VKG_ERROR_ST_OVERLAP, "tensors x [0, 16) and y [12, 20) overlap");
}

/* The tensors must tile the data section: a gap between two, before the first or after the last is
 * refused (the format's reference implementation does the same). */
static void test_bad_gaps(void **state) {
    expect_raw(state,
               "{\"x\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
               " \"y\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [12, 20]}}",
               20, VKG_ERROR_ST_OFFSETS, "data bytes [8, 12) before tensor y belong to no tensor");
    expect_raw(state, "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}",
               12, VKG_ERROR_ST_OFFSETS, "data bytes [0, 4) before tensor w");
    expect_raw(state, "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}",
               13, VKG_ERROR_ST_OFFSETS, "holds 13 bytes but the tensors end at byte 8: 5 trailing bytes");
    /* Only empty tensors: any data byte is trailing. */
    expect_raw(state, "{\"e\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [0, 0]}}",
               4, VKG_ERROR_ST_OFFSETS, "4 trailing bytes");
}

static void test_bad_alignment(void **state) {
    expect_raw(state, "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [2, 10]}}",
               12, VKG_ERROR_ST_ALIGNMENT, "tensor w: data offset 2");
}

static void test_bad_size_mismatch(void **state) {
    expect_raw(state, "{\"w\": {\"dtype\": \"BF16\", \"shape\": [3, 2], \"data_offsets\": [0, 8]}}",
               16, VKG_ERROR_ST_SIZE_MISMATCH, "tensor w: shape [3, 2] of BF16 needs 12 bytes");
}

static void test_bad_overflow(void **state) {
    /* 2^32 * 2^32 * 2 elements: the product wraps 64 bits. */
    expect_raw(state,
               "{\"big\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 2],"
               " \"data_offsets\": [0, 0]}}",
               8, VKG_ERROR_ST_OVERFLOW, "tensor big");
    /* 2^62 elements fit; 2^62 * 4 bytes do not. */
    expect_raw(state,
               "{\"big\": {\"dtype\": \"F32\", \"shape\": [4611686018427387904],"
               " \"data_offsets\": [0, 0]}}",
               8, VKG_ERROR_ST_OVERFLOW, "tensor big");
    /* An offset beyond 2^64. */
    expect_raw(state,
               "{\"big\": {\"dtype\": \"F32\", \"shape\": [1],"
               " \"data_offsets\": [0, 99999999999999999999]}}",
               8, VKG_ERROR_ST_OVERFLOW, "99999999999999999999");
}

/* ---- config.json ---- */

static vkg_status parse_config(const char *json, vkg_model_config *c) {
    return vkg_config_parse(json, strlen(json), "my/config.json", NULL, c);
}

#define CFG_BASE "\"n_layer\": 12, \"n_head\": 12, \"n_embd\": 768, \"vocab_size\": 50257"

static void test_config_ok(void **state) {
    (void)state;
    vkg_model_config c;
    ASSERT_OK(parse_config("{" CFG_BASE ", \"n_ctx\": 1024}", &c)); /* old form: n_ctx only */
    assert_int_equal(c.n_layer, 12);
    assert_int_equal(c.n_head, 12);
    assert_int_equal(c.n_kv_head, 12);
    assert_int_equal(c.d_model, 768);
    assert_int_equal(c.head_dim, 64);
    assert_int_equal(c.d_ff, 3072);
    assert_int_equal(c.vocab_size, 50257);
    assert_int_equal(c.n_positions, 1024);
    assert_true(c.norm_eps == 1e-5f);
    assert_int_equal(c.n_eos, 1);
    assert_int_equal(c.eos_token_ids[0], 50256);
    assert_true(c.tied_lm_head && c.norm == VKG_NORM_LAYERNORM && c.pos == VKG_POS_LEARNED);
    assert_true(fabsf(c.attn_scale - 0.125f) < 1e-7f);
    ASSERT_OK(parse_config("{" CFG_BASE ", \"n_positions\": 2048, \"n_ctx\": 1024,"
                           " \"layer_norm_epsilon\": 1e-6, \"eos_token_id\": 7,"
                           " \"model_type\": \"gpt2\", \"activation_function\":"
                           " \"gelu_pytorch_tanh\"}",
                           &c));
    assert_int_equal(c.n_positions, 2048);
    assert_true(c.norm_eps == 1e-6f);
    assert_int_equal(c.n_eos, 1);
    assert_int_equal(c.eos_token_ids[0], 7);
    /* A custom GPT-2 with a small vocabulary: the default 50256 is out of range, so no EOS. */
    ASSERT_OK(parse_config("{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 16, \"vocab_size\": 65, \"n_positions\": 64}",
                           &c));
    assert_int_equal(c.n_eos, 0);
    assert_int_equal(c.bos_token_id, -1);
    ASSERT_OK(parse_config("{" CFG_BASE ", \"n_positions\": 1024, \"eos_token_id\": 50257}", &c));
    assert_int_equal(c.n_eos, 0);
    /* The switches that change GPT-2's attention math. */
    ASSERT_OK(parse_config("{" CFG_BASE ", \"n_positions\": 1024, \"scale_attn_weights\": false,"
                           " \"scale_attn_by_inverse_layer_idx\": true, \"reorder_and_upcast_attn\": true,"
                           " \"tie_word_embeddings\": false, \"n_inner\": 100}", &c));
    assert_true(c.attn_scale == 1.0f && c.attn_scale_inverse_layer && !c.tied_lm_head);
    assert_int_equal(c.d_ff, 100);
}

static void test_config_bad(void **state) {
    (void)state;
    vkg_model_config c;
    ASSERT_FAIL(parse_config("{\"n_layer\": 12, \"n_embd\": 768, \"vocab_size\": 50257,"
                             " \"n_positions\": 1024}", &c),
                VKG_ERROR_CONFIG_FIELD, "my/config.json: required field \"n_head\"");
    ASSERT_FAIL(parse_config("{" CFG_BASE "}", &c), VKG_ERROR_CONFIG_FIELD, "n_positions");
    ASSERT_FAIL(parse_config("{\"n_layer\": 12, \"n_head\": 12, \"n_embd\": \"768\","
                             " \"vocab_size\": 50257, \"n_positions\": 1024}", &c),
                VKG_ERROR_CONFIG_TYPE, "\"n_embd\" must be an integer");
    ASSERT_FAIL(parse_config("{\"n_layer\": 12.0, \"n_head\": 12, \"n_embd\": 768,"
                             " \"vocab_size\": 50257, \"n_positions\": 1024}", &c),
                VKG_ERROR_CONFIG_TYPE, "n_layer");
    ASSERT_FAIL(parse_config("{\"n_layer\": 0, \"n_head\": 12, \"n_embd\": 768,"
                             " \"vocab_size\": 50257, \"n_positions\": 1024}", &c),
                VKG_ERROR_CONFIG_VALUE, "\"n_layer\" is 0");
    ASSERT_FAIL(parse_config("{\"n_layer\": 12, \"n_head\": 12, \"n_embd\": 768,"
                             " \"vocab_size\": -5, \"n_positions\": 1024}", &c),
                VKG_ERROR_CONFIG_VALUE, "\"vocab_size\" is -5");
    ASSERT_FAIL(parse_config("{\"n_layer\": 5000, \"n_head\": 12, \"n_embd\": 768,"
                             " \"vocab_size\": 50257, \"n_positions\": 1024}", &c),
                VKG_ERROR_CONFIG_VALUE, "\"n_layer\" is 5000");
    ASSERT_FAIL(parse_config("{\"n_layer\": 12, \"n_head\": 7, \"n_embd\": 768,"
                             " \"vocab_size\": 50257, \"n_positions\": 1024}", &c),
                VKG_ERROR_CONFIG_VALUE, "n_embd 768 is not divisible by n_head 7");
    ASSERT_FAIL(parse_config("{" CFG_BASE ", \"n_positions\": 1024, \"layer_norm_epsilon\": 0}",
                             &c),
                VKG_ERROR_CONFIG_VALUE, "layer_norm_epsilon");
    ASSERT_FAIL(parse_config("{" CFG_BASE ", \"n_positions\": 1024, \"eos_token_id\": -1}", &c),
                VKG_ERROR_CONFIG_VALUE, "eos_token_id");
    ASSERT_FAIL(parse_config("{" CFG_BASE ", \"n_positions\": 1024, \"eos_token_id\": \"x\"}", &c),
                VKG_ERROR_CONFIG_TYPE, "eos_token_id");
    ASSERT_FAIL(parse_config("{" CFG_BASE ", \"n_positions\": 1024, \"model_type\": \"bert\"}",
                             &c),
                VKG_ERROR_MODEL_UNSUPPORTED, "model_type \"bert\"");
    /* A Llama config written with GPT-2's field names lacks the Llama ones. */
    ASSERT_FAIL(parse_config("{" CFG_BASE ", \"n_positions\": 1024, \"model_type\": \"llama\"}", &c),
                VKG_ERROR_CONFIG_FIELD, "hidden_size");
    ASSERT_FAIL(parse_config("{" CFG_BASE ", \"n_positions\": 1024,"
                             " \"activation_function\": \"relu\"}", &c),
                VKG_ERROR_MODEL_UNSUPPORTED, "activation_function \"relu\"");
    ASSERT_FAIL(parse_config("{" CFG_BASE ", \"n_positions\": 1024, \"model_type\": 2}", &c),
                VKG_ERROR_CONFIG_TYPE, "model_type");
    ASSERT_FAIL(parse_config("n_layer = 12", &c), VKG_ERROR_CONFIG_TYPE, "line 1");
}

#define LLAMA_BASE "\"hidden_size\": 256, \"intermediate_size\": 512, \"num_hidden_layers\": 2, " \
                   "\"num_attention_heads\": 8, \"vocab_size\": 1000"

/* The Llama-shaped families: defaults, switches, RoPE scaling, token ids, refusals by name. */
static void test_config_llama_families(void **state) {
    (void)state;
    vkg_model_config c;
    ASSERT_OK(parse_config("{\"model_type\": \"llama\", " LLAMA_BASE "}", &c));
    assert_string_equal(c.family, "llama");
    assert_int_equal(c.n_kv_head, 8);
    assert_int_equal(c.head_dim, 32);
    assert_int_equal(c.n_positions, 2048);
    assert_true(c.norm == VKG_NORM_RMSNORM && c.norm_eps == 1e-6f && c.gated_mlp && c.act == VKG_ACT_SILU);
    assert_true(c.pos == VKG_POS_ROPE && c.rope.theta == 10000.0f && c.rope.pairing == VKG_ROPE_HALF);
    assert_true(!c.qkv_bias && !c.o_bias && !c.mlp_bias && !c.qk_norm && !c.tied_lm_head && !c.sliding_window);
    assert_int_equal(c.n_eos, 0);
    ASSERT_OK(parse_config("{\"architectures\": [\"LlamaForCausalLM\"], " LLAMA_BASE ", \"num_key_value_heads\": 2,"
                           " \"attention_bias\": true, \"mlp_bias\": true, \"tie_word_embeddings\": true,"
                           " \"rope_theta\": 500000.0, \"rms_norm_eps\": 1e-5, \"max_position_embeddings\": 131072,"
                           " \"bos_token_id\": 1, \"eos_token_id\": [5, 7, 5, 5000],"
                           " \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 32.0, \"low_freq_factor\": 1.0,"
                           " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}}", &c));
    assert_string_equal(c.family, "llama");
    assert_int_equal(c.n_kv_head, 2);
    assert_true(c.qkv_bias && c.o_bias && c.mlp_bias && c.tied_lm_head);
    assert_true(c.rope.scaling == VKG_ROPE_SCALING_LLAMA3 && c.rope.factor == 32.0f && c.rope.high_freq_factor == 4.0f);
    assert_int_equal(c.rope.original_max_positions, 8192);
    assert_int_equal(c.bos_token_id, 1);
    assert_int_equal(c.n_eos, 2); /* 5 and 7: the repeat dropped, 5000 is past the vocabulary */
    ASSERT_OK(parse_config("{\"model_type\": \"llama\", " LLAMA_BASE ", \"rope_scaling\": {\"type\": \"linear\","
                           " \"factor\": 2.0}}", &c));
    assert_true(c.rope.scaling == VKG_ROPE_SCALING_LINEAR && c.rope.factor == 2.0f);
    ASSERT_OK(parse_config("{\"model_type\": \"mistral\", " LLAMA_BASE "}", &c));
    assert_int_equal(c.sliding_window, 4096); /* MistralConfig's default */
    ASSERT_OK(parse_config("{\"model_type\": \"mistral\", " LLAMA_BASE ", \"sliding_window\": null}", &c));
    assert_int_equal(c.sliding_window, 0);
    ASSERT_OK(parse_config("{\"model_type\": \"qwen2\", " LLAMA_BASE ", \"use_sliding_window\": false,"
                           " \"sliding_window\": 4096}", &c));
    assert_true(c.qkv_bias && !c.o_bias && c.sliding_window == 0);
    ASSERT_OK(parse_config("{\"model_type\": \"qwen3\", " LLAMA_BASE ", \"head_dim\": 64}", &c));
    assert_true(c.qk_norm && !c.qkv_bias && c.head_dim == 64);
    assert_true(fabsf(c.attn_scale - 0.125f) < 1e-7f);
    /* generation_config.json overrides the end-of-sequence ids. */
    const char *cfg = "{\"model_type\": \"qwen3\", " LLAMA_BASE ", \"eos_token_id\": 3}";
    ASSERT_OK(vkg_config_parse(cfg, strlen(cfg), "c.json", "{\"eos_token_id\": [8, 9]}", &c));
    assert_int_equal(c.n_eos, 2);
    assert_int_equal(c.eos_token_ids[1], 9);

    ASSERT_FAIL(parse_config("{\"model_type\": \"llama\", " LLAMA_BASE ", \"rope_scaling\": {\"rope_type\": \"yarn\","
                             " \"factor\": 4.0}}", &c), VKG_ERROR_MODEL_UNSUPPORTED, "\"yarn\"");
    ASSERT_FAIL(parse_config("{\"model_type\": \"llama\", " LLAMA_BASE ", \"rope_scaling\": {\"rope_type\": \"dynamic\","
                             " \"factor\": 4.0}}", &c), VKG_ERROR_MODEL_UNSUPPORTED, "\"dynamic\"");
    ASSERT_FAIL(parse_config("{\"model_type\": \"llama\", " LLAMA_BASE ", \"rope_scaling\": {\"rope_type\": \"llama3\","
                             " \"factor\": 8.0}}", &c), VKG_ERROR_CONFIG_FIELD, "low_freq_factor");
    ASSERT_FAIL(parse_config("{\"model_type\": \"llama\", " LLAMA_BASE ", \"hidden_act\": \"gelu\"}", &c),
                VKG_ERROR_MODEL_UNSUPPORTED, "hidden_act \"gelu\"");
    ASSERT_FAIL(parse_config("{\"model_type\": \"qwen2\", " LLAMA_BASE ", \"use_sliding_window\": true}", &c),
                VKG_ERROR_MODEL_UNSUPPORTED, "use_sliding_window");
    ASSERT_FAIL(parse_config("{\"model_type\": \"llama\", " LLAMA_BASE ", \"num_key_value_heads\": 3}", &c),
                VKG_ERROR_CONFIG_VALUE, "K/V heads");
    ASSERT_FAIL(parse_config("{\"model_type\": \"llama\", \"hidden_size\": 256, \"num_hidden_layers\": 2,"
                             " \"num_attention_heads\": 8}", &c), VKG_ERROR_CONFIG_FIELD, "intermediate_size");
    ASSERT_FAIL(parse_config("{\"model_type\": \"qwen3\", " LLAMA_BASE ", \"head_dim\": 512}", &c),
                VKG_ERROR_UNSUPPORTED, "head size 512");
}

/* ---- checkpoints: directories, shards, and the GPT-2 mapping ---- */

/* Write a 3-shard checkpoint of `s` with an index; returns nothing, asserts on failure. */
static void write_sharded(const spec *s, const char *dir, const char *extra_map_entry) {
    static const char *const shard[3] = {"model-00001-of-00003.safetensors",
                                         "model-00002-of-00003.safetensors",
                                         "model-00003-of-00003.safetensors"};
    size_t cut[4] = {0, s->n / 3, 2 * s->n / 3, s->n};
    char *idx = malloc(65536);
    assert_non_null(idx);
    size_t len = (size_t)snprintf(idx, 65536, "{\"metadata\": {\"total_size\": 1},\n"
                                               " \"weight_map\": {\n%s",
                                  extra_map_entry ? extra_map_entry : "");
    for (int k = 0; k < 3; k++) {
        spec_write_range(s, dir, shard[k], cut[k], cut[k + 1]);
        for (size_t i = cut[k]; i < cut[k + 1]; i++)
            len += (size_t)snprintf(idx + len, 65536 - len, "  \"%s\": \"%s\"%s\n", s->e[i].name,
                                    shard[k], i + 1 < s->n ? "," : "");
    }
    snprintf(idx + len, 65536 - len, "}}\n");
    assert_int_equal(st_write_text(st_path(dir, "model.safetensors.index.json"), idx), 0);
    assert_int_equal(st_write_config(st_path(dir, "config.json"), L, H, D, V, P), 0);
    free(idx);
}

static void test_sharded(void **state) {
    spec *s = new_spec("transformer.", ST_F16);
    write_sharded(s, *state, NULL);
    check_roundtrip(*state, s);
    check_roundtrip(st_path(*state, "model.safetensors.index.json"), s);
    vkg_checkpoint *c;
    ASSERT_OK(vkg_checkpoint_open(*state, &c));
    assert_int_equal(vkg_checkpoint_shard_count(c), 3);
    assert_int_equal(vkg_checkpoint_tensor_count(c), s->n);
    for (size_t i = 0; i < s->n; i++)
        assert_string_equal(vkg_checkpoint_tensor_at(c, i)->name, s->names[i]);
    assert_null(vkg_checkpoint_tensor_at(c, s->n));
    assert_non_null(strstr(vkg_checkpoint_find(c, "lm_head.weight")->file, "00003-of-00003"));
    vkg_checkpoint_close(c);
    free(s);
}

static void test_sharded_bad(void **state) {
    spec *s = new_spec("transformer.", ST_F32);
    vkg_checkpoint *c;
    /* A map entry pointing at a shard that does not exist. */
    write_sharded(s, *state, "  \"extra.weight\": \"model-00004-of-00003.safetensors\",\n");
    ASSERT_FAIL(vkg_checkpoint_open(*state, &c), VKG_ERROR_IO, "model-00004-of-00003.safetensors");
    assert_null(c);
    /* A map entry for a tensor its shard does not hold. */
    write_sharded(s, *state, "  \"transformer.h.9.ln_1.bias\": \"model-00002-of-00003.safetensors\",\n");
    ASSERT_FAIL(vkg_checkpoint_open(*state, &c), VKG_ERROR_TENSOR_MISSING,
                "tensor transformer.h.9.ln_1.bias");
    /* A shard name climbing out of the directory. */
    write_sharded(s, *state, "  \"x\": \"../elsewhere.safetensors\",\n");
    ASSERT_FAIL(vkg_checkpoint_open(*state, &c), VKG_ERROR_INDEX_JSON, "tensor x");
    /* Not JSON, and JSON without a weight_map. */
    const char *index = st_path(*state, "model.safetensors.index.json");
    assert_int_equal(st_write_text(index, "{\"weight_map\": {\"a\": \"b\""), 0);
    ASSERT_FAIL(vkg_checkpoint_open(*state, &c), VKG_ERROR_INDEX_JSON, "index.json");
    assert_int_equal(st_write_text(index, "{\"metadata\": {}}"), 0);
    ASSERT_FAIL(vkg_checkpoint_open(*state, &c), VKG_ERROR_INDEX_JSON, "weight_map");
    /* The same tensor in two shards: shard 3 gets a copy of wte. */
    write_sharded(s, *state, NULL);
    st_entry dup[MAXT];
    size_t nd = 0;
    for (size_t i = 2 * s->n / 3; i < s->n; i++)
        dup[nd++] = s->e[i];
    dup[nd++] = s->e[0];
    assert_int_equal(st_write(st_path(*state, "model-00003-of-00003.safetensors"), dup, nd), 0);
    ASSERT_FAIL(vkg_checkpoint_open(*state, &c), VKG_ERROR_ST_DUPLICATE_KEY,
                "tensor transformer.wte.weight is in both");
    free(s);
}

static void test_no_model(void **state) {
    vkg_checkpoint *c;
    ASSERT_FAIL(vkg_checkpoint_open(*state, &c), VKG_ERROR_IO, "model.safetensors.index.json");
    ASSERT_FAIL(vkg_checkpoint_open(st_path(*state, "nothing-here"), &c), VKG_ERROR_IO,
                "nothing-here");
    /* Weights but no config.json. */
    spec *s = new_spec("", ST_F32);
    spec_write_range(s, *state, "model.safetensors", 0, s->n);
    ASSERT_FAIL(vkg_checkpoint_open(*state, &c), VKG_ERROR_IO, "config.json");
    /* A config error surfaces through the checkpoint with the file named. */
    assert_int_equal(st_write_text(st_path(*state, "config.json"),
                                   "{\"model_type\": \"bert\", \"n_layer\": 1}"), 0);
    ASSERT_FAIL(vkg_checkpoint_open(*state, &c), VKG_ERROR_MODEL_UNSUPPORTED, "config.json");
    free(s);
}

/* Write the spec after `edit`, then expect the mapping to fail. */
static void expect_map_fail(void **state, spec *s, vkg_status status, const char *needle) {
    spec_write(s, *state);
    vkg_checkpoint *c;
    vkg_model_tensors *g = (vkg_model_tensors *)1;
    ASSERT_OK(vkg_checkpoint_open(*state, &c));
    ASSERT_FAIL(vkg_model_tensors_map(c, &g), status, needle);
    assert_null(g);
    vkg_checkpoint_close(c);
}

static void test_map_missing(void **state) {
    spec *s = new_spec("", ST_F32);
    spec_remove(s, "h.1.mlp.c_proj.bias");
    expect_map_fail(state, s, VKG_ERROR_TENSOR_MISSING,
                    "tensor h.1.mlp.c_proj.bias is missing (looked for h.1.mlp.c_proj.bias and "
                    "transformer.h.1.mlp.c_proj.bias)");
    spec_init(s, "transformer.", ST_F32);
    spec_remove(s, "transformer.wpe.weight");
    expect_map_fail(state, s, VKG_ERROR_TENSOR_MISSING, "wpe.weight");
    free(s);
}

static void test_map_shape(void **state) {
    spec *s = new_spec("", ST_F32);
    spec_get(s, "h.1.mlp.c_fc.weight")->shape[1] = 4 * D - 1;
    expect_map_fail(state, s, VKG_ERROR_TENSOR_SHAPE,
                    "tensor h.1.mlp.c_fc.weight: expected shape [8, 32], file has [8, 31]");
    spec_init(s, "transformer.", ST_F32);
    spec_get(s, "transformer.h.0.attn.c_attn.bias")->ndim = 2; /* [24, 0] */
    expect_map_fail(state, s, VKG_ERROR_TENSOR_SHAPE, "expected shape [24], file has [24, 0]");
    spec_init(s, "transformer.", ST_F32);
    spec_get(s, "lm_head.weight")->shape[0] = V - 1;
    expect_map_fail(state, s, VKG_ERROR_TENSOR_SHAPE, "tensor lm_head.weight");
    free(s);
}

static void test_map_unknown(void **state) {
    spec *s = new_spec("transformer.", ST_F32);
    spec_add(s, "transformer.h.0.attn.rotary.inv_freq", ST_F32, 1, 4, 0);
    expect_map_fail(state, s, VKG_ERROR_TENSOR_UNKNOWN, "tensor transformer.h.0.attn.rotary");
    spec_init(s, "", ST_F32);
    spec_add(s, "h.2.ln_1.weight", ST_F32, 1, D, 0); /* a third layer in a 2-layer config */
    expect_map_fail(state, s, VKG_ERROR_TENSOR_UNKNOWN, "tensor h.2.ln_1.weight");
    spec_init(s, "", ST_F32);
    spec_add(s, "h.01.ln_1.weight", ST_F32, 1, D, 0);
    expect_map_fail(state, s, VKG_ERROR_TENSOR_UNKNOWN, "tensor h.01.ln_1.weight");
    free(s);
}

static void test_map_dtype_and_duplicate(void **state) {
    spec *s = new_spec("", ST_F32);
    spec_get(s, "wte.weight")->dtype = ST_I64;
    spec_get(s, "wte.weight")->shape[0] = V / 2; /* same byte count as the F32 data */
    spec_get(s, "wte.weight")->data = NULL;
    expect_map_fail(state, s, VKG_ERROR_ST_DTYPE, "tensor wte.weight: dtype I64");
    spec_init(s, "", ST_F32);
    spec_add(s, "transformer.ln_f.bias", ST_F32, 1, D, 0);
    expect_map_fail(state, s, VKG_ERROR_ST_DUPLICATE_KEY, "ln_f.bias");
    free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_table),
        cmocka_unit_test(test_f16_exhaustive),
        cmocka_unit_test(test_f16_midpoints),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_convert_arrays),
        cmocka_unit_test(test_check_finite),
        cmocka_unit_test(test_config_ok),
        cmocka_unit_test(test_config_bad),
        cmocka_unit_test(test_config_llama_families),
#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)
        T(test_roundtrip_f32_prefixed),
        T(test_roundtrip_f16_prefixed),
        T(test_roundtrip_bf16_original),
        T(test_roundtrip_f32_original),
        T(test_st_features),
        T(test_bad_weights),
        T(test_bad_empty_and_truncated),
        T(test_bad_header_size),
        T(test_bad_json),
        T(test_bad_duplicate_key),
        T(test_bad_dtype),
        T(test_bad_offsets),
        T(test_bad_overlap),
        T(test_bad_gaps),
        T(test_bad_alignment),
        T(test_bad_size_mismatch),
        T(test_bad_overflow),
        T(test_sharded),
        T(test_sharded_bad),
        T(test_no_model),
        T(test_map_missing),
        T(test_map_shape),
        T(test_map_unknown),
        T(test_map_dtype_and_duplicate),
#undef T
    };
    return cmocka_run_group_tests_name("loader", tests, NULL, NULL);
}
