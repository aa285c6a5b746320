/* tests/gguf_writer.h — builds GGUF images in memory for the tests: metadata of every value type,
 * tensors with their data laid out at aligned offsets, and the byte positions of each field so that a
 * test can corrupt exactly one of them. Written from the GGUF specification (ggml docs/gguf.md), not
 * from the reader in src/model/gguf.c. Not a general-purpose writer: no error handling beyond
 * assert (a failure is a bug in the test). */
#ifndef VKG_TEST_GGUF_WRITER_H
#define VKG_TEST_GGUF_WRITER_H

#include <stddef.h>
#include <stdint.h>

enum { GW_MAX_ITEMS = 64 };

typedef struct gw_tensor_pos {
    size_t name, n_dims, dims, type, offset; /* byte positions of the fields in the image */
    size_t data;                             /* absolute position of the tensor's data */
} gw_tensor_pos;

typedef struct gguf_writer {
    uint8_t *kv;  /* serialized metadata entries */
    size_t kv_len, kv_cap;
    size_t kv_pos[GW_MAX_ITEMS]; /* start of each entry inside kv (relative) */
    uint32_t n_kv;
    struct {
        char name[96];
        uint32_t type, n_dims;
        uint64_t ne[4];
        const void *data;
        uint64_t nbytes;
    } t[GW_MAX_ITEMS];
    uint32_t n_t;
    uint32_t version, alignment;
    /* Filled by gw_finish: */
    size_t pos_version, pos_tensor_count, pos_kv_count, pos_kv[GW_MAX_ITEMS], pos_data;
    gw_tensor_pos pos_t[GW_MAX_ITEMS];
} gguf_writer;

/* A writer for `version`; `alignment` != 0 also writes general.alignment = alignment (u32) as the
 * first key; the layout uses it (32 when 0). */
void gw_init(gguf_writer *w, uint32_t version, uint32_t alignment);
void gw_free(gguf_writer *w);

void gw_kv_u32(gguf_writer *w, const char *key, uint32_t v);
void gw_kv_i32(gguf_writer *w, const char *key, int32_t v);
void gw_kv_u64(gguf_writer *w, const char *key, uint64_t v);
void gw_kv_f32(gguf_writer *w, const char *key, float v);
void gw_kv_bool(gguf_writer *w, const char *key, int v);
void gw_kv_str(gguf_writer *w, const char *key, const char *s);
/* An array of n elements of a fixed-size value type (u8 ... f64), elements given little-endian. */
void gw_kv_array(gguf_writer *w, const char *key, uint32_t elem_type, uint64_t n, const void *elems);
void gw_kv_str_array(gguf_writer *w, const char *key, uint64_t n, const char *const *strs);
/* Raw entry: key, then `type` and `len` bytes of value exactly as given (for malformed values). */
void gw_kv_raw(gguf_writer *w, const char *key, uint32_t type, const void *value, size_t len);

/* A tensor of ggml type `type` with dims ne[0..n_dims) (ggml order) and nbytes of data (copied at
 * finish; the pointer must stay valid until then). */
void gw_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims, const uint64_t *ne,
               const void *data, uint64_t nbytes);

/* The whole file (malloc'd; *size bytes): header, metadata, tensor infos, padding, data at
 * aligned offsets in the order added. Records the field positions. */
uint8_t *gw_finish(gguf_writer *w, size_t *size);

/* Little-endian stores into an image, for corrupting fields. */
void gw_put_u32(uint8_t *p, uint32_t v);
void gw_put_u64(uint8_t *p, uint64_t v);

#endif
