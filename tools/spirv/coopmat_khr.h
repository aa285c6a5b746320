/*
 * tools/spirv/coopmat_khr.h — rewrite a SPIR-V module from SPV_NV_cooperative_matrix to
 * SPV_KHR_cooperative_matrix, word by word. Built for the build machine, not for the vkgpt library:
 * Debian 12's glslang 12.0 cannot compile GL_KHR_cooperative_matrix, so matmul_coopmat.comp is written
 * against the NV extension and its SPIR-V is translated at build time (tools/spirv/coopmat_khr_main.c
 * is the command the build runs).
 *
 * What changes (everything else is copied word for word, ids and order included):
 *   - OpCapability CooperativeMatrixNV -> CooperativeMatrixKHR; OpExtension string -> KHR.
 *   - OpTypeCooperativeMatrixNV -> OpTypeCooperativeMatrixKHR with a Use operand. The use of each type
 *     is inferred from the multiply-adds (type of A -> MatrixA, of B -> MatrixB, of C and the result ->
 *     MatrixAccumulator) and carried across conversions (OpFConvert etc.: KHR conversions keep the
 *     use). A type that would need two uses, or none, is an error: KHR needs one type per use, NV
 *     did not.
 *   - Loads and stores: the ColumnMajor bool constant becomes a MemoryLayout constant (true ->
 *     ColumnMajorKHR 1, false -> RowMajorKHR 0) placed before the stride; memory operands are kept.
 *   - MulAdd and Length (also inside OpSpecConstantOp, where glslang puts length()): new opcodes.
 *   - Use and layout constants: existing `OpConstant %uint 0/1/2` declared before the first matrix
 *     type are reused, others are added (new ids from the bound) after `OpTypeInt 32 0`.
 *
 * What it is not: a validator. It checks the structure it walks (header, word counts, result ids
 * below the bound and defined once, the operands of the instructions it rewrites) and refuses
 * anything it cannot translate faithfully; the input should be glslang output that spirv-val accepts.
 */
#ifndef VKG_TOOLS_COOPMAT_KHR_H
#define VKG_TOOLS_COOPMAT_KHR_H

#include <stddef.h>
#include <stdint.h>

/* Translate the module in[0 .. n_words) (host byte order, as glslang writes it). Pure: no I/O.
 * On success returns 0 and sets *out to a malloc'd array of *out_words words that the caller frees
 * with free(). On failure returns nonzero, sets *out = NULL and *out_words = 0, and writes a
 * NUL-terminated message to err (when err_size > 0, truncated to fit) naming the problem and, for a
 * problem with one instruction, its word offset ("word 1234: ..."). A module without the
 * CooperativeMatrixNV capability is an error: there is nothing to translate, and a build that feeds
 * the wrong shader here should fail loudly. */
int vkg_coopmat_nv_to_khr(const uint32_t *in, size_t n_words, uint32_t **out, size_t *out_words,
                          char *err, size_t err_size);

#endif /* VKG_TOOLS_COOPMAT_KHR_H */
