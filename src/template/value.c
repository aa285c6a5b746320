/*
 * value.c — the template engine's values: the arena they live in, constructors, Python's
 * truthiness, equality and ordering, and str()/repr() as Python prints them. Not here: JSON
 * (json.c), filters (filters.c).
 */
#include "template/template.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tmpl_chunk {
    tmpl_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

void *tmpl_arena_alloc(tmpl_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0 || n > ((size_t)1 << 40))
        return n == 0 ? tmpl_arena_alloc(a, 16) : NULL;
    if (a->limit && a->used_total + n > a->limit)
        return NULL;
    tmpl_chunk *h = a->head;
    if (!h || h->cap - h->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        tmpl_chunk *k = malloc(sizeof *k + cap);
        if (!k)
            return NULL;
        k->used = 0;
        k->cap = cap;
        /* A large block gets its own chunk behind the head, so the head's free room is kept. */
        if (h && n > 65536) {
            k->next = h->next;
            h->next = k;
        } else {
            k->next = h;
            a->head = k;
        }
        h = k;
    }
    void *p = (char *)h->data + h->used;
    h->used += n;
    a->used_total += n;
    memset(p, 0, n);
    return p;
}

void tmpl_arena_free(tmpl_arena *a) {
    for (tmpl_chunk *k = a->head, *next; k; k = next) {
        next = k->next;
        free(k);
    }
    a->head = NULL;
    a->used_total = 0;
}

void *tv_alloc(tmpl_ctx *c, size_t n) {
    void *p = tmpl_arena_alloc(&c->arena, n);
    if (!p)
        tmpl_raise(c, NULL, VKG_ERROR_TEMPLATE, "the template used more than %zu MiB of memory",
                   c->limits.max_memory >> 20);
    return p;
}

static tmpl_value NONE_VALUE = {.kind = TV_NONE};

tmpl_value *tv_none(void) { return &NONE_VALUE; }

tmpl_value *tv_new(tmpl_ctx *c, tmpl_kind k) {
    tmpl_value *v = tv_alloc(c, sizeof *v);
    v->kind = k;
    return v;
}
tmpl_value *tv_int(tmpl_ctx *c, int64_t i) {
    tmpl_value *v = tv_new(c, TV_INT);
    v->u.i = i;
    return v;
}
tmpl_value *tv_float(tmpl_ctx *c, double f) {
    tmpl_value *v = tv_new(c, TV_FLOAT);
    v->u.f = f;
    return v;
}
tmpl_value *tv_bool(tmpl_ctx *c, bool b) {
    tmpl_value *v = tv_new(c, TV_BOOL);
    v->u.b = b;
    return v;
}
tmpl_value *tv_str(tmpl_ctx *c, const char *s, size_t len) {
    tmpl_value *v = tv_new(c, TV_STRING);
    char *p = tv_alloc(c, len + 1);
    if (len)
        memcpy(p, s, len);
    v->u.str.s = p;
    v->u.str.len = len;
    return v;
}
tmpl_value *tv_strz(tmpl_ctx *c, const char *s) { return tv_str(c, s, strlen(s)); }
tmpl_value *tv_list(tmpl_ctx *c, size_t n) {
    tmpl_value *v = tv_new(c, TV_LIST);
    if (n > ((size_t)1 << 32))
        tmpl_raise(c, NULL, VKG_ERROR_TEMPLATE, "list of %zu items is too long", n);
    v->u.list.items = tv_alloc(c, (n ? n : 1) * sizeof(tmpl_value *));
    v->u.list.n = n;
    return v;
}
tmpl_value *tv_dict(tmpl_ctx *c) {
    tmpl_value *v = tv_new(c, TV_DICT);
    v->u.dict = tv_alloc(c, sizeof(tmpl_dict));
    return v;
}
tmpl_value *tv_undef(tmpl_ctx *c, const char *name) {
    tmpl_value *v = tv_new(c, TV_UNDEFINED);
    v->u.undef_name = name;
    return v;
}

static bool key_match(const tmpl_value *k, const char *s, size_t len) {
    return k->kind == TV_STRING && k->u.str.len == len && memcmp(k->u.str.s, s, len) == 0;
}

tmpl_value *tv_dict_gets(const tmpl_dict *d, const char *key, size_t len) {
    for (size_t i = 0; i < d->n; i++)
        if (key_match(d->keys[i], key, len))
            return d->vals[i];
    return NULL;
}

/* Dict keys are compared as Python hashes them: 1, 1.0 and True are one key. */
static bool key_equal(const tmpl_value *a, const tmpl_value *b) {
    if (a->kind == TV_STRING || b->kind == TV_STRING)
        return a->kind == b->kind && a->u.str.len == b->u.str.len &&
               memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0;
    if (tv_is_number(a) && tv_is_number(b))
        return tv_as_double(a) == tv_as_double(b);
    return a->kind == TV_NONE && b->kind == TV_NONE;
}

tmpl_value *tv_dict_get(const tmpl_dict *d, const tmpl_value *k) {
    for (size_t i = 0; i < d->n; i++)
        if (key_equal(d->keys[i], k))
            return d->vals[i];
    return NULL;
}

void tv_dict_set(tmpl_ctx *c, tmpl_dict *d, tmpl_value *k, tmpl_value *v) {
    for (size_t i = 0; i < d->n; i++)
        if (key_equal(d->keys[i], k)) {
            d->vals[i] = v;
            return;
        }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        tmpl_value **keys = tv_alloc(c, cap * sizeof *keys), **vals = tv_alloc(c, cap * sizeof *vals);
        if (d->n) {
            memcpy(keys, d->keys, d->n * sizeof *keys);
            memcpy(vals, d->vals, d->n * sizeof *vals);
        }
        d->keys = keys;
        d->vals = vals;
        d->cap = cap;
    }
    d->keys[d->n] = k;
    d->vals[d->n++] = v;
}

bool tv_is_number(const tmpl_value *v) {
    return v->kind == TV_BOOL || v->kind == TV_INT || v->kind == TV_FLOAT;
}

double tv_as_double(const tmpl_value *v) {
    return v->kind == TV_FLOAT ? v->u.f : v->kind == TV_INT ? (double)v->u.i : v->kind == TV_BOOL ? v->u.b : 0;
}

bool tv_truthy(const tmpl_value *v) {
    switch (v->kind) {
    case TV_UNDEFINED:
    case TV_NONE: return false;
    case TV_BOOL: return v->u.b;
    case TV_INT: return v->u.i != 0;
    case TV_FLOAT: return v->u.f != 0;
    case TV_STRING: return v->u.str.len != 0;
    case TV_LIST: return v->u.list.n != 0;
    case TV_DICT: return v->u.dict->n != 0;
    default: return true;
    }
}

const char *tv_type_name(const tmpl_value *v) {
    static const char *names[] = {"Undefined", "NoneType", "bool", "int", "float", "str", "list",
                                  "dict", "Namespace", "Macro", "function", "method", "LoopContext"};
    if (v->kind == TV_LIST && v->is_tuple)
        return "tuple";
    return names[v->kind];
}

static bool equal_depth(tmpl_ctx *c, const tmpl_value *a, const tmpl_value *b, int depth) {
    if (depth > 1000)
        tmpl_raise(c, NULL, VKG_ERROR_TEMPLATE, "values nested too deeply to compare");
    if (tv_is_number(a) && tv_is_number(b)) {
        if (a->kind != TV_FLOAT && b->kind != TV_FLOAT)
            return (a->kind == TV_INT ? a->u.i : a->u.b) == (b->kind == TV_INT ? b->u.i : b->u.b);
        return tv_as_double(a) == tv_as_double(b);
    }
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case TV_UNDEFINED:
    case TV_NONE: return true;
    case TV_STRING:
        return a->u.str.len == b->u.str.len && memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0;
    case TV_LIST:
        if (a->is_tuple != b->is_tuple || a->u.list.n != b->u.list.n)
            return false;
        for (size_t i = 0; i < a->u.list.n; i++)
            if (!equal_depth(c, a->u.list.items[i], b->u.list.items[i], depth + 1))
                return false;
        return true;
    case TV_DICT:
        if (a->u.dict->n != b->u.dict->n)
            return false;
        for (size_t i = 0; i < a->u.dict->n; i++) {
            tmpl_value *o = tv_dict_get(b->u.dict, a->u.dict->keys[i]);
            if (!o || !equal_depth(c, a->u.dict->vals[i], o, depth + 1))
                return false;
        }
        return true;
    case TV_NAMESPACE: return a->u.dict == b->u.dict;
    case TV_MACRO: return a->u.macro.node == b->u.macro.node;
    case TV_FUNC: return a->u.func == b->u.func;
    default: return a == b;
    }
}

bool tv_equal(tmpl_ctx *c, const tmpl_value *a, const tmpl_value *b) { return equal_depth(c, a, b, 0); }

static int cmp_depth(tmpl_ctx *c, const tmpl_node *at, const tmpl_value *a, const tmpl_value *b, int depth) {
    if (depth > 1000)
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "values nested too deeply to compare");
    if (tv_is_number(a) && tv_is_number(b)) {
        if (a->kind != TV_FLOAT && b->kind != TV_FLOAT) {
            int64_t x = a->kind == TV_INT ? a->u.i : a->u.b, y = b->kind == TV_INT ? b->u.i : b->u.b;
            return x < y ? -1 : x > y;
        }
        double x = tv_as_double(a), y = tv_as_double(b);
        return x < y ? -1 : x > y; /* NaN compares as equal here, false both ways in Python */
    }
    if (a->kind == TV_STRING && b->kind == TV_STRING) {
        size_t n = a->u.str.len < b->u.str.len ? a->u.str.len : b->u.str.len;
        int r = n ? memcmp(a->u.str.s, b->u.str.s, n) : 0; /* UTF-8 byte order = code point order */
        if (r)
            return r < 0 ? -1 : 1;
        return a->u.str.len < b->u.str.len ? -1 : a->u.str.len > b->u.str.len;
    }
    if (a->kind == TV_LIST && b->kind == TV_LIST && a->is_tuple == b->is_tuple) {
        size_t n = a->u.list.n < b->u.list.n ? a->u.list.n : b->u.list.n;
        for (size_t i = 0; i < n; i++) {
            if (equal_depth(c, a->u.list.items[i], b->u.list.items[i], depth + 1))
                continue;
            return cmp_depth(c, at, a->u.list.items[i], b->u.list.items[i], depth + 1);
        }
        return a->u.list.n < b->u.list.n ? -1 : a->u.list.n > b->u.list.n;
    }
    tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "'<' not supported between instances of '%s' and '%s'",
               tv_type_name(a), tv_type_name(b));
}

int tv_compare(tmpl_ctx *c, const tmpl_node *at, const tmpl_value *a, const tmpl_value *b) {
    return cmp_depth(c, at, a, b, 0);
}

void tb_put(tmpl_ctx *c, tmpl_buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = tv_alloc(c, cap);
        if (b->len)
            memcpy(p, b->s, b->len);
        b->s = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void tb_puts(tmpl_ctx *c, tmpl_buf *b, const char *s) { tb_put(c, b, s, strlen(s)); }

/* Python's float repr: the shortest digits that read back as the same double, positional for
 * exponents in [-4, 16), scientific (two-digit exponent at least) otherwise, ".0" on integers. */
void tv_format_float(double f, char *out, size_t cap) {
    if (isnan(f)) {
        snprintf(out, cap, "nan");
        return;
    }
    if (isinf(f)) {
        snprintf(out, cap, f < 0 ? "-inf" : "inf");
        return;
    }
    char digits[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(digits, sizeof digits, "%.*e", prec - 1, f);
        if (strtod(digits, NULL) == f)
            break;
    }
    /* digits: [-]d.ddde[+-]XX */
    char mant[24];
    size_t m = 0;
    const char *p = digits;
    bool neg = *p == '-';
    if (neg)
        p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            mant[m++] = *p;
    mant[m] = 0;
    int exp = atoi(p + 1);
    while (m > 1 && mant[m - 1] == '0')
        mant[--m] = 0;
    char *o = out;
    size_t left = cap;
#define EMIT(...)                                          \
    do {                                                   \
        int k_ = snprintf(o, left, __VA_ARGS__);           \
        if (k_ < 0 || (size_t)k_ >= left) return;          \
        o += k_;                                           \
        left -= (size_t)k_;                                \
    } while (0)
    if (neg)
        EMIT("-");
    if (exp < -4 || exp >= 16) {
        EMIT("%c", mant[0]);
        if (m > 1)
            EMIT(".%s", mant + 1);
        EMIT("e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        EMIT("0.");
        for (int i = -1; i > exp; i--)
            EMIT("0");
        EMIT("%s", mant);
    } else {
        for (int i = 0; i <= exp; i++)
            EMIT("%c", i < (int)m ? mant[i] : '0');
        EMIT(".");
        if ((int)m > exp + 1)
            EMIT("%s", mant + exp + 1);
        else
            EMIT("0");
    }
#undef EMIT
}

static void repr_string(tmpl_ctx *c, tmpl_buf *b, const char *s, size_t len) {
    bool has_single = memchr(s, '\'', len) != NULL, has_double = memchr(s, '"', len) != NULL;
    char q = has_single && !has_double ? '"' : '\'';
    tb_put(c, b, &q, 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[8];
        if (ch == '\\' || ch == (unsigned char)q) {
            esc[0] = '\\';
            esc[1] = (char)ch;
            tb_put(c, b, esc, 2);
        } else if (ch == '\n') {
            tb_puts(c, b, "\\n");
        } else if (ch == '\r') {
            tb_puts(c, b, "\\r");
        } else if (ch == '\t') {
            tb_puts(c, b, "\\t");
        } else if (ch < 0x20 || ch == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", ch);
            tb_puts(c, b, esc);
        } else {
            tb_put(c, b, (const char *)&s[i], 1);
        }
    }
    tb_put(c, b, &q, 1);
}

void tv_repr(tmpl_ctx *c, tmpl_buf *b, const tmpl_value *v, int depth) {
    if (depth > 1000)
        tmpl_raise(c, NULL, VKG_ERROR_TEMPLATE, "values nested too deeply to print");
    switch (v->kind) {
    case TV_STRING: repr_string(c, b, v->u.str.s, v->u.str.len); return;
    case TV_LIST: {
        tb_puts(c, b, v->is_tuple ? "(" : "[");
        for (size_t i = 0; i < v->u.list.n; i++) {
            if (i)
                tb_puts(c, b, ", ");
            tv_repr(c, b, v->u.list.items[i], depth + 1);
        }
        tb_puts(c, b, v->is_tuple ? (v->u.list.n == 1 ? ",)" : ")") : "]");
        return;
    }
    case TV_DICT: {
        tb_puts(c, b, "{");
        for (size_t i = 0; i < v->u.dict->n; i++) {
            if (i)
                tb_puts(c, b, ", ");
            tv_repr(c, b, v->u.dict->keys[i], depth + 1);
            tb_puts(c, b, ": ");
            tv_repr(c, b, v->u.dict->vals[i], depth + 1);
        }
        tb_puts(c, b, "}");
        return;
    }
    default: tv_to_str(c, b, v); return;
    }
}

void tv_to_str(tmpl_ctx *c, tmpl_buf *b, const tmpl_value *v) {
    char tmp[64];
    switch (v->kind) {
    case TV_UNDEFINED: return;
    case TV_NONE: tb_puts(c, b, "None"); return;
    case TV_BOOL: tb_puts(c, b, v->u.b ? "True" : "False"); return;
    case TV_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)v->u.i);
        tb_puts(c, b, tmp);
        return;
    case TV_FLOAT:
        tv_format_float(v->u.f, tmp, sizeof tmp);
        tb_puts(c, b, tmp);
        return;
    case TV_STRING: tb_put(c, b, v->u.str.s, v->u.str.len); return;
    case TV_LIST:
    case TV_DICT: tv_repr(c, b, v, 0); return;
    case TV_NAMESPACE: tb_puts(c, b, "<Namespace>"); return;
    case TV_MACRO: tb_puts(c, b, "<Macro>"); return;
    case TV_FUNC: tb_puts(c, b, "<function>"); return;
    case TV_METHOD: tb_puts(c, b, "<method>"); return;
    case TV_LOOP: tb_puts(c, b, "<LoopContext>"); return;
    }
}

tmpl_str tv_str_of(tmpl_ctx *c, const tmpl_value *v) {
    if (v->kind == TV_STRING)
        return v->u.str;
    tmpl_buf b = {0};
    tv_to_str(c, &b, v);
    return (tmpl_str){b.s ? b.s : "", b.len};
}

size_t tv_utf8_next(const char *s, size_t len, size_t at) {
    unsigned char ch = (unsigned char)s[at];
    size_t n = ch < 0x80 ? 1 : ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : ch >= 0xC0 ? 2 : 1;
    if (at + n > len)
        return at + 1;
    for (size_t k = 1; k < n; k++)
        if (((unsigned char)s[at + k] & 0xC0) != 0x80)
            return at + 1; /* an invalid byte counts as one character */
    return at + n;
}

size_t tv_utf8_len(const char *s, size_t len) {
    size_t n = 0;
    for (size_t at = 0; at < len; at = tv_utf8_next(s, len, at))
        n++;
    return n;
}
