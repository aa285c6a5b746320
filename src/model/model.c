/*
 * model/model.c — building a vkg_model: checking that it fits the device, allocating one buffer per
 * weight and filling each from a vkg_weight_source through the runtime's staging path, converting to
 * the storage precision on the way. Loading from files (load.c) and generating synthetic weights
 * (synthetic.c) only describe where values come from.
 */
#include "model/model.h"

#include "kernels/matmul.h"
#include "model/dtype.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CONVERT_CHUNK = 4096 };

typedef struct upload {
    const vkg_weight_source *src;
    vkg_storage storage;
    const vkg_model_options *opts;
    uint64_t base, total; /* bytes before this tensor, and of the whole model, for progress */
} upload;

static void fill_weights(void *dst, uint64_t off, uint64_t len, void *user) {
    const upload *u = user;
    uint32_t esz = vkg_storage_bytes(u->storage);
    uint64_t first = off / esz, n = len / esz;
    float tmp[CONVERT_CHUNK];
    for (uint64_t done = 0; done < n;) {
        uint64_t k = n - done < CONVERT_CHUNK ? n - done : CONVERT_CHUNK;
        u->src->read(u->src, first + done, k, tmp);
        if (u->storage == VKG_STORAGE_F16) {
            uint16_t *d = (uint16_t *)dst + done;
            for (uint64_t i = 0; i < k; i++)
                d[i] = vkg_f32_to_f16(tmp[i]);
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

static const char *role_name(vkg_weight_role r) {
    static const char *names[] = {"wte", "wpe", "ln_f.weight", "ln_f.bias", "ln_1.weight", "ln_1.bias",
                                  "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
                                  "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight",
                                  "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"};
    return names[r];
}

typedef struct builder {
    vkg_model *m;
    const vkg_model_options *opts;
    vkg_weight_source_fn get;
    void *user;
    uint64_t done, total;
} builder;

/* Create and fill one weight: a matrix when `mat` is given (storage precision), else an fp32
 * vector. */
static vkg_status make_weight(builder *b, vkg_weight_role role, uint32_t layer, uint32_t rows, uint32_t cols,
                              vkg_matrix *mat, vkg_buffer **vec) {
    vkg_weight_source src = {0};
    b->get(b->user, role, layer, &src);
    src.rows = rows;
    src.cols = cols;
    vkg_storage st = mat && b->m->precision == VKG_PRECISION_F16 ? VKG_STORAGE_F16 : VKG_STORAGE_F32;
    uint64_t bytes = (uint64_t)rows * cols * vkg_storage_bytes(st);
    char name[64];
    if (role >= VKG_W_LN1_G)
        snprintf(name, sizeof name, "h.%u.%s", layer, role_name(role));
    else
        snprintf(name, sizeof name, "%s", role_name(role));
    vkg_buffer *buf = NULL;
    vkg_status s = vkg_buffer_create(b->m->ctx, bytes, VKG_MEMORY_DEVICE, name, &buf);
    if (s != VKG_OK)
        return s;
    upload u = {.src = &src, .storage = st, .opts = b->opts, .base = b->done, .total = b->total};
    s = vkg_buffer_write(buf, 0, bytes, fill_weights, &u, report_progress);
    if (s != VKG_OK) {
        vkg_buffer_destroy(buf);
        return vkg_fail_context(s, "uploading %s", name);
    }
    b->done += bytes;
    b->m->weight_bytes += bytes;
    b->m->params += (uint64_t)rows * cols;
    if (mat)
        *mat = (vkg_matrix){.buf = buf, .offset = 0, .rows = rows, .cols = cols, .storage = st};
    else
        *vec = buf;
    return VKG_OK;
}

static uint64_t model_bytes(const vkg_model_config *c, vkg_precision p) {
    uint64_t d = c->n_embd, w = p == VKG_PRECISION_F16 ? 2 : 4;
    uint64_t per_layer = (12 * d * d) * w + (13 * d) * 4;
    return ((uint64_t)c->vocab_size * d + (uint64_t)c->n_positions * d) * w + 2 * d * 4 + c->n_layer * per_layer;
}

vkg_status vkg_model_check_config(vkg_context *ctx, const vkg_model_config *c, vkg_precision p) {
    const vkg_device_info *info = vkg_context_device(ctx);
    if (!c->n_layer || !c->n_head || !c->n_embd || !c->vocab_size || !c->n_positions || c->n_embd % c->n_head)
        return vkg_fail(VKG_ERROR_CONFIG_VALUE, "model config: n_layer %u, n_head %u, n_embd %u, vocab %u, "
                        "positions %u: all must be positive and n_embd divisible by n_head",
                        c->n_layer, c->n_head, c->n_embd, c->vocab_size, c->n_positions);
    if (c->n_embd / c->n_head > 256)
        return vkg_fail(VKG_ERROR_UNSUPPORTED, "model config: head size %u above the 256 vkgpt supports",
                        c->n_embd / c->n_head);
    if (p == VKG_PRECISION_F16 && !info->storage_16bit)
        return vkg_fail(VKG_ERROR_FEATURE_MISSING, "fp16 weights need 16-bit storage, which %s lacks (or "
                        "VKG_DISABLE_FP16 is set); use f32", info->name);
    uint64_t need = model_bytes(c, p), heap = 0;
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
    m->layers = vkg_calloc(cfg->n_layer, sizeof *m->layers);
    if (!m->layers) {
        free(m);
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    }
    builder b = {.m = m, .opts = &o, .get = get, .user = user, .total = model_bytes(cfg, o.weights)};
    uint32_t d = cfg->n_embd;
    vkg_status s = make_weight(&b, VKG_W_WTE, 0, cfg->vocab_size, d, &m->wte, NULL);
    if (s == VKG_OK) s = make_weight(&b, VKG_W_WPE, 0, cfg->n_positions, d, &m->wpe, NULL);
    if (s == VKG_OK) s = make_weight(&b, VKG_W_LNF_G, 0, 1, d, NULL, &m->lnf_g);
    if (s == VKG_OK) s = make_weight(&b, VKG_W_LNF_B, 0, 1, d, NULL, &m->lnf_b);
    for (uint32_t l = 0; l < cfg->n_layer && s == VKG_OK; l++) {
        vkg_layer_weights *w = &m->layers[l];
        s = make_weight(&b, VKG_W_LN1_G, l, 1, d, NULL, &w->ln1_g);
        if (s == VKG_OK) s = make_weight(&b, VKG_W_LN1_B, l, 1, d, NULL, &w->ln1_b);
        if (s == VKG_OK) s = make_weight(&b, VKG_W_ATTN_W, l, 3 * d, d, &w->attn_w, NULL);
        if (s == VKG_OK) s = make_weight(&b, VKG_W_ATTN_B, l, 1, 3 * d, NULL, &w->attn_b);
        if (s == VKG_OK) s = make_weight(&b, VKG_W_PROJ_W, l, d, d, &w->proj_w, NULL);
        if (s == VKG_OK) s = make_weight(&b, VKG_W_PROJ_B, l, 1, d, NULL, &w->proj_b);
        if (s == VKG_OK) s = make_weight(&b, VKG_W_LN2_G, l, 1, d, NULL, &w->ln2_g);
        if (s == VKG_OK) s = make_weight(&b, VKG_W_LN2_B, l, 1, d, NULL, &w->ln2_b);
        if (s == VKG_OK) s = make_weight(&b, VKG_W_FC_W, l, 4 * d, d, &w->fc_w, NULL);
        if (s == VKG_OK) s = make_weight(&b, VKG_W_FC_B, l, 1, 4 * d, NULL, &w->fc_b);
        if (s == VKG_OK) s = make_weight(&b, VKG_W_FCPROJ_W, l, d, 4 * d, &w->fcproj_w, NULL);
        if (s == VKG_OK) s = make_weight(&b, VKG_W_FCPROJ_B, l, 1, d, NULL, &w->fcproj_b);
    }
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
    vkg_buffer_destroy(m->wte.buf);
    vkg_buffer_destroy(m->wpe.buf);
    vkg_buffer_destroy(m->lnf_g);
    vkg_buffer_destroy(m->lnf_b);
    for (uint32_t l = 0; m->layers && l < m->cfg.n_layer; l++) {
        vkg_layer_weights *w = &m->layers[l];
        vkg_buffer *bufs[] = {w->ln1_g, w->ln1_b, w->attn_w.buf, w->attn_b, w->proj_w.buf, w->proj_b,
                              w->ln2_g, w->ln2_b, w->fc_w.buf, w->fc_b, w->fcproj_w.buf, w->fcproj_b};
        for (size_t i = 0; i < VKG_ARRAY_LEN(bufs); i++)
            vkg_buffer_destroy(bufs[i]);
    }
    free(m->layers);
    free(m);
}

const vkg_model_config *vkg_model_get_config(const vkg_model *m) { return &m->cfg; }
uint64_t vkg_model_param_count(const vkg_model *m) { return m->params; }
uint64_t vkg_model_weight_bytes(const vkg_model *m) { return m->weight_bytes; }
vkg_precision vkg_model_precision(const vkg_model *m) { return m->precision; }
vkg_context *vkg_model_context(const vkg_model *m) { return m->ctx; }

const char *vkg_model_prefill_matmul(const vkg_model *m) { return m->prefill_matmul; }
