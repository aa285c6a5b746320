/*
 * tests/coopmat_khr_check.c — see coopmat_khr_check.h. Written from the SPIR-V specification and
 * SPV_KHR_cooperative_matrix, not from the translator: its opcode table is its own (and is itself
 * checked against spirv-dis by the test), and it judges the output by the extension's rules
 * (uses consistent with every multiply-add and conversion, layouts and strides present, constants
 * defined before use) plus a lockstep walk that proves every other instruction is unchanged.
 */
#include "coopmat_khr_check.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Opcode numbers (SPIR-V 1.6 unified, SPV_NV_cooperative_matrix, SPV_KHR_cooperative_matrix).
 * Extension strings are compared with memcmp on the words: a little-endian host, like glslang's. */
#define K_OP_EXTENSION 10
#define K_OP_CAPABILITY 17
#define K_OP_TYPE_INT 21
#define K_OP_CONSTANT_TRUE 41
#define K_OP_CONSTANT_FALSE 42
#define K_OP_CONSTANT 43
#define K_OP_SPEC_CONSTANT_OP 52
#define K_OP_TYPE_COOPMAT 4456
#define K_OP_LOAD 4457
#define K_OP_STORE 4458
#define K_OP_MULADD 4459
#define K_OP_LENGTH 4460
#define NV_OP_TYPE_COOPMAT 5358
#define NV_OP_LOAD 5359
#define NV_OP_STORE 5360
#define NV_OP_MULADD 5361
#define NV_OP_LENGTH 5362
#define CAP_VULKAN_MEMORY_MODEL 5345
#define CAP_COOPMAT_NV 5357
#define CAP_COOPMAT_KHR 6022

int khr_check_result_layout(uint32_t op, int *has_type, int *has_result) {
    /* No result: debug, annotations, mode setting, stores, barriers, control flow. */
    static const uint16_t none[] = {0,   2,   3,   4,   5,   6,   8,   10,  14,  15,  16,  17,
                                    39,  56,  62,  63,  64,  71,  72,  74,  75,  99,  218, 219,
                                    220, 221, 224, 225, 228, 246, 247, 249, 250, 251, 252, 253,
                                    254, 255, 256, 257, 260, 280, 281, 287, 288, 297, 298, 301,
                                    302, 317, 319, 329, 330, 331, 332, 4416, K_OP_STORE, 5380,
                                    NV_OP_STORE, 5632, 5633};
    /* Result <id> but no Result Type: strings, ext imports, types, decoration groups, labels. */
    static const uint16_t id_only[] = {7, 11, 73, 248, 322, 327, K_OP_TYPE_COOPMAT, 4472, 5341,
                                       NV_OP_TYPE_COOPMAT};
    /* Result Type and Result <id>: everything else in these ranges. */
    static const uint16_t typed[][2] = {
        {1, 1},       {12, 12},     {41, 46},     {48, 52},     {54, 55},     {57, 57},
        {59, 61},     {65, 70},     {77, 84},     {86, 98},     {100, 107},   {109, 124},
        {126, 152},   {154, 191},   {194, 205},   {207, 215},   {227, 227},   {229, 242},
        {245, 245},   {259, 259},   {261, 271},   {274, 279},   {282, 286},   {291, 296},
        {299, 300},   {303, 315},   {318, 318},   {320, 321},   {323, 326},   {328, 328},
        {333, 366},   {400, 403},   {4421, 4422}, {4428, 4432}, {4450, 4455}, {K_OP_LOAD, K_OP_LOAD},
        {K_OP_MULADD, K_OP_LENGTH}, {NV_OP_LOAD, NV_OP_LOAD}, {NV_OP_MULADD, NV_OP_LENGTH}};
    *has_type = *has_result = 0;
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        if (none[i] == op)
            return 0;
    *has_result = 1;
    if (op >= 19 && op <= 38)
        return 0;
    for (size_t i = 0; i < sizeof id_only / sizeof id_only[0]; i++)
        if (id_only[i] == op)
            return 0;
    *has_type = 1;
    for (size_t i = 0; i < sizeof typed / sizeof typed[0]; i++)
        if (op >= typed[i][0] && op <= typed[i][1])
            return 0;
    *has_type = *has_result = 0;
    return -1;
}

typedef struct mod {
    const uint32_t *w;
    size_t n;
    uint32_t bound;
    uint32_t *def; /* [bound]: offset of the instruction defining each id, 0 = none */
} mod;

typedef struct chk {
    mod in, out;
    char *msg;
    size_t msg_size;
} chk;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static int bad(chk *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, c->msg_size, fmt, ap);
    va_end(ap);
    return 1;
}

static uint32_t op_at(const mod *m, size_t off) { return m->w[off] & 0xffffu; }
static uint32_t wc_at(const mod *m, size_t off) { return m->w[off] >> 16; }

static int parse(chk *c, mod *m, const uint32_t *w, size_t n, const char *which) {
    m->w = w;
    m->n = n;
    if (n < 5 || w[0] != 0x07230203u)
        return bad(c, "%s: no SPIR-V header", which);
    m->bound = w[3];
    if (m->bound == 0 || m->bound > (1u << 22))
        return bad(c, "%s: implausible id bound %u", which, (unsigned)m->bound);
    m->def = calloc(m->bound, sizeof *m->def);
    if (!m->def)
        return bad(c, "%s: out of memory", which);
    for (size_t off = 5; off < n; off += wc_at(m, off)) {
        uint32_t wc = wc_at(m, off), op = op_at(m, off);
        int has_type, has_result;
        if (wc == 0 || wc > n - off)
            return bad(c, "%s word %zu: word count %u does not fit", which, off, (unsigned)wc);
        if (khr_check_result_layout(op, &has_type, &has_result))
            return bad(c, "%s word %zu: opcode %u is not in the checker's table", which, off,
                       (unsigned)op);
        if (!has_result)
            continue;
        uint32_t k = has_type ? 2 : 1;
        if (wc <= k)
            return bad(c, "%s word %zu: opcode %u too short for its result", which, off, (unsigned)op);
        uint32_t id = w[off + k];
        if (id == 0 || id >= m->bound)
            return bad(c, "%s word %zu: result id %u not below the bound %u", which, off,
                       (unsigned)id, (unsigned)m->bound);
        if (m->def[id])
            return bad(c, "%s word %zu: result id %u already defined at word %u", which, off,
                       (unsigned)id, (unsigned)m->def[id]);
        m->def[id] = (uint32_t)off;
    }
    return 0;
}

/* Offset of the instruction defining id with opcode op, or 0. */
static size_t def_with(const mod *m, uint32_t id, uint32_t op) {
    if (id == 0 || id >= m->bound || !m->def[id])
        return 0;
    return op_at(m, m->def[id]) == op ? m->def[id] : 0;
}

/* Is id an OpConstant of a 32-bit OpTypeInt (either signedness)? Stores its value. */
static bool int32_const(const mod *m, uint32_t id, uint32_t *value) {
    size_t d = def_with(m, id, K_OP_CONSTANT);
    if (!d || wc_at(m, d) != 4)
        return false;
    size_t t = def_with(m, m->w[d + 1], K_OP_TYPE_INT);
    if (!t || m->w[t + 2] != 32)
        return false;
    *value = m->w[d + 3];
    return true;
}

/* Same id, or two 32-bit int constants of equal value. */
static bool same_value(const mod *m, uint32_t a, uint32_t b) {
    uint32_t va, vb;
    return a == b || (int32_const(m, a, &va) && int32_const(m, b, &vb) && va == vb);
}

/* The type of value id (the Result Type of its defining instruction), or 0. */
static uint32_t type_of(const mod *m, uint32_t id) {
    int has_type, has_result;
    if (id == 0 || id >= m->bound || !m->def[id])
        return 0;
    size_t d = m->def[id];
    if (khr_check_result_layout(op_at(m, d), &has_type, &has_result) || !has_type)
        return 0;
    return m->w[d + 1];
}

/* Use (0..2) of KHR matrix type t, or -1 when t is not one or its Use is not a valid constant. */
static int use_of(const mod *m, uint32_t t) {
    size_t d = def_with(m, t, K_OP_TYPE_COOPMAT);
    uint32_t v;
    if (!d || wc_at(m, d) != 7 || !int32_const(m, m->w[d + 6], &v) || v > 2)
        return -1;
    return (int)v;
}

/* Word k (2 scope, 3 rows, 4 columns) of the declaration of KHR matrix type t. */
static uint32_t dim(const mod *m, uint32_t t, int k) {
    return m->w[def_with(m, t, K_OP_TYPE_COOPMAT) + (size_t)k + 1];
}

static int check_type(chk *c, size_t off, khr_stats *st) {
    const mod *m = &c->out;
    if (wc_at(m, off) != 7)
        return bad(c, "word %zu: OpTypeCooperativeMatrixKHR has %u words, not 7", off,
                   (unsigned)wc_at(m, off));
    for (int k = 2; k <= 6; k++) { /* component type, scope, rows, columns, use: defined before */
        uint32_t id = m->w[off + (size_t)k];
        if (id >= m->bound || !m->def[id] || m->def[id] >= off)
            return bad(c, "word %zu: OpTypeCooperativeMatrixKHR operand %d (%%%u) is not defined "
                          "before it",
                       off, k, (unsigned)id);
    }
    int u = use_of(m, m->w[off + 1]);
    if (u < 0)
        return bad(c, "word %zu: the Use of OpTypeCooperativeMatrixKHR %%%u is not a 32-bit int "
                      "OpConstant 0, 1 or 2",
                   off, (unsigned)m->w[off + 1]);
    st->uses[u]++;
    return 0;
}

static int check_muladd(chk *c, size_t off) {
    static const char *const name[] = {"result type", "A", "B", "C"};
    static const int want[] = {2, 0, 1, 2};
    const mod *m = &c->out;
    uint32_t t[4];
    if (wc_at(m, off) < 6)
        return bad(c, "word %zu: OpCooperativeMatrixMulAddKHR too short", off);
    t[0] = m->w[off + 1];
    for (int i = 1; i < 4; i++)
        t[i] = type_of(m, m->w[off + 2 + (size_t)i]);
    for (int i = 0; i < 4; i++)
        if (use_of(m, t[i]) != want[i])
            return bad(c, "word %zu: OpCooperativeMatrixMulAddKHR %s has type %%%u with use %d, "
                          "needs %d",
                       off, name[i], (unsigned)t[i], use_of(m, t[i]), want[i]);
    /* M x K by K x N plus M x N, all in one scope. */
    if (!same_value(m, dim(m, t[1], 3), dim(m, t[0], 3)) ||
        !same_value(m, dim(m, t[1], 4), dim(m, t[2], 3)) ||
        !same_value(m, dim(m, t[2], 4), dim(m, t[0], 4)) ||
        !same_value(m, dim(m, t[3], 3), dim(m, t[0], 3)) ||
        !same_value(m, dim(m, t[3], 4), dim(m, t[0], 4)))
        return bad(c, "word %zu: OpCooperativeMatrixMulAddKHR dimensions do not chain", off);
    for (int i = 1; i < 4; i++)
        if (!same_value(m, dim(m, t[i], 2), dim(m, t[0], 2)))
            return bad(c, "word %zu: OpCooperativeMatrixMulAddKHR operand scopes differ", off);
    return 0;
}

/* A load or store: layout (word kl) an int constant 0/1, stride (kl + 1) an integer value. */
static int check_mem(chk *c, size_t off, uint32_t matrix_type, uint32_t kl, khr_stats *st) {
    const mod *m = &c->out;
    uint32_t layout;
    if (wc_at(m, off) < kl + 2)
        return bad(c, "word %zu: cooperative-matrix load/store without layout and stride", off);
    if (use_of(m, matrix_type) < 0)
        return bad(c, "word %zu: load/store of %%%u, not a KHR matrix type", off,
                   (unsigned)matrix_type);
    if (!int32_const(m, m->w[off + kl], &layout) || layout > 1)
        return bad(c, "word %zu: MemoryLayout %%%u is not a 32-bit int constant 0 or 1", off,
                   (unsigned)m->w[off + kl]);
    if (!def_with(m, type_of(m, m->w[off + kl + 1]), K_OP_TYPE_INT))
        return bad(c, "word %zu: Stride %%%u is not an integer value", off,
                   (unsigned)m->w[off + kl + 1]);
    if (layout)
        st->col_major++;
    else
        st->row_major++;
    return 0;
}

/* The input instruction at i and the output one at j are the same up to the translation. */
static int check_pair(chk *c, size_t i, size_t j) {
    const mod *a = &c->in, *b = &c->out;
    uint32_t op = op_at(a, i), wc = wc_at(a, i);
    const uint32_t *x = a->w + i, *y = b->w + j;
    static const uint32_t khr_of[] = {K_OP_TYPE_COOPMAT, K_OP_LOAD, K_OP_STORE, K_OP_MULADD, K_OP_LENGTH};
    if (op >= NV_OP_TYPE_COOPMAT && op <= NV_OP_LENGTH) {
        uint32_t want = khr_of[op - NV_OP_TYPE_COOPMAT];
        if (op_at(b, j) != want)
            return bad(c, "word %zu: NV opcode %u became %u, not %u", j, (unsigned)op,
                       (unsigned)op_at(b, j), (unsigned)want);
        if (op == NV_OP_TYPE_COOPMAT)
            return wc_at(b, j) == 7 && !memcmp(x + 1, y + 1, 5 * sizeof *x)
                       ? 0
                       : bad(c, "word %zu: matrix type operands changed", j);
        if (wc_at(b, j) != wc)
            return bad(c, "word %zu: word count changed from %u", j, (unsigned)wc);
        if (op == NV_OP_MULADD || op == NV_OP_LENGTH)
            return memcmp(x + 1, y + 1, (wc - 1) * sizeof *x)
                       ? bad(c, "word %zu: operands changed", j)
                       : 0;
        uint32_t ks = op == NV_OP_LOAD ? 4 : 3, flag = x[ks + 1], layout = 99;
        bool is_true = def_with(a, flag, K_OP_CONSTANT_TRUE), is_false = def_with(a, flag, K_OP_CONSTANT_FALSE);
        if (!is_true && !is_false)
            return bad(c, "input word %zu: ColumnMajor is not OpConstantTrue/False", i);
        int32_const(b, y[ks], &layout);
        if (layout != (is_true ? 1u : 0u))
            return bad(c, "word %zu: ColumnMajor %s became layout %u", j, is_true ? "true" : "false",
                       (unsigned)layout);
        if (memcmp(x + 1, y + 1, (ks - 1) * sizeof *x) || x[ks] != y[ks + 1] ||
            memcmp(x + ks + 2, y + ks + 2, (wc - ks - 2) * sizeof *x))
            return bad(c, "word %zu: load/store operands other than the layout changed", j);
        return 0;
    }
    if (op == K_OP_CAPABILITY && wc == 2 && x[1] == CAP_COOPMAT_NV)
        return y[0] == x[0] && y[1] == CAP_COOPMAT_KHR ? 0 : bad(c, "word %zu: capability not KHR", j);
    if (op == K_OP_EXTENSION && wc == 8 && !memcmp(x + 1, "SPV_NV_cooperative_matrix", 26))
        return op_at(b, j) == K_OP_EXTENSION && wc_at(b, j) == 8 &&
                       !memcmp(y + 1, "SPV_KHR_cooperative_matrix", 27)
                   ? 0
                   : bad(c, "word %zu: extension not SPV_KHR_cooperative_matrix", j);
    if (op == K_OP_SPEC_CONSTANT_OP && wc >= 4 && x[3] == NV_OP_LENGTH)
        return y[0] == x[0] && y[3] == K_OP_LENGTH && !memcmp(x + 1, y + 1, 2 * sizeof *x) &&
                       !memcmp(x + 4, y + 4, (wc - 4) * sizeof *x)
                   ? 0
                   : bad(c, "word %zu: OpSpecConstantOp length not rewritten to KHR", j);
    if (wc_at(b, j) != wc || memcmp(x, y, wc * sizeof *x))
        return bad(c, "word %zu (input word %zu): instruction (opcode %u) changed", j, i, (unsigned)op);
    return 0;
}

static int check_out(chk *c, khr_stats *st) {
    const mod *m = &c->out, *in = &c->in;
    bool cap = false, ext = false, vmm = false;
    uint32_t early[3] = {0, 0, 0}, in_uint = 0;
    size_t in_first_type = 0;

    /* Input facts: its uint type and the uint constants 0..2 before its first matrix type. */
    for (size_t off = 5; off < in->n && !in_first_type; off += wc_at(in, off)) {
        uint32_t op = op_at(in, off), v;
        if (wc_at(in, off) != 4)
            op = 0; /* neither a 32-bit OpTypeInt nor a 32-bit OpConstant */
        if (op == K_OP_TYPE_INT && in->w[off + 2] == 32 && in->w[off + 3] == 0)
            in_uint = in->w[off + 1];
        if (op == K_OP_CONSTANT && in_uint && in->w[off + 1] == in_uint && int32_const(in, in->w[off + 2], &v) &&
            v < 3 && !early[v])
            early[v] = in->w[off + 2];
        if (op_at(in, off) == NV_OP_TYPE_COOPMAT)
            in_first_type = off;
    }

    if (m->w[1] != in->w[1] || m->w[2] != in->w[2] || m->w[4] != in->w[4] || m->bound < in->bound)
        return bad(c, "header: version, generator or schema changed, or the bound shrank");
    st->new_ids = m->bound - in->bound;
    for (uint32_t id = in->bound; id < m->bound; id++) {
        size_t d = m->def[id];
        uint32_t v;
        if (!d)
            return bad(c, "new id %u (below the new bound) is never defined", (unsigned)id);
        if (op_at(m, d) == K_OP_TYPE_INT && wc_at(m, d) == 4 && m->w[d + 2] == 32 && m->w[d + 3] == 0) {
            if (in_uint)
                return bad(c, "word %zu: a second OpTypeInt 32 0 was added", d);
            st->added_int_types++;
        } else if (!(int32_const(m, id, &v) && v < 3)) {
            return bad(c, "word %zu: new id %u is not a uint constant 0..2", d, (unsigned)id);
        } else if (early[v]) {
            return bad(c, "word %zu: new constant %u although %%%u = %u precedes the first matrix type",
                       d, (unsigned)v, (unsigned)early[v], (unsigned)v);
        }
    }

    for (size_t off = 5; off < m->n; off += wc_at(m, off)) {
        uint32_t op = op_at(m, off), wc = wc_at(m, off);
        const uint32_t *w = m->w + off;
        if (op >= NV_OP_TYPE_COOPMAT && op <= NV_OP_LENGTH)
            return bad(c, "word %zu: NV opcode %u left", off, (unsigned)op);
        if (op == K_OP_CAPABILITY && wc == 2) {
            if (w[1] == CAP_COOPMAT_NV)
                return bad(c, "word %zu: CooperativeMatrixNV capability left", off);
            cap |= w[1] == CAP_COOPMAT_KHR;
            vmm |= w[1] == CAP_VULKAN_MEMORY_MODEL;
        }
        if (op == K_OP_EXTENSION) {
            if (wc == 8 && !memcmp(w + 1, "SPV_NV_cooperative_matrix", 26))
                return bad(c, "word %zu: SPV_NV_cooperative_matrix extension left", off);
            ext |= wc == 8 && !memcmp(w + 1, "SPV_KHR_cooperative_matrix", 27);
        }
        if (op == K_OP_SPEC_CONSTANT_OP && wc >= 4 && w[3] >= NV_OP_TYPE_COOPMAT && w[3] <= NV_OP_LENGTH)
            return bad(c, "word %zu: OpSpecConstantOp with NV opcode %u", off, (unsigned)w[3]);
        int rc = 0;
        if (op == K_OP_TYPE_COOPMAT) {
            st->types++;
            rc = check_type(c, off, st);
        } else if (op == K_OP_MULADD) {
            st->muladds++;
            rc = check_muladd(c, off);
        } else if (op == K_OP_LOAD) {
            st->loads++;
            rc = check_mem(c, off, w[1], 4, st);
        } else if (op == K_OP_STORE) {
            st->stores++;
            rc = check_mem(c, off, type_of(m, w[2]), 3, st);
        } else if (op == K_OP_LENGTH || (op == K_OP_SPEC_CONSTANT_OP && wc == 5 && w[3] == K_OP_LENGTH)) {
            st->lengths++;
            if (use_of(m, w[op == K_OP_LENGTH ? 3 : 4]) < 0)
                rc = bad(c, "word %zu: length of a non-KHR-matrix type", off);
        } else if (op >= 109 && op <= 115 && wc == 4 && use_of(m, w[1]) >= 0) {
            /* OpConvertFToU .. OpFConvert: same scope, rows, columns and use on both sides */
            uint32_t from = type_of(m, w[3]);
            st->conversions++;
            if (use_of(m, from) != use_of(m, w[1]) || !same_value(m, dim(m, from, 2), dim(m, w[1], 2)) ||
                !same_value(m, dim(m, from, 3), dim(m, w[1], 3)) || !same_value(m, dim(m, from, 4), dim(m, w[1], 4)))
                rc = bad(c, "word %zu: conversion between matrices of different use or shape", off);
        }
        if (rc)
            return rc;
    }
    if (!cap || !ext || !vmm)
        return bad(c, "missing: %s%s%s", cap ? "" : "OpCapability CooperativeMatrixKHR; ",
                   ext ? "" : "OpExtension SPV_KHR_cooperative_matrix; ",
                   vmm ? "" : "OpCapability VulkanMemoryModel (KHR requires it with Shader)");

    /* Lockstep: skipping the instructions that define the new ids, the output is the input with
     * only the cooperative-matrix instructions, the capability, the extension and length rewritten.
     * (So the count of every other instruction is unchanged, and so is their order.) */
    size_t i = 5, j = 5;
    for (;;) {
        while (j < m->n) {
            int has_type, has_result;
            khr_check_result_layout(op_at(m, j), &has_type, &has_result);
            if (!has_result || m->w[j + (has_type ? 2 : 1)] < in->bound)
                break;
            j += wc_at(m, j);
        }
        if (i >= in->n || j >= m->n)
            break;
        if (check_pair(c, i, j))
            return 1;
        i += wc_at(in, i);
        j += wc_at(m, j);
    }
    if (i < in->n || j < m->n)
        return bad(c, "instruction counts differ: input stops at word %zu of %zu, output at %zu of %zu",
                   i, in->n, j, m->n);
    return 0;
}

int khr_check(const uint32_t *in, size_t n_in, const uint32_t *out, size_t n_out, khr_stats *st,
              char *msg, size_t msg_size) {
    chk c = {.msg = msg, .msg_size = msg_size};
    memset(st, 0, sizeof *st);
    msg[0] = 0;
    int rc = parse(&c, &c.in, in, n_in, "input") || parse(&c, &c.out, out, n_out, "output") ||
             check_out(&c, st);
    free(c.in.def);
    free(c.out.def);
    return rc;
}
