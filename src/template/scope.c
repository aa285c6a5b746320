/*
 * scope.c — which names each scope of a template owns, decided at compile time the way Jinja's
 * idtracking.py decides it, so that renders agree with Jinja where scoping shows: a name set
 * anywhere in a scope is that scope's own from its start (an inner loop or a macro that reads it
 * before the `set` sees undefined, not the input variable of that name), a name read before it is
 * set starts with the outer value, and a name set only in some branch of an `if` keeps the outer
 * value on the other paths. Scopes are the template itself, a for loop's body (and its else), a
 * macro's body and a block set's body; `if` is not one. Not here: the lookups at render time
 * (eval.c), which walk the scopes these frames describe.
 */
#include "template/template.h"

#include <setjmp.h>
#include <string.h>

typedef struct syms syms;
struct syms {
    syms *parent;
    tmpl_frame *frame;
    size_t cap;
    tmpl_node **pending; /* child scopes, analysed once this one is complete (as Jinja does) */
    size_t n_pending, cap_pending;
};

typedef struct analyzer {
    tmpl_arena *a;
    jmp_buf oom;
} analyzer;

static void *alloc(analyzer *A, size_t n) {
    void *p = tmpl_arena_alloc(A->a, n);
    if (!p)
        longjmp(A->oom, 1);
    return p;
}

static bool own(const syms *s, const char *name) {
    for (size_t k = 0; k < s->frame->n; k++)
        if (!strcmp(s->frame->names[k], name))
            return true;
    return false;
}

static bool find_ref(const syms *s, const char *name) {
    for (; s; s = s->parent)
        if (own(s, name))
            return true;
    return false;
}

static void define(analyzer *A, syms *s, const char *name, tmpl_ref_init init) {
    tmpl_frame *f = s->frame;
    if (f->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        const char **names = alloc(A, cap * sizeof *names);
        unsigned char *inits = alloc(A, cap);
        if (f->n) {
            memcpy(names, f->names, f->n * sizeof *names);
            memcpy(inits, f->init, f->n);
        }
        f->names = names;
        f->init = inits;
        s->cap = cap;
    }
    f->names[f->n] = name;
    f->init[f->n++] = (unsigned char)init;
}

static void load(analyzer *A, syms *s, const char *name) {
    if (!find_ref(s, name))
        define(A, s, name, REF_INHERIT);
}

static void store(analyzer *A, syms *s, const char *name, bool in_branch) {
    if (own(s, name))
        return;
    bool outer = s->parent && find_ref(s->parent, name);
    define(A, s, name, outer || in_branch ? REF_INHERIT : REF_UNDEFINED);
}

static void param(analyzer *A, syms *s, const char *name) {
    if (!own(s, name))
        define(A, s, name, REF_PARAM);
}

static void defer(analyzer *A, syms *s, tmpl_node *n) {
    if (s->n_pending == s->cap_pending) {
        size_t cap = s->cap_pending ? s->cap_pending * 2 : 4;
        tmpl_node **p = alloc(A, cap * sizeof *p);
        if (s->n_pending)
            memcpy(p, s->pending, s->n_pending * sizeof *p);
        s->pending = p;
        s->cap_pending = cap;
    }
    s->pending[s->n_pending++] = n;
}

static void visit_expr(analyzer *A, syms *s, const tmpl_node *e) {
    if (!e)
        return;
    if (e->kind == N_NAME) {
        load(A, s, e->name);
        return;
    }
    visit_expr(A, s, e->a);
    visit_expr(A, s, e->b);
    visit_expr(A, s, e->c);
    visit_expr(A, s, e->d);
    for (size_t k = 0; k < e->n_kids; k++)
        visit_expr(A, s, e->kids[k]);
}

static void visit_stmt(analyzer *A, syms *s, tmpl_node *n, bool in_branch) {
    switch (n->kind) {
    case N_BODY:
        for (size_t k = 0; k < n->n_kids; k++)
            visit_stmt(A, s, n->kids[k], in_branch);
        break;
    case N_OUTPUT: visit_expr(A, s, n->a); break;
    case N_IF:
        visit_expr(A, s, n->a);
        visit_stmt(A, s, n->b, true);
        if (n->c)
            visit_stmt(A, s, n->c, true);
        break;
    case N_FOR:
        visit_expr(A, s, n->a);
        defer(A, s, n);
        break;
    case N_SET:
        visit_expr(A, s, n->a);
        for (size_t k = 0; k < n->n_kids; k++)
            store(A, s, n->kid_names[k], in_branch);
        break;
    case N_SET_ATTR:
        visit_expr(A, s, n->a);
        load(A, s, n->name);
        break;
    case N_SET_BLOCK:
    case N_MACRO:
        store(A, s, n->name, in_branch);
        defer(A, s, n);
        break;
    default: break;
    }
}

static tmpl_frame *analyze_frame(analyzer *A, syms *parent, tmpl_node *owner, int which);

/* Finish scope s: its child scopes see its complete set of names. */
static void finish(analyzer *A, syms *s) {
    for (size_t k = 0; k < s->n_pending; k++) {
        tmpl_node *n = s->pending[k];
        n->frame = analyze_frame(A, s, n, 0);
        if (n->kind == N_FOR && n->c)
            n->frame2 = analyze_frame(A, s, n, 1);
    }
}

static tmpl_frame *analyze_frame(analyzer *A, syms *parent, tmpl_node *owner, int which) {
    syms *s = alloc(A, sizeof *s);
    s->parent = parent;
    s->frame = alloc(A, sizeof *s->frame);
    if (owner->kind == N_FOR && which == 0) {
        for (size_t k = 0; k < owner->n_kids; k++)
            param(A, s, owner->kid_names[k]);
        param(A, s, "loop");
        visit_stmt(A, s, owner->b, false);
    } else if (owner->kind == N_FOR) {
        visit_stmt(A, s, owner->c, false);
    } else if (owner->kind == N_MACRO) {
        for (size_t k = 0; k < owner->n_kids; k++)
            param(A, s, owner->kid_names[k]);
        for (size_t k = 0; k < owner->n_kids; k++)
            visit_expr(A, s, owner->kids[k]);
        visit_stmt(A, s, owner->b, false);
    } else if (owner->kind == N_SET_BLOCK) {
        visit_stmt(A, s, owner->b, false);
    } else {
        visit_stmt(A, s, owner, false); /* the root */
    }
    finish(A, s);
    return s->frame;
}

vkg_status tmpl_analyze(tmpl_arena *a, tmpl_node *root) {
    analyzer A = {.a = a};
    if (setjmp(A.oom))
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of memory compiling the template");
    root->frame = analyze_frame(&A, NULL, root, 0);
    return VKG_OK;
}
