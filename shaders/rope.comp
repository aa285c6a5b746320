/*
 * rope.comp — rotary position embedding, in place, on the first n_heads heads of each row of x:
 *   row t sits at position p = step_pos + t (step buffer, shaders/step.h: one recording replays
 *   at every position); pair i < hd/2 of a head is the elements (a, b) =
 *     (i, i + hd/2)  for VKG_ROPE_PAIR_HALF (Hugging Face's rotate_half), or
 *     (2i, 2i + 1)   for VKG_ROPE_PAIR_ADJACENT (GGUF Llama),
 *   rotated by the angle whose (cos, sin) the host stored at table[p][i]:
 *     x'[a] = x[a] cos - x[b] sin,   x'[b] = x[b] cos + x[a] sin.
 * The table [n_pos, hd/2, 2] fp32 carries the frequencies and any scaling rule (linear, llama3):
 * the shader knows only angles. A row whose position is at or past n_pos is left as it is (the
 * host sizes the table for the context, so this only keeps the device memory-safe).
 *
 * Grid:      1-D (folded), ceil(T * n_heads * hd/2 / (4 WG)) workgroups; each invocation rotates 4
 *            pairs, WG apart (pair index j -> i = j % (hd/2), head = j / (hd/2) % n_heads, t = rest).
 *            An invocation reads and writes only its own pair: no barrier, no alias hazard.
 * Bindings:  0 x (read and written), 1 table (read), 2 step (read).
 * Push:      vkg_rope_push (rowwise_push.h).
 * Spec:      0 WG.
 */
#version 450
#extension GL_GOOGLE_include_directive : require

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

#define VKG_ROPE_SHADER
#include "common.glsl"
#include "rowwise_push.h"
#include "step.h"

layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Table { vec2 table[]; }; /* (cos, sin) */
VKG_STEP_BUFFER(2)

void main() {
    uint n = pc.T * pc.n_heads * pc.half_dim;
    uint base = vkg_group_id() * (4u * WG) + gl_LocalInvocationID.x;
    for (uint k = 0; k < 4u; k++) {
        uint j = base + k * WG;
        if (j >= n)
            return;
        uint i = j % pc.half_dim, rest = j / pc.half_dim;
        uint h = rest % pc.n_heads, t = rest / pc.n_heads;
        /* p = step_pos + t < n_pos, written so that it cannot wrap around */
        if (step_pos >= pc.n_pos || t >= pc.n_pos - step_pos)
            continue;
        vec2 cs = table[pc.table_off + (step_pos + t) * pc.half_dim + i];
        uint head = pc.x_off + t * pc.row_stride + h * 2u * pc.half_dim;
        uint a, b;
        if (pc.pairing == VKG_ROPE_PAIR_ADJACENT) {
            a = head + 2u * i;
            b = a + 1u;
        } else {
            a = head + i;
            b = a + pc.half_dim;
        }
        float xa = x[a], xb = x[b];
        x[a] = xa * cs.x - xb * cs.y;
        x[b] = xb * cs.x + xa * cs.y;
    }
}
