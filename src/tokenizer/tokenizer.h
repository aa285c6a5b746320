/*
 * tokenizer.h — internals of the GPT-2 byte-level BPE tokenizer shared by its source files
 * (load.c: files -> tables, encode.c: text -> ids, decode.c: ids -> bytes and the streaming
 * decoder). Not part of the public API; the public calls are in include/vkgpt.h. The buffer
 * loaders below are here so that tests and fuzz targets can feed bytes without files.
 */
#ifndef VKG_TOKENIZER_H
#define VKG_TOKENIZER_H

#include "common.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* GPT-2's pre-tokenizer pattern, verbatim (case-sensitive contractions, as the reference). */
#define VKG_TOK_PATTERN \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

/* Largest token id a vocabulary may use; bounds the tables a hostile file can make us allocate. */
#define VKG_TOK_MAX_ID (1 << 24)

#define VKG_TOK_NONE UINT32_MAX

/* One entry of the merge table: the pair (left id, right id) packed in `key`, its rank (line order
 * in merges.txt, lower merges first) and the id of the merged token. */
typedef struct vkg_tok_merge {
    uint64_t key;    /* (uint64_t)left << 32 | right; UINT64_MAX marks an empty slot */
    uint32_t rank;
    int32_t merged;
} vkg_tok_merge;

struct vkg_tokenizer {
    size_t n_vocab;         /* largest id + 1; ids without a token are holes (off == NONE) */

    /* Token text as spelled in the vocabulary (byte-level unicode, e.g. "Ġthe"), NUL-terminated. */
    char *str_arena;
    uint32_t *str_off;      /* (n_vocab) offset into str_arena, VKG_TOK_NONE for a hole */
    uint32_t *str_len;      /* (n_vocab) */

    /* The bytes each token decodes to. */
    uint8_t *byte_arena;
    uint32_t *byte_off;     /* (n_vocab) */
    uint32_t *byte_len;     /* (n_vocab) */

    /* Vocabulary string -> id, open addressing; a slot holds id + 1, 0 when empty. */
    uint32_t *str_slots;
    size_t str_cap;         /* power of two */

    /* (left, right) -> rank and merged id, open addressing. */
    vkg_tok_merge *merges;
    size_t merge_cap;       /* power of two */
    size_t n_merges;

    int32_t byte_id[256];   /* the single-byte token of each byte value */
    int32_t eos;            /* id of "<|endoftext|>", -1 when the vocabulary has none */

    pcre2_code *re;         /* VKG_TOK_PATTERN, JIT-compiled where PCRE2 has a JIT */
};

/* Build a tokenizer from the contents of vocab.json and merges.txt. `vocab_name` and `merges_name`
 * are used only in error messages (NULL: "vocab.json", "merges.txt"). Buffers need no NUL. */
vkg_status vkg_tokenizer_load_buffers(const char *vocab_json, size_t vocab_len,
                                      const char *merges_txt, size_t merges_len,
                                      const char *vocab_name, const char *merges_name,
                                      vkg_tokenizer **out);

/* Build a tokenizer from the contents of a Hugging Face tokenizer.json (model.type "BPE").
 * `name` is used only in error messages (NULL: "tokenizer.json"). */
vkg_status vkg_tokenizer_load_hf_json(const char *json, size_t len, const char *name,
                                      vkg_tokenizer **out);

/* GPT-2's bytes_to_unicode(): the code point (< 512) that stands for each byte in vocab strings. */
void vkg_tok_byte_to_cp(uint16_t cp_of_byte[256]);

/* 64-bit FNV-1a; the string hash of the vocabulary map and the encode cache. */
static inline uint64_t vkg_tok_hash(const void *p, size_t n) {
    const uint8_t *s = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

/* The id of a vocabulary string (byte-level unicode spelling), -1 when absent. */
int32_t vkg_tok_lookup(const vkg_tokenizer *tok, const char *s, size_t n);

/* Rank and merged id of the pair (left, right); false when the pair does not merge. */
static inline bool vkg_tok_merge_find(const vkg_tokenizer *tok, int32_t left, int32_t right,
                                      uint32_t *rank, int32_t *merged) {
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    size_t mask = tok->merge_cap - 1;
    size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 17) & mask;
    for (;;) {
        const vkg_tok_merge *m = &tok->merges[i];
        if (m->key == key) {
            *rank = m->rank;
            *merged = m->merged;
            return true;
        }
        if (m->key == UINT64_MAX)
            return false;
        i = (i + 1) & mask;
    }
}

#endif /* VKG_TOKENIZER_H */
