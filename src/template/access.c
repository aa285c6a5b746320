/*
 * access.c — Jinja's lookups on values: attribute access (`x.name`: a dict's or string's method
 * first, then the key, as the sandbox's getattr does), subscripts (`x[k]`: the item first, then the
 * attribute; a missing key or an index out of range is undefined, only undefined itself fails),
 * Python slicing of lists and strings (by code point, negative steps included), iteration, and the
 * `loop` object's attributes. Not here: operators (ops.c), evaluation (eval.c).
 */
#include "template/template.h"

#include <string.h>

_Noreturn void tmpl_undefined_error(tmpl_ctx *c, const tmpl_node *at, const tmpl_value *v) {
    if (v->u.undef_name)
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "'%s' is undefined", v->u.undef_name);
    tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "a value is undefined");
}

static const char *undef_name(tmpl_ctx *c, const tmpl_value *obj, const char *key, size_t len) {
    (void)obj;
    char *s = tv_alloc(c, len + 1);
    memcpy(s, key, len);
    return s;
}

static tmpl_value *loop_attr(tmpl_ctx *c, const tmpl_value *obj, const char *name) {
    const tmpl_loop *l = &obj->u.loop;
    if (!strcmp(name, "index")) return tv_int(c, l->index0 + 1);
    if (!strcmp(name, "index0")) return tv_int(c, l->index0);
    if (!strcmp(name, "revindex")) return tv_int(c, l->length - l->index0);
    if (!strcmp(name, "revindex0")) return tv_int(c, l->length - l->index0 - 1);
    if (!strcmp(name, "first")) return tv_bool(c, l->index0 == 0);
    if (!strcmp(name, "last")) return tv_bool(c, l->index0 == l->length - 1);
    if (!strcmp(name, "length")) return tv_int(c, l->length);
    if (!strcmp(name, "depth")) return tv_int(c, 1);
    if (!strcmp(name, "depth0")) return tv_int(c, 0);
    if (!strcmp(name, "previtem")) return l->prev ? l->prev : tv_undef(c, "previtem");
    if (!strcmp(name, "nextitem")) return l->next ? l->next : tv_undef(c, "nextitem");
    return NULL;
}

tmpl_value *tmpl_getattr(tmpl_ctx *c, const tmpl_node *at, tmpl_value *obj, const char *name, size_t len) {
    if (obj->kind == TV_UNDEFINED)
        tmpl_undefined_error(c, at, obj);
    char key[64];
    bool short_name = len < sizeof key;
    if (short_name) {
        memcpy(key, name, len);
        key[len] = 0;
    }
    if (obj->kind == TV_LOOP && short_name) {
        tmpl_value *v = loop_attr(c, obj, key);
        if (v)
            return v;
        if (!strcmp(key, "cycle") || !strcmp(key, "changed")) {
            tmpl_value *m = tv_new(c, TV_METHOD);
            m->u.method.self = obj;
            m->u.method.name = !strcmp(key, "cycle") ? "cycle" : "changed";
            return m;
        }
    }
    if (obj->kind == TV_NAMESPACE) {
        tmpl_value *v = tv_dict_gets(obj->u.dict, name, len);
        return v ? v : tv_undef(c, undef_name(c, obj, name, len));
    }
    /* Attributes (methods) first, then items, as Jinja's getattr does. */
    if (short_name && tmpl_has_method(obj, key)) {
        tmpl_value *m = tv_new(c, TV_METHOD);
        m->u.method.self = obj;
        m->u.method.name = undef_name(c, obj, name, len);
        return m;
    }
    if (obj->kind == TV_DICT) {
        tmpl_value *v = tv_dict_gets(obj->u.dict, name, len);
        if (v)
            return v;
    }
    return tv_undef(c, undef_name(c, obj, name, len));
}

/* Python's index normalisation: -1 is the last item; false when out of range. */
static bool list_index(const tmpl_value *key, size_t n, size_t *out) {
    if (key->kind != TV_INT && key->kind != TV_BOOL)
        return false;
    int64_t i = key->kind == TV_INT ? key->u.i : key->u.b;
    if (i < 0)
        i += (int64_t)n;
    if (i < 0 || (uint64_t)i >= n)
        return false;
    *out = (size_t)i;
    return true;
}

tmpl_value *tmpl_getitem(tmpl_ctx *c, const tmpl_node *at, tmpl_value *obj, tmpl_value *key) {
    size_t i;
    switch (obj->kind) {
    case TV_UNDEFINED: tmpl_undefined_error(c, at, obj);
    case TV_LIST:
        if (list_index(key, obj->u.list.n, &i))
            return obj->u.list.items[i];
        break;
    case TV_DICT: {
        tmpl_value *v = tv_dict_get(obj->u.dict, key);
        if (v)
            return v;
        break;
    }
    case TV_STRING: {
        size_t n = tv_utf8_len(obj->u.str.s, obj->u.str.len);
        if (list_index(key, n, &i)) {
            size_t b = 0;
            for (size_t k = 0; k < i; k++)
                b = tv_utf8_next(obj->u.str.s, obj->u.str.len, b);
            return tv_str(c, obj->u.str.s + b, tv_utf8_next(obj->u.str.s, obj->u.str.len, b) - b);
        }
        break;
    }
    default: break;
    }
    /* A string key falls back to an attribute: d['items'] is the method when there is no key. */
    if (key->kind == TV_STRING && obj->kind != TV_DICT)
        return tmpl_getattr(c, at, obj, key->u.str.s, key->u.str.len);
    if (key->kind == TV_STRING && tmpl_has_method(obj, key->u.str.len < 64 ? key->u.str.s : ""))
        return tmpl_getattr(c, at, obj, key->u.str.s, key->u.str.len);
    if (key->kind == TV_STRING)
        return tv_undef(c, undef_name(c, obj, key->u.str.s, key->u.str.len));
    return tv_undef(c, NULL);
}

/* obj[start:stop:step] on a list, tuple or string (code points), as Python computes it. */
tmpl_value *tmpl_slice(tmpl_ctx *c, const tmpl_node *at, tmpl_value *obj, tmpl_value *lo,
                         tmpl_value *hi, tmpl_value *st) {
    if (obj->kind == TV_UNDEFINED)
        tmpl_undefined_error(c, at, obj);
    int64_t v[3];
    tmpl_value *parts[3] = {lo, hi, st};
    for (int k = 0; k < 3; k++) {
        if (!parts[k] || parts[k]->kind == TV_NONE)
            continue;
        if (parts[k]->kind != TV_INT && parts[k]->kind != TV_BOOL)
            return tv_undef(c, NULL); /* Jinja turns the TypeError into undefined */
        v[k] = parts[k]->kind == TV_INT ? parts[k]->u.i : parts[k]->u.b;
    }
    bool has[3];
    for (int k = 0; k < 3; k++)
        has[k] = parts[k] && parts[k]->kind != TV_NONE;
    int64_t step = has[2] ? v[2] : 1;
    if (step == 0)
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "slice step cannot be zero");
    if (step == INT64_MIN)
        step = -INT64_MAX;
    size_t *offs = NULL;
    int64_t n;
    if (obj->kind == TV_LIST) {
        n = (int64_t)obj->u.list.n;
    } else if (obj->kind == TV_STRING) {
        n = (int64_t)tv_utf8_len(obj->u.str.s, obj->u.str.len);
        offs = tv_alloc(c, ((size_t)n + 1) * sizeof *offs);
        size_t b = 0;
        for (int64_t k = 0; k <= n; k++) {
            offs[k] = b;
            if (k < n)
                b = tv_utf8_next(obj->u.str.s, obj->u.str.len, b);
        }
    } else {
        return tv_undef(c, NULL);
    }
    int64_t start, stop;
    if (step > 0) {
        start = has[0] ? v[0] : 0;
        stop = has[1] ? v[1] : n;
        if (start < 0) start = start + n < 0 ? 0 : start + n;
        if (start > n) start = n;
        if (stop < 0) stop = stop + n < 0 ? 0 : stop + n;
        if (stop > n) stop = n;
    } else {
        start = has[0] ? v[0] : n - 1;
        stop = has[1] ? v[1] : -1 - n; /* "before the first" */
        if (start < 0) start = start + n < 0 ? -1 : start + n;
        if (start >= n) start = n - 1;
        if (stop < 0) stop = stop + n < 0 ? -1 : stop + n;
        if (stop >= n) stop = n - 1;
    }
    size_t count = 0;
    if (step > 0 && start < stop)
        count = (size_t)((stop - start - 1) / step + 1);
    else if (step < 0 && start > stop)
        count = (size_t)((start - stop - 1) / -step + 1);
    if (obj->kind == TV_LIST) {
        tmpl_value *r = tv_list(c, count);
        r->is_tuple = obj->is_tuple;
        for (size_t k = 0; k < count; k++)
            r->u.list.items[k] = obj->u.list.items[start + (int64_t)k * step];
        return r;
    }
    tmpl_buf b = {0};
    tb_put(c, &b, "", 0);
    for (size_t k = 0; k < count; k++) {
        int64_t i = start + (int64_t)k * step;
        tb_put(c, &b, obj->u.str.s + offs[i], offs[i + 1] - offs[i]);
    }
    tmpl_value *r = tv_new(c, TV_STRING);
    r->u.str.s = b.s;
    r->u.str.len = b.len;
    return r;
}

tmpl_value **tmpl_iterate(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, size_t *n) {
    switch (v->kind) {
    case TV_UNDEFINED:
        *n = 0;
        return NULL;
    case TV_LIST:
        *n = v->u.list.n;
        return v->u.list.items;
    case TV_DICT:
        *n = v->u.dict->n;
        return v->u.dict->keys;
    case TV_STRING: {
        size_t count = tv_utf8_len(v->u.str.s, v->u.str.len), b = 0;
        tmpl_value **items = tv_alloc(c, (count ? count : 1) * sizeof *items);
        for (size_t k = 0; k < count; k++) {
            size_t e = tv_utf8_next(v->u.str.s, v->u.str.len, b);
            items[k] = tv_str(c, v->u.str.s + b, e - b);
            b = e;
        }
        *n = count;
        return items;
    }
    default: tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "'%s' object is not iterable", tv_type_name(v));
    }
}

