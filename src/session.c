/*
 * session.c — a model plus its own KV cache: prefill, the recorded decode step replayed for every
 * token, and the uncached baseline. Implements the vkg_session_* part of the public API.
 *
 * The KV cache is per layer a K and a V device buffer [H, n_positions, hd], allocated once here and
 * written in place by every step (kv_store at step_pos); it never leaves the device. The decode step
 * is recorded once (per logits mode) and replayed: what changes per token — its id and position — is
 * written by the host into a small mapped buffer that the recording copies to the device first. A
 * step is then one queue submission, and no host memory is allocated per token.
 *
 * Without the cache (no_kv_cache), every step re-runs the whole sequence from position 0, with the
 * cache buffers as scratch: the "no KV" baseline that the identity tests and benchmarks compare with.
 */
#include "session_internal.h"

#include "kernels/attention.h"
#include "kernels/quantize_act.h"
#include "kernels/rowwise.h"

#include <stdlib.h>
#include <string.h>

enum {
    MAX_ROWS = 512,
    DEFAULT_CTX_MAX = 4096, /* a session's default context when the model allows more */
};

vkg_session_options vkg_session_default_options(void) {
    return (vkg_session_options){.kv = VKG_PRECISION_F32, .n_ctx = 0, .no_kv_cache = false};
}

static vkg_status make(vkg_context *ctx, uint64_t bytes, vkg_memory_kind kind, const char *name, vkg_buffer **out) {
    return vkg_buffer_create(ctx, bytes, kind, name, out);
}

/* The cache capacity a session asks for: opts->n_ctx, or the model's context capped at 4096. */
static vkg_status choose_ctx(const vkg_model_config *c, uint32_t asked, uint32_t *out) {
    if (asked > c->n_positions)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "a context of %u positions is more than the model's %u", asked,
                        c->n_positions);
    *out = asked ? asked : vkg_min_u32(c->n_positions, DEFAULT_CTX_MAX);
    return VKG_OK;
}

static vkg_status alloc_buffers(vkg_session *s) {
    vkg_context *ctx = s->m->ctx;
    const vkg_model_config *c = &s->m->cfg;
    const vkg_device_info *info = vkg_context_device(ctx);
    uint64_t d = c->d_model, V = c->vocab_size, f = sizeof(float), hd = c->head_dim;
    uint64_t H = c->n_head, KVH = c->n_kv_head, ff = c->d_ff;
    uint64_t wq = (H + 2 * KVH) * hd, att_w = H * hd > d ? H * hd : d, up_w = c->gated_mlp ? 2 * ff : ff;
    vkg_activations *a = &s->a;
    uint32_t P = s->kv.n_ctx;
    a->max_rows = vkg_min_u32(MAX_ROWS, P);
    uint64_t fit = info->max_storage_buffer_range / (V * f);
    a->logit_rows = (uint32_t)(fit < a->max_rows ? fit : a->max_rows);
    if (a->logit_rows == 0)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "a row of %llu logits exceeds the storage-buffer range of %s",
                        (unsigned long long)V, info->name);
    uint64_t R = a->max_rows;
    uint64_t step_bytes = (4 + R) * sizeof(uint32_t);
    uint64_t rope_bytes = c->pos == VKG_POS_ROPE ? (uint64_t)P * hd * f : 16;
    s->kv.storage = s->opts.kv == VKG_PRECISION_F16 ? VKG_STORAGE_F16 : VKG_STORAGE_F32;
    uint64_t cache_bytes = KVH * P * hd * vkg_storage_bytes(s->kv.storage);
    vkg_attn_shape shape = vkg_graph_attn_shape(s->m, &s->kv, 0, 1);
    uint64_t scratch = vkg_attention_decode_scratch_bytes(&s->m->kernels, &shape);
    /* Refuse a session that cannot fit before allocating any of it: a driver that commits memory
     * lazily (lavapipe) would otherwise hand out every per-layer buffer and fail only when the cache
     * is written, long after the user asked. */
    uint64_t kv_total = 2 * (uint64_t)c->n_layer * cache_bytes;
    uint64_t xq_bytes = s->m->int_dot ? vkg_quantize_act_bytes((uint32_t)R, (uint32_t)vkg_graph_widest_input(c)) : 0;
    uint64_t act = R * f * (2 * d + wq + att_w + up_w + (c->gated_mlp ? ff : 0)) + (uint64_t)a->logit_rows * V * f +
                   rope_bytes + scratch + V * f + xq_bytes;
    uint64_t need = kv_total + act, heap = 0;
    for (uint32_t i = 0; i < info->n_heaps; i++)
        if (info->heaps[i].device_local && info->heaps[i].size > heap)
            heap = info->heaps[i].size;
    uint64_t used = vkg_context_device_bytes(ctx), avail = heap > used ? heap - used : 0;
    if (need > avail)
        return vkg_fail(VKG_ERROR_OUT_OF_DEVICE_MEMORY, "a session needs %.1f MiB of device memory (KV cache "
                        "%.1f MiB for %u positions x %u layers, activations %.1f MiB) but %s has %.1f MiB left of "
                        "its %.1f MiB heap: ask for a smaller context (--ctx-size)", need / 1048576.0,
                        kv_total / 1048576.0, P, c->n_layer, act / 1048576.0, info->name, avail / 1048576.0,
                        heap / 1048576.0);
    if (cache_bytes > info->max_storage_buffer_range)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "one layer's K cache (%.1f MiB for %u positions) exceeds the "
                        "storage-buffer range of %s (%.1f MiB): ask for a smaller context (--ctx-size)",
                        cache_bytes / 1048576.0, P, info->name, info->max_storage_buffer_range / 1048576.0);
    s->kv_bytes = kv_total;
    VKG_TRY(make(ctx, step_bytes, VKG_MEMORY_HOST, "step (host)", &a->step_host));
    VKG_TRY(make(ctx, step_bytes, VKG_MEMORY_DEVICE, "step", &a->step));
    VKG_TRY(make(ctx, R * d * f, VKG_MEMORY_DEVICE, "x", &a->x));
    VKG_TRY(make(ctx, R * d * f, VKG_MEMORY_DEVICE, "h", &a->h));
    VKG_TRY(make(ctx, R * wq * f, VKG_MEMORY_DEVICE, "qkv", &a->qkv));
    VKG_TRY(make(ctx, R * att_w * f, VKG_MEMORY_DEVICE, "att", &a->att));
    VKG_TRY(make(ctx, R * up_w * f, VKG_MEMORY_DEVICE, "mlp", &a->f));
    if (c->gated_mlp)
        VKG_TRY(make(ctx, R * ff * f, VKG_MEMORY_DEVICE, "swiglu", &a->g));
    VKG_TRY(make(ctx, rope_bytes, VKG_MEMORY_DEVICE, "rope table", &a->rope));
    if (c->pos == VKG_POS_ROPE) {
        float *table = malloc(rope_bytes);
        if (!table)
            return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory for the RoPE table");
        vkg_rope_table(c, P, table);
        vkg_status st = vkg_buffer_upload(a->rope, 0, table, rope_bytes);
        free(table);
        VKG_TRY(st);
    }
    VKG_TRY(make(ctx, scratch ? scratch : 16, VKG_MEMORY_DEVICE, "attention scratch", &a->attn_scratch));
    if (xq_bytes)
        VKG_TRY(make(ctx, xq_bytes, VKG_MEMORY_DEVICE, "quantized activations", &a->xq));
    VKG_TRY(make(ctx, a->logit_rows * V * f, VKG_MEMORY_DEVICE, "logits", &a->logits));
    VKG_TRY(make(ctx, 16, VKG_MEMORY_DEVICE, "argmax", &a->argmax));
    uint64_t am = vkg_argmax_scratch_bytes((uint32_t)V);
    VKG_TRY(make(ctx, am ? am : 16, VKG_MEMORY_DEVICE, "argmax scratch", &a->argmax_scratch));
    VKG_TRY(make(ctx, 16 + V * f, VKG_MEMORY_READBACK, "out", &a->out));

    s->kv.k = vkg_calloc(c->n_layer, sizeof *s->kv.k);
    s->kv.v = vkg_calloc(c->n_layer, sizeof *s->kv.v);
    if (!s->kv.k || !s->kv.v)
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    for (uint32_t l = 0; l < c->n_layer; l++) {
        VKG_TRY(make(ctx, cache_bytes, VKG_MEMORY_DEVICE, "K cache", &s->kv.k[l]));
        VKG_TRY(make(ctx, cache_bytes, VKG_MEMORY_DEVICE, "V cache", &s->kv.v[l]));
    }
    VKG_TRY(vkg_cmd_create(ctx, "prefill", &s->prefill_cmd));
    VKG_TRY(vkg_cmd_create(ctx, "decode step", &s->decode_cmd[0]));
    VKG_TRY(vkg_cmd_create(ctx, "decode step with logits", &s->decode_cmd[1]));
    s->history = vkg_calloc(P, sizeof *s->history);
    return s->history ? VKG_OK : VKG_ERROR_OUT_OF_HOST_MEMORY;
}

vkg_status vkg_session_create(vkg_model *m, const vkg_session_options *opts, vkg_session **out) {
    if (!m || !out)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_session_create: NULL argument");
    *out = NULL;
    vkg_session_options o = opts ? *opts : vkg_session_default_options();
    const vkg_device_info *info = vkg_context_device(m->ctx);
    if (o.kv == VKG_PRECISION_F16 && !info->storage_16bit)
        return vkg_fail(VKG_ERROR_FEATURE_MISSING, "an fp16 KV cache needs 16-bit storage, which %s lacks (or "
                        "VKG_DISABLE_FP16 is set)", info->name);
    vkg_session *s = vkg_calloc(1, sizeof *s);
    if (!s)
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    s->m = m;
    s->opts = o;
    vkg_status st = choose_ctx(&m->cfg, o.n_ctx, &s->kv.n_ctx);
    if (st == VKG_OK)
        st = alloc_buffers(s);
    if (st != VKG_OK) {
        vkg_session_free(s);
        return vkg_fail_context(st, "creating a session");
    }
    *out = s;
    return VKG_OK;
}

void vkg_session_free(vkg_session *s) {
    if (!s)
        return;
    vkg_cmd_destroy(s->prefill_cmd);
    vkg_cmd_destroy(s->decode_cmd[0]);
    vkg_cmd_destroy(s->decode_cmd[1]);
    vkg_activations *a = &s->a;
    vkg_buffer *bufs[] = {a->step_host, a->step, a->x, a->h, a->qkv, a->att, a->f, a->g, a->rope, a->attn_scratch,
                          a->xq, a->logits, a->argmax, a->argmax_scratch, a->out};
    for (size_t i = 0; i < VKG_ARRAY_LEN(bufs); i++)
        vkg_buffer_destroy(bufs[i]);
    for (uint32_t l = 0; l < s->m->cfg.n_layer; l++) {
        if (s->kv.k)
            vkg_buffer_destroy(s->kv.k[l]);
        if (s->kv.v)
            vkg_buffer_destroy(s->kv.v[l]);
    }
    free(s->kv.k);
    free(s->kv.v);
    free(s->history);
    free(s);
}

void vkg_session_reset(vkg_session *s) {
    s->pos = 0;
    s->logits_ready = false;
}

uint32_t vkg_session_pos(const vkg_session *s) { return s->pos; }

vkg_status vkg_session_truncate(vkg_session *s, uint32_t pos) {
    if (pos > s->pos)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "truncate to position %u: the session holds only %u tokens",
                        pos, s->pos);
    /* Later positions of the cache are simply overwritten by the tokens that come next. */
    s->pos = pos;
    s->logits_ready = false;
    return VKG_OK;
}
int32_t vkg_session_argmax(const vkg_session *s) { return s->next; }
void vkg_session_want_logits(vkg_session *s, bool want) { s->want_logits = want; }

vkg_status vkg_session_check_tokens(const vkg_session *s, const int32_t *tokens, uint32_t n) {
    const vkg_model_config *c = &s->m->cfg;
    if (s->pos + (uint64_t)n > s->kv.n_ctx)
        return vkg_fail(VKG_ERROR_CONTEXT_FULL, "the context of %u positions is full: %u tokens are in it and "
                        "%u more were given", s->kv.n_ctx, s->pos, n);
    for (uint32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= c->vocab_size)
            return vkg_fail(VKG_ERROR_TOKEN_RANGE, "token id %d at position %u is outside the vocabulary "
                            "(0..%u)", tokens[i], s->pos + i, c->vocab_size - 1);
    return VKG_OK;
}

void vkg_session_write_step(vkg_session *s, uint32_t pos, const int32_t *tokens, uint32_t n) {
    uint32_t *step = vkg_buffer_map(s->a.step_host);
    step[0] = pos;
    memcpy(step + 4, tokens, n * sizeof *tokens);
}

int32_t vkg_session_read_next(const vkg_session *s) {
    uint32_t t;
    memcpy(&t, vkg_buffer_map(s->a.out), sizeof t);
    return (int32_t)t;
}

static int32_t host_argmax(const float *x, uint32_t n) {
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return (int32_t)best;
}

/* Run tokens history[from .. from+n) through the model at positions from.. in passes of at most
 * max_rows rows (each pass attends to the cache the previous ones filled). */
static vkg_status forward(vkg_session *s, uint32_t from, uint32_t n, float *all_logits) {
    const vkg_model_config *c = &s->m->cfg;
    uint32_t chunk = all_logits ? s->a.logit_rows : s->a.max_rows;
    for (uint32_t done = 0; done < n;) {
        uint32_t T = vkg_min_u32(chunk, n - done);
        vkg_session_write_step(s, from + done, s->history + from + done, T);
        vkg_cmd *cmd = s->prefill_cmd;
        vkg_logits_out mode = all_logits ? VKG_LOGITS_ALL : VKG_LOGITS_LAST;
        VKG_TRY(vkg_cmd_begin(cmd));
        VKG_TRY(vkg_graph_record(s->m, cmd, &s->a, &s->kv, T, false, mode));
        VKG_TRY(vkg_cmd_end(cmd));
        VKG_TRY(vkg_cmd_run(cmd));
        if (all_logits) {
            float *dst = all_logits + (uint64_t)done * c->vocab_size;
            VKG_TRY(vkg_buffer_download(s->a.logits, 0, dst, (uint64_t)T * c->vocab_size * sizeof(float)));
            s->next = host_argmax(dst + (uint64_t)(T - 1) * c->vocab_size, c->vocab_size);
        } else {
            s->next = vkg_session_read_next(s);
        }
        done += T;
    }
    s->logits_ready = !all_logits;
    return VKG_OK;
}

vkg_status vkg_session_prefill(vkg_session *s, const int32_t *tokens, uint32_t n, float *all_logits) {
    if (!s || (!tokens && n))
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_session_prefill: NULL argument");
    if (n == 0)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "prefill of an empty prompt: give at least one token");
    VKG_TRY(vkg_session_check_tokens(s, tokens, n));
    memcpy(s->history + s->pos, tokens, n * sizeof *tokens);
    uint32_t from = s->opts.no_kv_cache ? 0 : s->pos;
    uint32_t count = s->opts.no_kv_cache ? s->pos + n : n;
    float *rows = all_logits;
    float *scratch = NULL;
    if (all_logits && s->opts.no_kv_cache && s->pos) {
        /* The recomputation yields logits for the whole history; the caller wants the last n rows. */
        scratch = malloc((uint64_t)count * s->m->cfg.vocab_size * sizeof(float));
        if (!scratch)
            return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory for %u rows of logits", count);
        rows = scratch;
    }
    vkg_status st = forward(s, from, count, rows);
    if (st == VKG_OK && scratch)
        memcpy(all_logits, scratch + (uint64_t)s->pos * s->m->cfg.vocab_size,
               (uint64_t)n * s->m->cfg.vocab_size * sizeof(float));
    free(scratch);
    if (st != VKG_OK)
        return st;
    s->pos += n;
    return VKG_OK;
}

vkg_status vkg_session_step(vkg_session *s, int32_t token) {
    if (!s)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_session_step: NULL session");
    VKG_TRY(vkg_session_check_tokens(s, &token, 1));
    s->history[s->pos] = token;
    if (s->opts.no_kv_cache) {
        VKG_TRY(forward(s, 0, s->pos + 1, NULL));
        s->pos++;
        return VKG_OK;
    }
    int mode = s->want_logits ? 1 : 0;
    vkg_cmd *cmd = s->decode_cmd[mode];
    if (!s->decode_recorded[mode]) {
        VKG_TRY(vkg_cmd_begin(cmd));
        VKG_TRY(vkg_graph_record(s->m, cmd, &s->a, &s->kv, 1, true, mode ? VKG_LOGITS_LAST : VKG_LOGITS_ARGMAX));
        VKG_TRY(vkg_cmd_end(cmd));
        s->decode_recorded[mode] = true;
    }
    vkg_session_write_step(s, s->pos, &token, 1);
    VKG_TRY(vkg_cmd_run(cmd));
    s->next = vkg_session_read_next(s);
    s->logits_ready = mode == 1;
    s->pos++;
    return VKG_OK;
}

vkg_status vkg_session_logits(vkg_session *s, float *logits) {
    if (!s || !logits)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_session_logits: NULL argument");
    if (!s->logits_ready)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "no logits to read: call vkg_session_want_logits(s, true) "
                        "before the step, and read them after a prefill or step");
    memcpy(logits, (const char *)vkg_buffer_map(s->a.out) + 16, s->m->cfg.vocab_size * sizeof(float));
    return VKG_OK;
}

uint64_t vkg_session_step_bytes(const vkg_session *s) {
    const vkg_model *m = s->m;
    const vkg_model_config *c = &m->cfg;
    uint64_t kv = 2ull * c->n_layer * (s->pos + 1) * c->n_kv_head * c->head_dim * vkg_storage_bytes(s->kv.storage);
    /* Every matrix once, but only one row of each embedding table (the LM head reads all of it). */
    const vkg_matrix *tok = vkg_model_weight(m, VKG_W_TOK_EMBD, 0), *pos = vkg_model_weight(m, VKG_W_POS_EMBD, 0);
    uint64_t skip = pos->buf ? (uint64_t)(pos->rows - 1) * pos->cols * vkg_storage_bytes(pos->storage) : 0;
    if (!c->tied_lm_head)
        skip += (uint64_t)(tok->rows - 1) * tok->cols * vkg_storage_bytes(tok->storage);
    return m->weight_bytes - skip + kv;
}

vkg_status vkg_session_record_step(vkg_session *s, vkg_cmd *cmd, uint32_t pos, uint32_t T, const vkg_graph_marker *mk) {
    if (T == 0 || T > s->a.max_rows || pos + T > s->kv.n_ctx)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "record step: %u rows at %u (at most %u rows, %u positions)", T,
                        pos, s->a.max_rows, s->kv.n_ctx);
    uint32_t *step = vkg_buffer_map(s->a.step_host);
    step[0] = pos;
    for (uint32_t t = 0; t < T; t++)
        step[4 + t] = (uint32_t)(((uint64_t)t * 2654435761u) % s->m->cfg.vocab_size);
    return vkg_graph_record_marked(s->m, cmd, &s->a, &s->kv, T, T == 1, VKG_LOGITS_ARGMAX, mk);
}

uint32_t vkg_session_ctx(const vkg_session *s) { return s->kv.n_ctx; }
uint64_t vkg_session_kv_bytes(const vkg_session *s) { return s->kv_bytes; }
