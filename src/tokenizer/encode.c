/*
 * encode.c — text -> token ids: GPT-2's pre-tokenizer regex (PCRE2) splits the text into pieces,
 * each piece's bytes become single-byte tokens, and BPE merges adjacent pairs by rank.
 * Not here: loading the tables (load.c), decoding (decode.c).
 *
 * BPE runs in O(n log n) per piece with a heap of candidate pairs, so that a hostile piece (a
 * megabyte of spaces is one piece) cannot make encoding quadratic. It reproduces the reference
 * algorithm exactly: that one merges, per round, every non-overlapping occurrence of the
 * lowest-ranked pair from left to right, before looking at the pairs the round created; here a
 * round pops all heap entries of that rank (they come out left to right) before applying them.
 *
 * Within one call, pieces already seen are looked up in a cache (piece bytes -> the ids emitted
 * the first time), which is what makes ordinary text fast. The cache lives only for one call, so
 * a tokenizer stays immutable and can be shared by threads.
 */
#include "tokenizer/tokenizer.h"

#include <stdlib.h>
#include <string.h>

/* A pair of adjacent symbols that has a merge: symbol `pos` (left) with ids (left, right). */
typedef struct cand {
    uint32_t rank;
    uint32_t pos;
    int32_t left, right;
    int32_t merged;   /* the id the pair becomes */
} cand;

typedef struct node {
    int32_t id;       /* token id; -1 once merged into the symbol on its left */
    uint32_t next;    /* next live symbol, VKG_TOK_NONE at the end */
    uint32_t prev;    /* previous live symbol, VKG_TOK_NONE at the start */
} node;

typedef struct cache_slot {
    uint64_t hash;
    size_t key_off;   /* the piece, as an offset into the text being encoded */
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
    const uint8_t *text;
    int32_t *out;
    size_t n_out, cap_out;

    node *sym;        /* (cap_sym) the symbols of the piece being merged, a linked list */
    size_t cap_sym;
    cand *heap;       /* (cap_heap) pairs that merge, lowest (rank, pos) first */
    cand *batch;      /* (cap_batch) the entries of the round being applied */
    size_t n_heap, cap_heap, cap_batch;

    cache_slot *cache;
    size_t cache_cap, cache_n;
} enc;

static vkg_status grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return VKG_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    uint64_t bytes;
    if (!vkg_mul_u64(c, elem, &bytes) || bytes > SIZE_MAX)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "encode: %zu elements overflow", need);
    void *q = realloc(*p, (size_t)bytes);
    if (!q)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "encode: out of host memory (%zu bytes)",
                        (size_t)bytes);
    *p = q;
    *cap = c;
    return VKG_OK;
}

static vkg_status emit(enc *e, int32_t id) {
    if (e->n_out == e->cap_out)
        VKG_TRY(grow((void **)&e->out, &e->cap_out, e->n_out + 1, sizeof *e->out));
    e->out[e->n_out++] = id;
    return VKG_OK;
}

static bool cand_less(const cand *a, const cand *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(enc *e, cand c) {
    size_t i = e->n_heap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!cand_less(&c, &e->heap[parent]))
            break;
        e->heap[i] = e->heap[parent];
        i = parent;
    }
    e->heap[i] = c;
}

static cand heap_pop(enc *e) {
    cand top = e->heap[0], last = e->heap[--e->n_heap];
    size_t i = 0, n = e->n_heap;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && cand_less(&e->heap[child + 1], &e->heap[child]))
            child++;
        if (!cand_less(&e->heap[child], &last))
            break;
        e->heap[i] = e->heap[child];
        i = child;
    }
    if (n)
        e->heap[i] = last;
    return top;
}

/* Pushes the pair starting at symbol `pos` if it has a merge. */
static vkg_status try_push(enc *e, uint32_t pos) {
    uint32_t q = e->sym[pos].next;
    if (q == VKG_TOK_NONE)
        return VKG_OK;
    uint32_t rank;
    int32_t merged, l = e->sym[pos].id, r = e->sym[q].id;
    if (!vkg_tok_merge_find(e->tok, l, r, &rank, &merged))
        return VKG_OK;
    if (e->n_heap == e->cap_heap)
        VKG_TRY(grow((void **)&e->heap, &e->cap_heap, e->n_heap + 1, sizeof *e->heap));
    heap_push(e, (cand){.rank = rank, .pos = pos, .left = l, .right = r, .merged = merged});
    return VKG_OK;
}

/* A heap entry is stale once either symbol has changed (ids only grow, never come back). */
static bool cand_valid(const enc *e, const cand *c) {
    uint32_t q = e->sym[c->pos].next;
    return e->sym[c->pos].id == c->left && q != VKG_TOK_NONE && e->sym[q].id == c->right;
}

/* BPE over one piece of n >= 2 bytes; appends its ids to the output. */
static vkg_status bpe(enc *e, const uint8_t *s, size_t n) {
    if (n > UINT32_MAX - 1)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "encode: a piece of %zu bytes is too long", n);
    VKG_TRY(grow((void **)&e->sym, &e->cap_sym, n, sizeof *e->sym));

    node *sym = e->sym;
    for (size_t i = 0; i < n; i++)
        sym[i] = (node){.id = e->tok->byte_id[s[i]],
                        .prev = i ? (uint32_t)(i - 1) : VKG_TOK_NONE,
                        .next = i + 1 < n ? (uint32_t)(i + 1) : VKG_TOK_NONE};
    e->n_heap = 0;
    for (size_t i = 0; i + 1 < n; i++)
        VKG_TRY(try_push(e, (uint32_t)i));

    while (e->n_heap) {
        cand top = heap_pop(e);
        if (!cand_valid(e, &top))
            continue;
        size_t nb = 0;
        if (!e->cap_batch)
            VKG_TRY(grow((void **)&e->batch, &e->cap_batch, 64, sizeof *e->batch));
        e->batch[nb++] = top;
        while (e->n_heap && e->heap[0].rank == top.rank) {
            if (nb == e->cap_batch)
                VKG_TRY(grow((void **)&e->batch, &e->cap_batch, nb + 1, sizeof *e->batch));
            e->batch[nb++] = heap_pop(e);
        }
        for (size_t k = 0; k < nb; k++) {
            const cand *c = &e->batch[k];
            if (!cand_valid(e, c)) /* overlapped by the previous merge ("aaa") or stale */
                continue;
            uint32_t p = c->pos, q = sym[p].next;
            sym[p].id = c->merged;
            sym[q].id = -1;
            sym[p].next = sym[q].next;
            if (sym[q].next != VKG_TOK_NONE)
                sym[sym[q].next].prev = p;
            if (sym[p].prev != VKG_TOK_NONE)
                VKG_TRY(try_push(e, sym[p].prev));
            VKG_TRY(try_push(e, p));
        }
    }
    for (uint32_t i = 0; i != VKG_TOK_NONE; i = sym[i].next)
        VKG_TRY(emit(e, sym[i].id));
    return VKG_OK;
}

static cache_slot *cache_find(enc *e, const uint8_t *s, size_t n, uint64_t h) {
    size_t mask = e->cache_cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        cache_slot *c = &e->cache[i];
        if (!c->key_len ||
            (c->hash == h && c->key_len == n && memcmp(e->text + c->key_off, s, n) == 0))
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
            *cache_find(e, e->text + old[i].key_off, old[i].key_len, old[i].hash) = old[i];
    free(old);
    return VKG_OK;
}

/* Encodes the piece text[off, off + n). */
static vkg_status piece(enc *e, size_t off, size_t n) {
    const uint8_t *s = e->text + off;
    if (n == 1)
        return emit(e, e->tok->byte_id[s[0]]);
    if (n > CACHE_MAX_PIECE)
        return bpe(e, s, n);
    uint64_t h = vkg_tok_hash(s, n);
    cache_slot *c = cache_find(e, s, n, h);
    if (c->key_len) {
        VKG_TRY(grow((void **)&e->out, &e->cap_out, e->n_out + c->tok_len, sizeof *e->out));
        memcpy(e->out + e->n_out, e->out + c->tok_off, c->tok_len * sizeof *e->out);
        e->n_out += c->tok_len;
        return VKG_OK;
    }
    size_t start = e->n_out;
    VKG_TRY(bpe(e, s, n));
    if (2 * (e->cache_n + 1) > e->cache_cap) {
        if (e->cache_cap >= CACHE_MAX_SLOTS)
            return VKG_OK;
        VKG_TRY(cache_grow(e));
        c = cache_find(e, s, n, h);
    }
    *c = (cache_slot){.hash = h, .key_off = off, .key_len = (uint32_t)n, .tok_off = start,
                      .tok_len = (uint32_t)(e->n_out - start)};
    e->cache_n++;
    return VKG_OK;
}

vkg_status vkg_tokenizer_encode(const vkg_tokenizer *tok, const char *text, size_t len,
                                int32_t **ids, size_t *n_ids) {
    if (ids)
        *ids = NULL;
    if (n_ids)
        *n_ids = 0;
    if (!tok || (!text && len) || !ids || !n_ids)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_tokenizer_encode: NULL argument");
    enc e = {.tok = tok, .text = (const uint8_t *)text};
    vkg_status st = grow((void **)&e.out, &e.cap_out, len / 3 + 16, sizeof *e.out);
    if (st)
        return st;
    st = cache_grow(&e);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md && !st)
        st = vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "encode: out of host memory");

    /* With PCRE2_MATCH_INVALID_UTF no alternative ever matches an invalid UTF-8 byte, and every
     * valid character is matched by some alternative, so the gaps between matches are exactly the
     * runs of invalid bytes; each run is encoded as one piece of its own. */
    size_t off = 0;
    while (!st && off < len) {
        int rc = pcre2_match(tok->re, (PCRE2_SPTR)text, len, off, 0, md, NULL);
        size_t start = len, end = len;
        if (rc >= 0) {
            const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            start = ov[0];
            end = ov[1] > ov[0] ? ov[1] : ov[0] + 1; /* never loop on an empty match */
        } else if (rc != PCRE2_ERROR_NOMATCH) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            st = vkg_fail(VKG_ERROR_INTERNAL, "encode: PCRE2 match at byte %zu failed: %s", off,
                          (const char *)msg);
            break;
        }
        if (start > off && (st = piece(&e, off, start - off)))
            break;
        if (end > start && (st = piece(&e, start, end - start)))
            break;
        off = end;
    }

    pcre2_match_data_free(md);
    free(e.sym);
    free(e.heap);
    free(e.batch);
    free(e.cache);
    if (st) {
        free(e.out);
        return st;
    }
    *ids = e.out;
    *n_ids = e.n_out;
    return VKG_OK;
}
