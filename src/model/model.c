/*
 * model/model.c — building a vkg_model: checking that it fits the device, allocating one buffer per
 * weight and filling each from a vkg_weight_source through the runtime's staging path, converting to
 * the storage precision on the way. Loading from files (load.c) and generating synthetic weights
 * (synthetic.c) only describe where values come from.
 */
#include "model/model.h"

#include "kernels/matmul.h"
#include "kernels/matmul_q_coopmat.h"
#include "kernels/matmul_quant.h"
#include "model/config.h"
#include "model/dtype.h"
#include "model/quant.h"

#include <math.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CONVERT_CHUNK = 4096 };

/* The largest finite fp16 value: a weight beyond it would become infinity. */
#define F16_MAX 65504.0f

typedef struct upload {
    const vkg_weight_source *src;
    vkg_storage storage;
    uint64_t first_row;   /* this segment's first row in the source's stacked rows */
    const void *raw[VKG_MAX_PARTS]; /* block formats: raw blocks of consecutive parts to copy, back to */
    uint64_t raw_bytes[VKG_MAX_PARTS]; /* back; raw[0] NULL: quantize floats instead */
    float *row;           /* block formats from floats: one row of floats ... */
    uint8_t *blocks;      /* ... and its quantized blocks */
    const vkg_model_options *opts;
    uint64_t base, total; /* bytes before this tensor, and of the whole model, for progress */
    float out_of_range;   /* first value fp16 cannot hold (0: none) */
    vkg_status status;    /* a quantizer failure (non-finite value) */
} upload;

static const uint32_t GGML_OF_STORAGE[] = {0, 0, 0, 8, 2, 12, 13, 14}; /* vkg_storage -> ggml type number */

/* Block-format bytes [off, off + len) of a segment: raw blocks copied as they are, or rows of floats
 * quantized one by one (a row cut by a chunk boundary is quantized again for the next chunk). The
 * buffer is rounded up to 32-bit words; the bytes past the data are zero. */
static void fill_blocks(uint8_t *dst, uint64_t off, uint64_t len, upload *u) {
    uint64_t cols = u->src->cols, row_bytes = vkg_storage_row_bytes(u->storage, (uint32_t)cols);
    uint64_t data = row_bytes * u->src->rows, end = off + len;
    if (end > data) {
        uint64_t from = off > data ? off : data;
        memset(dst + (from - off), 0, end - from);
        end = data;
    }
    if (off >= end)
        return;
    if (u->raw[0]) {
        uint64_t at = 0; /* byte offset of part p in the segment */
        for (int p = 0; p < VKG_MAX_PARTS && u->raw[p]; at += u->raw_bytes[p++]) {
            uint64_t lo = off > at ? off : at, hi = end < at + u->raw_bytes[p] ? end : at + u->raw_bytes[p];
            if (lo < hi)
                memcpy(dst + (lo - off), (const uint8_t *)u->raw[p] + (lo - at), hi - lo);
        }
        return;
    }
    for (uint64_t r = off / row_bytes; r * row_bytes < end; r++) {
        u->src->read(u->src, (u->first_row + r) * cols, cols, u->row);
        vkg_status s = vkg_quant_quantize(GGML_OF_STORAGE[u->storage], u->row, u->blocks, cols);
        if (s != VKG_OK && u->status == VKG_OK)
            u->status = s;
        uint64_t lo = r * row_bytes > off ? r * row_bytes : off, hi = (r + 1) * row_bytes < end ? (r + 1) * row_bytes : end;
        memcpy(dst + (lo - off), u->blocks + (lo - r * row_bytes), hi - lo);
    }
}

static void fill_weights(void *dst, uint64_t off, uint64_t len, void *user) {
    upload *u = user;
    if (vkg_storage_is_block(u->storage)) {
        fill_blocks(dst, off, len, u);
        return;
    }
    uint32_t esz = vkg_storage_bytes(u->storage);
    uint64_t first = off / esz + u->first_row * u->src->cols, n = len / esz;
    float tmp[CONVERT_CHUNK];
    for (uint64_t done = 0; done < n;) {
        uint64_t k = n - done < CONVERT_CHUNK ? n - done : CONVERT_CHUNK;
        u->src->read(u->src, first + done, k, tmp);
        if (u->storage == VKG_STORAGE_F16) {
            uint16_t *d = (uint16_t *)dst + done;
            for (uint64_t i = 0; i < k; i++) {
                if (!(tmp[i] <= F16_MAX && tmp[i] >= -F16_MAX) && u->out_of_range == 0 && !isnan(tmp[i]))
                    u->out_of_range = tmp[i];
                d[i] = vkg_f32_to_f16(tmp[i]);
            }
        } else if (u->storage == VKG_STORAGE_BF16) {
            uint16_t *d = (uint16_t *)dst + done;
            for (uint64_t i = 0; i < k; i++)
                d[i] = vkg_f32_to_bf16(tmp[i]);
        } else {
            memcpy((float *)dst + done, tmp, k * sizeof(float));
        }
        done += k;
    }
}

static void report_progress(uint64_t done, uint64_t total, void *user) {
    (void)total;
    const upload *u = user;
    if (u->opts->progress)
        u->opts->progress(u->base + done, u->total, u->opts->progress_user);
}

bool vkg_role_is_matrix(vkg_weight_role r) {
    return r == VKG_W_TOK_EMBD || r == VKG_W_POS_EMBD || r == VKG_W_LM_HEAD || r == VKG_W_QKV || r == VKG_W_O ||
           r == VKG_W_UP || r == VKG_W_DOWN;
}

static vkg_storage storage_of(vkg_precision p) {
    return p == VKG_PRECISION_F16 ? VKG_STORAGE_F16 : p == VKG_PRECISION_BF16 ? VKG_STORAGE_BF16 : VKG_STORAGE_F32;
}

typedef struct builder {
    vkg_model *m;
    const vkg_model_options *opts;
    vkg_weight_source_fn get;
    void *user;
    uint64_t done, total;
} builder;

static const vkg_storage QUANT_STORAGE[] = {VKG_STORAGE_F32, VKG_STORAGE_Q8_0, VKG_STORAGE_Q6_K,
                                            VKG_STORAGE_Q5_K, VKG_STORAGE_Q4_K, VKG_STORAGE_Q4_0};

/* The roles --quant applies to: the linear layers (the embedding table is gathered, not multiplied,
 * except as a tied LM head, and stays in the dense precision). */
static bool quantizable(vkg_weight_role r) {
    return r == VKG_W_QKV || r == VKG_W_O || r == VKG_W_UP || r == VKG_W_DOWN || r == VKG_W_LM_HEAD;
}

/* Storage of a matrix of `cols` columns quantized to q: the format when rows are whole blocks, else
 * Q8_0 (32-element blocks), else the dense precision. */
static vkg_storage quant_storage(vkg_quant q, uint32_t cols, vkg_storage dense) {
    vkg_storage s = QUANT_STORAGE[q];
    if (cols % vkg_storage_block_elems(s) == 0)
        return s;
    return cols % 32 == 0 ? VKG_STORAGE_Q8_0 : dense;
}

static uint64_t storage_bytes(vkg_storage st, uint64_t rows, uint64_t cols) {
    if (!vkg_storage_is_block(st))
        return rows * cols * vkg_storage_bytes(st);
    return vkg_matmul_quant_bytes(st, (uint32_t)rows, (uint32_t)cols); /* whole 32-bit words, and one more */
}

/* One segment of a weight: rows [row0, row0 + rows) of the source in storage `st`. */
static vkg_status make_segment(builder *b, const vkg_weight_source *src, const char *name, uint64_t row0,
                               uint64_t rows, vkg_storage st, const void *const *raw, vkg_matrix *out) {
    uint64_t cols = src->cols, bytes = storage_bytes(st, rows, cols);
    vkg_buffer *buf = NULL;
    VKG_TRY(vkg_buffer_create(b->m->ctx, bytes, VKG_MEMORY_DEVICE, name, &buf));
    upload u = {.src = src, .storage = st, .first_row = row0, .opts = b->opts, .base = b->done, .total = b->total};
    /* Raw parts of this segment: the source's parts from the one starting at row0, while they last. */
    uint64_t r = 0;
    for (uint32_t p = 0, k = 0; raw && p < src->n_parts; r += src->part_rows[p++])
        if (r >= row0 && r < row0 + rows) {
            u.raw[k] = raw[p];
            u.raw_bytes[k++] = vkg_storage_row_bytes(st, (uint32_t)cols) * src->part_rows[p];
        }
    vkg_status s = VKG_OK;
    if (vkg_storage_is_block(st) && !u.raw[0]) {
        u.row = malloc(cols * sizeof(float));
        u.blocks = malloc(vkg_storage_row_bytes(st, (uint32_t)cols));
        if (!u.row || !u.blocks)
            s = vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory quantizing %s", name);
    }
    if (s == VKG_OK)
        s = vkg_buffer_write(buf, 0, bytes, fill_weights, &u, report_progress);
    if (s == VKG_OK)
        s = u.status;
    if (s == VKG_OK && u.out_of_range != 0)
        s = vkg_fail(VKG_ERROR_BAD_WEIGHTS, "tensor %s holds %g, outside the fp16 range (+-65504): load it as f32 "
                     "or bf16 (--dtype)", src->name ? src->name : name, u.out_of_range);
    free(u.row);
    free(u.blocks);
    if (s != VKG_OK) {
        vkg_buffer_destroy(buf);
        return vkg_fail_context(s, "uploading %s", name);
    }
    b->done += bytes;
    /* The weights' own bytes (what a decode step reads), not the 32-bit padding of a block format. */
    b->m->weight_bytes += vkg_storage_is_block(st) ? vkg_storage_row_bytes(st, (uint32_t)cols) * rows : bytes;
    *out = (vkg_matrix){.buf = buf, .offset = 0, .rows = (uint32_t)rows, .cols = (uint32_t)cols, .storage = st};
    return VKG_OK;
}

/* Create and fill one weight: a matrix (in the storage precision, a quantized format, or the source's
 * own block formats, as segments where its parts differ), or an fp32 vector. */
static vkg_status make_weight(builder *b, vkg_weight_role role, uint32_t layer) {
    uint64_t rows, cols;
    vkg_role_shape(&b->m->cfg, role, 1, &rows, &cols, NULL);
    vkg_weight_source src = {0};
    b->get(b->user, role, layer, &src);
    src.rows = (uint32_t)rows;
    src.cols = (uint32_t)cols;
    char name[96];
    if (role >= VKG_W_FIRST_LAYER_ROLE)
        snprintf(name, sizeof name, "layer %u %s", layer, vkg_role_name(role));
    else
        snprintf(name, sizeof name, "%s", vkg_role_name(role));
    vkg_weight *w = (vkg_weight *)vkg_model_weight_segs(b->m, role, layer);
    bool matrix = vkg_role_is_matrix(role);
    vkg_storage dense = matrix ? storage_of(b->m->precision) : VKG_STORAGE_F32;
    bool any_raw = false;
    for (uint32_t p = 0; p < src.n_parts; p++)
        any_raw |= src.raw[p] != NULL;
    if (matrix && any_raw && role != VKG_W_TOK_EMBD && role != VKG_W_POS_EMBD) {
        /* Block-format parts stay as they are; runs of consecutive parts in the same format (or all
         * read as floats) share a segment, a change of format starts the next one. */
        uint64_t row0 = 0;
        for (uint32_t p = 0; p < src.n_parts;) {
            vkg_storage st = src.raw[p] ? src.raw_storage[p] : dense;
            uint64_t seg_rows = 0;
            uint32_t q = p;
            while (q < src.n_parts && (src.raw[q] != NULL) == (src.raw[p] != NULL) &&
                   (src.raw[q] ? src.raw_storage[q] : dense) == st)
                seg_rows += src.part_rows[q++];
            char seg_name[112];
            snprintf(seg_name, sizeof seg_name, "%s [%u]", name, w->n_seg);
            VKG_TRY(make_segment(b, &src, seg_name, row0, seg_rows, st, src.raw[p] ? src.raw : NULL,
                                 &w->seg[w->n_seg]));
            w->n_seg++;
            row0 += seg_rows;
            p = q;
        }
    } else {
        vkg_storage st = dense;
        if (matrix && b->m->quant != VKG_QUANT_NONE && quantizable(role))
            st = quant_storage(b->m->quant, (uint32_t)cols, dense);
        VKG_TRY(make_segment(b, &src, name, 0, rows, st, NULL, &w->seg[0]));
        w->n_seg = 1;
    }
    b->m->params += rows * cols;
    return VKG_OK;
}

uint64_t vkg_model_bytes(const vkg_model_config *c, vkg_precision p, vkg_quant q) {
    uint64_t total = 0;
    vkg_storage dense = storage_of(p);
    for (int r = 0; r < VKG_W_ROLE_COUNT; r++) {
        vkg_weight_role role = (vkg_weight_role)r;
        if (!vkg_role_present(c, role))
            continue;
        uint64_t rows, cols;
        vkg_role_shape(c, role, 1, &rows, &cols, NULL);
        vkg_storage st = !vkg_role_is_matrix(role) ? VKG_STORAGE_F32
                         : q != VKG_QUANT_NONE && quantizable(role) ? quant_storage(q, (uint32_t)cols, dense)
                                                                     : dense;
        uint64_t bytes = storage_bytes(st, rows, cols);
        total += r < VKG_W_FIRST_LAYER_ROLE ? bytes : bytes * c->n_layer;
    }
    return total;
}

/* The config is valid and the precision usable on this device (sizes aside). */
static vkg_status check_precision(vkg_context *ctx, const vkg_model_config *c, vkg_precision p) {
    const vkg_device_info *info = vkg_context_device(ctx);
    VKG_TRY(vkg_config_check(c, "model config"));
    if (p != VKG_PRECISION_F32 && p != VKG_PRECISION_F16 && p != VKG_PRECISION_BF16)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "weights precision %d: use f32, f16 or bf16", (int)p);
    if (p != VKG_PRECISION_F32 && !info->storage_16bit)
        return vkg_fail(VKG_ERROR_FEATURE_MISSING, "%s weights need 16-bit storage, which %s lacks (or "
                        "VKG_DISABLE_FP16 is set); use f32", p == VKG_PRECISION_F16 ? "fp16" : "bf16", info->name);
    return VKG_OK;
}

/* `need` bytes of weights fit the largest device-local heap. */
static vkg_status check_fit(vkg_context *ctx, uint64_t need) {
    const vkg_device_info *info = vkg_context_device(ctx);
    uint64_t heap = 0;
    for (uint32_t i = 0; i < info->n_heaps; i++)
        if (info->heaps[i].device_local && info->heaps[i].size > heap)
            heap = info->heaps[i].size;
    if (need > heap)
        return vkg_fail(VKG_ERROR_OUT_OF_DEVICE_MEMORY, "the model's weights need %.1f MiB but the largest "
                        "device heap of %s holds %.1f MiB", need / 1048576.0, info->name, heap / 1048576.0);
    return VKG_OK;
}

vkg_status vkg_model_check_config(vkg_context *ctx, const vkg_model_config *c, vkg_precision p, vkg_quant q) {
    VKG_TRY(check_precision(ctx, c, p));
    return check_fit(ctx, vkg_model_bytes(c, p, q));
}

/* Bytes the weight of `role` will take on the device, from where its values come: block-format parts
 * as they are (one segment each at most), the rest as make_weight stores it. */
static uint64_t planned_bytes(const vkg_model *m, vkg_weight_role role, const vkg_weight_source *src) {
    uint64_t rows, cols;
    vkg_role_shape(&m->cfg, role, 1, &rows, &cols, NULL);
    if (!vkg_role_is_matrix(role))
        return storage_bytes(VKG_STORAGE_F32, rows, cols);
    vkg_storage dense = storage_of(m->precision);
    bool any_raw = false;
    for (uint32_t p = 0; p < src->n_parts; p++)
        any_raw |= src->raw[p] != NULL;
    if (any_raw && role != VKG_W_TOK_EMBD && role != VKG_W_POS_EMBD) {
        uint64_t total = 0;
        for (uint32_t p = 0; p < src->n_parts; p++)
            total += storage_bytes(src->raw[p] ? src->raw_storage[p] : dense, src->part_rows[p], cols);
        return total;
    }
    vkg_storage st = m->quant != VKG_QUANT_NONE && quantizable(role) ? quant_storage(m->quant, (uint32_t)cols, dense)
                                                                      : dense;
    return storage_bytes(st, rows, cols);
}

/* The whole model's device bytes, asking every source where its values come from. */
static uint64_t planned_model_bytes(const vkg_model *m, vkg_weight_source_fn get, void *user) {
    const vkg_model_config *c = &m->cfg;
    uint64_t total = 0;
    for (uint32_t l = 0; l < c->n_layer; l++)
        for (int r = 0; r < VKG_W_ROLE_COUNT; r++) {
            if ((l > 0 && r < VKG_W_FIRST_LAYER_ROLE) || !vkg_role_present(c, (vkg_weight_role)r))
                continue;
            vkg_weight_source src = {0};
            get(user, (vkg_weight_role)r, l, &src);
            total += planned_bytes(m, (vkg_weight_role)r, &src);
        }
    return total;
}

vkg_model_options vkg_model_default_options(void) {
    return (vkg_model_options){.weights = VKG_PRECISION_F32, .check_finite = true};
}

/* vkg_model_prefill_matmul's words, fixed when the model is built. */
static void describe_prefill_matmul(vkg_model *m, const char *coopmat_off) {
    const vkg_kernels *k = &m->kernels;
    const char *what = "tiled";
    if (k->cpu_tuning)
        what = "vector (CPU device)";
    else if (m->precision == VKG_PRECISION_BF16)
        what = "tiled (bf16 weights: cooperative matrices take fp16)";
    else if (m->precision == VKG_PRECISION_F16 && k->coopmat == VKG_COOPMAT_KHR)
        what = "cooperative matrix (VK_KHR_cooperative_matrix)";
    else if (m->precision == VKG_PRECISION_F16 && k->coopmat == VKG_COOPMAT_NV)
        what = "cooperative matrix (VK_NV_cooperative_matrix)";
    if (coopmat_off)
        snprintf(m->prefill_matmul, sizeof m->prefill_matmul, "%s (cooperative matrices off: %s)", what,
                 coopmat_off);
    else
        snprintf(m->prefill_matmul, sizeof m->prefill_matmul, "%s", what);
}

/* Whether any matrix is stored in a ggml block format (a GGUF file's blocks, or --quant). */
static bool has_block_weights(const vkg_model *m) {
    for (size_t i = 0; i < ((size_t)m->cfg.n_layer + 1) * VKG_W_ROLE_COUNT; i++)
        for (uint32_t g = 0; g < m->w[i].n_seg; g++)
            if (vkg_storage_is_block(m->w[i].seg[g].storage))
                return true;
    return false;
}

/* The block formats' prefill path, appended to the description (GPU work split only: a CPU device
 * runs them on the vector path). */
static void describe_block_prefill(vkg_model *m, const char *off) {
    const vkg_kernels *k = &m->kernels;
    size_t n = strlen(m->prefill_matmul);
    if (k->cpu_tuning || n >= sizeof m->prefill_matmul)
        return;
    snprintf(m->prefill_matmul + n, sizeof m->prefill_matmul - n, "; block formats: %s%s%s",
             k->coopmat_quant == VKG_COOPMAT_KHR  ? "cooperative matrix (KHR)"
             : k->coopmat_quant == VKG_COOPMAT_NV ? "cooperative matrix (NV)"
                                                  : "tiled",
             off ? ", cooperative matrices off: " : "", off ? off : "");
}

vkg_status vkg_model_build(vkg_context *ctx, const vkg_model_config *cfg, const vkg_model_options *opts,
                           vkg_weight_source_fn get, void *user, vkg_model **out) {
    *out = NULL;
    vkg_model_options o = opts ? *opts : vkg_model_default_options();
    VKG_TRY(check_precision(ctx, cfg, o.weights));
    vkg_model *m = vkg_calloc(1, sizeof *m);
    if (!m)
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    m->ctx = ctx;
    m->kernels = vkg_kernels_default(ctx);
    m->cfg = *cfg;
    m->precision = o.weights;
    m->quant = o.quant;
    m->w = vkg_calloc(((size_t)cfg->n_layer + 1) * VKG_W_ROLE_COUNT, sizeof *m->w);
    if (!m->w) {
        free(m);
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    }
    builder b = {.m = m, .opts = &o, .get = get, .user = user, .total = planned_model_bytes(m, get, user)};
    vkg_status s = check_fit(ctx, b.total); /* before any upload: a GGUF file's blocks counted as they are */
    for (int r = 0; r < VKG_W_FIRST_LAYER_ROLE && s == VKG_OK; r++)
        if (vkg_role_present(cfg, (vkg_weight_role)r))
            s = make_weight(&b, (vkg_weight_role)r, 0);
    for (uint32_t l = 0; l < cfg->n_layer && s == VKG_OK; l++)
        for (int r = VKG_W_FIRST_LAYER_ROLE; r < VKG_W_ROLE_COUNT && s == VKG_OK; r++)
            if (vkg_role_present(cfg, (vkg_weight_role)r))
                s = make_weight(&b, (vkg_weight_role)r, l);
    for (size_t i = 0; s == VKG_OK && i < ((size_t)cfg->n_layer + 1) * VKG_W_ROLE_COUNT; i++)
        for (uint32_t g = 0; g < m->w[i].n_seg; g++)
            m->int_dot |= m->kernels.int_dot && !o.float_activations && vkg_storage_is_block(m->w[i].seg[g].storage);
    /* Tensor cores serve fp16 weights only; their shader is trusted on this device once it has
     * computed one known product (it falls back to the tiled path otherwise). */
    const char *coopmat_off = NULL;
    if (s == VKG_OK && o.weights == VKG_PRECISION_F16)
        s = vkg_matmul_coopmat_verify(&m->kernels, &coopmat_off);
    describe_prefill_matmul(m, coopmat_off);
    /* Block formats have their own tensor-core shaders and their own check (matmul_q_coopmat.h). */
    if (s == VKG_OK && has_block_weights(m)) {
        const char *q_off = NULL;
        s = vkg_matmul_q_coopmat_verify(&m->kernels, &q_off);
        describe_block_prefill(m, q_off);
    }
    if (s != VKG_OK) {
        vkg_model_free(m);
        return s;
    }
    *out = m;
    return VKG_OK;
}

void vkg_model_free(vkg_model *m) {
    if (!m)
        return;
    for (size_t i = 0; m->w && i < ((size_t)m->cfg.n_layer + 1) * VKG_W_ROLE_COUNT; i++)
        for (uint32_t g = 0; g < m->w[i].n_seg; g++)
            vkg_buffer_destroy(m->w[i].seg[g].buf);
    free(m->w);
    free(m);
}

const vkg_model_config *vkg_model_get_config(const vkg_model *m) { return &m->cfg; }
uint64_t vkg_model_param_count(const vkg_model *m) { return m->params; }
uint64_t vkg_model_weight_bytes(const vkg_model *m) { return m->weight_bytes; }
vkg_precision vkg_model_precision(const vkg_model *m) { return m->precision; }
vkg_context *vkg_model_context(const vkg_model *m) { return m->ctx; }

const char *vkg_model_prefill_matmul(const vkg_model *m) { return m->prefill_matmul; }
bool vkg_model_int8_activations(const vkg_model *m) { return m->int_dot; }
