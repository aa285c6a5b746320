/*
 * shaders/matmul_common.glsl — what the matmul shaders share: the bindings of Y, X, bias and R (the
 * weight binding differs per shader and storage) and the fused epilogue. Include after
 * matmul_push.h. Y and R may be the same memory (in-place residual): they are never declared
 * restrict, and each invocation reads R[i] before it writes Y[i].
 *
 * Bindings: 0 Y[M,N] (written), 1 X[M,K], 2 W chunk [n_count,K] (declared by the shader),
 *           3 bias[N] (dummy when pc.has_bias == 0), 4 R[M,N] (dummy unless residual).
 */
#ifndef VKG_MATMUL_COMMON_GLSL
#define VKG_MATMUL_COMMON_GLSL

layout(std430, binding = 0) writeonly buffer YBuf { float y_data[]; };
layout(std430, binding = 1) readonly buffer XBuf { float x_data[]; };
layout(std430, binding = 1) readonly buffer XBuf4 { vec4 x_data4[]; };
layout(std430, binding = 3) readonly buffer BiasBuf { float bias_data[]; };
layout(std430, binding = 4) readonly buffer RBuf { float r_data[]; };

/* GPT-2's gelu_new: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), written as the equal
 * x / (1 + exp(-2u)): it has no cancellation near 1 + tanh(u) = 0 for negative x, and no NaN for
 * large |x| (exp overflows to inf and x / inf is 0), where tanh written via exp gives inf / inf. */
float vkg_gelu(float x) {
    float u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
    return x / (1.0 + exp(-2.0 * u));
}

/* bf16 weights as the matmul shaders read them: two per 32-bit word, element 2j in the low half
 * (little-endian), each the top 16 bits of an fp32. */
float vkg_bf16_lo(uint u) { return uintBitsToFloat(u << 16); }
float vkg_bf16_hi(uint u) { return uintBitsToFloat(u & 0xffff0000u); }

/* The finished value of output (m, n), n counted over all N outputs. */
float vkg_matmul_finish(float acc, uint m, uint n) {
    float v = acc;
    if (pc.has_bias != 0u)
        v += bias_data[n];
    if (pc.epilogue == VKG_MATMUL_EP_GELU)
        v = vkg_gelu(v);
    else if (pc.epilogue == VKG_MATMUL_EP_RESIDUAL)
        v += r_data[m * pc.N + n];
    return v;
}

#endif
