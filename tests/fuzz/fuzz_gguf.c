/*
 * fuzz_gguf.c — libFuzzer target: arbitrary bytes as a GGUF image through vkg_gguf_parse() (with and
 * without VKG_GGUF_ANY_TYPE). Whatever the parser accepts must be safe to use as documented: every
 * tensor's nbytes readable at data (ASan checks the reads) and decodable when vkgpt reads its type,
 * lookups by key and name find the same entries, every getter runs on every key. Not a test of the
 * model layer above it.
 */
#include "model/gguf.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void use(const vkg_gguf_file *f) {
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < vkg_gguf_kv_count(f); i++) {
        const vkg_gguf_kv *kv = vkg_gguf_kv_at(f, i);
        if (vkg_gguf_find_kv(f, kv->key) != kv)
            abort(); /* the key index disagrees with the file order (keys are unique) */
        uint32_t u;
        int32_t s;
        uint64_t u64, n = 0;
        float x;
        bool b;
        vkg_gguf_str str;
        const vkg_gguf_str *strs;
        (void)vkg_gguf_get_u32(f, kv->key, &u);
        (void)vkg_gguf_get_i32(f, kv->key, &s);
        (void)vkg_gguf_get_u64(f, kv->key, &u64);
        (void)vkg_gguf_get_f32(f, kv->key, &x);
        (void)vkg_gguf_get_bool(f, kv->key, &b);
        if (vkg_gguf_get_str(f, kv->key, &str) == VKG_OK)
            for (uint64_t k = 0; k < str.len; k++)
                sink ^= (uint8_t)str.ptr[k];
        if (vkg_gguf_get_str_array(f, kv->key, &strs, &n) == VKG_OK)
            for (uint64_t j = 0; j < n; j++)
                for (uint64_t k = 0; k < strs[j].len; k++)
                    sink ^= (uint8_t)strs[j].ptr[k];
        if (vkg_gguf_get_array_len(f, kv->key, &n) == VKG_OK && n <= (1u << 20)) {
            int64_t *iv = malloc((n ? n : 1) * sizeof *iv);
            float *fv = malloc((n ? n : 1) * sizeof *fv);
            if (iv && fv) {
                (void)vkg_gguf_get_int_array(f, kv->key, iv, n);
                (void)vkg_gguf_get_float_array(f, kv->key, fv, n);
            }
            free(iv);
            free(fv);
        }
    }
    for (size_t i = 0; i < vkg_gguf_tensor_count(f); i++) {
        const vkg_gguf_tensor *t = vkg_gguf_tensor_at(f, i);
        if (vkg_gguf_find_tensor(f, t->name) != t || t->nbytes != vkg_ggml_bytes(t->type, t->nelem))
            abort();
        const uint8_t *p = t->data;
        for (uint64_t k = 0; k < t->nbytes; k++)
            sink ^= p[k];
        if (vkg_ggml_type_supported(t->type) && t->nelem <= (1u << 16)) {
            float *v = malloc(t->nelem * sizeof *v);
            if (v && vkg_quant_dequantize(t->type, t->data, v, t->nelem) != VKG_OK)
                abort(); /* an accepted tensor of a type vkgpt reads must decode */
            free(v);
        }
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A copy of exactly `size` bytes, so that ASan sees any read past the end of the image. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    for (int any = 0; any < 2; any++) {
        vkg_gguf_file *f = NULL;
        if (vkg_gguf_parse(copy, size, "fuzz.gguf", any ? VKG_GGUF_ANY_TYPE : 0, &f) == VKG_OK) {
            use(f);
            vkg_gguf_close(f);
        }
    }
    free(copy);
    return 0;
}
