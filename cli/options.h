/*
 * cli/options.h — strict parsing of option values: a value that is not entirely a number in range is
 * a usage error naming the option (exit status 2), never silently 0.
 */
#ifndef VKG_CLI_OPTIONS_H
#define VKG_CLI_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

/* Each returns 0 on success or CLI_USAGE after printing "vkgpt <cmd>: <option>: ..." */
int opt_u32(const char *cmd, const char *name, const char *value, uint32_t min, uint32_t max, uint32_t *out);
int opt_i32(const char *cmd, const char *name, const char *value, int32_t min, int32_t max, int32_t *out);
int opt_u64(const char *cmd, const char *name, const char *value, uint64_t *out);
int opt_float(const char *cmd, const char *name, const char *value, double min, double max, float *out);
/* "f32" or "f16" → 0/1 */
int opt_precision(const char *cmd, const char *name, const char *value, int *out);
/* Weight storage "f32" | "f16" | "bf16" | "auto" → its vkg_precision value. */
int opt_weights(const char *cmd, const char *name, const char *value, int *out);
/* Load-time quantization "q8_0" | "q6_k" | "q5_k" | "q4_k" | "q4_0" | "none" → its vkg_quant value, and back. */
int opt_quant(const char *cmd, const char *name, const char *value, int *out);
const char *cli_quant_name(int q);
/* The option name of a vkg_precision value ("bf16"). */
const char *cli_precision_name(int p);
/* The value of option argv[*i] (advancing *i), or a usage error when it is missing. */
int opt_value(const char *cmd, int argc, char **argv, int *i, const char **out);
/* "1,2,3" or "1 2 3" → malloc()ed ids. */
int opt_ids(const char *cmd, const char *name, const char *value, int32_t **ids, uint32_t *n);

#endif /* VKG_CLI_OPTIONS_H */
