/*
 * tests/test_serve_request.c — `vkgpt serve` without a device: the request parser (every field, every
 * refusal), the UTF-8 replacement (expected bytes from Python's decode(errors="replace")), and the
 * slot scheduler on the fake engine (tests/serve_fake_engine.c): joining, finishing (length, end of
 * text, stop strings, the context), cancelling, the full queue, prompt reuse, chunked prefill
 * interleaved with decode steps, batched steps, engine failures, logprobs and seeds. Each request's
 * tokens are checked against the fake model decoded alone, computed here from its logits. And the
 * response bodies (cli/serve_response.c) of both endpoints, parsed back with jansson.
 */
#include "serve_fake_engine.h"
#include "serve_request.h"
#include "serve_response.h"
#include "serve_sched.h"

#include <jansson.h>

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

/* ---- parser ---- */

static void parse_ok(serve_endpoint ep, const char *body, serve_request *r) {
    serve_error err = {0};
    int rc = serve_request_parse(ep, body, strlen(body), r, &err);
    if (rc)
        fail_msg("refused %s: %d %s", body, err.status, err.message);
}

static void test_defaults(void **state) {
    (void)state;
    serve_request r;
    parse_ok(SERVE_COMPLETIONS, "{\"prompt\": \"hi\"}", &r);
    assert_int_equal(r.prompt_len, 2);
    assert_memory_equal(r.prompt_text, "hi", 2);
    assert_null(r.prompt_ids);
    assert_int_equal(r.max_tokens, 0);
    assert_true(r.temperature == 1 && r.top_p == 1 && r.top_k == 0 && r.min_p == 0 && r.repeat_penalty == 1);
    assert_false(r.has_seed || r.stream || r.include_usage || r.logprobs);
    assert_int_equal(r.n_stop, 0);
    serve_request_free(&r);
}

static void test_every_field(void **state) {
    (void)state;
    serve_request r;
    parse_ok(SERVE_COMPLETIONS,
             "{\"model\": \"m\", \"prompt\": [1, 2, 299], \"max_tokens\": 7, \"temperature\": 0.5, \"top_p\": 0.9,"
             " \"top_k\": 40, \"min_p\": 0.05, \"repeat_penalty\": 1.1, \"seed\": -3, \"stop\": [\"a\", \"\\u0000b\"],"
             " \"stream\": true, \"stream_options\": {\"include_usage\": true}, \"logprobs\": 5, \"user\": 42,"
             " \"n\": 1, \"best_of\": 1, \"frequency_penalty\": 0, \"presence_penalty\": 0.0, \"logit_bias\": {},"
             " \"echo\": false, \"suffix\": \"\", \"something_else\": [1]}",
             &r);
    assert_string_equal(r.model, "m");
    assert_int_equal(r.n_prompt_ids, 3);
    assert_int_equal(r.prompt_ids[2], 299);
    assert_int_equal(r.max_tokens, 7);
    assert_float_equal(r.temperature, 0.5, 1e-6);
    assert_float_equal(r.top_p, 0.9, 1e-6);
    assert_int_equal(r.top_k, 40);
    assert_float_equal(r.min_p, 0.05, 1e-6);
    assert_float_equal(r.repeat_penalty, 1.1, 1e-6);
    assert_true(r.has_seed);
    assert_true(r.seed == (uint64_t)-3);
    assert_int_equal(r.n_stop, 2);
    assert_int_equal(r.stop_len[1], 2);
    assert_memory_equal(r.stop[1], "\0b", 2);
    assert_true(r.stream && r.include_usage && r.logprobs);
    assert_int_equal(r.top_logprobs, 5);
    serve_request_free(&r);

    parse_ok(SERVE_COMPLETIONS, "{\"prompt\": \"a\\u0000b\", \"repetition_penalty\": 2, \"stop\": \"x\", \"top_k\": -1,"
                                " \"max_tokens\": null, \"temperature\": null}", &r);
    assert_int_equal(r.prompt_len, 3);
    assert_float_equal(r.repeat_penalty, 2, 0);
    assert_int_equal(r.n_stop, 1);
    assert_int_equal(r.top_k, 0);
    assert_float_equal(r.temperature, 1, 0);
    serve_request_free(&r);

    parse_ok(SERVE_CHAT,
             "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\":"
             " [{\"type\": \"text\", \"text\": \"a\"}, {\"type\": \"text\", \"text\": \"b\"}]},"
             " {\"role\": \"assistant\", \"content\": null}], \"max_tokens\": 5, \"max_completion_tokens\": 9,"
             " \"logprobs\": true, \"top_logprobs\": 20, \"prompt\": 5}",
             &r);
    assert_int_equal(r.n_messages, 3);
    assert_string_equal(r.messages[0].role, "system");
    assert_string_equal(r.messages[1].content, "ab");
    assert_string_equal(r.messages[2].content, "");
    assert_int_equal(r.max_tokens, 9); /* max_completion_tokens wins, in either order */
    assert_true(r.logprobs);
    assert_int_equal(r.top_logprobs, 20);
    serve_request_free(&r);
    parse_ok(SERVE_CHAT, "{\"max_completion_tokens\": 9, \"max_tokens\": 5, \"messages\": [{\"role\": \"user\","
                         " \"content\": \"x\"}]}", &r);
    assert_int_equal(r.max_tokens, 9);
    serve_request_free(&r);
}

typedef struct bad_case {
    serve_endpoint ep;
    const char *body;
    const char *param; /* "" for none */
    int status;
} bad_case;

static void test_refusals(void **state) {
    (void)state;
    static const bad_case cases[] = {
        {SERVE_COMPLETIONS, "", "", 400},
        {SERVE_COMPLETIONS, "{", "", 400},
        {SERVE_COMPLETIONS, "[]", "", 400},
        {SERVE_COMPLETIONS, "\"prompt\"", "", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"prompt\": \"b\"}", "", 400},
        {SERVE_COMPLETIONS, "{}", "prompt", 400},
        {SERVE_COMPLETIONS, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", "prompt", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"\"}", "prompt", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": []}", "prompt", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": null}", "prompt", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": [\"a\"]}", "prompt", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": [[1]]}", "prompt", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": [1, 2.5]}", "prompt", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": [1, -1]}", "prompt", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": [4294967296]}", "prompt", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"model\": 1}", "model", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"max_tokens\": 0}", "max_tokens", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"max_tokens\": 16777217}", "max_tokens", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"max_tokens\": 1.0}", "max_tokens", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"max_completion_tokens\": -1}", "max_completion_tokens", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"temperature\": -0.1}", "temperature", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"temperature\": 2.01}", "temperature", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"temperature\": \"1\"}", "temperature", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"top_p\": 1.01}", "top_p", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"top_p\": true}", "top_p", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"min_p\": 2}", "min_p", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"top_k\": -2}", "top_k", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"top_k\": 3.5}", "top_k", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"repeat_penalty\": 0}", "repeat_penalty", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"repeat_penalty\": 101}", "repeat_penalty", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"repetition_penalty\": -1}", "repetition_penalty", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"frequency_penalty\": 0.1}", "frequency_penalty", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"frequency_penalty\": \"0\"}", "frequency_penalty", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"presence_penalty\": -2}", "presence_penalty", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"dry_penalty\": 0}", "dry_penalty", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"n\": 2}", "n", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"n\": 0}", "n", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"n\": \"1\"}", "n", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"best_of\": 3}", "best_of", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"logit_bias\": {\"5\": 1}}", "logit_bias", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"echo\": true}", "echo", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"suffix\": \"z\"}", "suffix", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"tools\": [{}]}", "tools", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"response_format\": {\"type\": \"json_object\"}}", "response_format", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"seed\": 1.5}", "seed", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"stop\": 1}", "stop", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"stop\": \"\"}", "stop", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"stop\": [\"a\", 1]}", "stop", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"stop\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}", "stop", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"stream\": \"yes\"}", "stream", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"stream_options\": {\"include_usage\": true}}", "stream_options", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"stream\": true, \"stream_options\": 1}", "stream_options", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"stream\": true, \"stream_options\": {\"include_usage\": 1}}",
         "stream_options.include_usage", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"logprobs\": 6}", "logprobs", 400},
        {SERVE_COMPLETIONS, "{\"prompt\": \"a\", \"logprobs\": true}", "logprobs", 400},
        {SERVE_CHAT, "{}", "messages", 400},
        {SERVE_CHAT, "{\"prompt\": \"a\"}", "messages", 400},
        {SERVE_CHAT, "{\"messages\": []}", "messages", 400},
        {SERVE_CHAT, "{\"messages\": \"hi\"}", "messages", 400},
        {SERVE_CHAT, "{\"messages\": [1]}", "messages", 400},
        {SERVE_CHAT, "{\"messages\": [{\"content\": \"x\"}]}", "messages", 400},
        {SERVE_CHAT, "{\"messages\": [{\"role\": \"god\", \"content\": \"x\"}]}", "messages", 400},
        {SERVE_CHAT, "{\"messages\": [{\"role\": \"user\\u0000x\", \"content\": \"x\"}]}", "messages", 400},
        {SERVE_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", "messages", 400},
        {SERVE_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}", "messages", 400},
        {SERVE_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"logprobs\": 2}", "logprobs", 400},
        {SERVE_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"top_logprobs\": 2}", "top_logprobs", 400},
        {SERVE_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"logprobs\": true, \"top_logprobs\": 21}",
         "top_logprobs", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        serve_request r;
        serve_error err = {0};
        int rc = serve_request_parse(cases[i].ep, cases[i].body, strlen(cases[i].body), &r, &err);
        if (rc != -1 || err.status != cases[i].status || strcmp(err.param, cases[i].param) != 0 || !err.message[0] ||
            !err.type)
            fail_msg("case %zu %s: rc %d status %d param '%s' (want '%s') message '%s'", i, cases[i].body, rc,
                     err.status, err.param, cases[i].param, err.message);
        /* the message names the field it refuses */
        if (cases[i].param[0] && !strstr(err.message, cases[i].param))
            fail_msg("case %zu: message '%s' does not name '%s'", i, err.message, cases[i].param);
        assert_null(r.prompt_text);
        assert_null(r.prompt_ids);
        assert_null(r.messages);
    }
}

static void test_utf8(void **state) {
    (void)state;
    /* expected: Python 3's bytes.decode("utf-8", errors="replace").encode() */
    static const struct { const char *in; size_t n; const char *out; } cases[] = {
        {"abc", 3, "abc"},
        {"\xff", 1, "\xef\xbf\xbd"},
        {"a\xe2\x82", 3, "a\xef\xbf\xbd"},
        {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf0\x9f\x98", 3, "\xef\xbf\xbd"},
        {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf0\x9f\x98\x80x", 5, "\xf0\x9f\x98\x80x"},
        {"\xe0\x80\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xe2\x82\xac\x80", 4, "\xe2\x82\xac\xef\xbf\xbd"},
        {"a\0b", 3, "a\0b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = 0;
        char *s = serve_utf8_sanitize(cases[i].in, cases[i].n, &n);
        size_t want = cases[i].n == 3 && cases[i].in[1] == 0 ? 3 : strlen(cases[i].out);
        if (n != want || memcmp(s, cases[i].out, n) != 0)
            fail_msg("utf8 case %zu: %zu bytes", i, n);
        free(s);
    }
}

/* ---- scheduler on the fake engine ---- */

typedef struct expect {
    int32_t tokens[256];
    uint32_t n;
} expect;

/* The fake model decoded alone: greedy tokens after `prompt`, at most `max` and within `ctx`. */
static void solo(const int32_t *prompt, uint32_t n_prompt, uint32_t max, uint32_t ctx, expect *e) {
    int32_t seq[512];
    memcpy(seq, prompt, n_prompt * sizeof *prompt);
    uint32_t n = n_prompt;
    e->n = 0;
    float lg[FAKE_VOCAB];
    for (;;) {
        fake_logits(seq, n, lg);
        int32_t t = fake_argmax(lg);
        e->tokens[e->n++] = t;
        if (e->n == max || n == ctx)
            break;
        seq[n++] = t;
    }
}

static serve_job *make_job(const int32_t *prompt, uint32_t n, uint32_t max_tokens, float temperature) {
    serve_request req;
    serve_error err;
    assert_int_equal(serve_request_parse(SERVE_COMPLETIONS, "{\"prompt\": [1]}", 15, &req, &err), 0);
    int32_t *p = malloc(n * sizeof *p);
    memcpy(p, prompt, n * sizeof *p);
    serve_sampling sp = {.temperature = temperature, .top_p = 1, .repeat_penalty = 1, .seed = 5};
    serve_job *j = serve_job_create(&req, p, n, max_tokens, &sp);
    assert_non_null(j);
    return j;
}

static void wait_done(serve_job *j) {
    pthread_mutex_lock(&j->mu);
    while (!j->done)
        pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);
}

static void wait_started(serve_job *j) {
    for (int i = 0; i < 10000; i++) {
        pthread_mutex_lock(&j->mu);
        bool started = j->started;
        pthread_mutex_unlock(&j->mu);
        if (started)
            return;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    fail_msg("job never started");
}

static void assert_tokens(const serve_job *j, const expect *e) {
    if (j->n_tokens != e->n)
        fail_msg("%u tokens, want %u", j->n_tokens, e->n);
    for (uint32_t i = 0; i < e->n; i++)
        if (j->tokens[i].id != e->tokens[i])
            fail_msg("token %u is %d, want %d", i, j->tokens[i].id, e->tokens[i]);
}

/* Text of tokens [0, n) of e. */
static size_t expect_text(const expect *e, uint32_t n, char *out) {
    size_t len = 0;
    for (uint32_t k = 0; k < n; k++) {
        const char *b;
        size_t l;
        serve_engine_token_text(NULL, e->tokens[k], &b, &l);
        memcpy(out + len, b, l);
        len += l;
    }
    return len;
}

static serve_engine *the_engine;

static int setup(void **state) {
    (void)state;
    fake_reset();
    return serve_engine_open(NULL, &the_engine);
}

static int teardown(void **state) {
    (void)state;
    fake_gate_open();
    serve_engine_close(the_engine);
    return 0;
}

static serve_sched *start_e(uint32_t slots, uint32_t queue, uint32_t ctx, uint32_t chunk) {
    serve_sched_options o = {.n_slots = slots, .queue_len = queue, .n_ctx = ctx, .prefill_chunk = chunk};
    serve_sched *s = NULL;
    assert_int_equal(serve_sched_create(the_engine, &o, &s), 0);
    return s;
}

static void test_join_and_batch(void **state) {
    (void)state;
    serve_sched *s = start_e(3, 8, 128, 16);
    enum { N = 7 };
    serve_job *jobs[N];
    expect want[N];
    fake_gate_close(); /* all join before the first step: the steps must batch */
    for (int i = 0; i < N; i++) {
        int32_t prompt[8];
        for (int k = 0; k <= i; k++)
            prompt[k] = 10 + 7 * i + k;
        uint32_t max = 3 + (uint32_t)i * 2;
        solo(prompt, (uint32_t)i + 1, max, 128, &want[i]);
        jobs[i] = make_job(prompt, (uint32_t)i + 1, max, 0);
        serve_error err;
        assert_int_equal(serve_sched_submit(s, jobs[i], &err), 0);
    }
    fake_gate_open();
    for (int i = 0; i < N; i++) {
        wait_done(jobs[i]);
        assert_false(jobs[i]->failed);
        assert_string_equal(jobs[i]->finish_reason, "length");
        assert_tokens(jobs[i], &want[i]);
        char text[2048]; /* the text is the tokens' bytes */
        size_t n = expect_text(&want[i], want[i].n, text);
        assert_int_equal(jobs[i]->text_len, n);
        assert_memory_equal(jobs[i]->text, text, n);
        serve_job_release(jobs[i]);
    }
    assert_int_equal(fake_max_batch(), 3);
    serve_sched_stats st;
    serve_sched_get_stats(s, &st);
    assert_int_equal(st.requests_done, N);
    serve_sched_destroy(s);
}

static void test_finish_reasons(void **state) {
    (void)state;
    serve_sched *s = start_e(2, 4, 16, 4);
    int32_t prompt[3] = {65, 66, 67};
    expect e;
    solo(prompt, 3, 100, 16, &e);
    /* the context: 16 - 3 + 1 tokens */
    serve_job *j = make_job(prompt, 3, 100, 0);
    serve_error err;
    assert_int_equal(serve_sched_submit(s, j, &err), 0);
    wait_done(j);
    assert_string_equal(j->finish_reason, "length");
    assert_int_equal(j->n_tokens, 14);
    assert_tokens(j, &e);
    serve_job_release(j);
    serve_sched_destroy(s);

    /* end of text: the 3rd greedy token is made the eos; it ends the request and adds no text */
    fake_eos = e.tokens[2];
    bool earlier = e.tokens[0] == fake_eos || e.tokens[1] == fake_eos;
    s = start_e(2, 4, 16, 4);
    j = make_job(prompt, 3, 100, 0);
    assert_int_equal(serve_sched_submit(s, j, &err), 0);
    wait_done(j);
    assert_string_equal(j->finish_reason, "stop");
    if (!earlier) {
        assert_int_equal(j->n_tokens, 3);
        char t[32];
        size_t n = expect_text(&e, 2, t);
        assert_int_equal(j->text_len, n);
        assert_memory_equal(j->text, t, n);
    }
    serve_job_release(j);
    serve_sched_destroy(s);
    fake_eos = -1;
}

static void test_stop_strings(void **state) {
    (void)state;
    int32_t prompt[2] = {300 - 1, 7};
    expect e;
    solo(prompt, 2, 20, 128, &e);
    char full[512];
    size_t n = expect_text(&e, 20, full);
    /* a stop string spanning the boundary of tokens 5 and 6 (2 bytes from each side where possible) */
    char t5[512];
    size_t at = expect_text(&e, 5, t5);
    size_t from = at >= 2 ? at - 2 : 0;
    char stop[8];
    size_t sl = n - from < 4 ? n - from : 4;
    memcpy(stop, full + from, sl);
    stop[sl] = 0;
    /* where the stop string first occurs in the full text */
    size_t first = 0;
    while (memcmp(full + first, stop, sl) != 0)
        first++;
    serve_sched *s = start_e(1, 4, 128, 4);
    serve_job *j = make_job(prompt, 2, 20, 0);
    j->req.stop[0] = malloc(sl);
    memcpy(j->req.stop[0], stop, sl);
    j->req.stop_len[0] = sl;
    j->req.n_stop = 1;
    serve_error err;
    assert_int_equal(serve_sched_submit(s, j, &err), 0);
    wait_done(j);
    assert_string_equal(j->finish_reason, "stop");
    assert_int_equal(j->text_len, first);
    assert_memory_equal(j->text, full, first);
    assert_true(j->n_tokens < 20);
    serve_job_release(j);
    serve_sched_destroy(s);
}

static void test_cancel(void **state) {
    (void)state;
    serve_sched *s = start_e(1, 4, 128, 4);
    int32_t prompt[2] = {1, 2};
    serve_job *a = make_job(prompt, 2, 100000, 0), *b = make_job(prompt, 2, 5, 0), *c = make_job(prompt, 2, 3, 0);
    serve_error err;
    fake_gate_close();
    assert_int_equal(serve_sched_submit(s, a, &err), 0);
    wait_started(a);
    assert_int_equal(serve_sched_submit(s, b, &err), 0); /* waits for a's slot */
    assert_int_equal(serve_sched_submit(s, c, &err), 0);
    serve_sched_cancel(s, b); /* a queued job: dropped without ever running */
    serve_sched_cancel(s, a); /* a running one: its slot goes to c */
    fake_gate_open();
    wait_done(a);
    wait_done(b);
    wait_done(c);
    assert_true(a->failed && a->error.status == 499);
    assert_true(b->failed && !b->started);
    assert_false(c->failed);
    assert_int_equal(c->n_tokens, 3);
    expect e;
    solo(prompt, 2, 3, 128, &e);
    assert_tokens(c, &e);
    serve_sched_stats st;
    serve_sched_get_stats(s, &st);
    assert_int_equal(st.slots_busy, 0);
    serve_job_release(a);
    serve_job_release(b);
    serve_job_release(c);
    serve_sched_destroy(s);
}

static void test_queue_full(void **state) {
    (void)state;
    serve_sched *s = start_e(2, 2, 128, 4);
    int32_t prompt[1] = {9};
    serve_job *jobs[5];
    serve_error err;
    fake_gate_close();
    for (int i = 0; i < 4; i++) { /* 2 slots + 2 waiting */
        jobs[i] = make_job(prompt, 1, 2, 0);
        assert_int_equal(serve_sched_submit(s, jobs[i], &err), 0);
    }
    jobs[4] = make_job(prompt, 1, 2, 0);
    assert_int_equal(serve_sched_submit(s, jobs[4], &err), -1);
    assert_int_equal(err.status, 503);
    assert_string_equal(err.code, "queue_full");
    fake_gate_open();
    for (int i = 0; i < 4; i++) {
        wait_done(jobs[i]);
        assert_false(jobs[i]->failed);
        serve_job_release(jobs[i]);
    }
    /* room again */
    assert_int_equal(serve_sched_submit(s, jobs[4], &err), 0);
    wait_done(jobs[4]);
    assert_false(jobs[4]->failed);
    serve_job_release(jobs[4]);
    serve_sched_destroy(s);
}

static void test_reuse_and_chunks(void **state) {
    (void)state;
    serve_sched *s = start_e(2, 4, 128, 8);
    int32_t p[40];
    for (int i = 0; i < 40; i++)
        p[i] = 20 + i;
    serve_error err;
    serve_job *a = make_job(p, 10, 2, 0);
    assert_int_equal(serve_sched_submit(s, a, &err), 0);
    wait_done(a);
    assert_int_equal(a->n_cached, 0);
    /* the next turn: p[0..10) + a's first token + more; reuses 11 cached tokens */
    int32_t q[30];
    memcpy(q, p, 10 * sizeof *p);
    q[10] = a->tokens[0].id;
    for (int i = 11; i < 30; i++)
        q[i] = 5 + i;
    fake_reset();
    serve_job *b = make_job(q, 30, 4, 0);
    assert_int_equal(serve_sched_submit(s, b, &err), 0);
    wait_done(b);
    assert_int_equal(b->n_cached, 11);
    expect e;
    solo(q, 30, 4, 128, &e);
    assert_tokens(b, &e);
    /* 19 tokens in chunks of at most 8 */
    assert_string_equal(fake_log(), "P8 P8 P3 S1 S1 S1 ");
    serve_job_release(a);
    serve_job_release(b);

    /* a long prompt joining a running stream: its chunks are interleaved with the stream's steps */
    fake_reset();
    fake_gate_close();
    serve_job *run = make_job(p, 2, 8, 0), *joiner = make_job(p + 3, 33, 2, 0);
    assert_int_equal(serve_sched_submit(s, run, &err), 0);
    wait_started(run);
    assert_int_equal(serve_sched_submit(s, joiner, &err), 0);
    fake_gate_open();
    wait_done(run);
    wait_done(joiner);
    const char *log = fake_log();
    const char *p2 = strstr(log, "P8 S1 P8 S1 P8 S1 P8");
    if (!p2)
        fail_msg("prefill not interleaved with decode steps: %s", log);
    solo(p + 3, 33, 2, 128, &e);
    assert_tokens(joiner, &e);
    serve_job_release(run);
    serve_job_release(joiner);
    serve_sched_destroy(s);

    /* short prompts share one turn's prefill budget: three 2-token prompts join before any step */
    s = start_e(3, 4, 128, 8);
    fake_reset();
    fake_gate_close();
    serve_job *sh[3];
    for (int i = 0; i < 3; i++) {
        sh[i] = make_job(p + 5 * i, 2, 2, 0);
        assert_int_equal(serve_sched_submit(s, sh[i], &err), 0);
        if (i == 0)
            wait_started(sh[0]);
    }
    fake_gate_open();
    for (int i = 0; i < 3; i++) {
        wait_done(sh[i]);
        solo(p + 5 * i, 2, 2, 128, &e);
        assert_tokens(sh[i], &e);
        serve_job_release(sh[i]);
    }
    if (strncmp(fake_log(), "P2 P2 P2 S", 10) != 0)
        fail_msg("short prompts did not join in one turn: %s", fake_log());
    serve_sched_destroy(s);
}

/* The same prompt twice: everything is cached, yet its last token is fed again (its logits start the
 * generation), and the answer is the same. */
static void test_same_prompt_again(void **state) {
    (void)state;
    serve_sched *s = start_e(1, 4, 128, 8);
    int32_t p[5] = {40, 41, 42, 43, 44};
    serve_error err;
    serve_job *a = make_job(p, 5, 3, 0);
    assert_int_equal(serve_sched_submit(s, a, &err), 0);
    wait_done(a);
    fake_reset();
    serve_job *b = make_job(p, 5, 3, 0);
    assert_int_equal(serve_sched_submit(s, b, &err), 0);
    wait_done(b);
    assert_int_equal(b->n_cached, 4);
    assert_string_equal(fake_log(), "P1 S1 S1 ");
    expect e;
    solo(p, 5, 3, 128, &e);
    assert_tokens(a, &e);
    assert_tokens(b, &e);
    serve_job_release(a);
    serve_job_release(b);
    serve_sched_destroy(s);
}

static void test_engine_failure(void **state) {
    (void)state;
    serve_sched *s = start_e(2, 4, 128, 8);
    int32_t p[2] = {3, 4};
    serve_error err;
    fake_fail_steps = 1;
    serve_job *a = make_job(p, 2, 5, 0);
    assert_int_equal(serve_sched_submit(s, a, &err), 0);
    wait_done(a);
    assert_true(a->failed);
    assert_int_equal(a->error.status, 500);
    /* the slot was emptied: the next request starts from scratch and is right */
    serve_job *b = make_job(p, 2, 5, 0);
    assert_int_equal(serve_sched_submit(s, b, &err), 0);
    wait_done(b);
    assert_false(b->failed);
    assert_int_equal(b->n_cached, 0);
    expect e;
    solo(p, 2, 5, 128, &e);
    assert_tokens(b, &e);
    serve_job_release(a);
    serve_job_release(b);
    serve_sched_destroy(s);
}

static void test_logprobs_and_seed(void **state) {
    (void)state;
    serve_sched *s = start_e(2, 4, 128, 8);
    int32_t p[3] = {11, 12, 13};
    serve_error err;
    serve_job *a = make_job(p, 3, 4, 0);
    a->req.logprobs = true;
    a->req.top_logprobs = 3;
    assert_int_equal(serve_sched_submit(s, a, &err), 0);
    wait_done(a);
    /* log-softmax of the fake logits, computed here in double */
    int32_t seq[16];
    memcpy(seq, p, sizeof p);
    float lg[FAKE_VOCAB];
    for (uint32_t k = 0; k < 4; k++) {
        fake_logits(seq, 3 + k, lg);
        double mx = -1e30, sum = 0;
        for (int v = 0; v < FAKE_VOCAB; v++)
            mx = lg[v] > mx ? lg[v] : mx;
        for (int v = 0; v < FAKE_VOCAB; v++)
            sum += exp(lg[v] - mx);
        const serve_token *t = &a->tokens[k];
        assert_int_equal(t->id, fake_argmax(lg));
        assert_float_equal(t->logprob, lg[t->id] - mx - log(sum), 1e-5);
        assert_int_equal(t->n_top, 3);
        assert_int_equal(t->top_id[0], t->id);
        assert_true(t->top_logprob[0] >= t->top_logprob[1] && t->top_logprob[1] >= t->top_logprob[2]);
        seq[3 + k] = t->id;
    }
    serve_job_release(a);
    /* sampling with a seed: the same seed gives the same tokens, run after run */
    serve_job *b = make_job(p, 3, 6, 1.0f), *c = make_job(p, 3, 6, 1.0f);
    assert_int_equal(serve_sched_submit(s, b, &err), 0);
    assert_int_equal(serve_sched_submit(s, c, &err), 0);
    wait_done(b);
    wait_done(c);
    for (int k = 0; k < 6; k++)
        assert_int_equal(b->tokens[k].id, c->tokens[k].id);
    serve_job_release(b);
    serve_job_release(c);
    serve_sched_destroy(s);
}

/* ---- response bodies (cli/serve_response.c) ---- */

static json_t *parse_json(const char *s) {
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j)
        fail_msg("not JSON (%s): %s", e.text, s);
    return j;
}

/* A finished job as the scheduler leaves it: text "ab\xff" (invalid UTF-8 at the end), tokens 'a', 'b',
 * 0xff, 299 with logprobs. */
static serve_job *finished_job(serve_endpoint ep, bool logprobs) {
    int32_t prompt[3] = {1, 2, 3};
    serve_job *j = make_job(prompt, 3, 4, 0);
    j->req.endpoint = ep;
    j->req.logprobs = logprobs;
    j->req.top_logprobs = 2;
    j->text = malloc(8);
    memcpy(j->text, "ab\xff", 4);
    j->text_len = 3;
    j->tokens = calloc(4, sizeof *j->tokens);
    int32_t ids[4] = {'a', 'b', 0xff, 299};
    for (int i = 0; i < 4; i++)
        j->tokens[i] = (serve_token){.id = ids[i], .logprob = -0.5f * (float)i, .n_top = 2, .top_id = {ids[i], 7},
                                     .top_logprob = {-0.5f * (float)i, -3}};
    j->n_tokens = 4;
    j->n_cached = 2;
    j->done = true;
    j->finish_reason = "length";
    return j;
}

static void test_responses(void **state) {
    (void)state;
    serve_resp_ctx c = {.engine = the_engine, .model = "m", .created = 123, .endpoint = SERVE_COMPLETIONS};
    snprintf(c.id, sizeof c.id, "cmpl-x");
    serve_job *j = finished_job(SERVE_COMPLETIONS, true);
    char *s = serve_resp_final(&c, j);
    json_t *r = parse_json(s);
    assert_string_equal(json_string_value(json_object_get(r, "object")), "text_completion");
    assert_string_equal(json_string_value(json_object_get(r, "id")), "cmpl-x");
    assert_int_equal(json_integer_value(json_object_get(r, "created")), 123);
    json_t *ch = json_array_get(json_object_get(r, "choices"), 0);
    assert_string_equal(json_string_value(json_object_get(ch, "text")), "ab\xef\xbf\xbd"); /* U+FFFD */
    assert_string_equal(json_string_value(json_object_get(ch, "finish_reason")), "length");
    json_t *lp = json_object_get(ch, "logprobs");
    assert_int_equal(json_array_size(json_object_get(lp, "tokens")), 4);
    assert_string_equal(json_string_value(json_array_get(json_object_get(lp, "tokens"), 3)), "<299>");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(lp, "text_offset"), 3)), 3);
    assert_float_equal(json_real_value(json_array_get(json_object_get(lp, "token_logprobs"), 1)), -0.5, 1e-6);
    assert_int_equal(json_object_size(json_array_get(json_object_get(lp, "top_logprobs"), 0)), 2);
    json_t *u = json_object_get(r, "usage");
    assert_int_equal(json_integer_value(json_object_get(u, "prompt_tokens")), 3);
    assert_int_equal(json_integer_value(json_object_get(u, "completion_tokens")), 4);
    assert_int_equal(json_integer_value(json_object_get(u, "total_tokens")), 7);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(u, "prompt_tokens_details"), "cached_tokens")), 2);
    json_decref(r);
    free(s);
    serve_job_release(j);

    /* chat: a message, chunks with a delta (the role first), logprobs as content entries with bytes */
    c.endpoint = SERVE_CHAT;
    j = finished_job(SERVE_CHAT, true);
    j->req.include_usage = true;
    s = serve_resp_final(&c, j);
    r = parse_json(s);
    assert_string_equal(json_string_value(json_object_get(r, "object")), "chat.completion");
    ch = json_array_get(json_object_get(r, "choices"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ch, "message"), "role")), "assistant");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ch, "message"), "content")), "ab\xef\xbf\xbd");
    json_t *content = json_object_get(json_object_get(ch, "logprobs"), "content");
    assert_int_equal(json_array_size(content), 4);
    json_t *third = json_array_get(content, 2);
    assert_string_equal(json_string_value(json_object_get(third, "token")), "\xef\xbf\xbd");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(third, "bytes"), 0)), 255);
    assert_int_equal(json_array_size(json_object_get(third, "top_logprobs")), 2);
    json_decref(r);
    free(s);
    s = serve_resp_chunk(&c, j, 0, 2, 0, 2, NULL, true);
    assert_memory_equal(s, "data: ", 6);
    assert_string_equal(s + strlen(s) - 2, "\n\n");
    r = parse_json(s + 6);
    assert_string_equal(json_string_value(json_object_get(r, "object")), "chat.completion.chunk");
    ch = json_array_get(json_object_get(r, "choices"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ch, "delta"), "role")), "assistant");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ch, "delta"), "content")), "ab");
    assert_true(json_is_null(json_object_get(ch, "finish_reason")));
    assert_true(json_is_null(json_object_get(r, "usage")));
    json_decref(r);
    free(s);
    s = serve_resp_chunk(&c, j, 3, 3, 4, 4, "stop", false);
    r = parse_json(s + 6);
    ch = json_array_get(json_object_get(r, "choices"), 0);
    assert_int_equal(json_object_size(json_object_get(ch, "delta")), 0);
    assert_string_equal(json_string_value(json_object_get(ch, "finish_reason")), "stop");
    json_decref(r);
    free(s);
    s = serve_resp_usage_chunk(&c, j);
    r = parse_json(s + 6);
    assert_int_equal(json_array_size(json_object_get(r, "choices")), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "usage"), "completion_tokens")), 4);
    json_decref(r);
    free(s);
    serve_job_release(j);

    serve_error e;
    serve_error_set(&e, 400, "invalid_request_error", "invalid_value", "top_p", "bad \xff value");
    s = serve_resp_error(&e);
    r = parse_json(s);
    json_t *err = json_object_get(r, "error");
    assert_string_equal(json_string_value(json_object_get(err, "message")), "bad \xef\xbf\xbd value");
    assert_string_equal(json_string_value(json_object_get(err, "type")), "invalid_request_error");
    assert_string_equal(json_string_value(json_object_get(err, "param")), "top_p");
    assert_string_equal(json_string_value(json_object_get(err, "code")), "invalid_value");
    json_decref(r);
    free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_field),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test_setup_teardown(test_join_and_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_reasons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reuse_and_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_prompt_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logprobs_and_seed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_responses, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
