/*
 * kernels/rowwise.c — host wrappers of layernorm, rmsnorm (rows and heads), softmax, gelu, swiglu,
 * add, rope, embedding and argmax: shape checks, binding (with element offsets for unaligned views
 * and row chunks for wte), pipeline choice and dispatch. The math lives in the shaders; see
 * kernels/rowwise.h for the contracts.
 */
#include "kernels/rowwise.h"

#include "rowwise_push.h"
#include "step.h"

enum {
    ROW_WG = 256,        /* row kernels on rows wider than 128 elements */
    ROW_WG_NARROW = 64,  /* ... and on narrow rows, where 256 invocations would mostly idle */
    ELT_WG = 256,        /* element-wise kernels; each invocation does ELT_PER_INV elements */
    ELT_PER_INV = 4,
    EMB_WG = 128,
    RMSNORM_LANES = 64,  /* CPU tuning of rmsnorm_heads: heads (one per lane) per workgroup */
    ARGMAX_WG = 256,
    ARGMAX_PER_INV = 4,  /* first pass: WG * 4 elements per workgroup */
    ARGMAX_SINGLE = 4096, /* up to this many elements one workgroup does it in one pass */
    /* CPU tuning: 64 invocations of 64 elements each per first-pass workgroup. lavapipe pays a fixed
     * cost per workgroup: 13 groups instead of 50 for GPT-2's vocabulary, 0.54 -> 0.19 ms there. */
    ARGMAX_WG_CPU = 64,
    ARGMAX_PER_INV_CPU = 64,
};

/* A tensor bound for a shader: the aligned view and the element offset of its first element. */
typedef struct bound {
    vkg_view view;
    uint32_t off;
} bound;

static uint64_t offset_alignment(const vkg_kernels *k) {
    uint32_t a = vkg_context_device(k->ctx)->min_storage_buffer_offset_alignment;
    return a ? a : 1;
}

/* Bind elements [first, first + n) of `v` (elements of `elem` bytes): check that the view holds
 * them, start the binding at the aligned offset at or below them and record the element offset. */
static vkg_status bind_elems(const vkg_kernels *k, const char *kernel, const char *what, vkg_view v,
                             uint64_t first, uint64_t n, uint32_t elem, bound *out) {
    uint64_t need, end, begin;
    if (!v.buf)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: %s has no buffer", kernel, what);
    if (v.offset % elem)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: %s offset %llu is not a multiple of %u bytes",
                        kernel, what, (unsigned long long)v.offset, elem);
    if (!vkg_add_u64(first, n, &need) || !vkg_mul_u64(need, elem, &need) || need > v.size ||
        !vkg_add_u64(v.offset, v.size, &end) || end > vkg_buffer_size(v.buf))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: %s view of %llu bytes at offset %llu cannot hold "
                        "elements [%llu, %llu) of %u bytes (buffer of %llu bytes)", kernel, what,
                        (unsigned long long)v.size, (unsigned long long)v.offset, (unsigned long long)first,
                        (unsigned long long)(first + n), elem, (unsigned long long)vkg_buffer_size(v.buf));
    begin = v.offset + first * elem;
    uint64_t start = begin / offset_alignment(k) * offset_alignment(k);
    uint64_t size = begin - start + n * elem;
    uint64_t range = vkg_context_device(k->ctx)->max_storage_buffer_range;
    if (size > range)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "%s: %s spans %llu bytes, above %s's maxStorageBufferRange "
                        "(%llu): split the work", kernel, what, (unsigned long long)size,
                        vkg_context_device(k->ctx)->name, (unsigned long long)range);
    out->view = (vkg_view){v.buf, start, size};
    out->off = (uint32_t)((begin - start) / elem);
    return VKG_OK;
}

/* The pipeline of `shader` with workgroup size wg (specialization constant 0) and, for n_spec = 2,
 * spec1 as constant 1. */
static vkg_status pipeline_spec(const vkg_kernels *k, const char *shader, uint32_t n_bindings, uint32_t writes,
                                uint32_t push_size, uint32_t wg, uint32_t n_spec, uint32_t spec1, vkg_pipeline **p) {
    /* A forced subgroup size must divide the workgroup; every size here is a power of two. */
    wg = vkg_max_u32(wg, k->subgroup_size);
    vkg_kernel_desc d = {.shader = shader, .n_bindings = n_bindings, .writes = writes,
                         .push_size = push_size, .n_spec = n_spec, .spec = {wg, spec1}};
    return vkg_kernels_pipeline(k, d, p);
}

static vkg_status pipeline(const vkg_kernels *k, const char *shader, uint32_t n_bindings, uint32_t writes,
                           uint32_t push_size, uint32_t wg, vkg_pipeline **p) {
    return pipeline_spec(k, shader, n_bindings, writes, push_size, wg, 1, 0, p);
}

static bool bad_common(const vkg_kernels *k, const vkg_cmd *cmd) { return !k || !k->ctx || !cmd; }

static vkg_status check_rows(const char *kernel, uint32_t rows, uint32_t width) {
    uint64_t n = (uint64_t)rows * width;
    if (rows == 0 || width == 0 || n > UINT32_MAX / 2)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: shape [%u, %u] is empty or too large", kernel, rows,
                        width);
    return VKG_OK;
}

vkg_status vkg_layernorm(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, vkg_view x, vkg_view gamma,
                         vkg_view beta, uint32_t rows, uint32_t width, float eps) {
    if (bad_common(k, cmd))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "layernorm: NULL kernels or recorder");
    VKG_TRY(check_rows("layernorm", rows, width));
    if (!(eps >= 0.0f) || eps > 1e30f)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "layernorm: eps %g is negative or not finite", (double)eps);
    uint64_t n = (uint64_t)rows * width;
    bound bx = {0}, bg = {0}, bb = {0}, by = {0};
    VKG_TRY(bind_elems(k, "layernorm", "x", x, 0, n, 4, &bx));
    VKG_TRY(bind_elems(k, "layernorm", "gamma", gamma, 0, width, 4, &bg));
    VKG_TRY(bind_elems(k, "layernorm", "beta", beta, 0, width, 4, &bb));
    VKG_TRY(bind_elems(k, "layernorm", "y", y, 0, n, 4, &by));
    vkg_pipeline *p;
    VKG_TRY(pipeline(k, "layernorm", 4, 1u << 3, sizeof(vkg_layernorm_push),
                     width > 128 ? ROW_WG : ROW_WG_NARROW, &p));
    vkg_layernorm_push push = {.rows = rows, .width = width, .x_off = bx.off, .g_off = bg.off,
                               .b_off = bb.off, .y_off = by.off, .eps = eps};
    vkg_view views[4] = {bx.view, bg.view, bb.view, by.view};
    return vkg_cmd_dispatch_1d(cmd, p, views, &push, rows);
}

vkg_status vkg_softmax(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, vkg_view x, uint32_t rows,
                       uint32_t width, float scale, bool causal, int32_t row_offset) {
    if (bad_common(k, cmd))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "softmax: NULL kernels or recorder");
    VKG_TRY(check_rows("softmax", rows, width));
    if (!(scale == scale) || scale - scale != 0.0f)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "softmax: scale %g is not finite", (double)scale);
    /* The shader computes row + row_offset in 32-bit signed arithmetic. */
    if (causal && (row_offset < -(int32_t)(INT32_MAX / 2) || row_offset > INT32_MAX / 2))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "softmax: row_offset %d out of range", row_offset);
    uint64_t n = (uint64_t)rows * width;
    bound bx = {0}, by = {0};
    VKG_TRY(bind_elems(k, "softmax", "x", x, 0, n, 4, &bx));
    VKG_TRY(bind_elems(k, "softmax", "y", y, 0, n, 4, &by));
    vkg_pipeline *p;
    VKG_TRY(pipeline(k, "softmax", 2, 1u << 1, sizeof(vkg_softmax_push), width > 128 ? ROW_WG : ROW_WG_NARROW,
                     &p));
    vkg_softmax_push push = {.rows = rows, .width = width, .x_off = bx.off, .y_off = by.off, .scale = scale,
                             .causal = causal ? 1u : 0u, .row_offset = causal ? row_offset : 0};
    vkg_view views[2] = {bx.view, by.view};
    return vkg_cmd_dispatch_1d(cmd, p, views, &push, rows);
}

static vkg_status check_n(const char *kernel, uint32_t n) {
    if (n == 0 || n > UINT32_MAX / 2)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: %u elements", kernel, n);
    return VKG_OK;
}

static uint64_t elt_groups(uint32_t n, uint32_t wg) { return ((uint64_t)n + wg * ELT_PER_INV - 1) / (wg * ELT_PER_INV); }

vkg_status vkg_gelu(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, vkg_view x, uint32_t n) {
    if (bad_common(k, cmd))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "gelu: NULL kernels or recorder");
    VKG_TRY(check_n("gelu", n));
    bound bx = {0}, by = {0};
    VKG_TRY(bind_elems(k, "gelu", "x", x, 0, n, 4, &bx));
    VKG_TRY(bind_elems(k, "gelu", "y", y, 0, n, 4, &by));
    vkg_pipeline *p;
    VKG_TRY(pipeline(k, "gelu", 2, 1u << 1, sizeof(vkg_eltwise_push), ELT_WG, &p));
    vkg_eltwise_push push = {.n = n, .y_off = by.off, .a_off = bx.off};
    vkg_view views[2] = {bx.view, by.view};
    return vkg_cmd_dispatch_1d(cmd, p, views, &push, elt_groups(n, vkg_pipeline_local_size(p)));
}

vkg_status vkg_add(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, vkg_view a, vkg_view b, uint32_t n) {
    if (bad_common(k, cmd))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "add: NULL kernels or recorder");
    VKG_TRY(check_n("add", n));
    bound ba = {0}, bb = {0}, by = {0};
    VKG_TRY(bind_elems(k, "add", "a", a, 0, n, 4, &ba));
    VKG_TRY(bind_elems(k, "add", "b", b, 0, n, 4, &bb));
    VKG_TRY(bind_elems(k, "add", "y", y, 0, n, 4, &by));
    vkg_pipeline *p;
    VKG_TRY(pipeline(k, "add", 3, 1u << 2, sizeof(vkg_eltwise_push), ELT_WG, &p));
    vkg_eltwise_push push = {.n = n, .y_off = by.off, .a_off = ba.off, .b_off = bb.off};
    vkg_view views[3] = {ba.view, bb.view, by.view};
    return vkg_cmd_dispatch_1d(cmd, p, views, &push, elt_groups(n, vkg_pipeline_local_size(p)));
}

/* The first `words` words of a step buffer view (shaders/step.h), which must start aligned. */
static vkg_status bind_step(const vkg_kernels *k, const char *kernel, vkg_view step, uint32_t words, vkg_view *out) {
    if (!step.buf || step.offset % offset_alignment(k) || step.size < (uint64_t)words * 4 ||
        step.offset + step.size > vkg_buffer_size(step.buf))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: step view (offset %llu, %llu bytes) must hold "
                        "%u words at an offset aligned to %llu", kernel, (unsigned long long)step.offset,
                        (unsigned long long)step.size, words, (unsigned long long)offset_alignment(k));
    *out = (vkg_view){step.buf, step.offset, (uint64_t)words * 4};
    return VKG_OK;
}

static bool finite_eps(float eps) { return eps >= 0.0f && eps <= 1e30f; }

/* ---- rmsnorm, rope, swiglu ---------------------------------------------------------------- */

vkg_status vkg_rmsnorm(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, vkg_view x, vkg_view w, uint32_t rows,
                       uint32_t width, float eps) {
    if (bad_common(k, cmd))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "rmsnorm: NULL kernels or recorder");
    VKG_TRY(check_rows("rmsnorm", rows, width));
    if (!finite_eps(eps))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "rmsnorm: eps %g is negative or not finite", (double)eps);
    uint64_t n = (uint64_t)rows * width;
    bound bx = {0}, bw = {0}, by = {0};
    VKG_TRY(bind_elems(k, "rmsnorm", "x", x, 0, n, 4, &bx));
    VKG_TRY(bind_elems(k, "rmsnorm", "w", w, 0, width, 4, &bw));
    VKG_TRY(bind_elems(k, "rmsnorm", "y", y, 0, n, 4, &by));
    vkg_pipeline *p;
    VKG_TRY(pipeline_spec(k, "rmsnorm", 3, 1u << 2, sizeof(vkg_rmsnorm_push), width > 128 ? ROW_WG : ROW_WG_NARROW,
                          2, 0, &p));
    vkg_rmsnorm_push push = {.rows = rows, .heads = 1, .width = width, .x_off = bx.off, .w_off = bw.off,
                             .y_off = by.off, .x_stride = width, .y_stride = width, .eps = eps};
    return vkg_cmd_dispatch_1d(cmd, p, (vkg_view[]){bx.view, bw.view, by.view}, &push, rows);
}

/* Check a [T, row_stride] activation of which each row uses n_heads * hd elements from column col,
 * and bind it from (row 0, col). */
static vkg_status bind_heads(const vkg_kernels *k, const char *kernel, vkg_view x, uint32_t T, uint32_t n_heads,
                             uint32_t hd, uint32_t row_stride, uint32_t col, bound *out) {
    uint64_t span = (uint64_t)n_heads * hd;
    if (T == 0 || n_heads == 0 || hd == 0 || (uint64_t)col + span > row_stride ||
        (uint64_t)T * row_stride > UINT32_MAX / 2)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: T %u, %u heads of %u at column %u do not fit rows of "
                        "%u elements (or are empty or too large)", kernel, T, n_heads, hd, col, row_stride);
    return bind_elems(k, kernel, "x", x, col, (uint64_t)(T - 1) * row_stride + span, 4, out);
}

vkg_status vkg_rmsnorm_heads(const vkg_kernels *k, vkg_cmd *cmd, vkg_view x, vkg_view w, uint32_t T,
                             uint32_t n_heads, uint32_t hd, uint32_t row_stride, uint32_t col, float eps) {
    if (bad_common(k, cmd))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "rmsnorm_heads: NULL kernels or recorder");
    if (!finite_eps(eps))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "rmsnorm_heads: eps %g is negative or not finite", (double)eps);
    bound bx = {0}, bw = {0};
    VKG_TRY(bind_heads(k, "rmsnorm_heads", x, T, n_heads, hd, row_stride, col, &bx));
    VKG_TRY(bind_elems(k, "rmsnorm_heads", "w", w, 0, hd, 4, &bw));
    /* CPU tuning: a lane per head (a barrier-free loop, RMSNORM_LANES heads per workgroup) instead
     * of a workgroup per head; see shaders/rmsnorm.comp. */
    uint32_t rows = T * n_heads, lanes = k->cpu_tuning ? 1 : 0;
    vkg_pipeline *p;
    VKG_TRY(pipeline_spec(k, "rmsnorm", 3, 1u << 2, sizeof(vkg_rmsnorm_push),
                          lanes ? RMSNORM_LANES : hd > 128 ? ROW_WG : ROW_WG_NARROW, 2, lanes, &p));
    vkg_rmsnorm_push push = {.rows = rows, .heads = n_heads, .width = hd, .x_off = bx.off, .w_off = bw.off,
                             .y_off = bx.off, .x_stride = row_stride, .y_stride = row_stride, .eps = eps};
    uint64_t groups = lanes ? vkg_div_up(rows, vkg_pipeline_local_size(p)) : rows;
    return vkg_cmd_dispatch_1d(cmd, p, (vkg_view[]){bx.view, bw.view, bx.view}, &push, groups);
}

vkg_status vkg_rope(const vkg_kernels *k, vkg_cmd *cmd, vkg_view x, vkg_view step, vkg_view table, uint32_t T,
                    uint32_t n_heads, uint32_t hd, uint32_t row_stride, uint32_t P, vkg_rope_pairing pairing) {
    if (bad_common(k, cmd))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "rope: NULL kernels or recorder");
    if (hd == 0 || hd % 2 || hd > VKG_ROPE_MAX_HEAD_DIM)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "rope: head_dim %u must be even and at most %u", hd,
                        VKG_ROPE_MAX_HEAD_DIM);
    if (pairing != VKG_ROPE_HALF && pairing != VKG_ROPE_ADJACENT)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "rope: unknown pairing %d", (int)pairing);
    if (P == 0)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "rope: the table has no positions");
    bound bx = {0}, bt = {0};
    VKG_TRY(bind_heads(k, "rope", x, T, n_heads, hd, row_stride, 0, &bx));
    /* (cos, sin) pairs, bound as 8-byte elements (vec2 in the shader). */
    VKG_TRY(bind_elems(k, "rope", "table", table, 0, (uint64_t)P * (hd / 2), 8, &bt));
    vkg_view sv;
    VKG_TRY(bind_step(k, "rope", step, VKG_STEP_HEADER_WORDS, &sv));
    vkg_pipeline *p;
    VKG_TRY(pipeline(k, "rope", 3, 1u << 0, sizeof(vkg_rope_push), ELT_WG, &p));
    vkg_rope_push push = {.T = T, .n_heads = n_heads, .half_dim = hd / 2, .row_stride = row_stride,
                          .x_off = bx.off, .table_off = bt.off, .n_pos = P,
                          .pairing = pairing == VKG_ROPE_ADJACENT ? VKG_ROPE_PAIR_ADJACENT : VKG_ROPE_PAIR_HALF};
    uint32_t pairs = T * n_heads * (hd / 2); /* < T * row_stride / 2: bind_heads bounded it */
    return vkg_cmd_dispatch_1d(cmd, p, (vkg_view[]){bx.view, bt.view, sv}, &push,
                               elt_groups(pairs, vkg_pipeline_local_size(p)));
}

vkg_status vkg_swiglu(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, vkg_view gu, uint32_t T, uint32_t ff) {
    if (bad_common(k, cmd))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "swiglu: NULL kernels or recorder");
    if (ff > UINT32_MAX / 4)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "swiglu: ff %u is too large", ff);
    VKG_TRY(check_rows("swiglu", T, 2 * ff));
    uint64_t n = (uint64_t)T * ff;
    bound bg = {0}, by = {0};
    VKG_TRY(bind_elems(k, "swiglu", "gu", gu, 0, 2 * n, 4, &bg));
    VKG_TRY(bind_elems(k, "swiglu", "y", y, 0, n, 4, &by));
    uint64_t g0 = gu.offset, g1 = gu.offset + 2 * n * 4, y0 = y.offset, y1 = y.offset + n * 4;
    if (gu.buf == y.buf && g0 < y1 && y0 < g1)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "swiglu: y overlaps gu (rows of different widths cannot be "
                        "done in place)");
    vkg_pipeline *p;
    VKG_TRY(pipeline(k, "swiglu", 2, 1u << 1, sizeof(vkg_swiglu_push), ELT_WG, &p));
    vkg_swiglu_push push = {.n = (uint32_t)n, .ff = ff, .y_off = by.off, .gu_off = bg.off};
    return vkg_cmd_dispatch_1d(cmd, p, (vkg_view[]){bg.view, by.view}, &push,
                               elt_groups((uint32_t)n, vkg_pipeline_local_size(p)));
}

/* ---- embedding ---------------------------------------------------------------------------- */

static vkg_status check_matrix(const vkg_kernels *k, const char *what, const vkg_matrix *m) {
    uint64_t bytes, end;
    if (!m || !m->buf || m->rows == 0 || m->cols == 0)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "embedding: %s is missing or empty", what);
    if (m->storage != VKG_STORAGE_F32 && m->storage != VKG_STORAGE_F16 && m->storage != VKG_STORAGE_BF16)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "embedding: %s has unknown storage %d", what, (int)m->storage);
    if (m->storage != VKG_STORAGE_F32 && !vkg_context_device(k->ctx)->storage_16bit)
        return vkg_fail(VKG_ERROR_FEATURE_MISSING, "embedding: %s is %s but %s lacks 16-bit storage", what,
                        m->storage == VKG_STORAGE_F16 ? "fp16" : "bf16", vkg_context_device(k->ctx)->name);
    if (!vkg_mul_u64((uint64_t)m->rows * m->cols, vkg_storage_bytes(m->storage), &bytes) ||
        !vkg_add_u64(m->offset, bytes, &end) || end > vkg_buffer_size(m->buf) ||
        m->offset % vkg_storage_bytes(m->storage))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "embedding: %s [%u, %u] at offset %llu does not fit its "
                        "buffer of %llu bytes (or is misaligned)", what, m->rows, m->cols,
                        (unsigned long long)m->offset, (unsigned long long)vkg_buffer_size(m->buf));
    return VKG_OK;
}

/* Rows per wte chunk: as many as fit one binding including the misalignment of the table's start,
 * with chunk_rows * row_bytes a multiple of the offset alignment so every chunk has the same skew. */
static uint64_t wte_chunk_rows(const vkg_kernels *k, const vkg_matrix *wte, uint64_t skew_bytes) {
    uint64_t row_bytes = (uint64_t)wte->cols * vkg_storage_bytes(wte->storage);
    uint64_t range = vkg_context_device(k->ctx)->max_storage_buffer_range;
    uint64_t align = offset_alignment(k);
    if (range < skew_bytes + row_bytes)
        return 0;
    uint64_t rows = (range - skew_bytes) / row_bytes;
    while (rows > 1 && (rows * row_bytes) % align)
        rows--;
    /* Rows of one chunk must also index within 32 bits in the shader. */
    while (rows > 1 && rows * wte->cols > UINT32_MAX / 2)
        rows /= 2;
    return (rows * row_bytes) % align ? 0 : rows;
}

/* The shader's table kind (VKG_TABLE_*) of a table's storage. */
static uint32_t table_kind(vkg_storage s) {
    return s == VKG_STORAGE_F16 ? VKG_TABLE_F16 : s == VKG_STORAGE_BF16 ? VKG_TABLE_BF16 : VKG_TABLE_F32;
}

vkg_status vkg_embedding_chunked(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, const vkg_matrix *wte,
                                 const vkg_matrix *wpe, vkg_view step, uint32_t T, uint32_t max_chunk_rows) {
    if (bad_common(k, cmd))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "embedding: NULL kernels or recorder");
    VKG_TRY(check_matrix(k, "wte", wte));
    if (wpe)
        VKG_TRY(check_matrix(k, "wpe", wpe));
    uint32_t d = wte->cols;
    if (wpe && wpe->cols != d)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "embedding: wte is [%u, %u] but wpe is [%u, %u]", wte->rows,
                        wte->cols, wpe->rows, wpe->cols);
    if (T == 0 || (wpe && T > wpe->rows))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "embedding: T = %u rows, wpe has %u positions", T,
                        wpe ? wpe->rows : 0);
    VKG_TRY(check_rows("embedding", T, d));
    vkg_view step_bound;
    VKG_TRY(bind_step(k, "embedding", step, VKG_STEP_HEADER_WORDS + T, &step_bound));

    bound by = {0}, bp = {0};
    VKG_TRY(bind_elems(k, "embedding", "y", y, 0, (uint64_t)T * d, 4, &by));
    if (wpe) {
        uint32_t eb = vkg_storage_bytes(wpe->storage);
        vkg_view wpe_view = {wpe->buf, wpe->offset, (uint64_t)wpe->rows * d * eb};
        VKG_TRY(bind_elems(k, "embedding", "wpe", wpe_view, 0, (uint64_t)wpe->rows * d, eb, &bp));
    }

    uint32_t wb = vkg_storage_bytes(wte->storage);
    uint64_t row_bytes = (uint64_t)d * wb;
    uint64_t skew = wte->offset % offset_alignment(k);
    uint64_t chunk_rows = wte_chunk_rows(k, wte, skew);
    if (chunk_rows == 0)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "embedding: one wte row of %llu bytes does not fit a binding "
                        "of %s", (unsigned long long)row_bytes, vkg_context_device(k->ctx)->name);
    if (max_chunk_rows && max_chunk_rows < chunk_rows) {
        /* Keep chunk starts aligned: round down to a multiple of rows that the alignment allows. */
        uint64_t r = max_chunk_rows;
        while (r > 1 && (r * row_bytes) % offset_alignment(k))
            r--;
        if ((r * row_bytes) % offset_alignment(k) == 0)
            chunk_rows = r;
    }
    uint64_t n_chunks = (wte->rows + chunk_rows - 1) / chunk_rows;

    /* fp32 tables take the variant that needs no 16-bit storage. */
    bool all_f32 = wte->storage == VKG_STORAGE_F32 && (!wpe || wpe->storage == VKG_STORAGE_F32);
    vkg_pipeline *p;
    VKG_TRY(pipeline(k, all_f32 ? "embedding" : "embedding_16bit", 7, 1u << 6, sizeof(vkg_embedding_push), EMB_WG,
                     &p));
    for (uint64_t c0 = 0; c0 < n_chunks; c0 += VKG_EMBEDDING_MAX_CHUNKS) {
        uint32_t used = (uint32_t)(n_chunks - c0 < VKG_EMBEDDING_MAX_CHUNKS ? n_chunks - c0 : VKG_EMBEDDING_MAX_CHUNKS);
        vkg_view views[7];
        for (uint32_t i = 0; i < VKG_EMBEDDING_MAX_CHUNKS; i++) {
            uint64_t c = c0 + (i < used ? i : 0);
            uint64_t first = c * chunk_rows;
            uint64_t rows = wte->rows - first < chunk_rows ? wte->rows - first : chunk_rows;
            views[i] = (vkg_view){wte->buf, wte->offset - skew + first * row_bytes, skew + rows * row_bytes};
        }
        views[4] = wpe ? bp.view : views[0]; /* without wpe: a dummy the shader never reads */
        views[5] = step_bound;
        views[6] = by.view;
        vkg_embedding_push push = {
            .T = T, .d = d, .vocab = wte->rows, .n_pos = wpe ? wpe->rows : 0,
            .first_row = (uint32_t)(c0 * chunk_rows), .chunk_rows = (uint32_t)chunk_rows, .n_chunks = used,
            .wte_off = (uint32_t)(skew / wb), .wpe_off = bp.off, .y_off = by.off,
            .owns_invalid = c0 + VKG_EMBEDDING_MAX_CHUNKS >= n_chunks,
            .wte_kind = table_kind(wte->storage), .wpe_kind = wpe ? table_kind(wpe->storage) : VKG_TABLE_NONE,
        };
        VKG_TRY(vkg_cmd_dispatch_1d(cmd, p, views, &push, T));
    }
    return VKG_OK;
}

vkg_status vkg_embedding(const vkg_kernels *k, vkg_cmd *cmd, vkg_view y, const vkg_matrix *wte,
                         const vkg_matrix *wpe, vkg_view step, uint32_t T) {
    return vkg_embedding_chunked(k, cmd, y, wte, wpe, step, T, 0);
}

/* ---- argmax ------------------------------------------------------------------------------- */

/* First-pass workgroups: GPU tuning gives the most (CPU tuning has fewer), so the scratch size
 * below serves both. */
static uint32_t argmax_groups(uint32_t n, uint32_t per_group) {
    return n <= ARGMAX_SINGLE ? 1 : vkg_div_up(n, per_group);
}

uint64_t vkg_argmax_scratch_bytes(uint32_t n) {
    uint32_t groups = argmax_groups(n, ARGMAX_WG * ARGMAX_PER_INV);
    return groups == 1 ? 0 : (uint64_t)groups * 8;
}

vkg_status vkg_argmax(const vkg_kernels *k, vkg_cmd *cmd, vkg_view out, uint32_t out_index, vkg_view x,
                      uint32_t n, vkg_view scratch) {
    if (bad_common(k, cmd))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "argmax: NULL kernels or recorder");
    VKG_TRY(check_n("argmax", n));
    bound bx = {0}, bo = {0};
    VKG_TRY(bind_elems(k, "argmax", "x", x, 0, n, 4, &bx));
    VKG_TRY(bind_elems(k, "argmax", "out", out, out_index, 1, 4, &bo));
    uint32_t wg = k->cpu_tuning ? ARGMAX_WG_CPU : ARGMAX_WG;
    uint32_t per_inv = k->cpu_tuning ? ARGMAX_PER_INV_CPU : ARGMAX_PER_INV;
    uint32_t groups = argmax_groups(n, ARGMAX_WG * ARGMAX_PER_INV);
    vkg_pipeline *p;
    if (groups == 1) {
        VKG_TRY(pipeline(k, "argmax_single", 2, 1u << 1, sizeof(vkg_argmax_push), ARGMAX_WG, &p));
        vkg_argmax_push push = {.n = n, .x_off = bx.off, .per_group = n, .groups = 1, .out_index = bo.off};
        return vkg_cmd_dispatch_1d(cmd, p, (vkg_view[]){bx.view, bo.view}, &push, 1);
    }
    bound bs = {0};
    VKG_TRY(bind_elems(k, "argmax", "scratch", scratch, 0, (uint64_t)groups * 2, 4, &bs));
    if (bs.off)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "argmax: scratch offset %llu must be a multiple of %llu",
                        (unsigned long long)scratch.offset, (unsigned long long)offset_alignment(k));
    VKG_TRY(pipeline(k, "argmax_partial", 2, 1u << 1, sizeof(vkg_argmax_push), wg, &p));
    /* A forced subgroup size may have raised the workgroup: never more groups than scratch holds. */
    uint32_t per_group = vkg_max_u32(vkg_pipeline_local_size(p) * per_inv, ARGMAX_WG * ARGMAX_PER_INV);
    groups = vkg_div_up(n, per_group);
    vkg_argmax_push push = {.n = n, .x_off = bx.off, .per_group = per_group, .groups = groups};
    VKG_TRY(vkg_cmd_dispatch_1d(cmd, p, (vkg_view[]){bx.view, bs.view}, &push, groups));
    VKG_TRY(pipeline(k, "argmax_final", 2, 1u << 1, sizeof(vkg_argmax_push), wg, &p));
    vkg_argmax_push fin = {.n = groups, .per_group = groups, .groups = 1, .out_index = bo.off};
    return vkg_cmd_dispatch_1d(cmd, p, (vkg_view[]){bs.view, bo.view}, &fin, 1);
}
