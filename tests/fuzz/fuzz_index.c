/*
 * fuzz_index.c — libFuzzer target: arbitrary bytes as model.safetensors.index.json through
 * vkg_index_parse(). Accepted indexes must only name shard files inside the checkpoint directory
 * (no absolute path, no ".." component) and every tensor must point at a listed shard.
 */
#include "model/checkpoint.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int climbs_out(const char *name) {
    if (name[0] == '/' || name[0] == '\0')
        return 1;
    for (const char *p = name; *p;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 1;
        p += n + (end != NULL);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    vkg_index *ix = NULL;
    if (vkg_index_parse(copy, size, "fuzz/model.safetensors.index.json", &ix) == VKG_OK) {
        size_t n_shards = vkg_index_shard_count(ix);
        for (size_t i = 0; i < n_shards; i++)
            if (climbs_out(vkg_index_shard(ix, i)))
                abort();
        for (size_t i = 0; i < vkg_index_tensor_count(ix); i++) {
            size_t shard = SIZE_MAX;
            const char *name = vkg_index_tensor(ix, i, &shard);
            if (!name || shard >= n_shards)
                abort();
        }
        vkg_index_free(ix);
    }
    free(copy);
    return 0;
}
