/*
 * lexer.c — Jinja2 source to tokens, with Hugging Face's whitespace settings: trim_blocks (the first
 * newline after a block or comment tag is dropped) and lstrip_blocks (spaces and tabs from the
 * start of a line up to a block or comment tag are dropped), plus the `-`/`+` modifiers of each
 * tag, as jinja2/lexer.py (3.1) applies them. Not here: the grammar (parser.c).
 */
#include "template/template.h"
#include "template/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lexer {
    tmpl_arena *a;
    const char *src;
    size_t len, pos;
    int line, col;     /* of `lc_pos` */
    size_t lc_pos;
    tmpl_token *toks;
    size_t n, cap;
} lexer;

static void linecol(lexer *L, size_t at, int *line, int *col) {
    if (at < L->lc_pos) {
        L->lc_pos = 0;
        L->line = 1;
        L->col = 1;
    }
    for (; L->lc_pos < at; L->lc_pos++) {
        if (L->src[L->lc_pos] == '\n') {
            L->line++;
            L->col = 1;
        } else if (((unsigned char)L->src[L->lc_pos] & 0xC0) != 0x80) {
            L->col++;
        }
    }
    *line = L->line;
    *col = L->col;
}

static vkg_status fail_at(lexer *L, size_t at, const char *what) {
    int line, col;
    linecol(L, at, &line, &col);
    return vkg_fail(VKG_ERROR_TEMPLATE, "template syntax error at line %d, column %d: %s", line, col, what);
}

static tmpl_token *push(lexer *L, tmpl_tok_kind k, size_t at) {
    if (L->n == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 256;
        tmpl_token *t = tmpl_arena_alloc(L->a, cap * sizeof *t);
        if (!t)
            return NULL;
        if (L->n)
            memcpy(t, L->toks, L->n * sizeof *t);
        L->toks = t;
        L->cap = cap;
    }
    tmpl_token *t = &L->toks[L->n++];
    memset(t, 0, sizeof *t);
    t->kind = k;
    linecol(L, at, &t->line, &t->col);
    return t;
}

static bool is_space(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}
static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static bool is_name_start(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static vkg_status out_of_memory(void) {
    return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of memory compiling the template");
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* A string literal: Python's unicode_escape rules, as Jinja applies them. */
static vkg_status lex_string(lexer *L) {
    size_t start = L->pos;
    char q = L->src[L->pos++];
    size_t end = L->pos;
    while (end < L->len && L->src[end] != q)
        end += L->src[end] == '\\' ? 2 : 1;
    if (end >= L->len)
        return fail_at(L, start, "unterminated string");
    char *o = tmpl_arena_alloc(L->a, end - L->pos + 1);
    tmpl_token *t = push(L, T_STRING, start);
    if (!o || !t)
        return out_of_memory();
    size_t n = 0;
    for (size_t i = L->pos; i < end; i++) {
        if (L->src[i] != '\\') {
            o[n++] = L->src[i];
            continue;
        }
        char e = L->src[++i];
        switch (e) {
        case 'n': o[n++] = '\n'; break;
        case 't': o[n++] = '\t'; break;
        case 'r': o[n++] = '\r'; break;
        case 'a': o[n++] = '\a'; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'v': o[n++] = '\v'; break;
        case '\\': case '\'': case '"': o[n++] = e; break;
        case '\n': break; /* a backslash-newline continues the line */
        case 'x': case 'u': case 'U': {
            int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            uint32_t cp = 0;
            for (int k = 0; k < digits; k++) {
                int h = i + 1 + (size_t)k < end ? hexval(L->src[i + 1 + (size_t)k]) : -1;
                if (h < 0)
                    return fail_at(L, i - 1, "truncated \\x, \\u or \\U escape in a string");
                cp = cp << 4 | (uint32_t)h;
            }
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000))
                return fail_at(L, i - 1, "escape outside the Unicode range in a string");
            i += (size_t)digits;
            n += tt_encode(cp, o + n); /* at most 4 bytes for the 4+ source bytes read */
            break;
        }
        default:
            if (e >= '0' && e <= '7') {
                uint32_t cp = 0;
                int k = 0;
                while (k < 3 && i < end && L->src[i] >= '0' && L->src[i] <= '7')
                    cp = cp * 8 + (uint32_t)(L->src[i++] - '0'), k++;
                i--;
                n += tt_encode(cp, o + n);
            } else {
                o[n++] = '\\'; /* unknown escapes stay as they are */
                o[n++] = e;
            }
        }
    }
    t->s = o;
    t->len = n;
    L->pos = end + 1;
    return VKG_OK;
}

static vkg_status lex_number(lexer *L) {
    size_t start = L->pos, p = L->pos;
    while (p < L->len && (is_digit(L->src[p]) || (L->src[p] == '_' && p + 1 < L->len && is_digit(L->src[p + 1]))))
        p++;
    bool is_float = false;
    if (p + 1 < L->len && L->src[p] == '.' && is_digit(L->src[p + 1])) {
        is_float = true;
        p++;
        while (p < L->len && (is_digit(L->src[p]) || (L->src[p] == '_' && p + 1 < L->len && is_digit(L->src[p + 1]))))
            p++;
    }
    if (p < L->len && (L->src[p] == 'e' || L->src[p] == 'E')) {
        size_t q = p + 1;
        if (q < L->len && (L->src[q] == '+' || L->src[q] == '-'))
            q++;
        if (q < L->len && is_digit(L->src[q])) {
            is_float = true;
            p = q;
            while (p < L->len && is_digit(L->src[p]))
                p++;
        }
    }
    char buf[64];
    size_t k = 0;
    for (size_t i = start; i < p && k < sizeof buf - 1; i++)
        if (L->src[i] != '_')
            buf[k++] = L->src[i];
    buf[k] = 0;
    if (p - start >= sizeof buf - 1)
        return fail_at(L, start, "number literal too long");
    tmpl_token *t = push(L, is_float ? T_FLOAT : T_INT, start);
    if (!t)
        return out_of_memory();
    if (is_float) {
        t->f = strtod(buf, NULL);
    } else {
        char *endp;
        unsigned long long v = strtoull(buf, &endp, 10);
        if (v > INT64_MAX || k > 19)
            return fail_at(L, start, "integer literal too large (vkgpt's integers are 64-bit)");
        t->i = (int64_t)v;
    }
    L->pos = p;
    return VKG_OK;
}

/* Tokens of one tag's inside, up to its end delimiter (`%}` or `}}`, after an optional `-`/`+`).
 * Returns the end token with *strip_after / *no_trim set from its modifier. */
static vkg_status lex_tag(lexer *L, char close, bool *strip_after, bool *keep_newline) {
    *strip_after = *keep_newline = false;
    for (;;) {
        while (L->pos < L->len && is_space(L->src[L->pos]))
            L->pos++;
        if (L->pos >= L->len)
            return fail_at(L, L->pos, close == '%' ? "missing end of block tag '%}'" : "missing end of print tag '}}'");
        const char *s = L->src + L->pos;
        size_t left = L->len - L->pos;
        /* The end delimiter is matched before operators, as in Jinja (so `-%}` is never a minus). */
        if ((s[0] == '-' || s[0] == '+') && left >= 3 && s[1] == close && s[2] == '}' &&
            (s[0] == '-' || close == '%')) {
            if (!push(L, close == '%' ? T_BLOCK_END : T_VAR_END, L->pos))
                return out_of_memory();
            *strip_after = s[0] == '-';
            *keep_newline = s[0] == '+';
            L->pos += 3;
            return VKG_OK;
        }
        if (left >= 2 && s[0] == close && s[1] == '}') {
            if (!push(L, close == '%' ? T_BLOCK_END : T_VAR_END, L->pos))
                return out_of_memory();
            L->pos += 2;
            return VKG_OK;
        }
        if (is_name_start(s[0])) {
            size_t p = L->pos;
            while (p < L->len && (is_name_start(L->src[p]) || is_digit(L->src[p])))
                p++;
            tmpl_token *t = push(L, T_NAME, L->pos);
            if (!t)
                return out_of_memory();
            t->s = L->src + L->pos;
            t->len = p - L->pos;
            L->pos = p;
            continue;
        }
        if (is_digit(s[0])) {
            VKG_TRY(lex_number(L));
            continue;
        }
        if (s[0] == '\'' || s[0] == '"') {
            VKG_TRY(lex_string(L));
            continue;
        }
        static const struct {
            const char *text;
            int op;
        } two[] = {{"==", OP_EQ}, {"!=", OP_NE}, {"<=", OP_LE}, {">=", OP_GE}, {"//", OP_FLOORDIV}, {"**", OP_POW}};
        int op = 0;
        size_t width = 1;
        for (size_t k = 0; k < VKG_ARRAY_LEN(two) && left >= 2; k++)
            if (s[0] == two[k].text[0] && s[1] == two[k].text[1]) {
                op = two[k].op;
                width = 2;
            }
        if (!op && strchr("+-*/%~<>=.,:|()[]{}", s[0]) && s[0])
            op = (unsigned char)s[0];
        if (!op) {
            char msg[64];
            snprintf(msg, sizeof msg, "unexpected character '%c'", s[0] >= 32 && s[0] < 127 ? s[0] : '?');
            return fail_at(L, L->pos, msg);
        }
        tmpl_token *t = push(L, T_OP, L->pos);
        if (!t)
            return out_of_memory();
        t->op = op;
        L->pos += width;
    }
}

/* Matches `word` at *p after whitespace, leaving *p after it; false (and *p unchanged) if absent. */
static bool skip_word(const char *s, size_t len, size_t *p, const char *word) {
    size_t q = *p, w = strlen(word);
    while (q < len && is_space(s[q]))
        q++;
    if (q + w > len || memcmp(s + q, word, w) != 0)
        return false;
    *p = q + w;
    return true;
}

/* `{% raw %}...{% endraw %}` at L->pos (just after `{%` and its modifier): the text in between is
 * one text token, as Jinja's raw state lexes it: the opening tag takes `-%}` (strip what follows)
 * but no trim_blocks newline; the closing tag has the usual `-`/`+` modifiers, lstrip_blocks and
 * trim_blocks. True when it was a raw block (L->pos after it); errors become a missing endraw. */
static bool raw_block(lexer *L, size_t *unused) {
    (void)unused;
    const char *s = L->src;
    size_t len = L->len, p = L->pos;
    if (!skip_word(s, len, &p, "raw") || (p < len && (is_name_start(s[p]) || is_digit(s[p]))))
        return false;
    while (p < len && is_space(s[p]))
        p++;
    if (p + 3 <= len && s[p] == '-' && s[p + 1] == '%' && s[p + 2] == '}') {
        p += 3;
        while (p < len && is_space(s[p]))
            p++;
    } else if (p + 2 <= len && s[p] == '%' && s[p + 1] == '}') {
        p += 2;
    } else {
        return false;
    }
    size_t body = p;
    for (size_t t = body; t + 1 < len; t++) {
        if (s[t] != '{' || s[t + 1] != '%')
            continue;
        size_t q = t + 2;
        char mod = q < len && (s[q] == '-' || s[q] == '+') ? s[q++] : 0;
        if (!skip_word(s, len, &q, "endraw"))
            continue;
        while (q < len && is_space(s[q]))
            q++;
        char emod = q < len && (s[q] == '-' || s[q] == '+') ? s[q++] : 0;
        if (q + 2 > len || s[q] != '%' || s[q + 1] != '}')
            continue;
        q += 2;
        size_t text_end = t;
        if (mod == '-') {
            while (text_end > body && is_space(s[text_end - 1]))
                text_end--;
        } else if (mod != '+') { /* lstrip_blocks before {% endraw %} */
            size_t l = text_end;
            while (l > body && s[l - 1] != '\n')
                l--;
            if (l > body) {
                size_t k = l;
                while (k < text_end && is_space(s[k]) && s[k] != '\n')
                    k++;
                if (k == text_end)
                    text_end = l;
            }
        }
        if (text_end > body) {
            tmpl_token *tok = push(L, T_TEXT, body);
            if (!tok)
                return false;
            tok->s = s + body;
            tok->len = text_end - body;
        }
        if (emod == '-')
            while (q < len && is_space(s[q]))
                q++;
        else if (emod != '+' && q < len && s[q] == '\n')
            q++;
        L->pos = q;
        return true;
    }
    return false; /* no endraw: the parser reports the stray `raw` tag */
}

vkg_status tmpl_lex(tmpl_arena *a, const char *src, size_t len, tmpl_token **toks, size_t *n) {
    lexer L = {.a = a, .src = src, .len = len, .line = 1, .col = 1};
    bool line_starting = true; /* the text before the next tag begins a line */
    while (L.pos < len) {
        /* Next tag start. */
        size_t t = L.pos;
        while (t + 1 < len && !(src[t] == '{' && (src[t + 1] == '{' || src[t + 1] == '%' || src[t + 1] == '#')))
            t++;
        if (t + 1 >= len)
            t = len;
        size_t text_end = t;
        char kind = t < len ? src[t + 1] : 0;
        char mod = t + 2 < len ? src[t + 2] : 0;
        if (kind) {
            if (mod == '-') {
                while (text_end > L.pos && is_space(src[text_end - 1]))
                    text_end--;
            } else if (mod != '+' && kind != '{') {
                /* lstrip_blocks: only spaces and tabs between the line start and the tag. */
                size_t l = text_end;
                while (l > L.pos && src[l - 1] != '\n')
                    l--;
                if (l > L.pos || line_starting) {
                    size_t k = l;
                    while (k < text_end && is_space(src[k]) && src[k] != '\n')
                        k++;
                    if (k == text_end)
                        text_end = l;
                }
            }
        }
        if (text_end > L.pos) {
            tmpl_token *tok = push(&L, T_TEXT, L.pos);
            if (!tok)
                return out_of_memory();
            tok->s = src + L.pos;
            tok->len = text_end - L.pos;
        }
        if (!kind)
            break;
        size_t tag_at = t;
        L.pos = t + 2 + (mod == '-' || mod == '+');
        bool strip_after = false, keep_newline = false;
        size_t raw_end;
        if (kind == '%' && raw_block(&L, &raw_end)) {
            line_starting = L.pos > 0 && src[L.pos - 1] == '\n';
            continue;
        }
        if (kind == '#') {
            size_t e = L.pos;
            while (e + 1 < len && !(src[e] == '#' && src[e + 1] == '}'))
                e++;
            if (e + 1 >= len)
                return fail_at(&L, tag_at, "missing end of comment tag '#}'");
            strip_after = e > L.pos && src[e - 1] == '-';
            keep_newline = e > L.pos && src[e - 1] == '+';
            L.pos = e + 2;
        } else {
            if (!push(&L, kind == '%' ? T_BLOCK_BEGIN : T_VAR_BEGIN, tag_at))
                return out_of_memory();
            VKG_TRY(lex_tag(&L, kind == '%' ? '%' : '}', &strip_after, &keep_newline));
        }
        if (strip_after) {
            while (L.pos < len && is_space(src[L.pos]))
                L.pos++;
        } else if (kind != '{' && !keep_newline && L.pos < len && src[L.pos] == '\n') {
            L.pos++; /* trim_blocks */
        }
        line_starting = L.pos > 0 && src[L.pos - 1] == '\n';
    }
    if (!push(&L, T_EOF, len))
        return out_of_memory();
    *toks = L.toks;
    *n = L.n;
    return VKG_OK;
}
