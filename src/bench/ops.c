/*
 * bench/ops.c — per-kernel benchmarks at the shapes of one synthetic configuration (any family)
 * (vkg_bench_ops_run): every kernel family of src/kernels is recorded alone, at decode (one row)
 * and prefill (prefill_rows rows) shapes, into constant-filled buffers and timed with
 * bench/timing.c. Each op carries the bytes it must move and the FLOPs it does, so the caller can
 * compare with the device's peaks (bench/probes.c). This measures kernels, not the model: it does
 * not check results (the kernel tests do) and is not used by inference.
 */
#include "bench/timing.h"

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/quantize_act.h"
#include "kernels/matmul_q_coopmat.h"
#include "kernels/rowwise.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_OPS = 64, F32_BYTES = 4, BENCH_CTX_MAX = 4096 };

typedef enum op_kind {
    OP_MATMUL, OP_LAYERNORM, OP_RMSNORM, OP_RMSNORM_HEADS, OP_ROPE, OP_SWIGLU, OP_SOFTMAX, OP_GELU, OP_ADD,
    OP_EMBEDDING, OP_KV_STORE, OP_ATTN_DECODE, OP_ATTN_PREFILL, OP_ARGMAX,
} op_kind;

/* One measured op: what to record and what it costs. */
typedef struct op {
    op_kind kind;
    char name[48];
    char shape[64];
    uint64_t bytes, flops;
    uint32_t M, N, K;     /* matmul; rows/width of the row-wise ops are M and N */
    vkg_epilogue ep;
    vkg_storage st;       /* matmul: W's storage */
    bool bias;
    vkg_matmul_path path;
    bool int_dot;         /* matmul: quantize X (vkg_quantize_act), then the int8 dot-product path */
    bool causal;          /* softmax */
    uint32_t pos;         /* step_pos the op runs at (attention decode: context - 1) */
} op;

/* The buffers every op binds parts of; sized once for the largest op. */
typedef struct bench_bufs {
    vkg_kernels k;
    vkg_model_config cfg;
    vkg_storage w, kv;
    vkg_quant quant;        /* the linear layers' block format, or NONE */
    uint32_t rows;          /* prefill rows R */
    uint32_t P;             /* cache positions: the model's context, at most BENCH_CTX_MAX */
    vkg_buffer *x, *y;      /* fp32 activations, act_floats each */
    vkg_buffer *xq;         /* x quantized for the int8 dot-product matmuls (48 bytes per 32 floats) */
    vkg_buffer *weights;    /* [V, d] in w storage: every matrix, wte and wpe are views of it */
    vkg_buffer *bias;       /* fp32, max(4d, V) */
    vkg_buffer *gamma, *beta;
    vkg_buffer *kc, *vc;    /* one layer's cache [KVH, P, hd] */
    vkg_buffer *rope;       /* [P, hd/2, 2] cos/sin */
    vkg_buffer *step;       /* vkg_step: header + R tokens */
    vkg_buffer *attn_scratch, *argmax_scratch, *argmax_out;
    const op *cur;
} bench_bufs;

static vkg_view head(vkg_buffer *b, uint64_t floats) { return (vkg_view){b, 0, floats * F32_BYTES}; }

static vkg_attn_shape attn_shape(const bench_bufs *b, uint32_t T) {
    const vkg_model_config *c = &b->cfg;
    return (vkg_attn_shape){.T = T, .H = c->n_head, .KVH = c->n_kv_head, .hd = c->head_dim, .P = b->P,
                            .window = c->sliding_window, .scale = c->attn_scale};
}

static vkg_status record_op(void *user, vkg_cmd *cmd) {
    const bench_bufs *b = user;
    const op *o = b->cur;
    const vkg_kernels *k = &b->k;
    const vkg_model_config *c = &b->cfg;
    uint32_t d = c->d_model, hd = c->head_dim, V = c->vocab_size, P = b->P;
    uint32_t wq = (c->n_head + 2 * c->n_kv_head) * hd, q = c->n_head * hd;
    vkg_view step = vkg_view_whole(b->step), kc = vkg_view_whole(b->kc), vc = vkg_view_whole(b->vc);
    vkg_attn_shape shape = attn_shape(b, o->M ? o->M : 1);
    switch (o->kind) {
    case OP_MATMUL: {
        vkg_matrix w = {b->weights, 0, o->N, o->K, o->st};
        vkg_view y = head(b->y, (uint64_t)o->M * o->N), bias = head(b->bias, o->N);
        vkg_matmul_options mo = {.path = o->path};
        vkg_kernels kd = *k;
        if (o->int_dot) { /* timed whatever the default policy (kernels/matmul_quant.h) says */
            kd.int_dot = true;
            mo.xq = (vkg_view){b->xq, 0, vkg_quantize_act_bytes(o->M, o->K)};
            VKG_TRY(vkg_quantize_act(&kd, cmd, mo.xq, head(b->x, (uint64_t)o->M * o->K), o->M, o->K));
        }
        return vkg_matmul_ex(&kd, cmd, y, head(b->x, (uint64_t)o->M * o->K), &w, o->bias ? &bias : NULL,
                             o->ep == VKG_EPILOGUE_RESIDUAL ? &y : NULL, o->M, o->ep, &mo);
    }
    case OP_LAYERNORM:
        return vkg_layernorm(k, cmd, head(b->y, (uint64_t)o->M * o->N), head(b->x, (uint64_t)o->M * o->N),
                             vkg_view_whole(b->gamma), vkg_view_whole(b->beta), o->M, o->N, c->norm_eps);
    case OP_RMSNORM:
        return vkg_rmsnorm(k, cmd, head(b->y, (uint64_t)o->M * o->N), head(b->x, (uint64_t)o->M * o->N),
                           vkg_view_whole(b->gamma), o->M, o->N, c->norm_eps);
    case OP_RMSNORM_HEADS:
        return vkg_rmsnorm_heads(k, cmd, head(b->y, (uint64_t)o->M * wq), vkg_view_whole(b->gamma), o->M,
                                 c->n_head + c->n_kv_head, hd, wq, 0, c->norm_eps);
    case OP_ROPE:
        return vkg_rope(k, cmd, head(b->y, (uint64_t)o->M * wq), step, vkg_view_whole(b->rope), o->M,
                        c->n_head + c->n_kv_head, hd, wq, P, c->rope.pairing);
    case OP_SWIGLU:
        return vkg_swiglu(k, cmd, head(b->y, (uint64_t)o->M * c->d_ff), head(b->x, (uint64_t)o->M * 2 * c->d_ff),
                          o->M, c->d_ff);
    case OP_SOFTMAX:
        return vkg_softmax(k, cmd, head(b->y, (uint64_t)o->M * o->N), head(b->x, (uint64_t)o->M * o->N), o->M,
                           o->N, 0.125f, o->causal, 0);
    case OP_GELU:
        return vkg_gelu(k, cmd, head(b->y, o->N), head(b->x, o->N), o->N);
    case OP_ADD:
        return vkg_add(k, cmd, head(b->y, o->N), head(b->x, o->N), head(b->y, o->N), o->N);
    case OP_EMBEDDING: {
        vkg_matrix wte = {b->weights, 0, V, d, b->w}, wpe = {b->weights, 0, c->n_positions, d, b->w};
        return vkg_embedding(k, cmd, head(b->y, (uint64_t)o->M * d), &wte,
                             c->pos == VKG_POS_LEARNED ? &wpe : NULL, step, o->M);
    }
    case OP_KV_STORE:
        return vkg_kv_store(k, cmd, kc, vc, b->kv, head(b->x, (uint64_t)o->M * wq), step, &shape);
    case OP_ATTN_DECODE:
        return vkg_attention_decode(k, cmd, head(b->y, q), head(b->x, wq), kc, vc, b->kv, step,
                                    vkg_view_whole(b->attn_scratch), &shape);
    case OP_ATTN_PREFILL:
        return vkg_attention_prefill(k, cmd, head(b->y, (uint64_t)o->M * q), head(b->x, (uint64_t)o->M * wq), kc,
                                     vc, b->kv, step, &shape);
    case OP_ARGMAX:
        return vkg_argmax(k, cmd, vkg_view_whole(b->argmax_out), 0, head(b->x, V), V,
                          vkg_view_whole(b->argmax_scratch));
    }
    return vkg_fail(VKG_ERROR_INTERNAL, "bench ops: unknown op kind %d", (int)o->kind);
}

/* ---- the op list ---- */

typedef struct op_list {
    op ops[MAX_OPS];
    uint32_t n;
} op_list;

static op *add(op_list *l, op_kind kind, const char *name) {
    assert(l->n < MAX_OPS);
    op *o = &l->ops[l->n++];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    snprintf(o->name, sizeof o->name, "%s", name);
    return o;
}

static const vkg_storage QUANT_STORAGE[] = {VKG_STORAGE_F32, VKG_STORAGE_Q8_0, VKG_STORAGE_Q6_K,
                                            VKG_STORAGE_Q5_K, VKG_STORAGE_Q4_K, VKG_STORAGE_Q4_0};

/* W's storage for a linear layer with rows of K: the block format where rows are whole blocks (Q8_0
 * for a K-quant that does not fit, as --quant stores it), else the dense storage. */
static vkg_storage linear_storage(const bench_bufs *b, uint32_t K) {
    if (b->quant == VKG_QUANT_NONE)
        return b->w;
    vkg_storage s = QUANT_STORAGE[b->quant];
    if (K % vkg_storage_block_elems(s) == 0)
        return s;
    return K % 32 == 0 ? VKG_STORAGE_Q8_0 : b->w;
}

static void add_matmul(op_list *l, const char *kernel, vkg_matmul_path path, const char *role, uint32_t M,
                       uint32_t N, uint32_t K, vkg_epilogue ep, bool bias, vkg_storage st) {
    op *o = add(l, OP_MATMUL, "");
    snprintf(o->name, sizeof o->name, "%s %s", kernel, role);
    snprintf(o->shape, sizeof o->shape, "M=%u N=%u K=%u", M, N, K);
    o->M = M, o->N = N, o->K = K, o->ep = ep, o->bias = bias, o->path = path, o->st = st;
    uint64_t mn = (uint64_t)M * N;
    o->bytes = (uint64_t)N * vkg_storage_row_bytes(st, K) + (uint64_t)M * K * F32_BYTES + mn * F32_BYTES + (bias ? N * F32_BYTES : 0) +
               (ep == VKG_EPILOGUE_RESIDUAL ? mn * F32_BYTES : 0);
    o->flops = 2 * mn * K;
}

static void add_matmuls(op_list *l, const char *kernel, vkg_matmul_path path, uint32_t M, const bench_bufs *b,
                        bool lm_head) {
    const vkg_model_config *c = &b->cfg;
    uint32_t d = c->d_model, q = c->n_head * c->head_dim, wq = (c->n_head + 2 * c->n_kv_head) * c->head_dim;
    add_matmul(l, kernel, path, "qkv", M, wq, d, VKG_EPILOGUE_NONE, c->qkv_bias, linear_storage(b, d));
    add_matmul(l, kernel, path, "o", M, d, q, VKG_EPILOGUE_RESIDUAL, c->o_bias, linear_storage(b, q));
    if (c->gated_mlp)
        add_matmul(l, kernel, path, "gate_up", M, 2 * c->d_ff, d, VKG_EPILOGUE_NONE, c->mlp_bias, linear_storage(b, d));
    else
        add_matmul(l, kernel, path, "up", M, c->d_ff, d, VKG_EPILOGUE_GELU, c->mlp_bias, linear_storage(b, d));
    add_matmul(l, kernel, path, "down", M, d, c->d_ff, VKG_EPILOGUE_RESIDUAL, c->mlp_bias, linear_storage(b, c->d_ff));
    if (lm_head)
        add_matmul(l, kernel, path, "lm_head", M, c->vocab_size, d, VKG_EPILOGUE_NONE, false, linear_storage(b, d));
}

/* The quantized matmuls through int8 dot products (where the device has them), the activation
 * quantization included: only those whose W is in a block format (the dense ones are timed already). */
static void add_dot_matmuls(op_list *l, const bench_bufs *b, const char *kernel, vkg_matmul_path path, uint32_t M,
                            bool lm_head) {
    if (b->quant == VKG_QUANT_NONE || !vkg_context_device(b->k.ctx)->integer_dot_product)
        return;
    uint32_t first = l->n, kept = first;
    add_matmuls(l, kernel, path, M, b, lm_head);
    for (uint32_t i = first; i < l->n; i++)
        if (vkg_storage_is_block(l->ops[i].st)) {
            l->ops[kept] = l->ops[i];
            l->ops[kept].int_dot = true;
            l->ops[kept].bytes += vkg_quantize_act_bytes(M, l->ops[kept].K) * 2; /* written, read */
            kept++;
        }
    l->n = kept;
}

/* An op over rows x width fp32 elements, `per` FLOPs per element, `touch` bytes per element. */
static op *add_rowwise(op_list *l, op_kind kind, const char *name, uint32_t rows, uint32_t width, uint32_t per,
                       uint32_t touch) {
    op *o = add(l, kind, name);
    o->M = rows, o->N = width;
    uint64_t n = (uint64_t)rows * width;
    if (rows == 1)
        snprintf(o->shape, sizeof o->shape, "n=%u", width);
    else
        snprintf(o->shape, sizeof o->shape, "rows=%u width=%u", rows, width);
    o->bytes = n * touch;
    o->flops = n * per;
    return o;
}

static void build(op_list *l, const bench_bufs *b, bool coopmat) {
    const vkg_model_config *c = &b->cfg;
    uint32_t d = c->d_model, H = c->n_head, KVH = c->n_kv_head, hd = c->head_dim, P = b->P, V = c->vocab_size;
    uint32_t R = b->rows, q = H * hd, kvw = KVH * hd, wq = q + 2 * kvw, ff = c->d_ff;
    uint32_t wb = vkg_storage_bytes(b->w), kvb = vkg_storage_bytes(b->kv);
    l->n = 0;
    add_matmuls(l, "matmul_vec", VKG_MATMUL_PATH_VECTOR, 1, b, true);
    add_dot_matmuls(l, b, "matmul_q_dot", VKG_MATMUL_PATH_VECTOR, 1, true);
    /* Prefill shapes through both paths: the tiled one GPUs use, and the vector one with several rows
     * per workgroup that CPU devices take (kernels.h, cpu_tuning). */
    add_matmuls(l, "matmul_tiled", VKG_MATMUL_PATH_TILED, R, b, false);
    add_dot_matmuls(l, b, "matmul_q_dot_tiled", VKG_MATMUL_PATH_TILED, R, false);
    add_matmuls(l, "matmul_vec", VKG_MATMUL_PATH_VECTOR, R, b, false);
    add_dot_matmuls(l, b, "matmul_q_dot", VKG_MATMUL_PATH_VECTOR, R, false);
    if (coopmat && b->quant != VKG_QUANT_NONE)
        add_matmuls(l, b->k.coopmat_quant == VKG_COOPMAT_KHR ? "matmul_q_coopmat_khr" : "matmul_q_coopmat_nv",
                    VKG_MATMUL_PATH_COOPMAT, R, b, false);
    else if (coopmat)
        add_matmuls(l, b->k.coopmat == VKG_COOPMAT_KHR ? "matmul_coopmat_khr" : "matmul_coopmat_nv",
                    VKG_MATMUL_PATH_COOPMAT, R, b, false);

    const uint32_t rows[2] = {1, R};
    uint32_t n_rows = R > 1 ? 2 : 1;
    for (uint32_t i = 0; i < n_rows; i++) {
        uint32_t T = rows[i];
        if (c->norm == VKG_NORM_RMSNORM)
            add_rowwise(l, OP_RMSNORM, "rmsnorm", T, d, 4, 2 * F32_BYTES);
        else
            add_rowwise(l, OP_LAYERNORM, "layernorm", T, d, 8, 2 * F32_BYTES);
        if (c->qk_norm)
            add_rowwise(l, OP_RMSNORM_HEADS, "rmsnorm_heads q+k", T, q + kvw, 4, 2 * F32_BYTES);
        if (c->pos == VKG_POS_ROPE) {
            op *o = add_rowwise(l, OP_ROPE, "rope q+k", T, q + kvw, 3, 2 * F32_BYTES);
            o->bytes += (uint64_t)T * hd * F32_BYTES; /* the table rows */
        }
        if (c->gated_mlp)
            add_rowwise(l, OP_SWIGLU, "swiglu", T, ff, 6, 3 * F32_BYTES);
    }
    uint32_t scores = vkg_min_u32(1024, P);
    add_rowwise(l, OP_SOFTMAX, "softmax", H, scores, 5, 2 * F32_BYTES);
    add_rowwise(l, OP_SOFTMAX, "softmax causal", R, R, 5, 2 * F32_BYTES)->causal = true;
    if (!c->gated_mlp) {
        add_rowwise(l, OP_GELU, "gelu", 1, ff, 9, 2 * F32_BYTES);
        op *g = add_rowwise(l, OP_GELU, "gelu", R, ff, 9, 2 * F32_BYTES);
        g->N = R * ff;
    }
    add_rowwise(l, OP_ADD, "add", 1, d, 1, 3 * F32_BYTES);
    op *a = add_rowwise(l, OP_ADD, "add", R, d, 1, 3 * F32_BYTES);
    a->N = R * d;
    for (uint32_t i = 0; i < n_rows; i++) {
        uint32_t T = rows[i];
        op *o = add(l, OP_EMBEDDING, "embedding");
        o->M = T;
        snprintf(o->shape, sizeof o->shape, "T=%u d=%u", T, d);
        o->bytes = (uint64_t)T * d * ((c->pos == VKG_POS_LEARNED ? 2 : 1) * wb + F32_BYTES) + (4 + T) * 4ull;
        o->flops = (uint64_t)T * d;
    }
    for (uint32_t i = 0; i < n_rows; i++) {
        uint32_t T = rows[i];
        op *o = add(l, OP_KV_STORE, "kv_store");
        o->M = T;
        snprintf(o->shape, sizeof o->shape, "T=%u KVH=%u hd=%u", T, KVH, hd);
        o->bytes = (uint64_t)T * 2 * kvw * (F32_BYTES + kvb);
    }
    static const uint32_t decode_ctx[] = {128, 512, 1024, 2048};
    for (size_t i = 0; i < VKG_ARRAY_LEN(decode_ctx); i++) {
        uint32_t T = decode_ctx[i];
        if (T > P)
            break;
        op *o = add(l, OP_ATTN_DECODE, "attention_decode");
        o->pos = T - 1;
        snprintf(o->shape, sizeof o->shape, "ctx=%u H=%u KVH=%u hd=%u", T, H, KVH, hd);
        /* K and V of every K/V head once (grouped query heads share them), q in, out. */
        o->bytes = 2ull * T * kvw * kvb + 2ull * q * F32_BYTES;
        o->flops = 4ull * T * q;
    }
    /* Prefill attention at 128 and 512 rows where they fit; with fewer prefill rows, at R. */
    const uint32_t prefill_T[2] = {R < 128 ? R : 128, 512};
    for (size_t i = 0; i < VKG_ARRAY_LEN(prefill_T); i++) {
        uint32_t T = prefill_T[i];
        if (T > R || T > P || (i > 0 && T == prefill_T[0]))
            break;
        op *o = add(l, OP_ATTN_PREFILL, "attention_prefill");
        o->M = T;
        snprintf(o->shape, sizeof o->shape, "T=%u H=%u KVH=%u hd=%u", T, H, KVH, hd);
        o->bytes = (uint64_t)T * (2ull * q * F32_BYTES + 2ull * kvw * (F32_BYTES + kvb));
        o->flops = 2ull * q * T * (T + 1); /* causal: row t attends t+1 keys, 4 FLOPs per key and dim */
    }
    op *m = add(l, OP_ARGMAX, "argmax");
    snprintf(m->shape, sizeof m->shape, "n=%u", V);
    m->bytes = (uint64_t)V * F32_BYTES;
    (void)wq;
}

/* ---- buffers and the run ---- */

static vkg_status make(vkg_context *ctx, uint64_t bytes, const char *name, uint32_t pattern, vkg_buffer **out) {
    VKG_TRY(vkg_buffer_create(ctx, bytes, VKG_MEMORY_DEVICE, name, out));
    return vkg_buffer_fill(*out, 0, bytes, pattern);
}

enum {
    ONE_F32 = 0x3c23d70a, /* 0.01f: finite through every op */
    ONE_F16X2 = 0x211f211f, /* two halves of about 0.01 */
};

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static vkg_status alloc_bufs(vkg_context *ctx, bench_bufs *b) {
    const vkg_model_config *c = &b->cfg;
    uint64_t d = c->d_model, V = c->vocab_size, P = b->P, R = b->rows, H = c->n_head, hd = c->head_dim;
    uint64_t wq = (H + 2ull * c->n_kv_head) * hd, up = c->gated_mlp ? 2ull * c->d_ff : c->d_ff;
    uint64_t widest = max_u64(max_u64(d, wq), max_u64(up, H * hd));
    uint64_t act = max_u64(max_u64(R * widest, V), max_u64(R * R, H * 1024));
    uint32_t wpat = b->w == VKG_STORAGE_F32 ? ONE_F32 : ONE_F16X2; /* 0x211f is also a small bf16 */
    uint32_t kvpat = b->kv == VKG_STORAGE_F16 ? ONE_F16X2 : ONE_F32;
    uint64_t cache = P * c->n_kv_head * hd * vkg_storage_bytes(b->kv);
    uint64_t matrix = max_u64(max_u64(V * d, up * d), max_u64(wq * d, (uint64_t)c->n_positions * d));
    VKG_TRY(make(ctx, act * F32_BYTES, "bench x", ONE_F32, &b->x));
    VKG_TRY(make(ctx, act * F32_BYTES, "bench y", 0, &b->y));
    VKG_TRY(make(ctx, act / 32 * 48 + 48, "bench xq", 0, &b->xq));
    VKG_TRY(make(ctx, matrix * vkg_storage_bytes(b->w) + 16, "bench weights", wpat, &b->weights));
    VKG_TRY(make(ctx, max_u64(V, max_u64(up, wq)) * F32_BYTES, "bench bias", ONE_F32, &b->bias));
    VKG_TRY(make(ctx, max_u64(d, hd) * F32_BYTES, "bench gamma", ONE_F32, &b->gamma));
    VKG_TRY(make(ctx, d * F32_BYTES, "bench beta", 0, &b->beta));
    VKG_TRY(make(ctx, cache, "bench K cache", kvpat, &b->kc));
    VKG_TRY(make(ctx, cache, "bench V cache", kvpat, &b->vc));
    VKG_TRY(make(ctx, P * hd * F32_BYTES, "bench rope table", ONE_F32, &b->rope));
    VKG_TRY(make(ctx, (4 + R) * 4, "bench step", 0, &b->step));
    vkg_attn_shape shape = attn_shape(b, 1);
    uint64_t scratch = vkg_attention_decode_scratch_bytes(&b->k, &shape);
    VKG_TRY(make(ctx, scratch ? scratch : 16, "bench attention scratch", 0, &b->attn_scratch));
    scratch = vkg_argmax_scratch_bytes((uint32_t)V);
    VKG_TRY(make(ctx, scratch ? scratch : 16, "bench argmax scratch", 0, &b->argmax_scratch));
    return make(ctx, 16, "bench argmax out", 0, &b->argmax_out);
}

static void free_bufs(bench_bufs *b) {
    vkg_buffer *all[] = {b->x, b->y, b->xq, b->weights, b->bias, b->gamma, b->beta, b->kc, b->vc, b->rope, b->step,
                         b->attn_scratch, b->argmax_scratch, b->argmax_out};
    for (size_t i = 0; i < VKG_ARRAY_LEN(all); i++)
        vkg_buffer_destroy(all[i]);
}

/* Step buffer for an op: its position and T token ids spread over the vocabulary. */
static vkg_status write_step(bench_bufs *b, const op *o) {
    uint32_t n = 4 + b->rows;
    uint32_t *s = calloc(n, sizeof *s);
    if (!s)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory for a step buffer");
    s[0] = o->pos;
    for (uint32_t t = 0; t < b->rows; t++)
        s[4 + t] = (uint32_t)(((uint64_t)t * 7919u + 13u) % b->cfg.vocab_size);
    vkg_status st = vkg_buffer_upload(b->step, 0, s, (uint64_t)n * sizeof *s);
    free(s);
    return st;
}

vkg_bench_ops_options vkg_bench_ops_default_options(void) {
    return (vkg_bench_ops_options){.config = "gpt2", .weights = VKG_PRECISION_F32, .kv = VKG_PRECISION_F32,
                                   .prefill_rows = 0, .filter = NULL, .sample_time_s = 0.002,
                                   .min_time_s = 0.02, .min_samples = 5, .max_samples = 200};
}

static vkg_status run_ops(vkg_context *ctx, const vkg_bench_ops_options *o, bench_bufs *b, op_list *l,
                          vkg_cmd *cmd, vkg_bench_op_fn fn, void *user) {
    vkg_bench_policy pol = {.sample_time_s = o->sample_time_s, .min_time_s = o->min_time_s,
                            .min_samples = o->min_samples ? o->min_samples : 1,
                            .max_samples = o->max_samples ? o->max_samples : 1, .max_reps = 256};
    if (pol.max_samples < pol.min_samples)
        pol.max_samples = pol.min_samples;
    VKG_TRY(alloc_bufs(ctx, b));
    for (uint32_t i = 0; i < l->n; i++) {
        const op *p = &l->ops[i];
        if (o->filter && !strstr(p->name, o->filter))
            continue;
        b->cur = p;
        VKG_TRY(write_step(b, p));
        vkg_bench_timing t;
        vkg_status st = vkg_bench_time(ctx, cmd, record_op, b, &pol, &t);
        if (st != VKG_OK)
            return vkg_fail_context(st, "benchmarking %s (%s)", p->name, p->shape);
        vkg_bench_op r = {.name = p->name, .shape = p->shape, .dispatches = t.dispatches, .bytes = p->bytes,
                          .flops = p->flops, .median_ns = t.median_ns, .min_ns = t.min_ns, .reps = t.reps,
                          .n_samples = t.n_samples, .samples_ns = t.samples_ns,
                          .gpu_timestamps = t.gpu_timestamps};
        if (fn)
            fn(&r, user);
        free(t.samples_ns);
    }
    return VKG_OK;
}

vkg_status vkg_bench_ops_run(vkg_context *ctx, const vkg_bench_ops_options *opts, vkg_bench_op_fn fn, void *user) {
    if (!ctx)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_bench_ops_run: NULL context");
    vkg_bench_ops_options o = opts ? *opts : vkg_bench_ops_default_options();
    if (!o.config)
        o.config = "gpt2";
    const vkg_device_info *info = vkg_context_device(ctx);
    bench_bufs b = {.k = vkg_kernels_default(ctx)};
    VKG_TRY(vkg_synthetic_config(o.config, &b.cfg));
    if (o.weights == VKG_PRECISION_AUTO)
        o.weights = VKG_PRECISION_F32;
    if ((o.weights != VKG_PRECISION_F32 || o.kv == VKG_PRECISION_F16) && !info->storage_16bit)
        return vkg_fail(VKG_ERROR_FEATURE_MISSING, "bench ops: 16-bit weights or cache need 16-bit storage, which "
                        "%s lacks (or VKG_DISABLE_FP16 is set)", info->name);
    b.w = o.weights == VKG_PRECISION_F16 ? VKG_STORAGE_F16 : o.weights == VKG_PRECISION_BF16 ? VKG_STORAGE_BF16
                                                                                          : VKG_STORAGE_F32;
    b.kv = o.kv == VKG_PRECISION_F16 ? VKG_STORAGE_F16 : VKG_STORAGE_F32;
    b.quant = o.quant;
    b.P = vkg_min_u32(b.cfg.n_positions, BENCH_CTX_MAX);
    b.rows = vkg_min_u32(o.prefill_rows ? o.prefill_rows : 512, b.P);
    const char *coopmat_off = NULL; /* timed only once it has computed a known product right */
    if (b.w == VKG_STORAGE_F16)
        VKG_TRY(vkg_matmul_coopmat_verify(&b.k, &coopmat_off));
    if (b.quant != VKG_QUANT_NONE) /* block formats: their own shaders, their own check */
        VKG_TRY(vkg_matmul_q_coopmat_verify(&b.k, &coopmat_off));
    op_list *l = vkg_calloc(1, sizeof *l);
    if (!l)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory for the op list");
    build(l, &b, b.quant != VKG_QUANT_NONE ? b.k.coopmat_quant != VKG_COOPMAT_NONE
                                           : b.w == VKG_STORAGE_F16 && b.k.coopmat != VKG_COOPMAT_NONE);
    bool any = !o.filter;
    for (uint32_t i = 0; i < l->n && !any; i++)
        any = strstr(l->ops[i].name, o.filter) != NULL;
    vkg_status st = VKG_OK;
    if (!any) {
        st = vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "bench ops: no op name contains '%s' (names: matmul_vec, "
                      "matmul_q_dot, matmul_q_dot_tiled, "
                      "matmul_tiled, matmul_coopmat_khr|nv, matmul_q_coopmat_khr|nv, layernorm, rmsnorm, "
                      "rmsnorm_heads, rope, swiglu, softmax, gelu, add, embedding, kv_store, "
                      "attention_decode, attention_prefill, argmax)", o.filter);
        free(l);
        return st;
    }
    vkg_cmd *cmd = NULL;
    st = vkg_cmd_create(ctx, "bench ops", &cmd);
    if (st == VKG_OK)
        st = run_ops(ctx, &o, &b, l, cmd, fn, user);
    vkg_cmd_destroy(cmd);
    free_bufs(&b);
    free(l);
    return st;
}
