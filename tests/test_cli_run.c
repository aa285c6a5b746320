/*
 * tests/test_cli_run.c — `vkgpt run`, `tokenize` and `detokenize` end to end, as a user runs them,
 * on a small GPT-2 checkpoint the test writes (reference weights + the real GPT-2 tokenizer files):
 * greedy ids equal the CPU reference's greedy decoding, text output equals the decoded ids,
 * --dump-logits rows match the reference, sampling is reproducible by seed, the interactive loop
 * reuses its cache across turns fed through a pipe, and --prompt-ids works without tokenizer files.
 */
#include "cli_runner.h"
#include "harness.h"
#include "model_fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { V = 50257, P = 96 };

typedef struct env {
    char *dir;      /* model + tokenizer */
    char *bare;     /* model only */
    ref_gpt2 ref;
    vkg_tokenizer *tok;
} env;

static int copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    int rc = in && out ? 0 : -1;
    char buf[65536];
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        rc = -1;
    return rc;
}

static int setup(void **state) {
    env *e = calloc(1, sizeof *e);
    *state = e;
    char vocab[1024], merges[1024];
    snprintf(vocab, sizeof vocab, "%s/vocab.json", vkg_test_gpt2_dir());
    snprintf(merges, sizeof merges, "%s/merges.txt", vkg_test_gpt2_dir());
    struct stat st;
    if (stat(vocab, &st) != 0) {
        fprintf(stderr, "test_cli_run: %s not found\n", vocab);
        return vkg_test_device_required() ? -1 : 0; /* without the files: skip, except in CI */
    }
    if (fixture_random(&e->ref, 2, 2, 32, V, P, 77) != 0)
        return -1;
    e->dir = st_tmpdir_create();
    e->bare = st_tmpdir_create();
    if (!e->dir || !e->bare || fixture_write(e->dir, &e->ref, ST_F32, FIXTURE_SAVE_PRETRAINED) ||
        fixture_write(e->bare, &e->ref, ST_F32, FIXTURE_HUB) || copy_file(vocab, st_path(e->dir, "vocab.json")) ||
        copy_file(merges, st_path(e->dir, "merges.txt")))
        return -1;
    return vkg_tokenizer_load(e->dir, &e->tok) == VKG_OK ? 0 : -1;
}

static int teardown(void **state) {
    env *e = *state;
    vkg_tokenizer_free(e->tok);
    ref_gpt2_free(&e->ref);
    st_tmpdir_remove(e->dir);
    st_tmpdir_remove(e->bare);
    free(e);
    return 0;
}

static env *get(void **state) {
    env *e = *state;
    if (!e->tok)
        skip();
    /* Every case runs the real device through the binary: skip where none exists (but not in CI). */
    vkg_device_info *infos = NULL;
    uint32_t n = 0;
    if (vkg_devices_list(&infos, &n, NULL) != VKG_OK && !vkg_test_device_required())
        skip();
    free(infos);
    return e;
}

/* Run with the validation layer on: the CLI's Vulkan use must be as clean as the library tests'. */
static void run_ok(const char *const *argv, const char *input, cli_result *r) {
    static const char *const validate[] = {"VKG_VALIDATION=1", NULL};
    assert_int_equal(cli_run(argv, input, validate, r), 0);
    if (r->status != 0)
        print_error("vkgpt exited with %d:\n%s\n", r->status, r->err);
    assert_false(r->signaled);
    assert_int_equal(r->status, 0);
    assert_null(strstr(r->err, "validation"));
}

/* Greedy continuation of `prompt` by the CPU reference. */
static void ref_greedy(const ref_gpt2 *m, const int32_t *prompt, int n_prompt, int n, int32_t *out, float *first_logits) {
    int32_t seq[P];
    memcpy(seq, prompt, n_prompt * sizeof *seq);
    float *logits = malloc((size_t)P * V * sizeof *logits);
    for (int i = 0; i < n; i++) {
        int T = n_prompt + i;
        assert_int_equal(ref_gpt2_forward(m, seq, T, logits), 0);
        if (i == 0 && first_logits)
            memcpy(first_logits, logits + (size_t)(T - 1) * V, V * sizeof *logits);
        out[i] = seq[T] = ref_argmax(logits + (size_t)(T - 1) * V, V);
    }
    free(logits);
}

static int parse_ids(const char *s, int32_t *ids, int max) {
    int n = 0;
    char *end;
    while (n < max) {
        long v = strtol(s, &end, 10);
        if (end == s)
            break;
        ids[n++] = (int32_t)v;
        s = end;
    }
    return n;
}

static void test_greedy_ids_match_reference(void **state) {
    env *e = get(state);
    const char *prompt = "The quick brown fox";
    int32_t *p = NULL;
    size_t np = 0;
    assert_int_equal(vkg_tokenizer_encode(e->tok, prompt, strlen(prompt), true, &p, &np), VKG_OK);
    enum { N = 12 };
    int32_t want[N], got[N + 4];
    float *want_logits = malloc(V * sizeof *want_logits);
    ref_greedy(&e->ref, p, (int)np, N, want, want_logits);

    char *dump = malloc(strlen(e->dir) + 32);
    sprintf(dump, "%s/logits.bin", e->dir);
    const char *argv[] = {"run", "-m", e->dir, "-p", prompt, "-n", "12", "--temp", "0", "--ids", "--ignore-eos",
                          "--dump-logits", dump, NULL};
    cli_result r;
    run_ok(argv, NULL, &r);
    assert_int_equal(parse_ids(r.out, got, N + 4), N);
    assert_memory_equal(got, want, sizeof want);
    assert_non_null(strstr(r.err, "tok/s"));
    assert_non_null(strstr(r.err, "GB/s"));

    /* --dump-logits: one row of V floats per generated token; row 0 is the prompt's last position. */
    FILE *f = fopen(dump, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    assert_int_equal(ftell(f), (long)N * V * (long)sizeof(float));
    rewind(f);
    float *row = malloc(V * sizeof *row);
    assert_int_equal(fread(row, sizeof *row, V, f), V);
    fclose(f);
    vkg_test_check_close("dumped logits row 0", row, want_logits, V, 1e-4, 1e-3, 1e-8);
    cli_result_free(&r);

    /* The same run as text equals the decoded ids, streamed. */
    const char *argv_text[] = {"run", "-m", e->dir, "-p", prompt, "-n", "12", "--temp", "0", "--ignore-eos", "-q", NULL};
    run_ok(argv_text, NULL, &r);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(vkg_tokenizer_decode(e->tok, want, N, false, &text, &len), VKG_OK);
    assert_int_equal(r.out_len, len + 1); /* plus the final newline */
    assert_memory_equal(r.out, text, len);
    assert_string_equal(r.err, ""); /* --quiet */
    free(text);
    cli_result_free(&r);
    free(row);
    free(dump);
    free(want_logits);
    free(p);
}

static void test_prompt_ids_without_tokenizer(void **state) {
    env *e = get(state);
    int32_t prompt[3] = {464, 3290, 318}, want[5];
    ref_greedy(&e->ref, prompt, 3, 5, want, NULL);
    const char *argv[] = {"run", "-m", e->bare, "--prompt-ids", "464,3290,318", "-n", "5", "--temp", "0",
                          "--ignore-eos", NULL};
    cli_result r;
    run_ok(argv, NULL, &r);
    int32_t got[8];
    assert_int_equal(parse_ids(r.out, got, 8), 5); /* ids, since there is no tokenizer to print text */
    assert_memory_equal(got, want, sizeof want);
    cli_result_free(&r);
    /* The cached and uncached paths agree end to end. */
    const char *argv_nokv[] = {"run", "-m", e->bare, "--prompt-ids", "464,3290,318", "-n", "5", "--temp", "0",
                               "--ignore-eos", "--no-kv-cache", NULL};
    run_ok(argv_nokv, NULL, &r);
    assert_int_equal(parse_ids(r.out, got, 8), 5);
    assert_memory_equal(got, want, sizeof want);
    cli_result_free(&r);
}

static void test_sampling_reproducible(void **state) {
    env *e = get(state);
    const char *a[] = {"run", "-m", e->dir, "-p", "Once upon a time", "-n", "16", "--temp", "1.5", "--top-k", "0",
                       "--top-p", "1", "--min-p", "0", "--seed", "5", "--ids", "--ignore-eos", "-q", NULL};
    cli_result r1, r2, r3;
    run_ok(a, NULL, &r1);
    run_ok(a, NULL, &r2);
    assert_string_equal(r1.out, r2.out);
    const char *b[] = {"run", "-m", e->dir, "-p", "Once upon a time", "-n", "16", "--temp", "1.5", "--top-k", "0",
                       "--top-p", "1", "--min-p", "0", "--seed", "6", "--ids", "--ignore-eos", "-q", NULL};
    run_ok(b, NULL, &r3);
    assert_string_not_equal(r1.out, r3.out); /* 16 draws at temperature 1.5 over 50257 tokens */
    cli_result_free(&r1);
    cli_result_free(&r2);
    cli_result_free(&r3);
}

static void test_interactive_keeps_cache(void **state) {
    env *e = get(state);
    const char *argv[] = {"run", "-m", e->dir, "-i", "-n", "4", "--temp", "0", "--ignore-eos", NULL};
    cli_result r;
    run_ok(argv, "Hello there\nHow are you\n", &r);
    /* Two turns, each ending in a newline; the second reuses the first turn's cache. */
    int lines = 0;
    for (const char *c = r.out; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 2);
    assert_non_null(strstr(r.err, "reused from the KV cache"));

    /* Equal to a one-shot run over the whole conversation? The first turn's greedy tokens are the
     * one-shot greedy continuation of the first line. */
    const char *one[] = {"run", "-m", e->dir, "-p", "Hello there\n", "-n", "4", "--temp", "0", "--ignore-eos", "-q", NULL};
    cli_result r1;
    run_ok(one, NULL, &r1);
    const char *nl = strchr(r.out, '\n');
    assert_non_null(nl);
    assert_int_equal((size_t)(nl - r.out) + 1, r1.out_len);
    assert_memory_equal(r.out, r1.out, r1.out_len);
    cli_result_free(&r1);
    cli_result_free(&r);

    /* A context that fills up says so. */
    const char *full[] = {"run", "-m", e->dir, "-i", "-n", "60", "--temp", "0", "--ignore-eos", NULL};
    run_ok(full, "one two three\nfour five six\n", &r);
    assert_non_null(strstr(r.err, "context is full"));
    cli_result_free(&r);
}

static void test_tokenize_commands(void **state) {
    env *e = get(state);
    const char *argv[] = {"tokenize", "-m", e->dir, "Hello world", NULL};
    cli_result r;
    run_ok(argv, NULL, &r);
    assert_string_equal(r.out, "15496 995\n"); /* GPT-2's encoding (../shared/gpt2-tokenizer) */
    cli_result_free(&r);
    const char *back[] = {"detokenize", "-m", e->dir, "15496", "995", NULL};
    run_ok(back, NULL, &r);
    assert_string_equal(r.out, "Hello world\n");
    cli_result_free(&r);
}

/* --stop: the text ends just before the first occurrence of a stop string in the unstopped text, and
 * the stop string is not printed. The stop strings are taken from the unstopped output itself (a
 * piece of its middle, and one that straddles a token boundary the test cannot know), so the test
 * does not depend on what the random model says. */
static void test_stop_strings(void **state) {
    env *e = get(state);
    const char *plain[] = {"run", "-m", e->dir, "-p", "Hello", "-n", "24", "--temp", "0", "-q", "--ignore-eos", NULL};
    cli_result full;
    run_ok(plain, NULL, &full);
    size_t n = strlen(full.out);
    assert_true(n > 20);
    for (int k = 0; k < 2; k++) {
        char stop[8];
        size_t at = k == 0 ? n / 2 : n / 3 + 1;
        snprintf(stop, sizeof stop, "%.3s", full.out + at);
        const char *argv[] = {"run", "-m", e->dir, "-p", "Hello", "-n", "24", "--temp", "0", "-q", "--ignore-eos",
                              "--stop", "never-in-the-output", "--stop", stop, NULL};
        cli_result r;
        run_ok(argv, NULL, &r);
        size_t first = (size_t)(strstr(full.out, stop) - full.out);
        assert_int_equal(strlen(r.out), first + 1); /* the text before it, then the final newline */
        assert_memory_equal(r.out, full.out, first);
        cli_result_free(&r);
    }
    cli_result_free(&full);
}

static void test_usage_errors(void **state) {
    env *e = get(state);
    const char *cases[][8] = {
        {"run", "-m", NULL, "-p", "x", "--temp", "hot", NULL},
        {"run", "-m", NULL, "-p", "x", "--bogus", NULL},
        {"run", "-m", NULL, NULL},
        {"frobnicate", NULL},
    };
    const char *expect[] = {"--temp", "--bogus", "no prompt", "unknown command"};
    for (int i = 0; i < 4; i++) {
        if (cases[i][1])
            cases[i][2] = e->dir;
        cli_result r;
        assert_int_equal(cli_run(cases[i], NULL, NULL, &r), 0);
        assert_false(r.signaled);
        assert_int_equal(r.status, 2);
        if (!strstr(r.err, expect[i]))
            print_error("case %d: stderr does not name '%s':\n%s\n", i, expect[i], r.err);
        assert_non_null(strstr(r.err, expect[i]));
        cli_result_free(&r);
    }
    const char *missing[] = {"run", "-m", "/nonexistent/model", "--prompt-ids", "1", NULL};
    cli_result r;
    assert_int_equal(cli_run(missing, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "/nonexistent/model"));
    cli_result_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_ids_match_reference),
        cmocka_unit_test(test_prompt_ids_without_tokenizer),
        cmocka_unit_test(test_sampling_reproducible),
        cmocka_unit_test(test_interactive_keeps_cache),
        cmocka_unit_test(test_tokenize_commands),
        cmocka_unit_test(test_stop_strings),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
