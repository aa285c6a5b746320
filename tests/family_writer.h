/*
 * tests/family_writer.h — test helper: Llama-family checkpoints (Llama, Mistral, Qwen2, Qwen3) as
 * Hugging Face's save_pretrained writes them — config.json with the real field names, optional
 * generation_config.json, safetensors single or sharded with model.safetensors.index.json, F32, F16
 * or BF16 — from seeded random weights that the CPU reference (ref_decoder) uses as they are.
 *
 * What it is not: a reader, or shared with the library. It knows the Hugging Face names from the
 * transformers documentation and the model cards' config files, not from src/model/. Test code: -1
 * on any failure, reporting left to the test.
 */
#ifndef VKG_TESTS_FAMILY_WRITER_H
#define VKG_TESTS_FAMILY_WRITER_H

#include <stdint.h>

#include "ref.h"
#include "ref_decoder.h"
#include "st_writer.h"

typedef enum fw_family { FW_LLAMA, FW_MISTRAL, FW_QWEN2, FW_QWEN3 } fw_family;

/* "llama", "mistral", "qwen2", "qwen3" (config.json's model_type). */
const char *fw_family_name(fw_family f);

/* The family's fixed switches on a config of the given sizes (hd 0 means d / H): RMSNorm (eps 1e-6;
 * Llama 1e-5), SiLU, gated MLP, rotate-half RoPE theta 10000, untied head; Qwen2 q/k/v bias; Qwen3
 * q/k norm. Change the rest (tied head, scaling, window, attention_bias, ...) in the result. */
ref_decoder_config fw_family_config(fw_family f, int n_layer, int d, int n_head, int n_kv_head, int hd,
                                    int d_ff, int vocab, int n_positions);

/* How the random weights are drawn: each tensor uniform in [-a, a) with
 *   embed: a = embed; lm_head (untied): a = head;
 *   projections [out, in]: a = gain * sqrt(3 / in) (so std = gain / sqrt(in));
 *   biases: a = bias; norm weights: 1 + uniform in [-norm, norm);
 *   q/k norm weights: qk_norm * (1 + uniform in [-norm, norm)) — large enough that normalised
 *   queries and keys still give attention that can single out a position. */
typedef struct fw_init {
    float embed, gain, bias, norm, qk_norm, head;
} fw_init;

/* The scales whose greedy sequences stay varied over 1000+ tokens (see test_families.c). */
fw_init fw_init_varied(void);

typedef struct fw_model {
    ref_decoder ref;          /* the model for the reference; points into storage */
    ref_decoder_layer *layers; /* == ref.layers */
    float *storage;           /* every weight, in the order fw_model_random documents */
    size_t storage_len;
} fw_model;

/* Random weights for config c (one splitmix64 stream seeded with `seed`), rounded to `dtype` so that
 * the file and the reference hold the same values. Order: embed, lm_head (untied), norm, then per
 * layer input_layernorm, q (w, b), k (w, b), v (w, b), q_norm, k_norm, o (w, b),
 * post_attention_layernorm, gate (w, b), up (w, b), down (w, b) — each only when c calls for it.
 * 0, or -1 (bad config, no memory; *m zeroed). */
int fw_model_random(fw_model *m, const ref_decoder_config *c, uint64_t seed, const fw_init *init,
                    st_dtype dtype);

/* A GPT-2 as a ref_decoder: its Conv1D weights transposed into copies owned by m, the rest pointed
 * at g (which must outlive m). 0 or -1. */
int fw_model_from_gpt2(fw_model *m, const ref_gpt2 *g);

void fw_model_free(fw_model *m);

typedef struct fw_options {
    fw_family family;
    st_dtype dtype;          /* ST_F32, ST_F16 or ST_BF16: the file's tensors (round the model first) */
    int n_shards;            /* <= 1: model.safetensors; else model-0000i-of-0000n.safetensors + index */
    int32_t bos_token_id;    /* < 0: null */
    int n_eos;               /* 0: null; 1: an integer unless eos_as_list */
    int32_t eos[4];
    int eos_as_list;
    int generation_config;   /* also write generation_config.json (bos and eos, eos as a list) */
    int rope_type_old_key;   /* rope_scaling with "type" instead of "rope_type" */
} fw_options;

/* Family f, F32, one file, bos 1, eos 2 (an integer), no generation_config.json. */
fw_options fw_default_options(fw_family f);

/* Writes config.json (+ generation_config.json) and the safetensors file(s) of m into dir (which
 * exists). -1 also when m's config cannot be expressed by the family (a bias Mistral has no key for,
 * a window on Llama, adjacent RoPE pairing, no q/k norm on Qwen3, layer norm, ...). */
int fw_write(const char *dir, const fw_model *m, const fw_options *o);

#endif /* VKG_TESTS_FAMILY_WRITER_H */
