/*
 * embedding.comp — token embedding plus, where the model has one, a learned position embedding,
 * for the T rows of one step:
 *   y[t, :] = wte[tok, :] + wpe[pos, :]   (or wte[tok, :] alone when wpe_kind is VKG_TABLE_NONE)
 *   tok = step_tokens[t],  pos = step_pos + t
 * with tok and pos read from the step buffer (shaders/step.h), so one recording replays for any
 * tokens and position.
 *
 * wte [vocab, d] may exceed one storage-buffer binding (gpt2 fp32: 154 MB > lavapipe's 128 MiB), so
 * it is bound as up to VKG_EMBEDDING_MAX_CHUNKS (4) row chunks of chunk_rows rows each, covering
 * rows [first_row, first_row + n_chunks * chunk_rows). A dispatch writes only the rows whose token
 * falls in its chunks; the host issues one dispatch per 4 chunks (one dispatch for every GPT-2 size
 * on lavapipe and anywhere bindings reach 2 GiB+). Memory safety: a token >= vocab or (with wpe) a
 * position >= n_pos reads nothing and its row is written as zeros, by the dispatch with
 * owns_invalid set.
 *
 * Variants:  "embedding" reads fp32 tables only (no 16-bit storage needed); TABLES_16BIT
 *            ("embedding_16bit") reads each table as fp32, fp16 or bf16, chosen per table at run
 *            time by pc.wte_kind / pc.wpe_kind (VKG_TABLE_*; a uniform branch), through aliased
 *            declarations of the same binding. bf16 is read as 16-bit words and widened
 *            (uintBitsToFloat(w << 16)): 16-bit storage only, no fp16 or bf16 arithmetic.
 * Grid:      1-D, one workgroup per row t (folded); ids >= T exit.
 * Bindings:  0..3 wte chunks (read; unused ones repeat chunk 0), 4 wpe (read; a dummy without wpe),
 *            5 step (read), 6 y [T, d] (written).
 * Push:      vkg_embedding_push.
 * Spec:      0 WG.
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#ifdef TABLES_16BIT
#extension GL_EXT_shader_16bit_storage : require
#endif

layout(constant_id = 0) const uint WG = 128;
layout(local_size_x_id = 0) in;

#define VKG_EMBEDDING_SHADER
#include "common.glsl"
#include "rowwise_push.h"
#include "step.h"

/* Binding B as a table of each storage kind: N_f (fp32), and with TABLES_16BIT N_h (fp16), N_b (bf16). */
#ifdef TABLES_16BIT
#define TABLE(B, N)                                                              \
    layout(std430, binding = B) readonly buffer N##F { float N##_f[]; };         \
    layout(std430, binding = B) readonly buffer N##H { float16_t N##_h[]; };     \
    layout(std430, binding = B) readonly buffer N##B { uint16_t N##_b[]; };
#define LOAD(N, kind, i)                                                          \
    ((kind) == VKG_TABLE_F16    ? float(N##_h[i])                                 \
     : (kind) == VKG_TABLE_BF16 ? uintBitsToFloat(uint(N##_b[i]) << 16)           \
                                : N##_f[i])
#else
#define TABLE(B, N) layout(std430, binding = B) readonly buffer N##F { float N##_f[]; };
#define LOAD(N, kind, i) N##_f[i]
#endif

TABLE(0, wte0)
TABLE(1, wte1)
TABLE(2, wte2)
TABLE(3, wte3)
TABLE(4, wpe)
VKG_STEP_BUFFER(5)
layout(std430, binding = 6) writeonly buffer Y { float y[]; };

float load_wte(uint chunk, uint i) {
    switch (chunk) {
    case 0u: return LOAD(wte0, pc.wte_kind, i);
    case 1u: return LOAD(wte1, pc.wte_kind, i);
    case 2u: return LOAD(wte2, pc.wte_kind, i);
    default: return LOAD(wte3, pc.wte_kind, i);
    }
}

void main() {
    uint t = vkg_group_id();
    if (t >= pc.T)
        return;
    uint lid = gl_LocalInvocationID.x;
    uint tok = step_tokens[t];
    uint yb = pc.y_off + t * pc.d;
    bool has_wpe = pc.wpe_kind != VKG_TABLE_NONE;
    /* pos = step_pos + t < n_pos, written so that it cannot wrap around */
    bool bad = tok >= pc.vocab || (has_wpe && (step_pos >= pc.n_pos || t >= pc.n_pos - step_pos));
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
    if (!has_wpe) {
        for (uint c = lid; c < pc.d; c += WG)
            y[yb + c] = load_wte(chunk, wb + c);
        return;
    }
    uint pb = pc.wpe_off + (step_pos + t) * pc.d;
    for (uint c = lid; c < pc.d; c += WG)
        y[yb + c] = load_wte(chunk, wb + c) + LOAD(wpe, pc.wpe_kind, pb + c);
}
