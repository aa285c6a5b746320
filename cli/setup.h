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
