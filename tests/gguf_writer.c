/* tests/gguf_writer.c — see gguf_writer.h. */
#include "gguf_writer.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void gw_put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void gw_put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void kv_bytes(gguf_writer *w, const void *p, size_t n) {
    if (w->kv_len + n > w->kv_cap) {
        w->kv_cap = (w->kv_len + n) * 2 + 256;
        w->kv = realloc(w->kv, w->kv_cap);
        assert(w->kv);
    }
    memcpy(w->kv + w->kv_len, p, n);
    w->kv_len += n;
}

static void kv_u32(gguf_writer *w, uint32_t v) {
    uint8_t b[4];
    gw_put_u32(b, v);
    kv_bytes(w, b, 4);
}

static void kv_u64(gguf_writer *w, uint64_t v) {
    uint8_t b[8];
    gw_put_u64(b, v);
    kv_bytes(w, b, 8);
}

static void kv_string(gguf_writer *w, const char *s) {
    kv_u64(w, strlen(s));
    kv_bytes(w, s, strlen(s));
}

static void kv_begin(gguf_writer *w, const char *key, uint32_t type) {
    assert(w->n_kv < GW_MAX_ITEMS);
    w->kv_pos[w->n_kv++] = w->kv_len;
    kv_string(w, key);
    kv_u32(w, type);
}

void gw_init(gguf_writer *w, uint32_t version, uint32_t alignment) {
    memset(w, 0, sizeof *w);
    w->version = version;
    w->alignment = alignment ? alignment : 32;
    if (alignment)
        gw_kv_u32(w, "general.alignment", alignment);
}

void gw_free(gguf_writer *w) { free(w->kv); }

void gw_kv_u32(gguf_writer *w, const char *key, uint32_t v) {
    kv_begin(w, key, 4);
    kv_u32(w, v);
}

void gw_kv_i32(gguf_writer *w, const char *key, int32_t v) {
    kv_begin(w, key, 5);
    kv_u32(w, (uint32_t)v);
}

void gw_kv_u64(gguf_writer *w, const char *key, uint64_t v) {
    kv_begin(w, key, 10);
    kv_u64(w, v);
}

void gw_kv_f32(gguf_writer *w, const char *key, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    kv_begin(w, key, 6);
    kv_u32(w, u);
}

void gw_kv_bool(gguf_writer *w, const char *key, int v) {
    uint8_t b = (uint8_t)v;
    kv_begin(w, key, 7);
    kv_bytes(w, &b, 1);
}

void gw_kv_str(gguf_writer *w, const char *key, const char *s) {
    kv_begin(w, key, 8);
    kv_string(w, s);
}

static size_t value_size(uint32_t t) {
    static const size_t sizes[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    assert(t < 13 && sizes[t]);
    return sizes[t];
}

void gw_kv_array(gguf_writer *w, const char *key, uint32_t elem_type, uint64_t n, const void *elems) {
    kv_begin(w, key, 9);
    kv_u32(w, elem_type);
    kv_u64(w, n);
    kv_bytes(w, elems, (size_t)n * value_size(elem_type));
}

void gw_kv_str_array(gguf_writer *w, const char *key, uint64_t n, const char *const *strs) {
    kv_begin(w, key, 9);
    kv_u32(w, 8);
    kv_u64(w, n);
    for (uint64_t i = 0; i < n; i++)
        kv_string(w, strs[i]);
}

void gw_kv_raw(gguf_writer *w, const char *key, uint32_t type, const void *value, size_t len) {
    kv_begin(w, key, type);
    kv_bytes(w, value, len);
}

void gw_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims, const uint64_t *ne,
               const void *data, uint64_t nbytes) {
    assert(w->n_t < GW_MAX_ITEMS && n_dims <= 4 && strlen(name) < sizeof w->t[0].name);
    uint32_t i = w->n_t++;
    strcpy(w->t[i].name, name);
    w->t[i].type = type;
    w->t[i].n_dims = n_dims;
    for (uint32_t d = 0; d < n_dims; d++)
        w->t[i].ne[d] = ne[d];
    w->t[i].data = data;
    w->t[i].nbytes = nbytes;
}

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

uint8_t *gw_finish(gguf_writer *w, size_t *size) {
    /* Sizes first: header 24, metadata, infos, padding, data. */
    size_t infos = 0;
    for (uint32_t i = 0; i < w->n_t; i++)
        infos += 8 + strlen(w->t[i].name) + 4 + 8 * w->t[i].n_dims + 4 + 8;
    size_t header = 24 + w->kv_len + infos, data_start = align_up(header, w->alignment);
    uint64_t offsets[GW_MAX_ITEMS], data_len = 0;
    for (uint32_t i = 0; i < w->n_t; i++) {
        offsets[i] = data_len;
        data_len = align_up(data_len + w->t[i].nbytes, w->alignment);
    }
    size_t total = w->n_t ? data_start + (size_t)data_len : header;
    uint8_t *img = calloc(total ? total : 1, 1);
    assert(img);
    memcpy(img, "GGUF", 4);
    w->pos_version = 4;
    gw_put_u32(img + 4, w->version);
    w->pos_tensor_count = 8;
    gw_put_u64(img + 8, w->n_t);
    w->pos_kv_count = 16;
    gw_put_u64(img + 16, w->n_kv);
    if (w->kv_len)
        memcpy(img + 24, w->kv, w->kv_len);
    for (uint32_t i = 0; i < w->n_kv; i++)
        w->pos_kv[i] = 24 + w->kv_pos[i];
    size_t p = 24 + w->kv_len;
    for (uint32_t i = 0; i < w->n_t; i++) {
        gw_tensor_pos *tp = &w->pos_t[i];
        size_t len = strlen(w->t[i].name);
        tp->name = p;
        gw_put_u64(img + p, len);
        memcpy(img + p + 8, w->t[i].name, len);
        p += 8 + len;
        tp->n_dims = p;
        gw_put_u32(img + p, w->t[i].n_dims);
        p += 4;
        tp->dims = p;
        for (uint32_t d = 0; d < w->t[i].n_dims; d++, p += 8)
            gw_put_u64(img + p, w->t[i].ne[d]);
        tp->type = p;
        gw_put_u32(img + p, w->t[i].type);
        p += 4;
        tp->offset = p;
        gw_put_u64(img + p, offsets[i]);
        p += 8;
        tp->data = data_start + (size_t)offsets[i];
        if (w->t[i].nbytes)
            memcpy(img + tp->data, w->t[i].data, (size_t)w->t[i].nbytes);
    }
    assert(p == header);
    w->pos_data = data_start;
    *size = total;
    return img;
}
