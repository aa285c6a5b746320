/* tests/sparse_model.c — see sparse_model.h. */
#include "sparse_model.h"

#include "st_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

/* Append one F32 tensor entry of shape [d0] (d1 == 0) or [d0, d1] to header h at data offset *off. */
static void entry(char *h, size_t cap, size_t *n, uint64_t *off, const char *name, uint32_t d0, uint32_t d1) {
    uint64_t bytes = (uint64_t)d0 * (d1 ? d1 : 1) * 4;
    char shape[48];
    if (d1)
        snprintf(shape, sizeof shape, "%u,%u", d0, d1);
    else
        snprintf(shape, sizeof shape, "%u", d0);
    if (*n < cap)
        *n += (size_t)snprintf(h + *n, cap - *n, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%s],\"data_offsets\":[%llu,%llu]}",
                               *off ? "," : "{", name, shape, (unsigned long long)*off,
                               (unsigned long long)(*off + bytes));
    *off += bytes;
}

int sparse_model_write(const char *dir, uint32_t n_layer, uint32_t n_head, uint32_t d, uint32_t vocab,
                       uint32_t positions) {
    static const struct {
        const char *name;
        uint32_t d0, d1; /* in multiples of d */
    } per[] = {
        {"ln_1.weight", 1, 0}, {"ln_1.bias", 1, 0}, {"attn.c_attn.weight", 1, 3}, {"attn.c_attn.bias", 3, 0},
        {"attn.c_proj.weight", 1, 1}, {"attn.c_proj.bias", 1, 0}, {"ln_2.weight", 1, 0}, {"ln_2.bias", 1, 0},
        {"mlp.c_fc.weight", 1, 4}, {"mlp.c_fc.bias", 4, 0}, {"mlp.c_proj.weight", 4, 1}, {"mlp.c_proj.bias", 1, 0},
    };
    size_t cap = 4096 + (size_t)n_layer * 12 * 160, n = 0;
    char *h = malloc(cap);
    if (!h)
        return -1;
    uint64_t off = 0;
    entry(h, cap, &n, &off, "wte.weight", vocab, d);
    entry(h, cap, &n, &off, "wpe.weight", positions, d);
    entry(h, cap, &n, &off, "ln_f.weight", d, 0);
    entry(h, cap, &n, &off, "ln_f.bias", d, 0);
    for (uint32_t l = 0; l < n_layer; l++)
        for (size_t k = 0; k < sizeof per / sizeof per[0]; k++) {
            char name[96];
            snprintf(name, sizeof name, "h.%u.%s", l, per[k].name);
            entry(h, cap, &n, &off, name, per[k].d0 * d, per[k].d1 * d);
        }
    int rc = -1;
    if (n + 2 < cap) {
        n += (size_t)snprintf(h + n, cap - n, "}");
        const char *file = st_path(dir, "model.safetensors");
        if (st_write_raw(file, h, NULL, 0) == 0 && truncate(file, (off_t)(8 + n + off)) == 0 &&
            st_write_config(st_path(dir, "config.json"), n_layer, n_head, d, vocab, positions) == 0)
            rc = 0;
    }
    free(h);
    return rc;
}
