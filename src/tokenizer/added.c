/*
 * added.c — tokenizer.json's "added_tokens": the table of them and how they are found in text.
 * As Hugging Face's AddedVocabulary: tokens with normalized=false are cut out of the raw text
 * before anything else; the rest of the text is normalized and then cut at the tokens with
 * normalized=true (whose content was normalized the same way at load). At each place the search
 * takes the leftmost match, and of those the longest; single_word drops a match that touches a
 * word character on either side (the text it covered is not searched again), lstrip and rstrip
 * widen the match over the whitespace before and after it.
 * Not here: the vocabulary (load.c), the encoding pipeline (encode.c).
 */
#include "tokenizer/tokenizer.h"

#include <jansson.h>
#include <utf8proc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool flag(const json_t *e, const char *key, bool def) {
    const json_t *v = json_object_get(e, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

static int by_first_then_longest(const void *pa, const void *pb) {
    const vkg_tok_added *a = pa, *b = pb;
    if (a->first != b->first)
        return a->first < b->first ? -1 : 1;
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

vkg_status vkg_tok_added_parse(vkg_tokenizer *tok, const json_t *list, const char *where) {
    size_t n = json_array_size(list);
    if (n == 0)
        return VKG_OK;
    tok->added = calloc(n, sizeof *tok->added);
    if (!tok->added)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    vkg_tok_buf arena = {0}, norm = {0}, tmp = {0};
    vkg_status st = VKG_OK;
    for (size_t i = 0; i < n && !st; i++) {
        const json_t *e = json_array_get(list, i);
        const json_t *c = json_object_get(e, "content");
        vkg_tok_added *a = &tok->added[tok->n_added];
        a->id = (int32_t)json_integer_value(json_object_get(e, "id")); /* checked by load.c */
        a->special = flag(e, "special", false);
        a->lstrip = flag(e, "lstrip", false);
        a->rstrip = flag(e, "rstrip", false);
        a->single_word = flag(e, "single_word", false);
        a->normalized = flag(e, "normalized", !a->special);
        const char *s = json_string_value(c);
        size_t len = json_string_length(c);
        if (a->normalized && tok->n_norm) {
            if ((st = vkg_tok_normalize(tok, s, len, &norm, &tmp)))
                break;
            s = norm.p;
            len = norm.len;
        }
        if (len == 0)
            continue; /* normalized to nothing: it can never be found */
        if (arena.len + len >= UINT32_MAX) {
            st = vkg_fail(VKG_ERROR_TOKENIZER, "%s: added tokens exceed 4 GiB", where);
            break;
        }
        a->off = (uint32_t)arena.len;
        a->len = (uint32_t)len;
        a->first = (uint8_t)s[0];
        if ((st = vkg_tok_buf_put(&arena, s, len)))
            break;
        tok->has_added[a->normalized] = true;
        tok->n_added++;
    }
    tok->added_arena = arena.p;
    free(norm.p);
    free(tmp.p);
    VKG_TRY(st);
    qsort(tok->added, tok->n_added, sizeof *tok->added, by_first_then_longest);
    size_t k = 0;
    for (int b = 0; b < 256; b++) {
        tok->added_at[b] = (uint32_t)k;
        while (k < tok->n_added && tok->added[k].first == b)
            k++;
    }
    tok->added_at[256] = (uint32_t)k;
    return VKG_OK;
}

/* A word character for single_word: Hugging Face tests with the regex crate's Unicode \w, which
 * is Alphabetic (letters, letter numbers), marks, decimal digits, connector punctuation ('_')
 * and the joiners U+200C/U+200D. */
static bool is_word(int32_t cp) {
    if (cp < 0)
        return false;
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
               cp == '_';
    if (cp == 0x200C || cp == 0x200D)
        return true;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_PC:
        return true;
    default:
        return false;
    }
}

/* The character that ends at s[end) (-1 when none or invalid), and where it starts. */
static int32_t char_before(const uint8_t *s, size_t end, size_t *start) {
    if (end == 0)
        return -1;
    size_t k = end - 1;
    while (k > 0 && end - k < 4 && (s[k] & 0xC0) == 0x80)
        k--;
    size_t e = k;
    int32_t cp = vkg_tok_utf8_next(s, end, &e);
    if (e != end) {
        *start = end - 1;
        return -1;
    }
    *start = k;
    return cp;
}

bool vkg_tok_added_find(const vkg_tokenizer *tok, const uint8_t *s, size_t n, size_t from,
                        bool normalized, size_t *start, size_t *end, const vkg_tok_added **hit) {
    if (!tok->has_added[normalized])
        return false;
    const vkg_tok_added *all = tok->added;
    const char *arena = tok->added_arena;
    size_t prev_end = from;
    for (size_t i = from; i < n; i++) {
        uint32_t lo = tok->added_at[s[i]], hi = tok->added_at[s[i] + 1];
        if (lo == hi)
            continue;
        const vkg_tok_added *a = NULL;
        for (uint32_t k = lo; k < hi; k++) {
            const vkg_tok_added *t = &all[k];
            if (t->normalized == normalized && t->len <= n - i &&
                memcmp(arena + t->off, s + i, t->len) == 0) {
                a = t; /* longest first */
                break;
            }
        }
        if (!a)
            continue;
        size_t a0 = i, a1 = i + a->len, k;
        if (a->single_word) {
            size_t e = a1;
            if (is_word(char_before(s, a0, &k)) || (a1 < n && is_word(vkg_tok_utf8_next(s, n, &e)))) {
                i = a1 - 1; /* the match is dropped and its text is not searched again */
                continue;
            }
        }
        if (a->lstrip) {
            int32_t cp;
            while (a0 > prev_end && (cp = char_before(s, a0, &k)) >= 0 && vkg_tok_is_white(cp) &&
                   k >= prev_end)
                a0 = k;
        }
        if (a->rstrip) {
            for (;;) {
                size_t e = a1;
                if (a1 >= n || !vkg_tok_is_white(vkg_tok_utf8_next(s, n, &e)))
                    break;
                a1 = e;
            }
        }
        *start = a0;
        *end = a1;
        *hit = a;
        return true;
    }
    return false;
}
