/*
 * spec_layout.comp — a test input the NV -> KHR SPIR-V translator must refuse: the column-major flag
 * of a load is a specialization constant, but KHR's MemoryLayout must be known when translating.
 */
#version 450
#extension GL_KHR_memory_scope_semantics : require
#extension GL_NV_cooperative_matrix : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
layout(local_size_x = 32) in;
layout(constant_id = 0) const uint N = 16;
layout(constant_id = 1) const bool COL_MAJOR = false;

layout(std430, binding = 0) readonly buffer ABuf { float16_t a[]; };
layout(std430, binding = 1) buffer CBuf { float c[]; };

void main() {
    fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> ma;
    fcoopmatNV<16, gl_ScopeSubgroup, 16, N> mb;
    fcoopmatNV<32, gl_ScopeSubgroup, 16, N> mc = fcoopmatNV<32, gl_ScopeSubgroup, 16, N>(0.0);
    coopMatLoadNV(ma, a, 0, 16, COL_MAJOR);
    coopMatLoadNV(mb, a, 256, 16, false);
    mc = coopMatMulAddNV(ma, mb, mc);
    coopMatStoreNV(mc, c, 0, 16, false);
}
