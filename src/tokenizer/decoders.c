/*
 * decoders.c — tokenizer.json's "decoder": what one token turns back into. ByteLevel (GPT-2's
 * byte alphabet back to bytes), Metaspace (the replacement back to ' ', the first token's leading
 * space dropped unless prepend_scheme is "never"), Replace, ByteFallback (<0xNN> -> the byte),
 * Fuse, Strip and Sequence.
 * Not here: the sequence and streaming decoders that call this (decode.c).
 *
 * Hugging Face runs the chain over the list of token strings. vkgpt runs it over one token at a
 * time, which gives the same text for every chain in use (each stage either works per token or,
 * like Fuse, only joins), with two differences kept on purpose: bytes that are not valid UTF-8
 * (ByteLevel, ByteFallback) are returned as they are instead of as U+FFFD, so that a stream can
 * hold them back until the character is complete; and a Strip after a Fuse, which sees the whole
 * text, is applied by the caller to the whole text (vkg_tok_decode_fused_strip).
 */
#include "tokenizer/tokenizer.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static vkg_status one_char(const json_t *v, const char *def, const char *what, char **out,
                           size_t *n) {
    const char *s = json_is_string(v) ? json_string_value(v) : def;
    size_t len = strlen(s), i = 0;
    if (len == 0 || (vkg_tok_utf8_next((const uint8_t *)s, len, &i), i != len))
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s must be one character", what);
    *out = malloc(len + 1);
    if (!*out)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    memcpy(*out, s, len + 1);
    *n = len;
    return VKG_OK;
}

static vkg_status count(const json_t *v, const char *what, uint32_t *out) {
    if (!v) {
        *out = 0;
        return VKG_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s is not a count in [0, 1000]", what);
    *out = (uint32_t)json_integer_value(v);
    return VKG_OK;
}

vkg_status vkg_tok_dec_parse(vkg_tokenizer *tok, const json_t *j, const char *where) {
    const char *type;
    VKG_TRY(vkg_tok_stage_type(tok, j, where, "decoders", vkg_tok_dec_parse, &type));
    if (!type) /* absent, or a Sequence already parsed */
        return VKG_OK;
    char what[300];
    if (tok->n_dec == VKG_TOK_MAX_STAGES)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: more than %d decoders", where, VKG_TOK_MAX_STAGES);
    bool fused = false;
    for (size_t i = 0; i < tok->n_dec; i++)
        fused |= tok->dec[i].kind == VKG_DEC_FUSE;
    vkg_tok_dec *s = &tok->dec[tok->n_dec++];
    *s = (vkg_tok_dec){.fused = fused};
    snprintf(what, sizeof what, "%s: %s", where, type);
    if (!strcmp(type, "ByteLevel")) {
        s->kind = VKG_DEC_BYTELEVEL;
    } else if (!strcmp(type, "Metaspace")) {
        s->kind = VKG_DEC_METASPACE;
        const char *scheme = json_string_value(json_object_get(j, "prepend_scheme"));
        const json_t *aps = json_object_get(j, "add_prefix_space");
        s->prefix = scheme ? strcmp(scheme, "never") != 0 : !json_is_false(aps);
        snprintf(what, sizeof what, "%s: Metaspace.replacement", where);
        return one_char(json_object_get(j, "replacement"), "\xe2\x96\x81", what, &s->text,
                        &s->n_text);
    } else if (!strcmp(type, "Replace")) {
        s->kind = VKG_DEC_REPLACE;
        const json_t *c = json_object_get(j, "content");
        if (!json_is_string(c))
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: Replace.content is not a string", where);
        if (!(s->text = malloc(json_string_length(c) + 1)))
            return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
        memcpy(s->text, json_string_value(c), json_string_length(c) + 1);
        s->n_text = json_string_length(c);
        snprintf(what, sizeof what, "%s: Replace.pattern", where);
        return vkg_tok_pattern_parse(json_object_get(j, "pattern"), what, &s->re);
    } else if (!strcmp(type, "ByteFallback")) {
        s->kind = VKG_DEC_BYTEFALLBACK;
    } else if (!strcmp(type, "Fuse")) {
        s->kind = VKG_DEC_FUSE;
    } else if (!strcmp(type, "Strip")) {
        s->kind = VKG_DEC_STRIP;
        snprintf(what, sizeof what, "%s: Strip.start", where);
        VKG_TRY(count(json_object_get(j, "start"), what, &s->start));
        snprintf(what, sizeof what, "%s: Strip.stop", where);
        VKG_TRY(count(json_object_get(j, "stop"), what, &s->stop));
        snprintf(what, sizeof what, "%s: Strip.content", where);
        return one_char(json_object_get(j, "content"), " ", what, &s->text, &s->n_text);
    } else {
        tok->n_dec--;
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: decoder \"%s\" is not supported (vkgpt has "
                        "ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence)", where,
                        type);
    }
    return VKG_OK;
}

/* ByteLevel: each character of GPT-2's byte alphabet becomes its byte; others stay as written. */
static vkg_status byte_level(const vkg_tokenizer *tok, const uint8_t *s, size_t n, vkg_tok_buf *out) {
    for (size_t i = 0; i < n;) {
        size_t start = i;
        int32_t cp = vkg_tok_utf8_next(s, n, &i);
        if (cp >= 0 && cp < 512 && tok->byte_of_cp[cp] >= 0) {
            uint8_t b = (uint8_t)tok->byte_of_cp[cp];
            VKG_TRY(vkg_tok_buf_put(out, &b, 1));
        } else {
            VKG_TRY(vkg_tok_buf_put(out, s + start, i - start));
        }
    }
    return VKG_OK;
}

static int hex(uint8_t c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* How many bytes `n_strip` leading (or trailing) copies of `c` take at the start (end) of s. */
static size_t strip_count(const uint8_t *s, size_t n, const char *c, size_t nc, uint32_t max,
                          bool tail) {
    size_t k = 0;
    for (uint32_t i = 0; i < max && k + nc <= n; i++) {
        const uint8_t *at = tail ? s + n - k - nc : s + k;
        if (memcmp(at, c, nc) != 0)
            break;
        k += nc;
    }
    return k;
}

vkg_status vkg_tok_decode_token(const vkg_tokenizer *tok, int32_t id, bool first, vkg_tok_buf *out) {
    const uint8_t *spell = (const uint8_t *)tok->str_arena + tok->str_off[id];
    size_t n = tok->str_len[id];
    if (tok->no_decoder) { /* Hugging Face joins the token strings with spaces */
        if (!first)
            VKG_TRY(vkg_tok_buf_put(out, " ", 1));
        return vkg_tok_buf_put(out, spell, n);
    }
    vkg_tok_buf a = {0}, b = {0};
    vkg_status st = vkg_tok_buf_put(&a, spell, n);
    for (size_t k = 0; k < tok->n_dec && !st; k++) {
        const vkg_tok_dec *d = &tok->dec[k];
        const uint8_t *s = (const uint8_t *)a.p;
        b.len = 0;
        switch (d->kind) {
        case VKG_DEC_BYTELEVEL:
            /* An added token decodes to its text (Hugging Face would map its characters too). */
            st = tok->flags[id] & VKG_TOKF_ADDED ? vkg_tok_buf_put(&b, s, a.len)
                                                 : byte_level(tok, s, a.len, &b);
            break;
        case VKG_DEC_METASPACE: {
            for (size_t i = 0; i < a.len && !st;) {
                if (i + d->n_text <= a.len && !memcmp(s + i, d->text, d->n_text)) {
                    st = vkg_tok_buf_put(&b, " ", 1);
                    i += d->n_text;
                } else {
                    st = vkg_tok_buf_put(&b, s + i, 1);
                    i++;
                }
            }
            if (!st && !b.p)
                st = vkg_tok_buf_put(&b, "", 0);
            if (!st && first && d->prefix && b.len && b.p[0] == ' ') {
                memmove(b.p, b.p + 1, b.len); /* with the NUL */
                b.len--;
            }
            break;
        }
        case VKG_DEC_REPLACE:
            st = vkg_tok_replace(d->re, d->text, d->n_text, s, a.len, &b);
            break;
        case VKG_DEC_BYTEFALLBACK:
            if (a.len == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' && hex(s[3]) >= 0 &&
                hex(s[4]) >= 0) {
                uint8_t byte = (uint8_t)(hex(s[3]) * 16 + hex(s[4]));
                st = vkg_tok_buf_put(&b, &byte, 1);
            } else {
                st = vkg_tok_buf_put(&b, s, a.len);
            }
            break;
        case VKG_DEC_FUSE:
            st = vkg_tok_buf_put(&b, s, a.len);
            break;
        case VKG_DEC_STRIP:
            if (d->fused) {
                st = vkg_tok_buf_put(&b, s, a.len);
            } else {
                size_t head = strip_count(s, a.len, d->text, d->n_text, d->start, false);
                size_t tail = strip_count(s + head, a.len - head, d->text, d->n_text, d->stop, true);
                st = vkg_tok_buf_put(&b, s + head, a.len - head - tail);
            }
            break;
        }
        vkg_tok_buf swap = a;
        a = b;
        b = swap;
    }
    if (!st)
        st = vkg_tok_buf_put(out, a.p, a.len);
    free(a.p);
    free(b.p);
    return st;
}

void vkg_tok_decode_fused_strip(const vkg_tokenizer *tok, const uint8_t *s, size_t n, size_t *head,
                                size_t *tail) {
    *head = *tail = 0;
    for (size_t k = 0; k < tok->n_dec; k++) {
        const vkg_tok_dec *d = &tok->dec[k];
        if (d->kind != VKG_DEC_STRIP || !d->fused)
            continue;
        *head += strip_count(s + *head, n - *head - *tail, d->text, d->n_text, d->start, false);
        *tail += strip_count(s + *head, n - *head - *tail, d->text, d->n_text, d->stop, true);
    }
}

size_t vkg_tok_fused_strip_head(const vkg_tokenizer *tok, const uint8_t *s, size_t n,
                                uint32_t budget[VKG_TOK_MAX_STAGES]) {
    size_t head = 0;
    for (size_t k = 0; k < tok->n_dec; k++) {
        const vkg_tok_dec *d = &tok->dec[k];
        if (d->kind != VKG_DEC_STRIP || !d->fused)
            continue;
        size_t cut = strip_count(s + head, n - head, d->text, d->n_text, budget[k], false);
        budget[k] -= (uint32_t)(cut / d->n_text);
        head += cut;
    }
    return head;
}
