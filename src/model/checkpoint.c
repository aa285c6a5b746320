/*
 * checkpoint.c — resolve a checkpoint path, read config.json and the optional shard index, open
 * every safetensors file once, and index all their tensors by name.
 */
#define _POSIX_C_SOURCE 200809L
#include "model/checkpoint.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define INDEX_MAX_BYTES (64u << 20)

struct vkg_checkpoint {
    char *path;
    vkg_model_config config;
    vkg_st_file **shards;
    size_t n_shards;
    const vkg_st_tensor **all;    /* n: shard order, then header order */
    const vkg_st_tensor **sorted; /* n: by name */
    size_t n;
};

/* malloc'd printf; NULL (with the failure recorded) when out of memory. */
static char *str_printf(const char *fmt, ...) VKG_PRINTF(1, 2);
static char *str_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = len < 0 ? NULL : vkg_calloc((size_t)len + 1, 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)len + 1, fmt, ap);
    va_end(ap);
    return s;
}

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The directory part of a file path ("." when there is none); malloc'd. */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        return str_printf(".");
    if (slash == path)
        return str_printf("/");
    return str_printf("%.*s", (int)(slash - path), path);
}

void vkg_checkpoint_close(vkg_checkpoint *c) {
    if (!c)
        return;
    for (size_t i = 0; i < c->n_shards; i++)
        vkg_st_close(c->shards[i]);
    free(c->shards);
    free(c->all);
    free(c->sorted);
    free(c->path);
    free(c);
}

/* A shard name must stay inside the checkpoint directory. */
static bool shard_name_ok(const char *name) {
    if (!name[0] || name[0] == '/')
        return false;
    for (const char *p = name; (p = strstr(p, "..")) != NULL; p += 2)
        if ((p == name || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
            return false;
    return true;
}


struct vkg_index {
    json_t *root;
    const char **names;   /* (n_names) distinct shard file names, pointing into root */
    size_t n_names;
    const char **tensors; /* (n_tensors) tensor names of weight_map, pointing into root */
    size_t *shard_of;     /* (n_tensors) index into names */
    size_t n_tensors;
};

void vkg_index_free(vkg_index *ix) {
    if (!ix)
        return;
    json_decref(ix->root);
    free(ix->names);
    free(ix->tensors);
    free(ix->shard_of);
    free(ix);
}

vkg_status vkg_index_parse(const char *json, size_t len, const char *label, vkg_index **out) {
    *out = NULL;
    vkg_index *ix = vkg_calloc(1, sizeof *ix);
    if (!ix)
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    vkg_status s = VKG_OK;
    json_error_t jerr;
    ix->root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!ix->root) {
        s = vkg_fail(VKG_ERROR_INDEX_JSON, "%s: not valid JSON: %s (line %d, column %d)", label,
                     jerr.text, jerr.line, jerr.column);
        goto done;
    }
    const json_t *map = json_is_object(ix->root) ? json_object_get(ix->root, "weight_map") : NULL;
    if (!json_is_object(map) || json_object_size(map) == 0) {
        s = vkg_fail(VKG_ERROR_INDEX_JSON, "%s: no \"weight_map\" object (or it is empty)", label);
        goto done;
    }
    size_t n_map = json_object_size(map);
    ix->names = vkg_calloc(n_map, sizeof *ix->names);
    ix->tensors = vkg_calloc(n_map, sizeof *ix->tensors);
    ix->shard_of = vkg_calloc(n_map, sizeof *ix->shard_of);
    if (!ix->names || !ix->tensors || !ix->shard_of) {
        s = VKG_ERROR_OUT_OF_HOST_MEMORY;
        goto done;
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)map, key, v) {
        if (!json_is_string(v) || !shard_name_ok(json_string_value(v))) {
            s = vkg_fail(VKG_ERROR_INDEX_JSON,
                         "%s: weight_map entry for tensor %s is not a file name inside the "
                         "checkpoint directory",
                         label, key);
            goto done;
        }
        /* A few shards, many tensors: a linear scan over distinct names is plenty. */
        size_t j = 0;
        while (j < ix->n_names && strcmp(ix->names[j], json_string_value(v)) != 0)
            j++;
        if (j == ix->n_names)
            ix->names[ix->n_names++] = json_string_value(v);
        ix->tensors[ix->n_tensors] = key;
        ix->shard_of[ix->n_tensors++] = j;
    }
done:
    if (s != VKG_OK)
        vkg_index_free(ix);
    else
        *out = ix;
    return s;
}

size_t vkg_index_shard_count(const vkg_index *ix) { return ix->n_names; }
const char *vkg_index_shard(const vkg_index *ix, size_t i) { return ix->names[i]; }
size_t vkg_index_tensor_count(const vkg_index *ix) { return ix->n_tensors; }

const char *vkg_index_tensor(const vkg_index *ix, size_t i, size_t *shard) {
    *shard = ix->shard_of[i];
    return ix->tensors[i];
}

static vkg_status add_shard(vkg_checkpoint *c, const char *file) {
    vkg_st_file *f;
    VKG_TRY(vkg_st_open(file, &f));
    c->shards[c->n_shards++] = f;
    return VKG_OK;
}

/* Open the shards an index names, each once, and check that each holds what the map says. */
static vkg_status open_index(vkg_checkpoint *c, const char *index_path, const char *dir) {
    char *json = NULL, *file = NULL;
    size_t len = 0;
    vkg_index *ix = NULL;
    VKG_TRY(vkg_read_file(index_path, INDEX_MAX_BYTES, VKG_ERROR_INDEX_JSON, &json, &len));
    vkg_status s = vkg_index_parse(json, len, index_path, &ix);
    if (s != VKG_OK)
        goto done;
    c->shards = vkg_calloc(ix->n_names, sizeof *c->shards);
    if (!c->shards) {
        s = VKG_ERROR_OUT_OF_HOST_MEMORY;
        goto done;
    }
    for (size_t i = 0; i < ix->n_names; i++) {
        free(file);
        if (!(file = str_printf("%s/%s", dir, ix->names[i]))) {
            s = VKG_ERROR_OUT_OF_HOST_MEMORY;
            goto done;
        }
        if ((s = add_shard(c, file)) != VKG_OK) {
            vkg_fail_context(s, "%s names shard %s", index_path, ix->names[i]);
            goto done;
        }
    }
    for (size_t i = 0; i < ix->n_tensors; i++) {
        size_t j = ix->shard_of[i];
        if (!vkg_st_find(c->shards[j], ix->tensors[i])) {
            s = vkg_fail(VKG_ERROR_TENSOR_MISSING,
                         "%s: weight_map puts tensor %s in %s, which does not contain it",
                         index_path, ix->tensors[i], ix->names[j]);
            goto done;
        }
    }
done:
    free(file);
    free(json);
    vkg_index_free(ix);
    return s;
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp((*(const vkg_st_tensor *const *)a)->name,
                  (*(const vkg_st_tensor *const *)b)->name);
}

static vkg_status build_lookup(vkg_checkpoint *c) {
    size_t n = 0;
    for (size_t i = 0; i < c->n_shards; i++)
        n += vkg_st_count(c->shards[i]);
    c->all = vkg_calloc(n, sizeof *c->all);
    c->sorted = vkg_calloc(n, sizeof *c->sorted);
    if (!c->all || !c->sorted)
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    for (size_t i = 0; i < c->n_shards; i++)
        for (size_t j = 0; j < vkg_st_count(c->shards[i]); j++)
            c->all[c->n++] = vkg_st_at(c->shards[i], j);
    memcpy(c->sorted, c->all, n * sizeof *c->all);
    qsort(c->sorted, n, sizeof *c->sorted, cmp_tensor_name);
    for (size_t i = 1; i < n; i++)
        if (strcmp(c->sorted[i - 1]->name, c->sorted[i]->name) == 0)
            return vkg_fail(VKG_ERROR_ST_DUPLICATE_KEY, "tensor %s is in both %s and %s",
                            c->sorted[i]->name, c->sorted[i - 1]->file, c->sorted[i]->file);
    return VKG_OK;
}

/* Decide which files make up the checkpoint, then read them. */
static vkg_status open_paths(vkg_checkpoint *c, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0)
        return vkg_fail(VKG_ERROR_IO, "%s: %s", path, strerror(errno));
    vkg_status s = VKG_OK;
    char *dir = NULL, *single = NULL, *index = NULL, *config = NULL;
    if (S_ISDIR(st.st_mode)) {
        dir = str_printf("%s", path);
        single = str_printf("%s/model.safetensors", path);
        index = str_printf("%s/model.safetensors.index.json", path);
        if (!dir || !single || !index) {
            s = VKG_ERROR_OUT_OF_HOST_MEMORY;
            goto done;
        }
        if (is_file(single)) {
            free(index);
            index = NULL;
        } else if (is_file(index)) {
            free(single);
            single = NULL;
        } else {
            s = vkg_fail(VKG_ERROR_IO,
                         "%s: no model here: looked for model.safetensors and "
                         "model.safetensors.index.json",
                         path);
            goto done;
        }
    } else {
        dir = dir_of(path);
        if (ends_with(path, ".index.json"))
            index = str_printf("%s", path);
        else
            single = str_printf("%s", path);
        if (!dir || (!index && !single)) {
            s = VKG_ERROR_OUT_OF_HOST_MEMORY;
            goto done;
        }
    }
    if (!(config = str_printf("%s/config.json", dir))) {
        s = VKG_ERROR_OUT_OF_HOST_MEMORY;
        goto done;
    }
    if (!is_file(config)) {
        s = vkg_fail(VKG_ERROR_IO, "%s: no config.json beside the weights (looked for %s)", path,
                     config);
        goto done;
    }
    if ((s = vkg_config_load(config, &c->config)) != VKG_OK)
        goto done;
    if (single) {
        c->shards = vkg_calloc(1, sizeof *c->shards);
        s = c->shards ? add_shard(c, single) : VKG_ERROR_OUT_OF_HOST_MEMORY;
    } else {
        s = open_index(c, index, dir);
    }
    if (s == VKG_OK)
        s = build_lookup(c);
done:
    free(dir);
    free(single);
    free(index);
    free(config);
    return s;
}

vkg_status vkg_checkpoint_open(const char *path, vkg_checkpoint **out) {
    *out = NULL;
    if (!path || !path[0])
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "checkpoint path is empty");
    vkg_checkpoint *c = vkg_calloc(1, sizeof *c);
    if (!c)
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    vkg_status s = (c->path = str_printf("%s", path)) ? open_paths(c, path)
                                                       : VKG_ERROR_OUT_OF_HOST_MEMORY;
    if (s != VKG_OK) {
        vkg_checkpoint_close(c);
        return s;
    }
    *out = c;
    return VKG_OK;
}

const vkg_model_config *vkg_checkpoint_config(const vkg_checkpoint *c) { return &c->config; }
const char *vkg_checkpoint_path(const vkg_checkpoint *c) { return c->path; }
size_t vkg_checkpoint_tensor_count(const vkg_checkpoint *c) { return c->n; }
size_t vkg_checkpoint_shard_count(const vkg_checkpoint *c) { return c->n_shards; }

const vkg_st_tensor *vkg_checkpoint_tensor_at(const vkg_checkpoint *c, size_t i) {
    return i < c->n ? c->all[i] : NULL;
}

const vkg_st_tensor *vkg_checkpoint_find(const vkg_checkpoint *c, const char *name) {
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(name, c->sorted[mid]->name);
        if (cmp == 0)
            return c->sorted[mid];
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}
