/*
 * store_length.comp — a test input for the NV -> KHR SPIR-V translator (tests/test_coopmat_khr.c), not
 * a kernel: one multiply-add whose operands come from a coherent buffer (loads and stores carry
 * memory-access operands with a scope id), a column-major load and store, a row-major load, and
 * coopmat length(). N is a spec constant so that A (16 x 16) and B (16 x N) are distinct types.
 */
#version 450
#extension GL_KHR_memory_scope_semantics : require
#extension GL_NV_cooperative_matrix : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
layout(local_size_x = 32) in;
layout(constant_id = 0) const uint N = 16;

layout(std430, binding = 0) coherent buffer ABuf { float16_t a[]; };
layout(std430, binding = 1) readonly buffer BBuf { float16_t b[]; };
layout(std430, binding = 2) buffer CBuf { float c[]; };
layout(std430, binding = 3) buffer LBuf { uint len_out[]; };

void main() {
    fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> ma;
    fcoopmatNV<16, gl_ScopeSubgroup, 16, N> mb;
    fcoopmatNV<32, gl_ScopeSubgroup, 16, N> mc;
    coopMatLoadNV(ma, a, 0, 16, false);
    coopMatLoadNV(mb, b, 0, 16, true);
    coopMatLoadNV(mc, c, 0, N, false);
    mc = coopMatMulAddNV(ma, mb, mc);
    coopMatStoreNV(mc, c, 0, N, true);
    len_out[0] = mc.length();
}
