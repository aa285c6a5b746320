/*
 * fuzz_tokenizer.c — libFuzzer target for the tokenizer. The first input byte chooses what the
 * rest is:
 *   0 (and any value not below): text to encode with the real GPT-2 tokenizer (loaded once from
 *     ../shared/gpt2-tokenizer, or $VKG_FUZZ_GPT2_DIR; a built-in byte-only vocabulary with a few
 *     merges when those files are absent). Decoding the ids must give back exactly the input bytes
 *     — valid UTF-8 or not, as include/vkgpt.h documents — and so must the streaming decoder.
 *   1: a vocab.json and a merges.txt (split by a 2-byte length prefix) for vkg_tokenizer_load_buffers;
 *   2: a tokenizer.json for vkg_tokenizer_load_hf_json;
 *   in both cases a tokenizer that loads then encodes and decodes a fixed text and its own ids.
 *   3: 4 bytes that choose a pipeline (normalizers, pre-tokenizers, BPE options, added-token flags,
 *     decoder), written as a tokenizer.json here, then text to encode with it: every stage on
 *     arbitrary text; the ids must decode (no round trip asked: most pipelines are lossy).
 *   4: one byte choosing Llama 2, Llama 3 or Qwen3 (tests/data/tokenizers.tar.xz, unpacked by
 *     CMake; $VKG_FUZZ_TOKENIZERS_DIR), then text: Llama 3 must round-trip exactly, Llama 2 too
 *     when the text has no U+2581 and no added token, Qwen3 (NFC) need only decode.
 * A round-trip mismatch aborts (a finding); loader errors are expected and ignored.
 */
#include "tokenizer/tokenizer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#ifndef VKG_FUZZ_GPT2_DIR
#define VKG_FUZZ_GPT2_DIR "../shared/gpt2-tokenizer"
#endif

#ifndef VKG_FUZZ_TOKENIZERS_DIR
#define VKG_FUZZ_TOKENIZERS_DIR "../shared/tokenizers"
#endif

static vkg_tokenizer *gpt2, *families[3];

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
    const char *fam_dir = getenv("VKG_FUZZ_TOKENIZERS_DIR");
    static const char *names[3] = {"llama2", "llama3", "qwen3"};
    for (int f = 0; f < 3; f++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", fam_dir ? fam_dir : VKG_FUZZ_TOKENIZERS_DIR, names[f]);
        if (vkg_tokenizer_load(dir, &families[f]) != VKG_OK)
            fprintf(stderr, "fuzz_tokenizer: %s: %s (mode 4 skips it)\n", dir, vkg_last_error());
    }
    return 0;
}

/* Encode, decode, stream-decode: both decodings must equal the input. */
static void round_trip(const vkg_tokenizer *tok, const char *text, size_t len, int must_match) {
    int32_t *ids = NULL;
    size_t n = 0;
    if (vkg_tokenizer_encode(tok, text, len, false, &ids, &n) != VKG_OK) {
        if (must_match)
            abort(); /* encoding bytes never fails except out of memory */
        return;
    }
    char *out = NULL;
    size_t out_len = 0;
    if (vkg_tokenizer_decode(tok, ids, n, false, &out, &out_len) != VKG_OK ||
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
    /* Only a byte-level pipeline with nothing else in it is lossless for any bytes. */
    int has_all_bytes = tok->byte_level && tok->n_norm == 0 && tok->n_added == 0 &&
                        tok->n_pre == 1 && !tok->pre[0].add_prefix_space && tok->n_dec == 1 &&
                        tok->dec[0].kind == VKG_DEC_BYTELEVEL;
    for (int b = 0; b < 256; b++)
        has_all_bytes &= tok->byte_id[b] >= 0;
    round_trip(tok, sample, sizeof sample - 1, has_all_bytes);
    size_t nv = vkg_tokenizer_vocab_size(tok);
    int32_t probe[4] = {0, (int32_t)nv - 1, (int32_t)nv, -1};
    char *text = NULL;
    size_t len = 0;
    if (vkg_tokenizer_decode(tok, probe, 2, true, &text, &len) == VKG_OK)
        free(text);
    if (vkg_tokenizer_decode(tok, probe + 2, 2, false, &text, &len) == VKG_OK)
        abort(); /* ids outside the vocabulary must be refused */
    (void)vkg_tokenizer_eos(tok);
    (void)vkg_tokenizer_token_id(tok, "<|endoftext|>");
    const int32_t *end;
    size_t n_end = vkg_tokenizer_end_ids(tok, &end);
    for (size_t i = 0; i < n_end; i++)
        if (end[i] < 0 || (size_t)end[i] >= nv)
            abort();
    vkg_tokenizer_free(tok);
}

/* Appends printf-style text to a fixed buffer (truncation only makes the JSON invalid). */
static void add(char *buf, size_t cap, size_t *n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (k > 0)
        *n = *n + (size_t)k < cap ? *n + (size_t)k : cap - 1;
}

/* Mode 3: a tokenizer.json built from 4 choice bytes, then `text` through it. */
static void pipeline(const uint8_t *c, const char *text, size_t len) {
    static char j[65536];
    size_t n = 0;
    bool byte_level = c[1] & 0x80;
    static const char *norms[] = {
        "{\"type\":\"Prepend\",\"prepend\":\"\u2581\"}",
        "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\u2581\"}",
        "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"\\\\s+\"},\"content\":\" \"}",
        "{\"type\":\"NFC\"}", "{\"type\":\"NFD\"}", "{\"type\":\"NFKC\"}", "{\"type\":\"NFKD\"}",
        "{\"type\":\"Lowercase\"}", "{\"type\":\"Strip\",\"strip_left\":true,\"strip_right\":false}"};
    static const char *behaviors[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext",
                                      "Contiguous"};
    add(j, sizeof j, &n, "{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[");
    for (int k = 0; k < (c[0] & 3); k++)
        add(j, sizeof j, &n, "%s%s", k ? "," : "", norms[(c[0] >> (2 + 2 * k)) % 9]);
    add(j, sizeof j, &n, "]},\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[");
    int kind = c[1] & 7;
    const char *beh = behaviors[(c[1] >> 3) % 5];
    bool invert = c[1] & 0x40;
    if (kind == 0)
        add(j, sizeof j, &n, "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\p{L}+|\\\\d\"},"
            "\"behavior\":\"%s\",\"invert\":%s}", beh, invert ? "true" : "false");
    else if (kind == 1)
        add(j, sizeof j, &n, "{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},"
            "\"behavior\":\"%s\",\"invert\":%s}", beh, invert ? "true" : "false");
    else if (kind == 2)
        add(j, sizeof j, &n, "{\"type\":\"Metaspace\",\"replacement\":\"\u2581\","
            "\"prepend_scheme\":\"%s\",\"split\":%s}",
            (const char *[]){"always", "first", "never"}[(c[1] >> 3) % 3], invert ? "true" : "false");
    else
        add(j, sizeof j, &n, "{\"type\":\"%s\"%s}",
            (const char *[]){"Digits", "Whitespace", "WhitespaceSplit", "Punctuation", "Digits"}[kind - 3],
            invert ? ",\"individual_digits\":true" : "");
    if (byte_level)
        add(j, sizeof j, &n, ",{\"type\":\"ByteLevel\",\"add_prefix_space\":%s,\"use_regex\":%s}",
            c[2] & 1 ? "true" : "false", c[2] & 2 ? "true" : "false");
    add(j, sizeof j, &n, "]},\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":["
        "{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],"
        "\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]}}},");
    if (byte_level)
        add(j, sizeof j, &n, "\"decoder\":{\"type\":\"ByteLevel\"},");
    else if (c[2] & 4)
        add(j, sizeof j, &n, "\"decoder\":{\"type\":\"Metaspace\",\"prepend_scheme\":\"first\"},");
    else
        add(j, sizeof j, &n, "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\","
            "\"pattern\":{\"String\":\"\u2581\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},"
            "{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":%d}]},",
            c[2] >> 7);
    bool f[4] = {c[3] & 1, c[3] & 2, c[3] & 4, c[3] & 8};
    add(j, sizeof j, &n, "\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true},"
        "{\"id\":1,\"content\":\"<s>\",\"special\":true,\"normalized\":false},"
        "{\"id\":2,\"content\":\"[X]\",\"special\":%s,\"lstrip\":%s,\"rstrip\":%s,"
        "\"single_word\":%s,\"normalized\":%s},{\"id\":3,\"content\":\"ab\",\"normalized\":true}],",
        c[3] & 16 ? "true" : "false", f[0] ? "true" : "false", f[1] ? "true" : "false",
        f[2] ? "true" : "false", f[3] ? "true" : "false");
    /* The model: byte-level: the 256 byte characters; else <0xNN> tokens and ASCII letters. */
    add(j, sizeof j, &n, "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":%s,"
        "\"byte_fallback\":%s,\"ignore_merges\":%s,\"vocab\":{\"<unk>\":0,\"<s>\":1,\"[X]\":2,\"ab\":3,"
        "\"\u2581\":4,\"\u2581a\":5,\"\u0120a\":6,\"\u0120\":7",
        c[2] & 8 ? "true" : "false", c[2] & 16 ? "true" : "false", c[2] & 32 ? "true" : "false");
    uint16_t cp[256];
    vkg_tok_byte_to_cp(cp);
    int id = 8;
    for (int b = 0; b < 256; b++) {
        if (byte_level) {
            if (cp[b] == 0x120 || cp[b] == 'a' || cp[b] == 'b')
                continue;
            add(j, sizeof j, &n, cp[b] == '"' || cp[b] == '\\' ? ",\"\\%c\":%d" : ",\"\\u%04x\":%d",
                cp[b], id++);
        } else {
            add(j, sizeof j, &n, ",\"<0x%02X>\":%d", b, id++);
        }
    }
    if (!byte_level)
        for (int ch = 'c'; ch <= 'z'; ch++)
            add(j, sizeof j, &n, ",\"%c\":%d", ch, id++);
    add(j, sizeof j, &n, ",\"a\":%d,\"b\":%d},\"merges\":[\"a b\",[\"\u2581\",\"a\"],[\"\u0120\",\"a\"]]}}",
        id, id + 1);
    vkg_tokenizer *tok = NULL;
    if (vkg_tokenizer_load_hf_json(j, n, NULL, &tok) != VKG_OK)
        return; /* a combination the loader refuses (e.g. a stage after ByteLevel) */
    for (int special = 0; special < 2; special++) {
        int32_t *ids = NULL;
        size_t k = 0;
        if (vkg_tokenizer_encode(tok, text, len, special, &ids, &k) != VKG_OK)
            abort();
        for (int skip = 0; skip < 2; skip++) {
            char *out = NULL;
            size_t out_len = 0;
            if (vkg_tokenizer_decode(tok, ids, k, skip, &out, &out_len) != VKG_OK)
                abort();
            free(out);
        }
        round_trip(tok, text, len, 0);
        free(ids);
    }
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
    } else if (mode == 3 && size >= 4) {
        pipeline((const uint8_t *)copy, copy + 4, size - 4);
    } else if (mode == 4 && size >= 1) {
        int f = (uint8_t)copy[0] % 3;
        const char *text = copy + 1;
        size_t n = size - 1;
        /* Llama 2 is lossless but for U+2581 (decoded as ' ') and the text after an added token
         * ("<s>", "</s>", "<unk>"), which gets a U+2581 of its own, as in Hugging Face. */
        bool lossy = false;
        for (size_t i = 0; i < n; i++)
            lossy |= (i + 3 <= n && !memcmp(text + i, "\xe2\x96\x81", 3)) ||
                     (i + 3 <= n && !memcmp(text + i, "<s>", 3)) ||
                     (i + 4 <= n && !memcmp(text + i, "</s>", 4)) ||
                     (i + 5 <= n && !memcmp(text + i, "<unk>", 5));
        if (families[f])
            round_trip(families[f], text, n, f == 1 || (f == 0 && !lossy));
    } else {
        round_trip(gpt2, copy, size, 1);
    }
    free(copy);
    return 0;
}
