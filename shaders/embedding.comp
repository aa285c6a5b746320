/*
 * embedding.comp — token plus learned position embedding for the T rows of one step:
 *   y[t, :] = wte[tok, :] + wpe[pos, :],  tok = step_tokens[t],  pos = step_pos + t
 * with tok and pos read from the step buffer (shaders/step.h), so one recording replays for any
 * tokens and position.
 *
 * wte [vocab, d] may exceed one storage-buffer binding (gpt2 fp32: 154 MB > lavapipe's 128 MiB), so
 * it is bound as up to VKG_EMBEDDING_MAX_CHUNKS (4) row chunks of chunk_rows rows each, covering
 * rows [first_row, first_row + n_chunks * chunk_rows). A dispatch writes only the rows whose token
 * falls in its chunks; the host issues one dispatch per 4 chunks (one dispatch for every GPT-2 size
 * on lavapipe and anywhere bindings reach 2 GiB+). Memory safety: a token >= vocab or a position
 * >= n_pos reads nothing and its row is written as zeros, by the dispatch with owns_invalid set.
 *
 * Variants:  WTE_F16 / WPE_F16 read that table as fp16 (16-bit storage; arithmetic stays fp32).
 * Grid:      1-D, one workgroup per row t (folded); ids >= T exit.
 * Bindings:  0..3 wte chunks (read; unused ones repeat chunk 0), 4 wpe (read), 5 step (read),
 *            6 y [T, d] (written).
 * Push:      vkg_embedding_push.
 * Spec:      0 WG.
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#if defined(WTE_F16) || defined(WPE_F16)
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#endif

layout(constant_id = 0) const uint WG = 128;
layout(local_size_x_id = 0) in;

#define VKG_EMBEDDING_SHADER
#include "common.glsl"
#include "rowwise_push.h"
#include "step.h"

#ifdef WTE_F16
#define WTE_STORE_T float16_t
#else
#define WTE_STORE_T float
#endif
#ifdef WPE_F16
#define WPE_STORE_T float16_t
#else
#define WPE_STORE_T float
#endif
#define ACC_T float

layout(std430, binding = 0) readonly buffer Wte0 { WTE_STORE_T wte0[]; };
layout(std430, binding = 1) readonly buffer Wte1 { WTE_STORE_T wte1[]; };
layout(std430, binding = 2) readonly buffer Wte2 { WTE_STORE_T wte2[]; };
layout(std430, binding = 3) readonly buffer Wte3 { WTE_STORE_T wte3[]; };
layout(std430, binding = 4) readonly buffer Wpe { WPE_STORE_T wpe[]; };
VKG_STEP_BUFFER(5)
layout(std430, binding = 6) writeonly buffer Y { float y[]; };

ACC_T load_wte(uint chunk, uint i) {
    switch (chunk) {
    case 0u: return ACC_T(wte0[i]);
    case 1u: return ACC_T(wte1[i]);
    case 2u: return ACC_T(wte2[i]);
    default: return ACC_T(wte3[i]);
    }
}

void main() {
    uint t = vkg_group_id();
    if (t >= pc.T)
        return;
    uint lid = gl_LocalInvocationID.x;
    uint tok = step_tokens[t];
    uint yb = pc.y_off + t * pc.d;
    /* pos = step_pos + t < n_pos, written so that it cannot wrap around */
    bool bad = tok >= pc.vocab || step_pos >= pc.n_pos || t >= pc.n_pos - step_pos;
    if (bad) {
        if (pc.owns_invalid != 0u)
            for (uint c = lid; c < pc.d; c += WG)
                y[yb + c] = 0.0;
        return;
    }
    uint rel = tok - pc.first_row; /* wraps to a huge value below first_row: then not ours */
    if (tok < pc.first_row || rel >= pc.n_chunks * pc.chunk_rows)
        return;
    uint chunk = rel / pc.chunk_rows;
    uint wb = pc.wte_off + (rel - chunk * pc.chunk_rows) * pc.d;
    uint pb = pc.wpe_off + (step_pos + t) * pc.d;
    for (uint c = lid; c < pc.d; c += WG)
        y[yb + c] = load_wte(chunk, wb + c) + ACC_T(wpe[pb + c]);
}
