/*
 * encode.c — text -> token ids, the pipeline in Hugging Face's order: added tokens with
 * normalized=false are cut out of the raw text; each stretch between them is normalized, cut at
 * the added tokens with normalized=true, pre-tokenized into pieces, and each piece goes through
 * the model (bpe.c); the post-processor's special ids go around the result when asked for.
 * Not here: the stages themselves (normalizers.c, pretokenizers.c, added.c, bpe.c).
 *
 * Within one call, pieces already seen are looked up in a cache (piece bytes -> the ids emitted
 * the first time), which is what makes ordinary text fast. The cache lives only for one call, so
 * a tokenizer stays immutable and can be shared by threads.
 */
#include "tokenizer/tokenizer.h"

#include <stdlib.h>
#include <string.h>

typedef struct cache_slot {
    uint64_t hash;
    size_t key_off;   /* the piece, as an offset into the key buffer */
    size_t tok_off;   /* its ids, as an offset into the output being built */
    uint32_t key_len; /* 0: empty slot */
    uint32_t tok_len;
} cache_slot;

/* Pieces longer than this are not cached: rare, and costly to keep. */
#define CACHE_MAX_PIECE 256
/* The cache stops growing at this many slots (64 MiB); later new pieces are just not cached. */
#define CACHE_MAX_SLOTS ((size_t)1 << 21)

typedef struct enc {
    const vkg_tokenizer *tok;
    int32_t *out;
    size_t n_out, cap_out;
    vkg_tok_bpe *bpe;
    pcre2_match_data *md;
    vkg_tok_buf norm, tmp, arena, keys;
    vkg_tok_pieces pieces, scratch;
    cache_slot *cache;
    size_t cache_cap, cache_n;
} enc;

static vkg_status emit(enc *e, int32_t id) {
    if (e->n_out == e->cap_out) {
        size_t cap = e->cap_out ? 2 * e->cap_out : 256;
        int32_t *p = realloc(e->out, cap * sizeof *p);
        if (!p)
            return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "encode: out of host memory");
        e->out = p;
        e->cap_out = cap;
    }
    e->out[e->n_out++] = id;
    return VKG_OK;
}

static cache_slot *cache_find(enc *e, const uint8_t *s, size_t n, uint64_t h) {
    size_t mask = e->cache_cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        cache_slot *c = &e->cache[i];
        if (!c->key_len ||
            (c->hash == h && c->key_len == n && memcmp(e->keys.p + c->key_off, s, n) == 0))
            return c;
    }
}

static vkg_status cache_grow(enc *e) {
    size_t cap = e->cache_cap ? e->cache_cap * 2 : 1024;
    cache_slot *old = e->cache, *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "encode: out of host memory for the cache");
    size_t old_cap = e->cache_cap;
    e->cache = slots;
    e->cache_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key_len)
            *cache_find(e, (const uint8_t *)e->keys.p + old[i].key_off, old[i].key_len,
                        old[i].hash) = old[i];
    free(old);
    return VKG_OK;
}

/* One pre-tokenized piece through the model, by way of the cache. */
static vkg_status piece(enc *e, const uint8_t *s, size_t n);

/* A piece cut before each U+2581 that follows another character, when tok->meta_cut says that
 * BPE gives the same ids for the parts (see load.c). */
static vkg_status piece_cut(enc *e, const uint8_t *s, size_t n) {
    static const uint8_t meta[3] = {0xe2, 0x96, 0x81};
    size_t start = 0;
    for (size_t i = 1; i + 3 <= n; i++)
        if (s[i] == 0xe2 && !memcmp(s + i, meta, 3) && (i < 3 || memcmp(s + i - 3, meta, 3) != 0)) {
            VKG_TRY(piece(e, s + start, i - start));
            start = i;
        }
    return piece(e, s + start, n - start);
}

static vkg_status piece(enc *e, const uint8_t *s, size_t n) {
    if (n == 1 && e->tok->byte_level)
        return emit(e, e->tok->byte_id[s[0]]);
    if (n > CACHE_MAX_PIECE)
        return vkg_tok_bpe_piece(e->tok, e->bpe, s, n, &e->out, &e->n_out, &e->cap_out);
    uint64_t h = vkg_tok_hash(s, n);
    cache_slot *c = cache_find(e, s, n, h);
    if (c->key_len) {
        if (e->n_out + c->tok_len > e->cap_out) {
            size_t cap = e->cap_out;
            while (cap < e->n_out + c->tok_len)
                cap *= 2;
            int32_t *p = realloc(e->out, cap * sizeof *p);
            if (!p)
                return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "encode: out of host memory");
            e->out = p;
            e->cap_out = cap;
        }
        memcpy(e->out + e->n_out, e->out + c->tok_off, c->tok_len * sizeof *e->out);
        e->n_out += c->tok_len;
        return VKG_OK;
    }
    size_t start = e->n_out;
    VKG_TRY(vkg_tok_bpe_piece(e->tok, e->bpe, s, n, &e->out, &e->n_out, &e->cap_out));
    if (2 * (e->cache_n + 1) > e->cache_cap) {
        if (e->cache_cap >= CACHE_MAX_SLOTS)
            return VKG_OK;
        VKG_TRY(cache_grow(e));
        c = cache_find(e, s, n, h);
    }
    size_t key_off = e->keys.len;
    VKG_TRY(vkg_tok_buf_put(&e->keys, s, n));
    *c = (cache_slot){.hash = h, .key_off = key_off, .key_len = (uint32_t)n, .tok_off = start,
                      .tok_len = (uint32_t)(e->n_out - start)};
    e->cache_n++;
    return VKG_OK;
}

/* Normalized text with no added token in it: pre-tokenize, then the model. `first`: it begins
 * the input. */
static vkg_status model_stretch(enc *e, const char *s, size_t n, bool first) {
    if (n == 0)
        return VKG_OK;
    e->arena.len = 0;
    VKG_TRY(vkg_tok_buf_put(&e->arena, s, n));
    e->pieces.n = 0;
    if (e->pieces.cap == 0) {
        if (!(e->pieces.p = malloc(64 * sizeof *e->pieces.p)))
            return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "encode: out of host memory");
        e->pieces.cap = 64;
    }
    e->pieces.p[e->pieces.n++] = (vkg_tok_piece){.off = 0, .len = n, .first = first};
    VKG_TRY(vkg_tok_pretokenize(e->tok, &e->arena, &e->pieces, &e->scratch, e->md));
    for (size_t i = 0; i < e->pieces.n; i++) {
        const uint8_t *p = (const uint8_t *)e->arena.p + e->pieces.p[i].off;
        VKG_TRY(e->tok->meta_cut ? piece_cut(e, p, e->pieces.p[i].len)
                                 : piece(e, p, e->pieces.p[i].len));
    }
    return VKG_OK;
}

/* Raw text between two added tokens: normalize, then cut at the normalized added tokens. */
static vkg_status raw_stretch(enc *e, const char *s, size_t n, bool first) {
    if (n == 0)
        return VKG_OK;
    const vkg_tokenizer *tok = e->tok;
    if (tok->n_norm == 0 && !tok->has_added[1])
        return model_stretch(e, s, n, first);
    VKG_TRY(vkg_tok_normalize(tok, s, n, &e->norm, &e->tmp));
    const vkg_tok_buf *text = &e->norm; /* model_stretch copies what it needs into e->arena */
    size_t from = 0, a, b;
    const vkg_tok_added *hit;
    while (vkg_tok_added_find(tok, (const uint8_t *)text->p, text->len, from, true, &a, &b, &hit)) {
        VKG_TRY(model_stretch(e, text->p + from, a - from, first && from == 0));
        VKG_TRY(emit(e, hit->id));
        from = b;
    }
    return model_stretch(e, text->p + from, text->len - from, first && from == 0);
}

vkg_status vkg_tokenizer_encode(const vkg_tokenizer *tok, const char *text, size_t len,
                                bool add_special, int32_t **ids, size_t *n_ids) {
    if (ids)
        *ids = NULL;
    if (n_ids)
        *n_ids = 0;
    if (!tok || (!text && len) || !ids || !n_ids)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_tokenizer_encode: NULL argument");
    enc e = {.tok = tok};
    vkg_status st = VKG_OK;
    e.md = pcre2_match_data_create(1, NULL);
    if (!e.md)
        st = vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "encode: out of host memory");
    if (!st)
        st = vkg_tok_bpe_create(&e.bpe);
    if (!st)
        st = cache_grow(&e);
    for (size_t i = 0; add_special && !st && i < tok->n_pre_ids; i++)
        st = emit(&e, tok->pre_ids[i]);
    size_t from = 0, a, b;
    const vkg_tok_added *hit;
    while (!st && vkg_tok_added_find(tok, (const uint8_t *)text, len, from, false, &a, &b, &hit)) {
        if (!(st = raw_stretch(&e, text + from, a - from, from == 0)))
            st = emit(&e, hit->id);
        from = b;
    }
    if (!st)
        st = raw_stretch(&e, text + from, len - from, from == 0);
    for (size_t i = 0; add_special && !st && i < tok->n_post_ids; i++)
        st = emit(&e, tok->post_ids[i]);

    pcre2_match_data_free(e.md);
    vkg_tok_bpe_destroy(e.bpe);
    free(e.norm.p);
    free(e.tmp.p);
    free(e.arena.p);
    free(e.keys.p);
    free(e.pieces.p);
    free(e.scratch.p);
    free(e.cache);
    if (st) {
        free(e.out);
        return st;
    }
    if (!e.out) /* callers may rely on a non-NULL array */
        e.out = malloc(sizeof *e.out);
    *ids = e.out;
    *n_ids = e.n_out;
    return VKG_OK;
}
