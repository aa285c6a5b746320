/*
 * tests/test_cli_gguf.c — the vkgpt binary on llama.cpp's GGUF files (tests/data/gguf), as a user runs
 * it: `vkgpt run -m FILE.gguf --prompt-ids ... --temp 0 --ids` prints the greedy tokens of the file's
 * JSON (the float64 reference's continuation, which llama.cpp also produces), with and without the KV
 * cache; `vkgpt info -m FILE.gguf` prints the architecture and every tensor type with its count as
 * gguf-py lists them in the JSON. Under the validation layer (VKG_VALIDATION=1).
 */
#include "cli_runner.h"
#include "harness.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const FILES[] = {"tiny-llama-q4_k_m", "tiny-qwen3-q6_k", "tiny-qwen2-q5_k_m", "tiny-llama-q8_0",
                                    "tiny-llama-q4_0"};

static void skip_without_device(void) {
    vkg_device_info *infos = NULL;
    uint32_t n = 0;
    if (vkg_devices_list(&infos, &n, NULL) != VKG_OK && !vkg_test_device_required())
        skip();
    free(infos);
}

static void run_ok(const char *const *argv, cli_result *r) {
    static const char *const validate[] = {"VKG_VALIDATION=1", NULL};
    assert_int_equal(cli_run(argv, NULL, validate, r), 0);
    if (r->status != 0)
        print_error("vkgpt exited with %d:\n%s\n", r->status, r->err);
    assert_false(r->signaled);
    assert_int_equal(r->status, 0);
    assert_null(strstr(r->err, "alidation"));
}

static json_t *load_json(const char *name) {
    char rel[128];
    snprintf(rel, sizeof rel, "tests/data/gguf/%s.json", name);
    json_error_t jerr;
    json_t *root = json_load_file(vkg_test_source_path(rel), 0, &jerr);
    if (!root)
        fail_msg("%s: %s", rel, jerr.text);
    return root;
}

static const char *gguf_path(const char *name, char *buf, size_t n) {
    char rel[128];
    snprintf(rel, sizeof rel, "tests/data/gguf/%s.gguf", name);
    snprintf(buf, n, "%s", vkg_test_source_path(rel));
    return buf;
}

/* "a,b,c" from a JSON array of ids. */
static void ids_csv(const json_t *a, char *buf, size_t n) {
    size_t at = 0;
    buf[0] = 0;
    for (size_t i = 0; i < json_array_size(a); i++) {
        long long id = (long long)json_integer_value(json_array_get(a, i));
        at += (size_t)snprintf(buf + at, n - at, "%s%lld", i ? "," : "", id);
    }
    assert_true(at < n);
}

static void check_ids(const char *what, const char *out, const json_t *want) {
    const char *s = out;
    char *end;
    size_t n = 0;
    for (;; n++) {
        long v = strtol(s, &end, 10);
        if (end == s)
            break;
        if (n >= json_array_size(want))
            fail_msg("%s: more ids than the %zu expected: %s", what, json_array_size(want), out);
        if (v != (long)json_integer_value(json_array_get(want, n)))
            fail_msg("%s: token %zu is %ld, the reference (and llama.cpp) give %lld", what, n, v,
                     (long long)json_integer_value(json_array_get(want, n)));
        s = end;
    }
    if (n != json_array_size(want))
        fail_msg("%s: %zu ids, expected %zu: %s", what, n, json_array_size(want), out);
}

static void run_file(const char *name, int no_kv_cache) {
    json_t *j = load_json(name);
    char path[1024], prompt[2048], n_gen[16];
    ids_csv(json_object_get(j, "prompt"), prompt, sizeof prompt);
    const json_t *greedy = json_object_get(j, "greedy");
    snprintf(n_gen, sizeof n_gen, "%zu", json_array_size(greedy));
    const char *argv[] = {"run", "-m", gguf_path(name, path, sizeof path), "--prompt-ids", prompt, "-n", n_gen,
                          "--temp", "0", "--ids", "--ignore-eos", no_kv_cache ? "--no-kv-cache" : NULL, NULL};
    cli_result r;
    run_ok(argv, &r);
    char what[128];
    snprintf(what, sizeof what, "vkgpt run -m %s.gguf%s", name, no_kv_cache ? " --no-kv-cache" : "");
    check_ids(what, r.out, greedy);
    cli_result_free(&r);
    json_decref(j);
}

static void test_run_greedy_ids(void **state) {
    (void)state;
    skip_without_device();
    for (size_t i = 0; i < sizeof FILES / sizeof *FILES; i++)
        run_file(FILES[i], 0);
    run_file(FILES[0], 1);
}

/* `vkgpt info` needs no device: the architecture, and "TYPE xN" for each type the JSON lists. */
static void test_info(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof FILES / sizeof *FILES; i++) {
        json_t *j = load_json(FILES[i]);
        char path[1024];
        const char *argv[] = {"info", "-m", gguf_path(FILES[i], path, sizeof path), NULL};
        cli_result r;
        run_ok(argv, &r);
        char want[128];
        const char *arch = strstr(FILES[i], "qwen3") ? "qwen3" : strstr(FILES[i], "qwen2") ? "qwen2" : "llama";
        snprintf(want, sizeof want, "architecture: %s\n", arch);
        if (!strstr(r.out, want))
            fail_msg("%s: no \"%.*s\" in:\n%s", FILES[i], (int)strlen(want) - 1, want, r.out);
        /* Count the types from the JSON (gguf-py's reading of the file). */
        const char *names[16];
        int counts[16], n_types = 0;
        const char *key;
        json_t *t;
        json_object_foreach(json_object_get(j, "tensors"), key, t) {
            const char *ty = json_string_value(json_object_get(t, "type"));
            int k = 0;
            while (k < n_types && strcmp(names[k], ty) != 0)
                k++;
            if (k == n_types)
                names[n_types] = ty, counts[n_types++] = 0;
            counts[k]++;
        }
        const char *line = strstr(r.out, "tensors: ");
        assert_non_null(line);
        const char *eol = strchr(line, '\n');
        for (int k = 0; k < n_types; k++) {
            snprintf(want, sizeof want, " %s x%d ", names[k], counts[k]);
            const char *at = strstr(line, want);
            if (!at || at > eol)
                fail_msg("%s: info's tensor line lacks \"%s\": %.*s", FILES[i], want, (int)(eol - line), line);
        }
        cli_result_free(&r);
        json_decref(j);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_run_greedy_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
