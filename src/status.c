/* status.c — status names and the per-thread failure message behind vkg_last_error(). */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char last_error[1024];

const char *vkg_status_str(vkg_status s) {
    switch (s) {
#define NAME(x) case x: return #x;
        NAME(VKG_OK)
        NAME(VKG_ERROR_INVALID_ARGUMENT)
        NAME(VKG_ERROR_TOKEN_RANGE)
        NAME(VKG_ERROR_CONTEXT_FULL)
        NAME(VKG_ERROR_INTERRUPTED)
        NAME(VKG_ERROR_UNSUPPORTED)
        NAME(VKG_ERROR_IO)
        NAME(VKG_ERROR_ST_TRUNCATED)
        NAME(VKG_ERROR_ST_HEADER_SIZE)
        NAME(VKG_ERROR_ST_HEADER_JSON)
        NAME(VKG_ERROR_ST_DUPLICATE_KEY)
        NAME(VKG_ERROR_ST_DTYPE)
        NAME(VKG_ERROR_ST_OFFSETS)
        NAME(VKG_ERROR_ST_OVERLAP)
        NAME(VKG_ERROR_ST_ALIGNMENT)
        NAME(VKG_ERROR_ST_SIZE_MISMATCH)
        NAME(VKG_ERROR_ST_OVERFLOW)
        NAME(VKG_ERROR_TENSOR_MISSING)
        NAME(VKG_ERROR_TENSOR_SHAPE)
        NAME(VKG_ERROR_TENSOR_UNKNOWN)
        NAME(VKG_ERROR_CONFIG_FIELD)
        NAME(VKG_ERROR_CONFIG_TYPE)
        NAME(VKG_ERROR_CONFIG_VALUE)
        NAME(VKG_ERROR_MODEL_UNSUPPORTED)
        NAME(VKG_ERROR_INDEX_JSON)
        NAME(VKG_ERROR_TOKENIZER)
        NAME(VKG_ERROR_BAD_WEIGHTS)
        NAME(VKG_ERROR_TEMPLATE)
        NAME(VKG_ERROR_TEMPLATE_RAISED)
        NAME(VKG_ERROR_GGUF_MAGIC)
        NAME(VKG_ERROR_GGUF_VERSION)
        NAME(VKG_ERROR_GGUF_TRUNCATED)
        NAME(VKG_ERROR_GGUF_METADATA)
        NAME(VKG_ERROR_GGUF_TENSOR_TYPE)
        NAME(VKG_ERROR_GGUF_SHAPE)
        NAME(VKG_ERROR_GGUF_OFFSETS)
        NAME(VKG_ERROR_GGUF_OVERLAP)
        NAME(VKG_ERROR_GGUF_ALIGNMENT)
        NAME(VKG_ERROR_GGUF_OVERFLOW)
        NAME(VKG_ERROR_GGUF_TOO_LARGE)
        NAME(VKG_ERROR_GGUF_DUPLICATE)
        NAME(VKG_ERROR_GGUF_KEY_MISSING)
        NAME(VKG_ERROR_GGUF_KEY_TYPE)
        NAME(VKG_ERROR_NO_LOADER)
        NAME(VKG_ERROR_NO_DEVICE)
        NAME(VKG_ERROR_DEVICE_INDEX)
        NAME(VKG_ERROR_VULKAN)
        NAME(VKG_ERROR_OUT_OF_DEVICE_MEMORY)
        NAME(VKG_ERROR_DEVICE_LOST)
        NAME(VKG_ERROR_DEVICE_LIMIT)
        NAME(VKG_ERROR_FEATURE_MISSING)
        NAME(VKG_ERROR_OUT_OF_HOST_MEMORY)
        NAME(VKG_ERROR_INTERNAL)
#undef NAME
    }
    return "VKG_ERROR_UNKNOWN";
}

const char *vkg_last_error(void) { return last_error; }

vkg_status vkg_fail(vkg_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

vkg_status vkg_fail_context(vkg_status status, const char *fmt, ...) {
    char prefix[512], old[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_error, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof last_error - 3)
        n = sizeof last_error - 3;
    memcpy(last_error, prefix, n);
    memcpy(last_error + n, ": ", 2);
    /* Keep the tail of the old message that fits after the prefix. */
    size_t room = sizeof last_error - n - 3;
    size_t old_len = strnlen(old, sizeof old - 1);
    if (old_len > room)
        old_len = room;
    memcpy(last_error + n + 2, old, old_len);
    last_error[n + 2 + old_len] = 0;
    return status;
}

void *vkg_calloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory allocating %zu x %zu bytes", n,
                 size);
    return p;
}
