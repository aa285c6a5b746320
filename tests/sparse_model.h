/*
 * tests/sparse_model.h — write a GPT-2 checkpoint whose tensors are declared in the header but whose
 * data is a hole (ftruncate): a file of many gigabytes that takes no disk space and reads as zeros.
 * For the out-of-memory cases of test_cli_errors and test_long_run: the loader maps it and must
 * refuse what cannot fit before reading it. Test code only.
 */
#ifndef VKG_TESTS_SPARSE_MODEL_H
#define VKG_TESTS_SPARSE_MODEL_H

#include <stdint.h>

/* model.safetensors (F32, hub naming) + config.json in `dir` (existing). 0 or -1. */
int sparse_model_write(const char *dir, uint32_t n_layer, uint32_t n_head, uint32_t n_embd, uint32_t vocab,
                       uint32_t positions);

#endif /* VKG_TESTS_SPARSE_MODEL_H */
