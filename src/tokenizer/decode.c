/*
 * decode.c — token ids -> bytes: whole-sequence decoding, the streaming decoder that only ever
 * hands out complete UTF-8 characters, and the small queries (vocabulary size, special tokens,
 * one token's bytes or id). Not here: what one token decodes to (decoders.c), loading (load.c),
 * encoding (encode.c).
 */
#include "tokenizer/tokenizer.h"

#include <stdlib.h>
#include <string.h>

struct vkg_detok {
    const vkg_tokenizer *tok;
    vkg_tok_buf buf;     /* what the last push/flush returned, NUL-terminated */
    vkg_tok_buf one;     /* the token being decoded */
    uint8_t held[4];     /* a trailing incomplete UTF-8 sequence waiting for its continuation */
    size_t n_held;       /* 0..3 */
    bool started;        /* a token has been pushed since create or flush */
    bool text_started;   /* some byte of the text has been handed out (Strip after Fuse is done) */
    uint32_t strip_left[VKG_TOK_MAX_STAGES]; /* per Strip-after-Fuse stage: what it may still strip */
};

static bool token_ok(const vkg_tokenizer *tok, int32_t id) {
    return id >= 0 && (size_t)id < tok->n_vocab && tok->str_off[id] != VKG_TOK_NONE;
}

static vkg_status bad_token(const vkg_tokenizer *tok, const char *where, size_t i, int32_t id) {
    return vkg_fail(VKG_ERROR_TOKEN_RANGE, "%s: ids[%zu] = %d is not a token of this vocabulary "
                    "(ids 0..%zu)", where, i, (int)id, tok->n_vocab - 1);
}

size_t vkg_tokenizer_vocab_size(const vkg_tokenizer *tok) { return tok ? tok->n_vocab : 0; }

const char *vkg_tokenizer_summary(const vkg_tokenizer *tok) { return tok ? tok->summary : ""; }

int32_t vkg_tokenizer_role_id(const vkg_tokenizer *tok, vkg_token_role role) {
    return tok && (unsigned)role < 4 ? tok->role_id[role] : -1;
}

const char *vkg_tokenizer_role_text(const vkg_tokenizer *tok, vkg_token_role role) {
    return tok && (unsigned)role < 4 ? tok->role_text[role] : NULL;
}

int32_t vkg_tokenizer_eos(const vkg_tokenizer *tok) { return vkg_tokenizer_role_id(tok, VKG_TOKEN_EOS); }

int32_t vkg_tokenizer_bos(const vkg_tokenizer *tok) { return vkg_tokenizer_role_id(tok, VKG_TOKEN_BOS); }

bool vkg_tokenizer_adds_bos(const vkg_tokenizer *tok) {
    return tok && tok->n_pre_ids && tok->role_id[VKG_TOKEN_BOS] >= 0 &&
           tok->pre_ids[0] == tok->role_id[VKG_TOKEN_BOS];
}

bool vkg_tokenizer_is_special(const vkg_tokenizer *tok, int32_t id) {
    return tok && token_ok(tok, id) && (tok->flags[id] & VKG_TOKF_SPECIAL);
}

size_t vkg_tokenizer_end_ids(const vkg_tokenizer *tok, const int32_t **ids) {
    if (ids)
        *ids = tok ? tok->end_ids : NULL;
    return tok ? tok->n_end_ids : 0;
}

int32_t vkg_tokenizer_token_id(const vkg_tokenizer *tok, const char *spelling) {
    return tok && spelling ? vkg_tok_lookup(tok, spelling, strlen(spelling)) : -1;
}

vkg_status vkg_tokenizer_token_bytes(const vkg_tokenizer *tok, int32_t id, const char **bytes,
                                     size_t *len) {
    if (!tok || !bytes || !len)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_tokenizer_token_bytes: NULL argument");
    if (!token_ok(tok, id))
        return bad_token(tok, "vkg_tokenizer_token_bytes", 0, id);
    *bytes = (const char *)tok->byte_arena + tok->byte_off[id];
    *len = tok->byte_len[id];
    return VKG_OK;
}

vkg_status vkg_tokenizer_decode(const vkg_tokenizer *tok, const int32_t *ids, size_t n,
                                bool skip_special, char **text, size_t *len) {
    if (text)
        *text = NULL;
    if (len)
        *len = 0;
    if (!tok || (!ids && n) || !text || !len)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_tokenizer_decode: NULL argument");
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!token_ok(tok, ids[i]))
            return bad_token(tok, "decode", i, ids[i]);
        total += tok->byte_len[ids[i]]; /* < 2^32 per token: cannot overflow before memory does */
    }
    vkg_tok_buf out = {0};
    vkg_status st = vkg_tok_buf_reserve(&out, total + 16);
    bool first = true;
    for (size_t i = 0; i < n && !st; i++) {
        int32_t id = ids[i];
        if (skip_special && (tok->flags[id] & VKG_TOKF_SPECIAL))
            continue;
        if (first) /* the first token may decode differently (a leading space dropped) */
            st = vkg_tok_decode_token(tok, id, true, &out);
        else
            st = vkg_tok_buf_put(&out, tok->byte_arena + tok->byte_off[id], tok->byte_len[id]);
        first = false;
    }
    if (st) {
        free(out.p);
        return st;
    }
    size_t head, tail;
    vkg_tok_decode_fused_strip(tok, (const uint8_t *)out.p, out.len, &head, &tail);
    memmove(out.p, out.p + head, out.len - head - tail);
    out.len -= head + tail;
    out.p[out.len] = '\0';
    *text = out.p;
    *len = out.len;
    return VKG_OK;
}

vkg_status vkg_detok_create(const vkg_tokenizer *tok, vkg_detok **out) {
    if (!tok || !out)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_detok_create: NULL argument");
    *out = calloc(1, sizeof **out);
    if (!*out)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    (*out)->tok = tok;
    return VKG_OK;
}

void vkg_detok_destroy(vkg_detok *d) {
    if (!d)
        return;
    free(d->buf.p);
    free(d->one.p);
    free(d);
}

/* Length of a UTF-8 sequence by its lead byte; 0 for bytes that cannot start one. */
static size_t seq_len(uint8_t c) {
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 0;
}

/* Whether `c` may follow `lead` as the second byte (excludes overlongs, surrogates, > U+10FFFF). */
static bool second_ok(uint8_t lead, uint8_t c) {
    switch (lead) {
    case 0xE0: return c >= 0xA0 && c <= 0xBF;
    case 0xED: return c >= 0x80 && c <= 0x9F;
    case 0xF0: return c >= 0x90 && c <= 0xBF;
    case 0xF4: return c >= 0x80 && c <= 0x8F;
    default: return c >= 0x80 && c <= 0xBF;
    }
}

/* How many trailing bytes of s[0, n) are the start of a valid UTF-8 sequence that more bytes
 * could still complete (0..3). Anything else (complete or hopelessly invalid) is not held. */
static size_t incomplete_tail(const uint8_t *s, size_t n) {
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        uint8_t c = s[n - back];
        if (c >= 0x80 && c <= 0xBF)
            continue; /* a continuation byte: its lead is further back */
        size_t need = seq_len(c);
        if (need <= back)
            return 0;
        for (size_t k = 1; k < back; k++) {
            uint8_t x = s[n - back + k];
            if (k == 1 ? !second_ok(c, x) : (x < 0x80 || x > 0xBF))
                return 0;
        }
        return back;
    }
    return 0;
}

vkg_status vkg_detok_push(vkg_detok *d, int32_t id, const char **text, size_t *len) {
    if (text)
        *text = "";
    if (len)
        *len = 0;
    if (!d || !text || !len)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_detok_push: NULL argument");
    const vkg_tokenizer *tok = d->tok;
    if (!token_ok(tok, id))
        return bad_token(tok, "vkg_detok_push", 0, id);
    const uint8_t *bytes = tok->byte_arena + tok->byte_off[id];
    size_t n = tok->byte_len[id];
    if (!d->started) {
        for (size_t k = 0; k < tok->n_dec; k++)
            d->strip_left[k] = tok->dec[k].start;
        d->one.len = 0;
        VKG_TRY(vkg_tok_decode_token(tok, id, true, &d->one));
        bytes = (const uint8_t *)d->one.p;
        n = d->one.len;
        d->started = true;
    }
    if (!d->text_started && n) {
        /* Strip after Fuse works on the start of the whole text: the first bytes handed out,
         * which may come from more than one token (" " then " leading" strips one space). */
        size_t head = vkg_tok_fused_strip_head(tok, bytes, n, d->strip_left);
        bytes += head;
        n -= head;
        d->text_started = n > 0;
    }
    size_t m = d->n_held + n;
    d->buf.len = 0;
    VKG_TRY(vkg_tok_buf_reserve(&d->buf, m));
    memcpy(d->buf.p, d->held, d->n_held);
    memcpy(d->buf.p + d->n_held, bytes, n);
    size_t keep = incomplete_tail((const uint8_t *)d->buf.p, m);
    memcpy(d->held, d->buf.p + m - keep, keep);
    d->n_held = keep;
    d->buf.p[m - keep] = '\0';
    *text = d->buf.p;
    *len = m - keep;
    return VKG_OK;
}

vkg_status vkg_detok_flush(vkg_detok *d, const char **text, size_t *len) {
    if (text)
        *text = "";
    if (len)
        *len = 0;
    if (!d || !text || !len)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_detok_flush: NULL argument");
    d->buf.len = 0;
    VKG_TRY(vkg_tok_buf_reserve(&d->buf, d->n_held));
    memcpy(d->buf.p, d->held, d->n_held);
    d->buf.p[d->n_held] = '\0';
    *text = d->buf.p;
    *len = d->n_held;
    d->n_held = 0;
    d->started = d->text_started = false;
    return VKG_OK;
}
