/*
 * model/gguf.h — a checked, read-only view of one GGUF file (llama.cpp's model format), versions 2
 * and 3.
 *
 * Format (little-endian): "GGUF", u32 version, u64 tensor_count, u64 kv_count; kv_count metadata
 * entries {string key, u32 value_type, value}; tensor_count tensor infos {string name, u32 n_dims,
 * u64 ne[n_dims], u32 ggml_type, u64 offset}; padding to general.alignment (default 32); the data
 * section. A string is u64 length + bytes (no NUL); an array is u32 element type, u64 count, elements.
 * ne[0] is the innermost dimension (a row): a [N, K] matrix has ne = {K, N}. Offsets are relative to
 * the data section and multiples of the alignment.
 *
 * vkg_gguf_parse() checks everything a bad or hostile file could get wrong before it exposes
 * anything: magic, version, counts against the bytes that could hold them, string and array lengths
 * (nested arrays too, at most VKG_GGUF_MAX_DEPTH deep), value types, bools, duplicate keys and tensor
 * names, general.alignment (a u32 power of two), n_dims (1..4), dimensions (non-zero, rows a whole
 * number of blocks), tensor types (refused by name unless VKG_GGUF_ANY_TYPE), 64-bit overflow of every
 * size, offsets inside the data section, aligned, and no two tensors sharing a byte. Allocation is
 * bounded by the file size. So a caller may read any tensor's nbytes at data without further checks.
 *
 * This is the container only: it knows nothing of architectures or tensor names (the model layer
 * maps those) and does not dequantize (quant.h).
 */
#ifndef VKG_MODEL_GGUF_H
#define VKG_MODEL_GGUF_H

#include "common.h"
#include "model/quant.h"

#define VKG_GGUF_MAX_DIMS 4
#define VKG_GGUF_DEFAULT_ALIGNMENT 32
#define VKG_GGUF_MAX_DEPTH 4            /* arrays of arrays nest at most this deep */
#define VKG_GGUF_MAX_KEY_BYTES 65535u   /* keys and tensor names; the spec's limit for keys */

/* Metadata value types (the file's numbering). */
typedef enum vkg_gguf_vtype {
    VKG_GGUF_U8 = 0,
    VKG_GGUF_I8 = 1,
    VKG_GGUF_U16 = 2,
    VKG_GGUF_I16 = 3,
    VKG_GGUF_U32 = 4,
    VKG_GGUF_I32 = 5,
    VKG_GGUF_F32 = 6,
    VKG_GGUF_BOOL = 7,
    VKG_GGUF_STRING = 8,
    VKG_GGUF_ARRAY = 9,
    VKG_GGUF_U64 = 10,
    VKG_GGUF_I64 = 11,
    VKG_GGUF_F64 = 12,
    VKG_GGUF_VTYPE_COUNT
} vkg_gguf_vtype;

/* A string in the file: `len` bytes at `ptr`, NOT NUL-terminated (GGUF strings may hold any byte). */
typedef struct vkg_gguf_str {
    const char *ptr;
    uint64_t len;
} vkg_gguf_str;

typedef struct vkg_gguf_kv {
    const char *key;          /* NUL-terminated copy (keys hold no NUL byte: checked) */
    vkg_gguf_vtype type;
    vkg_gguf_vtype elem_type; /* arrays: the element type; else == type */
    uint64_t n;               /* arrays: the element count; else 1 */
    const uint8_t *raw;       /* numbers and bools: the little-endian value(s) in the file (unaligned) */
    const vkg_gguf_str *strs; /* strings and arrays of strings: n entries; else NULL */
} vkg_gguf_kv;

typedef struct vkg_gguf_tensor {
    const char *name;         /* NUL-terminated copy */
    uint32_t type;            /* vkg_ggml_type */
    uint32_t n_dims;          /* 1..4 */
    uint64_t ne[VKG_GGUF_MAX_DIMS]; /* ggml order: ne[0] = row length; dims past n_dims are 1 */
    uint64_t nelem;
    uint64_t nbytes;          /* vkg_ggml_bytes(type, nelem) */
    uint64_t offset;          /* relative to the data section */
    const void *data;         /* nbytes bytes, aligned as far as the mapping and general.alignment make it */
} vkg_gguf_tensor;

typedef struct vkg_gguf_file vkg_gguf_file;

/* Parse flags. */
enum {
    VKG_GGUF_ANY_TYPE = 1u << 0, /* accept every known ggml type (for listing a file); its layout is
                                    still checked. Default: types vkgpt cannot read are refused. */
};

/* Map `path` and validate it (flags: VKG_GGUF_*). On success *out owns the mapping; release with
 * vkg_gguf_close(). VKG_ERROR_IO (open/stat/mmap, naming the path) or any vkg_gguf_parse() error. */
vkg_status vkg_gguf_open(const char *path, uint32_t flags, vkg_gguf_file **out);

/* Validate `size` bytes of a GGUF image held by the caller (used by vkg_gguf_open and the fuzz
 * target); the file points into `bytes`, which must outlive it. `label` (copied) names the file in
 * messages. Errors: VKG_ERROR_GGUF_* (see vkgpt.h), VKG_ERROR_OUT_OF_HOST_MEMORY; messages name the
 * label and the header field, key or tensor at fault. */
vkg_status vkg_gguf_parse(const uint8_t *bytes, size_t size, const char *label, uint32_t flags,
                          vkg_gguf_file **out);

/* Release a file (and its mapping). NULL is allowed. */
void vkg_gguf_close(vkg_gguf_file *f);

const char *vkg_gguf_label(const vkg_gguf_file *f);
uint32_t vkg_gguf_version(const vkg_gguf_file *f);
uint32_t vkg_gguf_alignment(const vkg_gguf_file *f);

/* Metadata in file order, and lookup by key (NULL when absent). */
size_t vkg_gguf_kv_count(const vkg_gguf_file *f);
const vkg_gguf_kv *vkg_gguf_kv_at(const vkg_gguf_file *f, size_t i);
const vkg_gguf_kv *vkg_gguf_find_kv(const vkg_gguf_file *f, const char *key);

/* Typed getters. Each fails with VKG_ERROR_GGUF_KEY_MISSING when `key` is absent and
 * VKG_ERROR_GGUF_KEY_TYPE when its value has another type or does not fit the result; messages name
 * the file and key, and the types. Integers: any integer type whose value fits (u8..u64, i8..i64);
 * floats: f32 or f64 (rounded to f32), or an integer; bool: bool only. */
vkg_status vkg_gguf_get_u32(const vkg_gguf_file *f, const char *key, uint32_t *out);
vkg_status vkg_gguf_get_i32(const vkg_gguf_file *f, const char *key, int32_t *out);
vkg_status vkg_gguf_get_u64(const vkg_gguf_file *f, const char *key, uint64_t *out);
vkg_status vkg_gguf_get_f32(const vkg_gguf_file *f, const char *key, float *out);
vkg_status vkg_gguf_get_bool(const vkg_gguf_file *f, const char *key, bool *out);
/* A string value (not NUL-terminated; see vkg_gguf_str). */
vkg_status vkg_gguf_get_str(const vkg_gguf_file *f, const char *key, vkg_gguf_str *out);
/* An array of strings: *items points at *n entries owned by the file. */
vkg_status vkg_gguf_get_str_array(const vkg_gguf_file *f, const char *key, const vkg_gguf_str **items,
                                  uint64_t *n);
/* The length of an array of numbers (integers or floats, not bools, strings or arrays). */
vkg_status vkg_gguf_get_array_len(const vkg_gguf_file *f, const char *key, uint64_t *n);
/* Copy an array of integers (any integer type) into dst[0..n) as int64; n must equal its length
 * (vkg_gguf_get_array_len). u64 values above INT64_MAX are a KEY_TYPE error. */
vkg_status vkg_gguf_get_int_array(const vkg_gguf_file *f, const char *key, int64_t *dst, uint64_t n);
/* Copy an array of floats (f32 or f64, rounded) or integers into dst[0..n) as float; n as above. */
vkg_status vkg_gguf_get_float_array(const vkg_gguf_file *f, const char *key, float *dst, uint64_t n);

/* Tensors in file order, and lookup by name (NULL when absent; O(log n)). */
size_t vkg_gguf_tensor_count(const vkg_gguf_file *f);
const vkg_gguf_tensor *vkg_gguf_tensor_at(const vkg_gguf_file *f, size_t i);
const vkg_gguf_tensor *vkg_gguf_find_tensor(const vkg_gguf_file *f, const char *name);

/* Name of a value type ("u32", "string", ...), "?" when unknown. */
const char *vkg_gguf_vtype_name(uint32_t t);

#endif /* VKG_MODEL_GGUF_H */
