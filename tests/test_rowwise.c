/*
 * tests/test_rowwise.c — layernorm, rmsnorm (rows and heads), softmax, gelu, swiglu, add, rope,
 * embedding (fp32/fp16/bf16 tables, with and without wpe) and argmax on the device against the CPU
 * reference (tests/ref, tests/ref/ref_norm_rope.c), with guard words before and after every output,
 * unaligned view offsets, in-place calls, replayed recordings and bad shapes. Runs every case for
 * each subgroup size the device can be forced to (powers of two), or the driver's default where it
 * cannot. test_ref_norm_rope_hand checks the new reference itself on hand-computed values (no device).
 *
 * Tolerances (|got - ref| <= atol + rtol |ref|, and NMSE):
 *   gelu, swiglu, add, embedding: rtol 1e-5, NMSE 1e-10, atol 1e-6 (gelu of large negative inputs
 *     is ~1e-30: its exp-based error is relative there, atol only covers denormal flushing).
 *   rmsnorm, rmsnorm_heads: rtol 1e-5, NMSE 1e-10, atol 1e-6 (no mean is subtracted: the error is
 *     relative; fp32 sums of up to 4096 squares).
 *   rope: against the reference on the same fp32 table rtol 1e-5, NMSE 1e-11, atol 1e-6 (outputs
 *     near zero by cancellation carry ~1 ulp of the inputs); against the table-free formula atol
 *     2e-6 (the table's cos/sin are rounded to fp32). Rows at or past P and columns after the
 *     rotated heads must come back bit for bit.
 *   layernorm: rtol 1e-5, NMSE 1e-10, atol 1e-5 — outputs near zero (x near the mean, beta
 *     cancelling) carry the absolute error of the fp32 mean, ~1e-6 of |x| for rows offset by 10.
 *   softmax: rtol 1e-5, NMSE 1e-10, atol 1e-9 — probabilities; the exp of scores far below the
 *     max (e^-30 and less) has the driver's exp error, relative 3 + 2|x| ulp.
 * VKG_TEST_EXHAUSTIVE=1 runs the full rows x widths grids (softmax over 513 x 50257 included).
 */
#include "harness.h"

#include "kernels/rowwise.h"
#include "ref/ref.h"
#include "ref/ref_norm_rope.h"
#include "step.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------ */

static int exhaustive(void) {
    const char *e = getenv("VKG_TEST_EXHAUSTIVE");
    return e && strcmp(e, "1") == 0;
}

/* A device buffer holding n floats at element `pre`, with guard words everywhere else
 * (pre words before, VKG_TEST_GUARD_WORDS after). */
typedef struct dbuf {
    vkg_buffer *buf;
    size_t pre, n;
} dbuf;

static dbuf dbuf_make(vkg_context *ctx, const char *name, const void *data, size_t n, size_t pre) {
    dbuf d = {NULL, pre, n};
    uint64_t bytes = (pre + n + VKG_TEST_GUARD_WORDS) * 4;
    assert_int_equal(vkg_buffer_create(ctx, bytes, VKG_MEMORY_DEVICE, name, &d.buf), VKG_OK);
    assert_int_equal(vkg_buffer_fill(d.buf, 0, bytes, VKG_TEST_GUARD), VKG_OK);
    if (data)
        assert_int_equal(vkg_buffer_upload(d.buf, pre * 4, data, n * 4), VKG_OK);
    return d;
}

static vkg_view dbuf_view(dbuf d) { return (vkg_view){d.buf, d.pre * 4, d.n * 4}; }

/* Download the n payload words and check every guard word. */
static void dbuf_read(dbuf d, void *out, const char *what) {
    size_t total = d.pre + d.n + VKG_TEST_GUARD_WORDS;
    uint32_t *all = malloc(total * 4);
    assert_non_null(all);
    assert_int_equal(vkg_buffer_download(d.buf, 0, all, total * 4), VKG_OK);
    for (size_t i = 0; i < total; i++)
        if ((i < d.pre || i >= d.pre + d.n) && all[i] != VKG_TEST_GUARD) {
            print_error("%s: guard word %zu (payload is [%zu, %zu)) overwritten with 0x%08x\n", what, i, d.pre,
                        d.pre + d.n, all[i]);
            fail();
        }
    memcpy(out, all + d.pre, d.n * 4);
    free(all);
}

/* Subgroup sizes to run with: the driver's choice (0), then each power of two on offer forced
 * (required size with full subgroups) where the device has subgroup size control — even a single
 * size (lavapipe: 8), since requiring it is another pipeline path than the default. */
static uint32_t subgroup_sizes(vkg_context *ctx, uint32_t sizes[8]) {
    const vkg_device_info *info = vkg_context_device(ctx);
    uint32_t n = 0;
    sizes[n++] = 0;
    if (info->subgroup_size_control)
        for (uint32_t s = 1; s <= 128 && n < 8; s *= 2)
            if (s >= info->subgroup_min && s <= info->subgroup_max)
                sizes[n++] = s;
    return n;
}

static vkg_cmd *cmd_begin(vkg_context *ctx, const char *name) {
    vkg_cmd *cmd = NULL;
    assert_int_equal(vkg_cmd_create(ctx, name, &cmd), VKG_OK);
    assert_int_equal(vkg_cmd_begin(cmd), VKG_OK);
    return cmd;
}

static void ok(vkg_status s) {
    if (s != VKG_OK)
        print_error("%s: %s\n", vkg_status_str(s), vkg_last_error());
    assert_int_equal(s, VKG_OK);
}

static void cmd_finish(vkg_cmd *cmd) {
    ok(vkg_cmd_end(cmd));
    ok(vkg_cmd_run(cmd));
    vkg_cmd_destroy(cmd);
}

static float *rand_floats(uint64_t seed, size_t n, float lo, float hi) {
    float *x = malloc((n ? n : 1) * sizeof *x);
    assert_non_null(x);
    ref_rng rng = ref_rng_seed(seed);
    ref_rng_fill(&rng, x, n, lo, hi);
    return x;
}

/* ---- layernorm ---------------------------------------------------------------------------- */

static void layernorm_case(vkg_context *ctx, const vkg_kernels *k, uint32_t rows, uint32_t width, float eps,
                           size_t pre, int in_place) {
    size_t n = (size_t)rows * width;
    float *x = rand_floats(rows * 7919u + width, n, -2.0f, 2.0f);
    for (uint32_t r = 0; r < rows; r++) /* row means up to 40: the two-pass variance must not cancel */
        for (uint32_t c = 0; c < width; c++)
            x[(size_t)r * width + c] += (float)(r % 5) * 10.0f;
    float *g = rand_floats(width + 1, width, 0.5f, 1.5f), *b = rand_floats(width + 2, width, -1.0f, 1.0f);
    float *want = malloc(n * 4), *got = malloc(n * 4);
    ref_layernorm(want, x, g, b, (int)rows, (int)width, eps);

    dbuf dx = dbuf_make(ctx, "ln x", x, n, pre), dg = dbuf_make(ctx, "ln gamma", g, width, 1),
         db = dbuf_make(ctx, "ln beta", b, width, 0);
    dbuf dy = in_place ? dx : dbuf_make(ctx, "ln y", NULL, n, pre + 5);
    vkg_cmd *cmd = cmd_begin(ctx, "layernorm");
    ok(vkg_layernorm(k, cmd, dbuf_view(dy), dbuf_view(dx), dbuf_view(dg), dbuf_view(db), rows, width, eps));
    cmd_finish(cmd);
    char what[128];
    snprintf(what, sizeof what, "layernorm rows %u width %u eps %g%s (subgroup %u)", rows, width, (double)eps,
             in_place ? " in place" : "", k->subgroup_size);
    dbuf_read(dy, got, what);
    vkg_test_check_close(what, got, want, n, 1e-5, 1e-5, 1e-10);
    vkg_buffer_destroy(dx.buf);
    vkg_buffer_destroy(dg.buf);
    vkg_buffer_destroy(db.buf);
    if (!in_place)
        vkg_buffer_destroy(dy.buf);
    free(x), free(g), free(b), free(want), free(got);
}

static void test_layernorm(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    static const uint32_t widths[] = {1, 3, 17, 64, 767, 768, 1600, 3072};
    static const uint32_t rows[] = {1, 2, 7, 64, 513};
    uint32_t sizes[8], n_sizes = subgroup_sizes(ctx, sizes);
    for (uint32_t s = 0; s < n_sizes; s++) {
        vkg_kernels k = vkg_kernels_default(ctx);
        k.subgroup_size = sizes[s];
        for (size_t w = 0; w < VKG_ARRAY_LEN(widths); w++)
            for (size_t r = 0; r < VKG_ARRAY_LEN(rows); r++) {
                if (!exhaustive() && rows[r] == 513 && widths[w] > 768)
                    continue;
                layernorm_case(ctx, &k, rows[r], widths[w], (w + r) % 2 ? 1e-5f : 1e-2f, (w + r) % 3, 0);
            }
        layernorm_case(ctx, &k, 7, 768, 1e-5f, 3, 1);
    }
}

/* ---- softmax ------------------------------------------------------------------------------ */

static void softmax_case(vkg_context *ctx, const vkg_kernels *k, uint32_t rows, uint32_t width, float scale,
                         int causal, int32_t offset, int in_place, int with_inf) {
    size_t n = (size_t)rows * width;
    float *x = rand_floats(rows * 31u + width * 7u + (uint32_t)causal, n, -6.0f, 6.0f);
    if (with_inf) { /* masked scores as attention would pass them; row 0 entirely -inf */
        for (size_t i = 0; i < n; i += 3)
            x[i] = -INFINITY;
        for (uint32_t c = 0; c < width; c++)
            x[c] = -INFINITY;
    }
    float *want = malloc(n * 4), *got = malloc(n * 4);
    ref_softmax(want, x, (int)rows, (int)width, scale, causal, offset);
    dbuf dx = dbuf_make(ctx, "softmax x", x, n, 1);
    dbuf dy = in_place ? dx : dbuf_make(ctx, "softmax y", NULL, n, 2);
    vkg_cmd *cmd = cmd_begin(ctx, "softmax");
    ok(vkg_softmax(k, cmd, dbuf_view(dy), dbuf_view(dx), rows, width, scale, causal, offset));
    cmd_finish(cmd);
    char what[160];
    snprintf(what, sizeof what, "softmax rows %u width %u scale %g causal %d offset %d%s%s (subgroup %u)", rows,
             width, (double)scale, causal, offset, in_place ? " in place" : "", with_inf ? " with -inf" : "",
             k->subgroup_size);
    dbuf_read(dy, got, what);
    vkg_test_check_close(what, got, want, n, 1e-9, 1e-5, 1e-10);
    vkg_buffer_destroy(dx.buf);
    if (!in_place)
        vkg_buffer_destroy(dy.buf);
    free(x), free(want), free(got);
}

static void test_softmax(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    static const uint32_t widths[] = {1, 3, 17, 64, 767, 768, 3072, 50257};
    static const uint32_t rows[] = {1, 2, 7, 64, 513};
    uint32_t sizes[8], n_sizes = subgroup_sizes(ctx, sizes);
    for (uint32_t s = 0; s < n_sizes; s++) {
        vkg_kernels k = vkg_kernels_default(ctx);
        k.subgroup_size = sizes[s];
        for (size_t w = 0; w < VKG_ARRAY_LEN(widths); w++)
            for (size_t r = 0; r < VKG_ARRAY_LEN(rows); r++) {
                if (!exhaustive() && ((rows[r] >= 64 && widths[w] > 3072) || (rows[r] == 513 && widths[w] > 768)))
                    continue;
                softmax_case(ctx, &k, rows[r], widths[w], (r % 2) ? 0.125f : 1.0f, 0, 0, 0, 0);
            }
        /* Causal: prefill (offset 0), a chunk later in the sequence, rows that see nothing
         * (negative offset), and offsets past the width (everything visible). */
        softmax_case(ctx, &k, 64, 64, 0.125f, 1, 0, 0, 0);
        softmax_case(ctx, &k, 7, 767, 1.0f, 1, 300, 0, 0);
        softmax_case(ctx, &k, 17, 20, 1.0f, 1, -5, 0, 0);
        softmax_case(ctx, &k, 5, 3072, 0.5f, 1, 3070, 0, 0);
        softmax_case(ctx, &k, 2, 50257, 1.0f, 1, 40000, 0, 0);
        softmax_case(ctx, &k, 7, 768, 1.0f, 0, 0, 1, 0);  /* in place */
        softmax_case(ctx, &k, 7, 769, 1.0f, 0, 0, 0, 1);  /* -inf scores, one all -inf row */
        softmax_case(ctx, &k, 9, 33, 1.0f, 1, 2, 1, 1);
    }
}

/* ---- gelu and add ------------------------------------------------------------------------- */

static void test_gelu_add(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    static const uint32_t ns[] = {1, 3, 17, 1023, 1025, 50257, 3 * 768 * 4 + 1, 1u << 20};
    uint32_t sizes[8], n_sizes = subgroup_sizes(ctx, sizes);
    for (uint32_t s = 0; s < n_sizes; s++) {
        vkg_kernels k = vkg_kernels_default(ctx);
        k.subgroup_size = sizes[s];
        for (size_t i = 0; i < VKG_ARRAY_LEN(ns); i++) {
            uint32_t n = ns[i];
            float *a = rand_floats(n, n, -8.0f, 8.0f), *b = rand_floats(n + 1, n, -3.0f, 3.0f);
            /* Inputs whose tanh would overflow a naive exp-based tanh, and exact zeros. */
            static const float extremes[] = {0.0f, -0.0f, 30.0f, -30.0f, 100.0f, -100.0f, 1e4f, -1e4f, 1e20f, -1e20f};
            for (size_t e = 0; e < VKG_ARRAY_LEN(extremes) && e < n; e++)
                a[(e * 7919) % n] = extremes[e];
            float *want = malloc(n * 4), *got = malloc(n * 4);
            char what[96];

            ref_gelu(want, a, n);
            dbuf da = dbuf_make(ctx, "a", a, n, i % 3), dy = dbuf_make(ctx, "y", NULL, n, 4);
            vkg_cmd *cmd = cmd_begin(ctx, "gelu");
            ok(vkg_gelu(&k, cmd, dbuf_view(dy), dbuf_view(da), n));
            cmd_finish(cmd);
            snprintf(what, sizeof what, "gelu n %u (subgroup %u)", n, sizes[s]);
            dbuf_read(dy, got, what);
            vkg_test_check_close(what, got, want, n, 1e-6, 1e-5, 1e-10);

            /* In place: gelu(a) into a, then a += b into a; and y = b + b. */
            float *want2 = malloc(n * 4);
            dbuf db = dbuf_make(ctx, "b", b, n, 1);
            cmd = cmd_begin(ctx, "gelu add in place");
            ok(vkg_gelu(&k, cmd, dbuf_view(da), dbuf_view(da), n));
            ok(vkg_add(&k, cmd, dbuf_view(da), dbuf_view(da), dbuf_view(db), n));
            ok(vkg_add(&k, cmd, dbuf_view(dy), dbuf_view(db), dbuf_view(db), n));
            cmd_finish(cmd);
            snprintf(what, sizeof what, "gelu + add in place n %u (subgroup %u)", n, sizes[s]);
            dbuf_read(da, got, what);
            ref_add(want2, want, b, n);
            vkg_test_check_close(what, got, want2, n, 1e-6, 1e-5, 1e-10);
            ref_add(want2, b, b, n); /* an fp32 sum is the correctly rounded double sum: exact */
            snprintf(what, sizeof what, "add b + b n %u (subgroup %u)", n, sizes[s]);
            dbuf_read(dy, got, what);
            for (uint32_t j = 0; j < n; j++)
                if (got[j] != want2[j]) {
                    print_error("%s: element %u: %.9g != %.9g\n", what, j, got[j], want2[j]);
                    fail();
                }
            vkg_buffer_destroy(da.buf);
            vkg_buffer_destroy(db.buf);
            vkg_buffer_destroy(dy.buf);
            free(a), free(b), free(want), free(want2), free(got);
        }
    }
}

/* ---- embedding ---------------------------------------------------------------------------- */

/* A table [rows, d] with a value that is a function of (row, col), so huge tables need no host copy. */
static float table_value(uint64_t salt, uint64_t row, uint64_t col) {
    uint64_t z = (row * 0x9E3779B97F4A7C15ull) ^ (col * 0xBF58476D1CE4E5B9ull) ^ salt;
    z ^= z >> 29;
    z *= 0x94D049BB133111EBull;
    z ^= z >> 32;
    return (float)((double)(z & 0xffffff) / (double)0x1000000 * 4.0 - 2.0);
}

typedef struct table_fill {
    uint64_t salt;
    uint32_t d;
    vkg_storage storage;
} table_fill;

static void fill_table(void *dst, uint64_t off, uint64_t len, void *user) {
    const table_fill *t = user;
    uint32_t eb = vkg_storage_bytes(t->storage);
    for (uint64_t b = 0; b < len; b += eb) {
        uint64_t e = (off + b) / eb;
        float v = table_value(t->salt, e / t->d, e % t->d);
        if (t->storage != VKG_STORAGE_F32) {
            uint16_t h = t->storage == VKG_STORAGE_F16 ? ref_f32_to_f16(v) : ref_f32_to_bf16(v);
            memcpy((char *)dst + b, &h, 2);
        } else {
            memcpy((char *)dst + b, &v, 4);
        }
    }
}

/* Value as the device sees it (after fp16 or bf16 rounding). */
static float table_stored(uint64_t salt, uint64_t row, uint64_t col, vkg_storage s) {
    float v = table_value(salt, row, col);
    return s == VKG_STORAGE_F16    ? ref_f16_to_f32(ref_f32_to_f16(v))
           : s == VKG_STORAGE_BF16 ? ref_bf16_to_f32(ref_f32_to_bf16(v))
                                   : v;
}

static const char *storage_name(vkg_storage s) {
    return s == VKG_STORAGE_F16 ? "f16" : s == VKG_STORAGE_BF16 ? "bf16" : "f32";
}

/* A table at byte `offset` of its own buffer, guard-filled elsewhere. */
static vkg_matrix make_table(vkg_context *ctx, uint64_t salt, uint32_t rows, uint32_t d, vkg_storage s,
                             uint64_t offset) {
    uint64_t bytes = (uint64_t)rows * d * vkg_storage_bytes(s);
    uint64_t total = (offset + bytes + 256 + 3) / 4 * 4; /* fills go by 32-bit words */
    vkg_matrix m = {NULL, offset, rows, d, s};
    assert_int_equal(vkg_buffer_create(ctx, total, VKG_MEMORY_DEVICE, "table", &m.buf), VKG_OK);
    assert_int_equal(vkg_buffer_fill(m.buf, 0, total, VKG_TEST_GUARD), VKG_OK);
    table_fill tf = {salt, d, s};
    ok(vkg_buffer_write(m.buf, offset, bytes, fill_table, &tf, NULL));
    return m;
}

/* Write pos and tokens into a host-visible step buffer. */
static void set_step(vkg_buffer *step, uint32_t pos, const uint32_t *tokens, uint32_t T) {
    uint32_t *w = vkg_buffer_map(step);
    w[0] = pos;
    memcpy(w + VKG_STEP_HEADER_WORDS, tokens, T * 4);
}

/* Run the recorded `cmd` with (pos, tokens) and compare y with the reference; tokens >= V or
 * (with wpe) positions >= P must give zero rows. wpe NULL: y is the token row alone. */
static void embedding_check(vkg_cmd *cmd, vkg_buffer *step, dbuf dy, const vkg_matrix *wte, const vkg_matrix *wpe,
                            uint32_t pos, const uint32_t *tokens, uint32_t T, const char *label) {
    uint32_t d = wte->cols;
    set_step(step, pos, tokens, T);
    ok(vkg_cmd_run(cmd));
    float *got = malloc((size_t)T * d * 4), *want = malloc((size_t)T * d * 4);
    char what[160];
    snprintf(what, sizeof what, "embedding %s V %u d %u T %u pos %u wte %s wpe %s", label, wte->rows, d, T, pos,
             storage_name(wte->storage), wpe ? storage_name(wpe->storage) : "none");
    dbuf_read(dy, got, what);
    for (uint32_t t = 0; t < T; t++)
        for (uint32_t c = 0; c < d; c++) {
            bool bad = tokens[t] >= wte->rows || (wpe && (uint64_t)pos + t >= wpe->rows);
            double v = bad ? 0.0
                           : (double)table_stored(1, tokens[t], c, wte->storage) +
                                 (wpe ? (double)table_stored(2, pos + t, c, wpe->storage) : 0.0);
            want[(size_t)t * d + c] = (float)v;
        }
    vkg_test_check_close(what, got, want, (size_t)T * d, 0.0, 1e-6, 1e-12);
    free(got), free(want);
}

/* spe < 0: no position table (wpe NULL); P then only sets the positions the replays use. */
static void embedding_small(vkg_context *ctx, const vkg_kernels *k, uint32_t V, uint32_t d, uint32_t P, uint32_t T,
                            vkg_storage ste, int spe, uint32_t chunk_rows) {
    vkg_matrix wte = make_table(ctx, 1, V, d, ste, 6 * vkg_storage_bytes(ste)); /* unaligned start */
    vkg_matrix wpe_m = spe >= 0 ? make_table(ctx, 2, P, d, (vkg_storage)spe, 0) : (vkg_matrix){0};
    const vkg_matrix *wpe = spe >= 0 ? &wpe_m : NULL;
    vkg_buffer *step = NULL;
    assert_int_equal(vkg_buffer_create(ctx, (VKG_STEP_HEADER_WORDS + T) * 4, VKG_MEMORY_HOST, "step", &step),
                     VKG_OK);
    dbuf dy = dbuf_make(ctx, "emb y", NULL, (size_t)T * d, 3);
    vkg_cmd *cmd = NULL;
    ok(vkg_cmd_create(ctx, "embedding", &cmd));
    ok(vkg_cmd_begin(cmd));
    ok(vkg_embedding_chunked(k, cmd, dbuf_view(dy), &wte, wpe, vkg_view_whole(step), T, chunk_rows));
    ok(vkg_cmd_end(cmd));
    uint32_t *tok = malloc(T * 4);
    char label[64];
    snprintf(label, sizeof label, "chunk rows %u subgroup %u", chunk_rows, k->subgroup_size);
    /* Replay one recording with different tokens and positions: spanning the vocabulary (both
     * ends, both sides of chunk boundaries), then out-of-range ids and positions. */
    for (uint32_t rep = 0; rep < 3; rep++) {
        for (uint32_t t = 0; t < T; t++)
            tok[t] = (t * 2654435761u + rep * 977u) % V;
        tok[0] = rep == 1 ? V - 1 : 0;
        if (T > 2 && chunk_rows) {
            tok[1] = chunk_rows - 1 < V ? chunk_rows - 1 : V - 1;
            tok[2] = chunk_rows < V ? chunk_rows : 0;
        }
        embedding_check(cmd, step, dy, &wte, wpe, rep * (P - T) / 2, tok, T, label);
    }
    if (T > 1) {
        tok[T - 1] = V;
        tok[0] = 0xffffffffu;
    }
    embedding_check(cmd, step, dy, &wte, wpe, P - T, tok, T, label);
    embedding_check(cmd, step, dy, &wte, wpe, P - 1, tok, T, label);     /* with wpe: rows past P are zeros */
    embedding_check(cmd, step, dy, &wte, wpe, 0xfffffff0u, tok, T, label); /* pos + t wraps 32 bits */
    vkg_cmd_destroy(cmd);
    vkg_buffer_destroy(step);
    vkg_buffer_destroy(dy.buf);
    vkg_buffer_destroy(wte.buf);
    vkg_buffer_destroy(wpe_m.buf);
    free(tok);
}

static void test_embedding(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    const vkg_device_info *info = vkg_context_device(ctx);
    uint32_t sizes[8], n_sizes = subgroup_sizes(ctx, sizes);
    int n_kinds = info->storage_16bit ? 3 : 1; /* f32, f16, bf16 */
    if (n_kinds == 1)
        printf("note: %s has no 16-bit storage: fp16 and bf16 embedding cases skipped\n", info->name);
    for (uint32_t s = 0; s < n_sizes; s++) {
        vkg_kernels k = vkg_kernels_default(ctx);
        k.subgroup_size = sizes[s];
        /* Every wte storage with every wpe storage, and without wpe (spe = -1). */
        for (int te = 0; te < n_kinds; te++)
            for (int pe = -1; pe < n_kinds; pe++) {
                vkg_storage ste = (vkg_storage)te;
                embedding_small(ctx, &k, 300, 768, 40, 7, ste, pe, 0);
                embedding_small(ctx, &k, 300, 64, 40, 33, ste, pe, 16);  /* 19 chunks: 5 dispatches */
                embedding_small(ctx, &k, 97, 17, 9, 3, ste, pe, 0);
                embedding_small(ctx, &k, 50, 1, 4, 1, ste, pe, 0);
            }
        embedding_small(ctx, &k, 1000, 768, 64, 2, VKG_STORAGE_F32, VKG_STORAGE_F32, 300); /* 4 chunks, 1 dispatch */
        embedding_small(ctx, &k, 1000, 768, 64, 2, VKG_STORAGE_F32, -1, 300);
    }
}

/* GPT-2's wte [50257, 768] fp32 (154 MB): more than one binding on lavapipe (128 MiB). */
static void test_embedding_gpt2_wte(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    vkg_kernels k = vkg_kernels_default(ctx);
    const uint32_t V = 50257, d = 768, P = 1024, T = 8;
    vkg_matrix wte = make_table(ctx, 1, V, d, VKG_STORAGE_F32, 0);
    vkg_matrix wpe = make_table(ctx, 2, P, d, VKG_STORAGE_F32, 0);
    vkg_buffer *step = NULL;
    assert_int_equal(vkg_buffer_create(ctx, (VKG_STEP_HEADER_WORDS + T) * 4, VKG_MEMORY_HOST, "step", &step), VKG_OK);
    dbuf dy = dbuf_make(ctx, "emb y", NULL, (size_t)T * d, 0);
    vkg_cmd *cmd = NULL;
    ok(vkg_cmd_create(ctx, "embedding gpt2", &cmd));
    ok(vkg_cmd_begin(cmd));
    ok(vkg_embedding(&k, cmd, dbuf_view(dy), &wte, &wpe, vkg_view_whole(step), T));
    ok(vkg_cmd_end(cmd));
    uint64_t b = vkg_rows_per_binding(ctx, (uint64_t)d * 4); /* the first chunk boundary */
    if (b > V - 2)
        b = V - 2;
    else
        printf("note: wte is bound in chunks of %llu rows\n", (unsigned long long)b);
    uint32_t tok[8] = {0, (uint32_t)b - 1, (uint32_t)b, (uint32_t)b + 1, V - 1, 12345, 50000, (uint32_t)b - 2};
    embedding_check(cmd, step, dy, &wte, &wpe, 0, tok, T, "gpt2");
    uint32_t tok2[8] = {V - 1, V - 2, 1, (uint32_t)b, 0, (uint32_t)b - 1, 40000, 7};
    embedding_check(cmd, step, dy, &wte, &wpe, P - T, tok2, T, "gpt2 replay");
    vkg_cmd_destroy(cmd);
    vkg_buffer_destroy(step);
    vkg_buffer_destroy(dy.buf);
    vkg_buffer_destroy(wte.buf);
    vkg_buffer_destroy(wpe.buf);
}

/* ---- the reference's own norm, rope and swiglu on hand-computed cases (no device) ------------ */

static void near(double got, double want, double tol, const char *what) {
    if (!(fabs(got - want) <= tol)) {
        print_error("%s: %.9g, want %.9g\n", what, got, want);
        fail();
    }
}

static void test_ref_norm_rope_hand(void **state) {
    (void)state;
    /* RoPE at position 1, theta 10000, hd 4: pair 0 turns by 10000^0 = 1 rad, pair 1 by
     * 10000^(-2/4) = 0.01 rad. Written out by hand for both pairings. */
    const double c1 = cos(1.0), s1 = sin(1.0), c2 = cos(0.01), s2 = sin(0.01);
    float x[4] = {1, 2, 3, 4};
    ref_rope_theta(x, 1, 1, 4, 4, 1, 10000.0, REF_ROPE_HALF); /* pairs (0, 2) and (1, 3) */
    near(x[0], 1 * c1 - 3 * s1, 1e-6, "rope half x0");
    near(x[2], 3 * c1 + 1 * s1, 1e-6, "rope half x2");
    near(x[1], 2 * c2 - 4 * s2, 1e-6, "rope half x1");
    near(x[3], 4 * c2 + 2 * s2, 1e-6, "rope half x3");
    float y[4] = {1, 2, 3, 4};
    ref_rope_theta(y, 1, 1, 4, 4, 1, 10000.0, REF_ROPE_ADJACENT); /* pairs (0, 1) and (2, 3) */
    near(y[0], 1 * c1 - 2 * s1, 1e-6, "rope adjacent x0");
    near(y[1], 2 * c1 + 1 * s1, 1e-6, "rope adjacent x1");
    near(y[2], 3 * c2 - 4 * s2, 1e-6, "rope adjacent x2");
    near(y[3], 4 * c2 + 3 * s2, 1e-6, "rope adjacent x3");
    near(ref_rope_inv_freq(10000.0, 128, 32), 0.01, 1e-15, "inv_freq(10000, 128, 32)");
    /* The table path gives the same rotation; position 0 is the identity; rows at or past P stay. */
    float table[3 * 2 * 2], z[3 * 5] = {1, 2, 3, 4, 9, 1, 2, 3, 4, 9, 1, 2, 3, 4, 9};
    ref_rope_table(table, 3, 4, 10000.0, NULL);
    near(table[0], 1.0, 0, "table cos(0)");
    near(table[1], 0.0, 0, "table sin(0)");
    ref_rope(z, 3, 1, 4, 5, 1, 2, table, REF_ROPE_HALF); /* rows at positions 1, 2, 3; P = 2 */
    for (int i = 0; i < 4; i++)
        near(z[i], x[i], 1e-6, "rope table row at position 1");
    near(z[4], 9, 0, "rope leaves the rest of the row");
    for (int i = 5; i < 15; i++)
        near(z[i], (float[]){1, 2, 3, 4, 9}[i % 5], 0, "rope leaves rows at or past P");
    /* RMSNorm: [3, 4] has mean square 12.5. Heads: only the named heads change. */
    float r[2] = {3, 4}, rw[2] = {1, 2};
    ref_rmsnorm(r, r, rw, 1, 2, 0.0f);
    near(r[0], 3 / sqrt(12.5), 1e-6, "rmsnorm y0");
    near(r[1], 8 / sqrt(12.5), 1e-6, "rmsnorm y1");
    float h[7] = {5, 3, 4, 3, 4, 6, 7};
    ref_rmsnorm_heads(h, rw, 1, 2, 2, 7, 1, 0.0f);
    near(h[0], 5, 0, "rmsnorm_heads column 0");
    near(h[1], 3 / sqrt(12.5), 1e-6, "rmsnorm_heads head 0");
    near(h[4], 8 / sqrt(12.5), 1e-6, "rmsnorm_heads head 1");
    near(h[5], 6, 0, "rmsnorm_heads column 5");
    /* SwiGLU: silu(0) = 0, silu(1) = 1 / (1 + e^-1). */
    float gu[4] = {0, 1, 5, 2}, sw[2];
    ref_swiglu(sw, gu, 1, 2);
    near(sw[0], 0, 0, "swiglu silu(0)");
    near(sw[1], 2 / (1 + exp(-1.0)), 1e-6, "swiglu silu(1) * 2");
}

/* ---- rmsnorm ------------------------------------------------------------------------------ */

static void rmsnorm_case(vkg_context *ctx, const vkg_kernels *k, uint32_t rows, uint32_t width, float eps,
                         size_t pre, int in_place) {
    size_t n = (size_t)rows * width;
    float *x = rand_floats(rows * 7717u + width, n, -2.0f, 2.0f);
    for (uint32_t r = 0; r < rows; r++) /* rows of very different scales */
        for (uint32_t c = 0; c < width; c++)
            x[(size_t)r * width + c] *= (float)(1 + r % 4 * 30);
    float *w = rand_floats(width + 3, width, 0.5f, 1.5f);
    float *want = malloc(n * 4), *got = malloc(n * 4);
    ref_rmsnorm(want, x, w, (int)rows, (int)width, eps);
    dbuf dx = dbuf_make(ctx, "rms x", x, n, pre), dw = dbuf_make(ctx, "rms w", w, width, 2);
    dbuf dy = in_place ? dx : dbuf_make(ctx, "rms y", NULL, n, pre + 3);
    vkg_cmd *cmd = cmd_begin(ctx, "rmsnorm");
    ok(vkg_rmsnorm(k, cmd, dbuf_view(dy), dbuf_view(dx), dbuf_view(dw), rows, width, eps));
    cmd_finish(cmd);
    char what[128];
    snprintf(what, sizeof what, "rmsnorm rows %u width %u eps %g%s (subgroup %u)", rows, width, (double)eps,
             in_place ? " in place" : "", k->subgroup_size);
    dbuf_read(dy, got, what);
    vkg_test_check_close(what, got, want, n, 1e-6, 1e-5, 1e-10);
    vkg_buffer_destroy(dx.buf);
    vkg_buffer_destroy(dw.buf);
    if (!in_place)
        vkg_buffer_destroy(dy.buf);
    free(x), free(w), free(want), free(got);
}

static void test_rmsnorm(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    static const uint32_t widths[] = {1, 3, 17, 64, 129, 767, 896, 2048, 4096};
    static const uint32_t rows[] = {1, 2, 7, 64, 513};
    uint32_t sizes[8], n_sizes = subgroup_sizes(ctx, sizes);
    for (uint32_t s = 0; s < n_sizes; s++) {
        vkg_kernels k = vkg_kernels_default(ctx);
        k.subgroup_size = sizes[s];
        for (size_t w = 0; w < VKG_ARRAY_LEN(widths); w++)
            for (size_t r = 0; r < VKG_ARRAY_LEN(rows); r++) {
                if (!exhaustive() && rows[r] == 513 && widths[w] > 896)
                    continue;
                rmsnorm_case(ctx, &k, rows[r], widths[w], (w + r) % 2 ? 1e-5f : 1e-6f, (w + r) % 3, 0);
            }
        rmsnorm_case(ctx, &k, 7, 2048, 1e-5f, 1, 1);
        rmsnorm_case(ctx, &k, 3, 5, 0.0f, 0, 1);
        rmsnorm_case(ctx, &k, 2, 64, 0.5f, 0, 0); /* an eps that matters */
    }
}

/* Qwen3's q/k norm inside qkv rows [T, (H + 2 KVH) hd + extra]: the q heads, then the k heads, in
 * one recording; the v heads and the extra columns must come back bit for bit. */
static void rmsnorm_heads_case(vkg_context *ctx, const vkg_kernels *k, uint32_t T, uint32_t H, uint32_t KVH,
                               uint32_t hd, uint32_t extra, size_t pre) {
    uint32_t stride = (H + 2 * KVH) * hd + extra;
    size_t n = (size_t)T * stride;
    float *x = rand_floats(T * 31u + H * 7u + hd, n, -3.0f, 3.0f);
    float *wq = rand_floats(hd + 11, hd, 0.5f, 1.5f), *wk = rand_floats(hd + 12, hd, 0.5f, 1.5f);
    float *want = malloc(n * 4), *got = malloc(n * 4);
    memcpy(want, x, n * 4);
    ref_rmsnorm_heads(want, wq, (int)T, (int)H, (int)hd, (int)stride, 0, 1e-6f);
    ref_rmsnorm_heads(want, wk, (int)T, (int)KVH, (int)hd, (int)stride, (int)(H * hd), 1e-6f);
    dbuf dx = dbuf_make(ctx, "heads x", x, n, pre), dq = dbuf_make(ctx, "wq", wq, hd, 1),
         dk = dbuf_make(ctx, "wk", wk, hd, 0);
    vkg_cmd *cmd = cmd_begin(ctx, "rmsnorm_heads");
    ok(vkg_rmsnorm_heads(k, cmd, dbuf_view(dx), dbuf_view(dq), T, H, hd, stride, 0, 1e-6f));
    ok(vkg_rmsnorm_heads(k, cmd, dbuf_view(dx), dbuf_view(dk), T, KVH, hd, stride, H * hd, 1e-6f));
    cmd_finish(cmd);
    char what[160];
    snprintf(what, sizeof what, "rmsnorm_heads T %u H %u KVH %u hd %u stride %u cpu %d (subgroup %u)", T, H, KVH,
             hd, stride, k->cpu_tuning, k->subgroup_size);
    dbuf_read(dx, got, what);
    vkg_test_check_close(what, got, want, n, 1e-6, 1e-5, 1e-10);
    for (uint32_t t = 0; t < T; t++)
        for (uint32_t c = (H + KVH) * hd; c < stride; c++)
            if (memcmp(&got[(size_t)t * stride + c], &x[(size_t)t * stride + c], 4) != 0) {
                print_error("%s: row %u column %u (not a q or k head) changed\n", what, t, c);
                fail();
            }
    vkg_buffer_destroy(dx.buf);
    vkg_buffer_destroy(dq.buf);
    vkg_buffer_destroy(dk.buf);
    free(x), free(wq), free(wk), free(want), free(got);
}

static void test_rmsnorm_heads(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    static const uint32_t cases[][5] = {/* T, H, KVH, hd, extra columns */
        {1, 16, 8, 128, 0}, {7, 4, 2, 64, 0}, {33, 3, 1, 80, 5}, {5, 2, 2, 256, 0}, {2, 1, 1, 1, 3},
        {65, 14, 2, 64, 0}, {3, 5, 5, 17, 1}};
    uint32_t sizes[8], n_sizes = subgroup_sizes(ctx, sizes);
    for (uint32_t s = 0; s < n_sizes; s++)
        for (int cpu = 0; cpu < 2; cpu++) {
            vkg_kernels k = vkg_kernels_default(ctx);
            k.subgroup_size = sizes[s];
            k.cpu_tuning = cpu; /* a workgroup per head, or a lane per head */
            for (size_t i = 0; i < VKG_ARRAY_LEN(cases); i++)
                rmsnorm_heads_case(ctx, &k, cases[i][0], cases[i][1], cases[i][2], cases[i][3], cases[i][4], i % 3);
        }
}

/* ---- rope --------------------------------------------------------------------------------- */

typedef struct rope_case {
    uint32_t T, n_heads, hd, extra; /* rows, rotated heads, head_dim, further columns per row */
    uint32_t P;                     /* table positions */
    vkg_rope_pairing pairing;
    double theta;
} rope_case;

/* A step buffer (host-visible) whose header sits at byte `offset`, with pos written there. */
static void set_pos(vkg_buffer *step, uint64_t offset, uint32_t pos) {
    uint32_t *w = (uint32_t *)((char *)vkg_buffer_map(step) + offset);
    w[0] = pos;
}

/* Record rope once and replay it at each position of pos[n_pos]; compare with ref_rope on the same
 * table, check that rows at or past P and the columns after the heads come back bit for bit, and
 * (where `formula`) compare with the table-free rotation too. */
static void rope_case_run(vkg_context *ctx, const vkg_kernels *k, const rope_case *c, const uint32_t *pos,
                          size_t n_pos, int formula) {
    uint32_t stride = c->n_heads * c->hd + c->extra;
    size_t n = (size_t)c->T * stride, nt = (size_t)c->P * c->hd;
    float *x = rand_floats(c->T * 131u + c->hd * 3u + c->n_heads, n, -1.0f, 1.0f);
    float *table = malloc(nt * 4), *want = malloc(n * 4), *got = malloc(n * 4), *formula_want = malloc(n * 4);
    assert_true(table && want && got && formula_want);
    ref_rope_table(table, (int)c->P, (int)c->hd, c->theta, NULL);
    uint64_t align = vkg_max_u32(vkg_context_device(ctx)->min_storage_buffer_offset_alignment, 16);
    dbuf dt = dbuf_make(ctx, "rope table", table, nt, 2); /* an 8-byte aligned, unaligned-binding start */
    dbuf dx = dbuf_make(ctx, "rope x", NULL, n, 1);
    vkg_buffer *step = NULL;
    assert_int_equal(vkg_buffer_create(ctx, align + 64, VKG_MEMORY_HOST, "rope step", &step), VKG_OK);
    vkg_view sv = {step, align, 64}; /* the header at a non-zero (aligned) offset */
    vkg_cmd *cmd = cmd_begin(ctx, "rope");
    ok(vkg_rope(k, cmd, dbuf_view(dx), sv, dbuf_view(dt), c->T, c->n_heads, c->hd, stride, c->P, c->pairing));
    ok(vkg_cmd_end(cmd));
    for (size_t r = 0; r < n_pos; r++) {
        ok(vkg_buffer_upload(dx.buf, dx.pre * 4, x, n * 4));
        set_pos(step, align, pos[r]);
        ok(vkg_cmd_run(cmd));
        char what[200];
        snprintf(what, sizeof what, "rope T %u heads %u hd %u stride %u P %u pos %u %s theta %g (subgroup %u)", c->T,
                 c->n_heads, c->hd, stride, c->P, pos[r], c->pairing == VKG_ROPE_HALF ? "half" : "adjacent",
                 c->theta, k->subgroup_size);
        dbuf_read(dx, got, what);
        memcpy(want, x, n * 4);
        ref_rope(want, (int)c->T, (int)c->n_heads, (int)c->hd, (int)stride, pos[r], (int)c->P, table,
                 (ref_rope_pairing)c->pairing);
        vkg_test_check_close(what, got, want, n, 1e-6, 1e-5, 1e-11);
        for (uint32_t t = 0; t < c->T; t++)
            for (uint32_t col = 0; col < stride; col++) {
                bool untouched = col >= c->n_heads * c->hd || (uint64_t)pos[r] + t >= c->P;
                size_t i = (size_t)t * stride + col;
                if (untouched && memcmp(&got[i], &x[i], 4) != 0) {
                    print_error("%s: row %u column %u should be left as it is\n", what, t, col);
                    fail();
                }
            }
        if (formula && (uint64_t)pos[r] + c->T <= c->P) {
            /* Table-free: angles from theta itself. The table's fp32 cos/sin are off by half an ulp. */
            memcpy(formula_want, x, n * 4);
            ref_rope_theta(formula_want, (int)c->T, (int)c->n_heads, (int)c->hd, (int)stride, pos[r], c->theta,
                           (ref_rope_pairing)c->pairing);
            strncat(what, " vs formula", sizeof what - strlen(what) - 1);
            vkg_test_check_close(what, got, formula_want, n, 2e-6, 1e-5, 1e-11);
        }
    }
    vkg_cmd_destroy(cmd);
    vkg_buffer_destroy(step);
    vkg_buffer_destroy(dt.buf);
    vkg_buffer_destroy(dx.buf);
    free(x), free(table), free(want), free(got), free(formula_want);
}

static void test_rope(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    static const rope_case cases[] = {
        {1, 24, 64, 8 * 64, 4096, VKG_ROPE_HALF, 500000.0},  /* a decode row: q + k heads, then v */
        {7, 3, 128, 1 * 128, 64, VKG_ROPE_HALF, 10000.0},
        {33, 2, 80, 5, 40, VKG_ROPE_ADJACENT, 10000.0},      /* rows past P at the later positions */
        {5, 3, 256, 0, 300, VKG_ROPE_ADJACENT, 1000000.0},
        {3, 1, 2, 1, 9, VKG_ROPE_HALF, 10000.0},
        {65, 6, 64, 3, 200, VKG_ROPE_ADJACENT, 10000.0},
        {2, 5, 256, 0, 8, VKG_ROPE_HALF, 10000.0},
        {1, 1, 6, 0, 4, VKG_ROPE_ADJACENT, 10000.0},
    };
    uint32_t sizes[8], n_sizes = subgroup_sizes(ctx, sizes);
    for (uint32_t s = 0; s < n_sizes; s++) {
        vkg_kernels k = vkg_kernels_default(ctx);
        k.subgroup_size = sizes[s];
        for (size_t i = 0; i < VKG_ARRAY_LEN(cases); i++) {
            const rope_case *c = &cases[i];
            /* Position 0 (identity), 1 (the known angles), one inside, the last rows in range,
             * some rows past P, all past P, and a position whose pos + t wraps 32 bits. */
            uint32_t pos[] = {0, 1, c->P / 3, c->P - c->T, c->P - 1, c->P + 5, 0xfffffff0u};
            size_t n_pos = VKG_ARRAY_LEN(pos);
            if (c->T > c->P)
                n_pos = 2;
            rope_case_run(ctx, &k, c, pos, n_pos, 1);
        }
    }
}

/* Both pairings at every head size the issue names, at position 1 and theta 10000 against the
 * formula (angle of pair i = 10000^(-2i/hd)). */
static void test_rope_known_angles(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    vkg_kernels k = vkg_kernels_default(ctx);
    static const uint32_t hds[] = {64, 128, 80, 256};
    static const uint32_t pos[] = {1, 1000};
    for (size_t h = 0; h < VKG_ARRAY_LEN(hds); h++)
        for (int pairing = 0; pairing < 2; pairing++) {
            rope_case c = {2, 3, hds[h], 0, 1024, (vkg_rope_pairing)pairing, 10000.0};
            rope_case_run(ctx, &k, &c, pos, VKG_ARRAY_LEN(pos), 1);
        }
}

/* ---- swiglu ------------------------------------------------------------------------------- */

static void test_swiglu(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    static const uint32_t cases[][2] = {{1, 1}, {1, 5632}, {7, 17}, {3, 1025}, {513, 64}, {2, 8192}, {5, 3}};
    uint32_t sizes[8], n_sizes = subgroup_sizes(ctx, sizes);
    for (uint32_t s = 0; s < n_sizes; s++) {
        vkg_kernels k = vkg_kernels_default(ctx);
        k.subgroup_size = sizes[s];
        for (size_t i = 0; i < VKG_ARRAY_LEN(cases); i++) {
            uint32_t T = cases[i][0], ff = cases[i][1];
            size_t n = (size_t)T * ff;
            float *gu = rand_floats(T * 17u + ff, 2 * n, -8.0f, 8.0f);
            /* Gates where exp(-g) overflows or vanishes, and zeros. */
            static const float extremes[] = {0.0f, -0.0f, 30.0f, -30.0f, 100.0f, -100.0f, 1e4f, -1e4f};
            for (size_t e = 0; e < VKG_ARRAY_LEN(extremes) && e < n; e++) {
                size_t j = (e * 7919) % n;
                gu[j / ff * 2 * ff + j % ff] = extremes[e];
            }
            float *want = malloc(n * 4), *got = malloc(n * 4);
            ref_swiglu(want, gu, (int)T, (int)ff);
            dbuf dg = dbuf_make(ctx, "gu", gu, 2 * n, i % 3), dy = dbuf_make(ctx, "swiglu y", NULL, n, 2);
            vkg_cmd *cmd = cmd_begin(ctx, "swiglu");
            ok(vkg_swiglu(&k, cmd, dbuf_view(dy), dbuf_view(dg), T, ff));
            cmd_finish(cmd);
            char what[96];
            snprintf(what, sizeof what, "swiglu T %u ff %u (subgroup %u)", T, ff, sizes[s]);
            dbuf_read(dy, got, what);
            vkg_test_check_close(what, got, want, n, 1e-6, 1e-5, 1e-10);
            vkg_buffer_destroy(dg.buf);
            vkg_buffer_destroy(dy.buf);
            free(gu), free(want), free(got);
        }
    }
}

/* ---- argmax ------------------------------------------------------------------------------- */

static void argmax_case(vkg_context *ctx, const vkg_kernels *k, const float *x, uint32_t n, const char *label) {
    uint32_t want = (uint32_t)ref_argmax(x, (int)n);
    dbuf dx = dbuf_make(ctx, "argmax x", x, n, 1);
    dbuf dout = dbuf_make(ctx, "argmax out", NULL, 9, 2); /* index written to element 5 of 9 */
    uint64_t sb = vkg_argmax_scratch_bytes(n);
    dbuf ds = dbuf_make(ctx, "argmax scratch", NULL, sb ? sb / 4 : 1, 0);
    vkg_cmd *cmd = cmd_begin(ctx, "argmax");
    vkg_view out = dbuf_view(dout);
    ok(vkg_argmax(k, cmd, out, 5, dbuf_view(dx), n, (vkg_view){ds.buf, 0, sb ? sb : 4}));
    cmd_finish(cmd);
    uint32_t got[9];
    char what[128];
    snprintf(what, sizeof what, "argmax %s n %u (subgroup %u)", label, n, k->subgroup_size);
    dbuf_read(dout, got, what);
    for (int i = 0; i < 9; i++)
        if (i != 5 && got[i] != VKG_TEST_GUARD) {
            print_error("%s: output word %d overwritten\n", what, i);
            fail();
        }
    if (got[5] != want) {
        print_error("%s: got index %u, reference %u\n", what, got[5], want);
        fail();
    }
    uint32_t *sc = malloc(ds.n * 4);
    dbuf_read(ds, sc, what); /* the guard after the scratch */
    free(sc);
    vkg_buffer_destroy(dx.buf);
    vkg_buffer_destroy(dout.buf);
    vkg_buffer_destroy(ds.buf);
}

static void test_argmax(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    static const uint32_t ns[] = {1, 3, 17, 4096, 4097, 50257, (1u << 20) + 5};
    uint32_t sizes[8], n_sizes = subgroup_sizes(ctx, sizes);
    for (uint32_t s = 0; s < n_sizes; s++) {
        vkg_kernels k = vkg_kernels_default(ctx);
        k.subgroup_size = sizes[s];
        for (size_t i = 0; i < VKG_ARRAY_LEN(ns); i++) {
            uint32_t n = ns[i];
            k.cpu_tuning = i % 2; /* both first-pass splits (64 x 64 or 256 x 4 per group) */
            float *x = rand_floats(n * 3u, n, -50.0f, -1.0f); /* all negative */
            argmax_case(ctx, &k, x, n, "random negative");
            /* Ties: the same maximum at several places, the lowest must win; across workgroups
             * (indices far apart) and within a subgroup (adjacent). */
            uint32_t spots[] = {n - 1, n / 2 + 1, n / 2, n > 2000 ? 1500 : 0, n > 1 ? 1 : 0};
            for (size_t j = 0; j < VKG_ARRAY_LEN(spots); j++)
                x[spots[j] < n ? spots[j] : n - 1] = -0.5f;
            argmax_case(ctx, &k, x, n, "ties");
            /* NaNs are skipped, even where they sit before the maximum; +inf wins. */
            for (uint32_t j = 0; j < n; j += 5)
                x[j] = NAN;
            argmax_case(ctx, &k, x, n, "NaNs");
            x[n - 1] = INFINITY;
            argmax_case(ctx, &k, x, n, "NaN and +inf");
            for (uint32_t j = 0; j < n; j++)
                x[j] = j % 2 ? -INFINITY : NAN;
            argmax_case(ctx, &k, x, n, "-inf and NaN"); /* the first -inf (index 1, or 0 if n = 1) */
            for (uint32_t j = 0; j < n; j++)
                x[j] = NAN;
            argmax_case(ctx, &k, x, n, "all NaN"); /* 0 */
            free(x);
        }
    }
}

/* ---- bad arguments ------------------------------------------------------------------------ */

static void expect(vkg_status s, vkg_status want, const char *needle) {
    if (s != want || !strstr(vkg_last_error(), needle))
        print_error("got %s (%s), want %s naming '%s'\n", vkg_status_str(s), vkg_last_error(), vkg_status_str(want),
                    needle);
    assert_int_equal(s, want);
    assert_non_null(strstr(vkg_last_error(), needle));
}

static void test_bad_shapes(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    vkg_kernels k = vkg_kernels_default(ctx);
    vkg_buffer *buf = NULL, *step = NULL;
    assert_int_equal(vkg_buffer_create(ctx, 4096, VKG_MEMORY_DEVICE, "bad", &buf), VKG_OK);
    assert_int_equal(vkg_buffer_create(ctx, 64, VKG_MEMORY_HOST, "step", &step), VKG_OK);
    vkg_view v = {buf, 0, 1024}, small = {buf, 1024, 64}, odd = {buf, 2, 64};
    vkg_cmd *cmd = cmd_begin(ctx, "bad shapes");
    const vkg_status INV = VKG_ERROR_INVALID_ARGUMENT;

    expect(vkg_layernorm(&k, cmd, v, v, v, v, 0, 8, 1e-5f), INV, "layernorm: shape [0, 8]");
    expect(vkg_layernorm(&k, cmd, v, v, v, v, 8, 0, 1e-5f), INV, "layernorm: shape [8, 0]");
    expect(vkg_layernorm(&k, cmd, v, v, v, small, 8, 32, 1e-5f), INV, "layernorm: beta view of 64 bytes");
    expect(vkg_layernorm(&k, cmd, small, v, v, v, 8, 8, 1e-5f), INV, "layernorm: y view");
    expect(vkg_layernorm(&k, cmd, v, v, v, v, 8, 8, NAN), INV, "layernorm: eps");
    expect(vkg_layernorm(&k, cmd, v, odd, v, v, 2, 8, 1e-5f), INV, "layernorm: x offset 2");
    expect(vkg_softmax(&k, cmd, v, v, 2, 0, 1.0f, false, 0), INV, "softmax: shape [2, 0]");
    expect(vkg_softmax(&k, cmd, v, small, 2, 16, 1.0f, false, 0), INV, "softmax: x view of 64 bytes");
    expect(vkg_softmax(&k, cmd, v, v, 2, 16, INFINITY, false, 0), INV, "softmax: scale");
    expect(vkg_gelu(&k, cmd, v, v, 0), INV, "gelu: 0 elements");
    expect(vkg_gelu(&k, cmd, small, v, 17), INV, "gelu: y view of 64 bytes");
    expect(vkg_add(&k, cmd, v, v, small, 100), INV, "add: b view");
    expect(vkg_add(&k, cmd, v, (vkg_view){NULL, 0, 0}, v, 1), INV, "add: a has no buffer");
    expect(vkg_argmax(&k, cmd, v, 0, v, 0, v), INV, "argmax: 0 elements");
    expect(vkg_argmax(&k, cmd, small, 16, v, 8, v), INV, "argmax: out view");
    {
        vkg_buffer *big = NULL;
        assert_int_equal(vkg_buffer_create(ctx, 50257 * 4, VKG_MEMORY_DEVICE, "big", &big), VKG_OK);
        expect(vkg_argmax(&k, cmd, v, 0, vkg_view_whole(big), 50257, small), INV, "argmax: scratch view");
        vkg_buffer_destroy(big);
    }

    vkg_matrix wte = {buf, 0, 10, 8, VKG_STORAGE_F32}, wpe = {buf, 512, 4, 8, VKG_STORAGE_F32};
    vkg_view sv = vkg_view_whole(step);
    vkg_matrix wpe7 = {buf, 512, 4, 7, VKG_STORAGE_F32}, huge = {buf, 0, 1000, 8, VKG_STORAGE_F32};
    expect(vkg_embedding(&k, cmd, v, &wte, &wpe7, sv, 2), INV, "embedding: wte is [10, 8] but wpe is [4, 7]");
    expect(vkg_embedding(&k, cmd, v, &wte, &wpe, sv, 5), INV, "embedding: T = 5 rows, wpe has 4 positions");
    expect(vkg_embedding(&k, cmd, v, &wte, &wpe, sv, 0), INV, "embedding: T = 0");
    expect(vkg_embedding(&k, cmd, v, &huge, &wpe, sv, 2), INV, "embedding: wte [1000, 8]");
    expect(vkg_embedding(&k, cmd, v, NULL, &wpe, sv, 2), INV, "embedding: wte is missing");
    expect(vkg_embedding(&k, cmd, v, &wte, &wpe, (vkg_view){step, 0, 16}, 2), INV, "embedding: step view");
    expect(vkg_embedding(&k, cmd, small, &wte, &wpe, sv, 3), INV, "embedding: y view of 64 bytes");
    vkg_matrix wte3 = {buf, 0, 10, 8, (vkg_storage)3};
    expect(vkg_embedding(&k, cmd, v, &wte3, NULL, sv, 2), INV, "embedding: wte has unknown storage 3");
    expect(vkg_embedding(&k, cmd, small, &wte, NULL, sv, 3), INV, "embedding: y view of 64 bytes");
    if (!vkg_context_device(ctx)->storage_16bit) { /* e.g. VKG_DISABLE_FP16=1 */
        vkg_matrix wbf = {buf, 0, 10, 8, VKG_STORAGE_BF16};
        expect(vkg_embedding(&k, cmd, v, &wbf, NULL, sv, 2), VKG_ERROR_FEATURE_MISSING,
               "embedding: wte is bf16 but");
        expect(vkg_embedding(&k, cmd, v, &wte, &(vkg_matrix){buf, 512, 4, 8, VKG_STORAGE_F16}, sv, 2),
               VKG_ERROR_FEATURE_MISSING, "embedding: wpe is fp16 but");
    }

    expect(vkg_rmsnorm(&k, cmd, v, v, v, 0, 8, 1e-5f), INV, "rmsnorm: shape [0, 8]");
    expect(vkg_rmsnorm(&k, cmd, v, v, v, 8, 8, NAN), INV, "rmsnorm: eps");
    expect(vkg_rmsnorm(&k, cmd, v, v, v, 8, 8, -1.0f), INV, "rmsnorm: eps");
    expect(vkg_rmsnorm(&k, cmd, v, v, small, 2, 32, 1e-5f), INV, "rmsnorm: w view of 64 bytes");
    expect(vkg_rmsnorm(&k, cmd, small, v, v, 8, 8, 1e-5f), INV, "rmsnorm: y view");
    expect(vkg_rmsnorm_heads(&k, cmd, v, v, 2, 3, 32, 100, 8, 1e-5f), INV,
           "rmsnorm_heads: T 2, 3 heads of 32 at column 8 do not fit rows of 100");
    expect(vkg_rmsnorm_heads(&k, cmd, v, v, 0, 1, 8, 8, 0, 1e-5f), INV, "rmsnorm_heads: T 0");
    expect(vkg_rmsnorm_heads(&k, cmd, v, small, 1, 1, 32, 32, 0, 1e-5f), INV, "rmsnorm_heads: w view");
    expect(vkg_rmsnorm_heads(&k, cmd, small, v, 2, 1, 16, 16, 0, 1e-5f), INV, "rmsnorm_heads: x view");
    expect(vkg_rmsnorm_heads(&k, cmd, v, v, 1, 1, 8, 8, 0, INFINITY), INV, "rmsnorm_heads: eps");
    vkg_view table = {buf, 2048, 1024}; /* 128 (cos, sin) pairs */
    expect(vkg_rope(&k, cmd, v, sv, table, 1, 1, 7, 8, 4, VKG_ROPE_HALF), INV, "rope: head_dim 7 must be even");
    expect(vkg_rope(&k, cmd, v, sv, table, 1, 1, 258, 258, 1, VKG_ROPE_HALF), INV, "at most 256");
    expect(vkg_rope(&k, cmd, v, sv, table, 1, 1, 8, 8, 4, (vkg_rope_pairing)2), INV, "rope: unknown pairing 2");
    expect(vkg_rope(&k, cmd, v, sv, table, 1, 1, 8, 8, 0, VKG_ROPE_HALF), INV, "rope: the table has no positions");
    expect(vkg_rope(&k, cmd, v, sv, table, 1, 3, 8, 16, 4, VKG_ROPE_HALF), INV,
           "rope: T 1, 3 heads of 8 at column 0 do not fit rows of 16");
    expect(vkg_rope(&k, cmd, v, sv, table, 1, 1, 8, 8, 33, VKG_ROPE_HALF), INV, "rope: table view of 1024 bytes");
    expect(vkg_rope(&k, cmd, v, sv, (vkg_view){buf, 2052, 1020}, 1, 1, 8, 8, 4, VKG_ROPE_HALF), INV,
           "rope: table offset 2052 is not a multiple of 8");
    expect(vkg_rope(&k, cmd, v, (vkg_view){step, 0, 8}, table, 1, 1, 8, 8, 4, VKG_ROPE_HALF), INV,
           "rope: step view");
    expect(vkg_rope(&k, cmd, v, (vkg_view){step, 4, 32}, table, 1, 1, 8, 8, 4, VKG_ROPE_HALF), INV,
           "rope: step view (offset 4");
    expect(vkg_rope(&k, cmd, small, sv, table, 2, 1, 16, 16, 4, VKG_ROPE_HALF), INV, "rope: x view");
    expect(vkg_swiglu(&k, cmd, v, v, 2, 0), INV, "swiglu: shape [2, 0]");
    expect(vkg_swiglu(&k, cmd, small, v, 2, 16), INV, "swiglu: y view");
    expect(vkg_swiglu(&k, cmd, v, small, 1, 16), INV, "swiglu: gu view");
    expect(vkg_swiglu(&k, cmd, (vkg_view){buf, 64, 64}, (vkg_view){buf, 0, 128}, 1, 16), INV, "swiglu: y overlaps gu");
    assert_int_equal(vkg_cmd_dispatch_count(cmd), 0);
    cmd_finish(cmd);
    vkg_buffer_destroy(buf);
    vkg_buffer_destroy(step);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_layernorm, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_softmax, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_gelu_add, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_embedding, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_embedding_gpt2_wte, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test(test_ref_norm_rope_hand),
        cmocka_unit_test_setup_teardown(test_rmsnorm, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_rmsnorm_heads, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_rope, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_rope_known_angles, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_swiglu, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_argmax, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_bad_shapes, vkg_test_setup, vkg_test_teardown),
    };
    return cmocka_run_group_tests(tests, vkg_test_group_setup, vkg_test_group_teardown);
}
