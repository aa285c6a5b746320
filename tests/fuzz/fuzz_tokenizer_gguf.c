/*
 * fuzz_tokenizer_gguf.c — libFuzzer target for the tokenizer in a GGUF file's metadata
 * (src/tokenizer/gguf.c): the input is a whole GGUF image; when the container parses
 * (model/gguf.c, fuzzed on its own by fuzz_gguf) its tokenizer.ggml.* keys are built into a
 * tokenizer, which, when it loads, encodes and decodes a fixed text and decodes its first ids.
 * Loader errors are expected and ignored; a crash, leak or sanitizer report is a finding.
 * Seeds: tests/fuzz/corpus/tokenizer_gguf (small "gpt2" and "llama" vocabularies).
 */
#include "model/gguf.h"
#include "tokenizer/tokenizer.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vkg_gguf_file *f = NULL;
    if (vkg_gguf_parse(data, size, "fuzz.gguf", VKG_GGUF_ANY_TYPE, &f) != VKG_OK)
        return 0;
    vkg_tokenizer *tok = NULL;
    if (vkg_tok_gguf_build(f, &tok) == VKG_OK) {
        static const char text[] = "Hello, world! 123 <s> caf\xc3\xa9 \xe2\x96\x81x\n\t \xf0\x9f\x98\x80";
        int32_t *ids = NULL;
        size_t n = 0;
        char *out = NULL;
        size_t len = 0;
        if (vkg_tokenizer_encode(tok, text, sizeof text - 1, true, &ids, &n) == VKG_OK &&
            vkg_tokenizer_decode(tok, ids, n, false, &out, &len) == VKG_OK)
            free(out);
        free(ids);
        int32_t first[64];
        size_t k = vkg_tokenizer_vocab_size(tok) < 64 ? vkg_tokenizer_vocab_size(tok) : 64;
        for (size_t i = 0; i < k; i++)
            first[i] = (int32_t)i;
        out = NULL;
        if (vkg_tokenizer_decode(tok, first, k, true, &out, &len) == VKG_OK)
            free(out);
        vkg_tokenizer_free(tok);
    }
    vkg_gguf_close(f);
    return 0;
}
