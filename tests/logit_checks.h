/*
 * tests/logit_checks.h — what the model tests share: device logits against a reference (relative
 * to the largest reference logit), greedy decoding on the device, and the KV cache's identity check
 * (teacher-forced logits through the replayed decode step equal one uncached pass at every position).
 */
#ifndef VKG_TESTS_LOGIT_CHECKS_H
#define VKG_TESTS_LOGIT_CHECKS_H

#include "harness.h"

/* Fails the test unless max |got - ref| <= tol * max |ref| and every got is finite; returns
 * max |got - ref| / max |ref|. */
double check_logits(const char *what, const float *got, const double *ref, size_t n, double tol);

/* seq[0..N) fed to a cached session one token at a time (logits after each) and to an uncached one in
 * one pass (logits of every row): every position must agree within tol (1e-4 for fp32 math) of the
 * largest logit. */
void check_teacher_forced(vkg_model *model, const int32_t *seq, int N, const char *what, double tol);

/* Greedy tokens on the device after prompt[n_prompt], with the cache or without: n of them (malloc'd),
 * the last one not appended to the sequence. */
int32_t *device_greedy(vkg_model *m, bool cached, const int32_t *prompt, uint32_t n_prompt, uint32_t n);
/* The same with a KV cache of precision kv (device_greedy: F32). */
int32_t *device_greedy_kv(vkg_model *m, bool cached, vkg_precision kv, const int32_t *prompt, uint32_t n_prompt,
                          uint32_t n);

#endif /* VKG_TESTS_LOGIT_CHECKS_H */
