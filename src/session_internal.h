/*
 * session_internal.h — the session object, shared by session.c (one sequence) and batch.c (several
 * sessions decoded in one step). Not part of the public API.
 */
#ifndef VKG_SESSION_INTERNAL_H
#define VKG_SESSION_INTERNAL_H

#include "model/graph.h"

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
    uint64_t kv_bytes;         /* device bytes of the K and V caches */
};

/* VKG_ERROR_CONTEXT_FULL / VKG_ERROR_TOKEN_RANGE for n more tokens. */
vkg_status vkg_session_check_tokens(const vkg_session *s, const int32_t *tokens, uint32_t n);
/* Write position and tokens into the mapped step buffer the next recording run copies. */
void vkg_session_write_step(vkg_session *s, uint32_t pos, const int32_t *tokens, uint32_t n);
/* The next token the last run wrote to the readback buffer. */
int32_t vkg_session_read_next(const vkg_session *s);

#endif /* VKG_SESSION_INTERNAL_H */
