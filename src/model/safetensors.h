/*
 * safetensors.h — a checked, read-only view of one .safetensors file.
 *
 * Format: an 8-byte little-endian u64 N, then N bytes of JSON header (an object: tensor name ->
 * {"dtype", "shape", "data_offsets": [begin, end]}, plus an optional "__metadata__" object of
 * string -> string), then the data section; offsets are relative to the data section's start.
 *
 * vkg_st_open() maps the file (read-only, private) and vkg_st_parse() validates everything a bad or
 * hostile file could get wrong — sizes, JSON shape, dtypes, offset ranges, overlap, alignment,
 * 64-bit overflow, shape x element size against byte length — before any tensor is exposed, so a
 * caller may read every tensor's `nbytes` at `data` without further checks. This is not a writer
 * and knows nothing of GPT-2 (see gpt2_names.h).
 */
#ifndef VKG_MODEL_SAFETENSORS_H
#define VKG_MODEL_SAFETENSORS_H

#include "common.h"
#include "model/dtype.h"

#define VKG_ST_MAX_DIMS 8
/* A header larger than this is refused: real headers are tens of KB (a 70B model's is ~100 KB),
 * and the JSON parser would otherwise be asked to build a tree of any size. */
#define VKG_ST_MAX_HEADER_BYTES (100u * 1000u * 1000u)

typedef struct vkg_st_tensor {
    const char *name;              /* as in the header; owned by the file */
    const char *file;              /* label of the file holding it, for messages; owned by the file */
    vkg_dtype dtype;
    uint32_t ndim;                 /* 0 for a scalar */
    uint64_t shape[VKG_ST_MAX_DIMS];
    uint64_t nelem;                /* product of shape (1 for a scalar, 0 if a dimension is 0) */
    uint64_t nbytes;               /* nelem x element size == end - begin */
    uint64_t offset;               /* begin, relative to the data section */
    const void *data;              /* nbytes bytes; aligned only as far as the file's layout is */
} vkg_st_tensor;

typedef struct vkg_st_file vkg_st_file;

/* Map `path` and validate it. On success *out owns the mapping; release it with vkg_st_close().
 * Errors: VKG_ERROR_IO (open/stat/mmap, message names the path and errno text) or any
 * vkg_st_parse() error. */
vkg_status vkg_st_open(const char *path, vkg_st_file **out);

/* Validate `size` bytes of a safetensors image held by the caller (used by vkg_st_open and the fuzz
 * target). The tensors point into `bytes`, which must outlive the returned file. `label` (copied)
 * names the file in messages. Errors: VKG_ERROR_ST_* as documented in vkgpt.h; messages name the
 * label and, where one is at fault, the tensor. */
vkg_status vkg_st_parse(const uint8_t *bytes, size_t size, const char *label, vkg_st_file **out);

/* Release a file (and its mapping if vkg_st_open made it). NULL is allowed. */
void vkg_st_close(vkg_st_file *f);

/* The tensor called `name`, or NULL. O(log n). */
const vkg_st_tensor *vkg_st_find(const vkg_st_file *f, const char *name);

/* Tensors in header order: index 0 .. count-1. */
size_t vkg_st_count(const vkg_st_file *f);
const vkg_st_tensor *vkg_st_at(const vkg_st_file *f, size_t i);

/* The "__metadata__" value for `key`, or NULL. */
const char *vkg_st_metadata(const vkg_st_file *f, const char *key);

/* The label given at open/parse time. */
const char *vkg_st_label(const vkg_st_file *f);

/* VKG_ERROR_BAD_WEIGHTS naming the file, tensor, element index and value if `t` holds a NaN or
 * Inf; VKG_OK otherwise. */
vkg_status vkg_st_check_finite(const vkg_st_tensor *t);

/* Write "[768, 3072]" into buf (always NUL-terminated); returns buf. For messages. */
char *vkg_st_shape_str(const uint64_t *shape, uint32_t ndim, char *buf, size_t size);

#endif /* VKG_MODEL_SAFETENSORS_H */
