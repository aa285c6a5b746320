/*
 * tests/serve_fake_engine.h — knobs of the fake serve_engine (serve_fake_engine.c) that
 * test_serve_request.c links in place of cli/serve_engine.c: a deterministic "model" whose next-token
 * logits are a hash of the whole sequence (so a token fed to the wrong slot changes everything after
 * it), a byte tokenizer, and a gate that holds the decode thread inside the engine.
 */
#ifndef VKG_TESTS_SERVE_FAKE_ENGINE_H
#define VKG_TESTS_SERVE_FAKE_ENGINE_H

#include <stdint.h>

enum { FAKE_VOCAB = 300 };

extern int32_t fake_eos;          /* -1: none */
extern uint32_t fake_positions;   /* n_positions */
extern int fake_fail_steps;       /* > 0: serve_engine_step fails (and counts down) */

/* The fake model's logits after `seq` (FAKE_VOCAB floats). */
void fake_logits(const int32_t *seq, uint32_t n, float *logits);
int32_t fake_argmax(const float *logits);

/* Close: the decode thread blocks at its next engine call until fake_gate_open. */
void fake_gate_close(void);
void fake_gate_open(void);

/* What the engine saw: "P<n>" per prefill of n tokens, "S<n>" per step of n slots, appended to a log. */
const char *fake_log(void);
void fake_reset(void);
uint32_t fake_max_batch(void);

#endif /* VKG_TESTS_SERVE_FAKE_ENGINE_H */
