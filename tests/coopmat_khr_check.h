/*
 * tests/coopmat_khr_check.h — an independent checker for the output of the NV -> KHR
 * cooperative-matrix translator (tools/spirv/coopmat_khr.c), used by tests/test_coopmat_khr.c. It
 * parses SPIR-V words with its own opcode table (no code shared with the translator) and asserts the
 * SPV_KHR_cooperative_matrix rules and that nothing but the cooperative-matrix instructions changed.
 * spirv-val cannot do this here: Debian 12's spirv-tools 2023.1 predates the KHR extension.
 */
#ifndef VKG_TESTS_COOPMAT_KHR_CHECK_H
#define VKG_TESTS_COOPMAT_KHR_CHECK_H

#include <stddef.h>
#include <stdint.h>

/* What a checked translation contained (for tests that assert more than the rules). */
typedef struct khr_stats {
    size_t types, loads, stores, muladds, lengths; /* KHR instructions (lengths: plain + spec op) */
    size_t col_major, row_major;                   /* loads + stores by layout */
    size_t uses[3];                                /* matrix types per use: A, B, accumulator */
    size_t new_ids;                                /* output bound - input bound */
    size_t added_int_types;                        /* OpTypeInt 32 0 added (0 or 1) */
    size_t conversions;                            /* conversions between matrix types */
} khr_stats;

/* The result id an instruction defines, by the checker's own table: *has_result and *has_type say
 * whether the opcode has a Result <id> / Result Type. Returns 0, or -1 for an opcode it does not know
 * (the check then fails instead of skipping it). */
int khr_check_result_layout(uint32_t op, int *has_type, int *has_result);

/* Check `out` (the translation) against `in` (the NV module). Returns 0, or nonzero with a message in
 * msg naming the rule and the output word offset. */
int khr_check(const uint32_t *in, size_t n_in, const uint32_t *out, size_t n_out, khr_stats *st,
              char *msg, size_t msg_size);

#endif /* VKG_TESTS_COOPMAT_KHR_CHECK_H */
