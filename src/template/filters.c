/*
 * filters.c — Jinja's built-in filters and tests that chat templates use, with Jinja 3.1's
 * semantics (jinja2/filters.py, jinja2/tests.py): `sort` and `unique` ignore case unless told,
 * `round` rounds half to even as Python's round() does, `tojson` is transformers' json.dumps with
 * ensure_ascii=False, `title` splits words at whitespace, '-', and opening brackets.
 * Not here: string and dict methods ("x".strip(), d.items()) and globals (methods.c).
 */
#include "template/template.h"
#include "template/text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef tmpl_value *(*filter_fn)(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a);

static tmpl_value *arg(const tmpl_args *a, size_t i, const char *name) { return targ(a, i, name); }

static bool arg_true(const tmpl_args *a, size_t i, const char *name) {
    tmpl_value *v = arg(a, i, name);
    return v && tv_truthy(v);
}

static tmpl_str need_str(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const char *what) {
    if (!v || v->kind != TV_STRING)
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "%s must be a string, not %s", what, v ? tv_type_name(v) : "nothing");
    return v->u.str;
}

/* Sequence items for filters that iterate (undefined iterates as empty). */
static tmpl_value **items_of(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, size_t *n) {
    return tmpl_iterate(c, at, v, n);
}

static tmpl_value *list_of(tmpl_ctx *c, tmpl_value **items, size_t n) {
    tmpl_value *l = tv_list(c, n);
    if (n)
        memcpy(l->u.list.items, items, n * sizeof *items);
    return l;
}

/* `attribute="a.b.0"`: Jinja's make_attrgetter, item lookups along the dotted path. */
static tmpl_value *attr_path(tmpl_ctx *c, const tmpl_node *at, tmpl_value *item, tmpl_value *path) {
    if (path->kind == TV_INT)
        return tmpl_getitem(c, at, item, path);
    tmpl_str p = need_str(c, at, path, "attribute");
    size_t start = 0;
    for (size_t i = 0; i <= p.len; i++) {
        if (i < p.len && p.s[i] != '.')
            continue;
        tmpl_value *key;
        bool digits = i > start;
        for (size_t k = start; k < i; k++)
            digits &= p.s[k] >= '0' && p.s[k] <= '9';
        if (digits && i - start < 18)
            key = tv_int(c, strtoll(p.s + start, NULL, 10));
        else
            key = tv_str(c, p.s + start, i - start);
        item = tmpl_getitem(c, at, item, key);
        start = i + 1;
    }
    return item;
}

static tmpl_value *ci_key(tmpl_ctx *c, tmpl_value *v, bool case_sensitive) {
    if (!case_sensitive && v->kind == TV_STRING)
        return tt_map_case(c, v->u.str, TT_LOWER);
    return v;
}

/* Stable merge sort (Python's sort is stable); the comparison may raise. */
static void merge_sort(tmpl_ctx *c, const tmpl_node *at, tmpl_value **keys, size_t *idx, size_t *tmp, size_t n,
                       bool reverse) {
    if (n < 2)
        return;
    size_t h = n / 2;
    merge_sort(c, at, keys, idx, tmp, h, reverse);
    merge_sort(c, at, keys, idx + h, tmp, n - h, reverse);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        tmpl_step(c, at);
        int r = tv_compare(c, at, keys[idx[j]], keys[idx[i]]);
        if (reverse ? r > 0 : r < 0)
            tmp[k++] = idx[j++];
        else
            tmp[k++] = idx[i++];
    }
    while (i < h)
        tmp[k++] = idx[i++];
    while (j < n)
        tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof *idx);
}

static size_t *sorted_order(tmpl_ctx *c, const tmpl_node *at, tmpl_value **keys, size_t n, bool reverse) {
    size_t *idx = tv_alloc(c, (n ? n : 1) * sizeof *idx), *tmp = tv_alloc(c, (n ? n : 1) * sizeof *tmp);
    for (size_t k = 0; k < n; k++)
        idx[k] = k;
    merge_sort(c, at, keys, idx, tmp, n, reverse);
    return idx;
}

static tmpl_value *f_sort(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    size_t n;
    tmpl_value **items = items_of(c, at, v, &n);
    bool reverse = arg_true(a, 0, "reverse"), cs = arg_true(a, 1, "case_sensitive");
    tmpl_value *attr = arg(a, 2, "attribute");
    tmpl_value **keys = tv_alloc(c, (n ? n : 1) * sizeof *keys);
    for (size_t k = 0; k < n; k++)
        keys[k] = ci_key(c, attr && attr->kind != TV_NONE ? attr_path(c, at, items[k], attr) : items[k], cs);
    size_t *idx = sorted_order(c, at, keys, n, reverse);
    tmpl_value *r = tv_list(c, n);
    for (size_t k = 0; k < n; k++)
        r->u.list.items[k] = items[idx[k]];
    return r;
}

static tmpl_value *pair(tmpl_ctx *c, tmpl_value *k, tmpl_value *v) {
    tmpl_value *t = tv_list(c, 2);
    t->is_tuple = true;
    t->u.list.items[0] = k;
    t->u.list.items[1] = v;
    return t;
}

static tmpl_value *f_dictsort(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    if (v->kind != TV_DICT)
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "dictsort: '%s' object has no attribute 'items'", tv_type_name(v));
    bool cs = arg_true(a, 0, "case_sensitive"), reverse = arg_true(a, 2, "reverse");
    tmpl_value *by = arg(a, 1, "by");
    bool by_value = false;
    if (by) {
        tmpl_str b = need_str(c, at, by, "dictsort's 'by'");
        if (b.len == 5 && !memcmp(b.s, "value", 5))
            by_value = true;
        else if (!(b.len == 3 && !memcmp(b.s, "key", 3)))
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "You can only sort by either \"key\" or \"value\"");
    }
    size_t n = v->u.dict->n;
    tmpl_value **keys = tv_alloc(c, (n ? n : 1) * sizeof *keys);
    for (size_t k = 0; k < n; k++)
        keys[k] = ci_key(c, by_value ? v->u.dict->vals[k] : v->u.dict->keys[k], cs);
    size_t *idx = sorted_order(c, at, keys, n, reverse);
    tmpl_value *r = tv_list(c, n);
    for (size_t k = 0; k < n; k++)
        r->u.list.items[k] = pair(c, v->u.dict->keys[idx[k]], v->u.dict->vals[idx[k]]);
    return r;
}

static tmpl_value *f_items(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    (void)a;
    if (v->kind == TV_UNDEFINED)
        return tv_list(c, 0);
    if (v->kind != TV_DICT)
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "Can only get item pairs from a mapping.");
    tmpl_value *r = tv_list(c, v->u.dict->n);
    for (size_t k = 0; k < v->u.dict->n; k++)
        r->u.list.items[k] = pair(c, v->u.dict->keys[k], v->u.dict->vals[k]);
    return r;
}

static tmpl_value *f_unique(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    size_t n;
    tmpl_value **items = items_of(c, at, v, &n);
    bool cs = arg_true(a, 0, "case_sensitive");
    tmpl_value *attr = arg(a, 1, "attribute");
    tmpl_value **seen = tv_alloc(c, (n ? n : 1) * sizeof *seen), **out = tv_alloc(c, (n ? n : 1) * sizeof *out);
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        tmpl_value *key = ci_key(c, attr && attr->kind != TV_NONE ? attr_path(c, at, items[k], attr) : items[k], cs);
        if ((key->kind == TV_LIST && !key->is_tuple) || key->kind == TV_DICT || key->kind == TV_NAMESPACE)
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "unhashable type: '%s'", tv_type_name(key)); /* Python's set */
        bool dup = false;
        for (size_t j = 0; j < m && !dup; j++) {
            tmpl_step(c, at);
            dup = tv_equal(c, seen[j], key);
        }
        if (!dup) {
            seen[m] = key;
            out[m++] = items[k];
        }
    }
    return list_of(c, out, m);
}

static tmpl_value *f_length(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    (void)a;
    switch (v->kind) {
    case TV_UNDEFINED: return tv_int(c, 0);
    case TV_STRING: return tv_int(c, (int64_t)tv_utf8_len(v->u.str.s, v->u.str.len));
    case TV_LIST: return tv_int(c, (int64_t)v->u.list.n);
    case TV_DICT: return tv_int(c, (int64_t)v->u.dict->n);
    case TV_LOOP: return tv_int(c, v->u.loop.length);
    default: tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "object of type '%s' has no len()", tv_type_name(v));
    }
}

static tmpl_value *f_string(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    (void)at, (void)a;
    if (v->kind == TV_STRING)
        return v;
    tmpl_str s = tv_str_of(c, v);
    return tv_str(c, s.s, s.len);
}

static tmpl_value *f_trim(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    tmpl_value *chars = arg(a, 0, "chars");
    tmpl_str cs = {0};
    if (chars && chars->kind != TV_NONE)
        cs = need_str(c, at, chars, "trim's chars");
    return tt_strip(c, tv_str_of(c, v), chars && chars->kind != TV_NONE ? &cs : NULL, true, true);
}

static tmpl_value *f_upper(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    (void)at, (void)a;
    return tt_map_case(c, tv_str_of(c, v), TT_UPPER);
}
static tmpl_value *f_lower(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    (void)at, (void)a;
    return tt_map_case(c, tv_str_of(c, v), TT_LOWER);
}

/* str.capitalize(): the first character in title case, the rest in lower case. */
tmpl_value *tmpl_capitalize(tmpl_ctx *c, tmpl_str s);
tmpl_value *tmpl_capitalize(tmpl_ctx *c, tmpl_str s) {
    tmpl_buf b = {0};
    bool first = true;
    for (size_t at = 0; at < s.len;) {
        char o[4];
        uint32_t cp = tt_decode(s.s, s.len, &at);
        tb_put(c, &b, o, tt_encode(tt_case(cp, first ? TT_TITLE : TT_LOWER), o));
        first = false;
    }
    return tt_buf_value(c, &b);
}

static tmpl_value *f_capitalize(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    (void)at, (void)a;
    return tmpl_capitalize(c, tv_str_of(c, v));
}

/* Jinja's title: words start after whitespace, '-', '(', '{', '[' or '<'; each word's first
 * character upper-cased, the rest lower-cased. */
static tmpl_value *f_title(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    (void)at, (void)a;
    tmpl_str s = tv_str_of(c, v);
    tmpl_buf b = {0};
    bool word_start = true;
    for (size_t i = 0; i < s.len;) {
        char o[4];
        uint32_t cp = tt_decode(s.s, s.len, &i);
        bool sep = tt_is_space(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
        tb_put(c, &b, o, tt_encode(sep ? cp : tt_case(cp, word_start ? TT_UPPER : TT_LOWER), o));
        word_start = sep;
    }
    return tt_buf_value(c, &b);
}

/* str.replace(old, new[, count]), shared with the method. */
tmpl_value *tmpl_replace(tmpl_ctx *c, const tmpl_node *at, tmpl_str s, tmpl_value *old, tmpl_value *new_,
                         tmpl_value *count);
tmpl_value *tmpl_replace(tmpl_ctx *c, const tmpl_node *at, tmpl_str s, tmpl_value *old, tmpl_value *new_,
                         tmpl_value *count) {
    tmpl_str o = need_str(c, at, old, "replace's old"), nw = need_str(c, at, new_, "replace's new");
    int64_t max = count && count->kind == TV_INT ? count->u.i : -1;
    tmpl_buf b = {0};
    tb_put(c, &b, "", 0);
    size_t i = 0;
    int64_t done = 0;
    if (o.len == 0) { /* Python inserts `new` between every character and at both ends */
        for (;;) {
            if (max >= 0 && done >= max)
                break;
            tb_put(c, &b, nw.s, nw.len);
            done++;
            if (i >= s.len)
                break;
            size_t nx = tv_utf8_next(s.s, s.len, i);
            tb_put(c, &b, s.s + i, nx - i);
            i = nx;
        }
        tb_put(c, &b, s.s + i, s.len - i);
        return tt_buf_value(c, &b);
    }
    while (i + o.len <= s.len && (max < 0 || done < max)) {
        const char *hit = NULL;
        for (size_t k = i; k + o.len <= s.len; k++)
            if (s.s[k] == o.s[0] && !memcmp(s.s + k, o.s, o.len)) {
                hit = s.s + k;
                break;
            }
        if (!hit)
            break;
        tb_put(c, &b, s.s + i, (size_t)(hit - (s.s + i)));
        tb_put(c, &b, nw.s, nw.len);
        i = (size_t)(hit - s.s) + o.len;
        done++;
    }
    tb_put(c, &b, s.s + i, s.len - i);
    return tt_buf_value(c, &b);
}

static tmpl_value *f_replace(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    tmpl_value *old = arg(a, 0, "old"), *nw = arg(a, 1, "new");
    return tmpl_replace(c, at, tv_str_of(c, v), old, nw, arg(a, 2, "count"));
}

static tmpl_value *f_default(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    (void)at;
    tmpl_value *d = arg(a, 0, "default_value");
    bool boolean = arg_true(a, 1, "boolean");
    if (v->kind == TV_UNDEFINED || (boolean && !tv_truthy(v)))
        return d ? d : tv_str(c, "", 0);
    return v;
}

static tmpl_value *f_join(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    size_t n;
    tmpl_value **items = items_of(c, at, v, &n);
    tmpl_value *sep = arg(a, 0, "d"), *attr = arg(a, 1, "attribute");
    tmpl_str s = sep ? tv_str_of(c, sep) : (tmpl_str){"", 0};
    tmpl_buf b = {0};
    tb_put(c, &b, "", 0);
    for (size_t k = 0; k < n; k++) {
        tmpl_step(c, at);
        if (k)
            tb_put(c, &b, s.s, s.len);
        tv_to_str(c, &b, attr ? attr_path(c, at, items[k], attr) : items[k]);
    }
    return tt_buf_value(c, &b);
}

static tmpl_value *f_first(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    (void)a;
    size_t n;
    tmpl_value **items = items_of(c, at, v, &n);
    return n ? items[0] : tv_undef(c, "first item");
}

static tmpl_value *f_last(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    (void)a;
    size_t n;
    tmpl_value **items = items_of(c, at, v, &n);
    return n ? items[n - 1] : tv_undef(c, "last item");
}

static tmpl_value *f_reverse(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    (void)a;
    size_t n;
    tmpl_value **items = items_of(c, at, v, &n);
    if (v->kind == TV_STRING) {
        tmpl_buf b = {0};
        tb_put(c, &b, "", 0);
        for (size_t k = n; k-- > 0;)
            tb_put(c, &b, items[k]->u.str.s, items[k]->u.str.len);
        return tt_buf_value(c, &b);
    }
    tmpl_value *r = tv_list(c, n);
    for (size_t k = 0; k < n; k++)
        r->u.list.items[k] = items[n - 1 - k];
    return r;
}

static tmpl_value *f_list(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    (void)a;
    size_t n;
    tmpl_value **items = items_of(c, at, v, &n);
    return list_of(c, items, n);
}

static tmpl_value *f_map(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    size_t n = 0;
    tmpl_value **items = tv_truthy(v) ? items_of(c, at, v, &n) : NULL; /* Jinja: `if value:` first */
    tmpl_value *attr = targ(&(tmpl_args){.kw_names = a->kw_names, .kw = a->kw, .n_kw = a->n_kw}, 99, "attribute");
    tmpl_value *r = tv_list(c, n);
    if (attr) {
        tmpl_value *dflt = targ(&(tmpl_args){.kw_names = a->kw_names, .kw = a->kw, .n_kw = a->n_kw}, 99, "default");
        for (size_t k = 0; k < n; k++) {
            tmpl_value *x = attr_path(c, at, items[k], attr);
            r->u.list.items[k] = x->kind == TV_UNDEFINED && dflt ? dflt : x;
        }
        return r;
    }
    if (a->n_pos < 1)
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "map requires a filter argument");
    tmpl_str name = need_str(c, at, a->pos[0], "map's filter name");
    char fname[64];
    snprintf(fname, sizeof fname, "%.*s", (int)(name.len < 63 ? name.len : 63), name.s);
    tmpl_args rest = {.pos = a->pos + 1, .n_pos = a->n_pos - 1, .kw_names = a->kw_names, .kw = a->kw, .n_kw = a->n_kw};
    for (size_t k = 0; k < n; k++)
        r->u.list.items[k] = tmpl_filter(c, at, fname, items[k], &rest);
    return r;
}

/* select/reject/selectattr/rejectattr: `attr` says whether the first argument is an attribute path. */
static tmpl_value *select_common(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a, bool attr,
                                 bool keep) {
    size_t n = 0;
    tmpl_value **items = tv_truthy(v) ? items_of(c, at, v, &n) : NULL; /* Jinja: `if value:` first */
    size_t first = attr ? 1 : 0;
    if (attr && a->n_pos < 1)
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "missing parameter for attribute name");
    char tname[64] = "";
    if (a->n_pos > first) {
        tmpl_str t = need_str(c, at, a->pos[first], "the test name");
        snprintf(tname, sizeof tname, "%.*s", (int)(t.len < 63 ? t.len : 63), t.s);
    }
    bool more = a->n_pos > first + 1; /* a->pos is NULL without arguments: no offset into it */
    tmpl_args rest = {.pos = more ? a->pos + first + 1 : NULL, .n_pos = more ? a->n_pos - first - 1 : 0,
                      .kw_names = a->kw_names, .kw = a->kw, .n_kw = a->n_kw};
    tmpl_value **out = tv_alloc(c, (n ? n : 1) * sizeof *out);
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        tmpl_value *x = attr ? attr_path(c, at, items[k], a->pos[0]) : items[k];
        bool ok = tname[0] ? tmpl_test(c, at, tname, x, &rest) : tv_truthy(x);
        if (ok == keep)
            out[m++] = items[k];
    }
    return list_of(c, out, m);
}

static tmpl_value *f_select(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    return select_common(c, at, v, a, false, true);
}
static tmpl_value *f_reject(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    return select_common(c, at, v, a, false, false);
}
static tmpl_value *f_selectattr(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    return select_common(c, at, v, a, true, true);
}
static tmpl_value *f_rejectattr(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    return select_common(c, at, v, a, true, false);
}

/* Python's float(str): surrounding whitespace allowed, inf/nan spelled in any case. */
static bool parse_float(tmpl_str s, double *out) {
    char buf[128];
    size_t b = 0, e = s.len;
    while (b < e && tt_is_space((unsigned char)s.s[b]))
        b++;
    while (e > b && tt_is_space((unsigned char)s.s[e - 1]))
        e--;
    if (e - b == 0 || e - b >= sizeof buf)
        return false;
    size_t n = 0;
    for (size_t k = b; k < e; k++) {
        if (s.s[k] == '_')
            continue;
        if (s.s[k] == 'x' || s.s[k] == 'X' || s.s[k] == 'p' || s.s[k] == 'P')
            return false; /* strtod would read hex floats, Python does not */
        buf[n++] = s.s[k];
    }
    buf[n] = 0;
    char *end;
    *out = strtod(buf, &end);
    return end == buf + n;
}

static tmpl_value *f_int(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    tmpl_value *d = arg(a, 0, "default");
    tmpl_value *base_v = arg(a, 1, "base");
    int base = base_v && base_v->kind == TV_INT ? (int)base_v->u.i : 10;
    if (v->kind == TV_UNDEFINED) /* int(Undefined) raises UndefinedError, which Jinja does not catch */
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "'%s' is undefined", v->u.undef_name ? v->u.undef_name : "value");
    if (v->kind == TV_INT)
        return v;
    if (v->kind == TV_BOOL)
        return tv_int(c, v->u.b);
    double f;
    if (v->kind == TV_FLOAT && isfinite(v->u.f) && fabs(v->u.f) < 9.2e18)
        return tv_int(c, (int64_t)v->u.f);
    if (v->kind == TV_STRING && base >= 2 && base <= 36) {
        char buf[64];
        tmpl_str s = v->u.str;
        size_t b = 0, e = s.len;
        while (b < e && tt_is_space((unsigned char)s.s[b]))
            b++;
        while (e > b && tt_is_space((unsigned char)s.s[e - 1]))
            e--;
        if (e > b && e - b < sizeof buf) {
            memcpy(buf, s.s + b, e - b);
            buf[e - b] = 0;
            char *end;
            long long x = strtoll(buf, &end, base);
            if (end == buf + (e - b) && buf[0] != ' ')
                return tv_int(c, x);
        }
        if (parse_float(s, &f) && isfinite(f) && fabs(f) < 9.2e18)
            return tv_int(c, (int64_t)f);
    }
    return d ? d : tv_int(c, 0);
}

static tmpl_value *f_float(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    tmpl_value *d = arg(a, 0, "default");
    if (v->kind == TV_UNDEFINED)
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "'%s' is undefined", v->u.undef_name ? v->u.undef_name : "value");
    double f;
    if (tv_is_number(v))
        return tv_float(c, tv_as_double(v));
    if (v->kind == TV_STRING && parse_float(v->u.str, &f))
        return tv_float(c, f);
    return d ? d : tv_float(c, 0.0);
}

static tmpl_value *f_abs(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    (void)a;
    if (v->kind == TV_FLOAT)
        return tv_float(c, fabs(v->u.f));
    if (v->kind == TV_INT || v->kind == TV_BOOL) {
        int64_t i = v->kind == TV_INT ? v->u.i : v->u.b;
        if (i == INT64_MIN)
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "integer overflow");
        return tv_int(c, i < 0 ? -i : i);
    }
    tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "bad operand type for abs(): '%s'", tv_type_name(v));
}

static tmpl_value *f_round(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    tmpl_value *pv = arg(a, 0, "precision"), *mv = arg(a, 1, "method");
    int64_t prec = pv && pv->kind == TV_INT ? pv->u.i : 0;
    tmpl_str method = mv ? need_str(c, at, mv, "round's method") : (tmpl_str){"common", 6};
    if (!tv_is_number(v))
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "round: '%s' is not a number", tv_type_name(v));
    if (prec < -300 || prec > 300)
        prec = prec < 0 ? -300 : 300;
    bool common = method.len == 6 && !memcmp(method.s, "common", 6);
    if (!common && !(method.len == 4 && !memcmp(method.s, "ceil", 4)) && !(method.len == 5 && !memcmp(method.s, "floor", 5)))
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "method must be common, ceil or floor");
    if (common && v->kind != TV_FLOAT && prec >= 0)
        return v->kind == TV_BOOL ? tv_int(c, v->u.b) : v; /* round(int, n) is the int */
    double x = tv_as_double(v), p = pow(10.0, (double)prec);
    if (!common)
        return tv_float(c, (method.s[0] == 'c' ? ceil(x * p) : floor(x * p)) / p);
    if (!isfinite(x))
        return tv_float(c, x);
    if (prec >= 0) {
        /* printf rounds the exact binary value, half to even: what Python's round() gives. */
        char buf[512];
        snprintf(buf, sizeof buf, "%.*f", (int)(prec > 100 ? 100 : prec), x);
        return tv_float(c, strtod(buf, NULL));
    }
    double y = x / (1.0 / p), r = nearbyint(y);
    return tv_float(c, r * (1.0 / p));
}

static tmpl_value *f_tojson(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    tmpl_value *iv = arg(a, 0, "indent"), *sv = arg(a, 1, "separators"), *sk = arg(a, 2, "sort_keys");
    char spaces[64];
    const char *indent = NULL;
    int indent_len = 0;
    if (iv && iv->kind == TV_INT) {
        indent_len = iv->u.i < 0 ? 0 : iv->u.i > 63 ? 63 : (int)iv->u.i;
        memset(spaces, ' ', (size_t)indent_len);
        indent = spaces;
    } else if (iv && iv->kind == TV_STRING) {
        indent = iv->u.str.s;
        indent_len = iv->u.str.len > 1024 ? 1024 : (int)iv->u.str.len;
    } else if (iv && iv->kind != TV_NONE) {
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "tojson: indent must be an integer or a string");
    }
    const char *item_sep = indent ? "," : ", ", *key_sep = ": ";
    if (sv && sv->kind != TV_NONE) {
        if (sv->kind != TV_LIST || sv->u.list.n != 2 || sv->u.list.items[0]->kind != TV_STRING ||
            sv->u.list.items[1]->kind != TV_STRING)
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "tojson: separators must be a pair of strings");
        item_sep = tv_str(c, sv->u.list.items[0]->u.str.s, sv->u.list.items[0]->u.str.len)->u.str.s;
        key_sep = tv_str(c, sv->u.list.items[1]->u.str.s, sv->u.list.items[1]->u.str.len)->u.str.s;
    }
    tmpl_buf b = {0};
    tb_put(c, &b, "", 0);
    tv_tojson(c, at, &b, v, indent, indent_len, item_sep, key_sep, sk && tv_truthy(sk), 0);
    return tt_buf_value(c, &b);
}

static tmpl_value *f_safe(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    return f_string(c, at, v, a); /* Markup(str(v)): there is no escaping to turn off */
}

/* Jinja 3.1's indent: lines after the first (and the first with first=True) get the prefix; blank
 * lines only with blank=True. */
static tmpl_value *f_indent(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    tmpl_value *wv = arg(a, 0, "width");
    bool first = arg_true(a, 1, "first"), blank = arg_true(a, 2, "blank");
    tmpl_str pad;
    char spaces[256];
    if (wv && wv->kind == TV_STRING) {
        pad = wv->u.str;
    } else {
        int64_t w = wv && (wv->kind == TV_INT) ? wv->u.i : 4;
        w = w < 0 ? 0 : w > 255 ? 255 : w;
        memset(spaces, ' ', (size_t)w);
        pad = (tmpl_str){spaces, (size_t)w};
    }
    if (v->kind != TV_STRING) /* Jinja appends "\n" to the value: only strings take it */
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "indent: unsupported operand type(s) for +=: '%s' and 'str'",
                   tv_type_name(v));
    tmpl_str s = v->u.str;
    tmpl_buf b = {0};
    tb_put(c, &b, "", 0);
    /* (s + "\n").splitlines(): the pieces between line breaks (\n, \r\n, \r, \v, \f, \x1c-\x1e),
     * the last one kept even when empty. */
    size_t i = 0;
    for (size_t line = 0;; line++) {
        size_t e = i;
        while (e < s.len && !strchr("\n\r\v\f\x1c\x1d\x1e", s.s[e]))
            e++;
        if (line > 0)
            tb_put(c, &b, "\n", 1);
        if (line == 0 ? first : (e > i || blank))
            tb_put(c, &b, pad.s, pad.len);
        tb_put(c, &b, s.s + i, e - i);
        if (e >= s.len)
            break;
        i = e + (s.s[e] == '\r' && e + 1 < s.len && s.s[e + 1] == '\n' ? 2 : 1);
    }
    return tt_buf_value(c, &b);
}

static tmpl_value *f_wordcount(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    (void)at, (void)a;
    tmpl_str s = tv_str_of(c, v);
    int64_t n = 0;
    bool in_word = false;
    for (size_t i = 0; i < s.len;) {
        bool w = tt_is_word(tt_decode(s.s, s.len, &i));
        n += w && !in_word;
        in_word = w;
    }
    return tv_int(c, n);
}

static tmpl_value *minmax(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a, int sign) {
    size_t n;
    tmpl_value **items = items_of(c, at, v, &n);
    bool cs = arg_true(a, 0, "case_sensitive");
    tmpl_value *attr = arg(a, 1, "attribute");
    if (!n)
        return tv_undef(c, "min or max of an empty sequence");
    size_t best = 0;
    tmpl_value *bk = ci_key(c, attr ? attr_path(c, at, items[0], attr) : items[0], cs);
    for (size_t k = 1; k < n; k++) {
        tmpl_value *key = ci_key(c, attr ? attr_path(c, at, items[k], attr) : items[k], cs);
        if (tv_compare(c, at, key, bk) * sign > 0) {
            best = k;
            bk = key;
        }
    }
    return items[best];
}
static tmpl_value *f_min(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    return minmax(c, at, v, a, -1);
}
static tmpl_value *f_max(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const tmpl_args *a) {
    return minmax(c, at, v, a, 1);
}

static const struct {
    const char *name;
    filter_fn fn;
} FILTERS[] = {
    {"abs", f_abs}, {"capitalize", f_capitalize}, {"count", f_length}, {"d", f_default},
    {"default", f_default}, {"dictsort", f_dictsort}, {"first", f_first}, {"float", f_float},
    {"indent", f_indent}, {"int", f_int}, {"items", f_items}, {"join", f_join}, {"last", f_last},
    {"length", f_length}, {"list", f_list}, {"lower", f_lower}, {"map", f_map}, {"max", f_max},
    {"min", f_min}, {"reject", f_reject}, {"rejectattr", f_rejectattr}, {"replace", f_replace},
    {"reverse", f_reverse}, {"round", f_round}, {"safe", f_safe}, {"select", f_select},
    {"selectattr", f_selectattr}, {"sort", f_sort}, {"string", f_string}, {"title", f_title},
    {"tojson", f_tojson}, {"trim", f_trim}, {"unique", f_unique}, {"upper", f_upper},
    {"wordcount", f_wordcount},
};

bool tmpl_filter_known(const char *name) {
    for (size_t k = 0; k < VKG_ARRAY_LEN(FILTERS); k++)
        if (!strcmp(FILTERS[k].name, name))
            return true;
    return false;
}

tmpl_value *tmpl_filter(tmpl_ctx *c, const tmpl_node *at, const char *name, tmpl_value *v, const tmpl_args *args) {
    tmpl_step(c, at);
    for (size_t k = 0; k < VKG_ARRAY_LEN(FILTERS); k++)
        if (!strcmp(FILTERS[k].name, name))
            return FILTERS[k].fn(c, at, v, args);
    tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "no filter named '%s'", name);
}

/* ---- tests ---- */

static const char *const TESTS[] = {
    "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "even", "false", "float", "ge", "gt",
    "greaterthan", "in", "integer", "iterable", "le", "lessthan", "lower", "lt", "mapping", "ne", "none",
    "number", "odd", "sameas", "sequence", "string", "true", "undefined", "upper", "==", "!=", "<", "<=", ">",
    ">=",
};

bool tmpl_test_known(const char *name) {
    for (size_t k = 0; k < VKG_ARRAY_LEN(TESTS); k++)
        if (!strcmp(TESTS[k], name))
            return true;
    return false;
}

/* value % 2 == 1 (odd) or == 0 (even), as Python computes it for ints and floats. */
static bool parity(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, bool odd) {
    if (v->kind == TV_FLOAT) {
        double m = fmod(v->u.f, 2.0);
        if (m < 0)
            m += 2.0;
        return odd ? m == 1.0 : m == 0.0;
    }
    if (v->kind != TV_INT && v->kind != TV_BOOL) {
        if (v->kind == TV_UNDEFINED)
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "'%s' is undefined", v->u.undef_name ? v->u.undef_name : "value");
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "test '%s' needs a number, not %s", odd ? "odd" : "even", tv_type_name(v));
    }
    int64_t i = v->kind == TV_INT ? v->u.i : v->u.b;
    return odd ? (i & 1) != 0 : (i & 1) == 0;
}

static int64_t int_of(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const char *test) {
    if (v->kind == TV_INT)
        return v->u.i;
    if (v->kind == TV_BOOL)
        return v->u.b;
    if (v->kind == TV_UNDEFINED)
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "'%s' is undefined", v->u.undef_name ? v->u.undef_name : "value");
    tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "test '%s' needs an integer, not %s", test, tv_type_name(v));
}

bool tmpl_test(tmpl_ctx *c, const tmpl_node *at, const char *name, tmpl_value *v, const tmpl_args *a) {
    tmpl_step(c, at);
    tmpl_value *other = targ(a, 0, NULL);
#define IS(n) (!strcmp(name, n))
    if (IS("defined")) return v->kind != TV_UNDEFINED;
    if (IS("undefined")) return v->kind == TV_UNDEFINED;
    if (IS("none")) return v->kind == TV_NONE;
    if (IS("string")) return v->kind == TV_STRING;
    if (IS("number")) return tv_is_number(v);
    if (IS("integer")) return v->kind == TV_INT;
    if (IS("float")) return v->kind == TV_FLOAT;
    if (IS("boolean")) return v->kind == TV_BOOL;
    if (IS("true")) return v->kind == TV_BOOL && v->u.b;
    if (IS("false")) return v->kind == TV_BOOL && !v->u.b;
    if (IS("mapping")) return v->kind == TV_DICT;
    if (IS("iterable")) return v->kind == TV_STRING || v->kind == TV_LIST || v->kind == TV_DICT || v->kind == TV_UNDEFINED;
    if (IS("sequence")) return v->kind == TV_STRING || v->kind == TV_LIST || v->kind == TV_DICT || v->kind == TV_UNDEFINED;
    if (IS("callable")) return v->kind == TV_MACRO || v->kind == TV_FUNC || v->kind == TV_METHOD;
    if (IS("odd")) return parity(c, at, v, true);
    if (IS("even")) return parity(c, at, v, false);
    if (IS("lower") || IS("upper")) {
        tmpl_str s = tv_str_of(c, v);
        bool cased = false;
        for (size_t i = 0; i < s.len;) {
            uint32_t cp = tt_decode(s.s, s.len, &i);
            if (!tt_is_cased(cp))
                continue;
            cased = true;
            if (tt_case(cp, IS("lower") ? TT_LOWER : TT_UPPER) != cp)
                return false;
        }
        return cased;
    }
    if (!other)
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "test '%s' needs an argument", name);
    if (IS("eq") || IS("equalto") || IS("==")) return tv_equal(c, v, other);
    if (IS("ne") || IS("!=")) return !tv_equal(c, v, other);
    if (IS("sameas")) return v->kind == other->kind && (v->kind == TV_NONE || v->kind == TV_UNDEFINED ||
                                                        (v->kind == TV_BOOL && v->u.b == other->u.b) || v == other);
    if (IS("in")) {
        if (other->kind == TV_STRING && v->kind == TV_STRING) {
            tmpl_value *hay = other;
            for (size_t k = 0; k + v->u.str.len <= hay->u.str.len; k++)
                if (!memcmp(hay->u.str.s + k, v->u.str.s, v->u.str.len))
                    return true;
            return false;
        }
        size_t n;
        tmpl_value **items = tmpl_iterate(c, at, other, &n);
        if (other->kind == TV_DICT)
            return tv_dict_get(other->u.dict, v) != NULL;
        for (size_t k = 0; k < n; k++)
            if (tv_equal(c, items[k], v))
                return true;
        return false;
    }
    if (IS("divisibleby")) {
        if (v->kind == TV_FLOAT || other->kind == TV_FLOAT) { /* value % num == 0 in floats */
            if (!tv_is_number(v) || !tv_is_number(other))
                tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "divisibleby needs numbers");
            if (tv_as_double(other) == 0)
                tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "float modulo");
            return fmod(tv_as_double(v), tv_as_double(other)) == 0;
        }
        int64_t d = int_of(c, at, other, name);
        if (d == 0)
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "integer division or modulo by zero");
        return d == -1 || int_of(c, at, v, name) % d == 0;
    }
    int r = tv_compare(c, at, v, other);
    if (IS("lt") || IS("lessthan") || IS("<")) return r < 0;
    if (IS("le") || IS("<=")) return r <= 0;
    if (IS("gt") || IS("greaterthan") || IS(">")) return r > 0;
    if (IS("ge") || IS(">=")) return r >= 0;
#undef IS
    tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "no test named '%s'", name);
}
