/* tests/harness.c — the shared test context, validation accounting and comparison helpers. */
#include "harness.h"

#include "vk/vk.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct env {
    vkg_context *ctx;
    uint64_t messages_before;
} env;

int vkg_test_device_required(void) {
    const char *ci = getenv("CI"), *req = getenv("VKG_REQUIRE_DEVICE");
    return (ci && strcmp(ci, "true") == 0) || (req && strcmp(req, "1") == 0);
}

int vkg_test_group_setup(void **state) {
    env *e = calloc(1, sizeof *e);
    if (!e)
        return -1;
    vkg_context_options o = vkg_context_default_options();
    o.validation = 1;
    vkg_status s = vkg_context_create(&o, &e->ctx);
    if (s == VKG_ERROR_FEATURE_MISSING && !vkg_test_device_required()) {
        fprintf(stderr, "harness: %s; running without validation\n", vkg_last_error());
        o.validation = 0;
        s = vkg_context_create(&o, &e->ctx);
    }
    if (s != VKG_OK) {
        fprintf(stderr, "harness: no Vulkan context: %s: %s\n", vkg_status_str(s), vkg_last_error());
        e->ctx = NULL;
        if (vkg_test_device_required()) {
            fprintf(stderr, "harness: a device is required (CI=true or VKG_REQUIRE_DEVICE=1)\n");
            free(e);
            return -1;
        }
    }
    *state = e;
    return 0;
}

int vkg_test_group_teardown(void **state) {
    env *e = *state;
    if (e) {
        vkg_context_destroy(e->ctx);
        free(e);
    }
    return 0;
}

int vkg_test_setup(void **state) {
    env *e = *state;
    if (e && e->ctx)
        e->messages_before = vkg_context_validation_messages(e->ctx);
    return 0;
}

int vkg_test_teardown(void **state) {
    env *e = *state;
    if (e && e->ctx) {
        uint64_t n = vkg_context_validation_messages(e->ctx) - e->messages_before;
        if (n) {
            fprintf(stderr, "harness: this test caused %llu validation message(s)\n", (unsigned long long)n);
            return -1;
        }
    }
    return 0;
}

vkg_context *vkg_test_ctx(void **state) {
    env *e = *state;
    if (!e || !e->ctx)
        skip();
    return e->ctx;
}

const char *vkg_test_source_path(const char *rel) {
    static char path[1024];
    const char *root = getenv("VKG_TEST_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/%s", root ? root : ".", rel);
    return path;
}

void vkg_test_check_close(const char *what, const float *got, const float *ref, size_t n, double atol,
                          double rtol, double nmse) {
    double err2 = 0, ref2 = 0;
    size_t bad = n, nonfinite = n;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], r = ref[i], d = fabs(g - r);
        if (isfinite(r) && !isfinite(g) && nonfinite == n)
            nonfinite = i;
        if (!(d <= atol + rtol * fabs(r)) && bad == n)
            bad = i;
        err2 += (g - r) * (g - r);
        ref2 += r * r;
    }
    double e = ref2 > 0 ? err2 / ref2 : err2;
    if (nonfinite < n) {
        print_error("%s: element %zu is %g where the reference is %g\n", what, nonfinite, got[nonfinite],
                    ref[nonfinite]);
        fail();
    }
    if (bad < n) {
        print_error("%s: element %zu: got %.9g, reference %.9g (|d| %.3g > atol %.1g + rtol %.1g * |ref|)\n",
                    what, bad, got[bad], ref[bad], fabs(got[bad] - ref[bad]), atol, rtol);
        fail();
    }
    if (!(e <= nmse)) {
        print_error("%s: normalised error %.3g above %.1g\n", what, e, nmse);
        fail();
    }
}

const char *vkg_test_gpt2_dir(void) {
    static char buf[4096];
    const char *dir = getenv("VKG_TEST_GPT2_DIR");
    if (dir && *dir)
        snprintf(buf, sizeof buf, "%s", dir);
    else
        snprintf(buf, sizeof buf, "%s", vkg_test_source_path("../shared/gpt2-tokenizer"));
    return buf;
}

void vkg_test_ok(vkg_status s, const char *what) {
    if (s != VKG_OK)
        print_error("%s: %s: %s\n", what, vkg_status_str(s), vkg_last_error());
    assert_int_equal(s, VKG_OK);
}

vkg_buffer *vkg_test_buffer(vkg_context *ctx, uint64_t bytes, const char *name) {
    vkg_buffer *b = NULL;
    vkg_test_ok(vkg_buffer_create(ctx, bytes, VKG_MEMORY_DEVICE, name, &b), name);
    return b;
}
