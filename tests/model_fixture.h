/*
 * tests/model_fixture.h — small GPT-2 checkpoints for the model, CLI and reliability tests: weights
 * from the CPU reference's seeded generator (ref_gpt2_random), written by the tests' own safetensors
 * writer in Hugging Face layout, so the library loads them through its real loader while the CPU
 * reference computes the expected logits from the very same floats.
 */
#ifndef VKG_TESTS_MODEL_FIXTURE_H
#define VKG_TESTS_MODEL_FIXTURE_H

#include "ref.h"
#include "st_writer.h"

typedef enum fixture_naming { FIXTURE_SAVE_PRETRAINED, FIXTURE_HUB } fixture_naming;

/* Write config.json + model.safetensors for `m` into `dir` (created by the caller). dtype ST_F32,
 * ST_F16 or ST_BF16 (values converted by the reference's converters). hub naming also writes the
 * legacy h.N.attn.bias / masked_bias buffers, save_pretrained naming an lm_head.weight. 0 or -1. */
int fixture_write(const char *dir, const ref_gpt2 *m, st_dtype dtype, fixture_naming naming);
/* fixture_write with a separate LM head (lm_head [V, d], non-NULL: written as lm_head.weight with
 * "tie_word_embeddings": false) and extra config.json fields (", \"key\": value" text, or NULL). */
int fixture_write_ex(const char *dir, const ref_gpt2 *m, st_dtype dtype, fixture_naming naming, const float *lm_head,
                     const char *extra_config);

/* Round every weight of `m` in place to a multiple of 2^-7 in [-1, 1], so that F32, F16 and BF16
 * files hold exactly the same values. */
void fixture_quantize(ref_gpt2 *m);

/* ref_gpt2_random for the named sizes with P positions and vocab V. */
int fixture_random(ref_gpt2 *m, int n_layer, int n_head, int n_embd, int V, int P, uint64_t seed);

#endif /* VKG_TESTS_MODEL_FIXTURE_H */
