/*
 * cli/setup.h — what `run`, `demo`, `bench` and `tokenize` share: opening the device and a model (a
 * checkpoint path or a synthetic config), with a progress bar on a terminal.
 */
#ifndef VKG_CLI_SETUP_H
#define VKG_CLI_SETUP_H

#include "vkgpt.h"

#include <stdbool.h>

typedef struct model_args {
    const char *path;        /* -m PATH, or NULL */
    const char *config;      /* --config NAME (synthetic), or NULL */
    int device;              /* --device I, or -1 */
    int dtype;               /* weights: a vkg_precision (VKG_PRECISION_AUTO: as the checkpoint stores them) */
    uint64_t seed;           /* synthetic weights' seed */
    int quant;               /* --quant: a vkg_quant (NONE: as stored) */
    bool quiet;              /* no progress and no notes on stderr (run -q) */
} model_args;

/* CLI_OK when `path` is NULL or exists; otherwise prints "vkgpt <cmd>: no model at <path>" with a
 * pointer to how to get one, and returns CLI_FAILED. Commands call it before anything else, so a
 * wrong -m is reported as such and not as whatever fails first (the tokenizer, the device). */
int cli_check_model(const char *cmd, const char *path);
/* What `run` and `chat` share: the model, its storage, the context and the sampling. */
typedef struct gen_args {
    model_args model;
    const char *tokenizer_dir; /* --tokenizer DIR, or NULL: the model's */
    int kv_dtype;              /* 0 f32, 1 f16 */
    uint32_t n_ctx;            /* -c/--ctx-size; 0: the session's default */
    uint32_t n_predict;        /* -n */
    vkg_sampler_params sampling;
    bool quiet;                /* -q */
} gen_args;

/* Defaults: auto weights, temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, -n n_predict. */
gen_args gen_args_defaults(uint32_t n_predict);

/* If argv[*i] is one of gen_args' options, take it (and its value, advancing *i) and return 1;
 * return 0 when it is not one of them, CLI_USAGE (after the message) for a bad value. */
int gen_args_option(const char *cmd, int argc, char **argv, int *i, gen_args *g);

/* Greedy decoding that the device's argmax answers: temperature 0 and no repetition penalty (the
 * sampler takes the argmax after a penalty). */
bool cli_greedy_on_device(const vkg_sampler_params *p);

/* Whether `id` ends a sequence: an end-of-sequence id of the model's config (config.json,
 * generation_config.json) or the tokenizer's (NULL: none) end-of-sequence and end-of-turn tokens. */
bool cli_ends_sequence(const vkg_model *m, const vkg_tokenizer *tok, int32_t id);

/* The directory (or .gguf file) the tokenizer comes from: --tokenizer DIR, else the model's path (a
 * .safetensors file's directory); NULL for a synthetic model without --tokenizer. */
const char *cli_tokenizer_dir(const char *model_path, const char *tokenizer_dir, char *buf, size_t n);

/* Create the context and model, showing the upload's progress when it takes a while; a synthetic
 * model says so once on stderr (its text is noise). On failure reports and returns CLI_FAILED
 * (both outputs NULL). */
int setup_model(const char *cmd, const model_args *args, vkg_context **ctx, vkg_model **model);
/* The whole of file `path` ("-": standard input), malloc'd with a terminating NUL not counted in
 * *len; NULL when it cannot be read. */
char *cli_read_file(const char *path, size_t *len);
/* "gpt-mini (9.6M params)" style description into buf. */
const char *describe_model(const model_args *args, const vkg_model *m, char *buf, size_t n);

#endif /* VKG_CLI_SETUP_H */
