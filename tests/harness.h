/*
 * tests/harness.h — what every cmocka test of vkgpt shares: one Vulkan context per test program with
 * the Khronos validation layer and synchronization validation on, a check after each test that it
 * caused no validation message, and the skip rule: a test that needs a device skips when there is
 * none, except under CI=true or VKG_REQUIRE_DEVICE=1, where a missing device (or validation layer)
 * is a failure so CI can never pass vacuously.
 *
 * Use:
 *   static void test_x(void **state) { vkg_context *ctx = vkg_test_ctx(state); ... }
 *   cmocka_unit_test_setup_teardown(test_x, vkg_test_setup, vkg_test_teardown)
 *   cmocka_run_group_tests(tests, vkg_test_group_setup, vkg_test_group_teardown)
 */
#ifndef VKG_TEST_HARNESS_H
#define VKG_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vkgpt.h"

int vkg_test_group_setup(void **state);
int vkg_test_group_teardown(void **state);
int vkg_test_setup(void **state);
int vkg_test_teardown(void **state);

/* The group's context; skips the current test when no device exists (and CI does not require one). */
vkg_context *vkg_test_ctx(void **state);
/* True when CI=true or VKG_REQUIRE_DEVICE=1. */
int vkg_test_device_required(void);
/* The GPT-2 tokenizer files (vocab.json, merges.txt, encodings.json): the copy the build unpacks from
 * tests/data/gpt2-tokenizer.tar.xz ($VKG_TEST_GPT2_DIR, set by ctest), else ../shared/gpt2-tokenizer
 * beside the source tree. In a static buffer. */
const char *vkg_test_gpt2_dir(void);
/* Path of a file under the source tree (VKG_TEST_SOURCE_DIR), in a static buffer. */
const char *vkg_test_source_path(const char *rel);

/* Element-wise comparison against a reference: every |got - ref| <= atol + rtol * |ref|, no NaN or
 * Inf in `got` where `ref` is finite, and the normalised error sum((got-ref)^2) / sum(ref^2) <= nmse.
 * On failure prints the first bad index and fails the test with `what` in the message. */
/* Fails the test unless s is VKG_OK, printing `what`, the status and the library's message. */
void vkg_test_ok(vkg_status s, const char *what);

/* A device buffer of `bytes` named `name`; fails the test if it cannot be made. (vkg_buffer: src/vk/vk.h,
 * the runtime's type, which the kernel tests include.) */
typedef struct vkg_buffer vkg_buffer;
vkg_buffer *vkg_test_buffer(vkg_context *ctx, uint64_t bytes, const char *name);

void vkg_test_check_close(const char *what, const float *got, const float *ref, size_t n, double atol,
                          double rtol, double nmse);

/* Fill with a guard pattern / check that the guard pattern is intact (catches out-of-bounds writes). */
enum { VKG_TEST_GUARD_WORDS = 64 };
#define VKG_TEST_GUARD 0x7fc0dead /* a NaN no kernel computes */

#endif /* VKG_TEST_HARNESS_H */
