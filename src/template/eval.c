/*
 * eval.c — runs a parsed template: statements, expressions, scopes, loops, macros, in Jinja's
 * evaluation order. Every failure longjmp()s to tmpl_render(), which frees the render's arena and
 * output buffer. Not here: attribute/item lookups (access.c), operators (ops.c), filters and
 * tests (filters.c), methods and built-in globals (methods.c), JSON (json.c).
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
    case TV_UNDEFINED: tmpl_undefined_error(c, at, f);
    default: tmpl_raise(c, at, VKG_ERROR_TEMPLATE, "'%s' object is not callable", tv_type_name(f));
    }
}

static int64_t as_int(const tmpl_value *v) { return v->kind == TV_INT ? v->u.i : v->u.b; }

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
        r = tmpl_slice(c, n, obj, lo, hi, st);
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
                tmpl_raise(c, n, VKG_ERROR_TEMPLATE, "integer overflow (vkgpt's integers are 64-bit)");
            r = tv_int(c, n->op == '-' ? -i : i);
        } else {
            if (v->kind == TV_UNDEFINED)
                tmpl_undefined_error(c, n, v);
            tmpl_raise(c, n, VKG_ERROR_TEMPLATE, "bad operand type for unary %c: '%s'", n->op, tv_type_name(v));
        }
        break;
    }
    case N_BINARY: {
        tmpl_value *a = eval(c, s, n->a);
        r = tmpl_arith(c, n, n->op, a, eval(c, s, n->b));
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
        r = tmpl_compare_op(c, n, n->op, a, eval(c, s, n->b));
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
