/*
 * tensors.c — map checkpoint tensor names onto the neutral decoder's weight roles (tensors.h): the
 * family's name patterns are expanded for the config into a sorted table of expected names with
 * their shapes; each checkpoint tensor is looked up in it (also without the family's alternative
 * prefix), checked and assigned; then nothing required may be missing.
 */
#include "model/tensors.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct expected {
    char name[VKG_TENSOR_NAME_MAX];
    vkg_weight_role role;
    uint32_t layer, part;
    uint32_t ndim;
    uint64_t dims[2];  /* in the file's layout */
    bool tolerated;    /* a tied LM head: checked, never used */
    const vkg_st_tensor *found;
} expected;

typedef struct mapper {
    const vkg_model_config *c;
    const vkg_family *f;
    expected *e;       /* in generation order (for "missing" messages) */
    expected **sorted; /* by name */
    size_t n, cap;
} mapper;

const vkg_role_tensors *vkg_model_tensors_role(const vkg_model_tensors *t, vkg_weight_role role, uint32_t layer) {
    size_t row = role < VKG_W_FIRST_LAYER_ROLE ? 0 : 1 + (size_t)layer;
    return &t->slots[row * VKG_W_ROLE_COUNT + role];
}

static vkg_status add_role(mapper *m, const vkg_family_tensor *ft, uint32_t layer, bool tolerated) {
    uint32_t n_parts = 0;
    while (n_parts < VKG_MAX_PARTS && ft->parts[n_parts])
        n_parts++;
    uint64_t rows, cols, part_rows[VKG_MAX_PARTS];
    vkg_role_shape(m->c, ft->role, n_parts, &rows, &cols, part_rows);
    bool matrix = cols > 1 || ft->role == VKG_W_TOK_EMBD || ft->role == VKG_W_LM_HEAD || ft->role == VKG_W_POS_EMBD ||
                  ft->role == VKG_W_QKV || ft->role == VKG_W_O || ft->role == VKG_W_UP || ft->role == VKG_W_DOWN;
    for (uint32_t p = 0; p < n_parts; p++) {
        expected *x = &m->e[m->n++];
        memset(x, 0, sizeof *x);
        /* The patterns are the family's own string constants with at most one %u. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(x->name, sizeof x->name, ft->parts[p], layer);
#pragma GCC diagnostic pop
        x->role = ft->role;
        x->layer = layer;
        x->part = p;
        x->tolerated = tolerated;
        x->ndim = matrix ? 2 : 1;
        if (!matrix)
            x->dims[0] = part_rows[p];
        else if (m->f->conv1d && ft->role != VKG_W_TOK_EMBD && ft->role != VKG_W_POS_EMBD && ft->role != VKG_W_LM_HEAD) {
            x->dims[0] = cols; /* Conv1D [in, out] */
            x->dims[1] = part_rows[p];
        } else {
            x->dims[0] = part_rows[p];
            x->dims[1] = cols;
        }
    }
    return VKG_OK;
}

static int cmp_expected(const void *a, const void *b) {
    return strcmp((*(expected *const *)a)->name, (*(expected *const *)b)->name);
}

static expected *lookup(const mapper *m, const char *name) {
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(m->sorted[mid]->name, name);
        if (c == 0)
            return m->sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static vkg_status build_table(mapper *m) {
    const vkg_model_config *c = m->c;
    m->cap = (size_t)VKG_W_ROLE_COUNT * VKG_MAX_PARTS * ((size_t)c->n_layer + 1);
    m->e = vkg_calloc(m->cap, sizeof *m->e);
    m->sorted = vkg_calloc(m->cap, sizeof *m->sorted);
    if (!m->e || !m->sorted)
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    for (size_t i = 0; i < m->f->n_tensors; i++) {
        const vkg_family_tensor *ft = &m->f->tensors[i];
        bool present = vkg_role_present(c, ft->role);
        bool tolerated = !present && ft->role == VKG_W_LM_HEAD;
        if (!present && !tolerated)
            continue;
        if (ft->role < VKG_W_FIRST_LAYER_ROLE)
            VKG_TRY(add_role(m, ft, 0, tolerated));
        else
            for (uint32_t l = 0; l < c->n_layer; l++)
                VKG_TRY(add_role(m, ft, l, false));
    }
    for (size_t i = 0; i < m->n; i++)
        m->sorted[i] = &m->e[i];
    qsort(m->sorted, m->n, sizeof *m->sorted, cmp_expected);
    return VKG_OK;
}

/* Check dtype and shape of `t` against `x`, then record it (once). */
static vkg_status assign(expected *x, const vkg_st_tensor *t) {
    if (x->found)
        return vkg_fail(VKG_ERROR_ST_DUPLICATE_KEY, "%s: tensors %s (in %s) and %s are the same weight under two "
                        "namings", t->file, t->name, x->found->file, x->found->name);
    if (!vkg_dtype_is_supported(t->dtype))
        return vkg_fail(VKG_ERROR_ST_DTYPE, "%s: tensor %s: dtype %s is not supported (F32, F16 or BF16)", t->file,
                        t->name, vkg_dtype_name(t->dtype));
    bool ok = t->ndim == x->ndim;
    for (uint32_t i = 0; ok && i < x->ndim; i++)
        ok = t->shape[i] == x->dims[i];
    if (!ok) {
        char a[64], b[160];
        return vkg_fail(VKG_ERROR_TENSOR_SHAPE, "%s: tensor %s: expected shape %s, file has %s", t->file, t->name,
                        vkg_st_shape_str(x->dims, x->ndim, a, sizeof a),
                        vkg_st_shape_str(t->shape, t->ndim, b, sizeof b));
    }
    x->found = t;
    return VKG_OK;
}

static vkg_status map_tensor(mapper *m, const vkg_st_tensor *t) {
    expected *x = lookup(m, t->name);
    const char *alt = m->f->alt_prefix;
    if (!x && alt && strncmp(t->name, alt, strlen(alt)) == 0)
        x = lookup(m, t->name + strlen(alt));
    if (x)
        return assign(x, t);
    if (m->f->ignored && m->f->ignored(t->name, m->c))
        return VKG_OK;
    return vkg_fail(VKG_ERROR_TENSOR_UNKNOWN, "%s: tensor %s is not a weight of a %s model with %" PRIu32 " layers",
                    t->file, t->name, m->c->family, m->c->n_layer);
}

static vkg_status check_complete(const mapper *m, const char *path) {
    for (size_t i = 0; i < m->n; i++) {
        const expected *x = &m->e[i];
        if (x->found || x->tolerated)
            continue;
        if (m->f->alt_prefix)
            return vkg_fail(VKG_ERROR_TENSOR_MISSING, "%s: tensor %s is missing (looked for %s and %s%s)", path,
                            x->name, x->name, m->f->alt_prefix, x->name);
        return vkg_fail(VKG_ERROR_TENSOR_MISSING, "%s: tensor %s is missing (the %s weight of a %s model)", path,
                        x->name, vkg_role_name(x->role), m->c->family);
    }
    return VKG_OK;
}

void vkg_model_tensors_free(vkg_model_tensors *t) {
    if (!t)
        return;
    free(t->slots);
    free(t);
}

vkg_status vkg_model_tensors_map(const vkg_checkpoint *ckpt, vkg_model_tensors **out) {
    *out = NULL;
    const vkg_model_config *c = vkg_checkpoint_config(ckpt);
    mapper m = {.c = c, .f = vkg_family_find(c->family)};
    if (!m.f)
        return vkg_fail(VKG_ERROR_INTERNAL, "no family %s", c->family);
    vkg_model_tensors *t = vkg_calloc(1, sizeof *t);
    vkg_status s = t ? build_table(&m) : VKG_ERROR_OUT_OF_HOST_MEMORY;
    if (s == VKG_OK) {
        t->config = *c;
        t->family = m.f;
        t->slots = vkg_calloc(((size_t)c->n_layer + 1) * VKG_W_ROLE_COUNT, sizeof *t->slots);
        if (!t->slots)
            s = VKG_ERROR_OUT_OF_HOST_MEMORY;
    }
    for (size_t i = 0; s == VKG_OK && i < vkg_checkpoint_tensor_count(ckpt); i++)
        s = map_tensor(&m, vkg_checkpoint_tensor_at(ckpt, i));
    if (s == VKG_OK)
        s = check_complete(&m, vkg_checkpoint_path(ckpt));
    for (size_t i = 0; s == VKG_OK && i < m.n; i++) {
        const expected *x = &m.e[i];
        if (x->tolerated)
            continue;
        vkg_role_tensors *r = (vkg_role_tensors *)vkg_model_tensors_role(t, x->role, x->layer);
        r->parts[x->part] = x->found;
        r->part_rows[x->part] = x->ndim == 2 && m.f->conv1d && x->role != VKG_W_TOK_EMBD &&
                                        x->role != VKG_W_POS_EMBD && x->role != VKG_W_LM_HEAD
                                    ? x->dims[1]
                                    : x->dims[0];
        if (x->part + 1 > r->n_parts)
            r->n_parts = x->part + 1;
    }
    free(m.e);
    free(m.sorted);
    if (s != VKG_OK) {
        vkg_model_tensors_free(t);
        return s;
    }
    *out = t;
    return VKG_OK;
}
