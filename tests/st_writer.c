/*
 * st_writer.c — see st_writer.h. Test code: simple, not fast.
 */
#define _XOPEN_SOURCE 700
#include "st_writer.h"

#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

size_t st_dtype_size(st_dtype dt) {
    static const size_t size[] = {[ST_F32] = 4, [ST_F16] = 2, [ST_BF16] = 2, [ST_F64] = 8,
                                  [ST_I64] = 8, [ST_U8] = 1,  [ST_BOOL] = 1};
    return size[dt];
}

const char *st_dtype_name(st_dtype dt) {
    static const char *const name[] = {[ST_F32] = "F32", [ST_F16] = "F16", [ST_BF16] = "BF16",
                                       [ST_F64] = "F64", [ST_I64] = "I64", [ST_U8] = "U8",
                                       [ST_BOOL] = "BOOL"};
    return name[dt];
}

static uint64_t entry_bytes(const st_entry *e) {
    uint64_t n = st_dtype_size(e->dtype);
    for (uint32_t i = 0; i < e->ndim; i++)
        n *= e->shape[i];
    return n;
}

static int write_all(FILE *fp, const void *p, size_t n) {
    return n == 0 || fwrite(p, 1, n, fp) == n ? 0 : -1;
}

static int write_len(FILE *fp, uint64_t len) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(len >> (8 * i));
    return write_all(fp, b, 8);
}

int st_write(const char *path, const st_entry *entries, size_t n) {
    size_t cap = 256 + n * 512, len = 0;
    char *hdr = malloc(cap);
    if (!hdr)
        return -1;
    uint64_t off = 0;
    len += (size_t)snprintf(hdr + len, cap - len, "{");
    for (size_t i = 0; i < n; i++) {
        const st_entry *e = &entries[i];
        len += (size_t)snprintf(hdr + len, cap - len, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                                i ? "," : "", e->name, st_dtype_name(e->dtype));
        for (uint32_t d = 0; d < e->ndim; d++)
            len += (size_t)snprintf(hdr + len, cap - len, "%s%" PRIu64, d ? "," : "", e->shape[d]);
        uint64_t nb = entry_bytes(e);
        len += (size_t)snprintf(hdr + len, cap - len,
                                "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off, off + nb);
        off += nb;
    }
    len += (size_t)snprintf(hdr + len, cap - len, "}");
    while (len % 8 != 0 && len + 1 < cap)
        hdr[len++] = ' ';
    hdr[len] = '\0';

    int rc = -1;
    FILE *fp = fopen(path, "wb");
    if (!fp)
        goto done;
    if (len >= cap - 1 || write_len(fp, len) || write_all(fp, hdr, len))
        goto done;
    for (size_t i = 0; i < n; i++) {
        uint64_t nb = entry_bytes(&entries[i]);
        if (entries[i].data) {
            if (write_all(fp, entries[i].data, (size_t)nb))
                goto done;
        } else {
            for (uint64_t b = 0; b < nb; b++)
                if (fputc(0, fp) == EOF)
                    goto done;
        }
    }
    rc = 0;
done:
    if (fp && fclose(fp) != 0)
        rc = -1;
    free(hdr);
    return rc;
}

int st_write_raw(const char *path, const char *header, const void *data, size_t data_len) {
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    size_t hl = strlen(header);
    int rc = write_len(fp, hl) || write_all(fp, header, hl) || write_all(fp, data, data_len);
    return fclose(fp) != 0 || rc ? -1 : 0;
}

int st_write_bytes(const char *path, const void *bytes, size_t len) {
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    int rc = write_all(fp, bytes, len);
    return fclose(fp) != 0 || rc ? -1 : 0;
}

int st_write_text(const char *path, const char *text) {
    return st_write_bytes(path, text, strlen(text));
}

int st_write_config(const char *path, uint32_t n_layer, uint32_t n_head, uint32_t n_embd,
                    uint32_t vocab_size, uint32_t n_positions) {
    char buf[512];
    snprintf(buf, sizeof buf,
             "{\n  \"model_type\": \"gpt2\",\n  \"activation_function\": \"gelu_new\",\n"
             "  \"n_layer\": %u,\n  \"n_head\": %u,\n  \"n_embd\": %u,\n  \"vocab_size\": %u,\n"
             "  \"n_positions\": %u,\n  \"n_ctx\": %u,\n  \"layer_norm_epsilon\": 1e-05,\n"
             "  \"bos_token_id\": 0,\n  \"eos_token_id\": 0\n}\n",
             n_layer, n_head, n_embd, vocab_size, n_positions, n_positions);
    return st_write_text(path, buf);
}

const char *st_path(const char *dir, const char *name) {
    static char buf[8][4096];
    static unsigned next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

char *st_tmpdir_create(void) {
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/vkgpt-test-XXXXXX", base && base[0] ? base : "/tmp");
    if (!mkdtemp(tmpl))
        return NULL;
    return strdup(tmpl);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void st_tmpdir_remove(char *dir) {
    if (!dir)
        return;
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}
