/*
 * tests/test_cli_errors.c — the bad-input matrix: the built vkgpt binary run on malformed
 * checkpoints, bad prompts and options, and missing or wrong devices. Every case asserts the exit
 * status, that stderr names the problem, and that the process did not die of a signal or print a
 * sanitizer report (under the VKG_SANITIZE build the binary is instrumented too, so a leak or an
 * out-of-bounds access on any of these paths fails its case).
 *
 * The model files are written here (tests/model_fixture.c, tests/st_writer.c) into a temp dir; the
 * text-prompt cases use the real GPT-2 tokenizer in ../shared/gpt2-tokenizer with the synthetic
 * gpt-nano. Not a test of what the model computes (test_model.c, test_cli_run.c do that).
 */
#include "cli_runner.h"
#include "harness.h"
#include "model_fixture.h"
#include "sparse_model.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vkgpt.h"

/* The fixture: a valid 2-layer model (P = 32, V = 64) and one directory per malformed variant. */
enum { L = 2, H = 2, D = 16, V = 64, P = 32 };
static char *root;
static bool have_device;
static char tok_dir[4096];
static int cases;       /* bad-input cases run, printed at the end */
static bool not_a_case; /* set by the validation smoke runs, which are not bad input */

static const char *dir(const char *name) {
    static char buf[8][4096];
    static int slot;
    char *b = buf[slot++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", root, name);
    return b;
}

static char *make_dir(const char *name) {
    const char *d = dir(name);
    assert_int_equal(mkdir(d, 0755), 0);
    return (char *)d;
}

/* A valid model in `name` (returns its path). */
static const char *write_model(const char *name, void (*edit)(ref_gpt2 *)) {
    ref_gpt2 m = {0};
    assert_int_equal(fixture_random(&m, L, H, D, V, P, 7), 0);
    if (edit)
        edit(&m);
    const char *d = make_dir(name);
    assert_int_equal(fixture_write(d, &m, ST_F32, FIXTURE_SAVE_PRETRAINED), 0);
    ref_gpt2_free(&m);
    return d;
}

/* The weight fields point into m->storage (const views); write through storage. */
static void put_nan(ref_gpt2 *m) { m->storage[(m->layers[1].fc_w - m->storage) + 5] = NAN; }
static void put_inf(ref_gpt2 *m) { m->storage[(m->wpe - m->storage) + 3] = -INFINITY; }

static const char *write_config(const char *name, const char *json) {
    const char *d = write_model(name, NULL);
    assert_int_equal(st_write_text(st_path(d, "config.json"), json), 0);
    return d;
}

/* An all-hole checkpoint in a new directory `name` (see sparse_model.h). */
static const char *write_sparse_model(const char *name, uint32_t n_layer, uint32_t n_head, uint32_t d,
                                      uint32_t vocab, uint32_t positions) {
    const char *path = make_dir(name);
    assert_int_equal(sparse_model_write(path, n_layer, n_head, d, vocab, positions), 0);
    return path;
}

static int group_setup(void **state) {
    (void)state;
    root = st_tmpdir_create();
    if (!root)
        return -1;
    vkg_device_info *infos = NULL;
    uint32_t count = 0, def = 0;
    have_device = vkg_devices_list(&infos, &count, &def) == VKG_OK && count > 0;
    free(infos);
    snprintf(tok_dir, sizeof tok_dir, "%s", vkg_test_gpt2_dir());
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    st_tmpdir_remove(root);
    printf("test_cli_errors: %d bad-input cases\n", cases);
    return 0;
}

static void need_device(void) {
    if (have_device)
        return;
    if (getenv("CI") && !strcmp(getenv("CI"), "true"))
        fail_msg("no Vulkan device, and CI=true requires one");
    skip();
}

static void need_tokenizer(void) {
    struct stat st;
    char p[4200];
    snprintf(p, sizeof p, "%s/vocab.json", tok_dir);
    if (stat(p, &st) == 0)
        return;
    if (getenv("CI") && !strcmp(getenv("CI"), "true"))
        fail_msg("%s missing", p);
    skip();
}

/* Run vkgpt with argv (and extra environment); assert the exit status, no crash, no sanitizer
 * report, and that stderr contains every string in `want` (NULL-terminated). */
static void expect_env(int status, const char *const *argv, const char *const *env, const char *const *want) {
    cli_result r = {0};
    cases += !not_a_case;
    assert_int_equal(cli_run(argv, NULL, env, &r), 0);
    const char *err = r.err ? r.err : "";
    /* "vkgpt: validation ..." is how the context reports a validation-layer message. */
    if (r.signaled || strstr(err, "Sanitizer") || strstr(err, "runtime error:") || strstr(err, "vkgpt: validation") ||
        r.status != status) {
        fprintf(stderr, "vkgpt");
        for (size_t i = 0; argv[i]; i++)
            fprintf(stderr, " '%s'", argv[i]);
        fprintf(stderr, "\n  exit %d (signal: %s), expected %d; stderr:\n%s\n", r.status,
                r.signaled ? "yes" : "no", status, err);
        cli_result_free(&r);
        fail_msg("case failed (see above)");
    }
    for (size_t i = 0; want && want[i]; i++)
        if (!strstr(err, want[i])) {
            fprintf(stderr, "stderr lacks \"%s\":\n%s\n", want[i], err);
            cli_result_free(&r);
            fail_msg("message does not name the problem");
        }
    cli_result_free(&r);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define WANT(...) ((const char *const[]){__VA_ARGS__, NULL})
static void expect(int status, const char *const *argv, const char *const *want) {
    expect_env(status, argv, NULL, want);
}

/* ---- model files ---- */

static void test_model_files(void **state) {
    (void)state;
    need_device();
    const char *good = write_model("good", NULL);
    /* The valid model works (so the failures below are about what each one breaks). */
    expect(0, ARGS("run", "-m", good, "--prompt-ids", "1,2,3", "-n", "4", "--temp", "0", "-q"), NULL);

    expect(1, ARGS("run", "-m", dir("does-not-exist"), "--prompt-ids", "1"), WANT("no model at", "does-not-exist"));
    const char *empty = make_dir("empty-dir");
    expect(1, ARGS("run", "-m", empty, "--prompt-ids", "1"), WANT("VKG_ERROR_IO", "no model here", "model.safetensors"));

    const char *notst = write_model("not-safetensors", NULL);
    assert_int_equal(st_write_text(st_path(notst, "model.safetensors"), "this is a text file, not a checkpoint\n"), 0);
    expect(1, ARGS("run", "-m", notst, "--prompt-ids", "1"), WANT("VKG_ERROR_ST_HEADER_SIZE", "model.safetensors"));

    const char *zero = write_model("empty-file", NULL);
    assert_int_equal(st_write_bytes(st_path(zero, "model.safetensors"), "", 0), 0);
    expect(1, ARGS("run", "-m", zero, "--prompt-ids", "1"), WANT("VKG_ERROR_ST_TRUNCATED", "model.safetensors"));

    /* A tensor of 0 bytes where the model needs one: named, with both shapes. */
    const char *zt = write_model("zero-byte-tensor", NULL);
    st_entry e0[] = {{.name = "wte.weight", .dtype = ST_F32, .ndim = 2, .shape = {V, 0}}};
    assert_int_equal(st_write(st_path(zt, "model.safetensors"), e0, 1), 0);
    expect(1, ARGS("run", "-m", zt, "--prompt-ids", "1"), WANT("wte.weight"));

    const char *nan = write_model("nan-weights", put_nan);
    expect(1, ARGS("run", "-m", nan, "--prompt-ids", "1"), WANT("VKG_ERROR_BAD_WEIGHTS", "h.1.mlp.c_fc.weight"));
    const char *inf = write_model("inf-weights", put_inf);
    expect(1, ARGS("run", "-m", inf, "--prompt-ids", "1"), WANT("VKG_ERROR_BAD_WEIGHTS", "wpe.weight"));

    const char *trunc = write_model("header-past-end", NULL);
    assert_int_equal(st_write_bytes(st_path(trunc, "model.safetensors"), "\xff\x00\x00\x00\x00\x00\x00\x00{}", 10), 0);
    expect(1, ARGS("run", "-m", trunc, "--prompt-ids", "1"), WANT("VKG_ERROR_ST_HEADER_SIZE"));

    const char *missing = write_model("missing-tensor", NULL);
    st_entry e1[] = {{.name = "wte.weight", .dtype = ST_F32, .ndim = 2, .shape = {V, D}}};
    assert_int_equal(st_write(st_path(missing, "model.safetensors"), e1, 1), 0);
    expect(1, ARGS("run", "-m", missing, "--prompt-ids", "1"), WANT("VKG_ERROR_TENSOR_MISSING", "wpe.weight"));
    cases += 0;
}

static void test_configs(void **state) {
    (void)state;
    need_device();
    static const struct {
        const char *name, *json, *status, *names;
    } cfg[] = {
        {"cfg-zero-layers", "{\"n_layer\":0,\"n_head\":2,\"n_embd\":16,\"vocab_size\":64,\"n_positions\":32,\"eos_token_id\":0}",
         "VKG_ERROR_CONFIG_VALUE", "n_layer"},
        {"cfg-negative", "{\"n_layer\":2,\"n_head\":-2,\"n_embd\":16,\"vocab_size\":64,\"n_positions\":32,\"eos_token_id\":0}",
         "VKG_ERROR_CONFIG_VALUE", "n_head"},
        {"cfg-zero-positions", "{\"n_layer\":2,\"n_head\":2,\"n_embd\":16,\"vocab_size\":64,\"n_positions\":0,\"eos_token_id\":0}",
         "VKG_ERROR_CONFIG_VALUE", "n_positions"},
        {"cfg-not-divisible", "{\"n_layer\":2,\"n_head\":3,\"n_embd\":16,\"vocab_size\":64,\"n_positions\":32,\"eos_token_id\":0}",
         "VKG_ERROR_CONFIG_VALUE", "n_head"},
        {"cfg-absurd-layers", "{\"n_layer\":100000000,\"n_head\":2,\"n_embd\":16,\"vocab_size\":64,\"n_positions\":32,\"eos_token_id\":0}",
         "VKG_ERROR_CONFIG_VALUE", "n_layer"},
        {"cfg-absurd-context", "{\"n_layer\":2,\"n_head\":2,\"n_embd\":16,\"vocab_size\":64,\"n_positions\":4000000000,\"eos_token_id\":0}",
         "VKG_ERROR_CONFIG_VALUE", "n_positions"},
        {"cfg-missing-field", "{\"n_layer\":2,\"n_head\":2,\"vocab_size\":64,\"n_positions\":32,\"eos_token_id\":0}",
         "VKG_ERROR_CONFIG_FIELD", "n_embd"},
        {"cfg-wrong-type", "{\"n_layer\":\"2\",\"n_head\":2,\"n_embd\":16,\"vocab_size\":64,\"n_positions\":32,\"eos_token_id\":0}",
         "VKG_ERROR_CONFIG_TYPE", "n_layer"},
        {"cfg-not-json", "{\"n_layer\": 2,", "VKG_ERROR_CONFIG_TYPE", "config.json"},
        {"cfg-other-model", "{\"model_type\":\"bert\",\"n_layer\":2,\"n_head\":2,\"n_embd\":16,\"vocab_size\":64,"
         "\"n_positions\":32,\"eos_token_id\":0}", "VKG_ERROR_MODEL_UNSUPPORTED", "bert"},
        {"cfg-llama-with-gpt2-fields", "{\"model_type\":\"llama\",\"n_layer\":2,\"n_head\":2,\"n_embd\":16,"
         "\"vocab_size\":64,\"n_positions\":32}", "VKG_ERROR_CONFIG_FIELD", "hidden_size"},
        {"cfg-yarn", "{\"model_type\":\"qwen2\",\"hidden_size\":16,\"intermediate_size\":32,\"num_hidden_layers\":1,"
         "\"num_attention_heads\":2,\"vocab_size\":64,\"rope_scaling\":{\"type\":\"yarn\",\"factor\":4}}",
         "VKG_ERROR_MODEL_UNSUPPORTED", "yarn"},
        /* Valid JSON, but the file's tensors do not have the shapes it implies. */
        {"cfg-inconsistent-with-weights", "{\"n_layer\":2,\"n_head\":2,\"n_embd\":32,\"vocab_size\":64,"
         "\"n_positions\":32,\"eos_token_id\":0}", "VKG_ERROR_TENSOR_SHAPE", "wte.weight"},
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        const char *d = write_config(cfg[i].name, cfg[i].json);
        expect(1, ARGS("run", "-m", d, "--prompt-ids", "1"), WANT(cfg[i].status, cfg[i].names));
    }
}

/* Weights larger than any device heap, and a KV cache that cannot fit: refused with the sizes,
 * before the loader reads the (sparse, all-hole) file or allocates the cache. */
static void test_out_of_device_memory(void **state) {
    (void)state;
    need_device();
    vkg_device_info *infos = NULL;
    uint32_t count = 0, def = 0;
    assert_int_equal(vkg_devices_list(&infos, &count, &def), VKG_OK);
    uint64_t heap = 0;
    for (uint32_t i = 0; i < infos[def].n_heaps; i++)
        if (infos[def].heaps[i].device_local && infos[def].heaps[i].size > heap)
            heap = infos[def].heaps[i].size;
    free(infos);
    /* Weights: 1024 layers of width 2048 are 206 GB in f32. */
    if (heap < (200ull << 30)) {
        const char *big = write_sparse_model("weights-too-big", 1024, 16, 2048, 64, 64);
        expect(1, ARGS("run", "-m", big, "--prompt-ids", "1"),
               WANT("VKG_ERROR_OUT_OF_DEVICE_MEMORY", "MiB"));
    }
    /* Small weights (1024 layers of width 8: ~3 MB + 32 MB of positions) but a KV cache of
     * 2 x 1024 layers x 2^20 positions x 8 x 4 bytes = 64 GiB. */
    if (heap < (60ull << 30)) {
        const char *ctx = write_sparse_model("context-too-big", 1024, 1, 8, 64, 1u << 20);
        expect(1, ARGS("run", "-m", ctx, "--prompt-ids", "1", "-q", "--ctx-size", "1048576"),
               WANT("VKG_ERROR_OUT_OF_DEVICE_MEMORY", "KV cache", "1048576 positions", "--ctx-size"));
        expect(2, ARGS("run", "-m", ctx, "--prompt-ids", "1", "-q", "--ctx-size", "0"), WANT("--ctx-size"));
        expect(1, ARGS("run", "-m", ctx, "--prompt-ids", "1", "-q", "--ctx-size", "2000000"),
               WANT("VKG_ERROR_INVALID_ARGUMENT", "2000000 positions is more than the model's 1048576"));
    } else {
        print_message("device heap of %llu MiB: the KV-cache case needs a smaller one; not run\n",
                      (unsigned long long)(heap >> 20));
    }
}

/* ---- prompts and options ---- */

static void test_prompts(void **state) {
    (void)state;
    need_device();
    const char *m = write_model("prompts", NULL);
    expect(1, ARGS("run", "-m", m, "--prompt-ids", "1,64", "-q"), WANT("VKG_ERROR_TOKEN_RANGE", "64"));
    expect(1, ARGS("run", "-m", m, "--prompt-ids", "-5", "-q"), WANT("VKG_ERROR_TOKEN_RANGE", "-5"));
    /* 40 tokens into a context of 32. */
    expect(1, ARGS("run", "-m", m, "--prompt-ids", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,"
                   "25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40"), WANT("40 tokens", "32"));
    /* Generation that reaches the end of the context stops there and says so. */
    expect(0, ARGS("run", "-m", m, "--prompt-ids", "1,2", "-n", "100", "--temp", "0", "--ignore-eos", "--ids"),
           WANT("context is full", "32 positions"));
    /* A text prompt needs tokenizer files, which this directory lacks. */
    expect(1, ARGS("run", "-m", m, "-p", "hello"), WANT("tokenizer", "vocab.json"));
    expect(1, ARGS("run", "-m", m, "--prompt-ids", "1", "--dump-logits", dir("no-such-dir/logits.bin")),
           WANT("--dump-logits", "no-such-dir/logits.bin"));

    need_tokenizer();
    expect(2, ARGS("run", "--config", "gpt-nano", "--tokenizer", tok_dir, "-p", ""), WANT("prompt is empty"));
    /* Invalid UTF-8 is accepted (documented in vkgpt.h: each invalid byte is its own piece). */
    expect(0, ARGS("run", "--config", "gpt-nano", "--tokenizer", tok_dir, "-p", "ab\xff\xfe\xc3(", "-n", "2",
                   "--temp", "0", "-q"), NULL);
    expect(1, ARGS("detokenize", "-m", tok_dir, "50257"), WANT("VKG_ERROR_TOKEN_RANGE", "50257"));
    expect(1, ARGS("tokenize", "-m", dir("no-tokenizer-here"), "hi"), WANT("no model at", "no-tokenizer-here"));
    expect(1, ARGS("tokenize", "-m", make_dir("empty-tokenizer-dir"), "hi"), WANT("VKG_ERROR_IO", "vocab.json"));
}

/* Usage errors: exit status 2 and a message naming the option; no device needed. */
static void test_options(void **state) {
    (void)state;
    static const struct {
        const char *argv[10];
        const char *want;
    } bad[] = {
        {{"run", "--config", "gpt-nano", "--prompt-ids", "1", "-n", "0"}, "-n"},
        {{"run", "--config", "gpt-nano", "--prompt-ids", "1", "-n", "-3"}, "-n"},
        {{"run", "--config", "gpt-nano", "--prompt-ids", "1", "-n", "abc"}, "-n"},
        {{"run", "--config", "gpt-nano", "--prompt-ids", "1", "-n", "99999999999999999999"}, "-n"},
        {{"run", "--config", "gpt-nano", "--prompt-ids", "1", "--temp", "-1"}, "--temp"},
        {{"run", "--config", "gpt-nano", "--prompt-ids", "1", "--temp", "nan"}, "--temp"},
        {{"run", "--config", "gpt-nano", "--prompt-ids", "1", "--top-p", "2"}, "--top-p"},
        {{"run", "--config", "gpt-nano", "--prompt-ids", "1", "--top-k", "-1"}, "--top-k"},
        {{"run", "--config", "gpt-nano", "--prompt-ids", "1", "--seed", "-1"}, "--seed"},
        {{"run", "--config", "gpt-nano", "--prompt-ids", "1", "--device", "x"}, "--device"},
        {{"run", "--config", "gpt-nano", "--prompt-ids", "1", "--dtype", "f64"}, "--dtype"},
        {{"run", "--config", "gpt-nano", "--prompt-ids", "1,x"}, "--prompt-ids"},
        {{"run", "--config", "gpt-nano", "--prompt-ids", ","}, "--prompt-ids"},
        /* Regression (fuzz_cli_options): a second, bad --prompt-ids freed the first list twice. */
        {{"run", "--config", "gpt-nano", "--prompt-ids", "1", "--prompt-ids", "2,,x"}, "--prompt-ids"},
        {{"run", "-m", "x", "--config", "gpt-nano", "--prompt-ids", "1"}, "both"},
        {{"run", "--config", "gpt-nano", "-p", "a", "--prompt-ids", "1"}, "only one"},
        {{"run", "--config", "gpt-nano"}, "no prompt"},
        {{"run", "--prompt-ids", "1"}, "no model"},
        {{"run", "--config", "gpt-nano", "--prompt-ids", "1", "--frobnicate"}, "unknown option '--frobnicate'"},
        {{"run", "--config", "gpt-nano", "--prompt-ids"}, "needs a value"},
        {{"demo", "-n", "0"}, "-n"},
        {{"demo", "--config", "gpt-huge"}, "gpt-huge"},
        {{"demo", "--config", "gpt-nano", "-n", "5000"}, "2048"},
        {{"tokenize", "hi"}, "-m"},
        {{"detokenize", "-m", "x"}, "no token ids"},
        {{"frobnicate"}, "unknown command 'frobnicate'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect(2, bad[i].argv, WANT(bad[i].want));
}

/* ---- devices ---- */

static void test_devices(void **state) {
    (void)state;
    const char *run[] = {"run", "--config", "gpt-nano", "--prompt-ids", "1", "-n", "2", "-q", NULL};
    /* No Vulkan driver at all: the loader finds no ICD. Clear error, exit 1, no crash. */
    expect_env(1, run, ARGS("VK_DRIVER_FILES=/nonexistent/icd.json", "VK_ICD_FILENAMES=/nonexistent/icd.json"),
               WANT("VKG_ERROR_NO_DEVICE"));
    expect_env(1, ARGS("devices"), ARGS("VK_DRIVER_FILES=/nonexistent/icd.json", "VK_ICD_FILENAMES=/nonexistent/icd.json"),
               WANT("VKG_ERROR_NO_DEVICE"));
    need_device();
    expect(1, ARGS("run", "--config", "gpt-nano", "--prompt-ids", "1", "--device", "99"),
           WANT("VKG_ERROR_DEVICE_INDEX", "99"));
    expect_env(1, run, ARGS("VKG_DEVICE=garbage"), WANT("VKG_ERROR_DEVICE_INDEX", "VKG_DEVICE", "garbage"));
    expect_env(1, run, ARGS("VKG_DEVICE=-1"), WANT("VKG_ERROR_DEVICE_INDEX", "VKG_DEVICE"));
}

/* The CLI's normal paths (run, demo, bench) with the validation layer and synchronization
 * validation on: no message. */
static void test_validation_smoke(void **state) {
    (void)state;
    need_device();
    const char *on[] = {"VKG_VALIDATION=1", NULL};
    not_a_case = true;
    expect_env(0, ARGS("run", "--config", "gpt-nano", "--prompt-ids", "1,2,3", "-n", "8", "--temp", "0.7", "--ids"),
               on, NULL);
    expect_env(0, ARGS("run", "--config", "gpt-nano", "--prompt-ids", "1,2,3", "-n", "4", "--no-kv-cache", "-q"), on,
               NULL);
    expect_env(0, ARGS("demo", "--config", "gpt-nano", "-n", "16"), on, NULL);
    expect_env(0, ARGS("demo", "--config", "gpt-nano", "-n", "16", "--kv-dtype", "f16"), on, NULL);
    expect_env(0, ARGS("bench", "gen", "--config", "gpt-nano", "-p", "16", "-n", "8", "--reps", "1", "--probe-mib", "8"),
               on, NULL);
    expect_env(0, ARGS("bench", "kv", "--configs", "gpt-nano", "--contexts", "8,32", "--reps", "2"), on, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_model_files),
        cmocka_unit_test(test_configs),
        cmocka_unit_test(test_out_of_device_memory),
        cmocka_unit_test(test_prompts),
        cmocka_unit_test(test_validation_smoke),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
