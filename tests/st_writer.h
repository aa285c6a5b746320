/*
 * st_writer.h — test helper: write safetensors files, malformed ones, config.json and index files
 * into a temporary directory. Written independently of the loader (its own dtype names and sizes)
 * so that a loader bug cannot hide behind a matching writer bug. Test code only: it returns -1 on
 * any failure and leaves reporting to the test.
 */
#ifndef VKG_TESTS_ST_WRITER_H
#define VKG_TESTS_ST_WRITER_H

#include <stddef.h>
#include <stdint.h>

/* Element types the writer knows, spelled as in the safetensors header. */
typedef enum st_dtype { ST_F32, ST_F16, ST_BF16, ST_F64, ST_I64, ST_U8, ST_BOOL } st_dtype;

typedef struct st_entry {
    const char *name;
    st_dtype dtype;
    uint32_t ndim;
    uint64_t shape[8];
    const void *data; /* product(shape) elements; NULL writes zeros */
} st_entry;

/* Bytes per element and the header spelling of a dtype. */
size_t st_dtype_size(st_dtype dt);
const char *st_dtype_name(st_dtype dt);

/* Write a well-formed file: tensors laid out back to back in the given order, header padded with
 * spaces to a multiple of 8 bytes (as the format recommends). Returns 0 or -1. */
int st_write(const char *path, const st_entry *entries, size_t n);

/* Write 8-byte little-endian strlen(header), the header text verbatim, then `data`. */
int st_write_raw(const char *path, const char *header, const void *data, size_t data_len);

/* Write exactly `len` bytes. */
int st_write_bytes(const char *path, const void *bytes, size_t len);

/* Write a text file (config.json, index.json). */
int st_write_text(const char *path, const char *text);

/* Write a config.json for a GPT-2 of the given sizes (n_positions, layer_norm_epsilon 1e-5,
 * eos 0 so small vocabularies are valid). */
int st_write_config(const char *path, uint32_t n_layer, uint32_t n_head, uint32_t n_embd,
                    uint32_t vocab_size, uint32_t n_positions);

/* "<dir>/<name>" in a static rotating buffer (8 slots): fine for a few paths per call. */
const char *st_path(const char *dir, const char *name);

/* mkdtemp under $TMPDIR (or /tmp); returns a malloc'd path or NULL. */
char *st_tmpdir_create(void);

/* Remove a directory tree made by st_tmpdir_create and free the path. NULL is allowed. */
void st_tmpdir_remove(char *dir);

#endif /* VKG_TESTS_ST_WRITER_H */
