/*
 * fuzz_safetensors.c — libFuzzer target: arbitrary bytes as a .safetensors image through
 * vkg_st_parse(). Whatever the parser accepts must be safe to use as documented: every tensor's
 * nbytes readable at data (ASan checks the reads), lookups by name find the same tensor, and the
 * finiteness check and shape formatting work on it. Not a test of the model loader above it.
 */
#include "model/safetensors.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A copy of exactly `size` bytes, so that ASan sees any read past the end of the image. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    vkg_st_file *f = NULL;
    if (vkg_st_parse(copy, size, "fuzz.safetensors", &f) == VKG_OK) {
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < vkg_st_count(f); i++) {
            const vkg_st_tensor *t = vkg_st_at(f, i);
            if (vkg_st_find(f, t->name) != t)
                abort(); /* the name index disagrees with the header order */
            const uint8_t *p = t->data;
            for (uint64_t b = 0; b < t->nbytes; b++)
                sink ^= p[b];
            (void)vkg_st_check_finite(t);
            char shape[256];
            vkg_st_shape_str(t->shape, t->ndim, shape, sizeof shape);
        }
        (void)vkg_st_metadata(f, "format");
        (void)sink;
        vkg_st_close(f);
    }
    free(copy);
    return 0;
}
