/*
 * safetensors.c — mmap and validate a .safetensors file (see safetensors.h for the format and the
 * guarantees). Every check names the file label and the tensor at fault; nothing is exposed until
 * the whole header has passed.
 */
#define _POSIX_C_SOURCE 200809L
#include "model/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct vkg_st_file {
    char *label;
    void *map;             /* NULL when the bytes belong to the caller (vkg_st_parse) */
    size_t map_size;
    vkg_st_tensor *tensors; /* header order */
    size_t n;
    size_t *by_name;       /* indices into tensors, sorted by name, for vkg_st_find */
    char **meta;           /* n_meta key/value pairs: meta[2i], meta[2i+1] */
    size_t n_meta;
    char *strings;         /* one allocation holding every name and metadata string */
};

char *vkg_st_shape_str(const uint64_t *shape, uint32_t ndim, char *buf, size_t size) {
    size_t used = 0;
    int w = snprintf(buf, size, "[");
    for (uint32_t i = 0; w >= 0 && i < ndim; i++) {
        used += (size_t)w;
        if (used >= size)
            break;
        w = snprintf(buf + used, size - used, "%s%" PRIu64, i ? ", " : "", shape[i]);
    }
    if (w >= 0 && (used += (size_t)w) < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

void vkg_st_close(vkg_st_file *f) {
    if (!f)
        return;
    if (f->map)
        munmap(f->map, f->map_size);
    free(f->label);
    free(f->tensors);
    free(f->by_name);
    free(f->meta);
    free(f->strings);
    free(f);
}

/* Copy s into the string arena at *pos. */
static const char *arena_put(char *arena, size_t *pos, const char *s) {
    size_t len = strlen(s) + 1;
    char *dst = arena + *pos;
    memcpy(dst, s, len);
    *pos += len;
    return dst;
}

/* Read a JSON array of non-negative integers into out[0..*len). HEADER_JSON or OVERFLOW on error;
 * `what` and `name` go into the message. */
static vkg_status read_uint_array(const json_t *arr, uint64_t *out, size_t max, size_t *len,
                                  const char *label, const char *name, const char *what) {
    if (!json_is_array(arr))
        return vkg_fail(VKG_ERROR_ST_HEADER_JSON, "%s: tensor %s: \"%s\" is missing or not an array",
                        label, name, what);
    size_t n = json_array_size(arr);
    if (n > max)
        return vkg_fail(VKG_ERROR_ST_HEADER_JSON,
                        "%s: tensor %s: \"%s\" has %zu entries, at most %zu allowed", label, name,
                        what, n, max);
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(arr, i);
        if (!json_is_integer(v))
            return vkg_fail(VKG_ERROR_ST_HEADER_JSON,
                            "%s: tensor %s: \"%s\"[%zu] is not an integer", label, name, what, i);
        json_int_t x = json_integer_value(v);
        if (x < 0)
            return vkg_fail(VKG_ERROR_ST_HEADER_JSON,
                            "%s: tensor %s: \"%s\"[%zu] is negative (%" JSON_INTEGER_FORMAT ")",
                            label, name, what, i, x);
        out[i] = (uint64_t)x;
    }
    *len = n;
    return VKG_OK;
}

/* Check one header entry and fill t (except name/file). data_size bounds the offsets. */
static vkg_status parse_entry(const json_t *v, const char *label, const char *name,
                              const uint8_t *data, uint64_t data_size, vkg_st_tensor *t) {
    if (!json_is_object(v))
        return vkg_fail(VKG_ERROR_ST_HEADER_JSON, "%s: tensor %s: header entry is not an object",
                        label, name);
    const json_t *jdt = json_object_get(v, "dtype");
    if (!json_is_string(jdt))
        return vkg_fail(VKG_ERROR_ST_HEADER_JSON,
                        "%s: tensor %s: \"dtype\" is missing or not a string", label, name);
    if (!vkg_dtype_from_name(json_string_value(jdt), &t->dtype))
        return vkg_fail(VKG_ERROR_ST_DTYPE, "%s: tensor %s: unknown dtype \"%s\"", label, name,
                        json_string_value(jdt));

    size_t ndim = 0, noff = 0;
    uint64_t off[2];
    VKG_TRY(read_uint_array(json_object_get(v, "shape"), t->shape, VKG_ST_MAX_DIMS, &ndim, label,
                            name, "shape"));
    VKG_TRY(read_uint_array(json_object_get(v, "data_offsets"), off, 2, &noff, label, name,
                            "data_offsets"));
    if (noff != 2)
        return vkg_fail(VKG_ERROR_ST_HEADER_JSON,
                        "%s: tensor %s: \"data_offsets\" has %zu entries, expected [begin, end]",
                        label, name, noff);
    t->ndim = (uint32_t)ndim;

    /* A zero dimension makes the tensor empty whatever the others are, so check for it first
     * rather than report an overflow of a product that is 0. */
    uint64_t nelem = 1;
    for (size_t i = 0; i < ndim; i++)
        if (t->shape[i] == 0)
            nelem = 0;
    char shape[160];
    for (size_t i = 0; nelem && i < ndim; i++)
        if (!vkg_mul_u64(nelem, t->shape[i], &nelem))
            return vkg_fail(VKG_ERROR_ST_OVERFLOW,
                            "%s: tensor %s: shape %s has more elements than 64 bits can count",
                            label, name, vkg_st_shape_str(t->shape, t->ndim, shape, sizeof shape));
    size_t esize = vkg_dtype_size(t->dtype);
    if (!vkg_mul_u64(nelem, esize, &t->nbytes))
        return vkg_fail(VKG_ERROR_ST_OVERFLOW,
                        "%s: tensor %s: shape %s of %s is more bytes than 64 bits can count", label,
                        name, vkg_st_shape_str(t->shape, t->ndim, shape, sizeof shape),
                        vkg_dtype_name(t->dtype));
    t->nelem = nelem;

    if (off[0] > off[1] || off[1] > data_size)
        return vkg_fail(VKG_ERROR_ST_OFFSETS,
                        "%s: tensor %s: data_offsets [%" PRIu64 ", %" PRIu64
                        "] are reversed or outside the %" PRIu64 "-byte data section",
                        label, name, off[0], off[1], data_size);
    if (off[1] - off[0] != t->nbytes)
        return vkg_fail(VKG_ERROR_ST_SIZE_MISMATCH,
                        "%s: tensor %s: shape %s of %s needs %" PRIu64
                        " bytes, data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64,
                        label, name, vkg_st_shape_str(t->shape, t->ndim, shape, sizeof shape),
                        vkg_dtype_name(t->dtype), t->nbytes, off[0], off[1], off[1] - off[0]);
    if (t->nbytes && off[0] % esize != 0)
        return vkg_fail(VKG_ERROR_ST_ALIGNMENT,
                        "%s: tensor %s: data offset %" PRIu64 " is not a multiple of the %zu-byte "
                        "%s element size",
                        label, name, off[0], esize, vkg_dtype_name(t->dtype));
    t->offset = off[0];
    t->data = data + off[0];
    return VKG_OK;
}

/* qsort has no context argument, so the comparators see the tensor array through this pointer;
 * _Thread_local keeps parses on different threads apart. */
static _Thread_local const vkg_st_tensor *sort_base;

static int cmp_offset(const void *a, const void *b) {
    const vkg_st_tensor *x = &sort_base[*(const size_t *)a], *y = &sort_base[*(const size_t *)b];
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(sort_base[*(const size_t *)a].name, sort_base[*(const size_t *)b].name);
}

/* The tensors tile the data section exactly, as the format's reference implementation requires:
 * no two non-empty tensors share a byte, and no byte between or after them belongs to none (a gap
 * means a damaged or hand-edited file). Empty tensors occupy nothing and are skipped. */
static vkg_status check_layout(vkg_st_file *f, uint64_t data_size) {
    sort_base = f->tensors;
    qsort(f->by_name, f->n, sizeof *f->by_name, cmp_offset);
    const vkg_st_tensor *prev = NULL;
    uint64_t end = 0;
    for (size_t i = 0; i < f->n; i++) {
        const vkg_st_tensor *t = &f->tensors[f->by_name[i]];
        if (!t->nbytes)
            continue;
        if (t->offset < end)
            return vkg_fail(VKG_ERROR_ST_OVERLAP,
                            "%s: tensors %s [%" PRIu64 ", %" PRIu64 ") and %s [%" PRIu64
                            ", %" PRIu64 ") overlap",
                            f->label, prev->name, prev->offset, prev->offset + prev->nbytes,
                            t->name, t->offset, t->offset + t->nbytes);
        if (t->offset > end)
            return vkg_fail(VKG_ERROR_ST_OFFSETS,
                            "%s: data bytes [%" PRIu64 ", %" PRIu64 ") before tensor %s belong to no tensor "
                            "(tensors must follow each other without gaps)",
                            f->label, end, t->offset, t->name);
        end = t->offset + t->nbytes;
        prev = t;
    }
    if (end != data_size)
        return vkg_fail(VKG_ERROR_ST_OFFSETS,
                        "%s: the data section holds %" PRIu64 " bytes but the tensors end at byte %" PRIu64
                        ": %" PRIu64 " trailing bytes belong to no tensor",
                        f->label, data_size, end, data_size - end);
    return VKG_OK;
}

static vkg_status parse_header(vkg_st_file *f, const json_t *root, const uint8_t *data,
                               uint64_t data_size) {
    const char *key;
    const json_t *v;
    size_t n = 0, n_meta = 0, chars = 0;
    const json_t *meta = json_object_get(root, "__metadata__");
    if (meta && !json_is_object(meta))
        return vkg_fail(VKG_ERROR_ST_HEADER_JSON, "%s: \"__metadata__\" is not an object",
                        f->label);
    json_object_foreach((json_t *)root, key, v) {
        if (v == meta)
            continue;
        n++;
        chars += strlen(key) + 1;
    }
    if (meta) {
        json_object_foreach((json_t *)meta, key, v) {
            if (!json_is_string(v))
                return vkg_fail(VKG_ERROR_ST_HEADER_JSON,
                                "%s: \"__metadata__\" value of \"%s\" is not a string", f->label,
                                key);
            n_meta++;
            chars += strlen(key) + strlen(json_string_value(v)) + 2;
        }
    }
    f->tensors = vkg_calloc(n, sizeof *f->tensors);
    f->by_name = vkg_calloc(n, sizeof *f->by_name);
    f->meta = vkg_calloc(2 * n_meta, sizeof *f->meta);
    f->strings = vkg_calloc(chars, 1);
    if (!f->tensors || !f->by_name || !f->meta || !f->strings)
        return VKG_ERROR_OUT_OF_HOST_MEMORY;

    size_t pos = 0;
    json_object_foreach((json_t *)root, key, v) {
        if (v == meta)
            continue;
        vkg_st_tensor *t = &f->tensors[f->n];
        VKG_TRY(parse_entry(v, f->label, key, data, data_size, t));
        t->name = arena_put(f->strings, &pos, key);
        t->file = f->label;
        f->by_name[f->n] = f->n;
        f->n++;
    }
    if (meta) {
        json_object_foreach((json_t *)meta, key, v) {
            f->meta[2 * f->n_meta] = (char *)arena_put(f->strings, &pos, key);
            f->meta[2 * f->n_meta + 1] = (char *)arena_put(f->strings, &pos, json_string_value(v));
            f->n_meta++;
        }
    }
    VKG_TRY(check_layout(f, data_size));
    sort_base = f->tensors;
    qsort(f->by_name, f->n, sizeof *f->by_name, cmp_name);
    return VKG_OK;
}

/* jansson names a duplicate key only when it is at most 20 characters long; real tensor names are
 * longer. Its position is just past the key's closing quote, so read the key back from there. */
static const char *duplicate_key(const char *text, size_t len, const json_error_t *jerr, char *buf,
                                 size_t size) {
    size_t end = jerr->position > 0 && (size_t)jerr->position <= len ? (size_t)jerr->position : 0;
    while (end > 0 && text[end - 1] != '"')
        end--;
    size_t begin = end ? end - 1 : 0;
    while (begin > 0 && !(text[begin - 1] == '"' && (begin < 2 || text[begin - 2] != '\\')))
        begin--;
    if (end < 2 || begin == 0) {
        snprintf(buf, size, "(name unknown: %s)", jerr->text);
        return buf;
    }
    int n = (int)(end - 1 - begin);
    snprintf(buf, size, "\"%.*s\"", n, text + begin);
    return buf;
}

vkg_status vkg_st_parse(const uint8_t *bytes, size_t size, const char *label, vkg_st_file **out) {
    *out = NULL;
    if (!label)
        label = "<memory>";
    if (size < 8)
        return vkg_fail(VKG_ERROR_ST_TRUNCATED,
                        "%s: %zu bytes is too short for a safetensors file (8-byte header length "
                        "first)",
                        label, size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | bytes[i];
    if (hlen > size - 8)
        return vkg_fail(VKG_ERROR_ST_HEADER_SIZE,
                        "%s: header length %" PRIu64 " is larger than the %zu bytes that follow "
                        "it (truncated, or not a safetensors file)",
                        label, hlen, size - 8);
    if (hlen > VKG_ST_MAX_HEADER_BYTES)
        return vkg_fail(VKG_ERROR_ST_HEADER_SIZE,
                        "%s: header length %" PRIu64 " exceeds the %u-byte limit", label, hlen,
                        VKG_ST_MAX_HEADER_BYTES);

    json_error_t jerr;
    json_t *root = json_loadb((const char *)bytes + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        switch (json_error_code(&jerr)) {
        case json_error_duplicate_key: {
            char key[256];
            return vkg_fail(VKG_ERROR_ST_DUPLICATE_KEY, "%s: header: tensor %s appears twice",
                            label, duplicate_key((const char *)bytes + 8, (size_t)hlen, &jerr,
                                                 key, sizeof key));
        }
        case json_error_numeric_overflow:
            return vkg_fail(VKG_ERROR_ST_OVERFLOW,
                            "%s: header: %s (byte %d): an integer does not fit 64 bits", label,
                            jerr.text, jerr.position);
        default:
            return vkg_fail(VKG_ERROR_ST_HEADER_JSON, "%s: header is not valid JSON: %s (byte %d)",
                            label, jerr.text, jerr.position);
        }
    }
    vkg_status s = VKG_ERROR_OUT_OF_HOST_MEMORY;
    vkg_st_file *f = vkg_calloc(1, sizeof *f);
    if (!f)
        goto done;
    f->label = strdup(label);
    if (!f->label) {
        s = vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
        goto done;
    }
    if (!json_is_object(root)) {
        s = vkg_fail(VKG_ERROR_ST_HEADER_JSON, "%s: header is JSON but not an object", label);
        goto done;
    }
    s = parse_header(f, root, bytes + 8 + hlen, size - 8 - hlen);
done:
    json_decref(root);
    if (s != VKG_OK) {
        vkg_st_close(f);
        return s;
    }
    *out = f;
    return VKG_OK;
}

vkg_status vkg_st_open(const char *path, vkg_st_file **out) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vkg_fail(VKG_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return vkg_fail(VKG_ERROR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return vkg_fail(VKG_ERROR_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    if (size < 8) { /* mmap of 0 bytes fails; let parse report the truncation */
        close(fd);
        static const uint8_t empty[8];
        return vkg_st_parse(empty, size, path, out);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); /* the mapping keeps the file alive */
    if (map == MAP_FAILED)
        return vkg_fail(VKG_ERROR_IO, "%s: cannot mmap %zu bytes: %s", path, size, strerror(e));
    vkg_status s = vkg_st_parse(map, size, path, out);
    if (s != VKG_OK) {
        munmap(map, size);
        return s;
    }
    (*out)->map = map;
    (*out)->map_size = size;
    return VKG_OK;
}

const vkg_st_tensor *vkg_st_find(const vkg_st_file *f, const char *name) {
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const vkg_st_tensor *t = &f->tensors[f->by_name[mid]];
        int c = strcmp(name, t->name);
        if (c == 0)
            return t;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

size_t vkg_st_count(const vkg_st_file *f) { return f->n; }

const vkg_st_tensor *vkg_st_at(const vkg_st_file *f, size_t i) {
    return i < f->n ? &f->tensors[i] : NULL;
}

const char *vkg_st_metadata(const vkg_st_file *f, const char *key) {
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[2 * i], key) == 0)
            return f->meta[2 * i + 1];
    return NULL;
}

const char *vkg_st_label(const vkg_st_file *f) { return f->label; }

vkg_status vkg_st_check_finite(const vkg_st_tensor *t) {
    size_t i = vkg_check_finite(t->dtype, t->data, (size_t)t->nelem);
    if (i == t->nelem)
        return VKG_OK;
    const char *what = "NaN or Inf";
    if (vkg_dtype_is_supported(t->dtype)) {
        float v;
        vkg_dtype_to_f32(t->dtype, (const uint8_t *)t->data + i * vkg_dtype_size(t->dtype), &v, 1);
        what = v != v ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
    }
    return vkg_fail(VKG_ERROR_BAD_WEIGHTS, "%s: tensor %s: element %zu is %s", t->file, t->name, i,
                    what);
}
