/*
 * load.c — builds a vkg_tokenizer from a model directory: tokenizer.json (+ tokenizer_config.json)
 * or GPT-2's vocab.json + merges.txt. Here: the id <-> string tables, the BPE model's settings and
 * merge table, what each id decodes to, and tokenizer_config.json's special tokens; the stage
 * descriptions are handed to normalizers.c, pretokenizers.c, decoders.c, postproc.c, added.c.
 * vkg_tok_build is the one construction of a tokenizer from a tokenizer.json-shaped description;
 * gguf.c feeds it a GGUF file's metadata (vkg_tokenizer_load hands .gguf files there).
 * Every malformed entry is reported with the file and the line or entry; every component vkgpt
 * does not implement is refused by name.
 * Not here: encoding (encode.c, bpe.c) and decoding (decode.c).
 */
#include "tokenizer/tokenizer.h"

#include <jansson.h>

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

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n)
        c *= 2;
    return c;
}

int32_t vkg_tok_map_get(const vkg_tok_map *m, const void *s, size_t n) {
    size_t mask = m->cap - 1;
    uint64_t h = vkg_tok_hash(s, n), tag = h >> 32 << 32;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        uint64_t slot = m->slots[i];
        if (!slot)
            return -1;
        uint32_t id = (uint32_t)slot - 1;
        if ((slot & ~0xffffffffull) == tag && m->len[id] == n &&
            memcmp(m->arena + m->off[id], s, n) == 0)
            return (int32_t)id;
    }
}

/* Builds a map over the ids whose flags have `need` set; an id whose string is already in the
 * map (a second spelling of an existing entry) leaves the lower id in place. */
static vkg_status map_build(vkg_tok_map *m, const vkg_tokenizer *tok, const char *arena,
                            const uint32_t *off, const uint32_t *len, uint8_t need) {
    m->cap = pow2_at_least(2 * tok->n_vocab + 2);
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory for %zu tokens",
                        tok->n_vocab);
    m->arena = arena;
    m->off = off;
    m->len = len;
    size_t mask = m->cap - 1;
    for (size_t id = 0; id < tok->n_vocab; id++) {
        if (off[id] == VKG_TOK_NONE || !(tok->flags[id] & need))
            continue;
        const char *s = arena + off[id];
        if (vkg_tok_map_get(m, s, len[id]) >= 0)
            continue;
        uint64_t h = vkg_tok_hash(s, len[id]);
        size_t i = (size_t)h & mask;
        while (m->slots[i])
            i = (i + 1) & mask;
        m->slots[i] = (h >> 32 << 32) | ((uint64_t)id + 1);
    }
    return VKG_OK;
}

void vkg_tokenizer_free(vkg_tokenizer *tok) {
    if (!tok)
        return;
    free(tok->str_arena);
    free(tok->str_off);
    free(tok->str_len);
    free(tok->spell.slots);
    free(tok->key_arena);
    free(tok->key_off);
    free(tok->key_len);
    free(tok->key.slots);
    free(tok->byte_arena);
    free(tok->byte_off);
    free(tok->byte_len);
    free(tok->flags);
    free(tok->merges);
    free(tok->cont_prefix);
    free(tok->eow_suffix);
    free(tok->added);
    free(tok->added_arena);
    for (int r = 0; r < 4; r++)
        free(tok->role_text[r]);
    vkg_tok_stages_free(tok);
    free(tok);
}

void vkg_tok_stages_free(vkg_tokenizer *tok) {
    for (size_t i = 0; i < tok->n_norm; i++) {
        free(tok->norm[i].text);
        pcre2_code_free(tok->norm[i].re);
    }
    for (size_t i = 0; i < tok->n_pre; i++)
        pcre2_code_free(tok->pre[i].re);
    for (size_t i = 0; i < tok->n_dec; i++) {
        free(tok->dec[i].text);
        pcre2_code_free(tok->dec[i].re);
    }
    tok->n_norm = tok->n_pre = tok->n_dec = 0;
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
static vkg_status set_string(vkg_tokenizer *tok, vkg_tok_buf *arena, size_t id, const char *s,
                             size_t n, const char *name, bool same_ok) {
    if (tok->str_off[id] != VKG_TOK_NONE) {
        const char *old = arena->p + tok->str_off[id];
        if (same_ok && tok->str_len[id] == n && memcmp(old, s, n) == 0)
            return VKG_OK;
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: \"%.*s\" and \"%.64s\" both have id %zu", name,
                        (int)(n > 64 ? 64 : n), s, old, id);
    }
    if (arena->len + n + 1 >= UINT32_MAX)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: tokenizer strings exceed 4 GiB in total", name);
    tok->str_off[id] = (uint32_t)arena->len;
    tok->str_len[id] = (uint32_t)n;
    VKG_TRY(vkg_tok_buf_put(arena, s, n));
    arena->len++; /* keep the NUL */
    return VKG_OK;
}

/* Fills the id -> string table from the vocabulary read by hfjson.c plus tokenizer.json's
 * added_tokens [{"id": n, "content": "..."}], the flags of each id and the spelling map. */
static vkg_status vocab_fill(vkg_tokenizer *tok, const vkg_tok_table *vocab,
                             const json_t *added_tokens, const char *name, const char *field) {
    size_t count = vocab->n, max_id = 0, n_added = json_array_size(added_tokens);
    if (count == 0)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: %s is empty", name, field);
    char what[160];
    for (size_t i = 0; i < count; i++) {
        int64_t id = vocab->id[i];
        if (id < 0 || id >= VKG_TOK_MAX_ID)
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: %s entry \"%.64s\": id %lld is out of range "
                            "[0, %d)", name, field, vocab->arena.p + vocab->off[i], (long long)id,
                            VKG_TOK_MAX_ID);
        if (vocab->len[i] == 0)
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: %s has an empty token (id %lld)", name, field,
                            (long long)id);
        max_id = (size_t)id > max_id ? (size_t)id : max_id;
    }
    for (size_t i = 0; i < n_added; i++) {
        size_t id = 0;
        snprintf(what, sizeof what, "added_tokens[%zu].id", i);
        json_t *e = json_array_get(added_tokens, i);
        VKG_TRY(json_id(json_object_get(e, "id"), name, what, &id));
        const json_t *c = json_object_get(e, "content");
        if (!json_is_string(c) || json_string_length(c) == 0)
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: added_tokens[%zu].content is not a "
                            "non-empty string", name, i);
        max_id = id > max_id ? id : max_id;
    }
    /* Holes are allowed, but not so many that a tiny hostile file makes us allocate gigabytes. */
    if (max_id >= 4 * (count + n_added) + 1024)
        return vkg_fail(VKG_ERROR_TOKENIZER,
                        "%s: token id %zu is too large for a vocabulary of %zu tokens", name,
                        max_id, count + n_added);
    tok->n_vocab = max_id + 1;
    tok->str_off = malloc(tok->n_vocab * sizeof *tok->str_off);
    tok->str_len = calloc(tok->n_vocab, sizeof *tok->str_len);
    tok->flags = calloc(tok->n_vocab, 1);
    if (!tok->str_off || !tok->str_len || !tok->flags)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory for %zu tokens",
                        tok->n_vocab);
    for (size_t i = 0; i < tok->n_vocab; i++)
        tok->str_off[i] = VKG_TOK_NONE;

    vkg_tok_buf arena = {0};
    vkg_status st = vkg_tok_buf_reserve(&arena, vocab->arena.len + 64);
    for (size_t i = 0; i < count && !st; i++) {
        size_t id = (size_t)vocab->id[i];
        st = set_string(tok, &arena, id, vocab->arena.p + vocab->off[i], vocab->len[i], name, false);
        tok->flags[id] |= VKG_TOKF_MODEL;
    }
    for (size_t i = 0; i < n_added && !st; i++) {
        json_t *e = json_array_get(added_tokens, i);
        const json_t *c = json_object_get(e, "content");
        size_t id = (size_t)json_integer_value(json_object_get(e, "id"));
        if ((st = set_string(tok, &arena, id, json_string_value(c), json_string_length(c), name,
                             true)))
            break;
        tok->flags[id] |= VKG_TOKF_ADDED | (json_is_true(json_object_get(e, "special"))
                                                ? VKG_TOKF_SPECIAL : 0);
    }
    tok->str_arena = arena.p; /* owned by tok from here, also on failure */
    VKG_TRY(st);
    VKG_TRY(map_build(&tok->spell, tok, tok->str_arena, tok->str_off, tok->str_len,
                      VKG_TOKF_MODEL | VKG_TOKF_ADDED));
    for (size_t id = 0; id < tok->n_vocab; id++) { /* a token written twice in the vocabulary */
        if (!(tok->flags[id] & VKG_TOKF_MODEL))
            continue;
        int32_t first = vkg_tok_lookup(tok, tok->str_arena + tok->str_off[id], tok->str_len[id]);
        if (first != (int32_t)id && (tok->flags[first] & VKG_TOKF_MODEL))
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: %s has \"%.64s\" twice (duplicate, ids %d "
                            "and %zu)", name, field, tok->str_arena + tok->str_off[id], (int)first,
                            id);
    }
    return VKG_OK;
}

/* The model's key of each vocabulary token (see tokenizer.h), its map and the byte tokens. */
static vkg_status keys_fill(vkg_tokenizer *tok, const char *name) {
    const int16_t *byte_of_cp = tok->byte_of_cp;
    uint16_t cp_of_byte[256];
    vkg_tok_byte_to_cp(cp_of_byte);

    tok->key_off = malloc(tok->n_vocab * sizeof *tok->key_off);
    tok->key_len = calloc(tok->n_vocab, sizeof *tok->key_len);
    size_t total = 0;
    for (size_t id = 0; id < tok->n_vocab; id++)
        total += tok->str_len[id];
    tok->key_arena = malloc(total + 1); /* a key is never longer than its spelling */
    if (!tok->key_off || !tok->key_len || !tok->key_arena)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    size_t at = 0;
    for (size_t id = 0; id < tok->n_vocab; id++) {
        tok->key_off[id] = VKG_TOK_NONE;
        if (!(tok->flags[id] & VKG_TOKF_MODEL))
            continue;
        tok->key_off[id] = (uint32_t)at;
        const uint8_t *s = (const uint8_t *)tok->str_arena + tok->str_off[id];
        size_t n = tok->str_len[id];
        for (size_t i = 0; i < n;) {
            size_t start = i;
            int32_t cp = vkg_tok_utf8_next(s, n, &i);
            if (tok->byte_level && cp >= 0 && cp < 512 && byte_of_cp[cp] >= 0) {
                tok->key_arena[at++] = (uint8_t)byte_of_cp[cp];
            } else {
                memcpy(tok->key_arena + at, s + start, i - start);
                at += i - start;
            }
        }
        tok->key_len[id] = (uint32_t)(at - tok->key_off[id]);
    }
    VKG_TRY(map_build(&tok->key, tok, (const char *)tok->key_arena, tok->key_off, tok->key_len,
                      VKG_TOKF_MODEL));
    for (int b = 0; b < 256; b++) {
        char fallback[8];
        snprintf(fallback, sizeof fallback, "<0x%02X>", b);
        uint8_t byte = (uint8_t)b;
        tok->byte_id[b] = tok->byte_level ? vkg_tok_map_get(&tok->key, &byte, 1)
                          : tok->byte_fallback ? vkg_tok_map_get(&tok->key, fallback, 6)
                                               : -1;
        if (tok->byte_level && tok->byte_id[b] < 0) {
            char u[4];
            size_t n = vkg_tok_utf8_put(cp_of_byte[b], u);
            return vkg_fail(VKG_ERROR_TOKENIZER,
                            "%s: the vocabulary has no token for byte 0x%02x (\"%.*s\"); a "
                            "byte-level BPE vocabulary needs all 256",
                            name, b, (int)n, u);
        }
    }
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

/* Adds the merge (a, b) with the next rank. The merged token is a + b without b's
 * continuing_subword_prefix, as Hugging Face builds it. `where` names the line or entry; NULL:
 * fail quietly (the caller names the place and calls again). */
static vkg_status merge_add(vkg_tokenizer *tok, const char *a, size_t na, const char *b, size_t nb,
                            const char *where) {
    int32_t ia = vkg_tok_lookup(tok, a, na), ib = vkg_tok_lookup(tok, b, nb);
    if ((ia < 0 || ib < 0) && !where)
        return VKG_ERROR_TOKENIZER;
    if (ia < 0 || ib < 0)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: token \"%.*s\" is not in the vocabulary", where,
                        ia < 0 ? (int)(na > 64 ? 64 : na) : (int)(nb > 64 ? 64 : nb),
                        ia < 0 ? a : b);
    size_t skip = tok->n_cont_prefix <= nb ? tok->n_cont_prefix : nb;
    char stack[256], *ab = na + nb <= sizeof stack ? stack : malloc(na + nb);
    if (!ab)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    memcpy(ab, a, na);
    memcpy(ab + na, b + skip, nb - skip);
    int32_t merged = vkg_tok_lookup(tok, ab, na + nb - skip);
    vkg_status st = VKG_OK;
    if (merged < 0 && !where)
        st = VKG_ERROR_TOKENIZER;
    else if (merged < 0)
        st = vkg_fail(VKG_ERROR_TOKENIZER, "%s: merged token \"%.*s\" is not in the vocabulary",
                      where, (int)(na + nb - skip > 64 ? 64 : na + nb - skip), ab);
    if (ab != stack)
        free(ab);
    VKG_TRY(st);

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

/* "left right": exactly one space, neither side empty. */
static vkg_status merge_add_line(vkg_tokenizer *tok, const char *s, size_t n, const char *where) {
    const char *sp = memchr(s, ' ', n);
    if ((!sp || sp == s || sp == s + n - 1 || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1))) &&
        !where)
        return VKG_ERROR_TOKENIZER;
    if (!sp || sp == s || sp == s + n - 1 || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1)))
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: expected \"left right\", got \"%.*s\"", where,
                        (int)(n > 64 ? 64 : n), s);
    return merge_add(tok, s, (size_t)(sp - s), sp + 1, (size_t)(s + n - sp - 1), where);
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
        if (merge_add_line(tok, s, n, NULL) == VKG_OK)
            continue;
        char where[300]; /* named only on failure, see merges_fill */
        snprintf(where, sizeof where, "%s line %zu", name, line);
        return merge_add_line(tok, s, n, where);
    }
    return VKG_OK;
}

/* tokenizer.json model.merges, as hfjson.c read them: two table entries per merge. */
static vkg_status merges_fill(vkg_tokenizer *tok, const vkg_tok_table *m, const char *name) {
    VKG_TRY(merges_alloc(tok, m->n / 2));
    for (size_t i = 0; i + 1 < m->n; i += 2) {
        char where[300];
        int64_t k = m->id[i];
        const char *a = m->arena.p + m->off[i], *b = m->arena.p + m->off[i + 1];
        if (k >= 0 && merge_add(tok, a, m->len[i], b, m->len[i + 1], NULL) == VKG_OK)
            continue;
        /* Again, with the place named (only on failure: 150,000 messages cost 50 ms). */
        snprintf(where, sizeof where, "%s: model.merges[%lld]", name, (long long)(k < 0 ? -1 - k : k));
        if (k < 0)
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: expected \"left right\", got \"%.64s\"", where,
                            a);
        return merge_add(tok, a, m->len[i], b, m->len[i + 1], where);
    }
    return VKG_OK;
}

/* What each token decodes to in the middle of a sequence. */
static vkg_status decoded_fill(vkg_tokenizer *tok) {
    tok->byte_off = malloc(tok->n_vocab * sizeof *tok->byte_off);
    tok->byte_len = calloc(tok->n_vocab, sizeof *tok->byte_len);
    if (!tok->byte_off || !tok->byte_len)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    vkg_tok_buf out = {0};
    vkg_status st = vkg_tok_buf_reserve(&out, tok->n_vocab * 4);
    for (size_t id = 0; id < tok->n_vocab && !st; id++) {
        tok->byte_off[id] = (uint32_t)out.len;
        if (tok->str_off[id] == VKG_TOK_NONE)
            continue;
        if ((st = vkg_tok_decode_token(tok, (int32_t)id, false, &out)))
            break;
        if (out.len >= UINT32_MAX)
            st = vkg_fail(VKG_ERROR_TOKENIZER, "decoded tokens exceed 4 GiB");
        tok->byte_len[id] = (uint32_t)(out.len - tok->byte_off[id]);
    }
    tok->byte_arena = (uint8_t *)out.p;
    return st;
}

static const char *role_names[4] = {"bos_token", "eos_token", "unk_token", "pad_token"};

/* tokenizer_config.json: the special tokens by role (a string, or an AddedToken object with a
 * "content"), and add_bos_token / add_eos_token where the post-processor adds nothing. */
static vkg_status config_apply(vkg_tokenizer *tok, const json_t *cfg, const char *name) {
    for (int r = 0; r < 4; r++) {
        const json_t *v = json_object_get(cfg, role_names[r]);
        if (json_is_object(v))
            v = json_object_get(v, "content");
        if (!v || json_is_null(v))
            continue;
        if (!json_is_string(v))
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: %s is neither a string nor an object with "
                            "a \"content\" string", name, role_names[r]);
        if (!(tok->role_text[r] = strdup(json_string_value(v))))
            return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
        tok->role_id[r] = vkg_tok_lookup(tok, json_string_value(v), json_string_length(v));
    }
    if (tok->n_pre_ids == 0 && tok->n_post_ids == 0) {
        if (json_is_true(json_object_get(cfg, "add_bos_token")) && tok->role_id[0] >= 0)
            tok->pre_ids[tok->n_pre_ids++] = tok->role_id[0];
        if (json_is_true(json_object_get(cfg, "add_eos_token")) && tok->role_id[1] >= 0)
            tok->post_ids[tok->n_post_ids++] = tok->role_id[1];
    }
    return VKG_OK;
}

/* The tokens that end a turn or the text: the eos token and the special tokens that families use
 * for it. Only special (or, for GPT-2's files, model) tokens are taken: never ordinary text. */
static void end_ids_fill(vkg_tokenizer *tok) {
    static const char *ends[] = {"<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|eom_id|>",
                                 "<|end_of_text|>", "</s>", "<end_of_turn>", "<|end|>",
                                 "<|return|>", "<|EOT|>"};
    if (tok->role_id[1] >= 0)
        tok->end_ids[tok->n_end_ids++] = tok->role_id[1];
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        int32_t id = vkg_tok_lookup(tok, ends[i], strlen(ends[i]));
        if (id < 0 || id == tok->role_id[1] || tok->n_end_ids == 16)
            continue;
        if ((tok->flags[id] & VKG_TOKF_SPECIAL) || (tok->n_added == 0 && tok->byte_level))
            tok->end_ids[tok->n_end_ids++] = id;
    }
}

/* The last steps of both loaders, once the vocabulary, the stages and the merges are there. */
static vkg_status finish(vkg_tokenizer *tok, const json_t *cfg, const char *cfg_name,
                         const char *name) {
    VKG_TRY(decoded_fill(tok));
    for (size_t i = 0; i < tok->n_pre_ids + tok->n_post_ids; i++) {
        int32_t id = i < tok->n_pre_ids ? tok->pre_ids[i] : tok->post_ids[i - tok->n_pre_ids];
        if ((size_t)id >= tok->n_vocab || tok->str_off[id] == VKG_TOK_NONE)
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: post_processor: special token id %d is not "
                            "in the vocabulary", name, (int)id);
    }
    for (int r = 0; r < 4; r++)
        tok->role_id[r] = -1;
    if (cfg)
        VKG_TRY(config_apply(tok, cfg, cfg_name));
    else /* no tokenizer_config.json: GPT-2's convention, and the post-processor's first token */
        tok->role_id[1] = vkg_tok_lookup(tok, "<|endoftext|>", 13);
    if (tok->role_id[0] < 0 && !tok->role_text[0] && tok->n_pre_ids)
        tok->role_id[0] = tok->pre_ids[0];
    for (int r = 0; r < 4; r++)
        if (!tok->role_text[r] && tok->role_id[r] >= 0 &&
            !(tok->role_text[r] = strndup(tok->str_arena + tok->str_off[tok->role_id[r]],
                                          tok->str_len[tok->role_id[r]])))
            return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    end_ids_fill(tok);
    return VKG_OK;
}

static vkg_status json_parse(const char *text, size_t len, const char *name, size_t flags,
                             json_t **out) {
    json_error_t e;
    *out = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES | flags, &e);
    if (!*out)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s line %d column %d: %s", name, e.line, e.column,
                        e.text);
    return VKG_OK;
}

static vkg_status tokenizer_new(vkg_tokenizer **out) {
    vkg_tokenizer *tok = *out = calloc(1, sizeof **out);
    if (!tok)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    tok->unk = -1;
    uint16_t cp_of_byte[256];
    vkg_tok_byte_to_cp(cp_of_byte);
    for (int i = 0; i < 512; i++)
        tok->byte_of_cp[i] = -1;
    for (int b = 0; b < 256; b++)
        tok->byte_of_cp[cp_of_byte[b]] = (int16_t)b;
    return VKG_OK;
}

/* Hands over the tokenizer when st is VKG_OK, else frees it. */
static vkg_status hand_over(vkg_status st, vkg_tokenizer *tok, vkg_tokenizer **out) {
    if (st != VKG_OK) {
        vkg_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return VKG_OK;
}

static void summary_set(vkg_tokenizer *tok, const char *source);

vkg_status vkg_tokenizer_load_buffers(const char *vocab_json, size_t vocab_len,
                                      const char *merges_txt, size_t merges_len,
                                      const char *vocab_name, const char *merges_name,
                                      vkg_tokenizer **out) {
    if (!out || (!vocab_json && vocab_len) || (!merges_txt && merges_len))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_tokenizer_load_buffers: NULL argument");
    *out = NULL;
    vocab_name = vocab_name ? vocab_name : "vocab.json";
    merges_name = merges_name ? merges_name : "merges.txt";
    /* GPT-2's files mean: ByteLevel pre-tokenizer with GPT-2's pattern, ByteLevel decoder, and no
     * added tokens ("<|endoftext|>" in text is text, as GPT-2's reference encoder has it). */
    static const char stages[] = "{\"pre\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false},"
                                 " \"dec\": {\"type\": \"ByteLevel\"}}";
    json_t *fixed = json_loads(stages, 0, NULL);
    vkg_tok_table vocab = {0};
    vkg_tokenizer *tok = NULL;
    vkg_status st = fixed ? VKG_OK : vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (st || (st = vkg_tok_vocab_read(vocab_json, vocab_len, vocab_name, &vocab)) ||
        (st = tokenizer_new(&tok)) ||
        (st = vkg_tok_pre_parse(tok, json_object_get(fixed, "pre"), "GPT-2")) ||
        (st = vkg_tok_dec_parse(tok, json_object_get(fixed, "dec"), "GPT-2")) ||
        (st = vocab_fill(tok, &vocab, NULL, vocab_name, "the vocabulary")) ||
        (st = keys_fill(tok, vocab_name)) ||
        (st = merges_parse_txt(tok, merges_txt ? merges_txt : "", merges_len, merges_name)) ||
        (st = finish(tok, NULL, NULL, vocab_name))) {
    }
    vkg_tok_table_free(&vocab);
    json_decref(fixed);
    if (!st) {
        tok->merge_rounds = true; /* GPT-2's encoder.py, see bpe.c */
        summary_set(tok, "vocab.json + merges.txt");
    }
    return hand_over(st, tok, out);
}

/* Whether encode.c may cut pieces before each U+2581 that follows another character. Exact when
 * no merge can join across such a place: every merge makes a vocabulary token, so it suffices
 * that no token has a U+2581 after another character, and that U+2581 is a token itself (so that
 * no run of unknown characters, which fuse_unk joins, spans the cut). SentencePiece-style
 * vocabularies without a pre-tokenizer (Llama 2) qualify; their text is otherwise one piece, of
 * which BPE would have to run on all at once, with no help from the piece cache. */
static void meta_cut_check(vkg_tokenizer *tok) {
    static const char meta[] = "\xe2\x96\x81";
    if (tok->byte_level || tok->cont_prefix || tok->eow_suffix || tok->ignore_merges ||
        vkg_tok_map_get(&tok->key, meta, 3) < 0)
        return;
    for (size_t id = 0; id < tok->n_vocab; id++) {
        if (!(tok->flags[id] & VKG_TOKF_MODEL))
            continue;
        const char *s = tok->str_arena + tok->str_off[id];
        size_t n = tok->str_len[id];
        for (size_t i = 1; i + 3 <= n; i++)
            if (!memcmp(s + i, meta, 3) && (i < 3 || memcmp(s + i - 3, meta, 3) != 0))
                return;
    }
    tok->meta_cut = true;
}

/* model: type "BPE" (or no type, as older files), its settings and merges. */
static vkg_status model_parse(vkg_tokenizer *tok, const json_t *model, const char *name) {
    const json_t *type = json_object_get(model, "type");
    if (type && !(json_is_string(type) && strcmp(json_string_value(type), "BPE") == 0))
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: model \"%s\" is not supported (vkgpt has BPE)",
                        name, json_is_string(type) ? json_string_value(type) : "(not a string)");
    const json_t *dropout = json_object_get(model, "dropout");
    if (json_is_number(dropout) && json_number_value(dropout) > 0.0)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: model.dropout %g is not supported (vkgpt encodes "
                        "deterministically)", name, json_number_value(dropout));
    tok->byte_fallback = json_is_true(json_object_get(model, "byte_fallback"));
    tok->ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
    tok->fuse_unk = json_is_true(json_object_get(model, "fuse_unk"));
    const char *fields[2] = {"continuing_subword_prefix", "end_of_word_suffix"};
    char **dst[2] = {&tok->cont_prefix, &tok->eow_suffix};
    size_t *len[2] = {&tok->n_cont_prefix, &tok->n_eow_suffix};
    for (int k = 0; k < 2; k++) {
        const json_t *v = json_object_get(model, fields[k]);
        if (json_is_string(v) && json_string_length(v) > 0) {
            if (!(*dst[k] = strdup(json_string_value(v))))
                return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
            *len[k] = json_string_length(v);
        }
    }
    return VKG_OK;
}

/* What vkgpt info prints for the tokenizer: where it came from, the model, the pre-tokenizer (Split
 * stands for Whitespace, Digits, ... too: they are Splits here). */
static void summary_set(vkg_tokenizer *tok, const char *source) {
    char *s = tok->summary;
    static const char *pre_names[] = {"Split", "ByteLevel", "Metaspace"};
    int n = snprintf(s, sizeof tok->summary, "%s: BPE%s, pre-tokenizer ", source,
                     tok->byte_level ? " (byte-level)" : tok->byte_fallback ? " (byte fallback)" : "");
    if (tok->n_pre == 0)
        n += snprintf(s + n, sizeof tok->summary - (size_t)n, "none");
    for (size_t i = 0; i < tok->n_pre && n > 0 && (size_t)n < sizeof tok->summary; i++)
        n += snprintf(s + n, sizeof tok->summary - (size_t)n, "%s%s", i ? "+" : "",
                      pre_names[tok->pre[i].kind]);
}

vkg_status vkg_tok_build(const json_t *root, const vkg_tok_table *vocab, const vkg_tok_table *merges,
                         const json_t *cfg, const char *name, const char *config_name,
                         vkg_tokenizer **out) {
    vkg_tokenizer *tok = NULL;
    vkg_status st = tokenizer_new(&tok);
    if (st)
        return st;
    const json_t *model = json_object_get(root, "model");
    const json_t *added = json_object_get(root, "added_tokens");
    char where[300];
    if (!json_is_object(root) || !json_is_object(model)) {
        st = vkg_fail(VKG_ERROR_TOKENIZER, "%s: no \"model\" object", name);
        goto done;
    }
    if (added && !json_is_null(added) && !json_is_array(added)) {
        st = vkg_fail(VKG_ERROR_TOKENIZER, "%s: added_tokens is not an array", name);
        goto done;
    }
    if (cfg && !json_is_object(cfg)) {
        st = vkg_fail(VKG_ERROR_TOKENIZER, "%s: not a JSON object", config_name);
        goto done;
    }
    if ((st = model_parse(tok, model, name)))
        goto done;
    snprintf(where, sizeof where, "%s: normalizer", name);
    if ((st = vkg_tok_norm_parse(tok, json_object_get(root, "normalizer"), where)))
        goto done;
    snprintf(where, sizeof where, "%s: pre_tokenizer", name);
    if ((st = vkg_tok_pre_parse(tok, json_object_get(root, "pre_tokenizer"), where)))
        goto done;
    snprintf(where, sizeof where, "%s: decoder", name);
    const json_t *dec = json_object_get(root, "decoder");
    tok->no_decoder = !dec || json_is_null(dec);
    if ((st = vkg_tok_dec_parse(tok, dec, where)))
        goto done;
    snprintf(where, sizeof where, "%s: post_processor", name);
    if ((st = vkg_tok_post_parse(tok, json_object_get(root, "post_processor"), where)) ||
        (st = vocab_fill(tok, vocab, json_is_array(added) ? added : NULL, name, "model.vocab")) ||
        (st = keys_fill(tok, name)) ||
        (st = merges_fill(tok, merges, name)) ||
        (st = vkg_tok_added_parse(tok, json_is_array(added) ? added : NULL, name)))
        goto done;
    const json_t *unk = json_object_get(model, "unk_token");
    if (json_is_string(unk) &&
        (tok->unk = vkg_tok_lookup(tok, json_string_value(unk), json_string_length(unk))) < 0) {
        st = vkg_fail(VKG_ERROR_TOKENIZER, "%s: model.unk_token \"%.64s\" is not in the vocabulary",
                      name, json_string_value(unk));
        goto done;
    }
    meta_cut_check(tok);
    st = finish(tok, cfg, config_name, name);
done:
    return hand_over(st, tok, out);
}

vkg_status vkg_tokenizer_load_hf(const char *json, size_t len, const char *name,
                                 const char *config, size_t config_len, const char *config_name,
                                 vkg_tokenizer **out) {
    if (!out || (!json && len) || (!config && config_len))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_tokenizer_load_hf: NULL argument");
    *out = NULL;
    name = name ? name : "tokenizer.json";
    config_name = config_name ? config_name : "tokenizer_config.json";
    json_t *root = NULL, *cfg = NULL;
    vkg_tok_table vocab = {0}, merges = {0};
    bool has_vocab = false, has_merges = false;
    vkg_status st;
    /* tokenizer_config.json's model_max_length may be 1e30 written as an integer; only its strings
     * and booleans are read. */
    if ((st = vkg_tok_hfjson_read(json, len, name, &root, &vocab, &merges, &has_vocab,
                                  &has_merges)) ||
        (config && (st = json_parse(config, config_len, config_name, JSON_DECODE_INT_AS_REAL,
                                    &cfg))))
        goto done;
    const json_t *model = json_object_get(root, "model");
    if (json_is_object(root) && json_is_object(model) && (!has_vocab || !has_merges)) {
        /* the type is checked first: a Unigram model's message names the model, not the merges */
        const json_t *type = json_object_get(model, "type");
        if (!type || (json_is_string(type) && strcmp(json_string_value(type), "BPE") == 0)) {
            st = vkg_fail(VKG_ERROR_TOKENIZER, "%s: model.%s is not %s (or missing)", name,
                          has_vocab ? "merges" : "vocab",
                          has_vocab ? "an array" : "a JSON object of token -> id");
            goto done;
        }
    }
    if ((st = vkg_tok_build(root, &vocab, &merges, cfg, name, config_name, out)))
        goto done;
    summary_set(*out, "tokenizer.json");
done:
    json_decref(root);
    json_decref(cfg);
    vkg_tok_table_free(&vocab);
    vkg_tok_table_free(&merges);
    return st;
}

vkg_status vkg_tokenizer_load_hf_json(const char *json, size_t len, const char *name,
                                      vkg_tokenizer **out) {
    return vkg_tokenizer_load_hf(json, len, name, NULL, 0, NULL, out);
}

/* Tokenizer files are a few MB (Qwen3's tokenizer.json is 11 MB); anything past this is not one. */
#define TOKENIZER_FILE_MAX_BYTES (256ull << 20)

static bool is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Whether `path` is a regular file that starts with GGUF's magic. */
static bool is_gguf_file(const char *path) {
    char magic[4] = {0};
    FILE *f = is_file(path) ? fopen(path, "rb") : NULL;
    bool yes = f && fread(magic, 1, 4, f) == 4 && memcmp(magic, "GGUF", 4) == 0;
    if (f)
        fclose(f);
    return yes;
}

vkg_status vkg_tokenizer_load(const char *model_dir, vkg_tokenizer **out) {
    if (!model_dir || !out)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_tokenizer_load: NULL argument");
    *out = NULL;
    if (is_gguf_file(model_dir)) /* a GGUF file carries its tokenizer in its metadata */
        return vkg_tokenizer_load_gguf(model_dir, out);
    static const char *names[] = {"tokenizer.json", "tokenizer_config.json", "vocab.json",
                                  "merges.txt", "tokenizer.model"};
    char *path[5] = {0}, *data[4] = {0};
    size_t len[4] = {0};
    bool have[5];
    vkg_status st = VKG_OK;
    for (int i = 0; i < 5; i++) {
        size_t n = strlen(model_dir) + strlen(names[i]) + 2;
        if (!(path[i] = malloc(n))) {
            st = vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
            goto done;
        }
        snprintf(path[i], n, "%s/%s", model_dir, names[i]);
        have[i] = is_file(path[i]);
    }
    for (int i = 0; i < 4; i++)
        if (have[i] && (i < 2 || !have[0]) &&
            (st = vkg_read_file(path[i], TOKENIZER_FILE_MAX_BYTES, VKG_ERROR_TOKENIZER, &data[i],
                                &len[i])))
            goto done;
    if (have[0]) {
        /* tokenizer.json describes the whole pipeline; a vocab.json + merges.txt beside it (Qwen
         * ships both) would lose its normalizer, pattern and added tokens. */
        st = vkg_tokenizer_load_hf(data[0], len[0], path[0], data[1], len[1], path[1], out);
    } else if (have[2] && have[3]) {
        st = vkg_tokenizer_load_buffers(data[2], len[2], data[3], len[3], path[2], path[3], out);
    } else if (have[4]) {
        st = vkg_fail(VKG_ERROR_TOKENIZER, "%s: only a SentencePiece tokenizer.model is there; "
                      "vkgpt needs tokenizer.json (the Hugging Face format, which the model's "
                      "repository usually has too)", model_dir);
    } else {
        struct stat sb;
        st = vkg_fail(VKG_ERROR_IO,
                      "%s: no tokenizer found: looked for tokenizer.json (absent) and vocab.json + "
                      "merges.txt (%s)%s",
                      model_dir,
                      have[2]   ? "merges.txt absent"
                      : have[3] ? "vocab.json absent"
                                : "both absent",
                      stat(model_dir, &sb) != 0 ? "; the directory does not exist" : "");
    }
done:
    for (int i = 0; i < 5; i++)
        free(path[i]);
    for (int i = 0; i < 4; i++)
        free(data[i]);
    return st;
}

vkg_status vkg_tok_stage_type(vkg_tokenizer *tok, const json_t *j, const char *where, const char *list,
                              vkg_tok_stage_fn parse, const char **type) {
    *type = NULL;
    if (!j || json_is_null(j))
        return VKG_OK;
    const char *t = json_string_value(json_object_get(j, "type"));
    if (!t)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: no \"type\"", where);
    if (strcmp(t, "Sequence") != 0) {
        *type = t;
        return VKG_OK;
    }
    const json_t *items = json_object_get(j, list);
    if (!json_is_array(items))
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: Sequence without a %s array", where, list);
    for (size_t i = 0; i < json_array_size(items); i++) {
        char what[300];
        snprintf(what, sizeof what, "%s.%s[%zu]", where, list, i);
        VKG_TRY(parse(tok, json_array_get(items, i), what));
    }
    return VKG_OK;
}
