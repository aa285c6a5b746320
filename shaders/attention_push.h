/*
 * shaders/attention_push.h — push constants shared by the KV-cache and attention shaders
 * (kv_store.comp, attn_decode.comp, attn_combine.comp, attn_prefill.comp). One block for the whole
 * family because a shader may declare only one push-constant block. Position-dependent values
 * (step_pos) are not here: they come from the step buffer (step.h) so recordings replay.
 */
#include "push_common.h"

VKG_PUSH_BEGIN(vkg_attention_push)
    u32 T;        /* query rows of this step (decode: 1) */
    u32 H;        /* heads; d = H * hd */
    u32 hd;       /* head dimension (the attention shaders also get it as spec constant 1) */
    u32 P;        /* cache capacity in positions (rows of each head's K and V) */
    u32 n_splits; /* decode: key chunks per head = ceil(P / CHUNK), rows of the scratch per head */
VKG_PUSH_END(vkg_attention_push)
