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
#include "model/graph.h"

#include "kernels/attention.h"
#include "kernels/rowwise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_ROWS = 512 };

struct vkg_session {
    vkg_model *m;
    vkg_session_options opts;
    vkg_activations a;
    vkg_kv_cache kv;
    vkg_cmd *prefill_cmd;
    vkg_cmd *decode_cmd[2];    /* [0] next token only, [1] also the logits */
    bool decode_recorded[2];
    bool want_logits;
    bool logits_ready;         /* the readback buffer holds the last position's logits */
    uint32_t pos;
    int32_t next;
    int32_t *history;          /* tokens so far (the uncached path recomputes from them) */
};

vkg_session_options vkg_session_default_options(void) {
    return (vkg_session_options){.kv = VKG_PRECISION_F32, .no_kv_cache = false};
}

static vkg_status make(vkg_context *ctx, uint64_t bytes, vkg_memory_kind kind, const char *name, vkg_buffer **out) {
    return vkg_buffer_create(ctx, bytes, kind, name, out);
}

static vkg_status alloc_buffers(vkg_session *s) {
    vkg_context *ctx = s->m->ctx;
    const vkg_model_config *c = &s->m->cfg;
    const vkg_device_info *info = vkg_context_device(ctx);
    uint64_t d = c->n_embd, V = c->vocab_size, f = sizeof(float);
    vkg_activations *a = &s->a;
    a->max_rows = vkg_min_u32(MAX_ROWS, c->n_positions);
    uint64_t fit = info->max_storage_buffer_range / (V * f);
    a->logit_rows = (uint32_t)(fit < a->max_rows ? fit : a->max_rows);
    if (a->logit_rows == 0)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "a row of %llu logits exceeds the storage-buffer range of %s",
                        (unsigned long long)V, info->name);
    uint64_t R = a->max_rows, H = c->n_head, hd = d / H, P = c->n_positions;
    uint64_t step_bytes = (4 + R) * sizeof(uint32_t);
    /* Refuse a session that cannot fit before allocating any of it: a driver that commits memory
     * lazily (lavapipe) would otherwise hand out every per-layer buffer and fail only when the cache
     * is written, long after the user asked. */
    uint64_t kv_elem = s->opts.kv == VKG_PRECISION_F16 ? 2 : 4, kv_total = 0, need = 0, heap = 0;
    bool ok = vkg_mul_u64(2 * (uint64_t)c->n_layer, H * P * hd * kv_elem, &kv_total) &&
              vkg_add_u64(kv_total, R * d * f * 10 + (uint64_t)a->logit_rows * V * f, &need);
    for (uint32_t i = 0; i < info->n_heaps; i++)
        if (info->heaps[i].device_local && info->heaps[i].size > heap)
            heap = info->heaps[i].size;
    uint64_t used = vkg_context_device_bytes(ctx), avail = heap > used ? heap - used : 0;
    if (!ok || need > avail)
        return vkg_fail(VKG_ERROR_OUT_OF_DEVICE_MEMORY, "a session needs %.1f MiB of device memory (KV cache "
                        "%.1f MiB for %u positions x %u layers) but %s has %.1f MiB left of its %.1f MiB heap",
                        need / 1048576.0, kv_total / 1048576.0, c->n_positions, c->n_layer, info->name,
                        avail / 1048576.0, heap / 1048576.0);
    VKG_TRY(make(ctx, step_bytes, VKG_MEMORY_HOST, "step (host)", &a->step_host));
    VKG_TRY(make(ctx, step_bytes, VKG_MEMORY_DEVICE, "step", &a->step));
    VKG_TRY(make(ctx, R * d * f, VKG_MEMORY_DEVICE, "x", &a->x));
    VKG_TRY(make(ctx, R * d * f, VKG_MEMORY_DEVICE, "h", &a->h));
    VKG_TRY(make(ctx, R * 3 * d * f, VKG_MEMORY_DEVICE, "qkv", &a->qkv));
    VKG_TRY(make(ctx, R * d * f, VKG_MEMORY_DEVICE, "att", &a->att));
    VKG_TRY(make(ctx, R * 4 * d * f, VKG_MEMORY_DEVICE, "mlp", &a->f));
    vkg_attn_shape as = {.T = 1, .H = (uint32_t)H, .KVH = (uint32_t)H, .hd = (uint32_t)hd, .P = (uint32_t)P,
                         .scale = 1.0f / sqrtf((float)hd)};
    VKG_TRY(make(ctx, vkg_attention_decode_scratch_bytes(&s->m->kernels, &as), VKG_MEMORY_DEVICE,
                 "attention scratch", &a->attn_scratch));
    VKG_TRY(make(ctx, a->logit_rows * V * f, VKG_MEMORY_DEVICE, "logits", &a->logits));
    VKG_TRY(make(ctx, 16, VKG_MEMORY_DEVICE, "argmax", &a->argmax));
    uint64_t scratch = vkg_argmax_scratch_bytes((uint32_t)V);
    VKG_TRY(make(ctx, scratch ? scratch : 16, VKG_MEMORY_DEVICE, "argmax scratch", &a->argmax_scratch));
    VKG_TRY(make(ctx, 16 + V * f, VKG_MEMORY_READBACK, "out", &a->out));

    s->kv.storage = s->opts.kv == VKG_PRECISION_F16 ? VKG_STORAGE_F16 : VKG_STORAGE_F32;
    s->kv.k = vkg_calloc(c->n_layer, sizeof *s->kv.k);
    s->kv.v = vkg_calloc(c->n_layer, sizeof *s->kv.v);
    if (!s->kv.k || !s->kv.v)
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    uint64_t cache_bytes = H * P * hd * vkg_storage_bytes(s->kv.storage);
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
    vkg_status st = alloc_buffers(s);
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
    vkg_buffer *bufs[] = {a->step_host, a->step, a->x, a->h, a->qkv, a->att, a->f, a->attn_scratch, a->logits,
                          a->argmax, a->argmax_scratch, a->out};
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

static vkg_status check_tokens(const vkg_session *s, const int32_t *tokens, uint32_t n) {
    const vkg_model_config *c = &s->m->cfg;
    if (s->pos + (uint64_t)n > c->n_positions)
        return vkg_fail(VKG_ERROR_CONTEXT_FULL, "the context of %u positions is full: %u tokens are in it and "
                        "%u more were given", c->n_positions, s->pos, n);
    for (uint32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= c->vocab_size)
            return vkg_fail(VKG_ERROR_TOKEN_RANGE, "token id %d at position %u is outside the vocabulary "
                            "(0..%u)", tokens[i], s->pos + i, c->vocab_size - 1);
    return VKG_OK;
}

static void write_step(vkg_session *s, uint32_t pos, const int32_t *tokens, uint32_t n) {
    uint32_t *step = vkg_buffer_map(s->a.step_host);
    step[0] = pos;
    memcpy(step + 4, tokens, n * sizeof *tokens);
}

static int32_t read_next(const vkg_session *s) {
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
        write_step(s, from + done, s->history + from + done, T);
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
            s->next = read_next(s);
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
    VKG_TRY(check_tokens(s, tokens, n));
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
    VKG_TRY(check_tokens(s, &token, 1));
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
    write_step(s, s->pos, &token, 1);
    VKG_TRY(vkg_cmd_run(cmd));
    s->next = read_next(s);
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
    const vkg_model_config *c = &s->m->cfg;
    uint64_t kv = 2ull * c->n_layer * (s->pos + 1) * c->n_embd * vkg_storage_bytes(s->kv.storage);
    /* Every matrix once (wte as the LM head), but only one row of each embedding table. */
    uint64_t wpe = (uint64_t)c->n_positions * c->n_embd * vkg_storage_bytes(s->m->wte.storage);
    return s->m->weight_bytes - wpe + kv;
}
