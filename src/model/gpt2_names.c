/*
 * gpt2_names.c — classify each checkpoint tensor name as a GPT-2 weight, check dtype and shape,
 * then check that nothing required is missing. Table-driven: one row per weight.
 */
#include "model/gpt2_names.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Symbolic dimensions, resolved against the config. */
enum { DIM_D, DIM_3D, DIM_4D, DIM_V, DIM_P };

typedef struct slot_def {
    const char *name;   /* without "transformer." and without "h.N." for layer weights */
    size_t offset;      /* of the `const vkg_st_tensor *` in its struct */
    uint32_t ndim;
    uint8_t dims[2];
} slot_def;

#define LAYER_SLOT(n, field, nd, d0, d1) {n, offsetof(vkg_gpt2_layer_tensors, field), nd, {d0, d1}}
static const slot_def layer_slots[] = {
    LAYER_SLOT("ln_1.weight", ln_1_w, 1, DIM_D, 0),
    LAYER_SLOT("ln_1.bias", ln_1_b, 1, DIM_D, 0),
    LAYER_SLOT("attn.c_attn.weight", c_attn_w, 2, DIM_D, DIM_3D),
    LAYER_SLOT("attn.c_attn.bias", c_attn_b, 1, DIM_3D, 0),
    LAYER_SLOT("attn.c_proj.weight", attn_proj_w, 2, DIM_D, DIM_D),
    LAYER_SLOT("attn.c_proj.bias", attn_proj_b, 1, DIM_D, 0),
    LAYER_SLOT("ln_2.weight", ln_2_w, 1, DIM_D, 0),
    LAYER_SLOT("ln_2.bias", ln_2_b, 1, DIM_D, 0),
    LAYER_SLOT("mlp.c_fc.weight", c_fc_w, 2, DIM_D, DIM_4D),
    LAYER_SLOT("mlp.c_fc.bias", c_fc_b, 1, DIM_4D, 0),
    LAYER_SLOT("mlp.c_proj.weight", mlp_proj_w, 2, DIM_4D, DIM_D),
    LAYER_SLOT("mlp.c_proj.bias", mlp_proj_b, 1, DIM_D, 0),
};

#define TOP_SLOT(n, field, nd, d0, d1) {n, offsetof(vkg_gpt2_tensors, field), nd, {d0, d1}}
static const slot_def top_slots[] = {
    TOP_SLOT("wte.weight", wte, 2, DIM_V, DIM_D),
    TOP_SLOT("wpe.weight", wpe, 2, DIM_P, DIM_D),
    TOP_SLOT("ln_f.weight", ln_f_w, 1, DIM_D, 0),
    TOP_SLOT("ln_f.bias", ln_f_b, 1, DIM_D, 0),
};
static const slot_def lm_head_slot = TOP_SLOT("lm_head.weight", lm_head, 2, DIM_V, DIM_D);

static const char prefix[] = "transformer.";

static const vkg_st_tensor **slot_ptr(void *base, const slot_def *s) {
    return (const vkg_st_tensor **)((char *)base + s->offset);
}

static uint64_t dim_value(const vkg_gpt2_config *c, uint8_t d) {
    switch (d) {
    case DIM_D: return c->n_embd;
    case DIM_3D: return 3ull * c->n_embd;
    case DIM_4D: return 4ull * c->n_embd;
    case DIM_V: return c->vocab_size;
    default: return c->n_positions;
    }
}

/* Parse "N." of "h.N.rest" (no leading zeros, N < n_layer); returns rest or NULL. */
static const char *parse_layer(const char *s, uint32_t n_layer, uint32_t *layer) {
    if (strncmp(s, "h.", 2) != 0)
        return NULL;
    s += 2;
    uint32_t v = 0;
    int digits = 0;
    for (; *s >= '0' && *s <= '9'; s++, digits++) {
        if (digits == 5 || (digits == 1 && v == 0))
            return NULL;
        v = v * 10 + (uint32_t)(*s - '0');
    }
    if (!digits || *s != '.' || v >= n_layer)
        return NULL;
    *layer = v;
    return s + 1;
}

static const slot_def *find_slot(const slot_def *table, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

/* Check dtype and shape of `t` for `def`, then store it in its slot (once). */
static vkg_status assign(const vkg_gpt2_config *c, const slot_def *def, const vkg_st_tensor **slot,
                         const vkg_st_tensor *t) {
    if (*slot)
        return vkg_fail(VKG_ERROR_ST_DUPLICATE_KEY,
                        "%s: tensors %s (in %s) and %s are the same weight under two namings",
                        t->file, t->name, (*slot)->file, (*slot)->name);
    if (!vkg_dtype_is_supported(t->dtype))
        return vkg_fail(VKG_ERROR_ST_DTYPE,
                        "%s: tensor %s: dtype %s is not supported (F32, F16 or BF16)", t->file,
                        t->name, vkg_dtype_name(t->dtype));
    uint64_t want[2] = {dim_value(c, def->dims[0]), dim_value(c, def->dims[1])};
    bool ok = t->ndim == def->ndim;
    for (uint32_t i = 0; ok && i < def->ndim; i++)
        ok = t->shape[i] == want[i];
    if (!ok) {
        char a[64], b[160];
        return vkg_fail(VKG_ERROR_TENSOR_SHAPE, "%s: tensor %s: expected shape %s, file has %s",
                        t->file, t->name, vkg_st_shape_str(want, def->ndim, a, sizeof a),
                        vkg_st_shape_str(t->shape, t->ndim, b, sizeof b));
    }
    *slot = t;
    return VKG_OK;
}

static vkg_status map_tensor(vkg_gpt2_tensors *g, const vkg_st_tensor *t) {
    const vkg_gpt2_config *c = &g->config;
    const char *name = t->name;
    if (strcmp(name, lm_head_slot.name) == 0)
        return assign(c, &lm_head_slot, slot_ptr(g, &lm_head_slot), t);
    if (strncmp(name, prefix, sizeof prefix - 1) == 0)
        name += sizeof prefix - 1;
    const slot_def *def = find_slot(top_slots, VKG_ARRAY_LEN(top_slots), name);
    if (def)
        return assign(c, def, slot_ptr(g, def), t);
    uint32_t layer;
    const char *rest = parse_layer(name, c->n_layer, &layer);
    if (rest) {
        /* Causal-mask buffers that old PyTorch exports saved with the weights. */
        if (strcmp(rest, "attn.bias") == 0 || strcmp(rest, "attn.masked_bias") == 0)
            return VKG_OK;
        def = find_slot(layer_slots, VKG_ARRAY_LEN(layer_slots), rest);
        if (def)
            return assign(c, def, slot_ptr(&g->layers[layer], def), t);
    }
    return vkg_fail(VKG_ERROR_TENSOR_UNKNOWN,
                    "%s: tensor %s is not a weight of a GPT-2 with %" PRIu32 " layers", t->file,
                    t->name, c->n_layer);
}

static vkg_status check_complete(const vkg_gpt2_tensors *g, const char *ckpt_path) {
    for (size_t i = 0; i < VKG_ARRAY_LEN(top_slots); i++)
        if (!*slot_ptr((void *)g, &top_slots[i]))
            return vkg_fail(VKG_ERROR_TENSOR_MISSING,
                            "%s: tensor %s is missing (looked for %s and %s%s)", ckpt_path,
                            top_slots[i].name, top_slots[i].name, prefix, top_slots[i].name);
    for (uint32_t l = 0; l < g->n_layer; l++)
        for (size_t i = 0; i < VKG_ARRAY_LEN(layer_slots); i++)
            if (!*slot_ptr(&g->layers[l], &layer_slots[i]))
                return vkg_fail(VKG_ERROR_TENSOR_MISSING,
                                "%s: tensor h.%" PRIu32 ".%s is missing (looked for h.%" PRIu32
                                ".%s and %sh.%" PRIu32 ".%s)",
                                ckpt_path, l, layer_slots[i].name, l, layer_slots[i].name, prefix,
                                l, layer_slots[i].name);
    return VKG_OK;
}

void vkg_gpt2_tensors_free(vkg_gpt2_tensors *g) {
    if (!g)
        return;
    free(g->layers);
    free(g);
}

vkg_status vkg_gpt2_tensors_map(const vkg_checkpoint *ckpt, vkg_gpt2_tensors **out) {
    *out = NULL;
    vkg_gpt2_tensors *g = vkg_calloc(1, sizeof *g);
    if (!g)
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    g->config = *vkg_checkpoint_config(ckpt);
    g->n_layer = g->config.n_layer;
    g->layers = vkg_calloc(g->n_layer, sizeof *g->layers);
    vkg_status s = g->layers ? VKG_OK : VKG_ERROR_OUT_OF_HOST_MEMORY;
    for (size_t i = 0; s == VKG_OK && i < vkg_checkpoint_tensor_count(ckpt); i++)
        s = map_tensor(g, vkg_checkpoint_tensor_at(ckpt, i));
    if (s == VKG_OK)
        s = check_complete(g, vkg_checkpoint_path(ckpt));
    if (s != VKG_OK) {
        vkg_gpt2_tensors_free(g);
        return s;
    }
    *out = g;
    return VKG_OK;
}
