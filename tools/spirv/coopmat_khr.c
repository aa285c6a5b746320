/*
 * tools/spirv/coopmat_khr.c — SPV_NV_cooperative_matrix -> SPV_KHR_cooperative_matrix, see
 * coopmat_khr.h for what is rewritten. Three walks over the instructions: (1) structure, result ids
 * and the landmarks (capability, extension, OpTypeInt 32 0, early uint constants, first matrix type);
 * (2) the use of each matrix type and the layout of each load/store; (3) the output. Not a
 * validator and no file I/O (the command line is coopmat_khr_main.c).
 *
 * Numbers are from the SPIR-V registry (core grammar, SPV_NV_cooperative_matrix,
 * SPV_KHR_cooperative_matrix).
 */
#include "spirv/coopmat_khr.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    SPV_MAGIC = 0x07230203,
    SPV_MAGIC_SWAPPED = 0x03022307,
    SPV_VERSION_1_3 = 0x00010300, /* both cooperative-matrix extensions need SPIR-V 1.3 */
    HEADER_WORDS = 5,             /* magic, version, generator, id bound, schema */
    /* The SPIR-V universal limit on the id bound; also keeps the per-id tables below 20 MB. */
    ID_BOUND_MAX = 4194303,

    OP_UNDEF = 1,
    OP_EXTENSION = 10,
    OP_CAPABILITY = 17,
    OP_TYPE_INT = 21,
    OP_CONSTANT_TRUE = 41,
    OP_CONSTANT_FALSE = 42,
    OP_CONSTANT = 43,
    OP_CONSTANT_COMPOSITE = 44,
    OP_CONSTANT_NULL = 46,
    OP_SPEC_CONSTANT_TRUE = 48,
    OP_SPEC_CONSTANT_FALSE = 49,
    OP_SPEC_CONSTANT_COMPOSITE = 51,
    OP_SPEC_CONSTANT_OP = 52,
    OP_FUNCTION_PARAMETER = 55,
    OP_FUNCTION_CALL = 57,
    OP_LOAD = 61,
    OP_COMPOSITE_CONSTRUCT = 80,
    OP_COMPOSITE_EXTRACT = 81,
    OP_COMPOSITE_INSERT = 82,
    OP_COPY_OBJECT = 83,
    OP_CONVERT_F_TO_U = 109, /* .. OP_F_CONVERT: the conversions KHR allows on matrices */
    OP_F_CONVERT = 115,
    OP_S_NEGATE = 126, /* .. OP_F_DIV: negation, add, sub, mul, div */
    OP_F_DIV = 136,
    OP_MATRIX_TIMES_SCALAR = 143,
    OP_SELECT = 169,
    OP_PHI = 245,

    OP_TYPE_COOPMAT_KHR = 4456,
    OP_COOPMAT_LOAD_KHR = 4457,
    OP_COOPMAT_STORE_KHR = 4458,
    OP_COOPMAT_MULADD_KHR = 4459,
    OP_COOPMAT_LENGTH_KHR = 4460,
    OP_TYPE_COOPMAT_NV = 5358,
    OP_COOPMAT_LOAD_NV = 5359,
    OP_COOPMAT_STORE_NV = 5360,
    OP_COOPMAT_MULADD_NV = 5361,
    OP_COOPMAT_LENGTH_NV = 5362,

    CAP_COOPMAT_NV = 5357,
    CAP_COOPMAT_KHR = 6022,

    /* Cooperative Matrix Use and Layout values (SPV_KHR_cooperative_matrix). */
    USE_A = 0,
    USE_B = 1,
    USE_ACC = 2,
    LAYOUT_ROW_MAJOR = 0,
    LAYOUT_COL_MAJOR = 1,
};

static const char EXT_NV[] = "SPV_NV_cooperative_matrix";
static const char EXT_KHR[] = "SPV_KHR_cooperative_matrix";
static const char *const USE_NAME[3] = {"MatrixA", "MatrixB", "MatrixAccumulator"};

/* ---- what an opcode's result looks like ------------------------------------------------------- */

enum { RES_UNKNOWN, RES_NONE, RES_ID, RES_TYPED };

/* Opcodes (core SPIR-V 1.6 and the extensions glslang emits for compute) whose words are
 * [Result Type, Result <id>, ...], as closed ranges. */
static const uint16_t TYPED_RANGES[][2] = {
    {1, 1},       {12, 12},     {41, 46},     {48, 52},     {54, 55},     {57, 57},
    {59, 61},     {65, 70},     {77, 84},     {86, 98},     {100, 107},   {109, 124},
    {126, 152},   {154, 191},   {194, 205},   {207, 215},   {227, 227},   {229, 242},
    {245, 245},   {259, 259},   {261, 271},   {274, 279},   {282, 286},   {291, 296},
    {299, 300},   {303, 315},   {318, 318},   {320, 321},   {323, 326},   {328, 328},
    {333, 366},   {400, 403},   {4421, 4422}, {4428, 4432}, {4450, 4455}, {4457, 4457},
    {4459, 4460}, {5000, 5007}, {5056, 5056}, {5359, 5359}, {5361, 5362},
};

static int result_kind(uint32_t op) {
    switch (op) {
    case 0: case 2: case 3: case 4: case 5: case 6: case 8: case 10: case 14: case 15: case 16:
    case 17: case 39: case 56: case 62: case 63: case 64: case 71: case 72: case 74: case 75:
    case 99: case 218: case 219: case 220: case 221: case 224: case 225: case 228: case 246:
    case 247: case 249: case 250: case 251: case 252: case 253: case 254: case 255: case 256:
    case 257: case 260: case 280: case 281: case 287: case 288: case 297: case 298: case 301:
    case 302: case 317: case 319: case 329: case 330: case 331: case 332: case 4416:
    case OP_COOPMAT_STORE_KHR: case OP_COOPMAT_STORE_NV: case 5380: case 5632: case 5633:
        return RES_NONE;
    case 7: case 11: case 73: case 248: case 322: case 327: case OP_TYPE_COOPMAT_KHR: case 4472:
    case 5341: case OP_TYPE_COOPMAT_NV:
        return RES_ID;
    default:
        break;
    }
    if (op >= 19 && op <= 38) /* OpTypeVoid .. OpTypePipe */
        return RES_ID;
    for (size_t i = 0; i < sizeof TYPED_RANGES / sizeof TYPED_RANGES[0]; i++)
        if (op >= TYPED_RANGES[i][0] && op <= TYPED_RANGES[i][1])
            return RES_TYPED;
    return RES_UNKNOWN;
}

/* The opcodes whose result can be a cooperative matrix value, i.e. whose Result Type (word 1) is the
 * type of a multiply-add operand. Anything else defining such an operand is refused rather than
 * guessed at. */
static bool carries_matrix(uint32_t op) {
    switch (op) {
    case OP_UNDEF: case OP_CONSTANT_COMPOSITE: case OP_CONSTANT_NULL: case OP_SPEC_CONSTANT_COMPOSITE:
    case OP_FUNCTION_PARAMETER: case OP_FUNCTION_CALL: case OP_LOAD: case OP_COMPOSITE_CONSTRUCT:
    case OP_COMPOSITE_EXTRACT: case OP_COMPOSITE_INSERT: case OP_COPY_OBJECT:
    case OP_MATRIX_TIMES_SCALAR: case OP_SELECT: case OP_PHI: case OP_COOPMAT_LOAD_NV:
    case OP_COOPMAT_MULADD_NV:
        return true;
    default:
        return (op >= OP_CONVERT_F_TO_U && op <= OP_F_CONVERT) || (op >= OP_S_NEGATE && op <= OP_F_DIV);
    }
}

static bool is_conversion(uint32_t op) { return op >= OP_CONVERT_F_TO_U && op <= OP_F_CONVERT; }

/* A name for messages: "OpLoad" or "opcode 1234". */
static const char *op_name(uint32_t op, char buf[24]) {
    static const struct { uint16_t op; const char *name; } NAMES[] = {
        {1, "OpUndef"}, {10, "OpExtension"}, {17, "OpCapability"}, {21, "OpTypeInt"},
        {41, "OpConstantTrue"}, {42, "OpConstantFalse"}, {43, "OpConstant"},
        {44, "OpConstantComposite"}, {46, "OpConstantNull"}, {48, "OpSpecConstantTrue"},
        {49, "OpSpecConstantFalse"}, {50, "OpSpecConstant"}, {51, "OpSpecConstantComposite"},
        {52, "OpSpecConstantOp"}, {54, "OpFunction"}, {55, "OpFunctionParameter"},
        {57, "OpFunctionCall"}, {59, "OpVariable"}, {61, "OpLoad"}, {65, "OpAccessChain"},
        {80, "OpCompositeConstruct"}, {81, "OpCompositeExtract"}, {82, "OpCompositeInsert"},
        {83, "OpCopyObject"}, {84, "OpTranspose"}, {109, "OpConvertFToU"}, {110, "OpConvertFToS"},
        {111, "OpConvertSToF"}, {112, "OpConvertUToF"}, {113, "OpUConvert"}, {114, "OpSConvert"},
        {115, "OpFConvert"}, {124, "OpBitcast"}, {126, "OpSNegate"}, {127, "OpFNegate"},
        {128, "OpIAdd"}, {129, "OpFAdd"}, {130, "OpISub"}, {131, "OpFSub"}, {132, "OpIMul"},
        {133, "OpFMul"}, {134, "OpUDiv"}, {135, "OpSDiv"}, {136, "OpFDiv"},
        {143, "OpMatrixTimesScalar"}, {169, "OpSelect"}, {245, "OpPhi"}, {248, "OpLabel"},
        {OP_TYPE_COOPMAT_NV, "OpTypeCooperativeMatrixNV"},
        {OP_COOPMAT_LOAD_NV, "OpCooperativeMatrixLoadNV"},
        {OP_COOPMAT_STORE_NV, "OpCooperativeMatrixStoreNV"},
        {OP_COOPMAT_MULADD_NV, "OpCooperativeMatrixMulAddNV"},
        {OP_COOPMAT_LENGTH_NV, "OpCooperativeMatrixLengthNV"},
        {OP_TYPE_COOPMAT_KHR, "OpTypeCooperativeMatrixKHR"},
        {OP_COOPMAT_LOAD_KHR, "OpCooperativeMatrixLoadKHR"},
        {OP_COOPMAT_STORE_KHR, "OpCooperativeMatrixStoreKHR"},
        {OP_COOPMAT_MULADD_KHR, "OpCooperativeMatrixMulAddKHR"},
        {OP_COOPMAT_LENGTH_KHR, "OpCooperativeMatrixLengthKHR"},
    };
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        if (NAMES[i].op == op)
            return NAMES[i].name;
    snprintf(buf, 24, "opcode %u", (unsigned)op);
    return buf;
}

/* ---- translation state ------------------------------------------------------------------------ */

typedef struct link {
    uint32_t a, b; /* two matrix types that must have the same use */
    size_t off;    /* the conversion that links them */
} link;

typedef struct xlate {
    const uint32_t *w;
    size_t n;
    uint32_t bound;
    char *err;
    size_t err_size;

    uint32_t *def;  /* [bound]: word offset of the instruction defining each id; 0 = none */
    uint8_t *use;   /* [bound]: for matrix types, 1 + the inferred use; 0 = not yet known */
    uint32_t *use_at; /* [bound]: the instruction that fixed a type's use (for messages) */
    link *links;
    size_t n_links, cap_links;

    bool has_nv_cap, has_nv_ext;
    uint32_t uint_id;       /* OpTypeInt 32 0, 0 if none */
    size_t uint_off;        /* its offset */
    size_t first_type_off;  /* first OpTypeCooperativeMatrixNV, 0 if none */
    size_t n_types;         /* OpTypeCooperativeMatrixNV count: each grows by one word */
    uint32_t early_const[3]; /* OpConstant %uint v (v = 0..2) before the first matrix type, or 0 */
    uint32_t const_id[3];    /* the ids used for values 0..2 in the output */
    unsigned needed;         /* bit v: the output needs a uint constant v */
} xlate;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static int fail(xlate *x, const char *fmt, ...) {
    if (x->err && x->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->err, x->err_size, fmt, ap);
        va_end(ap);
    }
    return 1;
}

static uint32_t op_of(const xlate *x, size_t off) { return x->w[off] & 0xffffu; }
static uint32_t wc_of(const xlate *x, size_t off) { return x->w[off] >> 16; }

/* Operand `k` (1-based word index) of the instruction at `off` must be an id below the bound. */
static int check_id(xlate *x, size_t off, uint32_t k, const char *what) {
    uint32_t id = x->w[off + k];
    char b[24];
    if (id == 0 || id >= x->bound)
        return fail(x, "word %zu: %s: %s id %u is out of range (id bound %u)", off,
                    op_name(op_of(x, off), b), what, (unsigned)id, (unsigned)x->bound);
    return 0;
}

/* Does the literal string starting at word `k` of the instruction at `off` equal s? */
static bool string_is(const xlate *x, size_t off, uint32_t k, const char *s) {
    size_t len = strlen(s), wc = wc_of(x, off);
    if (wc != k + len / 4 + 1) /* the string, its NUL and the zero padding fill the instruction */
        return false;
    for (size_t i = 0; i <= len; i++) {
        uint32_t word = x->w[off + k + i / 4];
        if ((char)((word >> (8 * (i % 4))) & 0xffu) != (i < len ? s[i] : 0))
            return false;
    }
    return true;
}

/* ---- walk 1: structure and landmarks ---------------------------------------------------------- */

static int scan(xlate *x) {
    char b[24];
    for (size_t off = HEADER_WORDS; off < x->n;) {
        uint32_t wc = wc_of(x, off), op = op_of(x, off);
        if (wc == 0)
            return fail(x, "word %zu: instruction (%s) has word count 0", off, op_name(op, b));
        if (wc > x->n - off)
            return fail(x, "word %zu: %s has word count %u but the module ends %zu words later",
                        off, op_name(op, b), (unsigned)wc, x->n - off);
        int kind = result_kind(op);
        if (kind == RES_ID || kind == RES_TYPED) {
            uint32_t k = kind == RES_ID ? 1 : 2;
            if (wc <= k)
                return fail(x, "word %zu: %s is too short (%u words) to hold its result id", off,
                            op_name(op, b), (unsigned)wc);
            if (kind == RES_TYPED && check_id(x, off, 1, "result type"))
                return 1;
            if (check_id(x, off, k, "result"))
                return 1;
            uint32_t id = x->w[off + k];
            if (x->def[id])
                return fail(x, "word %zu: %s: result id %u is already defined at word %u", off,
                            op_name(op, b), (unsigned)id, (unsigned)x->def[id]);
            x->def[id] = (uint32_t)off;
        }
        switch (op) {
        case OP_CAPABILITY:
            if (wc == 2 && x->w[off + 1] == CAP_COOPMAT_NV)
                x->has_nv_cap = true;
            if (wc == 2 && x->w[off + 1] == CAP_COOPMAT_KHR)
                return fail(x, "word %zu: the module already declares CooperativeMatrixKHR", off);
            break;
        case OP_EXTENSION:
            if (string_is(x, off, 1, EXT_NV))
                x->has_nv_ext = true;
            break;
        case OP_TYPE_INT:
            if (wc == 4 && x->w[off + 2] == 32 && x->w[off + 3] == 0 && !x->uint_id) {
                x->uint_id = x->w[off + 1];
                x->uint_off = off;
            }
            break;
        case OP_CONSTANT:
            if (wc == 4 && x->uint_id && x->w[off + 1] == x->uint_id && x->w[off + 3] <= 2 &&
                !x->first_type_off && !x->early_const[x->w[off + 3]])
                x->early_const[x->w[off + 3]] = x->w[off + 2];
            break;
        case OP_TYPE_COOPMAT_NV:
            if (wc != 6)
                return fail(x, "word %zu: OpTypeCooperativeMatrixNV has %u words, expected 6", off,
                            (unsigned)wc);
            if (!x->first_type_off)
                x->first_type_off = off;
            x->n_types++;
            break;
        case OP_COOPMAT_LOAD_NV:
        case OP_COOPMAT_STORE_NV:
            if (wc < (op == OP_COOPMAT_LOAD_NV ? 6u : 5u))
                return fail(x, "word %zu: %s has only %u words", off, op_name(op, b), (unsigned)wc);
            break;
        case OP_COOPMAT_MULADD_NV:
            if (wc != 6)
                return fail(x, "word %zu: OpCooperativeMatrixMulAddNV has %u words, expected 6", off,
                            (unsigned)wc);
            break;
        case OP_COOPMAT_LENGTH_NV:
            if (wc != 4)
                return fail(x, "word %zu: OpCooperativeMatrixLengthNV has %u words, expected 4", off,
                            (unsigned)wc);
            break;
        case OP_TYPE_COOPMAT_KHR:
        case OP_COOPMAT_LOAD_KHR:
        case OP_COOPMAT_STORE_KHR:
        case OP_COOPMAT_MULADD_KHR:
        case OP_COOPMAT_LENGTH_KHR:
            return fail(x, "word %zu: the module already has %s; translate NV-only modules", off,
                        op_name(op, b));
        default:
            break;
        }
        off += wc;
    }
    if (!x->has_nv_cap)
        return fail(x, "no OpCapability CooperativeMatrixNV: nothing to translate (is this the "
                       "NV cooperative-matrix shader?)");
    if (!x->has_nv_ext)
        return fail(x, "OpCapability CooperativeMatrixNV without OpExtension \"%s\"", EXT_NV);
    return 0;
}

/* ---- walk 2: uses and layouts ----------------------------------------------------------------- */

/* The matrix type of value `id`, operand `what` of the instruction at `off`; 0 on failure. */
static uint32_t matrix_type_of(xlate *x, size_t off, uint32_t id, const char *what) {
    char b1[24], b2[24];
    const char *user = op_name(op_of(x, off), b1);
    size_t d = x->def[id];
    if (!d) {
        fail(x, "word %zu: %s: %s %%%u is not defined by any instruction this tool knows", off, user,
             what, (unsigned)id);
        return 0;
    }
    uint32_t dop = op_of(x, d);
    if (!carries_matrix(dop)) {
        fail(x, "word %zu: %s: %s %%%u is defined by %s at word %zu, which this tool cannot type "
                "(it follows matrices through loads, copies, phis, composites, arithmetic and "
                "conversions)",
             off, user, what, (unsigned)id, op_name(dop, b2), d);
        return 0;
    }
    uint32_t t = x->w[d + 1];
    if (!x->def[t] || op_of(x, x->def[t]) != OP_TYPE_COOPMAT_NV) {
        fail(x, "word %zu: %s: %s %%%u has type %%%u, not an OpTypeCooperativeMatrixNV", off, user,
             what, (unsigned)id, (unsigned)t);
        return 0;
    }
    return t;
}

/* Give matrix type t the use u, because of the instruction at `off`. */
static int set_use(xlate *x, uint32_t t, unsigned u, size_t off, const char *why) {
    char b[24];
    if (x->use[t] == 1 + u)
        return 0;
    if (x->use[t])
        return fail(x, "word %zu: %s makes OpTypeCooperativeMatrixNV %%%u (word %u) a %s, but %s at "
                       "word %zu already made it a %s; KHR needs a distinct type per use: declare "
                       "the two matrices with different dimension constants (e.g. a spec constant)",
                    off, why, (unsigned)t, (unsigned)x->def[t], USE_NAME[u],
                    op_name(op_of(x, x->use_at[t]), b), (size_t)x->use_at[t], USE_NAME[x->use[t] - 1]);
    x->use[t] = (uint8_t)(1 + u);
    x->use_at[t] = (uint32_t)off;
    return 0;
}

static int add_link(xlate *x, uint32_t a, uint32_t b, size_t off) {
    if (x->n_links == x->cap_links) {
        size_t cap = x->cap_links ? 2 * x->cap_links : 16;
        link *l = realloc(x->links, cap * sizeof *l);
        if (!l)
            return fail(x, "out of memory");
        x->links = l;
        x->cap_links = cap;
    }
    x->links[x->n_links++] = (link){a, b, off};
    return 0;
}

/* The layout a load/store's ColumnMajor operand (word k) asks for, or -1 after fail(). */
static int layout_of(xlate *x, size_t off, uint32_t k) {
    char b1[24], b2[24];
    uint32_t id = x->w[off + k];
    size_t d = x->def[id];
    uint32_t dop = d ? op_of(x, d) : 0;
    if (dop == OP_CONSTANT_TRUE)
        return LAYOUT_COL_MAJOR;
    if (dop == OP_CONSTANT_FALSE)
        return LAYOUT_ROW_MAJOR;
    if (dop == OP_SPEC_CONSTANT_TRUE || dop == OP_SPEC_CONSTANT_FALSE)
        fail(x, "word %zu: %s: ColumnMajor %%%u is %s at word %zu, a specialization constant; the "
                "KHR MemoryLayout must be known when translating: use a literal true/false",
             off, op_name(op_of(x, off), b1), (unsigned)id, op_name(dop, b2), d);
    else if (d)
        fail(x, "word %zu: %s: ColumnMajor %%%u is defined by %s at word %zu; expected "
                "OpConstantTrue or OpConstantFalse",
             off, op_name(op_of(x, off), b1), (unsigned)id, op_name(dop, b2), d);
    else
        fail(x, "word %zu: %s: ColumnMajor %%%u is not defined", off, op_name(op_of(x, off), b1),
             (unsigned)id);
    return -1;
}

static int infer(xlate *x) {
    for (size_t off = HEADER_WORDS; off < x->n; off += wc_of(x, off)) {
        uint32_t op = op_of(x, off);
        if (op == OP_TYPE_COOPMAT_NV) {
            static const char *const what[] = {"component type", "scope", "rows", "columns"};
            for (uint32_t k = 2; k < 6; k++)
                if (check_id(x, off, k, what[k - 2]))
                    return 1;
        } else if (op == OP_COOPMAT_MULADD_NV) {
            static const char *const what[] = {"result type", "", "A", "B", "C"};
            static const unsigned role[] = {USE_ACC, 0, USE_A, USE_B, USE_ACC};
            for (uint32_t k = 1; k < 6; k++) {
                if (k == 2)
                    continue; /* the result id, checked by scan() */
                if (check_id(x, off, k, what[k - 1]))
                    return 1;
                uint32_t t = x->w[off + k];
                if (k == 1) {
                    if (!x->def[t] || op_of(x, x->def[t]) != OP_TYPE_COOPMAT_NV)
                        return fail(x, "word %zu: OpCooperativeMatrixMulAddNV: result type %%%u is "
                                       "not an OpTypeCooperativeMatrixNV",
                                    off, (unsigned)t);
                } else if (!(t = matrix_type_of(x, off, t, what[k - 1]))) {
                    return 1;
                }
                char why[64];
                snprintf(why, sizeof why, "OpCooperativeMatrixMulAddNV (as its %s)",
                         k == 1 ? "result type" : what[k - 1]);
                if (set_use(x, t, role[k - 1], off, why))
                    return 1;
            }
        } else if (is_conversion(op) && wc_of(x, off) == 4) {
            uint32_t rt = x->w[off + 1]; /* below the bound: scan() checked it */
            if (x->def[rt] && op_of(x, x->def[rt]) == OP_TYPE_COOPMAT_NV) {
                if (check_id(x, off, 3, "operand"))
                    return 1;
                uint32_t t = matrix_type_of(x, off, x->w[off + 3], "operand");
                if (!t)
                    return 1;
                if (add_link(x, rt, t, off))
                    return 1;
            }
        } else if (op == OP_COOPMAT_LOAD_NV || op == OP_COOPMAT_STORE_NV) {
            bool load = op == OP_COOPMAT_LOAD_NV;
            uint32_t k0 = load ? 3 : 1; /* Pointer; then Object (store), Stride, ColumnMajor */
            if (load) {
                if (check_id(x, off, 1, "result type"))
                    return 1;
                uint32_t rt = x->w[off + 1];
                if (!x->def[rt] || op_of(x, x->def[rt]) != OP_TYPE_COOPMAT_NV)
                    return fail(x, "word %zu: OpCooperativeMatrixLoadNV: result type %%%u is not an "
                                   "OpTypeCooperativeMatrixNV",
                                off, (unsigned)rt);
            }
            for (uint32_t k = k0; k < k0 + (load ? 3u : 4u); k++)
                if (check_id(x, off, k, "operand"))
                    return 1;
            if (!load && !matrix_type_of(x, off, x->w[off + 2], "Object"))
                return 1;
            int layout = layout_of(x, off, k0 + (load ? 2 : 3));
            if (layout < 0)
                return 1;
            x->needed |= 1u << layout;
        } else if (op == OP_COOPMAT_LENGTH_NV) {
            if (check_id(x, off, 1, "result type") || check_id(x, off, 3, "type"))
                return 1;
        }
    }

    /* Conversions keep the use in KHR: spread uses along the links until nothing changes. */
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i < x->n_links; i++) {
            link *l = &x->links[i];
            if (x->use[l->a] == x->use[l->b])
                continue;
            uint32_t from = x->use[l->a] ? l->a : l->b, to = from == l->a ? l->b : l->a;
            if (set_use(x, to, x->use[from] - 1u, l->off, "a conversion (the types on both sides "
                                                           "of a KHR conversion share their use)"))
                return 1;
            changed = true;
        }
    }

    for (size_t off = HEADER_WORDS; off < x->n; off += wc_of(x, off)) {
        if (op_of(x, off) != OP_TYPE_COOPMAT_NV)
            continue;
        uint32_t t = x->w[off + 1];
        if (!x->use[t])
            return fail(x, "word %zu: OpTypeCooperativeMatrixNV %%%u is not used by any "
                           "OpCooperativeMatrixMulAddNV (nor converted to or from a type that is), so "
                           "its KHR use (A, B or accumulator) cannot be inferred",
                        off, (unsigned)t);
        x->needed |= 1u << (x->use[t] - 1);
    }
    return 0;
}

/* ---- walk 3: output --------------------------------------------------------------------------- */

static size_t put_string(uint32_t *o, const char *s) {
    size_t len = strlen(s), n = len / 4 + 1;
    memset(o, 0, n * sizeof *o);
    for (size_t i = 0; i < len; i++)
        o[i / 4] |= (uint32_t)(unsigned char)s[i] << (8 * (i % 4));
    return n;
}

static uint32_t first_word(uint32_t wc, uint32_t op) { return wc << 16 | op; }

/* Write the added OpTypeInt 32 0 (when new_uint) and the added uint constants; returns the words. */
static size_t put_new_ids(const xlate *x, uint32_t *o, uint32_t new_uint) {
    size_t p = 0;
    if (new_uint) {
        o[p++] = first_word(4, OP_TYPE_INT);
        o[p++] = new_uint;
        o[p++] = 32;
        o[p++] = 0;
    }
    for (unsigned v = 0; v < 3; v++)
        if (x->const_id[v] >= x->bound) { /* ids at or past the input's bound are the new ones */
            o[p++] = first_word(4, OP_CONSTANT);
            o[p++] = x->uint_id;
            o[p++] = x->const_id[v];
            o[p++] = v;
        }
    return p;
}

int vkg_coopmat_nv_to_khr(const uint32_t *in, size_t n_words, uint32_t **out, size_t *out_words,
                          char *err, size_t err_size) {
    xlate x = {.w = in, .n = n_words, .err = err, .err_size = err_size};
    uint32_t *o = NULL;
    int rc = 1;
    *out = NULL;
    *out_words = 0;
    if (err_size)
        err[0] = 0;

    if (!in || n_words == 0) {
        fail(&x, "empty module (0 words)");
        goto done;
    }
    if (n_words > UINT32_MAX) {
        fail(&x, "module of %zu words is too large", n_words);
        goto done;
    }
    if (n_words < HEADER_WORDS) {
        fail(&x, "truncated module: %zu words, the header alone has %d", n_words, HEADER_WORDS);
        goto done;
    }
    if (in[0] != SPV_MAGIC) {
        fail(&x, "word 0: bad magic number 0x%08x (SPIR-V is 0x%08x%s)", (unsigned)in[0], SPV_MAGIC,
             in[0] == SPV_MAGIC_SWAPPED ? "; this module is in the other byte order" : "");
        goto done;
    }
    if (in[1] < SPV_VERSION_1_3 || (in[1] & 0xff0000ffu)) {
        fail(&x, "word 1: SPIR-V version word 0x%08x; cooperative matrices need 1.3 or later",
             (unsigned)in[1]);
        goto done;
    }
    x.bound = in[3];
    if (x.bound < 2 || x.bound > ID_BOUND_MAX) {
        fail(&x, "word 3: id bound %u is outside 2..%d", (unsigned)x.bound, ID_BOUND_MAX);
        goto done;
    }
    x.def = calloc(x.bound, sizeof *x.def);
    x.use = calloc(x.bound, sizeof *x.use);
    x.use_at = calloc(x.bound, sizeof *x.use_at);
    if (!x.def || !x.use || !x.use_at) {
        fail(&x, "out of memory for %u ids", (unsigned)x.bound);
        goto done;
    }
    if (scan(&x) || infer(&x))
        goto done;

    /* Use and layout constants: reuse early ones, add the rest after OpTypeInt 32 0 (adding that
     * type too when missing), so that all precede the first matrix type that names them. */
    uint32_t bound = x.bound, new_uint = 0;
    size_t n_new = 0;
    for (unsigned v = 0; v < 3; v++) {
        if (!(x.needed & 1u << v))
            continue;
        x.const_id[v] = x.early_const[v];
        if (!x.const_id[v]) {
            x.const_id[v] = bound++;
            n_new++;
        }
    }
    size_t insert_after = 0, insert_before = 0; /* word offsets; 0 = nowhere */
    if (n_new) {
        if (!x.first_type_off) {
            /* Defensive: infer() refuses loads and stores of values that are not matrices. */
            fail(&x, "cooperative-matrix loads or stores but no OpTypeCooperativeMatrixNV");
            goto done;
        }
        if (!x.uint_id) {
            new_uint = x.uint_id = bound++;
            insert_before = x.first_type_off;
        } else if (x.first_type_off && x.uint_off > x.first_type_off) {
            fail(&x, "word %zu: OpTypeInt 32 0 comes after the first OpTypeCooperativeMatrixNV "
                     "(word %zu), so the new Use constants could not precede the matrix types",
                 x.uint_off, x.first_type_off);
            goto done;
        } else {
            insert_after = x.uint_off;
        }
        if (bound > ID_BOUND_MAX) {
            fail(&x, "adding %zu ids would pass the id bound limit %d", n_new, ID_BOUND_MAX);
            goto done;
        }
    }

    /* Growth: one word per matrix type, the extension string, the new constants and type. */
    size_t cap = n_words + x.n_types + 16 + 4 * n_new + 4;
    o = malloc(cap * sizeof *o);
    if (!o) {
        fail(&x, "out of memory for %zu output words", cap);
        goto done;
    }
    memcpy(o, in, HEADER_WORDS * sizeof *o);
    o[3] = bound;
    size_t p = HEADER_WORDS;
    for (size_t off = HEADER_WORDS; off < n_words;) {
        const uint32_t *w = in + off;
        uint32_t wc = w[0] >> 16, op = w[0] & 0xffffu;
        if (off == insert_before)
            p += put_new_ids(&x, o + p, new_uint);
        switch (op) {
        case OP_CAPABILITY:
            memcpy(o + p, w, wc * sizeof *o);
            if (wc == 2 && w[1] == CAP_COOPMAT_NV)
                o[p + 1] = CAP_COOPMAT_KHR;
            p += wc;
            break;
        case OP_EXTENSION:
            if (string_is(&x, off, 1, EXT_NV)) {
                size_t n = put_string(o + p + 1, EXT_KHR);
                o[p] = first_word((uint32_t)(n + 1), OP_EXTENSION);
                p += n + 1;
            } else {
                memcpy(o + p, w, wc * sizeof *o);
                p += wc;
            }
            break;
        case OP_TYPE_COOPMAT_NV:
            o[p++] = first_word(7, OP_TYPE_COOPMAT_KHR);
            memcpy(o + p, w + 1, 5 * sizeof *o); /* result, component type, scope, rows, columns */
            p += 5;
            o[p++] = x.const_id[x.use[w[1]] - 1];
            break;
        case OP_COOPMAT_LOAD_NV:
        case OP_COOPMAT_STORE_NV: {
            /* NV:  [rt res] ptr [obj] stride colmajor memops...
             * KHR: [rt res] ptr [obj] layout stride memops...  (same word count) */
            bool load = op == OP_COOPMAT_LOAD_NV;
            uint32_t ks = load ? 4 : 3; /* stride */
            int layout = layout_of(&x, off, ks + 1);
            if (layout < 0)
                goto done; /* cannot happen: infer() checked it */
            memcpy(o + p, w, wc * sizeof *o);
            o[p] = first_word(wc, load ? OP_COOPMAT_LOAD_KHR : OP_COOPMAT_STORE_KHR);
            o[p + ks] = x.const_id[layout];
            o[p + ks + 1] = w[ks];
            p += wc;
            break;
        }
        case OP_COOPMAT_MULADD_NV:
        case OP_COOPMAT_LENGTH_NV:
            memcpy(o + p, w, wc * sizeof *o);
            o[p] = first_word(wc, op == OP_COOPMAT_MULADD_NV ? OP_COOPMAT_MULADD_KHR
                                                              : OP_COOPMAT_LENGTH_KHR);
            p += wc;
            break;
        case OP_SPEC_CONSTANT_OP:
            /* glslang emits coopmat length() as OpSpecConstantOp CooperativeMatrixLength{NV,KHR}. */
            memcpy(o + p, w, wc * sizeof *o);
            if (wc >= 4 && w[3] == OP_COOPMAT_LENGTH_NV)
                o[p + 3] = OP_COOPMAT_LENGTH_KHR;
            p += wc;
            break;
        default:
            memcpy(o + p, w, wc * sizeof *o);
            p += wc;
            break;
        }
        off += wc;
        if (off - wc == insert_after)
            p += put_new_ids(&x, o + p, 0);
    }
    *out = o;
    *out_words = p;
    o = NULL;
    rc = 0;
done:
    free(o);
    free(x.def);
    free(x.use);
    free(x.use_at);
    free(x.links);
    return rc;
}
