/*
 * text.c — Unicode text helpers for the template engine's string filters and methods: Python's
 * notion of whitespace (str.isspace), case mapping through utf8proc (simple, one-to-one mappings:
 * "ß".upper() stays "ß" here where Python gives "SS"), and word characters (\w). Not here: the
 * filters and methods themselves (filters.c, methods.c).
 */
#include "template/text.h"

#include <string.h>
#include <utf8proc.h>

uint32_t tt_decode(const char *s, size_t len, size_t *at) {
    size_t i = *at, next = tv_utf8_next(s, len, i);
    unsigned char ch = (unsigned char)s[i];
    *at = next;
    if (next - i == 1)
        return ch;
    uint32_t cp = ch & (0xFF >> (next - i + 1));
    for (size_t k = i + 1; k < next; k++)
        cp = cp << 6 | ((unsigned char)s[k] & 0x3F);
    return cp;
}

size_t tt_encode(uint32_t cp, char *o) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

bool tt_is_space(uint32_t cp) {
    if (cp <= 0x20)
        return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool tt_is_cased(uint32_t cp) {
    if (cp > 0x10FFFF)
        return false;
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)cp);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT;
}

bool tt_is_word(uint32_t cp) {
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
    if (cp > 0x10FFFF)
        return false;
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)cp);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) || k == UTF8PROC_CATEGORY_ND ||
           k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO || k == UTF8PROC_CATEGORY_MN ||
           k == UTF8PROC_CATEGORY_MC || k == UTF8PROC_CATEGORY_PC;
}

uint32_t tt_case(uint32_t cp, tt_case_kind kind) {
    if (cp > 0x10FFFF)
        return cp;
    utf8proc_int32_t c = (utf8proc_int32_t)cp;
    switch (kind) {
    case TT_UPPER: return (uint32_t)utf8proc_toupper(c);
    case TT_LOWER: return (uint32_t)utf8proc_tolower(c);
    default: return (uint32_t)utf8proc_totitle(c);
    }
}

tmpl_value *tt_map_case(tmpl_ctx *c, tmpl_str s, tt_case_kind kind) {
    tmpl_buf b = {0};
    tb_put(c, &b, "", 0);
    for (size_t at = 0; at < s.len;) {
        char o[4];
        tb_put(c, &b, o, tt_encode(tt_case(tt_decode(s.s, s.len, &at), kind), o));
    }
    tmpl_value *v = tv_new(c, TV_STRING);
    v->u.str.s = b.s;
    v->u.str.len = b.len;
    return v;
}

tmpl_value *tt_buf_value(tmpl_ctx *c, tmpl_buf *b) {
    if (!b->s)
        tb_put(c, b, "", 0);
    tmpl_value *v = tv_new(c, TV_STRING);
    v->u.str.s = b->s;
    v->u.str.len = b->len;
    return v;
}

static bool in_chars(uint32_t cp, const tmpl_str *chars) {
    if (!chars)
        return tt_is_space(cp);
    for (size_t at = 0; at < chars->len;)
        if (tt_decode(chars->s, chars->len, &at) == cp)
            return true;
    return false;
}

tmpl_value *tt_strip(tmpl_ctx *c, tmpl_str s, const tmpl_str *chars, bool left, bool right) {
    size_t start = 0, end = s.len;
    if (left)
        while (start < end) {
            size_t at = start;
            if (!in_chars(tt_decode(s.s, s.len, &at), chars))
                break;
            start = at;
        }
    if (right)
        while (end > start) {
            size_t prev = end - 1;
            while (prev > start && ((unsigned char)s.s[prev] & 0xC0) == 0x80)
                prev--;
            size_t at = prev;
            uint32_t cp = tt_decode(s.s, s.len, &at);
            if (at != end) /* an invalid tail byte: treat it on its own */
                prev = end - 1, at = prev, cp = tt_decode(s.s, s.len, &at);
            if (!in_chars(cp, chars))
                break;
            end = prev;
        }
    return tv_str(c, s.s + start, end - start);
}
