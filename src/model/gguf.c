/*
 * model/gguf.c — mmap and validate a GGUF file (see gguf.h for the format and the guarantees). One
 * pass reads the header with a bounds-checked cursor; the layout checks (alignment, offsets, overlap,
 * duplicates) follow. Every message names the file label and the field, key or tensor at fault.
 */
#define _POSIX_C_SOURCE 200809L
#include "model/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Absolute limits, whatever the file size: far above real files (a vocabulary has ~256k entries, a
 * large model a few thousand tensors and a few dozen keys, a chat template a few KB), far below what
 * would let a corrupt count drive an allocation or a loop for long. */
#define MAX_TENSORS (1u << 20)
#define MAX_KV (1u << 20)
#define MAX_ARRAY (1ull << 28)
#define MAX_STRING (1ull << 30)

struct vkg_gguf_file {
    char *label;
    void *map; /* NULL when the bytes belong to the caller */
    size_t map_size;
    uint32_t version, alignment;
    vkg_gguf_kv *kv;
    size_t n_kv;
    vkg_gguf_tensor *tensors;
    size_t n_tensors;
    size_t *kv_by_key, *t_by_name; /* indices sorted by key / name */
};

typedef struct cursor {
    const uint8_t *p;
    size_t size, pos;
    const char *label;
} cursor;

static const char *const vtype_names[VKG_GGUF_VTYPE_COUNT] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};

const char *vkg_gguf_vtype_name(uint32_t t) { return t < VKG_GGUF_VTYPE_COUNT ? vtype_names[t] : "?"; }

/* Bytes of one value of a fixed-size type; 0 for string and array. */
static uint32_t vtype_size(uint32_t t) {
    switch (t) {
    case VKG_GGUF_U8: case VKG_GGUF_I8: case VKG_GGUF_BOOL: return 1;
    case VKG_GGUF_U16: case VKG_GGUF_I16: return 2;
    case VKG_GGUF_U32: case VKG_GGUF_I32: case VKG_GGUF_F32: return 4;
    case VKG_GGUF_U64: case VKG_GGUF_I64: case VKG_GGUF_F64: return 8;
    default: return 0;
    }
}

static vkg_status need(cursor *c, uint64_t n, const char *what, const char *name) {
    if (n > c->size - c->pos)
        return vkg_fail(VKG_ERROR_GGUF_TRUNCATED,
                        "%s: the file ends at byte %zu inside %s%s%s (%" PRIu64 " bytes needed at byte %zu)",
                        c->label, c->size, what, name ? " " : "", name ? name : "", n, c->pos);
    return VKG_OK;
}

static uint64_t get_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static vkg_status read_u32(cursor *c, uint32_t *v, const char *what, const char *name) {
    VKG_TRY(need(c, 4, what, name));
    *v = (uint32_t)get_le(c->p + c->pos, 4);
    c->pos += 4;
    return VKG_OK;
}

static vkg_status read_u64(cursor *c, uint64_t *v, const char *what, const char *name) {
    VKG_TRY(need(c, 8, what, name));
    *v = get_le(c->p + c->pos, 8);
    c->pos += 8;
    return VKG_OK;
}

/* A string: u64 length, bytes. `max` bounds the length whatever the file holds. */
static vkg_status read_str(cursor *c, vkg_gguf_str *s, uint64_t max, const char *what, const char *name) {
    uint64_t len;
    VKG_TRY(read_u64(c, &len, what, name));
    if (len > max)
        return vkg_fail(VKG_ERROR_GGUF_TOO_LARGE, "%s: %s%s%s: string length %" PRIu64 " at byte %zu exceeds the "
                        "limit of %" PRIu64, c->label, what, name ? " " : "", name ? name : "", len, c->pos - 8, max);
    VKG_TRY(need(c, len, what, name));
    s->ptr = (const char *)c->p + c->pos;
    s->len = len;
    c->pos += len;
    return VKG_OK;
}

/* A key or tensor name as a C string: non-empty, no NUL byte, at most VKG_GGUF_MAX_KEY_BYTES. */
static vkg_status read_name(cursor *c, char **out, vkg_status bad, const char *what) {
    vkg_gguf_str s;
    VKG_TRY(read_str(c, &s, VKG_GGUF_MAX_KEY_BYTES, what, NULL));
    if (s.len == 0 || memchr(s.ptr, 0, s.len))
        return vkg_fail(bad, "%s: %s at byte %zu is %s", c->label, what, c->pos - s.len,
                        s.len ? "holds a NUL byte" : "empty");
    *out = malloc(s.len + 1);
    if (!*out)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "%s: out of host memory", c->label);
    memcpy(*out, s.ptr, s.len);
    (*out)[s.len] = 0;
    return VKG_OK;
}

/* Check (and skip) one value of type `t` of key `key`; arrays recurse up to VKG_GGUF_MAX_DEPTH. */
static vkg_status skip_value(cursor *c, uint32_t t, int depth, const char *key) {
    if (t >= VKG_GGUF_VTYPE_COUNT)
        return vkg_fail(VKG_ERROR_GGUF_METADATA, "%s: key %s: unknown value type %u", c->label, key, t);
    if (t == VKG_GGUF_STRING) {
        vkg_gguf_str s;
        return read_str(c, &s, MAX_STRING, "the string value of key", key);
    }
    if (t != VKG_GGUF_ARRAY) {
        VKG_TRY(need(c, vtype_size(t), "the value of key", key));
        if (t == VKG_GGUF_BOOL && c->p[c->pos] > 1)
            return vkg_fail(VKG_ERROR_GGUF_METADATA, "%s: key %s: bool value %u is neither 0 nor 1", c->label, key,
                            c->p[c->pos]);
        c->pos += vtype_size(t);
        return VKG_OK;
    }
    if (depth >= VKG_GGUF_MAX_DEPTH)
        return vkg_fail(VKG_ERROR_GGUF_METADATA, "%s: key %s: arrays nested more than %d deep", c->label, key,
                        VKG_GGUF_MAX_DEPTH);
    uint32_t et;
    uint64_t n;
    VKG_TRY(read_u32(c, &et, "the array element type of key", key));
    VKG_TRY(read_u64(c, &n, "the array length of key", key));
    if (et >= VKG_GGUF_VTYPE_COUNT)
        return vkg_fail(VKG_ERROR_GGUF_METADATA, "%s: key %s: unknown array element type %u", c->label, key, et);
    if (n > MAX_ARRAY)
        return vkg_fail(VKG_ERROR_GGUF_TOO_LARGE, "%s: key %s: array length %" PRIu64 " exceeds the limit of %llu",
                        c->label, key, n, MAX_ARRAY);
    /* Every element takes at least this many bytes: the length check comes before any loop. */
    uint64_t least = et == VKG_GGUF_STRING ? 8 : et == VKG_GGUF_ARRAY ? 12 : vtype_size(et);
    VKG_TRY(need(c, n * least, "the array of key", key));
    if (et != VKG_GGUF_STRING && et != VKG_GGUF_ARRAY) {
        if (et == VKG_GGUF_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (c->p[c->pos + i] > 1)
                    return vkg_fail(VKG_ERROR_GGUF_METADATA, "%s: key %s: bool element %" PRIu64 " is %u, neither "
                                    "0 nor 1", c->label, key, i, c->p[c->pos + i]);
        c->pos += n * least;
        return VKG_OK;
    }
    for (uint64_t i = 0; i < n; i++)
        VKG_TRY(skip_value(c, et, depth + 1, key));
    return VKG_OK;
}

/* Read one metadata entry into kv (key, type, raw pointer, string table). */
static vkg_status read_kv(cursor *c, vkg_gguf_kv *kv) {
    char *key = NULL;
    VKG_TRY(read_name(c, &key, VKG_ERROR_GGUF_METADATA, "a metadata key"));
    kv->key = key;
    uint32_t t;
    VKG_TRY(read_u32(c, &t, "the value type of key", key));
    if (t >= VKG_GGUF_VTYPE_COUNT)
        return vkg_fail(VKG_ERROR_GGUF_METADATA, "%s: key %s: unknown value type %u", c->label, key, t);
    kv->type = kv->elem_type = (vkg_gguf_vtype)t;
    kv->n = 1;
    size_t start = c->pos;
    if (t == VKG_GGUF_ARRAY) {
        /* Peek at the element type and count (skip_value checks them and the elements). */
        VKG_TRY(need(c, 12, "the array header of key", key));
        kv->elem_type = (vkg_gguf_vtype)get_le(c->p + c->pos, 4);
        kv->n = get_le(c->p + c->pos + 4, 8);
        kv->raw = c->p + c->pos + 12;
    } else {
        kv->raw = c->p + c->pos;
    }
    VKG_TRY(skip_value(c, t, 0, key));
    if (kv->elem_type != VKG_GGUF_STRING)
        return VKG_OK;
    /* Strings: a table of (pointer, length), re-read from the checked bytes. The count is bounded by
     * the bytes the strings occupied (8 per length at least). */
    vkg_gguf_str *strs = calloc(kv->n ? kv->n : 1, sizeof *strs);
    if (!strs)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "%s: key %s: out of host memory for %" PRIu64 " strings",
                        c->label, key, kv->n);
    kv->strs = strs;
    cursor r = *c;
    r.pos = start + (t == VKG_GGUF_ARRAY ? 12 : 0);
    for (uint64_t i = 0; i < kv->n; i++)
        if (read_str(&r, &strs[i], MAX_STRING, "a string of key", key) != VKG_OK)
            return vkg_fail(VKG_ERROR_INTERNAL, "%s: key %s: strings changed between two reads", c->label, key);
    return VKG_OK;
}

static vkg_status read_tensor(cursor *c, vkg_gguf_tensor *t, uint32_t flags) {
    char *name = NULL;
    VKG_TRY(read_name(c, &name, VKG_ERROR_GGUF_METADATA, "a tensor name"));
    t->name = name;
    VKG_TRY(read_u32(c, &t->n_dims, "the n_dims of tensor", name));
    if (t->n_dims < 1 || t->n_dims > VKG_GGUF_MAX_DIMS)
        return vkg_fail(VKG_ERROR_GGUF_SHAPE, "%s: tensor %s: n_dims %u is not 1..%d", c->label, name, t->n_dims,
                        VKG_GGUF_MAX_DIMS);
    t->nelem = 1;
    bool overflow = false;
    for (uint32_t i = 0; i < VKG_GGUF_MAX_DIMS; i++) {
        t->ne[i] = 1;
        if (i >= t->n_dims)
            continue;
        VKG_TRY(read_u64(c, &t->ne[i], "the dimensions of tensor", name));
        if (t->ne[i] == 0)
            return vkg_fail(VKG_ERROR_GGUF_SHAPE, "%s: tensor %s: dimension %u is 0", c->label, name, i);
        if (t->ne[i] > (uint64_t)INT64_MAX || !vkg_mul_u64(t->nelem, t->ne[i], &t->nelem))
            overflow = true;
    }
    uint32_t type;
    VKG_TRY(read_u32(c, &type, "the type of tensor", name));
    VKG_TRY(read_u64(c, &t->offset, "the offset of tensor", name));
    t->type = type;
    if (overflow)
        return vkg_fail(VKG_ERROR_GGUF_OVERFLOW, "%s: tensor %s: dimensions [%" PRIu64 ", %" PRIu64 ", %" PRIu64
                        ", %" PRIu64 "] overflow 64 bits", c->label, name, t->ne[0], t->ne[1], t->ne[2], t->ne[3]);
    const char *tn = vkg_ggml_type_name(type);
    if (!tn)
        return vkg_fail(VKG_ERROR_GGUF_TENSOR_TYPE, "%s: tensor %s: unknown ggml type %u", c->label, name, type);
    if (!(flags & VKG_GGUF_ANY_TYPE) && !vkg_ggml_type_supported(type))
        return vkg_fail(VKG_ERROR_GGUF_TENSOR_TYPE, "%s: tensor %s has type %s, which vkgpt does not read (it reads "
                        "F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K and Q6_K)", c->label, name, tn);
    uint32_t be, bb;
    vkg_ggml_type_layout(type, &be, &bb);
    if (t->ne[0] % be)
        return vkg_fail(VKG_ERROR_GGUF_SHAPE, "%s: tensor %s: rows of %" PRIu64 " elements are not a whole number "
                        "of %s blocks of %u", c->label, name, t->ne[0], tn, be);
    if (!vkg_mul_u64(t->nelem / be, bb, &t->nbytes))
        return vkg_fail(VKG_ERROR_GGUF_OVERFLOW, "%s: tensor %s: %" PRIu64 " elements of %s overflow 64 bits of "
                        "bytes", c->label, name, t->nelem, tn);
    return VKG_OK;
}

/* qsort has no context argument; _Thread_local keeps parses on different threads apart. */
static _Thread_local const vkg_gguf_file *sort_file;

static int cmp_key(const void *a, const void *b) {
    return strcmp(sort_file->kv[*(const size_t *)a].key, sort_file->kv[*(const size_t *)b].key);
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(sort_file->tensors[*(const size_t *)a].name, sort_file->tensors[*(const size_t *)b].name);
}

static int cmp_offset(const void *a, const void *b) {
    const vkg_gguf_tensor *x = &sort_file->tensors[*(const size_t *)a], *y = &sort_file->tensors[*(const size_t *)b];
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* general.alignment, when present: a u32 power of two. */
static vkg_status read_alignment(vkg_gguf_file *f) {
    const vkg_gguf_kv *kv = vkg_gguf_find_kv(f, "general.alignment");
    f->alignment = VKG_GGUF_DEFAULT_ALIGNMENT;
    if (!kv)
        return VKG_OK;
    if (kv->type != VKG_GGUF_U32)
        return vkg_fail(VKG_ERROR_GGUF_ALIGNMENT, "%s: key general.alignment has type %s, not u32", f->label,
                        vkg_gguf_vtype_name(kv->type));
    uint32_t a = (uint32_t)get_le(kv->raw, 4);
    if (a == 0 || (a & (a - 1)))
        return vkg_fail(VKG_ERROR_GGUF_ALIGNMENT, "%s: general.alignment %u is not a power of two", f->label, a);
    f->alignment = a;
    return VKG_OK;
}

static vkg_status check_layout(vkg_gguf_file *f, const uint8_t *bytes, size_t size, size_t header_end) {
    sort_file = f;
    qsort(f->kv_by_key, f->n_kv, sizeof(size_t), cmp_key);
    for (size_t i = 1; i < f->n_kv; i++)
        if (!strcmp(f->kv[f->kv_by_key[i]].key, f->kv[f->kv_by_key[i - 1]].key))
            return vkg_fail(VKG_ERROR_GGUF_METADATA, "%s: key %s appears twice", f->label, f->kv[f->kv_by_key[i]].key);
    VKG_TRY(read_alignment(f));
    qsort(f->t_by_name, f->n_tensors, sizeof(size_t), cmp_name);
    for (size_t i = 1; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[f->t_by_name[i]].name, f->tensors[f->t_by_name[i - 1]].name))
            return vkg_fail(VKG_ERROR_GGUF_DUPLICATE, "%s: tensor %s appears twice", f->label,
                            f->tensors[f->t_by_name[i]].name);
    if (f->n_tensors == 0)
        return VKG_OK; /* a vocabulary-only file may end right after its metadata */
    uint64_t data_start = vkg_align_up(header_end, f->alignment);
    if (data_start > size)
        return vkg_fail(VKG_ERROR_GGUF_TRUNCATED, "%s: the file ends at byte %zu, before its data section (byte "
                        "%" PRIu64 ")", f->label, size, data_start);
    uint64_t data_size = size - data_start;
    for (size_t i = 0; i < f->n_tensors; i++) {
        vkg_gguf_tensor *t = &f->tensors[i];
        uint64_t end;
        if (t->offset % f->alignment)
            return vkg_fail(VKG_ERROR_GGUF_ALIGNMENT, "%s: tensor %s: offset %" PRIu64 " is not a multiple of the "
                            "alignment %u", f->label, t->name, t->offset, f->alignment);
        if (!vkg_add_u64(t->offset, t->nbytes, &end))
            return vkg_fail(VKG_ERROR_GGUF_OVERFLOW, "%s: tensor %s: offset %" PRIu64 " + %" PRIu64 " bytes overflow "
                            "64 bits", f->label, t->name, t->offset, t->nbytes);
        if (end > data_size)
            return vkg_fail(VKG_ERROR_GGUF_OFFSETS, "%s: tensor %s: bytes [%" PRIu64 ", %" PRIu64 ") of the data "
                            "section, which holds %" PRIu64, f->label, t->name, t->offset, end, data_size);
        t->data = bytes + data_start + t->offset;
    }
    size_t *order = malloc(f->n_tensors * sizeof *order);
    if (!order)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "%s: out of host memory", f->label);
    for (size_t i = 0; i < f->n_tensors; i++)
        order[i] = i;
    qsort(order, f->n_tensors, sizeof *order, cmp_offset);
    vkg_status s = VKG_OK;
    for (size_t i = 1; i < f->n_tensors && s == VKG_OK; i++) {
        const vkg_gguf_tensor *a = &f->tensors[order[i - 1]], *b = &f->tensors[order[i]];
        if (b->offset < a->offset + a->nbytes)
            s = vkg_fail(VKG_ERROR_GGUF_OVERLAP, "%s: tensors %s [%" PRIu64 ", %" PRIu64 ") and %s [%" PRIu64 ", %"
                         PRIu64 ") overlap", f->label, a->name, a->offset, a->offset + a->nbytes, b->name, b->offset,
                         b->offset + b->nbytes);
    }
    free(order);
    return s;
}

void vkg_gguf_close(vkg_gguf_file *f) {
    if (!f)
        return;
    for (size_t i = 0; i < f->n_kv; i++) {
        free((char *)f->kv[i].key);
        free((vkg_gguf_str *)f->kv[i].strs);
    }
    for (size_t i = 0; i < f->n_tensors; i++)
        free((char *)f->tensors[i].name);
    if (f->map)
        munmap(f->map, f->map_size);
    free(f->kv);
    free(f->tensors);
    free(f->kv_by_key);
    free(f->t_by_name);
    free(f->label);
    free(f);
}

static vkg_status parse(vkg_gguf_file *f, const uint8_t *bytes, size_t size, uint32_t flags) {
    cursor c = {bytes, size, 0, f->label};
    if (size < 4)
        return vkg_fail(VKG_ERROR_GGUF_TRUNCATED, "%s: %zu bytes is too short for a GGUF file", f->label, size);
    if (memcmp(bytes, "GGUF", 4) != 0)
        return vkg_fail(VKG_ERROR_GGUF_MAGIC, "%s: does not start with \"GGUF\" (bytes %02x %02x %02x %02x): not a "
                        "GGUF file", f->label, bytes[0], bytes[1], bytes[2], bytes[3]);
    c.pos = 4;
    uint64_t n_tensors, n_kv;
    VKG_TRY(read_u32(&c, &f->version, "the header field", "version"));
    if (f->version != 2 && f->version != 3)
        return vkg_fail(VKG_ERROR_GGUF_VERSION, "%s: GGUF version %u%s; vkgpt reads versions 2 and 3", f->label,
                        f->version, f->version == 1 ? " (the first, with 32-bit counts: re-convert the model)"
                                    : f->version && !(f->version & 0xFFFF) ? " (a big-endian file?)" : "");
    VKG_TRY(read_u64(&c, &n_tensors, "the header field", "tensor_count"));
    VKG_TRY(read_u64(&c, &n_kv, "the header field", "metadata_kv_count"));
    if (n_tensors > MAX_TENSORS)
        return vkg_fail(VKG_ERROR_GGUF_TOO_LARGE, "%s: tensor_count %" PRIu64 " exceeds the limit of %u", f->label,
                        n_tensors, MAX_TENSORS);
    if (n_kv > MAX_KV)
        return vkg_fail(VKG_ERROR_GGUF_TOO_LARGE, "%s: metadata_kv_count %" PRIu64 " exceeds the limit of %u",
                        f->label, n_kv, MAX_KV);
    /* At least 13 bytes per entry and 32 per tensor info: allocate only what the file could hold. */
    VKG_TRY(need(&c, n_kv * 13 + n_tensors * 32, "the metadata and tensor infos announced by", "the header"));
    f->kv = calloc(n_kv ? n_kv : 1, sizeof *f->kv);
    f->kv_by_key = calloc(n_kv ? n_kv : 1, sizeof *f->kv_by_key);
    f->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *f->tensors);
    f->t_by_name = calloc(n_tensors ? n_tensors : 1, sizeof *f->t_by_name);
    if (!f->kv || !f->kv_by_key || !f->tensors || !f->t_by_name)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "%s: out of host memory", f->label);
    for (; f->n_kv < n_kv; f->n_kv++) {
        f->kv_by_key[f->n_kv] = f->n_kv;
        vkg_status s = read_kv(&c, &f->kv[f->n_kv]);
        if (s != VKG_OK) {
            f->n_kv++; /* so that close frees what the entry allocated */
            return s;
        }
    }
    for (; f->n_tensors < n_tensors; f->n_tensors++) {
        f->t_by_name[f->n_tensors] = f->n_tensors;
        vkg_status s = read_tensor(&c, &f->tensors[f->n_tensors], flags);
        if (s != VKG_OK) {
            f->n_tensors++;
            return s;
        }
    }
    return check_layout(f, bytes, size, c.pos);
}

vkg_status vkg_gguf_parse(const uint8_t *bytes, size_t size, const char *label, uint32_t flags,
                          vkg_gguf_file **out) {
    *out = NULL;
    vkg_gguf_file *f = vkg_calloc(1, sizeof *f);
    if (!f)
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    f->label = strdup(label ? label : "<memory>");
    vkg_status s = f->label ? parse(f, bytes, size, flags)
                            : vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (s != VKG_OK) {
        vkg_gguf_close(f);
        return s;
    }
    *out = f;
    return VKG_OK;
}

vkg_status vkg_gguf_open(const char *path, uint32_t flags, vkg_gguf_file **out) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vkg_fail(VKG_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(fd);
        return vkg_fail(VKG_ERROR_IO, "%s: %s", path, e ? strerror(e) : "not a regular file");
    }
    size_t size = (size_t)st.st_size;
    if (size < 4) { /* mmap of 0 bytes fails; let parse report the truncation */
        close(fd);
        static const uint8_t empty[4];
        return vkg_gguf_parse(empty, size, path, flags, out);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); /* the mapping keeps the file alive */
    if (map == MAP_FAILED)
        return vkg_fail(VKG_ERROR_IO, "%s: cannot mmap %zu bytes: %s", path, size, strerror(e));
    vkg_status s = vkg_gguf_parse(map, size, path, flags, out);
    if (s != VKG_OK) {
        munmap(map, size);
        return s;
    }
    (*out)->map = map;
    (*out)->map_size = size;
    return VKG_OK;
}

const char *vkg_gguf_label(const vkg_gguf_file *f) { return f->label; }
uint32_t vkg_gguf_version(const vkg_gguf_file *f) { return f->version; }
uint32_t vkg_gguf_alignment(const vkg_gguf_file *f) { return f->alignment; }
size_t vkg_gguf_kv_count(const vkg_gguf_file *f) { return f->n_kv; }
const vkg_gguf_kv *vkg_gguf_kv_at(const vkg_gguf_file *f, size_t i) { return i < f->n_kv ? &f->kv[i] : NULL; }
size_t vkg_gguf_tensor_count(const vkg_gguf_file *f) { return f->n_tensors; }

const vkg_gguf_tensor *vkg_gguf_tensor_at(const vkg_gguf_file *f, size_t i) {
    return i < f->n_tensors ? &f->tensors[i] : NULL;
}

const vkg_gguf_kv *vkg_gguf_find_kv(const vkg_gguf_file *f, const char *key) {
    size_t lo = 0, hi = f->n_kv;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const vkg_gguf_kv *kv = &f->kv[f->kv_by_key[mid]];
        int c = strcmp(key, kv->key);
        if (c == 0)
            return kv;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const vkg_gguf_tensor *vkg_gguf_find_tensor(const vkg_gguf_file *f, const char *name) {
    size_t lo = 0, hi = f->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const vkg_gguf_tensor *t = &f->tensors[f->t_by_name[mid]];
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

/* ---- typed getters ---- */

static bool is_int(uint32_t t) {
    return t <= VKG_GGUF_I32 || t == VKG_GGUF_U64 || t == VKG_GGUF_I64;
}

/* Element i of an integer array (or the scalar) as a signed 128-bit-free pair: *neg for negative. */
static void int_at(const uint8_t *raw, uint32_t t, uint64_t i, uint64_t *mag, bool *neg) {
    uint32_t sz = vtype_size(t);
    uint64_t v = get_le(raw + i * sz, (int)sz);
    bool is_signed = t == VKG_GGUF_I8 || t == VKG_GGUF_I16 || t == VKG_GGUF_I32 || t == VKG_GGUF_I64;
    *neg = is_signed && (v >> (sz * 8 - 1) & 1);
    if (*neg) /* sign-extend and negate */
        v = sz == 8 ? ~v + 1 : (uint64_t)(((uint64_t)1 << (sz * 8)) - v);
    *mag = v;
}

static double float_at(const uint8_t *raw, uint32_t t, uint64_t i) {
    if (t == VKG_GGUF_F32) {
        uint32_t u = (uint32_t)get_le(raw + 4 * i, 4);
        float v;
        memcpy(&v, &u, 4);
        return v;
    }
    if (t == VKG_GGUF_F64) {
        uint64_t u = get_le(raw + 8 * i, 8);
        double v;
        memcpy(&v, &u, 8);
        return v;
    }
    uint64_t mag;
    bool neg;
    int_at(raw, t, i, &mag, &neg);
    return neg ? -(double)mag : (double)mag;
}

static vkg_status lookup(const vkg_gguf_file *f, const char *key, const vkg_gguf_kv **kv) {
    *kv = vkg_gguf_find_kv(f, key);
    if (!*kv)
        return vkg_fail(VKG_ERROR_GGUF_KEY_MISSING, "%s: no metadata key %s", f->label, key);
    return VKG_OK;
}

static vkg_status wrong_type(const vkg_gguf_file *f, const vkg_gguf_kv *kv, const char *want) {
    if (kv->type == VKG_GGUF_ARRAY)
        return vkg_fail(VKG_ERROR_GGUF_KEY_TYPE, "%s: key %s is an array of %s, expected %s", f->label, kv->key,
                        vkg_gguf_vtype_name(kv->elem_type), want);
    return vkg_fail(VKG_ERROR_GGUF_KEY_TYPE, "%s: key %s has type %s, expected %s", f->label, kv->key,
                    vkg_gguf_vtype_name(kv->type), want);
}

/* An integer scalar within [-neg_limit, pos_limit]. */
static vkg_status get_int(const vkg_gguf_file *f, const char *key, uint64_t pos_limit, uint64_t neg_limit,
                          const char *want, uint64_t *mag, bool *neg) {
    const vkg_gguf_kv *kv;
    VKG_TRY(lookup(f, key, &kv));
    if (!is_int(kv->type))
        return wrong_type(f, kv, want);
    int_at(kv->raw, kv->type, 0, mag, neg);
    if (*neg ? *mag > neg_limit : *mag > pos_limit)
        return vkg_fail(VKG_ERROR_GGUF_KEY_TYPE, "%s: key %s: value %s%" PRIu64 " does not fit %s", f->label, key,
                        *neg ? "-" : "", *mag, want);
    return VKG_OK;
}

vkg_status vkg_gguf_get_u32(const vkg_gguf_file *f, const char *key, uint32_t *out) {
    uint64_t m;
    bool neg;
    VKG_TRY(get_int(f, key, UINT32_MAX, 0, "an unsigned 32-bit integer", &m, &neg));
    *out = (uint32_t)m;
    return VKG_OK;
}

vkg_status vkg_gguf_get_u64(const vkg_gguf_file *f, const char *key, uint64_t *out) {
    uint64_t m;
    bool neg;
    VKG_TRY(get_int(f, key, UINT64_MAX, 0, "an unsigned 64-bit integer", &m, &neg));
    *out = m;
    return VKG_OK;
}

vkg_status vkg_gguf_get_i32(const vkg_gguf_file *f, const char *key, int32_t *out) {
    uint64_t m;
    bool neg;
    VKG_TRY(get_int(f, key, INT32_MAX, (uint64_t)INT32_MAX + 1, "a signed 32-bit integer", &m, &neg));
    *out = neg ? (int32_t)(-(int64_t)m) : (int32_t)m;
    return VKG_OK;
}

vkg_status vkg_gguf_get_f32(const vkg_gguf_file *f, const char *key, float *out) {
    const vkg_gguf_kv *kv;
    VKG_TRY(lookup(f, key, &kv));
    if (kv->type != VKG_GGUF_F32 && kv->type != VKG_GGUF_F64 && !is_int(kv->type))
        return wrong_type(f, kv, "a number");
    *out = (float)float_at(kv->raw, kv->type, 0);
    return VKG_OK;
}

vkg_status vkg_gguf_get_bool(const vkg_gguf_file *f, const char *key, bool *out) {
    const vkg_gguf_kv *kv;
    VKG_TRY(lookup(f, key, &kv));
    if (kv->type != VKG_GGUF_BOOL)
        return wrong_type(f, kv, "bool");
    *out = kv->raw[0] != 0;
    return VKG_OK;
}

vkg_status vkg_gguf_get_str(const vkg_gguf_file *f, const char *key, vkg_gguf_str *out) {
    const vkg_gguf_kv *kv;
    VKG_TRY(lookup(f, key, &kv));
    if (kv->type != VKG_GGUF_STRING)
        return wrong_type(f, kv, "string");
    *out = kv->strs[0];
    return VKG_OK;
}

vkg_status vkg_gguf_get_str_array(const vkg_gguf_file *f, const char *key, const vkg_gguf_str **items,
                                  uint64_t *n) {
    const vkg_gguf_kv *kv;
    VKG_TRY(lookup(f, key, &kv));
    if (kv->type != VKG_GGUF_ARRAY || kv->elem_type != VKG_GGUF_STRING)
        return wrong_type(f, kv, "an array of strings");
    *items = kv->strs;
    *n = kv->n;
    return VKG_OK;
}

static vkg_status number_array(const vkg_gguf_file *f, const char *key, bool ints, const vkg_gguf_kv **kv) {
    VKG_TRY(lookup(f, key, kv));
    uint32_t et = (*kv)->elem_type;
    if ((*kv)->type != VKG_GGUF_ARRAY || !(is_int(et) || (!ints && (et == VKG_GGUF_F32 || et == VKG_GGUF_F64))))
        return wrong_type(f, *kv, ints ? "an array of integers" : "an array of numbers");
    return VKG_OK;
}

vkg_status vkg_gguf_get_array_len(const vkg_gguf_file *f, const char *key, uint64_t *n) {
    const vkg_gguf_kv *kv;
    VKG_TRY(number_array(f, key, false, &kv));
    *n = kv->n;
    return VKG_OK;
}

static vkg_status check_len(const vkg_gguf_file *f, const vkg_gguf_kv *kv, uint64_t n) {
    if (n != kv->n)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: key %s has %" PRIu64 " elements, the caller expects %" PRIu64,
                        f->label, kv->key, kv->n, n);
    return VKG_OK;
}

vkg_status vkg_gguf_get_int_array(const vkg_gguf_file *f, const char *key, int64_t *dst, uint64_t n) {
    const vkg_gguf_kv *kv;
    VKG_TRY(number_array(f, key, true, &kv));
    VKG_TRY(check_len(f, kv, n));
    for (uint64_t i = 0; i < n; i++) {
        uint64_t m;
        bool neg;
        int_at(kv->raw, kv->elem_type, i, &m, &neg);
        if (!neg && m > (uint64_t)INT64_MAX)
            return vkg_fail(VKG_ERROR_GGUF_KEY_TYPE, "%s: key %s: element %" PRIu64 " = %" PRIu64 " does not fit "
                            "int64", f->label, key, i, m);
        dst[i] = neg ? (int64_t)(0 - m) : (int64_t)m;
    }
    return VKG_OK;
}

vkg_status vkg_gguf_get_float_array(const vkg_gguf_file *f, const char *key, float *dst, uint64_t n) {
    const vkg_gguf_kv *kv;
    VKG_TRY(number_array(f, key, false, &kv));
    VKG_TRY(check_len(f, kv, n));
    for (uint64_t i = 0; i < n; i++)
        dst[i] = (float)float_at(kv->raw, kv->elem_type, i);
    return VKG_OK;
}
