/*
 * tests/test_long_run.c — long runs and load on one model:
 *   - many sequences generated until the context is full, the session alternately reset and
 *     recreated, with host RSS (/proc/self/statm) and device memory (vkg_context_device_bytes)
 *     measured after a warm-up and at the end: growth beyond a small bound fails; sequences from the
 *     same prompt must repeat token for token whether the session was reset or recreated;
 *   - several sessions on one model driven from several threads at once give the tokens each gives
 *     alone;
 *   - out of device memory in the middle of a run: a second model whose session cannot fit is
 *     refused with a message, frees everything it took, and the running session carries on.
 * CI runs a checkpoint of gpt-nano's shape (3 layers, 3 heads, 48 wide) with 512 tokens and 256
 * positions, ~10k tokens; VKG_TEST_LONG=1 (ctest -L long) runs the synthetic gpt-nano itself (2048
 * positions) for ~30k tokens. Device loss cannot be simulated on lavapipe: it is not tested here.
 * Validation is off in this program: the layer's own bookkeeping would swamp the memory figures.
 */
#include "model_fixture.h"
#include "sparse_model.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vk/vk.h"
#include "vkgpt.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1 /* ASan's quarantine holds freed memory: RSS says nothing about leaks there */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

enum { FIX_L = 3, FIX_H = 3, FIX_D = 48, FIX_V = 512, FIX_P = 256 };
#define RSS_BOUND (4u << 20) /* host growth allowed after warm-up */

static vkg_context *ctx;
static vkg_model *model; /* the CI fixture (P = 256) */
static char *tmp;

static uint64_t rss_bytes(void) {
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static int group_setup(void **state) {
    (void)state;
    vkg_context_options o = vkg_context_default_options();
    o.validation = 0;
    if (vkg_context_create(&o, &ctx) != VKG_OK) {
        ctx = NULL;
        return 0; /* each test skips, or fails under CI */
    }
    tmp = st_tmpdir_create();
    ref_gpt2 m = {0};
    if (!tmp || fixture_random(&m, FIX_L, FIX_H, FIX_D, FIX_V, FIX_P, 11) != 0 ||
        fixture_write(tmp, &m, ST_F32, FIXTURE_SAVE_PRETRAINED) != 0)
        return -1;
    ref_gpt2_free(&m);
    if (vkg_model_load(ctx, tmp, NULL, &model) != VKG_OK) {
        fprintf(stderr, "loading the fixture: %s\n", vkg_last_error());
        return -1;
    }
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    vkg_model_free(model);
    if (ctx)
        assert_int_equal(vkg_context_device_bytes(ctx), 0); /* every buffer of every test freed */
    vkg_context_destroy(ctx);
    st_tmpdir_remove(tmp);
    return 0;
}

static void need_ctx(void) {
    if (ctx)
        return;
    const char *ci = getenv("CI");
    if ((ci && !strcmp(ci, "true")) || getenv("VKG_REQUIRE_DEVICE"))
        fail_msg("no Vulkan device, and CI=true requires one");
    skip();
}

/* Greedy generation: prefill `prompt`, then step until `n` tokens were produced or the context is
 * full. Returns the number of tokens written to out (NULL: only counted); FNV hash in *hash. */
static uint32_t generate(vkg_session *s, const int32_t *prompt, uint32_t n_prompt, uint32_t n, int32_t *out,
                         uint64_t *hash) {
    const vkg_model_config *c = vkg_model_get_config(model);
    (void)c;
    assert_int_equal(vkg_session_prefill(s, prompt, n_prompt, NULL), VKG_OK);
    uint64_t h = 0xcbf29ce484222325ull;
    uint32_t i = 0;
    const vkg_model *m = NULL;
    (void)m;
    for (;;) {
        int32_t t = vkg_session_argmax(s);
        h = (h ^ (uint32_t)t) * 0x100000001b3ull;
        if (out)
            out[i] = t;
        i++;
        if (i == n)
            break;
        vkg_status st = vkg_session_step(s, t);
        if (st == VKG_ERROR_CONTEXT_FULL)
            break;
        assert_int_equal(st, VKG_OK);
    }
    if (hash)
        *hash = h;
    return i;
}

static void test_long_generation(void **state) {
    (void)state;
    need_ctx();
    bool lng = getenv("VKG_TEST_LONG") != NULL;
    vkg_model *m = model;
    if (lng)
        assert_int_equal(vkg_model_synthetic(ctx, "gpt-nano", 1, NULL, &m), VKG_OK);
    const vkg_model_config *c = vkg_model_get_config(m);
    uint32_t n_seq = lng ? 15 : 40;
    uint64_t dev_model = vkg_context_device_bytes(ctx), rss0 = 0, dev0 = 0, total = 0;
    uint64_t hashes[64];
    vkg_session *s = NULL;
    for (uint32_t i = 0; i < n_seq; i++) {
        /* Odd sequences reuse the session (reset), even ones free it and make a new one. */
        if (i % 2 == 0) {
            vkg_session_free(s);
            s = NULL;
            assert_int_equal(vkg_session_create(m, NULL, &s), VKG_OK);
        } else {
            vkg_session_reset(s);
        }
        int32_t prompt[2] = {(int32_t)(i % 3) + 1, 5};
        /* Fill the context: the last step asks for position n_positions and is refused. */
        uint32_t got = generate(s, prompt, 2, UINT32_MAX, NULL, &hashes[i]);
        assert_int_equal(got, c->n_positions - 1);
        assert_int_equal(vkg_session_pos(s), c->n_positions);
        assert_int_equal(vkg_session_step(s, 1), VKG_ERROR_CONTEXT_FULL);
        total += got;
        if (i >= 3) /* the same prompt 3 sequences ago, once reset and once recreated */
            assert_true(hashes[i] == hashes[i - 3]);
        if (i == 3) { /* warmed up: pipelines, caches, allocator pools */
            rss0 = rss_bytes();
            dev0 = vkg_context_device_bytes(ctx);
        }
    }
    uint64_t rss1 = rss_bytes(), dev1 = vkg_context_device_bytes(ctx);
    vkg_session_free(s);
    uint64_t dev_end = vkg_context_device_bytes(ctx);
    print_message("long run: %llu tokens in %u sequences of %u positions; host RSS %.2f -> %.2f MiB (%+.0f KiB "
                  "after warm-up)%s; device %.2f -> %.2f MiB (%+lld bytes), %.2f MiB after the last session\n",
                  (unsigned long long)total, n_seq, c->n_positions, rss0 / 1048576.0, rss1 / 1048576.0,
                  ((double)rss1 - (double)rss0) / 1024.0, UNDER_ASAN ? " [ASan: not bounded]" : "",
                  dev0 / 1048576.0, dev1 / 1048576.0, (long long)(dev1 - dev0), dev_end / 1048576.0);
    assert_true(dev1 == dev0);
    assert_true(dev_end == dev_model);
    if (!UNDER_ASAN)
        assert_true(rss1 <= rss0 + RSS_BOUND);
    if (m != model)
        vkg_model_free(m);
}

/* ---- threads ---- */

enum { N_THREADS = 4, N_TOKENS = 96 };

typedef struct job {
    int32_t prompt[3];
    int32_t tokens[N_TOKENS];
    vkg_status status;
} job;

static void *run_job(void *arg) {
    job *j = arg;
    vkg_session *s = NULL;
    j->status = vkg_session_create(model, NULL, &s);
    if (j->status == VKG_OK)
        j->status = vkg_session_prefill(s, j->prompt, 3, NULL);
    for (uint32_t i = 0; j->status == VKG_OK && i < N_TOKENS; i++) {
        j->tokens[i] = vkg_session_argmax(s);
        if (i + 1 < N_TOKENS)
            j->status = vkg_session_step(s, j->tokens[i]);
    }
    vkg_session_free(s);
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    need_ctx();
    job alone[N_THREADS], together[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        alone[t] = (job){.prompt = {t + 1, 2 * t + 3, 7}};
        together[t] = alone[t];
        run_job(&alone[t]);
        assert_int_equal(alone[t].status, VKG_OK);
    }
    /* Different prompts must give different sequences, or the comparison below proves little. */
    assert_memory_not_equal(alone[0].tokens, alone[1].tokens, sizeof alone[0].tokens);
    for (int round = 0; round < 3; round++) {
        pthread_t th[N_THREADS];
        for (int t = 0; t < N_THREADS; t++)
            assert_int_equal(pthread_create(&th[t], NULL, run_job, &together[t]), 0);
        for (int t = 0; t < N_THREADS; t++)
            assert_int_equal(pthread_join(th[t], NULL), 0);
        for (int t = 0; t < N_THREADS; t++) {
            assert_int_equal(together[t].status, VKG_OK);
            assert_memory_equal(together[t].tokens, alone[t].tokens, sizeof alone[t].tokens);
        }
    }
}

/* ---- out of device memory in the middle of a run ---- */

static void test_out_of_memory_mid_run(void **state) {
    (void)state;
    need_ctx();
    const vkg_device_info *info = vkg_context_device(ctx);
    uint64_t heap = 0;
    for (uint32_t i = 0; i < info->n_heaps; i++)
        if (info->heaps[i].device_local && info->heaps[i].size > heap)
            heap = info->heaps[i].size;
    /* The big model's KV cache: 2 x 1024 layers x 2^20 positions x 8 wide x 4 bytes = 64 GiB. */
    if (heap >= (60ull << 30)) {
        print_message("device heap %llu MiB holds the 64 GiB cache: not run\n", (unsigned long long)(heap >> 20));
        skip();
    }
    int32_t prompt[2] = {3, 9};
    int32_t ref[100], got[100];
    vkg_session *s = NULL;
    assert_int_equal(vkg_session_create(model, NULL, &s), VKG_OK);
    generate(s, prompt, 2, 100, ref, NULL);
    vkg_session_reset(s);
    generate(s, prompt, 2, 50, got, NULL);

    /* Mid-run: another model loads, but its session cannot fit. */
    char *dir = st_tmpdir_create();
    assert_non_null(dir);
    assert_int_equal(sparse_model_write(dir, 1024, 1, 8, 64, 1u << 20), 0);
    vkg_model *big = NULL;
    assert_int_equal(vkg_model_load(ctx, dir, NULL, &big), VKG_OK);
    uint64_t before = vkg_context_device_bytes(ctx), rss_before = rss_bytes();
    vkg_session *bs = (vkg_session *)&bs; /* must come back NULL */
    vkg_session_options whole = vkg_session_default_options();
    whole.n_ctx = 1u << 20; /* the model's whole context (the default stops at 4096, which fits) */
    assert_int_equal(vkg_session_create(big, &whole, &bs), VKG_ERROR_OUT_OF_DEVICE_MEMORY);
    assert_null(bs);
    assert_non_null(strstr(vkg_last_error(), "KV cache"));
    assert_non_null(strstr(vkg_last_error(), "MiB"));
    assert_int_equal(vkg_context_device_bytes(ctx), before);
    print_message("refused: %s (host RSS %+.0f KiB)\n", vkg_last_error(),
                  ((double)rss_bytes() - (double)rss_before) / 1024.0);
    vkg_model_free(big);
    st_tmpdir_remove(dir);

    /* The running session carries on as if nothing happened. */
    for (uint32_t i = 50; i < 100; i++) {
        assert_int_equal(vkg_session_step(s, got[i - 1]), VKG_OK);
        got[i] = vkg_session_argmax(s);
    }
    assert_memory_equal(got, ref, sizeof ref);
    vkg_session_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_out_of_memory_mid_run),
        cmocka_unit_test(test_long_generation),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
