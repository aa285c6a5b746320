/*
 * attn_combine.comp — flash-decoding pass 2 of 2: merge the per-chunk partial softmax results of
 * attn_decode.comp into the attention output of the one query token.
 *
 * Math:      the query at pos = step_pos sees keys lo..pos (lo as in attn_decode.comp: 0, or
 *            pos - window + 1 with a sliding window), so chunks c_lo = lo / CHUNK ..
 *            c_hi = ceil(min(pos + 1, P) / CHUNK) - 1 hold its visible keys; per query head h:
 *              M = max_c m_c     w_c = exp(m_c - M)
 *              out[h*HD + j] = sum_c w_c * o_c[j] / sum_c w_c * l_c
 *            (the usual rescaling: each chunk's sums were taken relative to its own max m_c).
 *            Only those chunks are read: the others are stale from earlier positions.
 * Layout:    scratch fp32 [H, n_splits, HD + 2] rows (m, l, o[HD]); out fp32 [1, H*HD], head h at
 *            columns [h*HD, (h+1)*HD).
 * Grid:      (H), one workgroup per query head.
 * Bindings:  0 step (read), 1 scratch (read), 2 out (written).
 * Push:      vkg_attention_push: P, n_splits, window.
 * Spec:      0 WG, 1 HD, 2 CHUNK (must match attn_decode's).
 * Work split: every thread computes M and the denominator itself (few chunks: P / CHUNK) and
 *            then the outputs j = tid, tid + WG, ...
 */
#version 450
#extension GL_GOOGLE_include_directive : require
#include "step.h"
#include "attention_push.h"

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint HD = 64;
layout(constant_id = 2) const uint CHUNK = 64;
layout(local_size_x_id = 0) in;

VKG_STEP_BUFFER(0)
layout(std430, binding = 1) readonly buffer Scratch { float scratch[]; };
layout(std430, binding = 2) writeonly buffer Out { float attn_out[]; };

void main() {
    const uint h = gl_WorkGroupID.x, tid = gl_LocalInvocationID.x;
    const uint pos = step_pos;
    const uint n_keys = min(pos + 1u, pc.P);
    const uint lo = (pc.window == 0u || pos < pc.window) ? 0u : pos - pc.window + 1u;
    const uint c_lo = lo / CHUNK;
    const uint n_used = min((n_keys + CHUNK - 1u) / CHUNK, pc.n_splits);
    const uint row = HD + 2u;
    const uint base = h * pc.n_splits * row;

    float mx = uintBitsToFloat(0xff800000u); /* -inf */
    for (uint c = c_lo; c < n_used; c++)
        mx = max(mx, scratch[base + c * row]);
    float den = 0.0;
    for (uint c = c_lo; c < n_used; c++)
        den += exp(scratch[base + c * row] - mx) * scratch[base + c * row + 1u];
    const float inv = 1.0 / den;

    for (uint j = tid; j < HD; j += WG) {
        float o = 0.0;
        for (uint c = c_lo; c < n_used; c++)
            o += exp(scratch[base + c * row] - mx) * scratch[base + c * row + 2u + j];
        attn_out[h * HD + j] = o * inv;
    }
}
