/*
 * parser.c — Jinja2 tokens to an AST, by recursive descent with Jinja's own precedence
 * (jinja2/parser.py): condexpr < or < and < not < comparisons/in < + - < ~ < * / // % < ** <
 * unary - + < primary with postfix (. [] ()) < filters `|` and tests `is` (which bind to the
 * unary operand: `x + 1 is odd` is `x + (1 is odd)`, as in Jinja). Statements: if/elif/else,
 * for (tuple targets, `if` filter, else), set (plain, attribute, tuple and block), macro,
 * break, continue, and HF's `generation` block. Not here: evaluation (eval.c).
 */
#include "template/template.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Deepest nesting of expressions and blocks: keeps the evaluator's recursion on the C stack small. */
#define MAX_PARSE_DEPTH 512

typedef struct parser {
    tmpl_arena *a;
    const tmpl_token *t;
    size_t n, pos;
    int depth;
    int loops; /* enclosing for loops (in this macro): break/continue need one */
    jmp_buf fail;
    vkg_status status;
} parser;

static _Noreturn VKG_PRINTF(3, 4) void fail(parser *P, const tmpl_token *at, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    P->status = vkg_fail(VKG_ERROR_TEMPLATE, "template syntax error at line %d, column %d: %s", at->line,
                         at->col, msg);
    longjmp(P->fail, 1);
}

static void *palloc(parser *P, size_t n) {
    void *p = tmpl_arena_alloc(P->a, n);
    if (!p) {
        P->status = vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of memory compiling the template");
        longjmp(P->fail, 1);
    }
    return p;
}

static const tmpl_token *cur(parser *P) { return &P->t[P->pos]; }
static const tmpl_token *next(parser *P) {
    const tmpl_token *t = &P->t[P->pos];
    if (t->kind != T_EOF)
        P->pos++;
    return t;
}
static bool is_op(parser *P, int op) { return cur(P)->kind == T_OP && cur(P)->op == op; }
static bool is_name(const tmpl_token *t, const char *name) {
    return t->kind == T_NAME && t->len == strlen(name) && memcmp(t->s, name, t->len) == 0;
}
static bool skip_op(parser *P, int op) {
    if (!is_op(P, op))
        return false;
    next(P);
    return true;
}
static bool skip_name(parser *P, const char *name) {
    if (!is_name(cur(P), name))
        return false;
    next(P);
    return true;
}

static const char *describe(const tmpl_token *t, char *buf, size_t cap) {
    switch (t->kind) {
    case T_EOF: return "end of template";
    case T_TEXT: return "template text";
    case T_VAR_BEGIN: return "'{{'";
    case T_VAR_END: return "'}}'";
    case T_BLOCK_BEGIN: return "'{%'";
    case T_BLOCK_END: return "'%}'";
    case T_NAME: snprintf(buf, cap, "'%.*s'", (int)(t->len > 40 ? 40 : t->len), t->s); return buf;
    case T_INT: case T_FLOAT: return "a number";
    case T_STRING: return "a string";
    case T_OP:
        if (t->op < 256)
            snprintf(buf, cap, "'%c'", t->op);
        else
            snprintf(buf, cap, "operator");
        return buf;
    }
    return "?";
}

static void expect_op(parser *P, int op) {
    if (!skip_op(P, op)) {
        char b[64];
        fail(P, cur(P), "expected '%c', found %s", op, describe(cur(P), b, sizeof b));
    }
}

static void expect_kind(parser *P, tmpl_tok_kind k, const char *what) {
    if (cur(P)->kind != k) {
        char b[64];
        fail(P, cur(P), "expected %s, found %s", what, describe(cur(P), b, sizeof b));
    }
    next(P);
}

static const char *name_str(parser *P, const tmpl_token *t) {
    char *s = palloc(P, t->len + 1);
    memcpy(s, t->s, t->len);
    return s;
}

static const char *expect_name(parser *P) {
    if (cur(P)->kind != T_NAME) {
        char b[64];
        fail(P, cur(P), "expected a name, found %s", describe(cur(P), b, sizeof b));
    }
    return name_str(P, next(P));
}

static tmpl_node *node(parser *P, tmpl_node_kind k, const tmpl_token *at) {
    tmpl_node *n = palloc(P, sizeof *n);
    n->kind = k;
    n->line = at->line;
    n->col = at->col;
    return n;
}

/* A growable list of child nodes (and their names) while parsing. */
typedef struct kidlist {
    tmpl_node **kids;
    const char **names;
    size_t n, cap;
} kidlist;

static void kid_push(parser *P, kidlist *l, tmpl_node *k, const char *name) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        tmpl_node **kids = palloc(P, cap * sizeof *kids);
        const char **names = palloc(P, cap * sizeof *names);
        if (l->n) {
            memcpy(kids, l->kids, l->n * sizeof *kids);
            memcpy(names, l->names, l->n * sizeof *names);
        }
        l->kids = kids;
        l->names = names;
        l->cap = cap;
    }
    l->kids[l->n] = k;
    l->names[l->n++] = name;
}

static void kids_set(tmpl_node *n, const kidlist *l) {
    n->kids = l->kids;
    n->kid_names = l->names;
    n->n_kids = l->n;
}

static void enter(parser *P) {
    if (++P->depth > MAX_PARSE_DEPTH)
        fail(P, cur(P), "nested more than %d levels deep", MAX_PARSE_DEPTH);
}

static tmpl_node *parse_expression(parser *P);
static tmpl_node *parse_or(parser *P);
static tmpl_node *parse_unary(parser *P, bool with_filter);
static tmpl_node *parse_primary(parser *P);
static tmpl_node *parse_postfix(parser *P, tmpl_node *n);

/* `(a, b=c)` after the opening parenthesis was seen (not consumed). */
static void parse_call_args(parser *P, tmpl_node *call) {
    kidlist l = {0};
    expect_op(P, '(');
    bool kw_seen = false;
    while (!is_op(P, ')')) {
        if (l.n)
            expect_op(P, ',');
        if (is_op(P, ')'))
            break;
        const char *kw = NULL;
        if (cur(P)->kind == T_NAME && P->t[P->pos + 1].kind == T_OP && P->t[P->pos + 1].op == '=') {
            kw = name_str(P, next(P));
            next(P);
            kw_seen = true;
        } else if (kw_seen) {
            fail(P, cur(P), "a positional argument follows a keyword argument");
        }
        kid_push(P, &l, parse_expression(P), kw);
    }
    expect_op(P, ')');
    kids_set(call, &l);
}

static tmpl_node *parse_expression(parser *P) {
    enter(P);
    tmpl_node *e = parse_or(P);
    while (is_name(cur(P), "if")) {
        tmpl_node *n = node(P, N_COND, next(P));
        n->a = parse_or(P);
        n->b = e;
        if (skip_name(P, "else"))
            n->c = parse_expression(P);
        e = n;
    }
    P->depth--;
    return e;
}

/* An expression, or several separated by commas (a tuple without parentheses). Without `condexpr`
 * (a for loop's iterable) a following `if` is not an inline if but the loop's filter. */
static tmpl_node *parse_tuple_ex(parser *P, bool condexpr) {
    const tmpl_token *at = cur(P);
    tmpl_node *first = condexpr ? parse_expression(P) : parse_or(P);
    if (!is_op(P, ','))
        return first;
    kidlist l = {0};
    kid_push(P, &l, first, NULL);
    while (skip_op(P, ',')) {
        if (cur(P)->kind == T_BLOCK_END || cur(P)->kind == T_VAR_END || is_op(P, ')') || is_op(P, '='))
            break;
        kid_push(P, &l, condexpr ? parse_expression(P) : parse_or(P), NULL);
    }
    tmpl_node *t = node(P, N_TUPLE, at);
    kids_set(t, &l);
    return t;
}

static tmpl_node *parse_tuple(parser *P) { return parse_tuple_ex(P, true); }

static tmpl_node *binary(parser *P, tmpl_node_kind k, int op, const tmpl_token *at, tmpl_node *a, tmpl_node *b) {
    tmpl_node *n = node(P, k, at);
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}

static tmpl_node *parse_pow(parser *P) {
    tmpl_node *e = parse_unary(P, true);
    while (is_op(P, OP_POW)) {
        const tmpl_token *at = next(P);
        e = binary(P, N_BINARY, OP_POW, at, e, parse_unary(P, true));
    }
    return e;
}

static tmpl_node *parse_math2(parser *P) {
    tmpl_node *e = parse_pow(P);
    while (is_op(P, '*') || is_op(P, '/') || is_op(P, OP_FLOORDIV) || is_op(P, '%')) {
        const tmpl_token *at = next(P);
        e = binary(P, N_BINARY, at->op, at, e, parse_pow(P));
    }
    return e;
}

static tmpl_node *parse_concat(parser *P) {
    tmpl_node *e = parse_math2(P);
    while (is_op(P, '~')) {
        const tmpl_token *at = next(P);
        e = binary(P, N_CONCAT, '~', at, e, parse_math2(P));
    }
    return e;
}

static tmpl_node *parse_math1(parser *P) {
    tmpl_node *e = parse_concat(P);
    while (is_op(P, '+') || is_op(P, '-')) {
        const tmpl_token *at = next(P);
        e = binary(P, N_BINARY, at->op, at, e, parse_concat(P));
    }
    return e;
}

/* Comparisons chain as in Python: a < b < c is (a < b) and (b < c). */
static tmpl_node *parse_compare(parser *P) {
    tmpl_node *e = parse_math1(P), *left = e, *result = NULL;
    for (;;) {
        const tmpl_token *at = cur(P);
        int op;
        if (is_op(P, OP_EQ) || is_op(P, OP_NE) || is_op(P, '<') || is_op(P, '>') || is_op(P, OP_LE) ||
            is_op(P, OP_GE)) {
            op = at->op;
            next(P);
        } else if (is_name(at, "in")) {
            op = OP_IN;
            next(P);
        } else if (is_name(at, "not") && is_name(&P->t[P->pos + 1], "in")) {
            op = OP_NOTIN;
            next(P);
            next(P);
        } else {
            break;
        }
        tmpl_node *right = parse_math1(P);
        tmpl_node *cmp = binary(P, N_COMPARE, op, at, left, right);
        result = result ? binary(P, N_AND, 0, at, result, cmp) : cmp;
        left = right;
    }
    return result ? result : e;
}

static tmpl_node *parse_not(parser *P) {
    if (is_name(cur(P), "not")) {
        const tmpl_token *at = next(P);
        enter(P);
        tmpl_node *n = node(P, N_NOT, at);
        n->a = parse_not(P);
        P->depth--;
        return n;
    }
    return parse_compare(P);
}

static tmpl_node *parse_and(parser *P) {
    tmpl_node *e = parse_not(P);
    while (is_name(cur(P), "and")) {
        const tmpl_token *at = next(P);
        e = binary(P, N_AND, 0, at, e, parse_not(P));
    }
    return e;
}

static tmpl_node *parse_or(parser *P) {
    tmpl_node *e = parse_and(P);
    while (is_name(cur(P), "or")) {
        const tmpl_token *at = next(P);
        e = binary(P, N_OR, 0, at, e, parse_and(P));
    }
    return e;
}

/* `| name(args)` and `is [not] name args`, repeated. */
static tmpl_node *parse_filter_expr(parser *P, tmpl_node *e) {
    for (;;) {
        const tmpl_token *at = cur(P);
        if (is_op(P, '|')) {
            next(P);
            tmpl_node *f = node(P, N_FILTER, at);
            f->name = expect_name(P);
            if (!tmpl_filter_known(f->name))
                fail(P, at, "no filter named '%s'", f->name);
            f->a = e;
            if (is_op(P, '('))
                parse_call_args(P, f);
            e = f;
        } else if (is_name(at, "is")) {
            next(P);
            tmpl_node *t = node(P, N_TEST, at);
            t->op = skip_name(P, "not");
            t->name = expect_name(P);
            if (!tmpl_test_known(t->name))
                fail(P, at, "no test named '%s'", t->name);
            t->a = e;
            const tmpl_token *c = cur(P);
            if (is_op(P, '(')) {
                parse_call_args(P, t);
            } else if ((c->kind == T_NAME || c->kind == T_STRING || c->kind == T_INT || c->kind == T_FLOAT ||
                        is_op(P, '[') || is_op(P, '{')) &&
                       !is_name(c, "else") && !is_name(c, "or") && !is_name(c, "and")) {
                if (is_name(c, "is"))
                    fail(P, c, "you cannot chain multiple tests with is");
                kidlist l = {0};
                kid_push(P, &l, parse_postfix(P, parse_primary(P)), NULL);
                kids_set(t, &l);
            }
            e = t;
        } else if (is_op(P, '(')) {
            tmpl_node *call = node(P, N_CALL, at);
            call->a = e;
            parse_call_args(P, call);
            e = call;
        } else {
            return e;
        }
    }
}

static tmpl_node *parse_unary(parser *P, bool with_filter) {
    const tmpl_token *at = cur(P);
    tmpl_node *e;
    enter(P);
    if (is_op(P, '-') || is_op(P, '+')) {
        next(P);
        e = node(P, N_UNARY, at);
        e->op = at->op;
        e->a = parse_unary(P, false);
    } else {
        e = parse_primary(P);
    }
    e = parse_postfix(P, e);
    if (with_filter)
        e = parse_filter_expr(P, e);
    P->depth--;
    return e;
}

static tmpl_node *constant(parser *P, const tmpl_token *at, tmpl_kind k) {
    tmpl_node *n = node(P, N_CONST, at);
    n->value = palloc(P, sizeof *n->value);
    n->value->kind = k;
    return n;
}

static tmpl_node *parse_primary(parser *P) {
    const tmpl_token *at = cur(P);
    char b[64];
    switch (at->kind) {
    case T_NAME: {
        next(P);
        if (is_name(at, "true") || is_name(at, "True") || is_name(at, "false") || is_name(at, "False")) {
            tmpl_node *n = constant(P, at, TV_BOOL);
            n->value->u.b = at->s[0] == 't' || at->s[0] == 'T';
            return n;
        }
        if (is_name(at, "none") || is_name(at, "None"))
            return constant(P, at, TV_NONE);
        tmpl_node *n = node(P, N_NAME, at);
        n->name = name_str(P, at);
        return n;
    }
    case T_STRING: {
        /* Adjacent literals concatenate: 'a' "b" is 'ab'. */
        size_t len = 0, k = P->pos;
        for (; P->t[k].kind == T_STRING; k++)
            len += P->t[k].len;
        char *s = palloc(P, len + 1);
        len = 0;
        for (; P->pos < k; P->pos++) {
            memcpy(s + len, P->t[P->pos].s, P->t[P->pos].len);
            len += P->t[P->pos].len;
        }
        tmpl_node *n = constant(P, at, TV_STRING);
        n->value->u.str.s = s;
        n->value->u.str.len = len;
        return n;
    }
    case T_INT: {
        next(P);
        tmpl_node *n = constant(P, at, TV_INT);
        n->value->u.i = at->i;
        return n;
    }
    case T_FLOAT: {
        next(P);
        tmpl_node *n = constant(P, at, TV_FLOAT);
        n->value->u.f = at->f;
        return n;
    }
    case T_OP:
        if (at->op == '(') {
            next(P);
            enter(P);
            if (skip_op(P, ')')) {
                tmpl_node *t = node(P, N_TUPLE, at);
                P->depth--;
                return t;
            }
            tmpl_node *first = parse_expression(P);
            if (skip_op(P, ')')) {
                P->depth--;
                return first;
            }
            kidlist l = {0};
            kid_push(P, &l, first, NULL);
            while (skip_op(P, ',')) {
                if (is_op(P, ')'))
                    break;
                kid_push(P, &l, parse_expression(P), NULL);
            }
            expect_op(P, ')');
            tmpl_node *t = node(P, N_TUPLE, at);
            kids_set(t, &l);
            P->depth--;
            return t;
        }
        if (at->op == '[' || at->op == '{') {
            bool dict = at->op == '{';
            int close = dict ? '}' : ']';
            next(P);
            enter(P);
            kidlist l = {0};
            while (!is_op(P, close)) {
                if (l.n)
                    expect_op(P, ',');
                if (is_op(P, close))
                    break;
                kid_push(P, &l, parse_expression(P), NULL);
                if (dict) {
                    expect_op(P, ':');
                    kid_push(P, &l, parse_expression(P), NULL);
                }
            }
            expect_op(P, close);
            tmpl_node *n = node(P, dict ? N_DICT : N_LIST, at);
            kids_set(n, &l);
            P->depth--;
            return n;
        }
        break;
    default: break;
    }
    fail(P, at, "unexpected %s in an expression", describe(at, b, sizeof b));
}

/* `.name`, `.0`, `[expr]`, `[a:b:c]` and calls after a primary. */
static tmpl_node *parse_postfix(parser *P, tmpl_node *e) {
    for (;;) {
        const tmpl_token *at = cur(P);
        if (is_op(P, '.')) {
            next(P);
            if (cur(P)->kind == T_INT) {
                tmpl_node *n = node(P, N_GETITEM, at);
                n->a = e;
                n->b = constant(P, cur(P), TV_INT);
                n->b->value->u.i = next(P)->i;
                e = n;
                continue;
            }
            tmpl_node *n = node(P, N_GETATTR, at);
            n->a = e;
            n->name = expect_name(P);
            e = n;
        } else if (is_op(P, '[')) {
            next(P);
            enter(P);
            /* Jinja: x[a], x[a:b:c], and x[a, b] or x[] whose key is a tuple (never found). */
            tmpl_node *parts[3] = {NULL, NULL, NULL};
            int k = 0;
            bool slice = false;
            kidlist keys = {0};
            for (;;) {
                if (!is_op(P, ':') && !is_op(P, ']') && !is_op(P, ','))
                    parts[k] = parse_expression(P);
                if (k < 2 && !keys.n && skip_op(P, ':')) {
                    slice = true;
                    k++;
                    continue;
                }
                if (!slice && is_op(P, ',')) {
                    if (!parts[0])
                        fail(P, cur(P), "expected an expression before ','");
                    next(P);
                    kid_push(P, &keys, parts[0], NULL);
                    parts[0] = NULL;
                    if (is_op(P, ']'))
                        break;
                    continue;
                }
                break;
            }
            expect_op(P, ']');
            P->depth--;
            if (!slice && (keys.n || !parts[0])) {
                if (parts[0])
                    kid_push(P, &keys, parts[0], NULL);
                parts[0] = node(P, N_TUPLE, at);
                kids_set(parts[0], &keys);
            }
            tmpl_node *n = node(P, slice ? N_SLICE : N_GETITEM, at);
            n->a = e;
            n->b = parts[0];
            n->c = parts[1];
            n->d = parts[2];
            e = n;
        } else if (is_op(P, '(')) {
            tmpl_node *call = node(P, N_CALL, at);
            call->a = e;
            parse_call_args(P, call);
            e = call;
        } else {
            return e;
        }
    }
}

/* ---- statements ---- */

static tmpl_node *parse_body(parser *P, const char *const *ends, const char **found, const tmpl_token *opener);

static void expect_block_end(parser *P) { expect_kind(P, T_BLOCK_END, "'%}'"); }

/* Names of an assignment or loop target: `a`, `a, b`, `(a, b)`. */
static void parse_targets(parser *P, kidlist *l) {
    bool paren = skip_op(P, '(');
    do {
        if (paren && is_op(P, ')'))
            break;
        kid_push(P, l, NULL, expect_name(P));
    } while (skip_op(P, ','));
    if (paren)
        expect_op(P, ')');
}

static tmpl_node *parse_if(parser *P, const tmpl_token *at) {
    tmpl_node *n = node(P, N_IF, at);
    n->a = parse_tuple(P);
    expect_block_end(P);
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    const char *found;
    n->b = parse_body(P, ends, &found, at);
    if (!strcmp(found, "elif")) {
        n->c = parse_if(P, &P->t[P->pos - 1]);
        return n;
    }
    if (!strcmp(found, "else")) {
        expect_block_end(P);
        static const char *const end[] = {"endif", NULL};
        n->c = parse_body(P, end, &found, at);
    }
    expect_block_end(P);
    return n;
}

static tmpl_node *parse_statement(parser *P) {
    const tmpl_token *at = cur(P);
    if (at->kind != T_NAME) {
        char b[64];
        fail(P, at, "expected a statement name after '{%%', found %s", describe(at, b, sizeof b));
    }
    next(P);
    enter(P);
    tmpl_node *n;
    const char *found;
    if (is_name(at, "if")) {
        n = parse_if(P, at);
    } else if (is_name(at, "for")) {
        n = node(P, N_FOR, at);
        kidlist l = {0};
        parse_targets(P, &l);
        kids_set(n, &l);
        if (!skip_name(P, "in"))
            fail(P, cur(P), "expected 'in' in a for loop");
        n->a = parse_tuple_ex(P, false);
        if (skip_name(P, "if"))
            n->d = parse_expression(P);
        if (skip_name(P, "recursive"))
            fail(P, at, "recursive for loops are not supported");
        expect_block_end(P);
        static const char *const ends[] = {"else", "endfor", NULL};
        P->loops++;
        n->b = parse_body(P, ends, &found, at);
        P->loops--;
        if (!strcmp(found, "else")) {
            expect_block_end(P);
            static const char *const end[] = {"endfor", NULL};
            n->c = parse_body(P, end, &found, at);
        }
        expect_block_end(P);
    } else if (is_name(at, "set")) {
        kidlist l = {0};
        const tmpl_token *target = cur(P);
        const char *first = expect_name(P);
        if (is_op(P, '.')) {
            next(P);
            n = node(P, N_SET_ATTR, at);
            n->name = first;
            n->value = palloc(P, sizeof *n->value);
            n->value->kind = TV_STRING;
            n->value->u.str.s = expect_name(P);
            n->value->u.str.len = strlen(n->value->u.str.s);
            expect_op(P, '=');
            n->a = parse_tuple(P);
        } else if (is_op(P, ',') || is_op(P, '=')) {
            n = node(P, N_SET, at);
            kid_push(P, &l, NULL, first);
            while (skip_op(P, ','))
                kid_push(P, &l, NULL, expect_name(P));
            kids_set(n, &l);
            expect_op(P, '=');
            n->a = parse_tuple(P);
        } else if (cur(P)->kind == T_BLOCK_END) {
            n = node(P, N_SET_BLOCK, at);
            n->name = first;
            expect_block_end(P);
            static const char *const end[] = {"endset", NULL};
            n->b = parse_body(P, end, &found, at);
        } else {
            fail(P, target, "expected '=' after the name in a set statement");
        }
        expect_block_end(P);
    } else if (is_name(at, "macro")) {
        n = node(P, N_MACRO, at);
        n->name = expect_name(P);
        expect_op(P, '(');
        kidlist l = {0};
        bool defaults = false;
        while (!is_op(P, ')')) {
            if (l.n)
                expect_op(P, ',');
            const char *param = expect_name(P);
            tmpl_node *def = NULL;
            if (skip_op(P, '=')) {
                def = parse_expression(P);
                defaults = true;
            } else if (defaults) {
                fail(P, cur(P), "a macro parameter without a default follows one with a default");
            }
            kid_push(P, &l, def, param);
        }
        expect_op(P, ')');
        kids_set(n, &l);
        expect_block_end(P);
        static const char *const end[] = {"endmacro", NULL};
        int loops = P->loops;
        P->loops = 0; /* a macro's body is a function of its own: no loop to break out of */
        n->b = parse_body(P, end, &found, at);
        P->loops = loops;
        if (cur(P)->kind == T_NAME)
            next(P); /* {% endmacro name %} */
        expect_block_end(P);
    } else if (is_name(at, "break") || is_name(at, "continue")) {
        if (!P->loops)
            fail(P, at, "'%s' outside a for loop", is_name(at, "break") ? "break" : "continue");
        n = node(P, is_name(at, "break") ? N_BREAK : N_CONTINUE, at);
        expect_block_end(P);
    } else if (is_name(at, "generation")) {
        /* transformers' AssistantTracker extension: marks assistant text; renders its body. */
        expect_block_end(P);
        static const char *const end[] = {"endgeneration", NULL};
        n = parse_body(P, end, &found, at);
        expect_block_end(P);
    } else {
        fail(P, at, "unknown or unsupported tag '%.*s'", (int)(at->len > 40 ? 40 : at->len), at->s);
    }
    P->depth--;
    return n;
}

/* Statements until a block tag named in `ends` (which is consumed; its name in *found), or EOF
 * when ends is NULL. */
static tmpl_node *parse_body(parser *P, const char *const *ends, const char **found, const tmpl_token *opener) {
    tmpl_node *body = node(P, N_BODY, cur(P));
    kidlist l = {0};
    for (;;) {
        const tmpl_token *t = cur(P);
        if (t->kind == T_EOF) {
            if (ends) {
                const char *end = ends[0];
                for (size_t k = 0; ends[k]; k++)
                    if (!strncmp(ends[k], "end", 3))
                        end = ends[k];
                fail(P, t, "unexpected end of template: expected '{%% %s %%}' to close the '%.*s' at line %d, column %d",
                     end, (int)(opener->len > 20 ? 20 : opener->len), opener->s, opener->line, opener->col);
            }
            break;
        }
        if (t->kind == T_TEXT) {
            next(P);
            tmpl_node *n = node(P, N_TEXT, t);
            n->value = palloc(P, sizeof *n->value);
            n->value->kind = TV_STRING;
            n->value->u.str.s = t->s;
            n->value->u.str.len = t->len;
            kid_push(P, &l, n, NULL);
        } else if (t->kind == T_VAR_BEGIN) {
            next(P);
            tmpl_node *n = node(P, N_OUTPUT, t);
            n->a = parse_tuple(P);
            expect_kind(P, T_VAR_END, "'}}'");
            kid_push(P, &l, n, NULL);
        } else if (t->kind == T_BLOCK_BEGIN) {
            const tmpl_token *name = &P->t[P->pos + 1];
            for (size_t k = 0; ends && ends[k]; k++)
                if (is_name(name, ends[k])) {
                    P->pos += 2;
                    *found = ends[k];
                    kids_set(body, &l);
                    return body;
                }
            next(P);
            kid_push(P, &l, parse_statement(P), NULL);
        } else {
            char b[64];
            fail(P, t, "unexpected %s", describe(t, b, sizeof b));
        }
    }
    kids_set(body, &l);
    return body;
}

vkg_status tmpl_parse(tmpl_arena *a, const tmpl_token *toks, size_t n, tmpl_node **root) {
    parser P = {.a = a, .t = toks, .n = n};
    if (setjmp(P.fail))
        return P.status;
    const char *found;
    *root = parse_body(&P, NULL, &found, NULL);
    return VKG_OK;
}
