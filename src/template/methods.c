/*
 * methods.c — what a template may call: Python's str methods (strip, split, startswith, format,
 * ...) and dict methods (items, keys, values, get), `loop.cycle`, and the globals range,
 * namespace, dict, raise_exception and strftime_now (the last two as transformers defines
 * them). Lists have no methods here: Hugging Face renders in an immutable sandbox, where
 * list.append and dict.update are refused. Not here: filters and tests (filters.c).
 */
#include "template/template.h"
#include "template/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

tmpl_value *tmpl_capitalize(tmpl_ctx *c, tmpl_str s);
tmpl_value *tmpl_replace(tmpl_ctx *c, const tmpl_node *at, tmpl_str s, tmpl_value *old, tmpl_value *new_,
                         tmpl_value *count);

static const char *const STR_METHODS[] = {"strip", "lstrip", "rstrip", "split", "startswith", "endswith",
                                          "upper", "lower", "replace", "title", "format", "capitalize",
                                          "count", "find", "join", "isdigit", "isspace"};
static const char *const DICT_METHODS[] = {"items", "keys", "values", "get"};

bool tmpl_has_method(const tmpl_value *self, const char *name) {
    if (self->kind == TV_STRING) {
        for (size_t k = 0; k < VKG_ARRAY_LEN(STR_METHODS); k++)
            if (!strcmp(STR_METHODS[k], name))
                return true;
    } else if (self->kind == TV_DICT) {
        for (size_t k = 0; k < VKG_ARRAY_LEN(DICT_METHODS); k++)
            if (!strcmp(DICT_METHODS[k], name))
                return true;
    }
    return false;
}

static tmpl_str str_arg(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, const char *what) {
    if (!v || v->kind != TV_STRING)
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "%s must be a string, not %s", what, v ? tv_type_name(v) : "nothing");
    return v->u.str;
}

static bool affix(tmpl_str s, tmpl_str p, bool start) {
    if (p.len > s.len)
        return false;
    return !memcmp(start ? s.s : s.s + s.len - p.len, p.s, p.len);
}

static tmpl_value *split(tmpl_ctx *c, const tmpl_node *at, tmpl_str s, tmpl_value *sepv, tmpl_value *maxv) {
    int64_t max = maxv && maxv->kind == TV_INT ? maxv->u.i : -1;
    tmpl_value **parts = NULL;
    size_t n = 0, cap = 0;
#define PUSH(p, l)                                                                   \
    do {                                                                             \
        if (n == cap) {                                                              \
            size_t nc = cap ? cap * 2 : 8;                                           \
            tmpl_value **np = tv_alloc(c, nc * sizeof *np);                          \
            if (n)                                                                   \
                memcpy(np, parts, n * sizeof *np);                                   \
            parts = np;                                                              \
            cap = nc;                                                                \
        }                                                                            \
        parts[n++] = tv_str(c, (p), (l));                                            \
    } while (0)
    if (!sepv || sepv->kind == TV_NONE) {
        /* Runs of whitespace separate; none at either end produce empty parts. */
        size_t i = 0;
        for (;;) {
            while (i < s.len) {
                size_t nx = i;
                if (!tt_is_space(tt_decode(s.s, s.len, &nx)))
                    break;
                i = nx;
            }
            if (i >= s.len)
                break;
            if (max >= 0 && (int64_t)n >= max) {
                size_t e = s.len;
                while (e > i) { /* the rest, right-stripped */
                    size_t p = e - 1;
                    while (p > i && ((unsigned char)s.s[p] & 0xC0) == 0x80)
                        p--;
                    size_t q = p;
                    if (!tt_is_space(tt_decode(s.s, s.len, &q)))
                        break;
                    e = p;
                }
                PUSH(s.s + i, e - i);
                break;
            }
            size_t e = i;
            while (e < s.len) {
                size_t nx = e;
                if (tt_is_space(tt_decode(s.s, s.len, &nx)))
                    break;
                e = nx;
            }
            PUSH(s.s + i, e - i);
            i = e;
        }
    } else {
        tmpl_str sep = str_arg(c, at, sepv, "split's separator");
        if (sep.len == 0)
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "empty separator");
        size_t i = 0;
        for (;;) {
            tmpl_step(c, at);
            const char *hit = NULL;
            if (max < 0 || (int64_t)n < max)
                for (size_t k = i; k + sep.len <= s.len; k++)
                    if (s.s[k] == sep.s[0] && !memcmp(s.s + k, sep.s, sep.len)) {
                        hit = s.s + k;
                        break;
                    }
            if (!hit) {
                PUSH(s.s + i, s.len - i);
                break;
            }
            PUSH(s.s + i, (size_t)(hit - s.s) - i);
            i = (size_t)(hit - s.s) + sep.len;
        }
    }
#undef PUSH
    tmpl_value *l = tv_list(c, n);
    if (n)
        memcpy(l->u.list.items, parts, n * sizeof *parts);
    return l;
}

/* Python's str.title(): a cased character after an uncased one starts a word. */
static tmpl_value *py_title(tmpl_ctx *c, tmpl_str s) {
    tmpl_buf b = {0};
    bool prev_cased = false;
    for (size_t i = 0; i < s.len;) {
        char o[4];
        uint32_t cp = tt_decode(s.s, s.len, &i);
        bool cased = tt_is_cased(cp);
        tb_put(c, &b, o, tt_encode(cased ? tt_case(cp, prev_cased ? TT_LOWER : TT_TITLE) : cp, o));
        prev_cased = cased;
    }
    return tt_buf_value(c, &b);
}

/* str.format with {} / {0} / {name} fields and {{ }}; format specs are not supported. */
static tmpl_value *format(tmpl_ctx *c, const tmpl_node *at, tmpl_str s, const tmpl_args *a) {
    tmpl_buf b = {0};
    tb_put(c, &b, "", 0);
    size_t auto_index = 0;
    for (size_t i = 0; i < s.len; i++) {
        char ch = s.s[i];
        if ((ch == '{' || ch == '}') && i + 1 < s.len && s.s[i + 1] == ch) {
            tb_put(c, &b, &ch, 1);
            i++;
            continue;
        }
        if (ch == '}')
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "Single '}' encountered in format string");
        if (ch != '{') {
            tb_put(c, &b, &ch, 1);
            continue;
        }
        size_t e = i + 1;
        while (e < s.len && s.s[e] != '}')
            e++;
        if (e >= s.len)
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "Single '{' encountered in format string");
        tmpl_str field = {s.s + i + 1, e - i - 1};
        bool repr = field.len >= 2 && field.s[field.len - 2] == '!' && field.s[field.len - 1] == 'r';
        if (repr || (field.len >= 2 && field.s[field.len - 2] == '!' && field.s[field.len - 1] == 's'))
            field.len -= 2;
        if (memchr(field.s, ':', field.len) || memchr(field.s, '.', field.len) || memchr(field.s, '[', field.len))
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "str.format: format specs and field lookups are not supported");
        tmpl_value *v = NULL;
        if (field.len == 0) {
            v = auto_index < a->n_pos ? a->pos[auto_index] : NULL;
            auto_index++;
        } else if (field.s[0] >= '0' && field.s[0] <= '9') {
            size_t k = (size_t)strtoul(field.s, NULL, 10);
            v = k < a->n_pos ? a->pos[k] : NULL;
        } else {
            for (size_t k = 0; k < a->n_kw; k++)
                if (strlen(a->kw_names[k]) == field.len && !memcmp(a->kw_names[k], field.s, field.len))
                    v = a->kw[k];
        }
        if (!v)
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "str.format: no argument for field '{%.*s}'", (int)field.len, field.s);
        if (repr)
            tv_repr(c, &b, v, 0);
        else
            tv_to_str(c, &b, v);
        i = e;
    }
    return tt_buf_value(c, &b);
}

static tmpl_value *string_method(tmpl_ctx *c, const tmpl_node *at, tmpl_str s, const char *name,
                                 const tmpl_args *a) {
    tmpl_value *a0 = targ(a, 0, NULL), *a1 = targ(a, 1, NULL);
#define IS(n) (!strcmp(name, n))
    if (IS("strip") || IS("lstrip") || IS("rstrip")) {
        tmpl_str chars = {0};
        bool have = a0 && a0->kind != TV_NONE;
        if (have)
            chars = str_arg(c, at, a0, "strip's chars");
        return tt_strip(c, s, have ? &chars : NULL, name[0] != 'r', name[0] != 'l');
    }
    if (IS("split"))
        return split(c, at, s, targ(a, 0, "sep"), targ(a, 1, "maxsplit"));
    if (IS("startswith") || IS("endswith")) {
        if (a0 && a0->kind == TV_LIST && a0->is_tuple) {
            for (size_t k = 0; k < a0->u.list.n; k++)
                if (affix(s, str_arg(c, at, a0->u.list.items[k], "prefix"), name[0] == 's'))
                    return tv_bool(c, true);
            return tv_bool(c, false);
        }
        return tv_bool(c, affix(s, str_arg(c, at, a0, name[0] == 's' ? "startswith's prefix" : "endswith's suffix"),
                                name[0] == 's'));
    }
    if (IS("upper")) return tt_map_case(c, s, TT_UPPER);
    if (IS("lower")) return tt_map_case(c, s, TT_LOWER);
    if (IS("title")) return py_title(c, s);
    if (IS("capitalize")) return tmpl_capitalize(c, s);
    if (IS("replace")) return tmpl_replace(c, at, s, a0, a1, targ(a, 2, NULL));
    if (IS("format")) return format(c, at, s, a);
    if (IS("count") || IS("find")) {
        tmpl_str sub = str_arg(c, at, a0, name);
        int64_t count = 0;
        for (size_t k = 0; k + sub.len <= s.len;) {
            if (!memcmp(s.s + k, sub.s, sub.len)) {
                if (IS("find"))
                    return tv_int(c, (int64_t)tv_utf8_len(s.s, k));
                count++;
                k += sub.len ? sub.len : 1;
            } else {
                k++;
            }
        }
        if (IS("count") && sub.len == 0)
            count = (int64_t)tv_utf8_len(s.s, s.len) + 1;
        return tv_int(c, IS("find") ? -1 : count);
    }
    if (IS("join")) {
        size_t n;
        tmpl_value **items = tmpl_iterate(c, at, a0 ? a0 : tv_undef(c, "iterable"), &n);
        tmpl_buf b = {0};
        tb_put(c, &b, "", 0);
        for (size_t k = 0; k < n; k++) {
            tmpl_str part = str_arg(c, at, items[k], "str.join's items");
            if (k)
                tb_put(c, &b, s.s, s.len);
            tb_put(c, &b, part.s, part.len);
        }
        return tt_buf_value(c, &b);
    }
    if (IS("isdigit") || IS("isspace")) {
        bool ok = s.len > 0;
        for (size_t i = 0; i < s.len && ok;) {
            uint32_t cp = tt_decode(s.s, s.len, &i);
            ok = IS("isspace") ? tt_is_space(cp) : (cp >= '0' && cp <= '9');
        }
        return tv_bool(c, ok);
    }
#undef IS
    tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "'str' object has no attribute '%s'", name);
}

tmpl_value *tmpl_call_method(tmpl_ctx *c, const tmpl_node *at, tmpl_value *self, const char *name,
                             const tmpl_args *a) {
    tmpl_step(c, at);
    if (self->kind == TV_STRING)
        return string_method(c, at, self->u.str, name, a);
    if (self->kind == TV_LOOP && !strcmp(name, "cycle")) {
        if (a->n_pos == 0)
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "no items for cycling given");
        return a->pos[(size_t)self->u.loop.index0 % a->n_pos];
    }
    if (self->kind == TV_DICT) {
        tmpl_dict *d = self->u.dict;
        if (!strcmp(name, "get")) {
            tmpl_value *key = targ(a, 0, NULL), *dflt = targ(a, 1, NULL);
            if (!key)
                tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "get expected at least 1 argument, got 0");
            tmpl_value *v = tv_dict_get(d, key);
            return v ? v : dflt ? dflt : tv_none();
        }
        bool keys = !strcmp(name, "keys"), values = !strcmp(name, "values");
        tmpl_value *r = tv_list(c, d->n);
        for (size_t k = 0; k < d->n; k++) {
            if (keys || values) {
                r->u.list.items[k] = keys ? d->keys[k] : d->vals[k];
            } else {
                tmpl_value *t = tv_list(c, 2);
                t->is_tuple = true;
                t->u.list.items[0] = d->keys[k];
                t->u.list.items[1] = d->vals[k];
                r->u.list.items[k] = t;
            }
        }
        return r;
    }
    tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "'%s' object has no method '%s'", tv_type_name(self), name);
}

/* ---- globals ---- */

static const char *const GLOBALS[] = {"range", "namespace", "dict", "raise_exception", "strftime_now"};

int tmpl_global_index(const char *name) {
    for (size_t k = 0; k < VKG_ARRAY_LEN(GLOBALS); k++)
        if (!strcmp(GLOBALS[k], name))
            return (int)k;
    return -1;
}

const char *tmpl_global_name(int func) { return GLOBALS[func]; }

/* Jinja's sandbox refuses ranges longer than this (jinja2.sandbox.MAX_RANGE). */
#define MAX_RANGE 100000

static int64_t int_arg(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v) {
    if (v->kind == TV_INT)
        return v->u.i;
    if (v->kind == TV_BOOL)
        return v->u.b;
    tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "'%s' object cannot be interpreted as an integer", tv_type_name(v));
}

tmpl_value *tmpl_call_global(tmpl_ctx *c, const tmpl_node *at, int func, const tmpl_args *a) {
    switch (func) {
    case 0: { /* range */
        if (a->n_pos < 1 || a->n_pos > 3)
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "range expected 1 to 3 arguments, got %zu", a->n_pos);
        int64_t start = 0, stop, step = 1;
        if (a->n_pos == 1) {
            stop = int_arg(c, at, a->pos[0]);
        } else {
            start = int_arg(c, at, a->pos[0]);
            stop = int_arg(c, at, a->pos[1]);
            if (a->n_pos == 3)
                step = int_arg(c, at, a->pos[2]);
        }
        if (step == 0)
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "range() arg 3 must not be zero");
        /* The count in unsigned arithmetic: the ends may be anywhere in int64. */
        uint64_t n = 0;
        if (step > 0 && start < stop)
            n = ((uint64_t)stop - (uint64_t)start - 1) / (uint64_t)step + 1;
        else if (step < 0 && start > stop)
            n = ((uint64_t)start - (uint64_t)stop - 1) / (0 - (uint64_t)step) + 1;
        if (n > MAX_RANGE)
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE,
                       "Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).", MAX_RANGE);
        tmpl_value *r = tv_list(c, (size_t)n);
        /* Every value lies between start and stop, so the wrapping arithmetic lands on it exactly. */
        for (size_t k = 0; k < (size_t)n; k++)
            r->u.list.items[k] = tv_int(c, (int64_t)((uint64_t)start + (uint64_t)k * (uint64_t)step));
        return r;
    }
    case 1:   /* namespace(dict?, **kw) */
    case 2: { /* dict(dict?, **kw) */
        tmpl_value *r = func == 1 ? tv_new(c, TV_NAMESPACE) : tv_dict(c);
        if (func == 1)
            r->u.dict = tv_alloc(c, sizeof(tmpl_dict));
        if (a->n_pos > 1)
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "%s expected at most 1 positional argument", GLOBALS[func]);
        if (a->n_pos == 1) {
            tmpl_value *init = a->pos[0];
            if (init->kind != TV_DICT)
                tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "%s: the positional argument must be a mapping", GLOBALS[func]);
            for (size_t k = 0; k < init->u.dict->n; k++)
                tv_dict_set(c, r->u.dict, init->u.dict->keys[k], init->u.dict->vals[k]);
        }
        for (size_t k = 0; k < a->n_kw; k++)
            tv_dict_set(c, r->u.dict, tv_strz(c, a->kw_names[k]), a->kw[k]);
        return r;
    }
    case 3: { /* raise_exception(message) */
        tmpl_value *m = targ(a, 0, "message");
        tmpl_str s = m ? tv_str_of(c, m) : (tmpl_str){"", 0};
        tmpl_raise(c, NULL, VKG_ERROR_TEMPLATE_RAISED, "%.*s", (int)(s.len > 700 ? 700 : s.len), s.s);
    }
    case 4: { /* strftime_now(format): datetime.now().strftime(format), local time */
        tmpl_value *f = targ(a, 0, "format");
        tmpl_str fs = str_arg(c, at, f, "strftime_now's format");
        char fmt[256], out[1024];
        if (fs.len >= sizeof fmt || memchr(fs.s, 0, fs.len))
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "strftime_now: format too long");
        memcpy(fmt, fs.s, fs.len);
        fmt[fs.len] = 0;
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        size_t n = fs.len ? strftime(out, sizeof out, fmt, &tm) : 0;
        return tv_str(c, out, n);
    }
    }
    tmpl_raise(c, at, VKG_ERROR_INTERNAL, "unknown global %d", func);
}
