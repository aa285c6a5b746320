/*
 * tests/test_coopmat_khr.c — the build-time SPIR-V translator SPV_NV_cooperative_matrix ->
 * SPV_KHR_cooperative_matrix (tools/spirv/coopmat_khr.c) and its command vkg_coopmat_khr. No Vulkan
 * device needed. Inputs are compiled at build time by glslang (tests/test_coopmat_khr.cmake): the
 * current shaders/matmul_coopmat.comp, matmul_q_coopmat.comp's five block-format variants (as the
 * shader build compiled them) and the small shaders in tests/data/coopmat/; a few modules are
 * built word by word here. Outputs are judged by an independent checker (coopmat_khr_check.c).
 *
 * spirv-val (spirv-tools 2023.1 on Debian 12) validates the NV inputs but cannot validate the KHR
 * output: it predates SPV_KHR_cooperative_matrix and rejects capability 6022.
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "coopmat_khr_check.h"
#include "spirv/coopmat_khr.h"
#include "vk/shader_table.h" /* the library's embedded modules: what the shader build shipped */

#ifndef VKG_COOPMAT_SPV_DIR
#error "VKG_COOPMAT_SPV_DIR must name the directory of the test's compiled shaders"
#endif
#ifndef VKG_COOPMAT_KERNEL_SPV
#error "VKG_COOPMAT_KERNEL_SPV must name the NV module the shader build compiled from matmul_coopmat.comp"
#endif

/* ---- helpers ---------------------------------------------------------------------------------- */

/* Where module `name` is: "matmul_coopmat" is the kernel as the shader build compiled it, the others
 * the test's own shaders (tests/data/coopmat). */
static void spv_path(char *path, size_t size, const char *name) {
    if (strcmp(name, "matmul_coopmat") == 0)
        snprintf(path, size, "%s", VKG_COOPMAT_KERNEL_SPV);
    else
        snprintf(path, size, "%s/%s.spv", VKG_COOPMAT_SPV_DIR, name);
}

static uint32_t *load_spv(const char *name, size_t *n) {
    char path[1024];
    spv_path(path, sizeof path, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (built by the shader build or the test_coopmat_khr_inputs target)", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    assert_true(size > 20 && size % 4 == 0);
    uint32_t *w = malloc((size_t)size);
    assert_non_null(w);
    assert_int_equal(fread(w, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *n = (size_t)size / 4;
    return w;
}

/* Offset of the nth (0-based) instruction with opcode op, or 0. */
static size_t find_op(const uint32_t *w, size_t n, uint32_t op, int nth) {
    for (size_t off = 5; off < n && (w[off] >> 16); off += w[off] >> 16)
        if ((w[off] & 0xffffu) == op && nth-- == 0)
            return off;
    return 0;
}

/* Offset of the instruction defining id (by the checker's opcode table), or 0. */
static size_t find_def(const uint32_t *w, size_t n, uint32_t id) {
    for (size_t off = 5; off < n && (w[off] >> 16); off += w[off] >> 16) {
        int has_type, has_result;
        if (!khr_check_result_layout(w[off] & 0xffffu, &has_type, &has_result) && has_result &&
            w[off + (has_type ? 2 : 1)] == id)
            return off;
    }
    return 0;
}

/* Translate and run the independent checker; returns the output (caller frees). */
static uint32_t *translate_checked(const uint32_t *in, size_t n, size_t *n_out, khr_stats *st) {
    uint32_t *out = NULL;
    char err[512], msg[512];
    if (vkg_coopmat_nv_to_khr(in, n, &out, n_out, err, sizeof err))
        fail_msg("translation failed: %s", err);
    if (khr_check(in, n, out, *n_out, st, msg, sizeof msg)) {
        free(out);
        fail_msg("checker: %s", msg);
    }
    return out;
}

/* Expect a refusal whose message contains every given fragment (NULL-terminated). */
static void expect_error(const uint32_t *in, size_t n, ...) {
    uint32_t *out = (uint32_t *)1;
    size_t n_out = 99;
    char err[512];
    int rc = vkg_coopmat_nv_to_khr(in, n, &out, &n_out, err, sizeof err);
    if (rc == 0) {
        free(out);
        fail_msg("translation succeeded, expected an error");
    }
    assert_null(out);
    assert_int_equal(n_out, 0);
    va_list ap;
    va_start(ap, n);
    for (const char *frag; (frag = va_arg(ap, const char *));)
        if (!strstr(err, frag))
            fail_msg("message \"%s\" lacks \"%s\"", err, frag);
    va_end(ap);
}

/* Run argv (argv[0] a path); stdout and stderr go to *text (malloc'd). Returns the exit status,
 * 128 + signal, or -1. */
static int run_prog(const char *const *argv, char **text) {
    FILE *cap = tmpfile();
    assert_non_null(cap);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fileno(cap), 1);
        dup2(fileno(cap), 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int ws = 0;
    if (pid < 0 || waitpid(pid, &ws, 0) < 0) {
        fclose(cap);
        return -1;
    }
    long len = ftell(cap);
    rewind(cap);
    *text = calloc((size_t)(len > 0 ? len : 0) + 1, 1);
    assert_non_null(*text);
    if (len > 0)
        assert_int_equal(fread(*text, 1, (size_t)len, cap), (size_t)len);
    fclose(cap);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

static void make_tmpdir(char *dir, size_t size) {
    const char *t = getenv("TMPDIR");
    snprintf(dir, size, "%s/vkg_coopmat_XXXXXX", t && *t ? t : "/tmp");
    assert_non_null(mkdtemp(dir));
}

/* Number of entries in dir (without . and ..), and remove them and dir. */
static int count_entries(const char *dir, int remove_all) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int count = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        count++;
        if (remove_all) {
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    }
    closedir(d);
    if (remove_all)
        rmdir(dir);
    return count;
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* ---- the real kernel -------------------------------------------------------------------------- */

static void test_matmul_translates(void **state) {
    (void)state;
    size_t n, n_out, n_again;
    khr_stats st;
    uint32_t *in = load_spv("matmul_coopmat", &n);
    uint32_t *out = translate_checked(in, n, &n_out, &st);
    /* Not vacuous: the kernel multiplies, and every use and a load exist. */
    assert_true(st.muladds >= 1);
    assert_true(st.uses[0] >= 1 && st.uses[1] >= 1 && st.uses[2] >= 1);
    assert_true(st.loads >= 1 && st.stores >= 1);
    assert_int_equal(st.col_major + st.row_major, st.loads + st.stores);

    /* Deterministic, and a KHR module is not translated twice. */
    uint32_t *again = NULL;
    char err[256];
    assert_int_equal(vkg_coopmat_nv_to_khr(in, n, &again, &n_again, err, sizeof err), 0);
    assert_int_equal(n_again, n_out);
    assert_memory_equal(again, out, n_out * sizeof *out);
    free(again);
    expect_error(out, n_out, "already", NULL);
    free(out);
    free(in);
}

/* The KHR module the library embeds (written by the command at build time) is this same translation. */
static void test_matmul_build_header(void **state) {
    (void)state;
    size_t n, n_out;
    khr_stats st;
    uint32_t *in = load_spv("matmul_coopmat", &n);
    uint32_t *out = translate_checked(in, n, &n_out, &st);
    const vkg_spirv *shipped = NULL;
    for (size_t i = 0; i < vkg_spirv_table_len; i++)
        if (strcmp(vkg_spirv_table[i].name, "matmul_coopmat_khr") == 0)
            shipped = &vkg_spirv_table[i];
    assert_non_null(shipped);
    assert_int_equal(shipped->size, n_out * sizeof *out);
    assert_memory_equal(shipped->code, out, n_out * sizeof *out);
    free(out);
    free(in);
}

static void test_inputs_pass_spirv_val(void **state) {
    (void)state;
    static const char *const names[] = {"matmul_coopmat", "store_length", "convert",
                                        "ab_same",        "spec_layout",  "no_muladd"};
    if (!VKG_SPIRV_VAL[0])
        skip(); /* spirv-val not installed: the NV inputs go unvalidated */
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[1024], *text = NULL;
        spv_path(path, sizeof path, names[i]);
        const char *argv[] = {VKG_SPIRV_VAL, "--target-env", "vulkan1.2", path, NULL};
        int status = run_prog(argv, &text);
        if (status != 0)
            fail_msg("spirv-val %s: status %d: %s", names[i], status, text);
        free(text);
    }
}

/* The block formats' kernels (shaders/matmul_q_coopmat.comp, one per format): each NV module passes
 * spirv-val, its translation passes the checker with every use, and the library ships exactly that
 * translation as matmul_q_coopmat_khr_<fmt>. */
static void test_quant_kernels(void **state) {
    (void)state;
    static const char *const fmts[] = {"q8_0", "q4_0", "q4_k", "q5_k", "q6_k"};
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
        char path[1024], name[64], *text = NULL;
        snprintf(name, sizeof name, "matmul_q_coopmat_khr_%s", fmts[f]);
        snprintf(path, sizeof path, "%s/%s.nv.spv", VKG_SHADER_SPV_DIR, name);
        if (VKG_SPIRV_VAL[0]) {
            const char *argv[] = {VKG_SPIRV_VAL, "--target-env", "vulkan1.2", path, NULL};
            int status = run_prog(argv, &text);
            if (status != 0)
                fail_msg("spirv-val %s: status %d: %s", path, status, text);
            free(text);
        }
        FILE *fp = fopen(path, "rb");
        if (!fp)
            fail_msg("cannot open %s (written by the shader build)", path);
        fseek(fp, 0, SEEK_END);
        long size = ftell(fp);
        rewind(fp);
        assert_true(size > 20 && size % 4 == 0);
        uint32_t *in = malloc((size_t)size);
        assert_non_null(in);
        assert_int_equal(fread(in, 1, (size_t)size, fp), (size_t)size);
        fclose(fp);
        size_t n_out;
        khr_stats st;
        uint32_t *out = translate_checked(in, (size_t)size / 4, &n_out, &st);
        assert_true(st.muladds >= 1 && st.uses[0] >= 1 && st.uses[1] >= 1 && st.uses[2] >= 1);
        const vkg_spirv *shipped = NULL;
        for (size_t i = 0; i < vkg_spirv_table_len; i++)
            if (strcmp(vkg_spirv_table[i].name, name) == 0)
                shipped = &vkg_spirv_table[i];
        assert_non_null(shipped);
        assert_int_equal(shipped->size, n_out * sizeof *out);
        assert_memory_equal(shipped->code, out, n_out * sizeof *out);
        free(out);
        free(in);
    }
    if (!VKG_SPIRV_VAL[0])
        skip(); /* translated and compared, but the NV modules went unvalidated */
}

/* The checker's opcode table agrees with spirv-dis about which instructions define which ids. */
static void test_checker_table_matches_spirv_dis(void **state) {
    (void)state;
    static const char *const names[] = {"matmul_coopmat", "store_length", "convert"};
    if (!VKG_SPIRV_DIS[0])
        skip();
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n;
        char path[1024], *text = NULL;
        uint32_t *w = load_spv(names[i], &n);
        spv_path(path, sizeof path, names[i]);
        const char *argv[] = {VKG_SPIRV_DIS, "--raw-id", "--no-header", "--no-indent", "--no-color",
                              path, NULL};
        assert_int_equal(run_prog(argv, &text), 0);
        char *line = text;
        size_t insts = 0;
        for (size_t off = 5; off < n; off += w[off] >> 16, insts++) {
            int has_type, has_result;
            assert_non_null(line);
            assert_int_equal(khr_check_result_layout(w[off] & 0xffffu, &has_type, &has_result), 0);
            unsigned id = 0;
            int dis_has = sscanf(line, "%%%u =", &id) == 1;
            if (dis_has != has_result || (has_result && id != w[off + (has_type ? 2 : 1)]))
                fail_msg("%s word %zu: checker says result %d, spirv-dis line: %.60s", names[i], off,
                         has_result, line);
            line = strchr(line, '\n');
            line = line ? line + 1 : NULL;
        }
        assert_true(insts > 20);
        assert_true(line == NULL || *line == 0);
        free(text);
        free(w);
    }
}

/* ---- small shaders ---------------------------------------------------------------------------- */

static void test_store_length_memory_operands(void **state) {
    (void)state;
    size_t n, n_out;
    khr_stats st;
    uint32_t *in = load_spv("store_length", &n);
    /* The input exercises what this test is about: a load with memory operands and a scope id (the
     * coherent buffer), length() as OpSpecConstantOp, a column-major store. */
    size_t load0 = find_op(in, n, 5359, 0);
    assert_true(load0 && (in[load0] >> 16) == 8 && (in[load0 + 6] & 0x10));
    assert_true(find_op(in, n, 52, 0));
    assert_true(find_op(in, n, 5360, 0));

    uint32_t *out = translate_checked(in, n, &n_out, &st);
    assert_int_equal(st.lengths, 1);
    assert_int_equal(st.stores, 1);
    assert_true(st.col_major >= 2 && st.row_major >= 2);
    /* glslang declares %uint_0, _1, _2 after the first matrix type here: three new constants. */
    assert_int_equal(st.new_ids, 3);
    assert_int_equal(out[3], in[3] + 3);
    size_t k0 = find_op(out, n_out, 4457, 0);
    assert_true(k0);
    assert_memory_equal(out + k0 + 6, in + load0 + 6, 2 * sizeof *out); /* mask + scope id */
    free(out);
    free(in);
}

static void test_convert_carries_use(void **state) {
    (void)state;
    size_t n, n_out;
    khr_stats st;
    uint32_t *in = load_spv("convert", &n);
    uint32_t *out = translate_checked(in, n, &n_out, &st);
    assert_int_equal(st.conversions, 1); /* the checker asserted same use and shape across it */
    assert_int_equal(st.uses[0], 1);
    assert_int_equal(st.uses[1], 1);
    assert_int_equal(st.uses[2], 2); /* fp32 accumulator and its fp16 conversion */
    free(out);
    free(in);
}

static void test_refuses_one_type_for_a_and_b(void **state) {
    (void)state;
    size_t n;
    char word[32];
    uint32_t *in = load_spv("ab_same", &n);
    size_t muladd = find_op(in, n, 5361, 0);
    assert_true(muladd);
    assert_int_equal(in[muladd + 3] == in[muladd + 4], 0); /* two values ... */
    snprintf(word, sizeof word, "word %zu", muladd);       /* ... of one type */
    expect_error(in, n, word, "MatrixA", "MatrixB", "distinct type", NULL);
    free(in);
}

static void test_refuses_spec_constant_layout(void **state) {
    (void)state;
    size_t n;
    char word[32];
    uint32_t *in = load_spv("spec_layout", &n);
    size_t load = 0;
    for (int i = 0; (load = find_op(in, n, 5359, i)); i++) {
        size_t d = find_def(in, n, in[load + 5]);
        if (d && (in[d] & 0xffffu) == 49) /* OpSpecConstantFalse */
            break;
    }
    assert_true(load);
    snprintf(word, sizeof word, "word %zu", load);
    expect_error(in, n, word, "specialization constant", NULL);
    free(in);
}

static void test_refuses_type_without_use(void **state) {
    (void)state;
    size_t n;
    char word[32];
    uint32_t *in = load_spv("no_muladd", &n);
    snprintf(word, sizeof word, "word %zu", find_op(in, n, 5358, 0));
    expect_error(in, n, word, "cannot be inferred", NULL);
    free(in);
}

/* ---- hand-built modules ----------------------------------------------------------------------- */

typedef struct mod_buf {
    uint32_t w[256];
    size_t n;
} mod_buf;

static void emit(mod_buf *b, uint32_t op, const uint32_t *ops, size_t n_ops) {
    b->w[b->n++] = (uint32_t)(n_ops + 1) << 16 | op;
    if (n_ops)
        memcpy(b->w + b->n, ops, n_ops * sizeof *ops);
    b->n += n_ops;
}
#define EMIT(b, op, ...) \
    emit(b, op, (const uint32_t[]){__VA_ARGS__}, sizeof((const uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t))

enum { UINT_NONE, UINT_EARLY_2, UINT_LATE };

/* A module with every NV form: loads with Aligned / MakePointerVisible+scope / no memory operands, a
 * column-major store with three memory operands, a plain OpCooperativeMatrixLengthNV. Dimensions are
 * signed-int constants; `uint_mode` adds an OpTypeInt 32 0 (and %uint_2) before the matrix types, one
 * after them, or none. Ids: see the comments; bound 28. */
static void build_module(mod_buf *b, int uint_mode) {
    static const char ext[28] = "SPV_NV_cooperative_matrix";
    uint32_t ext_words[7];
    memcpy(ext_words, ext, sizeof ext_words);
    static const uint32_t header[5] = {0x07230203, 0x00010500, 0, 28, 0}; /* SPIR-V 1.5, bound 28 */
    memcpy(b->w, header, sizeof header);
    b->n = 5;
    EMIT(b, 17, 1);    /* OpCapability Shader */
    EMIT(b, 17, 5345); /* OpCapability VulkanMemoryModel */
    EMIT(b, 17, 5357); /* OpCapability CooperativeMatrixNV */
    emit(b, 10, ext_words, 7);
    EMIT(b, 14, 0, 3);         /* OpMemoryModel Logical Vulkan */
    EMIT(b, 19, 1);            /* %1 void */
    EMIT(b, 33, 2, 1);         /* %2 fn type */
    EMIT(b, 21, 3, 32, 1);     /* %3 int */
    EMIT(b, 43, 3, 4, 3);      /* %4 int 3 (subgroup scope) */
    EMIT(b, 43, 3, 5, 16);     /* %5 int 16 */
    EMIT(b, 43, 3, 6, 8);      /* %6 int 8 */
    EMIT(b, 22, 7, 16);        /* %7 half */
    EMIT(b, 22, 8, 32);        /* %8 float */
    if (uint_mode == UINT_EARLY_2) {
        EMIT(b, 21, 26, 32, 0); /* %26 uint */
        EMIT(b, 43, 26, 27, 2); /* %27 uint 2 */
    }
    EMIT(b, 5358, 9, 7, 4, 5, 5);  /* %9  A: half 16 x 16 */
    EMIT(b, 5358, 10, 7, 4, 5, 6); /* %10 B: half 16 x 8 */
    EMIT(b, 5358, 11, 8, 4, 5, 6); /* %11 C: float 16 x 8 */
    if (uint_mode == UINT_LATE)
        EMIT(b, 21, 26, 32, 0);
    EMIT(b, 20, 12);       /* %12 bool */
    EMIT(b, 41, 12, 13);   /* %13 true */
    EMIT(b, 42, 12, 14);   /* %14 false */
    EMIT(b, 32, 15, 4, 7); /* %15 Workgroup half pointer */
    EMIT(b, 59, 15, 16, 4); /* %16 variable */
    EMIT(b, 32, 17, 4, 8); /* %17 Workgroup float pointer */
    EMIT(b, 59, 17, 18, 4); /* %18 variable */
    EMIT(b, 54, 1, 19, 0, 2); /* %19 main */
    EMIT(b, 248, 20);         /* %20 label */
    EMIT(b, 5359, 9, 21, 16, 5, 14, 0x2, 16);    /* %21 load A, row major, Aligned 16 */
    EMIT(b, 5359, 10, 22, 16, 5, 13, 0x30, 4);   /* %22 load B, col major, Visible|NonPrivate, scope */
    EMIT(b, 5359, 11, 23, 18, 6, 14);            /* %23 load C, no memory operands */
    EMIT(b, 5361, 11, 24, 21, 22, 23);           /* %24 = A * B + C */
    EMIT(b, 5362, 3, 25, 11);                    /* %25 length of C's type */
    EMIT(b, 5360, 18, 24, 6, 13, 0x2a, 4, 4);    /* store, col major, Aligned|Available|NonPrivate */
    emit(b, 253, NULL, 0);                       /* OpReturn */
    emit(b, 56, NULL, 0);                        /* OpFunctionEnd */
}

static void test_hand_module_every_form(void **state) {
    (void)state;
    mod_buf b;
    size_t n_out;
    khr_stats st;
    build_module(&b, UINT_NONE);
    uint32_t *out = translate_checked(b.w, b.n, &n_out, &st);
    assert_int_equal(st.lengths, 1);
    assert_int_equal(st.loads, 3);
    assert_int_equal(st.col_major, 2);
    assert_int_equal(st.row_major, 2);
    assert_int_equal(st.added_int_types, 1);
    assert_int_equal(st.new_ids, 4); /* uint type, constants 0, 1, 2 */
    /* The added OpTypeInt 32 0 and its constants come right before the first matrix type. */
    size_t t0 = find_op(out, n_out, 4456, 0), int0 = find_op(out, n_out, 21, 1);
    assert_true(int0 && out[int0 + 2] == 32 && out[int0 + 3] == 0);
    assert_int_equal(int0 + 4 + 3 * 4, t0);
    /* Memory operands, word for word (the checker's lockstep compared them too). */
    static const uint32_t mem[3][3] = {{0x2, 16, 0}, {0x30, 4, 0}, {0x2a, 4, 4}};
    size_t l0 = find_op(out, n_out, 4457, 0), l1 = find_op(out, n_out, 4457, 1);
    size_t l2 = find_op(out, n_out, 4457, 2), s0 = find_op(out, n_out, 4458, 0);
    assert_memory_equal(out + l0 + 6, mem[0], 2 * sizeof(uint32_t));
    assert_memory_equal(out + l1 + 6, mem[1], 2 * sizeof(uint32_t));
    assert_int_equal(out[l2] >> 16, 6);
    assert_memory_equal(out + s0 + 5, mem[2], 3 * sizeof(uint32_t));
    free(out);
}

static void test_hand_module_reuses_early_constant(void **state) {
    (void)state;
    mod_buf b;
    size_t n_out;
    khr_stats st;
    build_module(&b, UINT_EARLY_2);
    uint32_t *out = translate_checked(b.w, b.n, &n_out, &st);
    assert_int_equal(st.added_int_types, 0);
    assert_int_equal(st.new_ids, 2); /* 0 and 1 are new; %27 = 2 is reused */
    size_t acc = find_op(out, n_out, 4456, 2);
    assert_int_equal(out[acc + 1], 11);
    assert_int_equal(out[acc + 6], 27);
    free(out);
}

static void test_hand_module_late_uint_type(void **state) {
    (void)state;
    mod_buf b;
    char word[32];
    build_module(&b, UINT_LATE);
    snprintf(word, sizeof word, "word %zu", find_op(b.w, b.n, 21, 1));
    expect_error(b.w, b.n, word, "after the first OpTypeCooperativeMatrixNV", NULL);
}

/* ---- garbage ---------------------------------------------------------------------------------- */

static void test_refuses_garbage(void **state) {
    (void)state;
    size_t n;
    char word[32];
    uint32_t *in = load_spv("matmul_coopmat", &n), *w = malloc(n * sizeof *w);
    assert_non_null(w);
#define RESET() memcpy(w, in, n * sizeof *w)

    expect_error(NULL, 0, "empty", NULL);
    expect_error(in, 0, "empty", NULL);
    expect_error(in, 3, "truncated", NULL);
    RESET();
    w[0] = 0xdeadbeef;
    expect_error(w, n, "word 0", "magic", NULL);
    w[0] = 0x03022307;
    expect_error(w, n, "word 0", "byte order", NULL);
    RESET();
    w[1] = 0x00010000;
    expect_error(w, n, "word 1", "1.3", NULL);

    /* Structure: a zero word count, an instruction running past the end. */
    size_t tenth = 5;
    for (int i = 0; i < 10; i++)
        tenth += in[tenth] >> 16;
    RESET();
    w[tenth] &= 0xffffu;
    snprintf(word, sizeof word, "word %zu:", tenth);
    expect_error(w, n, word, "word count 0", NULL);
    RESET();
    assert_true((in[tenth] >> 16) >= 2);
    expect_error(w, tenth + 1, word, "module ends", NULL);

    /* Ids: an operand past the bound, a smaller bound, an id defined twice. */
    RESET();
    size_t muladd = find_op(in, n, 5361, 0);
    w[muladd + 3] = in[3] + 7;
    snprintf(word, sizeof word, "word %zu:", muladd);
    expect_error(w, n, word, "out of range", NULL);
    RESET();
    w[3] = 10;
    size_t first_big = 0;
    for (size_t off = 5; off < n && !first_big; off += in[off] >> 16) {
        int has_type, has_result;
        assert_int_equal(khr_check_result_layout(in[off] & 0xffffu, &has_type, &has_result), 0);
        if ((has_type && in[off + 1] >= 10) || (has_result && in[off + (has_type ? 2 : 1)] >= 10))
            first_big = off;
    }
    snprintf(word, sizeof word, "word %zu:", first_big);
    expect_error(w, n, word, "out of range", NULL);
    RESET();
    size_t t0 = find_op(in, n, 5358, 0), t1 = find_op(in, n, 5358, 1);
    w[t1 + 1] = in[t0 + 1];
    snprintf(word, sizeof word, "word %zu:", t1);
    expect_error(w, n, word, "already defined", NULL);

    /* Nothing to translate, or the extension missing. */
    RESET();
    size_t cap = 0;
    for (int i = 0; (cap = find_op(in, n, 17, i)) && in[cap + 1] != 5357; i++)
        ;
    assert_true(cap);
    w[cap + 1] = 1;
    expect_error(w, n, "no OpCapability CooperativeMatrixNV", NULL);
    RESET();
    size_t ext = 0;
    for (int i = 0; (ext = find_op(in, n, 10, i)) && memcmp(in + ext + 1, "SPV_NV", 6); i++)
        ;
    assert_true(ext);
    w[ext + 1] ^= 0x20; /* "sPV_NV..." */
    expect_error(w, n, "without OpExtension", NULL);

    /* A short error buffer gets a terminated prefix; no buffer at all is fine. */
    char small[12];
    uint32_t *out = NULL;
    size_t n_out = 0;
    memset(small, 'x', sizeof small);
    assert_int_not_equal(vkg_coopmat_nv_to_khr(w, n, &out, &n_out, small, sizeof small), 0);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_int_not_equal(vkg_coopmat_nv_to_khr(w, n, &out, &n_out, NULL, 0), 0);
    assert_null(out);
#undef RESET
    free(w);
    free(in);
}

/* ---- the command ------------------------------------------------------------------------------ */

static void test_cli_bad_inputs(void **state) {
    (void)state;
    char dir[512], in[600], out[600], *text = NULL;
    make_tmpdir(dir, sizeof dir);
    snprintf(in, sizeof in, "%s/bad.spv", dir);
    snprintf(out, sizeof out, "%s/bad.h", dir);

    static const char text24[] = "this is no SPIR-V module"; /* 24 bytes: a header's worth of words */
    write_file(in, text24, 24);
    const char *argv[] = {VKG_COOPMAT_KHR_BIN, in, out, "arr", NULL};
    assert_int_equal(run_prog(argv, &text), 1);
    if (!strstr(text, in) || !strstr(text, "magic"))
        fail_msg("message \"%s\" should name %s and the bad magic", text, in);
    free(text);
    assert_int_equal(count_entries(dir, 0), 1); /* no OUT, no temporary left behind */

    write_file(in, text24, 23);
    assert_int_equal(run_prog(argv, &text), 1);
    assert_non_null(strstr(text, "multiple of 4"));
    free(text);
    unlink(in);
    assert_int_equal(run_prog(argv, &text), 1); /* missing */
    assert_non_null(strstr(text, in));
    free(text);
    assert_int_equal(count_entries(dir, 0), 0);

    char spv[1024];
    spv_path(spv, sizeof spv, "matmul_coopmat");
    const char *bad_name[] = {VKG_COOPMAT_KHR_BIN, spv, out, "9lives", NULL};
    assert_int_equal(run_prog(bad_name, &text), 1);
    assert_non_null(strstr(text, "9lives"));
    free(text);
    const char *few[] = {VKG_COOPMAT_KHR_BIN, spv, NULL};
    assert_int_equal(run_prog(few, &text), 1);
    assert_non_null(strstr(text, "usage"));
    free(text);
    assert_int_equal(count_entries(dir, 1), 0);
}

static void test_cli_writes_header(void **state) {
    (void)state;
    char dir[512], out[600], spv[1024], *text = NULL;
    size_t n, n_out;
    khr_stats st;
    make_tmpdir(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/m.h", dir);
    spv_path(spv, sizeof spv, "matmul_coopmat");
    const char *argv[] = {VKG_COOPMAT_KHR_BIN, spv, out, "vkg_cli_test", NULL};
    int status = run_prog(argv, &text);
    if (status != 0)
        fail_msg("status %d: %s", status, text);
    free(text);

    FILE *f = fopen(out, "r");
    assert_non_null(f);
    char *h = calloc(1 << 20, 1);
    assert_non_null(h);
    size_t len = fread(h, 1, (1 << 20) - 1, f);
    fclose(f);
    assert_int_equal(count_entries(dir, 1), 1); /* just OUT: the temporary was renamed */
    assert_true(len > 0);
    assert_non_null(strstr(h, "#pragma once"));
    assert_non_null(strstr(h, "#include <stdint.h>"));
    char *body = strstr(h, "const uint32_t vkg_cli_test[] = {");
    assert_non_null(body);

    uint32_t *in = load_spv("matmul_coopmat", &n);
    uint32_t *want = translate_checked(in, n, &n_out, &st);
    size_t i = 0;
    for (char *p = strchr(body, '{') + 1, *end; *p && *p != '}'; p = end) {
        unsigned long v = strtoul(p, &end, 16);
        if (end == p) {
            end = p + 1;
            continue;
        }
        assert_true(i < n_out);
        assert_int_equal(v, want[i]);
        i++;
    }
    assert_int_equal(i, n_out);
    free(want);
    free(in);
    free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_translates),
        cmocka_unit_test(test_matmul_build_header),
        cmocka_unit_test(test_inputs_pass_spirv_val),
        cmocka_unit_test(test_quant_kernels),
        cmocka_unit_test(test_checker_table_matches_spirv_dis),
        cmocka_unit_test(test_store_length_memory_operands),
        cmocka_unit_test(test_convert_carries_use),
        cmocka_unit_test(test_refuses_one_type_for_a_and_b),
        cmocka_unit_test(test_refuses_spec_constant_layout),
        cmocka_unit_test(test_refuses_type_without_use),
        cmocka_unit_test(test_hand_module_every_form),
        cmocka_unit_test(test_hand_module_reuses_early_constant),
        cmocka_unit_test(test_hand_module_late_uint_type),
        cmocka_unit_test(test_refuses_garbage),
        cmocka_unit_test(test_cli_bad_inputs),
        cmocka_unit_test(test_cli_writes_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
