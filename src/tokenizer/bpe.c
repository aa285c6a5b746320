/*
 * bpe.c — the BPE model: one pre-tokenized piece -> token ids, as Hugging Face's BPE does it:
 * ignore_merges (a piece that is itself a token is that token), the initial symbols (a byte-level
 * model: one token per byte; otherwise one per character, with continuing_subword_prefix and
 * end_of_word_suffix, then byte_fallback's <0xNN> tokens, then unk_token, fused when fuse_unk),
 * then merges: repeatedly the adjacent pair of lowest rank (leftmost among equals).
 * GPT-2's own encoder (vocab.json + merges.txt) merges by rounds instead: every occurrence of the
 * lowest-ranked pair, left to right, before it looks at the pairs that round created. The two
 * agree on every merge list made by training (a pair made by a merge always ranks after it) and
 * differ on hand-made ones, so each file kind gets its reference's rule (tok->merge_rounds).
 * Not here: the merge table (load.c), the per-call cache of pieces (encode.c).
 *
 * The merge loop is O(n log n) per piece with a heap of candidate pairs, so that a hostile piece (a
 * megabyte of spaces is one piece) cannot make encoding quadratic.
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

struct vkg_tok_bpe {
    node *sym;        /* (cap_sym) the symbols of the piece being merged, a linked list */
    size_t n_sym, cap_sym;
    cand *heap;       /* (cap_heap) pairs that merge, lowest (rank, pos) first */
    size_t n_heap, cap_heap;
    cand *batch;      /* (cap_batch) the entries of the round being applied (merge_rounds) */
    size_t cap_batch;
    char *word;       /* (cap_word) one character with prefix and suffix */
    size_t cap_word;
};

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

vkg_status vkg_tok_bpe_create(vkg_tok_bpe **out) {
    *out = calloc(1, sizeof **out);
    return *out ? VKG_OK : vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "encode: out of host memory");
}

void vkg_tok_bpe_destroy(vkg_tok_bpe *b) {
    if (!b)
        return;
    free(b->sym);
    free(b->heap);
    free(b->batch);
    free(b->word);
    free(b);
}

static bool cand_less(const cand *a, const cand *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(vkg_tok_bpe *e, cand c) {
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

static cand heap_pop(vkg_tok_bpe *e) {
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
static vkg_status try_push(const vkg_tokenizer *tok, vkg_tok_bpe *e, uint32_t pos) {
    uint32_t q = e->sym[pos].next;
    if (q == VKG_TOK_NONE)
        return VKG_OK;
    uint32_t rank;
    int32_t merged, l = e->sym[pos].id, r = e->sym[q].id;
    if (!vkg_tok_merge_find(tok, l, r, &rank, &merged))
        return VKG_OK;
    if (e->n_heap == e->cap_heap)
        VKG_TRY(grow((void **)&e->heap, &e->cap_heap, e->n_heap + 1, sizeof *e->heap));
    heap_push(e, (cand){.rank = rank, .pos = pos, .left = l, .right = r, .merged = merged});
    return VKG_OK;
}

/* A heap entry is stale once either symbol has changed (ids only grow, never come back). */
static bool cand_valid(const vkg_tok_bpe *e, const cand *c) {
    uint32_t q = e->sym[c->pos].next;
    return e->sym[c->pos].id == c->left && q != VKG_TOK_NONE && e->sym[q].id == c->right;
}

static vkg_status add_sym(vkg_tok_bpe *e, int32_t id) {
    if (e->n_sym == e->cap_sym)
        VKG_TRY(grow((void **)&e->sym, &e->cap_sym, e->n_sym + 1, sizeof *e->sym));
    uint32_t i = (uint32_t)e->n_sym++;
    e->sym[i] = (node){.id = id, .prev = i ? i - 1 : VKG_TOK_NONE, .next = VKG_TOK_NONE};
    if (i)
        e->sym[i - 1].next = i;
    return VKG_OK;
}

/* The initial symbols of a piece for a model that is not byte-level: one per character. */
static vkg_status chars_init(const vkg_tokenizer *tok, vkg_tok_bpe *e, const uint8_t *s, size_t n) {
    int32_t unk = -1; /* a pending unknown (fuse_unk joins runs of them) */
    for (size_t i = 0; i < n;) {
        size_t start = i;
        (void)vkg_tok_utf8_next(s, n, &i); /* an invalid byte is a character of its own */
        size_t need = tok->n_cont_prefix + (i - start) + tok->n_eow_suffix, w = 0;
        VKG_TRY(grow((void **)&e->word, &e->cap_word, need, 1));
        if (start > 0 && tok->cont_prefix) {
            memcpy(e->word, tok->cont_prefix, tok->n_cont_prefix);
            w += tok->n_cont_prefix;
        }
        memcpy(e->word + w, s + start, i - start);
        w += i - start;
        if (i == n && tok->eow_suffix) {
            memcpy(e->word + w, tok->eow_suffix, tok->n_eow_suffix);
            w += tok->n_eow_suffix;
        }
        int32_t id = vkg_tok_map_get(&tok->key, e->word, w);
        if (id >= 0) {
            if (unk >= 0)
                VKG_TRY(add_sym(e, unk));
            unk = -1;
            VKG_TRY(add_sym(e, id));
            continue;
        }
        bool fell_back = false;
        if (tok->byte_fallback) {
            fell_back = true;
            for (size_t k = 0; k < w; k++)
                fell_back &= tok->byte_id[(uint8_t)e->word[k]] >= 0;
            for (size_t k = 0; fell_back && k < w; k++)
                VKG_TRY(add_sym(e, tok->byte_id[(uint8_t)e->word[k]]));
        }
        if (fell_back || tok->unk < 0)
            continue; /* without an unk_token, Hugging Face drops the character */
        if (unk >= 0 && !tok->fuse_unk)
            VKG_TRY(add_sym(e, unk));
        unk = tok->unk;
    }
    if (unk >= 0)
        VKG_TRY(add_sym(e, unk));
    return VKG_OK;
}

vkg_status vkg_tok_bpe_piece(const vkg_tokenizer *tok, vkg_tok_bpe *e, const uint8_t *s, size_t n,
                             int32_t **out, size_t *n_out, size_t *cap) {
    if (n > UINT32_MAX - 1)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "encode: a piece of %zu bytes is too long", n);
    if (tok->ignore_merges) {
        int32_t id = vkg_tok_map_get(&tok->key, s, n);
        if (id >= 0) {
            VKG_TRY(grow((void **)out, cap, *n_out + 1, sizeof **out));
            (*out)[(*n_out)++] = id;
            return VKG_OK;
        }
    }
    e->n_sym = 0;
    if (tok->byte_level) {
        VKG_TRY(grow((void **)&e->sym, &e->cap_sym, n, sizeof *e->sym));
        for (size_t i = 0; i < n; i++)
            VKG_TRY(add_sym(e, tok->byte_id[s[i]]));
    } else {
        VKG_TRY(chars_init(tok, e, s, n));
    }
    if (e->n_sym == 0)
        return VKG_OK;

    node *sym = e->sym;
    e->n_heap = 0;
    for (size_t i = 0; i + 1 < e->n_sym; i++)
        VKG_TRY(try_push(tok, e, (uint32_t)i));
    while (e->n_heap) {
        cand top = heap_pop(e);
        if (!cand_valid(e, &top))
            continue;
        size_t nb = 0;
        VKG_TRY(grow((void **)&e->batch, &e->cap_batch, 1, sizeof *e->batch));
        e->batch[nb++] = top;
        while (tok->merge_rounds && e->n_heap && e->heap[0].rank == top.rank) {
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
                VKG_TRY(try_push(tok, e, sym[p].prev));
            VKG_TRY(try_push(tok, e, p));
        }
    }
    for (uint32_t i = 0; i != VKG_TOK_NONE; i = sym[i].next) {
        if (*n_out == *cap)
            VKG_TRY(grow((void **)out, cap, *n_out + 1, sizeof **out));
        (*out)[(*n_out)++] = sym[i].id;
    }
    return VKG_OK;
}
