/*
 * tests/test_cli_chat.c — `vkgpt chat` end to end over a pipe, on a synthetic Llama-family model
 * (llama-nano: Qwen's vocabulary size) with the real Qwen3 tokenizer and chat template:
 *   - the second turn reuses the KV cache: it prefills fewer tokens than the whole conversation;
 *   - its tokens equal a fresh `vkgpt run` on the full rendered conversation, rendered and tokenized
 *     independently by `vkgpt template` and `vkgpt tokenize` (so a cache that kept stale tokens, or a
 *     prefix computed wrongly, shows as different tokens);
 *   - /reset starts over (nothing reused, the first reply again); a context too small is said so.
 */
#include "cli_runner.h"
#include "harness.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tok_dir[1024];

static void run_ok(const char *const *argv, const char *input, cli_result *r) {
    static const char *const validate[] = {"VKG_VALIDATION=1", NULL};
    assert_int_equal(cli_run(argv, input, validate, r), 0);
    if (r->status != 0)
        print_error("vkgpt %s exited with %d:\n%s\n", argv[0], r->status, r->err);
    assert_false(r->signaled);
    assert_int_equal(r->status, 0);
    assert_null(strstr(r->err, "validation"));
}

static const char *need_data(void) {
    snprintf(tok_dir, sizeof tok_dir, "%s/qwen3", VKG_TOKENIZERS_DIR);
    struct stat st;
    if (stat(tok_dir, &st) != 0) {
        if (vkg_test_device_required())
            fail_msg("%s is missing (the build unpacks tests/data/tokenizers.tar.xz)", tok_dir);
        skip();
    }
    return tok_dir;
}

/* Line `k` (0-based) of `text`, copied into buf. */
static const char *line_of(const char *text, int k, char *buf, size_t n) {
    for (; k > 0 && text; k--) {
        text = strchr(text, '\n');
        if (text)
            text++;
    }
    assert_non_null(text);
    size_t len = strcspn(text, "\n");
    assert_true(len < n);
    memcpy(buf, text, len);
    buf[len] = 0;
    return buf;
}

/* "prefilled X tokens ..., Y reused" of turn k's statistics line. */
static void turn_stats(const char *err, int k, unsigned *fed, unsigned *reused) {
    const char *p = err;
    for (int i = 0; i <= k; i++) {
        p = strstr(p, "vkgpt: prefilled ");
        assert_non_null(p);
        if (i < k)
            p++;
    }
    assert_int_equal(sscanf(p, "vkgpt: prefilled %u tokens in %*f s, %u reused", fed, reused), 2);
}

static void test_second_turn_reuses_cache(void **state) {
    (void)state;
    const char *dir = need_data();
    const char *chat[] = {"chat", "--config", "llama-nano", "--tokenizer", dir, "--temp", "0", "-n", "8", "--ids", NULL};
    cli_result r;
    run_ok(chat, "Hello\nHow are you?\n/reset\nHello\n", &r);
    char reply1[512], reply2[512], reply3[512];
    line_of(r.out, 0, reply1, sizeof reply1);
    line_of(r.out, 1, reply2, sizeof reply2);
    line_of(r.out, 2, reply3, sizeof reply3);
    unsigned fed1, reused1, fed2, reused2, fed3, reused3;
    turn_stats(r.err, 0, &fed1, &reused1);
    turn_stats(r.err, 1, &fed2, &reused2);
    turn_stats(r.err, 2, &fed3, &reused3);
    assert_int_equal(reused1, 0);
    assert_true(reused2 > fed1);                 /* the whole first turn came from the cache... */
    assert_true(fed2 < fed2 + reused2);          /* ...and only the rest was prefilled */
    assert_int_equal(reused3, 0);                /* /reset: a new conversation */
    assert_int_equal(fed3, fed1);
    assert_string_equal(reply3, reply1);

    /* The conversation as a fresh run sees it: the first reply's text, the template, the tokenizer. */
    const char *detok_argv[64] = {"detokenize", "--tokenizer", dir, "--skip-special"};
    int n = 4;
    char ids_copy[512];
    snprintf(ids_copy, sizeof ids_copy, "%s", reply1);
    for (char *t = strtok(ids_copy, " "); t && n < 62; t = strtok(NULL, " "))
        detok_argv[n++] = t;
    detok_argv[n] = NULL;
    cli_result d;
    run_ok(detok_argv, NULL, &d);
    size_t text_len = strlen(d.out);
    assert_true(text_len > 0 && d.out[text_len - 1] == '\n');
    d.out[text_len - 1] = 0; /* detokenize ends its output with a newline */
    json_t *msgs = json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "role", "user", "content", "Hello", "role",
                             "assistant", "content", d.out, "role", "user", "content", "How are you?");
    char *path = NULL;
    assert_non_null(msgs);
    char tmpl_file[] = "/tmp/vkgpt-chat-XXXXXX";
    int fd = mkstemp(tmpl_file);
    assert_true(fd >= 0);
    assert_int_equal(json_dumpfd(msgs, fd, 0), 0);
    close(fd);
    path = tmpl_file;
    const char *render[] = {"template", "--tokenizer", dir, "--messages", path, "--add-generation-prompt", NULL};
    cli_result t;
    run_ok(render, NULL, &t);
    const char *tokenize[] = {"tokenize", "--tokenizer", dir, "--no-special", t.out, NULL};
    cli_result k;
    run_ok(tokenize, NULL, &k);
    char prompt_ids[4096];
    line_of(k.out, 0, prompt_ids, sizeof prompt_ids);
    for (char *c = prompt_ids; *c; c++)
        if (*c == ' ')
            *c = ',';
    const char *fresh[] = {"run", "--config", "llama-nano", "--tokenizer", dir, "--prompt-ids", prompt_ids, "-n", "8",
                           "--temp", "0", "--ids", "-q", NULL};
    cli_result f;
    run_ok(fresh, NULL, &f);
    char fresh_ids[512];
    line_of(f.out, 0, fresh_ids, sizeof fresh_ids);
    assert_string_equal(reply2, fresh_ids);
    /* The cached prefix plus what turn 2 prefilled is exactly the fresh run's prompt. */
    unsigned n_prompt = 1;
    for (const char *c = prompt_ids; *c; c++)
        n_prompt += *c == ',';
    assert_int_equal(reused2 + fed2, n_prompt);
    unlink(path);
    json_decref(msgs);
    cli_result_free(&r);
    cli_result_free(&d);
    cli_result_free(&t);
    cli_result_free(&k);
    cli_result_free(&f);
}

static void test_context_full(void **state) {
    (void)state;
    const char *dir = need_data();
    const char *chat[] = {"chat", "--config", "llama-nano", "--tokenizer", dir, "--temp", "0", "-n", "4", "-c", "12",
                          NULL};
    cli_result r;
    run_ok(chat, "Hello there, how is the weather today in the mountains?\n", &r);
    assert_non_null(strstr(r.err, "the context is full"));
    cli_result_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_turn_reuses_cache),
        cmocka_unit_test(test_context_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
