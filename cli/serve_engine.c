/*
 * cli/serve_engine.c — serve_engine.h on today's public API (include/vkgpt.h). The only serve file
 * that includes vkgpt.h; the lead adapts this file alone when the API changes.
 *
 * The decode step of all active slots is one vkg_batch_step (weights read once per step).
 */
#include "serve_engine.h"

#include "setup.h"

#include "vkgpt.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct serve_engine {
    vkg_context *ctx;
    vkg_model *model;
    vkg_batch *batch;  /* the batched decode step, made for all slots once they exist */
    uint32_t n_slots, ctx_size;
    vkg_tokenizer *tok;
    vkg_precision kv;
    vkg_template *tmpl;         /* the model's chat template, or --chat-template's; NULL: none */
    vkg_template_tokens special; /* special-token strings for a --chat-template (the tokenizer's) */
};

struct serve_eslot {
    vkg_session *session;
};

struct serve_esampler {
    vkg_sampler *sampler;
};

struct serve_edetok {
    vkg_detok *detok;
};

static _Thread_local char last_error[512];

const char *serve_engine_last_error(void) {
    return last_error;
}

/* Record a library failure for serve_engine_last_error; returns -1 (0 for VKG_OK). */
static int fail(const char *what, vkg_status s) {
    if (s == VKG_OK)
        return 0;
    const char *detail = vkg_last_error();
    snprintf(last_error, sizeof last_error, "%s: %s%s%s", what, vkg_status_str(s), *detail ? ": " : "", detail);
    return -1;
}

int serve_engine_open(const serve_engine_options *o, serve_engine **out) {
    *out = NULL;
    serve_engine *e = calloc(1, sizeof *e);
    if (!e)
        return fail("opening the engine", VKG_ERROR_OUT_OF_HOST_MEMORY);
    e->kv = o->kv_dtype ? VKG_PRECISION_F16 : VKG_PRECISION_F32;
    vkg_context_options co = vkg_context_default_options();
    co.device_index = o->device;
    vkg_status s = vkg_context_create(&co, &e->ctx);
    if (s != VKG_OK) {
        fail("opening the Vulkan device", s);
        goto error;
    }
    vkg_model_options mo = vkg_model_default_options();
    mo.weights = (vkg_precision)o->dtype;
    mo.quant = (vkg_quant)o->quant;
    e->ctx_size = o->ctx_size;
    s = o->model_path ? vkg_model_load(e->ctx, o->model_path, &mo, &e->model)
                      : vkg_model_synthetic(e->ctx, o->config, o->seed, &mo, &e->model);
    if (s != VKG_OK) {
        fail("loading the model", s);
        goto error;
    }
    /* The tokenizer: --tokenizer DIR, else the model's (a .safetensors file's directory, a .gguf file
     * itself). A model without tokenizer files still serves token-id prompts. */
    char dir[4096];
    const char *tok_dir = cli_tokenizer_dir(o->model_path, o->tokenizer_dir, dir, sizeof dir);
    if (tok_dir) {
        s = vkg_tokenizer_load(tok_dir, &e->tok);
        if (s != VKG_OK && (s != VKG_ERROR_IO || o->tokenizer_dir)) {
            fail("loading the tokenizer", s);
            goto error;
        }
    }
    /* The chat template: --chat-template's text (with the tokenizer's special tokens), else the
     * model's own; a model without one answers chat requests with 400. */
    if (o->chat_template) {
        s = vkg_template_compile(o->chat_template, strlen(o->chat_template), &e->tmpl);
        if (s != VKG_OK) {
            fail("compiling --chat-template", s);
            goto error;
        }
        if (e->tok)
            e->special = (vkg_template_tokens){vkg_tokenizer_role_text(e->tok, VKG_TOKEN_BOS),
                                               vkg_tokenizer_role_text(e->tok, VKG_TOKEN_EOS),
                                               vkg_tokenizer_role_text(e->tok, VKG_TOKEN_UNK),
                                               vkg_tokenizer_role_text(e->tok, VKG_TOKEN_PAD)};
    } else if (tok_dir && e->tok) {
        s = vkg_template_load(tok_dir, NULL, &e->tmpl);
        if (s != VKG_OK && s != VKG_ERROR_IO) {
            fail("loading the chat template", s);
            goto error;
        }
    }
    *out = e;
    return 0;
error:
    serve_engine_close(e);
    return -1;
}

void serve_engine_close(serve_engine *e) {
    if (!e)
        return;
    vkg_template_free(e->tmpl);
    vkg_tokenizer_free(e->tok);
    vkg_batch_free(e->batch);
    vkg_model_free(e->model);
    vkg_context_destroy(e->ctx);
    free(e);
}

void serve_engine_get_info(const serve_engine *e, serve_engine_info *info) {
    const vkg_model_config *c = vkg_model_get_config(e->model);
    info->n_positions = c->n_positions;
    info->vocab_size = c->vocab_size;
    info->eos = c->n_eos ? c->eos_token_ids[0] : -1;
    info->n_eos = c->n_eos < 8 ? c->n_eos : 8;
    for (uint32_t i = 0; i < info->n_eos; i++)
        info->eos_ids[i] = c->eos_token_ids[i];
    info->has_tokenizer = e->tok != NULL;
}

int serve_engine_tokenize(const serve_engine *e, const char *text, size_t len, bool add_special, int32_t **ids,
                          size_t *n) {
    if (!e->tok) {
        snprintf(last_error, sizeof last_error, "the model has no tokenizer files: send the prompt as token ids");
        return -1;
    }
    return fail("encoding the prompt", vkg_tokenizer_encode(e->tok, text, len, add_special, ids, n));
}

int serve_engine_token_text(const serve_engine *e, int32_t id, const char **bytes, size_t *len) {
    if (!e->tok) {
        *bytes = "";
        *len = 0;
        return 0;
    }
    return fail("token text", vkg_tokenizer_token_bytes(e->tok, id, bytes, len));
}

int serve_engine_render_chat(const serve_engine *e, const serve_message *msgs, size_t n, char **prompt,
                             size_t *len, serve_error *err) {
    *prompt = NULL;
    *len = 0;
    if (!e->tmpl)
        return serve_error_set(err, 400, "invalid_request_error", "no_chat_template", "messages",
                               "the model has no chat template: start the server with --chat-template FILE, "
                               "or use /v1/completions");
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, json_pack("{s:s, s:s}", "role", msgs[i].role, "content",
                                                 msgs[i].content ? msgs[i].content : "")) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (!text)
        return serve_error_set(err, 500, "server_error", "out_of_memory", "messages", "out of host memory");
    const vkg_template_tokens *special = e->special.bos_token || e->special.eos_token ? &e->special : NULL;
    vkg_status s = vkg_template_apply(e->tmpl, text, NULL, true, special, NULL, prompt, len);
    free(text);
    if (s == VKG_ERROR_TEMPLATE_RAISED) /* the template refused this conversation: the client's to fix */
        return serve_error_set(err, 400, "invalid_request_error", "template_error", "messages", "%s",
                               vkg_last_error());
    if (s != VKG_OK)
        return serve_error_set(err, 500, "server_error", "template_error", "messages", "rendering the chat template: "
                               "%s: %s", vkg_status_str(s), vkg_last_error());
    return 0;
}

int serve_engine_slot_create(serve_engine *e, serve_eslot **out) {
    *out = NULL;
    serve_eslot *s = calloc(1, sizeof *s);
    if (!s)
        return fail("creating a slot", VKG_ERROR_OUT_OF_HOST_MEMORY);
    vkg_session_options so = vkg_session_default_options();
    so.kv = e->kv;
    so.n_ctx = e->ctx_size;
    if (fail("creating a slot's session", vkg_session_create(e->model, &so, &s->session))) {
        free(s);
        return -1;
    }
    e->n_slots++;
    *out = s;
    return 0;
}

void serve_engine_slot_free(serve_eslot *s) {
    if (!s)
        return;
    vkg_session_free(s->session);
    free(s);
}

int serve_engine_slot_truncate(serve_eslot *s, uint32_t pos) {
    return fail("truncating a slot", vkg_session_truncate(s->session, pos));
}

int serve_engine_slot_prefill(serve_eslot *s, const int32_t *ids, uint32_t n) {
    return fail("prefill", vkg_session_prefill(s->session, ids, n, NULL));
}

void serve_engine_slot_want_logits(serve_eslot *s, bool want) {
    vkg_session_want_logits(s->session, want);
}

int serve_engine_slot_logits(serve_eslot *s, float *logits) {
    return fail("reading logits", vkg_session_logits(s->session, logits));
}

int32_t serve_engine_slot_argmax(serve_eslot *s) {
    return vkg_session_argmax(s->session);
}

int serve_engine_step(serve_engine *e, serve_eslot *const *slots, const int32_t *tokens, uint32_t n) {
    /* One step for every active slot: the matmuls run with one row per slot, so the weights are read
     * once per step (vkg_batch). The batch is made on the first step, for every slot there is. */
    if (!e->batch && fail("creating the batched step", vkg_batch_create(e->model, e->n_slots, &e->batch)))
        return -1;
    vkg_session *sessions[VKG_BATCH_MAX];
    if (n > VKG_BATCH_MAX)
        return fail("decode step", VKG_ERROR_INVALID_ARGUMENT);
    for (uint32_t i = 0; i < n; i++)
        sessions[i] = slots[i]->session;
    return fail("decode step", vkg_batch_step(e->batch, sessions, tokens, n));
}

int serve_engine_sampler_create(const serve_engine *e, const serve_sampling *p, serve_esampler **out) {
    *out = NULL;
    serve_esampler *s = calloc(1, sizeof *s);
    if (!s)
        return fail("creating a sampler", VKG_ERROR_OUT_OF_HOST_MEMORY);
    vkg_sampler_params sp = vkg_sampler_defaults();
    sp.temperature = p->temperature;
    sp.top_k = p->top_k;
    sp.top_p = p->top_p;
    sp.min_p = p->min_p;
    sp.repetition_penalty = p->repeat_penalty;
    sp.seed = p->seed;
    if (fail("creating a sampler", vkg_sampler_create(&sp, vkg_model_get_config(e->model)->vocab_size, &s->sampler))) {
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void serve_engine_sampler_free(serve_esampler *s) {
    if (!s)
        return;
    vkg_sampler_destroy(s->sampler);
    free(s);
}

int serve_engine_sample(serve_esampler *s, const float *logits, uint32_t n_vocab, const int32_t *history,
                        uint32_t n_history, int32_t *token) {
    return fail("sampling", vkg_sampler_sample(s->sampler, logits, n_vocab, history, n_history, token));
}

int serve_engine_detok_create(const serve_engine *e, serve_edetok **out) {
    *out = NULL;
    if (!e->tok) /* no tokenizer: a NULL decoder, whose pushes give no text */
        return 0;
    serve_edetok *d = calloc(1, sizeof *d);
    if (!d)
        return fail("creating a detokenizer", VKG_ERROR_OUT_OF_HOST_MEMORY);
    if (fail("creating a detokenizer", vkg_detok_create(e->tok, &d->detok))) {
        free(d);
        return -1;
    }
    *out = d;
    return 0;
}

void serve_engine_detok_free(serve_edetok *d) {
    if (!d)
        return;
    vkg_detok_destroy(d->detok);
    free(d);
}

int serve_engine_detok_push(serve_edetok *d, int32_t id, const char **text, size_t *len) {
    if (!d) {
        *text = "";
        *len = 0;
        return 0;
    }
    return fail("decoding a token", vkg_detok_push(d->detok, id, text, len));
}

int serve_engine_detok_flush(serve_edetok *d, const char **text, size_t *len) {
    if (!d) {
        *text = "";
        *len = 0;
        return 0;
    }
    return fail("decoding", vkg_detok_flush(d->detok, text, len));
}
