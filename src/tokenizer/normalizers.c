/*
 * normalizers.c — tokenizer.json's "normalizer": the text transformations before pre-tokenization
 * (Sequence, Prepend, Replace with a String or Regex pattern, NFC/NFD/NFKC/NFKD through
 * libutf8proc, Lowercase, Strip), plus the small helpers every stage uses (byte buffer, UTF-8,
 * PCRE2 compile). Not here: added tokens (added.c), pre-tokenizers (pretokenizers.c).
 *
 * Input need not be valid UTF-8: the Unicode normalizations and Lowercase work on the valid runs
 * and pass other bytes through unchanged (Hugging Face only ever sees valid strings).
 */
#include "tokenizer/tokenizer.h"

#include <jansson.h>
#include <utf8proc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

vkg_status vkg_tok_buf_reserve(vkg_tok_buf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap)
        return VKG_OK;
    if (b->len + extra + 1 < extra)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "tokenizer: buffer size overflows");
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "tokenizer: out of host memory (%zu bytes)",
                        cap);
    b->p = p;
    b->cap = cap;
    return VKG_OK;
}

vkg_status vkg_tok_buf_put(vkg_tok_buf *b, const void *data, size_t n) {
    VKG_TRY(vkg_tok_buf_reserve(b, n));
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return VKG_OK;
}

int32_t vkg_tok_utf8_next(const uint8_t *s, size_t n, size_t *i) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate(s + *i, (utf8proc_ssize_t)(n - *i), &cp);
    if (k <= 0) {
        *i += 1;
        return -1;
    }
    *i += (size_t)k;
    return cp;
}

size_t vkg_tok_utf8_put(uint32_t cp, char out[4]) {
    return (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)out);
}

vkg_status vkg_tok_regex(const char *pattern, size_t n, bool literal, const char *what,
                         pcre2_code **out) {
    int err;
    PCRE2_SIZE at;
    uint32_t opt = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    *out = pcre2_compile((PCRE2_SPTR)pattern, n, opt, &err, &at, NULL);
    if (!*out) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: the pattern \"%.*s\" does not compile at %zu: %s",
                        what, (int)(n > 80 ? 80 : n), pattern, (size_t)at, (const char *)msg);
    }
    /* Without a JIT (some architectures, or a PCRE2 built without it) the interpreter is used. */
    (void)pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE);
    return VKG_OK;
}

/* Rust's char::is_whitespace (the White_Space property), as Strip uses it. */
bool vkg_tok_is_white(int32_t c) {
    return (c >= 9 && c <= 13) || c == ' ' || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* ---- parsing ---- */

vkg_status vkg_tok_pattern_parse(const json_t *p, const char *what, pcre2_code **re) {
    const json_t *s = json_object_get(p, "String"), *r = json_object_get(p, "Regex");
    if (json_is_string(s))
        return vkg_tok_regex(json_string_value(s), json_string_length(s), true, what, re);
    if (json_is_string(r))
        return vkg_tok_regex(json_string_value(r), json_string_length(r), false, what, re);
    return vkg_fail(VKG_ERROR_TOKENIZER, "%s: pattern is neither {\"String\": ...} nor "
                    "{\"Regex\": ...}", what);
}

static vkg_status dup_string(const json_t *v, const char *what, char **out, size_t *n) {
    if (!json_is_string(v))
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s is missing or not a string", what);
    *n = json_string_length(v);
    *out = malloc(*n + 1);
    if (!*out)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    memcpy(*out, json_string_value(v), *n + 1);
    return VKG_OK;
}

vkg_status vkg_tok_norm_parse(vkg_tokenizer *tok, const json_t *j, const char *where) {
    const char *type;
    VKG_TRY(vkg_tok_stage_type(tok, j, where, "normalizers", vkg_tok_norm_parse, &type));
    if (!type) /* absent, or a Sequence already parsed */
        return VKG_OK;
    char what[300];
    if (tok->n_norm == VKG_TOK_MAX_STAGES)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: more than %d normalizers", where,
                        VKG_TOK_MAX_STAGES);
    vkg_tok_norm *s = &tok->norm[tok->n_norm];
    *s = (vkg_tok_norm){0};
    if (!strcmp(type, "Prepend")) {
        s->kind = VKG_NORM_PREPEND;
        snprintf(what, sizeof what, "%s: Prepend.prepend", where);
        VKG_TRY(dup_string(json_object_get(j, "prepend"), what, &s->text, &s->n_text));
    } else if (!strcmp(type, "Replace")) {
        s->kind = VKG_NORM_REPLACE;
        snprintf(what, sizeof what, "%s: Replace.content", where);
        VKG_TRY(dup_string(json_object_get(j, "content"), what, &s->text, &s->n_text));
        snprintf(what, sizeof what, "%s: Replace.pattern", where);
        tok->n_norm++; /* owned from here: freed with the tokenizer even if the pattern fails */
        return vkg_tok_pattern_parse(json_object_get(j, "pattern"), what, &s->re);
    } else if (!strcmp(type, "NFC")) {
        s->kind = VKG_NORM_NFC;
    } else if (!strcmp(type, "NFD")) {
        s->kind = VKG_NORM_NFD;
    } else if (!strcmp(type, "NFKC")) {
        s->kind = VKG_NORM_NFKC;
    } else if (!strcmp(type, "NFKD")) {
        s->kind = VKG_NORM_NFKD;
    } else if (!strcmp(type, "Lowercase")) {
        s->kind = VKG_NORM_LOWERCASE;
    } else if (!strcmp(type, "Strip")) {
        s->kind = VKG_NORM_STRIP;
        const json_t *l = json_object_get(j, "strip_left"), *r = json_object_get(j, "strip_right");
        s->left = !l || json_is_true(l);
        s->right = !r || json_is_true(r);
    } else {
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: normalizer \"%s\" is not supported (vkgpt has "
                        "Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip)", where,
                        type);
    }
    tok->n_norm++;
    return VKG_OK;
}

/* ---- applying ---- */

static vkg_status unicode_norm(vkg_tok_norm_kind kind, const uint8_t *s, size_t n,
                               vkg_tok_buf *out) {
    int opt = UTF8PROC_STABLE;
    opt |= kind == VKG_NORM_NFC || kind == VKG_NORM_NFKC ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE;
    if (kind == VKG_NORM_NFKC || kind == VKG_NORM_NFKD)
        opt |= UTF8PROC_COMPAT;
    for (size_t i = 0; i < n;) {
        /* A run of valid UTF-8 (ASCII is its own normal form and is copied as it is). */
        size_t start = i;
        bool ascii = true;
        while (i < n) {
            size_t k = i;
            if (vkg_tok_utf8_next(s, n, &k) < 0)
                break;
            ascii &= s[i] < 0x80;
            i = k;
        }
        if (i > start && ascii) {
            VKG_TRY(vkg_tok_buf_put(out, s + start, i - start));
        } else if (i > start) {
            utf8proc_uint8_t *dst = NULL;
            utf8proc_ssize_t m = utf8proc_map(s + start, (utf8proc_ssize_t)(i - start), &dst,
                                              (utf8proc_option_t)opt);
            if (m < 0)
                return vkg_fail(m == UTF8PROC_ERROR_NOMEM ? VKG_ERROR_OUT_OF_HOST_MEMORY
                                                          : VKG_ERROR_INTERNAL,
                                "normalizer: utf8proc: %s", utf8proc_errmsg(m));
            vkg_status st = vkg_tok_buf_put(out, dst, (size_t)m);
            free(dst);
            VKG_TRY(st);
        }
        if (i < n) { /* an invalid byte: passed through */
            VKG_TRY(vkg_tok_buf_put(out, s + i, 1));
            i++;
        }
    }
    return VKG_OK;
}

static vkg_status lowercase(const uint8_t *s, size_t n, vkg_tok_buf *out) {
    VKG_TRY(vkg_tok_buf_reserve(out, n));
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x80) {
            char c = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
            VKG_TRY(vkg_tok_buf_put(out, &c, 1));
            i++;
            continue;
        }
        size_t start = i;
        int32_t cp = vkg_tok_utf8_next(s, n, &i);
        if (cp < 0) {
            VKG_TRY(vkg_tok_buf_put(out, s + start, 1));
            continue;
        }
        char u[4];
        VKG_TRY(vkg_tok_buf_put(out, u, vkg_tok_utf8_put((uint32_t)utf8proc_tolower(cp), u)));
    }
    return VKG_OK;
}

static vkg_status strip(const vkg_tok_norm *st, const uint8_t *s, size_t n, vkg_tok_buf *out) {
    size_t a = 0, b = n;
    while (st->left && a < b) {
        size_t k = a;
        if (!vkg_tok_is_white(vkg_tok_utf8_next(s, b, &k)))
            break;
        a = k;
    }
    while (st->right && b > a) {
        size_t k = b - 1;
        while (k > a && (s[k] & 0xC0) == 0x80)
            k--;
        size_t e = k;
        if (!vkg_tok_is_white(vkg_tok_utf8_next(s, b, &e)) || e != b)
            break;
        b = k;
    }
    return vkg_tok_buf_put(out, s + a, b - a);
}

vkg_status vkg_tok_replace(const pcre2_code *re, const char *with, size_t n_with, const uint8_t *s,
                           size_t n, vkg_tok_buf *out) {
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    vkg_status st = VKG_OK;
    size_t at = 0, from = 0;
    while (from <= n) {
        int rc = pcre2_match(re, (PCRE2_SPTR)s, n, from, 0, md, NULL);
        if (rc < 0)
            break;
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] == ov[0]) { /* empty match: nothing to replace; look one character on */
            from = ov[0];
            (void)vkg_tok_utf8_next(s, n, &from);
            continue;
        }
        if ((st = vkg_tok_buf_put(out, s + at, ov[0] - at)) ||
            (st = vkg_tok_buf_put(out, with, n_with)))
            break;
        at = from = ov[1];
    }
    pcre2_match_data_free(md);
    VKG_TRY(st);
    return vkg_tok_buf_put(out, s + at, n - at);
}

vkg_status vkg_tok_normalize(const vkg_tokenizer *tok, const char *text, size_t n, vkg_tok_buf *out,
                             vkg_tok_buf *tmp) {
    out->len = 0;
    VKG_TRY(vkg_tok_buf_put(out, text, n));
    for (size_t k = 0; k < tok->n_norm; k++) {
        const vkg_tok_norm *st = &tok->norm[k];
        const uint8_t *s = (const uint8_t *)out->p;
        size_t len = out->len;
        tmp->len = 0;
        VKG_TRY(vkg_tok_buf_reserve(tmp, len));
        switch (st->kind) {
        case VKG_NORM_PREPEND:
            if (len)
                VKG_TRY(vkg_tok_buf_put(tmp, st->text, st->n_text));
            VKG_TRY(vkg_tok_buf_put(tmp, s, len));
            break;
        case VKG_NORM_REPLACE:
            VKG_TRY(vkg_tok_replace(st->re, st->text, st->n_text, s, len, tmp));
            break;
        case VKG_NORM_NFC:
        case VKG_NORM_NFD:
        case VKG_NORM_NFKC:
        case VKG_NORM_NFKD:
            VKG_TRY(unicode_norm(st->kind, s, len, tmp));
            break;
        case VKG_NORM_LOWERCASE:
            VKG_TRY(lowercase(s, len, tmp));
            break;
        case VKG_NORM_STRIP:
            VKG_TRY(strip(st, s, len, tmp));
            break;
        }
        vkg_tok_buf swap = *out;
        *out = *tmp;
        *tmp = swap;
    }
    return VKG_OK;
}
