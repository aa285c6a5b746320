/*
 * model/model.c — building a vkg_model: checking that it fits the device, allocating one buffer per
 * weight and filling each from a vkg_weight_source through the runtime's staging path, converting to
 * the storage precision on the way. Loading from files (load.c) and generating synthetic weights
 * (synthetic.c) only describe where values come from.
 */
#include "model/model.h"

#include "kernels/matmul.h"
#include "model/config.h"
#include "model/dtype.h"

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
    const vkg_model_options *opts;
    uint64_t base, total; /* bytes before this tensor, and of the whole model, for progress */
    float out_of_range;   /* first value fp16 cannot hold (0: none) */
} upload;

static void fill_weights(void *dst, uint64_t off, uint64_t len, void *user) {
    upload *u = user;
    uint32_t esz = vkg_storage_bytes(u->storage);
    uint64_t first = off / esz, n = len / esz;
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

/* Create and fill one weight: a matrix in the storage precision, or an fp32 vector. */
static vkg_status make_weight(builder *b, vkg_weight_role role, uint32_t layer) {
    uint64_t rows, cols;
    vkg_role_shape(&b->m->cfg, role, 1, &rows, &cols, NULL);
    vkg_weight_source src = {0};
    b->get(b->user, role, layer, &src);
    src.rows = (uint32_t)rows;
    src.cols = (uint32_t)cols;
    vkg_storage st = vkg_role_is_matrix(role) ? storage_of(b->m->precision) : VKG_STORAGE_F32;
    uint64_t bytes = rows * cols * vkg_storage_bytes(st);
    char name[96];
    if (role >= VKG_W_FIRST_LAYER_ROLE)
        snprintf(name, sizeof name, "layer %u %s", layer, vkg_role_name(role));
    else
        snprintf(name, sizeof name, "%s", vkg_role_name(role));
    vkg_buffer *buf = NULL;
    vkg_status s = vkg_buffer_create(b->m->ctx, bytes, VKG_MEMORY_DEVICE, name, &buf);
    if (s != VKG_OK)
        return s;
    upload u = {.src = &src, .storage = st, .opts = b->opts, .base = b->done, .total = b->total};
    s = vkg_buffer_write(buf, 0, bytes, fill_weights, &u, report_progress);
    if (s == VKG_OK && u.out_of_range != 0)
        s = vkg_fail(VKG_ERROR_BAD_WEIGHTS, "tensor %s holds %g, outside the fp16 range (+-65504): load it as f32 "
                     "or bf16 (--dtype)", src.name ? src.name : name, u.out_of_range);
    if (s != VKG_OK) {
        vkg_buffer_destroy(buf);
        return vkg_fail_context(s, "uploading %s", name);
    }
    b->done += bytes;
    b->m->weight_bytes += bytes;
    b->m->params += rows * cols;
    *(vkg_matrix *)vkg_model_weight(b->m, role, layer) =
        (vkg_matrix){.buf = buf, .offset = 0, .rows = (uint32_t)rows, .cols = (uint32_t)cols, .storage = st};
    return VKG_OK;
}

uint64_t vkg_model_bytes(const vkg_model_config *c, vkg_precision p) {
    uint64_t total = 0, wb = vkg_storage_bytes(storage_of(p));
    for (int r = 0; r < VKG_W_ROLE_COUNT; r++) {
        if (!vkg_role_present(c, (vkg_weight_role)r))
            continue;
        uint64_t rows, cols;
        vkg_role_shape(c, (vkg_weight_role)r, 1, &rows, &cols, NULL);
        uint64_t bytes = rows * cols * (vkg_role_is_matrix((vkg_weight_role)r) ? wb : 4);
        total += r < VKG_W_FIRST_LAYER_ROLE ? bytes : bytes * c->n_layer;
    }
    return total;
}

vkg_status vkg_model_check_config(vkg_context *ctx, const vkg_model_config *c, vkg_precision p) {
    const vkg_device_info *info = vkg_context_device(ctx);
    VKG_TRY(vkg_config_check(c, "model config"));
    if (p != VKG_PRECISION_F32 && p != VKG_PRECISION_F16 && p != VKG_PRECISION_BF16)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "weights precision %d: use f32, f16 or bf16", (int)p);
    if (p != VKG_PRECISION_F32 && !info->storage_16bit)
        return vkg_fail(VKG_ERROR_FEATURE_MISSING, "%s weights need 16-bit storage, which %s lacks (or "
                        "VKG_DISABLE_FP16 is set); use f32", p == VKG_PRECISION_F16 ? "fp16" : "bf16", info->name);
    uint64_t need = vkg_model_bytes(c, p), heap = 0;
    for (uint32_t i = 0; i < info->n_heaps; i++)
        if (info->heaps[i].device_local && info->heaps[i].size > heap)
            heap = info->heaps[i].size;
    if (need > heap)
        return vkg_fail(VKG_ERROR_OUT_OF_DEVICE_MEMORY, "the model's weights need %.1f MiB but the largest "
                        "device heap of %s holds %.1f MiB", need / 1048576.0, info->name, heap / 1048576.0);
    return VKG_OK;
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

vkg_status vkg_model_build(vkg_context *ctx, const vkg_model_config *cfg, const vkg_model_options *opts,
                           vkg_weight_source_fn get, void *user, vkg_model **out) {
    *out = NULL;
    vkg_model_options o = opts ? *opts : vkg_model_default_options();
    VKG_TRY(vkg_model_check_config(ctx, cfg, o.weights));
    vkg_model *m = vkg_calloc(1, sizeof *m);
    if (!m)
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    m->ctx = ctx;
    m->kernels = vkg_kernels_default(ctx);
    m->cfg = *cfg;
    m->precision = o.weights;
    m->w = vkg_calloc(((size_t)cfg->n_layer + 1) * VKG_W_ROLE_COUNT, sizeof *m->w);
    if (!m->w) {
        free(m);
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    }
    builder b = {.m = m, .opts = &o, .get = get, .user = user, .total = vkg_model_bytes(cfg, o.weights)};
    vkg_status s = VKG_OK;
    for (int r = 0; r < VKG_W_FIRST_LAYER_ROLE && s == VKG_OK; r++)
        if (vkg_role_present(cfg, (vkg_weight_role)r))
            s = make_weight(&b, (vkg_weight_role)r, 0);
    for (uint32_t l = 0; l < cfg->n_layer && s == VKG_OK; l++)
        for (int r = VKG_W_FIRST_LAYER_ROLE; r < VKG_W_ROLE_COUNT && s == VKG_OK; r++)
            if (vkg_role_present(cfg, (vkg_weight_role)r))
                s = make_weight(&b, (vkg_weight_role)r, l);
    /* Tensor cores serve fp16 weights only; their shader is trusted on this device once it has
     * computed one known product (it falls back to the tiled path otherwise). */
    const char *coopmat_off = NULL;
    if (s == VKG_OK && o.weights == VKG_PRECISION_F16)
        s = vkg_matmul_coopmat_verify(&m->kernels, &coopmat_off);
    describe_prefill_matmul(m, coopmat_off);
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
        vkg_buffer_destroy(m->w[i].buf);
    free(m->w);
    free(m);
}

const vkg_model_config *vkg_model_get_config(const vkg_model *m) { return &m->cfg; }
uint64_t vkg_model_param_count(const vkg_model *m) { return m->params; }
uint64_t vkg_model_weight_bytes(const vkg_model *m) { return m->weight_bytes; }
vkg_precision vkg_model_precision(const vkg_model *m) { return m->precision; }
vkg_context *vkg_model_context(const vkg_model *m) { return m->ctx; }

const char *vkg_model_prefill_matmul(const vkg_model *m) { return m->prefill_matmul; }
