/*
 * json.c — JSON in and out of template values: the input variables (jansson's tree to values) and
 * the `tojson` filter, which is Python's json.dumps(x, ensure_ascii=False, indent=..., separators=...,
 * sort_keys=...) as transformers installs it (no HTML escaping; floats in Python's repr; NaN and
 * Infinity spelled as Python spells them). Not here: the filter's argument handling (filters.c).
 */
#include "template/template.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Python's json module and recursion limit stop near here too. */
#define MAX_JSON_DEPTH 1000

tmpl_value *tv_from_json(tmpl_ctx *c, json_t *j, int depth) {
    if (depth > MAX_JSON_DEPTH)
        tmpl_raise(c, NULL, VKG_ERROR_TEMPLATE, "input JSON nested more than %d levels deep", MAX_JSON_DEPTH);
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        tmpl_value *d = tv_dict(c);
        const char *key;
        json_t *val;
        /* jansson keeps insertion order (since 2.8); Python's json.loads does too. */
        json_object_foreach(j, key, val) {
            tmpl_value *k = tv_strz(c, key);
            tmpl_value *v = tv_from_json(c, val, depth + 1);
            tmpl_dict *dd = d->u.dict;
            if (dd->n == dd->cap) { /* keys are unique already: append without searching */
                size_t cap = dd->cap ? dd->cap * 2 : 8;
                tmpl_value **keys = tv_alloc(c, cap * sizeof *keys), **vals = tv_alloc(c, cap * sizeof *vals);
                if (dd->n) {
                    memcpy(keys, dd->keys, dd->n * sizeof *keys);
                    memcpy(vals, dd->vals, dd->n * sizeof *vals);
                }
                dd->keys = keys;
                dd->vals = vals;
                dd->cap = cap;
            }
            dd->keys[dd->n] = k;
            dd->vals[dd->n++] = v;
        }
        return d;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        tmpl_value *l = tv_list(c, n);
        for (size_t k = 0; k < n; k++)
            l->u.list.items[k] = tv_from_json(c, json_array_get(j, k), depth + 1);
        return l;
    }
    case JSON_STRING: return tv_str(c, json_string_value(j), json_string_length(j));
    case JSON_INTEGER: return tv_int(c, (int64_t)json_integer_value(j));
    case JSON_REAL: return tv_float(c, json_real_value(j));
    case JSON_TRUE: return tv_bool(c, true);
    case JSON_FALSE: return tv_bool(c, false);
    default: return tv_none();
    }
}

static void dump_string(tmpl_ctx *c, tmpl_buf *b, const char *s, size_t len) {
    tb_put(c, b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        switch (ch) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (ch < 0x20) {
                snprintf(u, sizeof u, "\\u%04x", ch);
                esc = u;
            }
        }
        if (esc) {
            tb_put(c, b, s + run, i - run);
            tb_puts(c, b, esc);
            run = i + 1;
        }
    }
    tb_put(c, b, s + run, len - run);
    tb_put(c, b, "\"", 1);
}

static void newline_indent(tmpl_ctx *c, tmpl_buf *b, const char *indent, int indent_len, int level) {
    tb_put(c, b, "\n", 1);
    for (int k = 0; k < level; k++)
        tb_put(c, b, indent, (size_t)indent_len);
}

static void scalar(tmpl_ctx *c, const tmpl_node *at, tmpl_buf *b, const tmpl_value *v, bool as_key) {
    char tmp[64];
    switch (v->kind) {
    case TV_NONE: tb_puts(c, b, as_key ? "\"null\"" : "null"); return;
    case TV_BOOL: tb_puts(c, b, as_key ? (v->u.b ? "\"true\"" : "\"false\"") : (v->u.b ? "true" : "false")); return;
    case TV_INT: snprintf(tmp, sizeof tmp, as_key ? "\"%lld\"" : "%lld", (long long)v->u.i); tb_puts(c, b, tmp); return;
    case TV_FLOAT: {
        char f[48];
        if (isnan(v->u.f))
            snprintf(f, sizeof f, "NaN");
        else if (isinf(v->u.f))
            snprintf(f, sizeof f, v->u.f < 0 ? "-Infinity" : "Infinity");
        else
            tv_format_float(v->u.f, f, sizeof f);
        snprintf(tmp, sizeof tmp, as_key ? "\"%s\"" : "%s", f);
        tb_puts(c, b, tmp);
        return;
    }
    case TV_STRING: dump_string(c, b, v->u.str.s, v->u.str.len); return;
    default:
        if (as_key)
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "keys must be str, int, float, bool or None, not %s",
                       tv_type_name(v));
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "Object of type %s is not JSON serializable", tv_type_name(v));
    }
}

/* Key order for sort_keys: Python sorts the keys themselves (all strings in practice). */
static _Thread_local tmpl_ctx *sort_ctx;
static int key_cmp(const void *x, const void *y) {
    const tmpl_value *a = *(tmpl_value *const *)x, *b = *(tmpl_value *const *)y;
    return tv_compare(sort_ctx, NULL, a, b);
}

void tv_tojson(tmpl_ctx *c, const tmpl_node *at, tmpl_buf *b, const tmpl_value *v, const char *indent,
               int indent_len, const char *item_sep, const char *key_sep, bool sort_keys, int level) {
    if (level > MAX_JSON_DEPTH)
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "tojson: value nested more than %d levels deep", MAX_JSON_DEPTH);
    tmpl_step(c, at);
    if (v->kind == TV_LIST) {
        if (v->u.list.n == 0) {
            tb_puts(c, b, "[]");
            return;
        }
        tb_puts(c, b, "[");
        for (size_t k = 0; k < v->u.list.n; k++) {
            if (k)
                tb_puts(c, b, item_sep);
            if (indent)
                newline_indent(c, b, indent, indent_len, level + 1);
            tv_tojson(c, at, b, v->u.list.items[k], indent, indent_len, item_sep, key_sep, sort_keys, level + 1);
        }
        if (indent)
            newline_indent(c, b, indent, indent_len, level);
        tb_puts(c, b, "]");
        return;
    }
    if (v->kind == TV_DICT) {
        const tmpl_dict *d = v->u.dict;
        if (d->n == 0) {
            tb_puts(c, b, "{}");
            return;
        }
        size_t *order = tv_alloc(c, d->n * sizeof *order);
        for (size_t k = 0; k < d->n; k++)
            order[k] = k;
        if (sort_keys) {
            tmpl_value **keys = tv_alloc(c, d->n * sizeof *keys);
            memcpy(keys, d->keys, d->n * sizeof *keys);
            /* qsort cannot carry a context: the comparison may raise, which longjmps out of it
             * (safe: qsort holds no resources), so the static is only read during this call. */
            sort_ctx = c;
            qsort(keys, d->n, sizeof *keys, key_cmp);
            for (size_t k = 0; k < d->n; k++)
                for (size_t m = 0; m < d->n; m++)
                    if (d->keys[m] == keys[k])
                        order[k] = m;
        }
        tb_puts(c, b, "{");
        for (size_t k = 0; k < d->n; k++) {
            if (k)
                tb_puts(c, b, item_sep);
            if (indent)
                newline_indent(c, b, indent, indent_len, level + 1);
            scalar(c, at, b, d->keys[order[k]], true);
            tb_puts(c, b, key_sep);
            tv_tojson(c, at, b, d->vals[order[k]], indent, indent_len, item_sep, key_sep, sort_keys, level + 1);
        }
        if (indent)
            newline_indent(c, b, indent, indent_len, level);
        tb_puts(c, b, "}");
        return;
    }
    scalar(c, at, b, v, false);
}
