/*
 * hfjson.c — reads tokenizer.json (and vocab.json) fast: the two big members, model.vocab (an
 * object of token -> id) and model.merges (an array of "a b" strings or ["a", "b"] pairs), are
 * scanned here straight into flat string tables; every other member is handed to jansson as its
 * own small document. Jansson alone needs about 1.5 s and 450,000 allocations for Qwen3's 11 MB
 * file on the test machine, which made loading a tokenizer slower than loading a small model.
 * Not here: what the members mean (load.c and the stage files).
 *
 * The scanner accepts exactly JSON (RFC 8259) in the parts it reads: strings with all escapes
 * (surrogate pairs joined, lone surrogates refused), integers for ids, nested values skipped with
 * strings respected. Errors name the file, the byte offset and what was expected.
 */
#include "tokenizer/tokenizer.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct scan {
    const char *s;
    size_t n, i;
    const char *name;
} scan;

static vkg_status bad(const scan *c, const char *what) {
    return vkg_fail(VKG_ERROR_TOKENIZER, "%s: byte %zu: %s", c->name, c->i, what);
}

static void ws(scan *c) {
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\n' || c->s[c->i] == '\r' ||
                           c->s[c->i] == '\t'))
        c->i++;
}

static bool eat(scan *c, char ch) {
    ws(c);
    if (c->i < c->n && c->s[c->i] == ch) {
        c->i++;
        return true;
    }
    return false;
}

static int hex4(const char *p) {
    int v = 0;
    for (int k = 0; k < 4; k++) {
        char h = p[k];
        int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* A string at c->i (after whitespace), appended unescaped to `out` with a NUL after it;
 * *len is its length. */
static vkg_status string(scan *c, vkg_tok_buf *out, uint32_t *len) {
    ws(c);
    if (c->i >= c->n || c->s[c->i] != '"')
        return bad(c, "expected a string");
    c->i++;
    size_t start = out->len;
    for (;;) {
        size_t run = c->i;
        while (c->i < c->n && c->s[c->i] != '"' && c->s[c->i] != '\\' &&
               (unsigned char)c->s[c->i] >= 0x20)
            c->i++;
        VKG_TRY(vkg_tok_buf_put(out, c->s + run, c->i - run));
        if (c->i >= c->n)
            return bad(c, "unterminated string");
        char ch = c->s[c->i];
        if (ch == '"') {
            c->i++;
            break;
        }
        if (ch != '\\')
            return bad(c, "control character in a string");
        if (c->i + 1 >= c->n)
            return bad(c, "unterminated string");
        char e = c->s[c->i + 1], u[4];
        c->i += 2;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char to[] = "\"\\/\b\f\n\r\t";
            VKG_TRY(vkg_tok_buf_put(out, &to[simple - "\"\\/bfnrt"], 1));
            continue;
        }
        if (e != 'u' || c->i + 4 > c->n || hex4(c->s + c->i) < 0)
            return bad(c, "bad escape in a string");
        uint32_t cp = (uint32_t)hex4(c->s + c->i);
        c->i += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return bad(c, "lone low surrogate in a string");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            int lo = c->i + 6 <= c->n && c->s[c->i] == '\\' && c->s[c->i + 1] == 'u'
                         ? hex4(c->s + c->i + 2) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return bad(c, "lone high surrogate in a string");
            cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
            c->i += 6;
        }
        VKG_TRY(vkg_tok_buf_put(out, u, vkg_tok_utf8_put(cp, u)));
    }
    if (out->len - start >= UINT32_MAX)
        return bad(c, "string too long");
    *len = (uint32_t)(out->len - start);
    out->len++; /* keep the NUL */
    return VKG_OK;
}

/* Skips one value; [*a, *b) is its span. */
static vkg_status skip(scan *c, size_t *a, size_t *b) {
    ws(c);
    *a = c->i;
    size_t depth = 0;
    do {
        if (c->i >= c->n)
            return bad(c, "unexpected end of the file");
        char ch = c->s[c->i];
        if (ch == '"') {
            for (c->i++; c->i < c->n && c->s[c->i] != '"'; c->i++)
                if (c->s[c->i] == '\\')
                    c->i++;
            if (c->i >= c->n)
                return bad(c, "unterminated string");
            c->i++;
        } else if (ch == '{' || ch == '[') {
            depth++;
            c->i++;
        } else if (ch == '}' || ch == ']') {
            if (depth == 0)
                return bad(c, "expected a value");
            depth--;
            c->i++;
        } else if (depth == 0) { /* a number or literal: up to the next delimiter */
            while (c->i < c->n && !strchr(",}] \t\r\n", c->s[c->i]))
                c->i++;
            if (c->i == *a)
                return bad(c, "expected a value");
        } else {
            c->i++;
        }
    } while (depth > 0);
    *b = c->i;
    return VKG_OK;
}

static vkg_status table_add(vkg_tok_table *t, uint32_t off, uint32_t len, int64_t id) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 1024;
        uint32_t *o = realloc(t->off, cap * sizeof *o);
        if (o)
            t->off = o;
        uint32_t *l = realloc(t->len, cap * sizeof *l);
        if (l)
            t->len = l;
        int64_t *d = realloc(t->id, cap * sizeof *d);
        if (d)
            t->id = d;
        if (!o || !l || !d)
            return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
        t->cap = cap;
    }
    t->off[t->n] = off;
    t->len[t->n] = len;
    t->id[t->n++] = id;
    return VKG_OK;
}

static vkg_status put_string(scan *c, vkg_tok_table *t, int64_t id) {
    uint32_t off = (uint32_t)t->arena.len, len;
    if (t->arena.len >= UINT32_MAX / 2)
        return bad(c, "strings exceed 2 GiB");
    VKG_TRY(string(c, &t->arena, &len));
    return table_add(t, off, len, id);
}

/* An object of string -> integer. */
static vkg_status vocab(scan *c, vkg_tok_table *t) {
    if (!eat(c, '{'))
        return bad(c, "the vocabulary is not a JSON object of token -> id");
    if (eat(c, '}'))
        return VKG_OK;
    do {
        uint32_t off = (uint32_t)t->arena.len, len;
        VKG_TRY(string(c, &t->arena, &len));
        if (!eat(c, ':'))
            return bad(c, "expected ':'");
        ws(c);
        size_t start = c->i;
        bool neg = c->i < c->n && c->s[c->i] == '-';
        c->i += neg;
        int64_t v = 0;
        while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9' && v < ((int64_t)1 << 40))
            v = v * 10 + (c->s[c->i++] - '0');
        if (c->i == start + neg || (c->i < c->n && strchr(".eE0123456789", c->s[c->i]))) {
            c->i = start;
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: byte %zu: entry \"%.64s\": the id is not an "
                            "integer", c->name, start, t->arena.p + off);
        }
        VKG_TRY(table_add(t, off, len, neg ? -v : v));
    } while (eat(c, ','));
    if (!eat(c, '}'))
        return bad(c, "expected ',' or '}'");
    return VKG_OK;
}

/* An array of "a b" strings or ["a", "b"] pairs; each becomes two entries (a, b) of the table
 * (a string that is not "a b" is entered whole with id -1, for load.c to report). */
static vkg_status merges(scan *c, vkg_tok_table *t) {
    if (!eat(c, '['))
        return bad(c, "expected an array");
    if (eat(c, ']'))
        return VKG_OK;
    int64_t i = 0;
    do {
        ws(c);
        bool pair = c->i < c->n && c->s[c->i] == '[';
        if ((!pair && (c->i >= c->n || c->s[c->i] != '"')) ||
            (pair && (!eat(c, '[') || put_string(c, t, i) || !eat(c, ',') ||
                      put_string(c, t, i) || !eat(c, ']'))))
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: model.merges[%lld] (byte %zu): expected a "
                            "\"left right\" string or a [left, right] pair", c->name, (long long)i,
                            c->i);
        if (!pair) {
            uint32_t off = (uint32_t)t->arena.len, len;
            VKG_TRY(string(c, &t->arena, &len));
            const char *s = t->arena.p + off, *sp = memchr(s, ' ', len);
            if (!sp || sp == s || sp == s + len - 1 || memchr(sp + 1, ' ', (size_t)(s + len - sp - 1))) {
                VKG_TRY(table_add(t, off, len, -1 - i));
                VKG_TRY(table_add(t, off, len, -1 - i));
            } else {
                uint32_t left = (uint32_t)(sp - s);
                t->arena.p[off + left] = '\0';
                VKG_TRY(table_add(t, off, left, i));
                VKG_TRY(table_add(t, off + left + 1, len - left - 1, i));
            }
        }
        i++;
    } while (eat(c, ','));
    if (!eat(c, ']'))
        return bad(c, "expected ',' or ']'");
    return VKG_OK;
}

/* One member value through jansson, set as obj[key]. */
static vkg_status member(scan *c, json_t *obj, const char *key) {
    size_t a = 0, b = 0;
    VKG_TRY(skip(c, &a, &b));
    json_error_t e;
    json_t *v = json_loadb(c->s + a, b - a, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
    if (!v)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: \"%s\" (bytes %zu..%zu): %s", c->name, key, a, b,
                        e.text);
    if (json_object_get(obj, key)) {
        json_decref(v);
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: \"%s\" appears twice", c->name, key);
    }
    if (json_object_set_new(obj, key, v))
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    return VKG_OK;
}

/* An object whose members go to jansson, except those `fast` takes (returns true for). */
typedef vkg_status (*fast_fn)(scan *c, const char *key, json_t *obj, void *ctx, bool *taken);

static vkg_status object(scan *c, json_t *obj, fast_fn fast, void *ctx) {
    if (!eat(c, '{'))
        return bad(c, "expected an object");
    if (eat(c, '}'))
        return VKG_OK;
    vkg_tok_buf key = {0};
    vkg_status st = VKG_OK;
    do {
        uint32_t len;
        key.len = 0;
        if ((st = string(c, &key, &len)))
            break;
        if (!eat(c, ':')) {
            st = bad(c, "expected ':'");
            break;
        }
        bool taken = false;
        if (fast && (st = fast(c, key.p, obj, ctx, &taken)))
            break;
        if (!taken && (st = member(c, obj, key.p)))
            break;
    } while (eat(c, ','));
    free(key.p);
    VKG_TRY(st);
    if (!eat(c, '}'))
        return bad(c, "expected ',' or '}'");
    return VKG_OK;
}

typedef struct tables {
    vkg_tok_table *vocab, *merges;
    bool seen_vocab, seen_merges;
} tables;

static vkg_status model_fast(scan *c, const char *key, json_t *obj, void *ctx, bool *taken) {
    (void)obj;
    tables *t = ctx;
    ws(c);
    char next = c->i < c->n ? c->s[c->i] : 0;
    if (!strcmp(key, "vocab") && next == '{' && !t->seen_vocab) {
        t->seen_vocab = *taken = true;
        return vocab(c, t->vocab);
    }
    if (!strcmp(key, "merges") && next == '[' && !t->seen_merges) {
        t->seen_merges = *taken = true;
        return merges(c, t->merges);
    }
    return VKG_OK;
}

static vkg_status root_fast(scan *c, const char *key, json_t *obj, void *ctx, bool *taken) {
    ws(c);
    if (strcmp(key, "model") || c->i >= c->n || c->s[c->i] != '{')
        return VKG_OK;
    if (json_object_get(obj, "model"))
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: \"model\" appears twice", c->name);
    json_t *model = json_object();
    if (!model || json_object_set_new(obj, "model", model))
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    *taken = true;
    return object(c, model, model_fast, ctx);
}

static vkg_status end(scan *c) {
    ws(c);
    return c->i == c->n ? VKG_OK : bad(c, "text after the JSON value");
}

vkg_status vkg_tok_hfjson_read(const char *json, size_t len, const char *name, json_t **root,
                               vkg_tok_table *vocab_t, vkg_tok_table *merges_t, bool *has_vocab,
                               bool *has_merges) {
    scan c = {.s = json ? json : "", .n = len, .name = name};
    tables t = {.vocab = vocab_t, .merges = merges_t};
    if (!(*root = json_object()))
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    VKG_TRY(object(&c, *root, root_fast, &t));
    *has_vocab = t.seen_vocab;
    *has_merges = t.seen_merges;
    return end(&c);
}

vkg_status vkg_tok_vocab_read(const char *json, size_t len, const char *name, vkg_tok_table *t) {
    scan c = {.s = json ? json : "", .n = len, .name = name};
    VKG_TRY(vocab(&c, t));
    return end(&c);
}

void vkg_tok_table_free(vkg_tok_table *t) {
    free(t->arena.p);
    free(t->off);
    free(t->len);
    free(t->id);
    *t = (vkg_tok_table){0};
}

vkg_status vkg_tok_table_add(vkg_tok_table *t, const char *s, size_t n, int64_t id) {
    if (t->arena.len + n + 1 >= UINT32_MAX / 2)
        return vkg_fail(VKG_ERROR_TOKENIZER, "tokenizer strings exceed 2 GiB");
    uint32_t off = (uint32_t)t->arena.len;
    VKG_TRY(vkg_tok_buf_put(&t->arena, s, n));
    VKG_TRY(vkg_tok_buf_put(&t->arena, "", 1)); /* the NUL the table promises */
    return table_add(t, off, (uint32_t)n, id);
}
