/*
 * common.h — internal helpers every vkgpt source file may use: failure reporting, checked
 * arithmetic, small utilities. Not part of the public API.
 *
 * Two kinds of error handling, kept apart on purpose:
 *   - assert(): internal invariants; a failure is a bug in vkgpt.
 *   - vkg_fail()/VKG_TRY(): results that must always be checked (bad input, driver results);
 *     they record a message for vkg_last_error() and propagate a vkg_status. Never exit/abort.
 */
#ifndef VKG_COMMON_H
#define VKG_COMMON_H

#include "vkgpt.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define VKG_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define VKG_PRINTF(fmt, args)
#endif

/* Record a failure message for vkg_last_error() on this thread and return `status`.
 * Usage: return vkg_fail(VKG_ERROR_ST_OFFSETS, "%s: tensor %s: ...", path, name); */
vkg_status vkg_fail(vkg_status status, const char *fmt, ...) VKG_PRINTF(2, 3);

/* Prefix the current thread's error message with context ("loading model.safetensors: ...")
 * and return `status` unchanged. */
vkg_status vkg_fail_context(vkg_status status, const char *fmt, ...) VKG_PRINTF(2, 3);

/* Propagate a failing status: VKG_TRY(vkg_buffer_create(...)); */
#define VKG_TRY(expr)                  \
    do {                               \
        vkg_status vkg_try_s_ = (expr); \
        if (vkg_try_s_ != VKG_OK)      \
            return vkg_try_s_;         \
    } while (0)

/* Checked size arithmetic: return false on overflow. */
static inline bool vkg_mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool vkg_add_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

static inline uint64_t vkg_align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }
static inline uint32_t vkg_div_up(uint32_t x, uint32_t d) { return (x + d - 1) / d; }
static inline uint32_t vkg_min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }
static inline uint32_t vkg_max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }

#define VKG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Read the whole regular file `path` into a NUL-terminated malloc'd buffer (*len excludes the NUL).
 * VKG_ERROR_IO when it cannot be opened or read or is not a regular file; `too_big` when it is larger
 * than max_bytes (a corrupt or wrong file). Messages name the path. */
vkg_status vkg_read_file(const char *path, uint64_t max_bytes, vkg_status too_big, char **out, size_t *len);

/* calloc that reports VKG_ERROR_OUT_OF_HOST_MEMORY through vkg_fail when it fails. */
void *vkg_calloc(size_t n, size_t size);

#endif /* VKG_COMMON_H */
