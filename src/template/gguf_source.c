/*
 * template/gguf_source.c — the chat template of a GGUF file: tokenizer.chat_template and the text
 * of the tokens the file names by id (tokenizer.ggml.bos_token_id, ...), which a template sees as
 * bos_token etc. Only the metadata is read; not here: compiling (api.c) or the tokenizer itself.
 */
#include "template/template.h"

#include "model/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool tmpl_is_gguf(const char *path) {
    struct stat sb;
    char magic[4] = {0};
    FILE *f = stat(path, &sb) == 0 && S_ISREG(sb.st_mode) ? fopen(path, "rb") : NULL;
    bool yes = f && fread(magic, 1, 4, f) == 4 && memcmp(magic, "GGUF", 4) == 0;
    if (f)
        fclose(f);
    return yes;
}

static char *dup_str(const char *p, uint64_t n) {
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

vkg_status tmpl_gguf_read(const char *path, char **source, char *tokens[4]) {
    *source = NULL;
    for (int r = 0; r < 4; r++)
        tokens[r] = NULL;
    vkg_gguf_file *f = NULL;
    VKG_TRY(vkg_gguf_open(path, VKG_GGUF_ANY_TYPE, &f));
    vkg_status s = VKG_OK;
    vkg_gguf_str text;
    if (vkg_gguf_find_kv(f, "tokenizer.chat_template")) {
        if ((s = vkg_gguf_get_str(f, "tokenizer.chat_template", &text)) != VKG_OK)
            goto done;
        if (memchr(text.ptr, 0, text.len)) {
            s = vkg_fail(VKG_ERROR_TEMPLATE, "%s: tokenizer.chat_template holds a NUL byte", path);
            goto done;
        }
        if (!(*source = dup_str(text.ptr, text.len)))
            goto oom;
    }
    static const char *const keys[4] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                        "tokenizer.ggml.unknown_token_id",
                                        "tokenizer.ggml.padding_token_id"};
    const vkg_gguf_str *vocab = NULL;
    uint64_t n_vocab = 0;
    if (vkg_gguf_find_kv(f, "tokenizer.ggml.tokens") &&
        (s = vkg_gguf_get_str_array(f, "tokenizer.ggml.tokens", &vocab, &n_vocab)) != VKG_OK)
        goto done;
    for (int r = 0; r < 4; r++) {
        uint32_t id;
        if (!vkg_gguf_find_kv(f, keys[r]))
            continue;
        if ((s = vkg_gguf_get_u32(f, keys[r], &id)) != VKG_OK)
            goto done;
        if (id >= n_vocab) {
            s = vkg_fail(VKG_ERROR_TEMPLATE, "%s: %s = %u is past the vocabulary (%llu tokens)", path,
                         keys[r], id, (unsigned long long)n_vocab);
            goto done;
        }
        if (!(tokens[r] = dup_str(vocab[id].ptr, vocab[id].len)))
            goto oom;
    }
    goto done;
oom:
    s = vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of memory reading %s", path);
done:
    if (s != VKG_OK) {
        free(*source);
        *source = NULL;
        for (int r = 0; r < 4; r++) {
            free(tokens[r]);
            tokens[r] = NULL;
        }
    }
    vkg_gguf_close(f);
    return s;
}
