/*
 * eval.c — runs a parsed template: statements, expressions, scopes, loops, macros, and Jinja's
 * attribute/item lookup rules (a dict's `.items` is its method, a missing key is undefined, only
 * undefined itself fails on attribute access). Every failure longjmp()s to tmpl_render(), which
 * frees the render's arena and output buffer. Not here: filters and tests (filters.c), methods and
 * built-in globals (methods.c), JSON (json.c).
 */
#include "template/template.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tmpl_limits tmpl_default_limits(void) {
    return (tmpl_limits){.max_output = 16u << 20, .max_memory = 256u << 20, .max_steps = 20000000,
                         .max_depth = 200};
}

_Noreturn void tmpl_raise(tmpl_ctx *c, const tmpl_node *at, vkg_status st, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (st == VKG_ERROR_TEMPLATE_RAISED)
        vkg_fail(st, "%s", msg); /* raise_exception's message, exactly */
    else if (at)
        vkg_fail(st, "template error at line %d, column %d: %s", at->line, at->col, msg);
    else
        vkg_fail(st, "template error: %s", msg);
    c->fail_status = st;
    longjmp(c->fail, 1);
}

void tmpl_step(tmpl_ctx *c, const tmpl_node *at) {
    if (++c->steps > c->limits.max_steps)
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "the template ran more than %llu steps (a runaway loop?)",
                   (unsigned long long)c->limits.max_steps);
}

static void emit(tmpl_ctx *c, const tmpl_node *at, const char *s, size_t n) {
    if (c->out_len + n > c->limits.max_output)
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "the rendered text passed %zu MiB", c->limits.max_output >> 20);
    if (c->out_len + n + 1 > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + n + 1)
            cap *= 2;
        char *p = realloc(c->out, cap);
        if (!p)
            tmpl_raise(c, at, VKG_ERROR_OUT_OF_HOST_MEMORY, "out of memory for the rendered text");
        c->out = p;
        c->out_cap = cap;
    }
    if (n)
        memcpy(c->out + c->out_len, s, n);
    c->out_len += n;
    c->out[c->out_len] = 0;
}

/* ---- scopes ---- */

static tmpl_scope *scope_new(tmpl_ctx *c, tmpl_scope *parent) {
    tmpl_scope *s = tv_alloc(c, sizeof *s);
    s->parent = parent;
    return s;
}

static tmpl_value *lookup(tmpl_ctx *c, tmpl_scope *s, const char *name) {
    size_t len = strlen(name);
    for (; s; s = s->parent) {
        tmpl_value *v = tv_dict_gets(&s->vars, name, len);
        if (v)
            return v;
    }
    /* Shared, immutable values for the built-in globals: looking one up allocates nothing. */
    static tmpl_value globals[] = {{.kind = TV_FUNC, .u.func = 0}, {.kind = TV_FUNC, .u.func = 1},
                                   {.kind = TV_FUNC, .u.func = 2}, {.kind = TV_FUNC, .u.func = 3},
                                   {.kind = TV_FUNC, .u.func = 4}};
    int g = tmpl_global_index(name);
    if (g >= 0 && (size_t)g < VKG_ARRAY_LEN(globals))
        return &globals[g];
    return tv_undef(c, name);
}

static void assign(tmpl_ctx *c, tmpl_scope *s, const char *name, tmpl_value *v);

/* Entering a scope: the names it owns that nothing outside may show through (see scope.c) start
 * undefined; the others are looked up outside until the scope sets them. */
static void enter_frame(tmpl_ctx *c, tmpl_scope *s, const tmpl_frame *f) {
    for (size_t k = 0; f && k < f->n; k++)
        if (f->init[k] == REF_UNDEFINED)
            assign(c, s, f->names[k], tv_undef(c, f->names[k]));
}

static void assign(tmpl_ctx *c, tmpl_scope *s, const char *name, tmpl_value *v) {
    tmpl_dict *d = &s->vars;
    size_t len = strlen(name);
    for (size_t k = 0; k < d->n; k++)
        if (d->keys[k]->u.str.len == len && !memcmp(d->keys[k]->u.str.s, name, len)) {
            d->vals[k] = v;
            return;
        }
    /* A loop scope emptied for the next item still holds last item's keys past n: reuse them, so
     * that iterations allocate nothing of their own. */
    if (d->n < d->cap && d->keys[d->n] && d->keys[d->n]->u.str.len == len &&
        !memcmp(d->keys[d->n]->u.str.s, name, len)) {
        d->vals[d->n++] = v;
        return;
    }
    tv_dict_set(c, d, tv_strz(c, name), v);
}

/* ---- lookups ---- */

static _Noreturn void undefined_error(tmpl_ctx *c, const tmpl_node *at, const tmpl_value *v) {
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
        undefined_error(c, at, obj);
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
    case TV_UNDEFINED: undefined_error(c, at, obj);
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
static tmpl_value *slice(tmpl_ctx *c, const tmpl_node *at, tmpl_value *obj, tmpl_value *lo,
                         tmpl_value *hi, tmpl_value *st) {
    if (obj->kind == TV_UNDEFINED)
        undefined_error(c, at, obj);
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

/* ---- expressions ---- */

static tmpl_value *eval(tmpl_ctx *c, tmpl_scope *s, const tmpl_node *n);
static void exec_body(tmpl_ctx *c, tmpl_scope *s, const tmpl_node *n);

static void eval_args(tmpl_ctx *c, tmpl_scope *s, const tmpl_node *n, tmpl_args *a) {
    memset(a, 0, sizeof *a);
    if (!n->n_kids)
        return;
    a->pos = tv_alloc(c, n->n_kids * sizeof *a->pos);
    a->kw = tv_alloc(c, n->n_kids * sizeof *a->kw);
    a->kw_names = tv_alloc(c, n->n_kids * sizeof *a->kw_names);
    for (size_t k = 0; k < n->n_kids; k++) {
        tmpl_value *v = eval(c, s, n->kids[k]);
        if (n->kid_names[k]) {
            a->kw_names[a->n_kw] = n->kid_names[k];
            a->kw[a->n_kw++] = v;
        } else {
            a->pos[a->n_pos++] = v;
        }
    }
}

tmpl_value *targ(const tmpl_args *a, size_t i, const char *name) {
    if (i < a->n_pos)
        return a->pos[i];
    for (size_t k = 0; name && k < a->n_kw; k++)
        if (!strcmp(a->kw_names[k], name))
            return a->kw[k];
    return NULL;
}

static tmpl_value *call_macro(tmpl_ctx *c, const tmpl_node *at, tmpl_value *m, const tmpl_args *a) {
    const tmpl_node *def = m->u.macro.node;
    if (a->n_pos > def->n_kids)
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "macro '%s' takes not more than %zu argument(s)", def->name,
                   def->n_kids);
    for (size_t k = 0; k < a->n_kw; k++) {
        bool known = false;
        for (size_t p = 0; p < def->n_kids; p++)
            known |= !strcmp(def->kid_names[p], a->kw_names[k]);
        if (!known)
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "macro '%s' takes no keyword argument '%s'", def->name,
                       a->kw_names[k]);
    }
    tmpl_scope *s = scope_new(c, m->u.macro.scope);
    enter_frame(c, s, def->frame);
    for (size_t p = 0; p < def->n_kids; p++) {
        tmpl_value *v = targ(a, p, def->kid_names[p]);
        if (!v)
            v = def->kids[p] ? eval(c, s, def->kids[p]) : tv_undef(c, def->kid_names[p]);
        assign(c, s, def->kid_names[p], v);
    }
    /* The body renders into the output buffer; what it wrote is cut back out as the result. */
    size_t mark = c->out_len;
    exec_body(c, s, def->b);
    tmpl_value *r = tv_str(c, c->out ? c->out + mark : "", c->out_len - mark);
    c->out_len = mark;
    c->loop_ctl = 0;
    return r;
}

static tmpl_value *call(tmpl_ctx *c, const tmpl_node *at, tmpl_value *f, const tmpl_args *a) {
    switch (f->kind) {
    case TV_MACRO: return call_macro(c, at, f, a);
    case TV_FUNC: return tmpl_call_global(c, at, f->u.func, a);
    case TV_METHOD: return tmpl_call_method(c, at, f->u.method.self, f->u.method.name, a);
    case TV_UNDEFINED: undefined_error(c, at, f);
    default: tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "'%s' object is not callable", tv_type_name(f));
    }
}

static int64_t as_int(const tmpl_value *v) { return v->kind == TV_INT ? v->u.i : v->u.b; }

static _Noreturn void bad_operands(tmpl_ctx *c, const tmpl_node *at, const char *op, const tmpl_value *a,
                                   const tmpl_value *b) {
    if (a->kind == TV_UNDEFINED)
        undefined_error(c, at, a);
    if (b->kind == TV_UNDEFINED)
        undefined_error(c, at, b);
    tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "unsupported operand type(s) for %s: '%s' and '%s'", op,
               tv_type_name(a), tv_type_name(b));
}

static tmpl_value *overflow(tmpl_ctx *c, const tmpl_node *at) {
    tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "integer overflow (vkgpt's integers are 64-bit)");
}

static tmpl_value *repeat(tmpl_ctx *c, const tmpl_node *at, tmpl_value *seq, int64_t times) {
    if (times < 0)
        times = 0;
    size_t unit = seq->kind == TV_STRING ? seq->u.str.len : seq->u.list.n;
    if (unit && (uint64_t)times > c->limits.max_memory / unit)
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "the template used more than %zu MiB of memory",
                   c->limits.max_memory >> 20);
    size_t total = unit * (size_t)times;
    if (seq->kind == TV_STRING) {
        tmpl_value *r = tv_new(c, TV_STRING);
        char *p = tv_alloc(c, total + 1);
        for (int64_t k = 0; k < times; k++)
            memcpy(p + (size_t)k * unit, seq->u.str.s, unit);
        r->u.str.s = p;
        r->u.str.len = total;
        return r;
    }
    tmpl_value *r = tv_list(c, total);
    r->is_tuple = seq->is_tuple;
    for (size_t k = 0; k < total; k++)
        r->u.list.items[k] = seq->u.list.items[k % unit];
    return r;
}

/* Python's printf-style `str % args` for the conversions templates use: %s %r %d %i %%. A tuple
 * gives the arguments; anything else is one argument, except that a format with no conversion
 * accepts a dict or list untouched (Python treats those as mappings). */
static tmpl_value *percent_format(tmpl_ctx *c, const tmpl_node *at, tmpl_str f, tmpl_value *arg) {
    tmpl_value **args = &arg;
    size_t n_args = 1, used = 0;
    bool mapping_like = arg->kind == TV_DICT || arg->kind == TV_UNDEFINED || (arg->kind == TV_LIST && !arg->is_tuple);
    if (arg->kind == TV_LIST && arg->is_tuple) {
        args = arg->u.list.items;
        n_args = arg->u.list.n;
    }
    tmpl_buf b = {0};
    tb_put(c, &b, "", 0);
    for (size_t i = 0; i < f.len; i++) {
        if (f.s[i] != '%') {
            tb_put(c, &b, f.s + i, 1);
            continue;
        }
        char conv = i + 1 < f.len ? f.s[++i] : 0;
        if (conv == '%') {
            tb_put(c, &b, "%", 1);
            continue;
        }
        if (conv != 's' && conv != 'r' && conv != 'd' && conv != 'i')
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "unsupported format character in '%%' formatting");
        if (used >= n_args)
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "not enough arguments for format string");
        tmpl_value *v = args[used++];
        if (conv == 's') {
            tv_to_str(c, &b, v);
        } else if (conv == 'r') {
            tv_repr(c, &b, v, 0);
        } else {
            if (!tv_is_number(v))
                tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "%%d format: a real number is required, not %s", tv_type_name(v));
            char num[32];
            double x = tv_as_double(v);
            if (v->kind == TV_FLOAT && !(x > -9.2e18 && x < 9.2e18))
                tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "%%d format: number out of range");
            snprintf(num, sizeof num, "%lld", v->kind == TV_FLOAT ? (long long)x : (long long)(v->kind == TV_INT ? v->u.i : v->u.b));
            tb_puts(c, &b, num);
        }
    }
    if (used < n_args && !(used == 0 && mapping_like))
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "not all arguments converted during string formatting");
    tmpl_value *r = tv_new(c, TV_STRING);
    r->u.str.s = b.s;
    r->u.str.len = b.len;
    return r;
}

static tmpl_value *arith(tmpl_ctx *c, const tmpl_node *at, int op, tmpl_value *a, tmpl_value *b) {
    bool na = tv_is_number(a), nb = tv_is_number(b);
    const char *opname = op == '+' ? "+" : op == '-' ? "-" : op == '*' ? "*" : op == '/' ? "/"
                       : op == OP_FLOORDIV ? "//" : op == '%' ? "%" : "**";
    if (na && nb) {
        if (a->kind != TV_FLOAT && b->kind != TV_FLOAT && op != '/') {
            int64_t x = as_int(a), y = as_int(b), r;
            switch (op) {
            case '+': if (__builtin_add_overflow(x, y, &r)) return overflow(c, at); return tv_int(c, r);
            case '-': if (__builtin_sub_overflow(x, y, &r)) return overflow(c, at); return tv_int(c, r);
            case '*': if (__builtin_mul_overflow(x, y, &r)) return overflow(c, at); return tv_int(c, r);
            case OP_FLOORDIV:
            case '%': {
                if (y == 0)
                    tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "integer division or modulo by zero");
                if (x == INT64_MIN && y == -1)
                    return overflow(c, at);
                int64_t q = x / y, m = x % y;
                if (m != 0 && ((m < 0) != (y < 0))) {
                    q--;
                    m += y;
                }
                return tv_int(c, op == '%' ? m : q);
            }
            case OP_POW:
                if (y >= 0) { /* by squaring; a square is only taken when a later bit needs it */
                    int64_t acc = 1, base = x;
                    for (int64_t e = y; e; ) {
                        if ((e & 1) && __builtin_mul_overflow(acc, base, &acc))
                            return overflow(c, at);
                        e >>= 1;
                        if (e && __builtin_mul_overflow(base, base, &base))
                            return overflow(c, at);
                    }
                    return tv_int(c, acc);
                }
                if (x == 0)
                    tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "0.0 cannot be raised to a negative power");
                return tv_float(c, pow((double)x, (double)y));
            }
        }
        double x = tv_as_double(a), y = tv_as_double(b);
        switch (op) {
        case '+': return tv_float(c, x + y);
        case '-': return tv_float(c, x - y);
        case '*': return tv_float(c, x * y);
        case '/':
            if (y == 0)
                tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "division by zero");
            return tv_float(c, x / y);
        case OP_FLOORDIV:
        case '%': {
            if (y == 0)
                tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "float division by zero");
            /* CPython's float_divmod */
            double m = fmod(x, y), d = (x - m) / y;
            if (m != 0 && ((y < 0) != (m < 0))) {
                m += y;
                d -= 1;
            }
            if (op == '%')
                return tv_float(c, m != 0 ? m : copysign(0.0, y));
            double f = floor(d);
            if (d - f > 0.5)
                f += 1;
            return tv_float(c, d != 0 ? f : copysign(0.0, x / y));
        }
        case OP_POW:
            if (x == 0 && y < 0)
                tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "0.0 cannot be raised to a negative power");
            if (x < 0 && y != floor(y) && isfinite(y))
                tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "a negative number to a fractional power is complex, "
                           "which templates do not have");
            double r = pow(x, y);
            if (isinf(r) && isfinite(x) && isfinite(y)) /* Python raises where C overflows to inf */
                tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "(34, 'Numerical result out of range')");
            return tv_float(c, r);
        }
    }
    if (op == '+' && a->kind == TV_STRING && b->kind == TV_STRING) {
        tmpl_buf r = {0};
        tb_put(c, &r, a->u.str.s, a->u.str.len);
        tb_put(c, &r, b->u.str.s, b->u.str.len);
        tmpl_value *v = tv_new(c, TV_STRING);
        v->u.str.s = r.s;
        v->u.str.len = r.len;
        return v;
    }
    if (op == '+' && a->kind == TV_LIST && b->kind == TV_LIST && a->is_tuple == b->is_tuple) {
        tmpl_value *r = tv_list(c, a->u.list.n + b->u.list.n);
        r->is_tuple = a->is_tuple;
        if (a->u.list.n)
            memcpy(r->u.list.items, a->u.list.items, a->u.list.n * sizeof(tmpl_value *));
        if (b->u.list.n)
            memcpy(r->u.list.items + a->u.list.n, b->u.list.items, b->u.list.n * sizeof(tmpl_value *));
        return r;
    }
    if (op == '%' && a->kind == TV_STRING)
        return percent_format(c, at, a->u.str, b);
    if (op == '*' && (a->kind == TV_STRING || a->kind == TV_LIST) && (b->kind == TV_INT || b->kind == TV_BOOL))
        return repeat(c, at, a, as_int(b));
    if (op == '*' && (b->kind == TV_STRING || b->kind == TV_LIST) && (a->kind == TV_INT || a->kind == TV_BOOL))
        return repeat(c, at, b, as_int(a));
    bad_operands(c, at, opname, a, b);
}

static bool contains(tmpl_ctx *c, const tmpl_node *at, tmpl_value *item, tmpl_value *in) {
    switch (in->kind) {
    case TV_UNDEFINED: return false;
    case TV_STRING: {
        if (item->kind != TV_STRING)
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "'in <string>' requires string as left operand, not %s",
                       tv_type_name(item));
        const char *h = in->u.str.s, *nd = item->u.str.s;
        size_t hn = in->u.str.len, nn = item->u.str.len;
        if (nn == 0)
            return true;
        for (size_t k = 0; k + nn <= hn; k++)
            if (h[k] == nd[0] && memcmp(h + k, nd, nn) == 0)
                return true;
        return false;
    }
    case TV_LIST:
        for (size_t k = 0; k < in->u.list.n; k++) {
            tmpl_step(c, at);
            if (tv_equal(c, in->u.list.items[k], item))
                return true;
        }
        return false;
    case TV_DICT:
        if (item->kind == TV_LIST && !item->is_tuple)
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "unhashable type: 'list'");
        if (item->kind == TV_DICT || item->kind == TV_NAMESPACE)
            tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "unhashable type: '%s'", tv_type_name(item));
        return tv_dict_get(in->u.dict, item) != NULL;
    default:
        tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "argument of type '%s' is not iterable", tv_type_name(in));
    }
}

static tmpl_value *compare(tmpl_ctx *c, const tmpl_node *at, int op, tmpl_value *a, tmpl_value *b) {
    switch (op) {
    case OP_EQ: return tv_bool(c, tv_equal(c, a, b));
    case OP_NE: return tv_bool(c, !tv_equal(c, a, b));
    case OP_IN: return tv_bool(c, contains(c, at, a, b));
    case OP_NOTIN: return tv_bool(c, !contains(c, at, a, b));
    default: break;
    }
    if (a->kind == TV_UNDEFINED)
        undefined_error(c, at, a);
    if (b->kind == TV_UNDEFINED)
        undefined_error(c, at, b);
    if (a->kind == TV_FLOAT && isnan(a->u.f))
        return tv_bool(c, false);
    if (b->kind == TV_FLOAT && isnan(b->u.f))
        return tv_bool(c, false);
    int r = tv_compare(c, at, a, b);
    switch (op) {
    case '<': return tv_bool(c, r < 0);
    case '>': return tv_bool(c, r > 0);
    case OP_LE: return tv_bool(c, r <= 0);
    default: return tv_bool(c, r >= 0);
    }
}

static tmpl_value *eval(tmpl_ctx *c, tmpl_scope *s, const tmpl_node *n) {
    tmpl_step(c, n);
    if (++c->depth > c->limits.max_depth)
        tmpl_raise(c, n, VKG_ERROR_TEMPLATE, "nested more than %d levels deep (runaway recursion?)",
                   c->limits.max_depth);
    tmpl_value *r;
    switch (n->kind) {
    case N_CONST: r = n->value; break;
    case N_NAME: r = lookup(c, s, n->name); break;
    case N_LIST:
    case N_TUPLE:
        r = tv_list(c, n->n_kids);
        r->is_tuple = n->kind == N_TUPLE;
        for (size_t k = 0; k < n->n_kids; k++)
            r->u.list.items[k] = eval(c, s, n->kids[k]);
        break;
    case N_DICT:
        r = tv_dict(c);
        for (size_t k = 0; k + 1 < n->n_kids; k += 2) {
            tmpl_value *key = eval(c, s, n->kids[k]);
            if (key->kind == TV_LIST || key->kind == TV_DICT || key->kind == TV_NAMESPACE ||
                key->kind == TV_UNDEFINED)
                tmpl_raise(c, n, VKG_ERROR_TEMPLATE, "unhashable type: '%s'", tv_type_name(key));
            tv_dict_set(c, r->u.dict, key, eval(c, s, n->kids[k + 1]));
        }
        break;
    case N_GETATTR: r = tmpl_getattr(c, n, eval(c, s, n->a), n->name, strlen(n->name)); break;
    case N_GETITEM: {
        tmpl_value *obj = eval(c, s, n->a);
        r = tmpl_getitem(c, n, obj, eval(c, s, n->b));
        break;
    }
    case N_SLICE: {
        tmpl_value *obj = eval(c, s, n->a);
        tmpl_value *lo = n->b ? eval(c, s, n->b) : NULL, *hi = n->c ? eval(c, s, n->c) : NULL,
                   *st = n->d ? eval(c, s, n->d) : NULL;
        r = slice(c, n, obj, lo, hi, st);
        break;
    }
    case N_CALL: {
        tmpl_value *f = eval(c, s, n->a);
        tmpl_args a;
        eval_args(c, s, n, &a);
        r = call(c, n, f, &a);
        break;
    }
    case N_FILTER: {
        tmpl_value *v = eval(c, s, n->a);
        tmpl_args a;
        eval_args(c, s, n, &a);
        r = tmpl_filter(c, n, n->name, v, &a);
        break;
    }
    case N_TEST: {
        tmpl_value *v = eval(c, s, n->a);
        tmpl_args a;
        eval_args(c, s, n, &a);
        r = tv_bool(c, tmpl_test(c, n, n->name, v, &a) != (n->op != 0));
        break;
    }
    case N_UNARY: {
        tmpl_value *v = eval(c, s, n->a);
        if (v->kind == TV_FLOAT)
            r = tv_float(c, n->op == '-' ? -v->u.f : v->u.f);
        else if (v->kind == TV_INT || v->kind == TV_BOOL) {
            int64_t i = as_int(v);
            if (n->op == '-' && i == INT64_MIN)
                overflow(c, n);
            r = tv_int(c, n->op == '-' ? -i : i);
        } else {
            if (v->kind == TV_UNDEFINED)
                undefined_error(c, n, v);
            tmpl_raise(c, n, VKG_ERROR_TEMPLATE, "bad operand type for unary %c: '%s'", n->op, tv_type_name(v));
        }
        break;
    }
    case N_BINARY: {
        tmpl_value *a = eval(c, s, n->a);
        r = arith(c, n, n->op, a, eval(c, s, n->b));
        break;
    }
    case N_CONCAT: {
        tmpl_value *a = eval(c, s, n->a), *b = eval(c, s, n->b);
        tmpl_buf buf = {0};
        tb_put(c, &buf, "", 0);
        tv_to_str(c, &buf, a);
        tv_to_str(c, &buf, b);
        r = tv_new(c, TV_STRING);
        r->u.str.s = buf.s;
        r->u.str.len = buf.len;
        break;
    }
    case N_AND: {
        tmpl_value *a = eval(c, s, n->a);
        r = tv_truthy(a) ? eval(c, s, n->b) : a;
        break;
    }
    case N_OR: {
        tmpl_value *a = eval(c, s, n->a);
        r = tv_truthy(a) ? a : eval(c, s, n->b);
        break;
    }
    case N_NOT: r = tv_bool(c, !tv_truthy(eval(c, s, n->a))); break;
    case N_COND:
        if (tv_truthy(eval(c, s, n->a)))
            r = eval(c, s, n->b);
        else
            r = n->c ? eval(c, s, n->c) : tv_undef(c, NULL);
        break;
    case N_COMPARE: {
        tmpl_value *a = eval(c, s, n->a);
        r = compare(c, n, n->op, a, eval(c, s, n->b));
        break;
    }
    default: tmpl_raise(c, n, VKG_ERROR_INTERNAL, "statement node %d used as an expression", (int)n->kind);
    }
    c->depth--;
    return r;
}

/* ---- statements ---- */

static void bind_targets(tmpl_ctx *c, tmpl_scope *s, const tmpl_node *n, tmpl_value *v) {
    if (n->n_kids == 1) {
        assign(c, s, n->kid_names[0], v);
        return;
    }
    size_t count;
    tmpl_value **items = tmpl_iterate(c, n, v, &count);
    if (count != n->n_kids)
        tmpl_raise(c, n, VKG_ERROR_TEMPLATE, "cannot unpack %zu value(s) into %zu names", count, n->n_kids);
    for (size_t k = 0; k < count; k++)
        assign(c, s, n->kid_names[k], items[k]);
}

static void exec_for(tmpl_ctx *c, tmpl_scope *s, const tmpl_node *n) {
    tmpl_value *seq = eval(c, s, n->a);
    size_t count;
    tmpl_value **items = tmpl_iterate(c, n, seq, &count);
    if (n->d) { /* {% for x in xs if cond %}: filter first, so loop.length counts what is kept */
        tmpl_value **kept = tv_alloc(c, (count ? count : 1) * sizeof *kept);
        size_t m = 0;
        for (size_t k = 0; k < count; k++) {
            tmpl_scope *f = scope_new(c, s);
            bind_targets(c, f, n, items[k]);
            if (tv_truthy(eval(c, f, n->d)))
                kept[m++] = items[k];
        }
        items = kept;
        count = m;
    }
    /* Each item has a fresh scope (a `set` in the body ends with the iteration, as in Jinja), made
     * by emptying the previous one unless a macro captured it. `loop` is one object whose state
     * moves on, as Jinja's LoopContext does. */
    tmpl_scope *it = NULL;
    tmpl_value *loop = tv_new(c, TV_LOOP);
    /* Jinja's `else` runs unless some iteration reached the end of the body: an iteration left by
     * break or continue does not count (its generated code clears the flag at the body's end). */
    bool completed = false;
    for (size_t k = 0; k < count; k++) {
        if (!it || it->captured)
            it = scope_new(c, s);
        else
            it->vars.n = 0;
        enter_frame(c, it, n->frame);
        loop->u.loop = (tmpl_loop){.index0 = (int64_t)k, .length = (int64_t)count,
                                   .prev = k ? items[k - 1] : NULL, .next = k + 1 < count ? items[k + 1] : NULL};
        assign(c, it, "loop", loop);
        bind_targets(c, it, n, items[k]);
        exec_body(c, it, n->b);
        int ctl = c->loop_ctl;
        c->loop_ctl = 0;
        completed |= ctl == 0;
        if (ctl == 1)
            break;
    }
    if (!completed && n->c) {
        tmpl_scope *e = scope_new(c, s);
        enter_frame(c, e, n->frame2);
        exec_body(c, e, n->c);
    }
}

static void exec_node(tmpl_ctx *c, tmpl_scope *s, const tmpl_node *n) {
    tmpl_step(c, n);
    if (++c->depth > c->limits.max_depth)
        tmpl_raise(c, n, VKG_ERROR_TEMPLATE, "nested more than %d levels deep (runaway recursion?)",
                   c->limits.max_depth);
    switch (n->kind) {
    case N_BODY: exec_body(c, s, n); break;
    case N_TEXT: emit(c, n, n->value->u.str.s, n->value->u.str.len); break;
    case N_OUTPUT: {
        tmpl_value *v = eval(c, s, n->a);
        if (v->kind == TV_STRING) {
            emit(c, n, v->u.str.s, v->u.str.len);
        } else {
            tmpl_buf b = {0};
            tv_to_str(c, &b, v);
            emit(c, n, b.s, b.len);
        }
        break;
    }
    case N_IF:
        if (tv_truthy(eval(c, s, n->a)))
            exec_node(c, s, n->b);
        else if (n->c)
            exec_node(c, s, n->c);
        break;
    case N_FOR: exec_for(c, s, n); break;
    case N_SET: {
        tmpl_value *v = eval(c, s, n->a);
        if (n->n_kids == 1)
            assign(c, s, n->kid_names[0], v);
        else
            bind_targets(c, s, n, v);
        break;
    }
    case N_SET_ATTR: {
        tmpl_value *ns = lookup(c, s, n->name);
        if (ns->kind != TV_NAMESPACE)
            tmpl_raise(c, n, VKG_ERROR_TEMPLATE, "cannot assign attribute on non-namespace object");
        tv_dict_set(c, ns->u.dict, n->value, eval(c, s, n->a));
        break;
    }
    case N_SET_BLOCK: {
        size_t mark = c->out_len;
        tmpl_scope *inner = scope_new(c, s);
        enter_frame(c, inner, n->frame);
        exec_body(c, inner, n->b);
        tmpl_value *v = tv_str(c, c->out ? c->out + mark : "", c->out_len - mark);
        c->out_len = mark;
        assign(c, s, n->name, v);
        break;
    }
    case N_MACRO: {
        tmpl_value *m = tv_new(c, TV_MACRO);
        m->u.macro.node = n;
        m->u.macro.scope = s;
        s->captured = true;
        assign(c, s, n->name, m);
        break;
    }
    case N_BREAK: c->loop_ctl = 1; break;
    case N_CONTINUE: c->loop_ctl = 2; break;
    default: tmpl_raise(c, n, VKG_ERROR_INTERNAL, "expression node %d used as a statement", (int)n->kind);
    }
    c->depth--;
}

static void exec_body(tmpl_ctx *c, tmpl_scope *s, const tmpl_node *n) {
    for (size_t k = 0; k < n->n_kids && !c->loop_ctl; k++)
        exec_node(c, s, n->kids[k]);
}

vkg_status tmpl_render(const tmpl_node *root, const tmpl_limits *limits, json_t *vars, char **out,
                       size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    tmpl_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of memory rendering a template");
    c->limits = limits ? *limits : tmpl_default_limits();
    c->arena.limit = c->limits.max_memory;
    vkg_status st = VKG_OK;
    if (setjmp(c->fail)) {
        st = c->fail_status;
        free(c->out);
    } else {
        /* The input variables are the context, below the template's own scope. */
        tmpl_scope *context = scope_new(c, NULL);
        tmpl_value *v = tv_from_json(c, vars, 0);
        if (v->kind == TV_DICT)
            context->vars = *v->u.dict;
        c->root = scope_new(c, context);
        enter_frame(c, c->root, root->frame);
        exec_node(c, c->root, root);
        emit(c, root, "", 0); /* a buffer even for empty output */
        *out = c->out;
        *out_len = c->out_len;
    }
    tmpl_arena_free(&c->arena);
    free(c);
    return st;
}
