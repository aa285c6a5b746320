/*
 * fuzz_tokenizer.c — libFuzzer target for the GPT-2 byte-level BPE tokenizer. The first input byte
 * chooses what the rest is:
 *   0 (and any value not below): text to encode with the real GPT-2 tokenizer (loaded once from
 *     ../shared/gpt2-tokenizer, or $VKG_FUZZ_GPT2_DIR; a built-in byte-only vocabulary with a few
 *     merges when those files are absent). Decoding the ids must give back exactly the input bytes
 *     — valid UTF-8 or not, as include/vkgpt.h documents — and so must the streaming decoder.
 *   1: a vocab.json and a merges.txt (split by a 2-byte length prefix) for vkg_tokenizer_load_buffers;
 *   2: a tokenizer.json for vkg_tokenizer_load_hf_json;
 *   in both cases a tokenizer that loads then encodes and decodes a fixed text and its own ids.
 * A round-trip mismatch aborts (a finding); loader errors are expected and ignored.
 */
#include "tokenizer/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#ifndef VKG_FUZZ_GPT2_DIR
#define VKG_FUZZ_GPT2_DIR "../shared/gpt2-tokenizer"
#endif

static vkg_tokenizer *gpt2;

/* UTF-8 of a code point < 0x800 into out; returns the length. */
static size_t utf8(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

/* A vocabulary of the 256 byte tokens, a few merges and <|endoftext|>: enough to exercise merging
 * when the real GPT-2 files are not there. */
static vkg_tokenizer *builtin_tokenizer(void) {
    uint16_t cp[256];
    vkg_tok_byte_to_cp(cp);
    static char vocab[16384];
    size_t n = 0;
    n += (size_t)snprintf(vocab + n, sizeof vocab - n, "{");
    for (int b = 0; b < 256; b++) {
        char u[4];
        size_t k = utf8(cp[b], u);
        n += (size_t)snprintf(vocab + n, sizeof vocab - n, "%s\"", b ? "," : "");
        if (cp[b] == '"' || cp[b] == '\\')
            vocab[n++] = '\\';
        memcpy(vocab + n, u, k);
        n += k;
        n += (size_t)snprintf(vocab + n, sizeof vocab - n, "\":%d", b);
    }
    n += (size_t)snprintf(vocab + n, sizeof vocab - n,
                          ",\"th\":256,\"the\":257,\"\xc4\xa0t\":258,\"\xc4\xa0the\":259,"
                          "\"<|endoftext|>\":260}");
    const char merges[] = "#version: 0.2\nt h\nth e\n\xc4\xa0 t\n\xc4\xa0t he\n";
    vkg_tokenizer *tok = NULL;
    if (vkg_tokenizer_load_buffers(vocab, n, merges, sizeof merges - 1, NULL, NULL, &tok) != VKG_OK) {
        fprintf(stderr, "fuzz_tokenizer: built-in vocabulary refused: %s\n", vkg_last_error());
        abort();
    }
    /* The merge "t h" has rank 0, "th e" rank 1: "the" must become one token. */
    return tok;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *dir = getenv("VKG_FUZZ_GPT2_DIR");
    if (vkg_tokenizer_load(dir ? dir : VKG_FUZZ_GPT2_DIR, &gpt2) != VKG_OK) {
        fprintf(stderr, "fuzz_tokenizer: GPT-2 files not found (%s); using the built-in vocabulary\n",
                vkg_last_error());
        gpt2 = builtin_tokenizer();
    }
    return 0;
}

/* Encode, decode, stream-decode: both decodings must equal the input. */
static void round_trip(const vkg_tokenizer *tok, const char *text, size_t len, int must_match) {
    int32_t *ids = NULL;
    size_t n = 0;
    if (vkg_tokenizer_encode(tok, text, len, &ids, &n) != VKG_OK) {
        if (must_match)
            abort(); /* encoding bytes never fails except out of memory */
        return;
    }
    char *out = NULL;
    size_t out_len = 0;
    if (vkg_tokenizer_decode(tok, ids, n, &out, &out_len) != VKG_OK ||
        (must_match && (out_len != len || memcmp(out, text, len) != 0)))
        abort();
    free(out);
    vkg_detok *d = NULL;
    if (vkg_detok_create(tok, &d) == VKG_OK) {
        size_t at = 0;
        for (size_t i = 0; i < n; i++) {
            const char *piece;
            size_t k;
            if (vkg_detok_push(d, ids[i], &piece, &k) != VKG_OK)
                abort();
            if (must_match && (at + k > len || memcmp(text + at, piece, k) != 0))
                abort();
            at += k;
        }
        const char *rest;
        size_t k;
        if (vkg_detok_flush(d, &rest, &k) != VKG_OK)
            abort();
        if (must_match && (at + k != len || memcmp(text + at, rest, k) != 0))
            abort();
        vkg_detok_destroy(d);
    }
    free(ids);
}

/* A freshly loaded (possibly weird) tokenizer: every call must be safe; bytes still round-trip
 * when every byte has a token of its own. */
static void exercise(vkg_tokenizer *tok) {
    static const char sample[] = "Hello, world! It's 2024 \xf0\x9f\x98\x80 \xff\xfe  \n\n the end";
    int has_all_bytes = 1;
    for (int b = 0; b < 256; b++)
        has_all_bytes &= tok->byte_id[b] >= 0;
    round_trip(tok, sample, sizeof sample - 1, has_all_bytes);
    size_t nv = vkg_tokenizer_vocab_size(tok);
    int32_t probe[4] = {0, (int32_t)nv - 1, (int32_t)nv, -1};
    char *text = NULL;
    size_t len = 0;
    if (vkg_tokenizer_decode(tok, probe, 2, &text, &len) == VKG_OK)
        free(text);
    if (vkg_tokenizer_decode(tok, probe + 2, 2, &text, &len) == VKG_OK)
        abort(); /* ids outside the vocabulary must be refused */
    (void)vkg_tokenizer_eos(tok);
    (void)vkg_tokenizer_token_id(tok, "<|endoftext|>");
    vkg_tokenizer_free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    /* Exact-size copies so that ASan sees reads past the end. */
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    vkg_tokenizer *tok = NULL;
    if (mode == 1 && size >= 2) {
        size_t vlen = ((size_t)(uint8_t)copy[0] | (size_t)(uint8_t)copy[1] << 8) % (size - 1);
        char *vocab = malloc(vlen ? vlen : 1), *merges = malloc(size - 2 - vlen + 1);
        if (vocab && merges) {
            memcpy(vocab, copy + 2, vlen);
            memcpy(merges, copy + 2 + vlen, size - 2 - vlen);
            if (vkg_tokenizer_load_buffers(vocab, vlen, merges, size - 2 - vlen, NULL, NULL, &tok) == VKG_OK)
                exercise(tok);
        }
        free(vocab);
        free(merges);
    } else if (mode == 2) {
        if (vkg_tokenizer_load_hf_json(copy, size, NULL, &tok) == VKG_OK)
            exercise(tok);
    } else {
        round_trip(gpt2, copy, size, 1);
    }
    free(copy);
    return 0;
}
