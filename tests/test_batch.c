/*
 * tests/test_batch.c — batched decoding (vkg_batch) against lone sessions: sequences of different
 * lengths decoded together must give, step by step, the same logits (within fp32 tolerance; the
 * design computes each row exactly as a lone step does, so they are in fact equal) and identical
 * greedy tokens as each decoded alone, for GPT-2 and a Llama-family model; the recording must follow
 * a batch whose members change; bad batches are refused.
 */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N_SEQ = 4, STEPS = 10 };

static const uint32_t prompt_len[N_SEQ] = {1, 5, 17, 33};

static int32_t prompt_token(uint32_t seq, uint32_t i, uint32_t vocab) {
    return (int32_t)(((uint64_t)(seq + 1) * 7919u + (uint64_t)i * 104729u) % vocab);
}

typedef struct trace {
    int32_t tokens[STEPS];
    float *logits; /* STEPS x vocab: the distribution after each step's token */
} trace;

static vkg_session *new_session(vkg_model *m, uint32_t seq) {
    uint32_t V = vkg_model_get_config(m)->vocab_size;
    vkg_session_options so = vkg_session_default_options();
    so.n_ctx = 128;
    vkg_session *s = NULL;
    assert_int_equal(vkg_session_create(m, &so, &s), VKG_OK);
    int32_t p[64];
    for (uint32_t i = 0; i < prompt_len[seq]; i++)
        p[i] = prompt_token(seq, i, V);
    assert_int_equal(vkg_session_prefill(s, p, prompt_len[seq], NULL), VKG_OK);
    vkg_session_want_logits(s, true);
    return s;
}

/* Sequence `seq` decoded alone: the reference. */
static void run_alone(vkg_model *m, uint32_t seq, trace *t) {
    uint32_t V = vkg_model_get_config(m)->vocab_size;
    vkg_session *s = new_session(m, seq);
    for (uint32_t k = 0; k < STEPS; k++) {
        t->tokens[k] = vkg_session_argmax(s);
        assert_int_equal(vkg_session_step(s, t->tokens[k]), VKG_OK);
        assert_int_equal(vkg_session_logits(s, t->logits + (size_t)k * V), VKG_OK);
    }
    vkg_session_free(s);
}

static void check_step(vkg_session *s, const trace *t, uint32_t k, uint32_t V, float *scratch, const char *what) {
    assert_int_equal(vkg_session_logits(s, scratch), VKG_OK);
    vkg_test_check_close(what, scratch, t->logits + (size_t)k * V, V, 1e-5, 1e-5, 1e-10);
}

static void batch_matches_alone(vkg_context *ctx, const char *config, vkg_quant quant) {
    vkg_model *m = NULL;
    vkg_model_options mo = vkg_model_default_options();
    mo.quant = quant;
    assert_int_equal(vkg_model_synthetic(ctx, config, 7, &mo, &m), VKG_OK);
    /* Block formats take 8-bit activations where the device has int8 dot products: rows quantized
     * one by one, so a batch row must still equal the lone step. */
    assert_int_equal(vkg_model_int8_activations(m),
                     quant != VKG_QUANT_NONE && vkg_context_device(ctx)->integer_dot_product);
    uint32_t V = vkg_model_get_config(m)->vocab_size;
    trace ref[N_SEQ];
    for (uint32_t i = 0; i < N_SEQ; i++) {
        ref[i].logits = malloc((size_t)STEPS * V * sizeof(float));
        assert_non_null(ref[i].logits);
        run_alone(m, i, &ref[i]);
    }
    float *got = malloc((size_t)V * sizeof(float));
    assert_non_null(got);
    vkg_batch *b = NULL;
    assert_int_equal(vkg_batch_create(m, N_SEQ, &b), VKG_OK);
    vkg_session *s[N_SEQ];
    for (uint32_t i = 0; i < N_SEQ; i++)
        s[i] = new_session(m, i);
    /* All four together for half the steps, then the batch shrinks to sequences 1 and 3 (re-recorded),
     * and sequences 0 and 2 finish alone: every sequence must follow its own trace throughout. */
    for (uint32_t k = 0; k < STEPS; k++) {
        vkg_session *list[N_SEQ];
        int32_t tok[N_SEQ];
        uint32_t n = 0;
        for (uint32_t i = 0; i < N_SEQ; i++) {
            int32_t next = vkg_session_argmax(s[i]);
            if (next != ref[i].tokens[k])
                fail_msg("%s sequence %u step %u: batched greedy token %d, alone %d", config, i, k, next,
                         ref[i].tokens[k]);
            if (k < STEPS / 2 || i % 2 == 1) {
                list[n] = s[i];
                tok[n++] = next;
            } else {
                assert_int_equal(vkg_session_step(s[i], next), VKG_OK);
            }
        }
        assert_int_equal(vkg_batch_step(b, list, tok, n), VKG_OK);
        for (uint32_t i = 0; i < N_SEQ; i++) {
            char what[96];
            snprintf(what, sizeof what, "%s sequence %u logits after step %u", config, i, k);
            check_step(s[i], &ref[i], k, V, got, what);
            assert_int_equal(vkg_session_pos(s[i]), prompt_len[i] + k + 1);
        }
    }
    /* Every sequence's greedy trace is its own: the test would not notice rows swapped between
     * identical sequences, so they must differ. */
    assert_true(memcmp(ref[0].tokens, ref[1].tokens, sizeof ref[0].tokens) != 0);
    for (uint32_t i = 0; i < N_SEQ; i++) {
        vkg_session_free(s[i]);
        free(ref[i].logits);
    }
    vkg_batch_free(b);
    free(got);
    vkg_model_free(m);
}

static void test_batch_gpt2(void **state) { batch_matches_alone(vkg_test_ctx(state), "gpt-nano", VKG_QUANT_NONE); }
static void test_batch_llama(void **state) { batch_matches_alone(vkg_test_ctx(state), "llama-nano", VKG_QUANT_NONE); }
static void test_batch_llama_q8_0(void **state) {
    batch_matches_alone(vkg_test_ctx(state), "llama-nano", VKG_QUANT_Q8_0);
}

static void test_batch_errors(void **state) {
    vkg_context *ctx = vkg_test_ctx(state);
    vkg_model *m = NULL, *other = NULL;
    assert_int_equal(vkg_model_synthetic(ctx, "gpt-nano", 1, NULL, &m), VKG_OK);
    assert_int_equal(vkg_model_synthetic(ctx, "gpt-nano", 2, NULL, &other), VKG_OK);
    vkg_batch *b = NULL;
    assert_int_equal(vkg_batch_create(m, 0, &b), VKG_ERROR_INVALID_ARGUMENT);
    assert_int_equal(vkg_batch_create(m, VKG_BATCH_MAX + 1, &b), VKG_ERROR_INVALID_ARGUMENT);
    assert_int_equal(vkg_batch_create(m, 2, &b), VKG_OK);
    vkg_session_options so = vkg_session_default_options();
    so.n_ctx = 4;
    vkg_session *s1 = NULL, *s2 = NULL, *foreign = NULL, *uncached = NULL;
    assert_int_equal(vkg_session_create(m, &so, &s1), VKG_OK);
    assert_int_equal(vkg_session_create(m, &so, &s2), VKG_OK);
    assert_int_equal(vkg_session_create(other, &so, &foreign), VKG_OK);
    so.no_kv_cache = true;
    assert_int_equal(vkg_session_create(m, &so, &uncached), VKG_OK);
    int32_t tok[3] = {1, 2, 3};
    vkg_session *dup[2] = {s1, s1}, *mixed[2] = {s1, foreign}, *nocache[1] = {uncached}, *three[3] = {s1, s2, s1};
    assert_int_equal(vkg_batch_step(b, dup, tok, 2), VKG_ERROR_INVALID_ARGUMENT);
    assert_int_equal(vkg_batch_step(b, mixed, tok, 2), VKG_ERROR_INVALID_ARGUMENT);
    assert_int_equal(vkg_batch_step(b, nocache, tok, 1), VKG_ERROR_INVALID_ARGUMENT);
    assert_int_equal(vkg_batch_step(b, three, tok, 3), VKG_ERROR_INVALID_ARGUMENT);
    int32_t bad[2] = {1, 1 << 20};
    vkg_session *pair[2] = {s1, s2};
    assert_int_equal(vkg_batch_step(b, pair, bad, 2), VKG_ERROR_TOKEN_RANGE);
    assert_int_equal(vkg_session_pos(s1), 0); /* a refused step moves nobody */
    /* A full context is refused for the session it concerns, before anything runs. */
    for (int k = 0; k < 4; k++)
        assert_int_equal(vkg_batch_step(b, pair, tok, 2), VKG_OK);
    assert_int_equal(vkg_batch_step(b, pair, tok, 2), VKG_ERROR_CONTEXT_FULL);
    assert_int_equal(vkg_session_pos(s2), 4);
    vkg_session_free(s1);
    vkg_session_free(s2);
    vkg_session_free(foreign);
    vkg_session_free(uncached);
    vkg_batch_free(b);
    vkg_model_free(m);
    vkg_model_free(other);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batch_gpt2, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_batch_llama, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_batch_llama_q8_0, vkg_test_setup, vkg_test_teardown),
        cmocka_unit_test_setup_teardown(test_batch_errors, vkg_test_setup, vkg_test_teardown),
    };
    return cmocka_run_group_tests(tests, vkg_test_group_setup, vkg_test_group_teardown);
}
