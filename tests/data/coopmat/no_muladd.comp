/*
 * no_muladd.comp — a test input the NV -> KHR SPIR-V translator must refuse: a matrix is loaded and
 * stored but never multiplied, so nothing says which KHR use (A, B or accumulator) its type has.
 */
#version 450
#extension GL_KHR_memory_scope_semantics : require
#extension GL_NV_cooperative_matrix : require
layout(local_size_x = 32) in;

layout(std430, binding = 0) buffer CBuf { float c[]; };

void main() {
    fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> m;
    coopMatLoadNV(m, c, 0, 16, false);
    coopMatStoreNV(m, c, 256, 16, true);
}
