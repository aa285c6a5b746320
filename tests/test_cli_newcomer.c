/*
 * tests/test_cli_newcomer.c — what a new user meets first (issue 15), run through the built vkgpt
 * binary: a missing -m path is reported as "no model at ..." before anything else, in every command
 * that takes -m, even without a Vulkan driver; the demo's progress (plain lines when stderr is not a
 * terminal, one line redrawn with \r on a pseudo-terminal, erased before the results); the demo's
 * default length chosen by the default device's type; synthetic models saying so once; and a prompt
 * long enough to be prefilled in pieces (cli/progress.c) continuing exactly as the CPU reference's
 * greedy decoding does.
 *
 * Not covered here: the progress of model uploads and bench phases (shown only after 1-2 s, longer
 * than these tiny models take) and scripts/deps.sh (tests/test_deps.sh).
 *
 * The device-free cases always run; the rest need a device and, without one, make the program exit
 * 77 (ctest: skipped) unless CI=true or VKG_REQUIRE_DEVICE=1 make that a failure.
 */
#include "cli_runner.h"
#include "harness.h"
#include "model_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static bool have_device;
/* Device runs have the validation layer on: the CLI's Vulkan use must be clean on these paths too. */
static const char *const validate[] = {"VKG_VALIDATION=1", NULL};

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Run; on an unexpected status print both streams. No validation message either. */
static void run_status(const char *const *argv, const char *const *env, int status, cli_result *r) {
    assert_int_equal(cli_run(argv, NULL, env, r), 0);
    if (r->signaled || r->status != status)
        print_error("vkgpt %s ...: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s\n", argv[0], r->status, status,
                    r->out, r->err);
    assert_false(r->signaled);
    assert_int_equal(r->status, status);
    if (strstr(r->err, "vkgpt: validation"))
        print_error("validation message:\n%s\n", r->err);
    assert_null(strstr(r->err, "vkgpt: validation"));
}

static void has(const char *what, const char *text, const char *needle) {
    if (!strstr(text, needle))
        print_error("%s lacks \"%s\":\n%s\n", what, needle, text);
    assert_non_null(strstr(text, needle));
}

static void lacks(const char *what, const char *text, const char *needle) {
    if (strstr(text, needle))
        print_error("%s has \"%s\":\n%s\n", what, needle, text);
    assert_null(strstr(text, needle));
}

/* ---- without a device ---- */

static void test_missing_model(void **state) {
    (void)state;
    const char *m = "/nonexistent/models/gpt2";
    /* No Vulkan driver at all: were the device opened first, it would be the error shown. */
    const char *const no_driver[] = {"VK_DRIVER_FILES=/nonexistent/icd.json", "VK_ICD_FILENAMES=/nonexistent/icd.json",
                                     NULL};
    static const struct {
        const char *argv[8]; /* "@M" stands for the missing path */
        const char *cmd;
    } cases[] = {
        {{"run", "-m", "@M", "--prompt-ids", "1"}, "run"},
        /* a text prompt: the tokenizer (read from the model's directory) was what failed first */
        {{"run", "-m", "@M", "-p", "The meaning of life is", "-n", "64"}, "run"},
        {{"run", "--model", "@M", "-i"}, "run"},
        {{"tokenize", "-m", "@M", "Hello world"}, "tokenize"},
        {{"detokenize", "-m", "@M", "15496", "995"}, "detokenize"},
        {{"bench", "gen", "-m", "@M"}, "bench gen"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[8];
        for (int k = 0; k < 8; k++)
            argv[k] = cases[i].argv[k] && !strcmp(cases[i].argv[k], "@M") ? m : cases[i].argv[k];
        cli_result r;
        run_status(argv, no_driver, 1, &r);
        char want[256];
        snprintf(want, sizeof want, "vkgpt %s: no model at %s (No such file or directory)", cases[i].cmd, m);
        /* First thing said, and nothing about what would have failed next. */
        if (strncmp(r.err, want, strlen(want)) != 0)
            print_error("case %zu: stderr does not start with \"%s\":\n%s\n", i, want, r.err);
        assert_int_equal(strncmp(r.err, want, strlen(want)), 0);
        has("stderr", r.err, "Getting a model");
        lacks("stderr", r.err, "tokenizer");
        lacks("stderr", r.err, "VKG_ERROR");
        cli_result_free(&r);
    }
    /* A quoted ~ reaches vkgpt unexpanded: say so. */
    cli_result r;
    run_status(ARGS("run", "-m", "~/no-such-dir-vkgpt/gpt2", "--prompt-ids", "1"), no_driver, 1, &r);
    has("stderr", r.err, "no model at ~/no-such-dir-vkgpt/gpt2");
    has("stderr", r.err, "'~' is not expanded");
    cli_result_free(&r);
}

/* --help of run and demo say why the synthetic models have 2048 positions. */
static void test_help_explains_2048(void **state) {
    (void)state;
    static const char *const cmds[] = {"run", "demo"};
    for (int i = 0; i < 2; i++) {
        cli_result r;
        run_status(ARGS(cmds[i], "--help"), NULL, 0, &r);
        has("--help", r.out, "2048 positions");
        has("--help", r.out, "1024");
        has("--help", r.out, "T = 1536");
        cli_result_free(&r);
    }
}

/* ---- with a device ---- */

static void need_device(void) {
    if (!have_device)
        skip();
}

static void test_synthetic_notice(void **state) {
    (void)state;
    need_device();
    const char *notice = "vkgpt: synthetic gpt-nano: random weights, the text is noise\n";
    cli_result r;
    run_status(ARGS("run", "--config", "gpt-nano", "--prompt-ids", "1,2", "-n", "3", "--temp", "0", "--ids"), validate,
               0, &r);
    if (count(r.err, notice) != 1)
        print_error("the notice should appear once:\n%s\n", r.err);
    assert_int_equal(count(r.err, notice), 1);
    cli_result_free(&r);
    run_status(ARGS("run", "--config", "gpt-nano", "--prompt-ids", "1,2", "-n", "3", "--temp", "0", "--ids", "-q"),
               validate, 0, &r);
    assert_string_equal(r.err, ""); /* -q: nothing at all on stderr */
    cli_result_free(&r);
    run_status(ARGS("demo", "--config", "gpt-nano", "-n", "4"), validate, 0, &r);
    assert_int_equal(count(r.err, notice), 1);
    cli_result_free(&r);
}

/* stderr not a terminal: one plain line per phase, in order, and no \r anywhere. */
static void test_demo_plain_progress(void **state) {
    (void)state;
    need_device();
    cli_result r;
    run_status(ARGS("demo", "--config", "gpt-nano", "-n", "16"), validate, 0, &r);
    has("stdout", r.out, "generating 16 tokens greedily (-n)");
    has("stdout", r.out, "sequences identical: yes (16 tokens)");
    const char *warm = strstr(r.err, "\nvkgpt: warm-up: 2/2 modes in ");
    const char *with = strstr(r.err, "\nvkgpt: with KV cache: 16/16 tokens in ");
    const char *without = strstr(r.err, "\nvkgpt: without KV cache: 16/16 tokens in ");
    if (!warm || !with || !without || !(warm < with && with < without))
        print_error("stderr lacks the three phase lines in order:\n%s\n", r.err);
    assert_true(warm && with && without && warm < with && with < without);
    assert_int_equal(count(r.err, "vkgpt: with KV cache:"), 1);
    assert_int_equal(count(r.err, "vkgpt: without KV cache:"), 1);
    assert_null(strchr(r.err, '\r'));
    /* each line ends with the rate: "... in 0.12 s (130.5 tokens/s)" */
    has("stderr", with, " tokens/s)\n");
    cli_result_free(&r);
}

/* A terminal: the phase line is redrawn in place with the counts, rate, elapsed time and estimate,
 * then erased (spaces, \r) just before the result the command prints. */
static void test_demo_terminal_progress(void **state) {
    (void)state;
    need_device();
    cli_result r;
    assert_int_equal(cli_run_tty(ARGS("demo", "--config", "gpt-nano", "-n", "32"), validate, &r), 0);
    if (r.status != 0)
        print_error("exit %d:\n%s\n", r.status, r.out);
    assert_int_equal(r.status, 0);
    static const char *const phases[] = {"with KV cache", "without KV cache"};
    for (int i = 0; i < 2; i++) {
        char start[96], last[64], result[64];
        snprintf(start, sizeof start, "\rvkgpt: %s  0/32 tokens  0:00 elapsed  ETA ?", phases[i]);
        snprintf(last, sizeof last, "\rvkgpt: %s  ", phases[i]);
        has("terminal", r.out, start);
        /* the result line follows the erase (spaces over the progress line, then \r) */
        snprintf(result, sizeof result, "\r%s:", phases[i]);
        const char *res = strstr(r.out, result);
        if (!res || res - r.out < 2 || res[-1] != ' ')
            print_error("the %s result does not follow an erased progress line:\n%s\n", phases[i], r.out);
        assert_true(res && res - r.out >= 2 && res[-1] == ' ');
        /* the redrawn line carried a rate and an estimate at some point */
        const char *p = strstr(r.out, last);
        assert_non_null(p);
        assert_true(p < res);
    }
    lacks("terminal", r.out, "vkgpt: validation");
    has("terminal", r.out, "tokens/s  ");
    has("terminal", r.out, " elapsed  ETA ");
    lacks("terminal", r.out, "tokens in "); /* no plain lines on a terminal */
    cli_result_free(&r);
}

/* Without -n: 511 tokens on a GPU, fewer on a CPU device, and the output says which and why. */
static void test_demo_default_length(void **state) {
    (void)state;
    need_device();
    vkg_device_info *infos = NULL;
    uint32_t n = 0, def = 0;
    assert_int_equal(vkg_devices_list(&infos, &n, &def), VKG_OK);
    const char *env_dev = getenv("VKG_DEVICE");
    if (env_dev && *env_dev)
        def = (uint32_t)strtoul(env_dev, NULL, 10);
    assert_true(def < n);
    bool cpu = infos[def].type == VKG_DEVICE_CPU;
    free(infos);
    unsigned want = cpu ? 192 : 511;
    cli_result r;
    /* Without the validation layer: its cost on every dispatch would make this the slowest case. */
    run_status(ARGS("demo", "--config", "gpt-nano"), NULL, 0, &r);
    char line[160];
    snprintf(line, sizeof line, "generating %u tokens greedily: the default on %s", want, cpu ? "a CPU device" : "a GPU");
    has("stdout", r.out, line);
    if (cpu)
        has("stdout", r.out, "-n 511");
    snprintf(line, sizeof line, "sequences identical: yes (%u tokens)", want);
    has("stdout", r.out, line);
    snprintf(line, sizeof line, "vkgpt: without KV cache: %u/%u tokens in ", want, want);
    has("stderr", r.err, line);
    cli_result_free(&r);
}

/* A prompt of 300 tokens is prefilled in pieces of 128 (cli_prefill); the logits of every generated
 * position (--dump-logits) and the greedy continuation must be the CPU reference's for the whole
 * 300-token prompt. */
static void test_long_prompt_in_pieces(void **state) {
    (void)state;
    need_device();
    enum { L = 2, H = 2, D = 32, V = 64, P = 320, NP = 300, NG = 4 };
    ref_gpt2 m = {0};
    assert_int_equal(fixture_random(&m, L, H, D, V, P, 15), 0);
    char *dir = st_tmpdir_create();
    assert_non_null(dir);
    assert_int_equal(fixture_write(dir, &m, ST_F32, FIXTURE_SAVE_PRETRAINED), 0);
    int32_t seq[P];
    char ids[NP * 4];
    size_t used = 0;
    uint32_t x = 15; /* an LCG: no period within the prompt, so no piece repeats another */
    for (int i = 0; i < NP; i++) {
        x = x * 1103515245u + 12345u;
        seq[i] = (int32_t)((x >> 16) % V);
        used += (size_t)snprintf(ids + used, sizeof ids - used, "%s%d", i ? "," : "", seq[i]);
    }
    float *logits = malloc((size_t)P * V * sizeof *logits), *want = malloc((size_t)NG * V * sizeof *want);
    assert_true(logits && want);
    char expect[64];
    size_t k = 0;
    for (int g = 0; g < NG; g++) {
        assert_int_equal(ref_gpt2_forward(&m, seq, NP + g, logits), 0);
        memcpy(want + (size_t)g * V, logits + (size_t)(NP + g - 1) * V, V * sizeof *want);
        seq[NP + g] = ref_argmax(logits + (size_t)(NP + g - 1) * V, V);
        k += (size_t)snprintf(expect + k, sizeof expect - k, "%s%d", g ? " " : "", seq[NP + g]);
    }
    snprintf(expect + k, sizeof expect - k, "\n");
    char dump[4200];
    snprintf(dump, sizeof dump, "%s/logits.bin", dir);
    cli_result r;
    run_status(ARGS("run", "-m", dir, "--prompt-ids", ids, "-n", "4", "--temp", "0", "--ids", "--ignore-eos",
                    "--dump-logits", dump), validate, 0, &r);
    /* one row of V floats per generated token; row 0 is the prompt's last position */
    float got[NG * V];
    FILE *f = fopen(dump, "rb");
    assert_non_null(f);
    assert_int_equal(fread(got, sizeof(float), NG * V, f), NG * V);
    fclose(f);
    for (int g = 0; g < NG; g++) {
        char what[64];
        snprintf(what, sizeof what, "logits after %d prompt + %d generated tokens", NP, g);
        vkg_test_check_close(what, got + (size_t)g * V, want + (size_t)g * V, V, 1e-4, 1e-3, 1e-8);
    }
    if (strcmp(r.out, expect) != 0)
        print_error("run: %s   reference: %s", r.out, expect);
    assert_string_equal(r.out, expect);
    has("stderr", r.err, "prompt 300 tokens in ");
    cli_result_free(&r);
    free(logits);
    free(want);
    st_tmpdir_remove(dir);
    ref_gpt2_free(&m);
}

int main(void) {
    const struct CMUnitTest device_free[] = {
        cmocka_unit_test(test_missing_model),
        cmocka_unit_test(test_help_explains_2048),
    };
    int failed = cmocka_run_group_tests_name("device-free", device_free, NULL, NULL);
    vkg_device_info *infos = NULL;
    uint32_t n = 0;
    have_device = vkg_devices_list(&infos, &n, NULL) == VKG_OK && n > 0;
    free(infos);
    if (!have_device) {
        if (vkg_test_device_required()) {
            fprintf(stderr, "test_cli_newcomer: no Vulkan device, and CI=true requires one\n");
            return 1;
        }
        fprintf(stderr, "test_cli_newcomer: no Vulkan device: the device cases are skipped\n");
        return failed ? failed : 77;
    }
    const struct CMUnitTest device[] = {
        cmocka_unit_test(test_synthetic_notice),
        cmocka_unit_test(test_demo_plain_progress),
        cmocka_unit_test(test_demo_terminal_progress),
        cmocka_unit_test(test_demo_default_length),
        cmocka_unit_test(test_long_prompt_in_pieces),
    };
    return failed + cmocka_run_group_tests_name("device", device, NULL, NULL);
}
