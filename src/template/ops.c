/*
 * ops.c — Jinja's operators with Python's semantics: + - * / // % ** on ints (64-bit, overflow is
 * an error where Python would grow) and floats (floor division and modulo take the divisor's
 * sign), bools as ints, string and list concatenation and repetition, printf-style `str % args`,
 * `in`, and comparisons (chained comparisons are expanded by the parser). Not here: evaluation
 * (eval.c), lookups (access.c).
 */
#include "template/template.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int64_t as_int(const tmpl_value *v) { return v->kind == TV_INT ? v->u.i : v->u.b; }

static _Noreturn void bad_operands(tmpl_ctx *c, const tmpl_node *at, const char *op, const tmpl_value *a,
                                   const tmpl_value *b) {
    if (a->kind == TV_UNDEFINED)
        tmpl_undefined_error(c, at, a);
    if (b->kind == TV_UNDEFINED)
        tmpl_undefined_error(c, at, b);
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

tmpl_value *tmpl_arith(tmpl_ctx *c, const tmpl_node *at, int op, tmpl_value *a, tmpl_value *b) {
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

tmpl_value *tmpl_compare_op(tmpl_ctx *c, const tmpl_node *at, int op, tmpl_value *a, tmpl_value *b) {
    switch (op) {
    case OP_EQ: return tv_bool(c, tv_equal(c, a, b));
    case OP_NE: return tv_bool(c, !tv_equal(c, a, b));
    case OP_IN: return tv_bool(c, contains(c, at, a, b));
    case OP_NOTIN: return tv_bool(c, !contains(c, at, a, b));
    default: break;
    }
    if (a->kind == TV_UNDEFINED)
        tmpl_undefined_error(c, at, a);
    if (b->kind == TV_UNDEFINED)
        tmpl_undefined_error(c, at, b);
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

