/*
 * convert.comp — a test input for the NV -> KHR SPIR-V translator, not a kernel: the fp32 accumulator
 * is converted to an fp16 matrix type that no multiply-add uses, so the translator must carry the
 * accumulator use across the conversion (KHR conversions keep the use). K and N are spec constants so
 * that A (16 x K), B (K x N) and the fp16 result (16 x N) are distinct types.
 */
#version 450
#extension GL_KHR_memory_scope_semantics : require
#extension GL_NV_cooperative_matrix : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
layout(local_size_x = 32) in;
layout(constant_id = 0) const uint K = 16;
layout(constant_id = 1) const uint N = 16;

layout(std430, binding = 0) readonly buffer ABuf { float16_t a[]; };
layout(std430, binding = 1) readonly buffer BBuf { float16_t b[]; };
layout(std430, binding = 2) buffer YBuf { float16_t y[]; };

void main() {
    fcoopmatNV<16, gl_ScopeSubgroup, 16, K> ma;
    fcoopmatNV<16, gl_ScopeSubgroup, K, N> mb;
    fcoopmatNV<32, gl_ScopeSubgroup, 16, N> acc = fcoopmatNV<32, gl_ScopeSubgroup, 16, N>(0.0);
    coopMatLoadNV(ma, a, 0, K, false);
    coopMatLoadNV(mb, b, 0, N, false);
    acc = coopMatMulAddNV(ma, mb, acc);
    fcoopmatNV<16, gl_ScopeSubgroup, 16, N> y16 = fcoopmatNV<16, gl_ScopeSubgroup, 16, N>(acc * 0.5);
    coopMatStoreNV(y16, y, 0, N, false);
}
