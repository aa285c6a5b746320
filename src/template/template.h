/*
 * template.h — internals of the chat-template engine (src/template): a Jinja2 interpreter for the
 * subset of the language that Hugging Face chat templates use, rendered the way
 * transformers' apply_chat_template renders (trim_blocks, lstrip_blocks, loop controls, a sandbox
 * that cannot mutate lists or dicts). Not part of the public API; include/vkgpt.h has the calls.
 *
 * Pipeline: lexer.c (source -> tokens, whitespace control) -> parser.c (tokens -> AST) ->
 * scope.c (which names each scope owns, as Jinja decides it) -> eval.c (AST + variables -> text),
 * with lookups in access.c, operators in ops.c, values in value.c, filters and tests in
 * filters.c, methods and globals in methods.c, Unicode helpers in text.c, JSON in json.c, and the
 * public calls in api.c.
 *
 * Memory: every AST node of a compiled template lives in the template's arena, every value made
 * while rendering lives in the render's arena; both are freed in one go. A render that fails
 * anywhere longjmp()s back to its entry point (tmpl_render), which frees the arena: nothing
 * else owns memory, so nothing leaks. Work, output, memory and recursion are all bounded
 * (tmpl_limits), so no template can hang or exhaust the machine.
 */
#ifndef VKG_TEMPLATE_H
#define VKG_TEMPLATE_H

#include "common.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- arena ---- */
typedef struct tmpl_chunk tmpl_chunk;
typedef struct tmpl_arena {
    tmpl_chunk *head;
    size_t used_total; /* bytes handed out, for the memory bound */
    size_t limit;      /* 0: none */
} tmpl_arena;

/* Zeroed memory from the arena; NULL when out of memory or past the limit. */
void *tmpl_arena_alloc(tmpl_arena *a, size_t n);
void tmpl_arena_free(tmpl_arena *a);

/* ---- values ---- */
typedef enum tmpl_kind {
    TV_UNDEFINED, /* a missing variable or key: prints "", is false, iterates as empty */
    TV_NONE,
    TV_BOOL,
    TV_INT,
    TV_FLOAT,
    TV_STRING,
    TV_LIST,      /* also tuples (is_tuple), which print as (a, b) */
    TV_DICT,
    TV_NAMESPACE, /* namespace(...): the only mutable object (set ns.x = ...) */
    TV_MACRO,
    TV_FUNC,      /* a built-in global (range, namespace, raise_exception, ...) */
    TV_METHOD,    /* a bound method of a string or dict: "abc".upper */
    TV_LOOP,      /* the `loop` object of a for loop */
} tmpl_kind;

typedef struct tmpl_value tmpl_value;
typedef struct tmpl_node tmpl_node;
typedef struct tmpl_scope tmpl_scope;

typedef struct tmpl_str {
    const char *s; /* not NUL-terminated in general; UTF-8 */
    size_t len;
} tmpl_str;

typedef struct tmpl_dict {
    tmpl_value **keys;
    tmpl_value **vals;
    size_t n, cap;
} tmpl_dict;

typedef struct tmpl_loop {
    int64_t index0, length;
    tmpl_value *prev, *next;
} tmpl_loop;

struct tmpl_value {
    tmpl_kind kind;
    bool is_tuple;
    union {
        bool b;
        int64_t i;
        double f;
        tmpl_str str;
        struct {
            tmpl_value **items;
            size_t n;
        } list;
        tmpl_dict *dict; /* TV_DICT and TV_NAMESPACE */
        struct {
            const tmpl_node *node;
            tmpl_scope *scope; /* where it was defined: its body sees those variables */
        } macro;
        int func; /* TV_FUNC: index into the globals table */
        struct {
            tmpl_value *self;
            const char *name;
        } method;
        tmpl_loop loop;
        const char *undef_name; /* TV_UNDEFINED: what was missing, for error messages */
    } u;
};

/* ---- AST ---- */
typedef enum tmpl_node_kind {
    /* statements */
    N_BODY, N_TEXT, N_OUTPUT, N_IF, N_FOR, N_SET, N_SET_ATTR, N_SET_BLOCK, N_MACRO, N_BREAK,
    N_CONTINUE,
    /* expressions */
    N_CONST, N_NAME, N_LIST, N_TUPLE, N_DICT, N_GETATTR, N_GETITEM, N_SLICE, N_CALL, N_FILTER,
    N_TEST, N_UNARY, N_BINARY, N_AND, N_OR, N_NOT, N_COND, N_COMPARE, N_CONCAT,
} tmpl_node_kind;

struct tmpl_node {
    tmpl_node_kind kind;
    int line, col;
    int op;               /* operator token for N_UNARY/N_BINARY/N_COMPARE; negated for N_TEST */
    const char *name;     /* N_NAME, N_GETATTR, N_FILTER, N_TEST, N_SET, N_MACRO, N_SET_ATTR attr */
    tmpl_value *value;    /* N_CONST, N_TEXT */
    tmpl_node *a, *b, *c; /* operands / condition, body, else */
    tmpl_node *d;          /* N_FOR: the `if` filter of the loop; N_SLICE: step */
    struct tmpl_frame *frame, *frame2; /* scopes (scope.c): the root N_BODY's, N_FOR's body (and
                                          frame2: its else), N_MACRO's and N_SET_BLOCK's body */
    tmpl_node **kids;     /* N_BODY statements, N_LIST/N_TUPLE/N_DICT items, call arguments,
                             N_FOR targets, N_MACRO parameter defaults (NULL = required) */
    const char **kid_names; /* keyword names of call arguments (NULL = positional); N_MACRO and
                               N_FOR parameter / target names */
    size_t n_kids;
};

/* The names a scope (Jinja's "frame") declares and how each starts when the scope is entered,
 * computed at compile time as Jinja's idtracking does (scope.c). A name assigned anywhere in a
 * scope belongs to it for the whole scope: read before the assignment (from an inner loop or a
 * macro, say), it is undefined rather than the outer or input variable of that name. */
typedef enum tmpl_ref_init {
    REF_INHERIT,   /* the value visible from outside at entry (read before written, or written
                      only in some branch of an if) */
    REF_UNDEFINED, /* written before anything reads it */
    REF_PARAM,     /* set by the entry itself: loop targets, `loop`, macro parameters */
} tmpl_ref_init;

typedef struct tmpl_frame {
    const char **names;
    unsigned char *init; /* tmpl_ref_init */
    size_t n;
} tmpl_frame;

/* Computes the frames of a parsed template (after tmpl_parse). */
vkg_status tmpl_analyze(tmpl_arena *a, tmpl_node *root);

/* ---- lexer ---- */
typedef enum tmpl_tok_kind {
    T_EOF, T_TEXT, T_VAR_BEGIN, T_VAR_END, T_BLOCK_BEGIN, T_BLOCK_END, T_NAME, T_INT, T_FLOAT,
    T_STRING, T_OP,
} tmpl_tok_kind;

/* Operators, as T_OP values (single characters use their own code). */
enum {
    OP_EQ = 256, OP_NE, OP_LE, OP_GE, OP_FLOORDIV, OP_POW, OP_IN, OP_NOTIN,
};

typedef struct tmpl_token {
    tmpl_tok_kind kind;
    int op;
    const char *s; /* T_TEXT, T_NAME, T_STRING: the text (T_STRING unescaped), in the arena */
    size_t len;
    int64_t i;
    double f;
    int line, col;
} tmpl_token;

/* Tokenises `src` (already normalised: \r\n -> \n, final newline dropped) into *toks. */
vkg_status tmpl_lex(tmpl_arena *a, const char *src, size_t len, tmpl_token **toks, size_t *n);

/* ---- parser ---- */
vkg_status tmpl_parse(tmpl_arena *a, const tmpl_token *toks, size_t n, tmpl_node **root);
/* Whether a filter or test of that name exists (the parser refuses unknown ones, as Jinja does). */
bool tmpl_filter_known(const char *name);
bool tmpl_test_known(const char *name);

/* ---- render ---- */
typedef struct tmpl_limits {
    size_t max_output;    /* bytes of rendered text */
    size_t max_memory;    /* bytes of values made while rendering */
    uint64_t max_steps;   /* nodes evaluated */
    int max_depth;        /* nested evaluation (macro recursion) */
} tmpl_limits;

tmpl_limits tmpl_default_limits(void);

typedef struct tmpl_ctx tmpl_ctx;

struct tmpl_scope {
    tmpl_scope *parent;
    tmpl_dict vars;
    bool captured; /* a macro defined here keeps it: a loop must not reuse it for the next item */
};

struct tmpl_ctx {
    tmpl_arena arena;
    tmpl_limits limits;
    jmp_buf fail;
    vkg_status fail_status;
    char *out;            /* malloc'd output buffer (the one thing outside the arena) */
    size_t out_len, out_cap;
    uint64_t steps;
    int depth;
    tmpl_scope *root;
    int loop_ctl;         /* a pending break (1) or continue (2) */
};

/* Renders the compiled AST with the variables in `vars` (a dict value made in ctx's arena).
 * On success *out is malloc'd, NUL-terminated. */
vkg_status tmpl_render(const tmpl_node *root, const tmpl_limits *limits, json_t *vars,
                       char **out, size_t *out_len);

/* Raise a render error: records the message (with the node's place when given) and longjmp()s. */
_Noreturn void tmpl_raise(tmpl_ctx *c, const tmpl_node *at, vkg_status st, const char *fmt, ...)
    VKG_PRINTF(4, 5);

/* value.c */
tmpl_value *tv_new(tmpl_ctx *c, tmpl_kind k);
tmpl_value *tv_int(tmpl_ctx *c, int64_t i);
tmpl_value *tv_float(tmpl_ctx *c, double f);
tmpl_value *tv_bool(tmpl_ctx *c, bool b);
tmpl_value *tv_str(tmpl_ctx *c, const char *s, size_t len); /* copies */
tmpl_value *tv_strz(tmpl_ctx *c, const char *s);
tmpl_value *tv_list(tmpl_ctx *c, size_t n);                /* n items, NULL-filled */
tmpl_value *tv_dict(tmpl_ctx *c);
tmpl_value *tv_none(void);
tmpl_value *tv_undef(tmpl_ctx *c, const char *name);
void *tv_alloc(tmpl_ctx *c, size_t n);
void tv_dict_set(tmpl_ctx *c, tmpl_dict *d, tmpl_value *k, tmpl_value *v);
tmpl_value *tv_dict_get(const tmpl_dict *d, const tmpl_value *k);
tmpl_value *tv_dict_gets(const tmpl_dict *d, const char *key, size_t len);
bool tv_truthy(const tmpl_value *v);
bool tv_equal(tmpl_ctx *c, const tmpl_value *a, const tmpl_value *b);
/* -1, 0, 1; raises for values Python cannot order. */
int tv_compare(tmpl_ctx *c, const tmpl_node *at, const tmpl_value *a, const tmpl_value *b);
const char *tv_type_name(const tmpl_value *v);
bool tv_is_number(const tmpl_value *v); /* bool, int, float */
double tv_as_double(const tmpl_value *v);

/* A growable byte buffer in the arena. */
typedef struct tmpl_buf {
    char *s;
    size_t len, cap;
} tmpl_buf;
void tb_put(tmpl_ctx *c, tmpl_buf *b, const char *s, size_t n);
void tb_puts(tmpl_ctx *c, tmpl_buf *b, const char *s);
/* str(v) as Python prints it (None, True, 1.5, [1, 'a'], ...); undefined is "". */
void tv_to_str(tmpl_ctx *c, tmpl_buf *b, const tmpl_value *v);
tmpl_str tv_str_of(tmpl_ctx *c, const tmpl_value *v);
/* repr(v): strings quoted. */
void tv_repr(tmpl_ctx *c, tmpl_buf *b, const tmpl_value *v, int depth);
/* Python's repr of a float ("1.0", "1e+16", "inf"). */
void tv_format_float(double f, char *out, size_t cap);
/* Code points of a UTF-8 string: count, and byte offset of code point k. */
size_t tv_utf8_len(const char *s, size_t len);
size_t tv_utf8_next(const char *s, size_t len, size_t at);

/* json.c */
tmpl_value *tv_from_json(tmpl_ctx *c, json_t *j, int depth);
/* json.dumps(v, ensure_ascii=False, indent, separators, sort_keys) */
void tv_tojson(tmpl_ctx *c, const tmpl_node *at, tmpl_buf *b, const tmpl_value *v, const char *indent,
               int indent_len, const char *item_sep, const char *key_sep, bool sort_keys, int level);

/* Call arguments, evaluated. */
typedef struct tmpl_args {
    tmpl_value **pos;
    size_t n_pos;
    const char **kw_names;
    tmpl_value **kw;
    size_t n_kw;
} tmpl_args;
/* Positional argument i or keyword `name`, else NULL; marks it used. */
tmpl_value *targ(const tmpl_args *a, size_t i, const char *name);

/* filters.c */
tmpl_value *tmpl_filter(tmpl_ctx *c, const tmpl_node *at, const char *name, tmpl_value *v,
                        const tmpl_args *args);
bool tmpl_test(tmpl_ctx *c, const tmpl_node *at, const char *name, tmpl_value *v, const tmpl_args *args);

/* methods.c */
tmpl_value *tmpl_call_method(tmpl_ctx *c, const tmpl_node *at, tmpl_value *self, const char *name,
                             const tmpl_args *args);
/* Whether `self` (a string or dict) has method `name`. */
bool tmpl_has_method(const tmpl_value *self, const char *name);
tmpl_value *tmpl_call_global(tmpl_ctx *c, const tmpl_node *at, int func, const tmpl_args *args);
/* Index of a built-in global, or -1. */
int tmpl_global_index(const char *name);
const char *tmpl_global_name(int func);

/* access.c */
_Noreturn void tmpl_undefined_error(tmpl_ctx *c, const tmpl_node *at, const tmpl_value *v);
tmpl_value *tmpl_slice(tmpl_ctx *c, const tmpl_node *at, tmpl_value *obj, tmpl_value *lo, tmpl_value *hi,
                       tmpl_value *st);
/* ops.c: binary arithmetic (op: + - * / % OP_FLOORDIV OP_POW) and comparisons (== != < > OP_LE
 * OP_GE OP_IN OP_NOTIN). */
tmpl_value *tmpl_arith(tmpl_ctx *c, const tmpl_node *at, int op, tmpl_value *a, tmpl_value *b);
tmpl_value *tmpl_compare_op(tmpl_ctx *c, const tmpl_node *at, int op, tmpl_value *a, tmpl_value *b);

/* access.c, for filters that call back (map, select) */
tmpl_value *tmpl_getattr(tmpl_ctx *c, const tmpl_node *at, tmpl_value *obj, const char *name, size_t len);
tmpl_value *tmpl_getitem(tmpl_ctx *c, const tmpl_node *at, tmpl_value *obj, tmpl_value *key);
/* Items of an iterable (list, tuple, dict keys, string characters); raises for others. */
tmpl_value **tmpl_iterate(tmpl_ctx *c, const tmpl_node *at, tmpl_value *v, size_t *n);
void tmpl_step(tmpl_ctx *c, const tmpl_node *at);

/* api.c: vkg_template_apply with explicit limits (the fuzz target and the tests lower them). */
vkg_status tmpl_apply_limited(const vkg_template *t, const char *messages_json, const char *tools_json,
                              bool add_generation_prompt, const vkg_template_tokens *special,
                              const char *extra_json, const tmpl_limits *limits, char **out, size_t *out_len);

/* gguf_source.c: whether `path` is a GGUF file (by its magic), and its tokenizer.chat_template
 * (*source, malloc'd; NULL when absent) and the text of its bos/eos/unk/pad token ids (tokens[r],
 * malloc'd; NULL when absent). */
bool tmpl_is_gguf(const char *path);
vkg_status tmpl_gguf_read(const char *path, char **source, char *tokens[4]);

#endif /* VKG_TEMPLATE_H */
