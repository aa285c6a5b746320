/*
 * shaders/attention_push.h — push constants shared by the KV-cache and attention shaders
 * (kv_store.comp, attn_decode.comp, attn_combine.comp, attn_prefill.comp, attn_prefill_rows.comp).
 * One block for the whole family because a shader may declare only one push-constant block.
 * Position-dependent values (step_pos) are not here: they come from the step buffer (step.h) so
 * recordings replay. The host fills it from vkg_attn_shape (src/kernels/attention.h).
 */
#include "push_common.h"

VKG_PUSH_BEGIN(vkg_attention_push)
    u32 T;        /* query rows of this step (decode: 1) */
    u32 H;        /* query heads; the q part of a qkv row is H * hd wide */
    u32 hd;       /* head dimension (the attention shaders also get it as spec constant 1) */
    u32 P;        /* cache capacity in positions (rows of each K/V head's K and V) */
    u32 n_splits; /* decode: key chunks per head = ceil(P / CHUNK), rows of the scratch per head */
    u32 KVH;      /* K/V heads, dividing H: query head h reads K/V head h / (H / KVH) */
    u32 window;   /* 0: full causal; else the query at position p sees keys max(0, p-window+1)..p */
    f32 scale;    /* factor on q.k before the softmax (usually 1/sqrt(hd)) */
VKG_PUSH_END(vkg_attention_push)
