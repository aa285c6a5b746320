/*
 * api.c — the public chat-template calls (include/vkgpt.h): compile (normalise the source as
 * Jinja does, lex, parse), load a model directory's template and special tokens, and apply
 * (build the variables transformers passes, render). Not here: the language itself (lexer.c,
 * parser.c, eval.c).
 */
#include "template/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vkg_template {
    tmpl_arena arena; /* the normalised source, tokens and AST */
    tmpl_node *root;
    vkg_template_tokens special;
    char *tokens_storage[4];
};

/* Template files larger than this are refused (real ones are under 100 KB). */
#define MAX_TEMPLATE_BYTES (16u << 20)
#define MAX_CONFIG_BYTES (64u << 20)

vkg_status vkg_template_compile(const char *source, size_t len, vkg_template **out) {
    if (!out || (!source && len))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_template_compile: NULL argument");
    *out = NULL;
    if (len > MAX_TEMPLATE_BYTES)
        return vkg_fail(VKG_ERROR_TEMPLATE, "template of %zu bytes is larger than the %u MiB allowed", len,
                        MAX_TEMPLATE_BYTES >> 20);
    vkg_template *t = calloc(1, sizeof *t);
    if (!t)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of memory compiling a template");
    t->arena.limit = 64u * MAX_TEMPLATE_BYTES;
    /* Jinja's lexer turns \r\n and \r into \n and drops one final newline (keep_trailing_newline
     * is off in transformers). */
    char *src = tmpl_arena_alloc(&t->arena, len + 1);
    vkg_status s = VKG_OK;
    if (!src) {
        s = vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of memory compiling a template");
        goto fail;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (source[i] == '\r') {
            src[n++] = '\n';
            if (i + 1 < len && source[i + 1] == '\n')
                i++;
        } else {
            src[n++] = source[i];
        }
    }
    if (n && src[n - 1] == '\n')
        n--;
    tmpl_token *toks;
    size_t n_toks;
    if ((s = tmpl_lex(&t->arena, src, n, &toks, &n_toks)) != VKG_OK)
        goto fail;
    if ((s = tmpl_parse(&t->arena, toks, n_toks, &t->root)) != VKG_OK)
        goto fail;
    if ((s = tmpl_analyze(&t->arena, t->root)) != VKG_OK)
        goto fail;
    *out = t;
    return VKG_OK;
fail:
    vkg_template_free(t);
    return s;
}

void vkg_template_free(vkg_template *t) {
    if (!t)
        return;
    tmpl_arena_free(&t->arena);
    for (int k = 0; k < 4; k++)
        free(t->tokens_storage[k]);
    free(t);
}

const vkg_template_tokens *vkg_template_special_tokens(const vkg_template *t) { return t ? &t->special : NULL; }

static bool exists(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

/* A special token of tokenizer_config.json: a string, or an AddedToken object's content. */
static const char *token_text(json_t *cfg, const char *key) {
    json_t *v = json_object_get(cfg, key);
    if (json_is_object(v))
        v = json_object_get(v, "content");
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The template in tokenizer_config.json: a string, or the "default" of a list of named ones.
 * NULL when there is none; *bad set when the field is malformed. */
static const char *config_template(json_t *cfg, bool *bad) {
    json_t *ct = json_object_get(cfg, "chat_template");
    *bad = false;
    if (!ct || json_is_null(ct))
        return NULL;
    if (json_is_string(ct))
        return json_string_value(ct);
    if (json_is_array(ct)) {
        size_t i;
        json_t *e;
        json_array_foreach(ct, i, e) {
            const char *name = json_string_value(json_object_get(e, "name"));
            json_t *tmpl = json_object_get(e, "template");
            if (name && !strcmp(name, "default") && json_is_string(tmpl))
                return json_string_value(tmpl);
        }
    }
    *bad = true;
    return NULL;
}

/* vkg_template_load for a GGUF file: its tokenizer.chat_template (or template_file) and the
 * special tokens its ids name. */
static vkg_status load_gguf(const char *path, const char *template_file, vkg_template **out) {
    char *source = NULL, *tokens[4], *file_buf = NULL;
    size_t len = 0;
    vkg_status s = tmpl_gguf_read(path, &source, tokens);
    if (s != VKG_OK)
        return s;
    if (template_file) {
        free(source);
        source = NULL;
        if ((s = vkg_read_file(template_file, MAX_TEMPLATE_BYTES, VKG_ERROR_TEMPLATE, &file_buf, &len)) != VKG_OK)
            goto done;
    } else if (!source) {
        s = vkg_fail(VKG_ERROR_IO, "%s: no chat template (the file has no tokenizer.chat_template); give one with "
                     "--chat-template", path);
        goto done;
    }
    vkg_template *t = NULL;
    if ((s = vkg_template_compile(file_buf ? file_buf : source, file_buf ? len : strlen(source), &t)) != VKG_OK) {
        vkg_fail_context(s, "%s", template_file ? template_file : path);
        goto done;
    }
    const char **slots[4] = {&t->special.bos_token, &t->special.eos_token, &t->special.unk_token,
                             &t->special.pad_token};
    for (int k = 0; k < 4; k++) {
        t->tokens_storage[k] = tokens[k];
        *slots[k] = tokens[k];
        tokens[k] = NULL;
    }
    *out = t;
done:
    for (int k = 0; k < 4; k++)
        free(tokens[k]);
    free(source);
    free(file_buf);
    return s;
}

vkg_status vkg_template_load(const char *model_dir, const char *template_file, vkg_template **out) {
    if (!out || (!model_dir && !template_file))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_template_load: give a model directory or a template file");
    *out = NULL;
    if (model_dir && tmpl_is_gguf(model_dir))
        return load_gguf(model_dir, template_file, out);
    char path[4096];
    json_t *cfg = NULL;
    char *text = NULL, *file_buf = NULL;
    size_t len = 0;
    vkg_status s = VKG_OK;
    const char *source = NULL;
    if (model_dir) {
        snprintf(path, sizeof path, "%s/tokenizer_config.json", model_dir);
        if (exists(path)) {
            if ((s = vkg_read_file(path, MAX_CONFIG_BYTES, VKG_ERROR_TEMPLATE, &text, &len)) != VKG_OK)
                goto done;
            json_error_t err;
            /* Integers as reals: model_max_length is often 1e30 written out, past int64. */
            cfg = json_loadb(text, len, JSON_DECODE_INT_AS_REAL, &err);
            if (!json_is_object(cfg)) {
                s = vkg_fail(VKG_ERROR_TEMPLATE, "%s: not a JSON object (line %d: %s)", path, err.line, err.text);
                goto done;
            }
            bool bad;
            source = config_template(cfg, &bad);
            if (bad && !template_file) {
                s = vkg_fail(VKG_ERROR_TEMPLATE,
                             "%s: chat_template is neither a string nor a list with a \"default\" entry", path);
                goto done;
            }
        }
    }
    if (template_file) {
        if ((s = vkg_read_file(template_file, MAX_TEMPLATE_BYTES, VKG_ERROR_TEMPLATE, &file_buf, &len)) != VKG_OK)
            goto done;
        source = file_buf;
    } else if (!source) {
        snprintf(path, sizeof path, "%s/chat_template.jinja", model_dir);
        if (exists(path)) {
            if ((s = vkg_read_file(path, MAX_TEMPLATE_BYTES, VKG_ERROR_TEMPLATE, &file_buf, &len)) != VKG_OK)
                goto done;
            source = file_buf;
        } else {
            snprintf(path, sizeof path, "%s/chat_template.json", model_dir);
            if (!exists(path)) {
                s = vkg_fail(VKG_ERROR_IO,
                             "%s: no chat template (looked for tokenizer_config.json's chat_template, "
                             "chat_template.jinja and chat_template.json); give one with --chat-template",
                             model_dir);
                goto done;
            }
            char *jt = NULL;
            size_t jl;
            if ((s = vkg_read_file(path, MAX_CONFIG_BYTES, VKG_ERROR_TEMPLATE, &jt, &jl)) != VKG_OK)
                goto done;
            json_t *j = json_loadb(jt, jl, JSON_DECODE_INT_AS_REAL, NULL);
            free(jt);
            json_t *ct = json_object_get(j, "chat_template");
            if (!json_is_string(ct)) {
                json_decref(j);
                s = vkg_fail(VKG_ERROR_TEMPLATE, "%s: no \"chat_template\" string", path);
                goto done;
            }
            file_buf = strdup(json_string_value(ct));
            len = file_buf ? strlen(file_buf) : 0;
            json_decref(j);
            if (!file_buf) {
                s = vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of memory loading %s", path);
                goto done;
            }
            source = file_buf;
        }
    }
    if (!file_buf)
        len = strlen(source);
    vkg_template *t = NULL;
    if ((s = vkg_template_compile(source, file_buf ? len : strlen(source), &t)) != VKG_OK) {
        vkg_fail_context(s, "%s", template_file ? template_file : model_dir);
        goto done;
    }
    if (cfg) {
        static const char *const keys[4] = {"bos_token", "eos_token", "unk_token", "pad_token"};
        const char **slots[4] = {&t->special.bos_token, &t->special.eos_token, &t->special.unk_token,
                                 &t->special.pad_token};
        for (int k = 0; k < 4; k++) {
            const char *v = token_text(cfg, keys[k]);
            if (v && !(t->tokens_storage[k] = strdup(v))) {
                vkg_template_free(t);
                s = vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of memory loading the special tokens");
                goto done;
            }
            *slots[k] = t->tokens_storage[k];
        }
    }
    *out = t;
done:
    json_decref(cfg);
    free(text);
    free(file_buf);
    return s;
}

static vkg_status parse_json(const char *what, const char *text, json_t **out) {
    json_error_t err;
    /* JSON_DECODE_ANY: any value; JSON_ALLOW_NUL: strings may hold NUL, lengths are kept. */
    *out = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!*out)
        return vkg_fail(VKG_ERROR_TEMPLATE, "%s: malformed JSON at line %d, column %d: %s", what, err.line,
                        err.column, err.text);
    return VKG_OK;
}

vkg_status tmpl_apply_limited(const vkg_template *t, const char *messages_json, const char *tools_json,
                              bool add_generation_prompt, const vkg_template_tokens *special,
                              const char *extra_json, const tmpl_limits *limits, char **out, size_t *out_len) {
    if (!t || !messages_json || !out || !out_len)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_template_apply: NULL argument");
    *out = NULL;
    *out_len = 0;
    json_t *vars = json_object(), *messages = NULL, *tools = NULL, *extra = NULL;
    vkg_status s;
    if (!vars)
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of memory rendering a template");
    if ((s = parse_json("messages", messages_json, &messages)) != VKG_OK)
        goto done;
    if (tools_json && (s = parse_json("tools", tools_json, &tools)) != VKG_OK)
        goto done;
    if (extra_json && (s = parse_json("extra variables", extra_json, &extra)) != VKG_OK)
        goto done;
    if (extra && !json_is_object(extra)) {
        s = vkg_fail(VKG_ERROR_TEMPLATE, "extra variables: not a JSON object");
        goto done;
    }
    /* transformers passes the extra kwargs first, then its own variables override them. */
    if (extra)
        json_object_update(vars, extra);
    json_object_set(vars, "messages", messages);
    json_object_set_new(vars, "tools", tools ? json_incref(tools) : json_null());
    json_object_set_new(vars, "documents", json_null());
    json_object_set_new(vars, "add_generation_prompt", json_boolean(add_generation_prompt));
    if (!special)
        special = &t->special;
    const char *names[4] = {"bos_token", "eos_token", "unk_token", "pad_token"};
    const char *vals[4] = {special->bos_token, special->eos_token, special->unk_token, special->pad_token};
    for (int k = 0; k < 4; k++)
        if (vals[k])
            json_object_set_new(vars, names[k], json_string(vals[k]));
    s = tmpl_render(t->root, limits, vars, out, out_len);
done:
    json_decref(vars);
    json_decref(messages);
    json_decref(tools);
    json_decref(extra);
    return s;
}

vkg_status vkg_template_apply(const vkg_template *t, const char *messages_json, const char *tools_json,
                              bool add_generation_prompt, const vkg_template_tokens *special,
                              const char *extra_json, char **out, size_t *out_len) {
    return tmpl_apply_limited(t, messages_json, tools_json, add_generation_prompt, special, extra_json, NULL,
                              out, out_len);
}

vkg_status vkg_template_render(const char *tmpl, size_t tmpl_len, const char *messages_json,
                               const char *tools_json, bool add_generation_prompt,
                               const vkg_template_tokens *special, char **out, size_t *out_len) {
    vkg_template *t = NULL;
    VKG_TRY(vkg_template_compile(tmpl, tmpl_len, &t));
    vkg_status s = vkg_template_apply(t, messages_json, tools_json, add_generation_prompt, special, NULL, out,
                                      out_len);
    vkg_template_free(t);
    return s;
}
