/*
 * ab_same.comp — a test input the NV -> KHR SPIR-V translator must refuse: A and B are both 16 x 16
 * fp16 with the same dimension constants, one NV type, but KHR needs a MatrixA and a MatrixB type.
 */
#version 450
#extension GL_KHR_memory_scope_semantics : require
#extension GL_NV_cooperative_matrix : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
layout(local_size_x = 32) in;

layout(std430, binding = 0) readonly buffer ABuf { float16_t a[]; };
layout(std430, binding = 1) buffer CBuf { float c[]; };

void main() {
    fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> ma, mb;
    fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> mc = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
    coopMatLoadNV(ma, a, 0, 16, false);
    coopMatLoadNV(mb, a, 256, 16, true);
    mc = coopMatMulAddNV(ma, mb, mc);
    coopMatStoreNV(mc, c, 0, 16, false);
}
