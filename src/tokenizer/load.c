/*
 * load.c — builds a vkg_tokenizer from vocab.json + merges.txt or from a Hugging Face
 * tokenizer.json: the id <-> string tables, the bytes each id decodes to, the merge table and the
 * compiled pre-tokenizer. Every malformed entry is reported with the file and line or entry.
 * Not here: encoding (encode.c) and decoding (decode.c).
 */
#include "tokenizer/tokenizer.h"

#include <jansson.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void vkg_tok_byte_to_cp(uint16_t cp_of_byte[256]) {
    /* Bytes that are printable Latin-1 stand for themselves; the others are given the code
     * points 256, 257, ... in byte order, so that every byte is a visible character. */
    uint16_t next = 256;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        cp_of_byte[b] = printable ? (uint16_t)b : next++;
    }
}

/* A growable byte buffer for the arenas. */
typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static vkg_status buf_put(buf *b, const void *data, size_t n, uint32_t *off) {
    if (b->len + n + 1 > UINT32_MAX)
        return vkg_fail(VKG_ERROR_TOKENIZER, "tokenizer strings exceed 4 GiB in total");
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory (%zu bytes)", cap);
        b->p = p;
        b->cap = cap;
    }
    *off = (uint32_t)b->len;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->p[b->len + n] = '\0';
    b->len += n + 1;
    return VKG_OK;
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n)
        c *= 2;
    return c;
}

int32_t vkg_tok_lookup(const vkg_tokenizer *tok, const char *s, size_t n) {
    size_t mask = tok->str_cap - 1;
    for (size_t i = (size_t)vkg_tok_hash(s, n) & mask;; i = (i + 1) & mask) {
        uint32_t slot = tok->str_slots[i];
        if (!slot)
            return -1;
        uint32_t id = slot - 1;
        if (tok->str_len[id] == n && memcmp(tok->str_arena + tok->str_off[id], s, n) == 0)
            return (int32_t)id;
    }
}

static void str_map_insert(vkg_tokenizer *tok, uint32_t id) {
    const char *s = tok->str_arena + tok->str_off[id];
    size_t n = tok->str_len[id], mask = tok->str_cap - 1;
    if (vkg_tok_lookup(tok, s, n) >= 0)
        return; /* an added token spelled like another entry: the lower id keeps the name */
    size_t i = (size_t)vkg_tok_hash(s, n) & mask;
    while (tok->str_slots[i])
        i = (i + 1) & mask;
    tok->str_slots[i] = id + 1;
}

void vkg_tokenizer_free(vkg_tokenizer *tok) {
    if (!tok)
        return;
    free(tok->str_arena);
    free(tok->str_off);
    free(tok->str_len);
    free(tok->byte_arena);
    free(tok->byte_off);
    free(tok->byte_len);
    free(tok->str_slots);
    free(tok->merges);
    if (tok->re)
        pcre2_code_free(tok->re);
    free(tok);
}

/* Allocates the per-id tables for ids 0 .. max_id and the string map for `count` strings. */
static vkg_status tables_alloc(vkg_tokenizer *tok, size_t max_id, size_t count, const char *name) {
    /* Holes are allowed, but not so many that a tiny hostile file makes us allocate gigabytes. */
    if (max_id >= VKG_TOK_MAX_ID || max_id >= 4 * count + 1024)
        return vkg_fail(VKG_ERROR_TOKENIZER,
                        "%s: token id %zu is too large for a vocabulary of %zu tokens", name,
                        max_id, count);
    tok->n_vocab = max_id + 1;
    tok->str_off = malloc(tok->n_vocab * sizeof *tok->str_off);
    tok->str_len = calloc(tok->n_vocab, sizeof *tok->str_len);
    tok->str_cap = pow2_at_least(2 * count + 2);
    tok->str_slots = calloc(tok->str_cap, sizeof *tok->str_slots);
    if (!tok->str_off || !tok->str_len || !tok->str_slots)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory for %zu tokens",
                        tok->n_vocab);
    for (size_t i = 0; i < tok->n_vocab; i++)
        tok->str_off[i] = VKG_TOK_NONE;
    return VKG_OK;
}

/* Reads a JSON integer token id; `what` names the entry for the message. */
static vkg_status json_id(const json_t *v, const char *name, const char *what, size_t *id) {
    if (!json_is_integer(v))
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: %s: the id is not an integer", name, what);
    json_int_t x = json_integer_value(v);
    if (x < 0 || x >= VKG_TOK_MAX_ID)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: %s: id %lld is out of range [0, %d)", name, what,
                        (long long)x, VKG_TOK_MAX_ID);
    *id = (size_t)x;
    return VKG_OK;
}

/* Sets the string of `id`; duplicates are an error unless `same_ok` and the text is equal. */
static vkg_status set_string(vkg_tokenizer *tok, buf *arena, size_t id, const char *s, size_t n,
                             const char *name, bool same_ok) {
    if (tok->str_off[id] != VKG_TOK_NONE) {
        const char *old = arena->p + tok->str_off[id];
        if (same_ok && tok->str_len[id] == n && memcmp(old, s, n) == 0)
            return VKG_OK;
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: \"%.*s\" and \"%s\" both have id %zu", name,
                        (int)(n > 64 ? 64 : n), s, old, id);
    }
    if (n > UINT32_MAX)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: token %zu is too long", name, id);
    VKG_TRY(buf_put(arena, s, n, &tok->str_off[id]));
    tok->str_len[id] = (uint32_t)n;
    return VKG_OK;
}

/* Fills the id -> string table from a JSON object {"token": id, ...}, plus optional
 * tokenizer.json added_tokens [{"id": n, "content": "..."}]; marks added ids in `added`. */
static vkg_status vocab_fill(vkg_tokenizer *tok, const json_t *vocab, const json_t *added_tokens,
                             const char *name, const char *field, uint8_t **added) {
    if (!json_is_object(vocab))
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: %s is not a JSON object of token -> id", name,
                        field);
    size_t count = json_object_size(vocab), max_id = 0, n_added = json_array_size(added_tokens);
    if (count == 0)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: %s is empty", name, field);
    const char *key;
    size_t key_len;
    json_t *v;
    char what[160];
    json_object_keylen_foreach((json_t *)vocab, key, key_len, v) {
        size_t id = 0;
        snprintf(what, sizeof what, "%s entry \"%.64s\"", field, key);
        VKG_TRY(json_id(v, name, what, &id));
        max_id = id > max_id ? id : max_id;
    }
    for (size_t i = 0; i < n_added; i++) {
        size_t id = 0;
        snprintf(what, sizeof what, "added_tokens[%zu].id", i);
        json_t *e = json_array_get(added_tokens, i);
        VKG_TRY(json_id(json_object_get(e, "id"), name, what, &id));
        if (!json_is_string(json_object_get(e, "content")))
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: added_tokens[%zu].content is not a string",
                            name, i);
        max_id = id > max_id ? id : max_id;
    }
    VKG_TRY(tables_alloc(tok, max_id, count + n_added, name));
    *added = calloc(tok->n_vocab, 1);
    if (!*added)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");

    buf arena = {0};
    vkg_status st = VKG_OK;
    json_object_keylen_foreach((json_t *)vocab, key, key_len, v) {
        size_t id = (size_t)json_integer_value(v);
        if (key_len == 0) {
            st = vkg_fail(VKG_ERROR_TOKENIZER, "%s: %s has an empty token (id %zu)", name, field,
                          id);
            goto done;
        }
        if ((st = set_string(tok, &arena, id, key, key_len, name, false)))
            goto done;
    }
    for (size_t i = 0; i < n_added; i++) {
        json_t *e = json_array_get(added_tokens, i);
        const json_t *c = json_object_get(e, "content");
        size_t id = (size_t)json_integer_value(json_object_get(e, "id"));
        if (json_string_length(c) == 0) {
            st = vkg_fail(VKG_ERROR_TOKENIZER, "%s: added_tokens[%zu].content is empty", name, i);
            goto done;
        }
        if ((st = set_string(tok, &arena, id, json_string_value(c), json_string_length(c), name,
                             true)))
            goto done;
        (*added)[id] = 1;
    }
done:
    tok->str_arena = arena.p; /* owned by tok from here, also on failure */
    if (st)
        return st;
    for (size_t id = 0; id < tok->n_vocab; id++)
        if (tok->str_off[id] != VKG_TOK_NONE)
            str_map_insert(tok, (uint32_t)id);
    return VKG_OK;
}

/* Decodes one UTF-8 character of a vocabulary string (jansson guarantees valid UTF-8). */
static uint32_t utf8_next(const uint8_t *s, size_t n, size_t *i) {
    uint8_t c = s[*i];
    int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (*i + (size_t)len > n)
        len = (int)(n - *i);
    uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    for (int k = 1; k < len; k++)
        cp = cp << 6 | (s[*i + (size_t)k] & 0x3F);
    *i += (size_t)len;
    return cp;
}

static size_t utf8_put(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2; /* only used for code points < 512 */
}

/* Fills the bytes each id decodes to, the per-byte token ids and the end-of-text id. */
static vkg_status bytes_fill(vkg_tokenizer *tok, const uint8_t *added, const char *name) {
    uint16_t cp_of_byte[256];
    int16_t byte_of_cp[512];
    vkg_tok_byte_to_cp(cp_of_byte);
    for (int i = 0; i < 512; i++)
        byte_of_cp[i] = -1;
    for (int b = 0; b < 256; b++)
        byte_of_cp[cp_of_byte[b]] = (int16_t)b;

    tok->byte_off = malloc(tok->n_vocab * sizeof *tok->byte_off);
    tok->byte_len = calloc(tok->n_vocab, sizeof *tok->byte_len);
    /* A token never decodes to more bytes than its spelling has. */
    size_t total = 0;
    for (size_t id = 0; id < tok->n_vocab; id++)
        total += tok->str_len[id];
    tok->byte_arena = malloc(total + 1);
    if (!tok->byte_off || !tok->byte_len || !tok->byte_arena)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");

    size_t at = 0;
    for (size_t id = 0; id < tok->n_vocab; id++) {
        tok->byte_off[id] = (uint32_t)at;
        if (tok->str_off[id] == VKG_TOK_NONE)
            continue;
        const uint8_t *s = (const uint8_t *)tok->str_arena + tok->str_off[id];
        size_t n = tok->str_len[id];
        if (added[id]) { /* added tokens decode to their text, as Hugging Face does */
            memcpy(tok->byte_arena + at, s, n);
            at += n;
        } else {
            for (size_t i = 0; i < n;) {
                size_t start = i;
                uint32_t cp = utf8_next(s, n, &i);
                if (cp < 512 && byte_of_cp[cp] >= 0) {
                    tok->byte_arena[at++] = (uint8_t)byte_of_cp[cp];
                } else { /* not a byte-level character: keep it as written */
                    memcpy(tok->byte_arena + at, s + start, i - start);
                    at += i - start;
                }
            }
        }
        tok->byte_len[id] = (uint32_t)(at - tok->byte_off[id]);
    }

    for (int b = 0; b < 256; b++) {
        char u[4];
        size_t n = utf8_put(cp_of_byte[b], u);
        tok->byte_id[b] = vkg_tok_lookup(tok, u, n);
        if (tok->byte_id[b] < 0)
            return vkg_fail(VKG_ERROR_TOKENIZER,
                            "%s: the vocabulary has no token for byte 0x%02x (\"%.*s\"); a "
                            "byte-level BPE vocabulary needs all 256",
                            name, b, (int)n, u);
    }
    tok->eos = vkg_tok_lookup(tok, "<|endoftext|>", 13);
    return VKG_OK;
}

static vkg_status merges_alloc(vkg_tokenizer *tok, size_t count) {
    tok->merge_cap = pow2_at_least(2 * count + 2);
    tok->merges = malloc(tok->merge_cap * sizeof *tok->merges);
    if (!tok->merges)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory for %zu merges", count);
    for (size_t i = 0; i < tok->merge_cap; i++)
        tok->merges[i] = (vkg_tok_merge){.key = UINT64_MAX};
    return VKG_OK;
}

/* Adds the merge (a, b) with the next rank. `where` names the line or entry for messages. */
static vkg_status merge_add(vkg_tokenizer *tok, const char *a, size_t na, const char *b, size_t nb,
                            const char *where) {
    int32_t ia = vkg_tok_lookup(tok, a, na), ib = vkg_tok_lookup(tok, b, nb);
    if (ia < 0 || ib < 0)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: token \"%.*s\" is not in the vocabulary", where,
                        ia < 0 ? (int)(na > 64 ? 64 : na) : (int)(nb > 64 ? 64 : nb),
                        ia < 0 ? a : b);
    char stack[256], *ab = na + nb <= sizeof stack ? stack : malloc(na + nb);
    if (!ab)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    memcpy(ab, a, na);
    memcpy(ab + na, b, nb);
    int32_t merged = vkg_tok_lookup(tok, ab, na + nb);
    vkg_status st = VKG_OK;
    if (merged < 0)
        st = vkg_fail(VKG_ERROR_TOKENIZER, "%s: merged token \"%.*s\" is not in the vocabulary",
                      where, (int)(na + nb > 64 ? 64 : na + nb), ab);
    if (ab != stack)
        free(ab);
    if (st)
        return st;

    uint32_t rank;
    int32_t old;
    if (vkg_tok_merge_find(tok, ia, ib, &rank, &old))
        return VKG_OK; /* a repeated pair keeps its first (lowest) rank */
    assert(tok->n_merges * 2 < tok->merge_cap);
    uint64_t key = (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib;
    size_t mask = tok->merge_cap - 1;
    size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 17) & mask;
    while (tok->merges[i].key != UINT64_MAX)
        i = (i + 1) & mask;
    tok->merges[i] = (vkg_tok_merge){.key = key, .rank = (uint32_t)tok->n_merges, .merged = merged};
    tok->n_merges++;
    return VKG_OK;
}

/* merges.txt: an optional "#version" line, then one "left right" pair per line. */
static vkg_status merges_parse_txt(vkg_tokenizer *tok, const char *txt, size_t len,
                                   const char *name) {
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += txt[i] == '\n';
    VKG_TRY(merges_alloc(tok, lines));
    size_t line = 0;
    for (size_t pos = 0; pos < len;) {
        const char *s = txt + pos, *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + 1;
        line++;
        if (n && s[n - 1] == '\r')
            n--;
        if (n == 0 || (n >= 8 && memcmp(s, "#version", 8) == 0))
            continue;
        const char *sp = memchr(s, ' ', n);
        char where[300];
        snprintf(where, sizeof where, "%s line %zu", name, line);
        if (!sp || sp == s || sp == s + n - 1 || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1)))
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: expected \"left right\", got \"%.*s\"",
                            where, (int)(n > 64 ? 64 : n), s);
        VKG_TRY(merge_add(tok, s, (size_t)(sp - s), sp + 1, (size_t)(s + n - sp - 1), where));
    }
    return VKG_OK;
}

static vkg_status regex_compile(vkg_tokenizer *tok) {
    int err;
    PCRE2_SIZE at;
    tok->re = pcre2_compile((PCRE2_SPTR)VKG_TOK_PATTERN, PCRE2_ZERO_TERMINATED,
                            PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &at, NULL);
    if (!tok->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return vkg_fail(VKG_ERROR_INTERNAL, "PCRE2 cannot compile the GPT-2 pattern at %zu: %s",
                        (size_t)at, (const char *)msg);
    }
    /* Without a JIT (some architectures, or a PCRE2 built without it) the interpreter is used. */
    (void)pcre2_jit_compile(tok->re, PCRE2_JIT_COMPLETE);
    return VKG_OK;
}

static vkg_status json_parse(const char *text, size_t len, const char *name, json_t **out) {
    json_error_t e;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
    if (!*out)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s line %d column %d: %s", name, e.line, e.column,
                        e.text);
    return VKG_OK;
}

static vkg_status tokenizer_new(vkg_tokenizer **out) {
    *out = calloc(1, sizeof **out);
    if (!*out)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    (*out)->eos = -1;
    return VKG_OK;
}

/* The end of both loaders: free the parse state and hand over the tokenizer when st is VKG_OK, else
 * free it too. */
static vkg_status finish_load(vkg_status st, json_t *root, uint8_t *added, vkg_tokenizer *tok,
                              vkg_tokenizer **out) {
    json_decref(root);
    free(added);
    if (st != VKG_OK) {
        vkg_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return VKG_OK;
}

vkg_status vkg_tokenizer_load_buffers(const char *vocab_json, size_t vocab_len,
                                      const char *merges_txt, size_t merges_len,
                                      const char *vocab_name, const char *merges_name,
                                      vkg_tokenizer **out) {
    if (!out || (!vocab_json && vocab_len) || (!merges_txt && merges_len))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_tokenizer_load_buffers: NULL argument");
    *out = NULL;
    vocab_name = vocab_name ? vocab_name : "vocab.json";
    merges_name = merges_name ? merges_name : "merges.txt";
    json_t *root = NULL;
    uint8_t *added = NULL;
    vkg_tokenizer *tok = NULL;
    vkg_status st;
    if ((st = json_parse(vocab_json ? vocab_json : "", vocab_len, vocab_name, &root)) ||
        (st = tokenizer_new(&tok)) ||
        (st = vocab_fill(tok, root, NULL, vocab_name, "the vocabulary", &added)) ||
        (st = bytes_fill(tok, added, vocab_name)) ||
        (st = merges_parse_txt(tok, merges_txt ? merges_txt : "", merges_len, merges_name)) ||
        (st = regex_compile(tok)))
        goto fail;
    return finish_load(VKG_OK, root, added, tok, out);
fail:
    return finish_load(st, root, added, tok, out);
}

/* tokenizer.json model.merges: "left right" strings (older files) or ["left", "right"] pairs. */
static vkg_status merges_parse_json(vkg_tokenizer *tok, const json_t *merges, const char *name) {
    if (!json_is_array(merges))
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: model.merges is missing or not an array", name);
    VKG_TRY(merges_alloc(tok, json_array_size(merges)));
    for (size_t i = 0; i < json_array_size(merges); i++) {
        const json_t *m = json_array_get(merges, i);
        char where[300];
        snprintf(where, sizeof where, "%s: model.merges[%zu]", name, i);
        if (json_is_string(m)) {
            const char *s = json_string_value(m);
            size_t n = json_string_length(m);
            const char *sp = memchr(s, ' ', n);
            if (!sp || sp == s || sp == s + n - 1 || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1)))
                return vkg_fail(VKG_ERROR_TOKENIZER, "%s: expected \"left right\", got \"%.*s\"",
                                where, (int)(n > 64 ? 64 : n), s);
            VKG_TRY(merge_add(tok, s, (size_t)(sp - s), sp + 1, (size_t)(s + n - sp - 1), where));
        } else if (json_is_array(m) && json_array_size(m) == 2 &&
                   json_is_string(json_array_get(m, 0)) && json_is_string(json_array_get(m, 1))) {
            const json_t *a = json_array_get(m, 0), *b = json_array_get(m, 1);
            VKG_TRY(merge_add(tok, json_string_value(a), json_string_length(a),
                              json_string_value(b), json_string_length(b), where));
        } else {
            return vkg_fail(VKG_ERROR_TOKENIZER,
                            "%s: expected a \"left right\" string or a [left, right] pair", where);
        }
    }
    return VKG_OK;
}

vkg_status vkg_tokenizer_load_hf_json(const char *json, size_t len, const char *name,
                                      vkg_tokenizer **out) {
    if (!out || (!json && len))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_tokenizer_load_hf_json: NULL argument");
    *out = NULL;
    name = name ? name : "tokenizer.json";
    json_t *root = NULL;
    uint8_t *added = NULL;
    vkg_tokenizer *tok = NULL;
    vkg_status st = json_parse(json ? json : "", len, name, &root);
    if (st)
        return st;
    const json_t *model = json_object_get(root, "model");
    const json_t *type = json_object_get(model, "type");
    const json_t *added_tokens = json_object_get(root, "added_tokens");
    if (!json_is_object(model)) {
        st = vkg_fail(VKG_ERROR_TOKENIZER, "%s: no \"model\" object", name);
        goto fail;
    }
    if (type && !(json_is_string(type) && strcmp(json_string_value(type), "BPE") == 0)) {
        st = vkg_fail(VKG_ERROR_TOKENIZER, "%s: model.type is %s; only \"BPE\" is supported", name,
                      json_is_string(type) ? json_string_value(type) : "not a string");
        goto fail;
    }
    if (added_tokens && !json_is_null(added_tokens) && !json_is_array(added_tokens)) {
        st = vkg_fail(VKG_ERROR_TOKENIZER, "%s: added_tokens is not an array", name);
        goto fail;
    }
    if ((st = tokenizer_new(&tok)) ||
        (st = vocab_fill(tok, json_object_get(model, "vocab"),
                         json_is_array(added_tokens) ? added_tokens : NULL, name, "model.vocab",
                         &added)) ||
        (st = bytes_fill(tok, added, name)) ||
        (st = merges_parse_json(tok, json_object_get(model, "merges"), name)) ||
        (st = regex_compile(tok)))
        goto fail;
    return finish_load(VKG_OK, root, added, tok, out);
fail:
    return finish_load(st, root, added, tok, out);
}

/* Tokenizer files are a few MB (GPT-2's tokenizer.json is 1.4 MB); anything past this is not one. */
#define TOKENIZER_FILE_MAX_BYTES (256ull << 20)

static vkg_status read_file(const char *path, char **data, size_t *len) {
    return vkg_read_file(path, TOKENIZER_FILE_MAX_BYTES, VKG_ERROR_TOKENIZER, data, len);
}

static bool is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

vkg_status vkg_tokenizer_load(const char *model_dir, vkg_tokenizer **out) {
    if (!model_dir || !out)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_tokenizer_load: NULL argument");
    *out = NULL;
    size_t n = strlen(model_dir) + sizeof "/tokenizer.json";
    char *vocab = malloc(n), *merges = malloc(n), *hf = malloc(n), *a = NULL, *b = NULL;
    vkg_status st;
    if (!vocab || !merges || !hf) {
        st = vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
        goto done;
    }
    snprintf(vocab, n, "%s/vocab.json", model_dir);
    snprintf(merges, n, "%s/merges.txt", model_dir);
    snprintf(hf, n, "%s/tokenizer.json", model_dir);
    size_t na = 0, nb = 0;
    bool have_vocab = is_file(vocab), have_merges = is_file(merges);
    if (have_vocab && have_merges) {
        if (!(st = read_file(vocab, &a, &na)) && !(st = read_file(merges, &b, &nb)))
            st = vkg_tokenizer_load_buffers(a, na, b, nb, vocab, merges, out);
    } else if (is_file(hf)) {
        if (!(st = read_file(hf, &a, &na)))
            st = vkg_tokenizer_load_hf_json(a, na, hf, out);
    } else {
        struct stat sb;
        st = vkg_fail(VKG_ERROR_IO,
                      "%s: no tokenizer found: looked for vocab.json + merges.txt (%s) and "
                      "tokenizer.json (absent)%s",
                      model_dir,
                      have_vocab    ? "merges.txt absent"
                      : have_merges ? "vocab.json absent"
                                    : "both absent",
                      stat(model_dir, &sb) != 0 ? "; the directory does not exist" : "");
    }
done:
    free(a);
    free(b);
    free(vocab);
    free(merges);
    free(hf);
    return st;
}
