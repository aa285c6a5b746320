/*
 * batch.c — several sessions of one model decoded in one step (vkg_batch_*): the server's continuous
 * batching. The matmuls run once with M = the number of sessions, so a step reads the weights once for
 * all of them; each session's embedding, RoPE, cache write and attention run on its own buffers at its
 * own position (model/graph.c, vkg_graph_record_batch). Each row is computed exactly as a lone
 * vkg_session_step computes it, so greedy tokens do not depend on what else is in the batch.
 *
 * The step is recorded once per list of sessions (and logits wishes) and replayed while the list stays
 * the same; a server whose slots come and go re-records when they do. Recording costs well under a
 * millisecond per layer, and the list changes only when a request starts or ends.
 */
#include "session_internal.h"

#include "kernels/quantize_act.h"

#include <stdlib.h>
#include <string.h>

struct vkg_batch {
    vkg_model *m;
    uint32_t max;
    vkg_activations b;       /* [max, ...] rows of the batched matmuls */
    vkg_cmd *cmd;
    vkg_session **recorded;  /* the list the recording is for (max entries) */
    bool *recorded_logits;
    uint32_t n_recorded;     /* 0: nothing recorded */
};

static vkg_status make(vkg_context *ctx, uint64_t bytes, const char *name, vkg_buffer **out) {
    return vkg_buffer_create(ctx, bytes ? bytes : 16, VKG_MEMORY_DEVICE, name, out);
}

vkg_status vkg_batch_create(vkg_model *m, uint32_t max_sessions, vkg_batch **out) {
    if (!m || !out || max_sessions == 0 || max_sessions > VKG_BATCH_MAX)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_batch_create: a model and 1..%d sessions are needed",
                        VKG_BATCH_MAX);
    *out = NULL;
    const vkg_model_config *c = &m->cfg;
    const vkg_device_info *info = vkg_context_device(m->ctx);
    uint64_t n = max_sessions, f = sizeof(float), d = c->d_model, V = c->vocab_size, ff = c->d_ff;
    uint64_t q = (uint64_t)c->n_head * c->head_dim, wq = (c->n_head + 2ull * c->n_kv_head) * c->head_dim;
    if (n * V * f > info->max_storage_buffer_range)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "a batch of %u sessions needs %llu bytes of logits in one binding, "
                        "above %s's storage-buffer range", max_sessions, (unsigned long long)(n * V * f), info->name);
    vkg_batch *b = vkg_calloc(1, sizeof *b);
    if (!b)
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    b->m = m;
    b->max = max_sessions;
    b->b.max_rows = b->b.logit_rows = max_sessions;
    b->recorded = vkg_calloc(n, sizeof *b->recorded);
    b->recorded_logits = vkg_calloc(n, sizeof *b->recorded_logits);
    vkg_context *ctx = m->ctx;
    vkg_status s = b->recorded && b->recorded_logits ? VKG_OK : VKG_ERROR_OUT_OF_HOST_MEMORY;
    if (s == VKG_OK) s = make(ctx, n * d * f, "batch x", &b->b.x);
    if (s == VKG_OK) s = make(ctx, n * d * f, "batch h", &b->b.h);
    if (s == VKG_OK) s = make(ctx, n * wq * f, "batch qkv", &b->b.qkv);
    if (s == VKG_OK) s = make(ctx, n * (q > d ? q : d) * f, "batch att", &b->b.att);
    if (s == VKG_OK) s = make(ctx, n * (c->gated_mlp ? 2 * ff : ff) * f, "batch mlp", &b->b.f);
    if (s == VKG_OK && c->gated_mlp) s = make(ctx, n * ff * f, "batch swiglu", &b->b.g);
    if (s == VKG_OK) s = make(ctx, n * V * f, "batch logits", &b->b.logits);
    if (s == VKG_OK && m->int_dot)
        s = make(ctx, vkg_quantize_act_bytes((uint32_t)n, vkg_graph_widest_input(c)), "batch quantized activations",
                 &b->b.xq);
    if (s == VKG_OK) s = vkg_cmd_create(ctx, "batched decode step", &b->cmd);
    if (s != VKG_OK) {
        vkg_batch_free(b);
        return vkg_fail_context(s, "creating a batch of %u sessions", max_sessions);
    }
    *out = b;
    return VKG_OK;
}

void vkg_batch_free(vkg_batch *b) {
    if (!b)
        return;
    vkg_cmd_destroy(b->cmd);
    vkg_buffer *bufs[] = {b->b.x, b->b.h, b->b.qkv, b->b.att, b->b.f, b->b.g, b->b.logits, b->b.xq};
    for (size_t i = 0; i < VKG_ARRAY_LEN(bufs); i++)
        vkg_buffer_destroy(bufs[i]);
    free(b->recorded);
    free(b->recorded_logits);
    free(b);
}

static bool same_list(const vkg_batch *b, vkg_session *const *sessions, uint32_t n) {
    if (b->n_recorded != n)
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (b->recorded[i] != sessions[i] || b->recorded_logits[i] != sessions[i]->want_logits)
            return false;
    return true;
}

static vkg_status check(const vkg_batch *b, vkg_session *const *sessions, const int32_t *tokens, uint32_t n) {
    if (!b || !sessions || !tokens || n == 0 || n > b->max)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_batch_step: 1..%u sessions and their tokens are needed",
                        b ? b->max : 0);
    for (uint32_t i = 0; i < n; i++) {
        const vkg_session *s = sessions[i];
        if (!s || s->m != b->m)
            return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_batch_step: session %u is not a session of the "
                            "batch's model", i);
        if (s->opts.no_kv_cache)
            return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_batch_step: session %u has no KV cache", i);
        for (uint32_t j = 0; j < i; j++)
            if (sessions[j] == s)
                return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_batch_step: session %u is also session %u", i, j);
        VKG_TRY(vkg_session_check_tokens(s, &tokens[i], 1));
    }
    return VKG_OK;
}

vkg_status vkg_batch_step(vkg_batch *b, vkg_session *const *sessions, const int32_t *tokens, uint32_t n) {
    VKG_TRY(check(b, sessions, tokens, n));
    if (!same_list(b, sessions, n)) {
        vkg_graph_row rows[VKG_BATCH_MAX];
        for (uint32_t i = 0; i < n; i++)
            rows[i] = (vkg_graph_row){.a = &sessions[i]->a, .kv = &sessions[i]->kv,
                                      .want_logits = sessions[i]->want_logits};
        b->n_recorded = 0;
        VKG_TRY(vkg_cmd_begin(b->cmd));
        VKG_TRY(vkg_graph_record_batch(b->m, b->cmd, &b->b, rows, n));
        VKG_TRY(vkg_cmd_end(b->cmd));
        for (uint32_t i = 0; i < n; i++) {
            b->recorded[i] = sessions[i];
            b->recorded_logits[i] = sessions[i]->want_logits;
        }
        b->n_recorded = n;
    }
    for (uint32_t i = 0; i < n; i++) {
        vkg_session *s = sessions[i];
        s->history[s->pos] = tokens[i];
        vkg_session_write_step(s, s->pos, &tokens[i], 1);
    }
    VKG_TRY(vkg_cmd_run(b->cmd));
    for (uint32_t i = 0; i < n; i++) {
        vkg_session *s = sessions[i];
        s->next = vkg_session_read_next(s);
        s->logits_ready = s->want_logits;
        s->pos++;
    }
    return VKG_OK;
}
