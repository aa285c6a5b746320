/* cli/options.c — option value parsing for the vkgpt commands (see options.h). */
#include "options.h"

#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int opt_value(const char *cmd, int argc, char **argv, int *i, const char **out) {
    if (*i + 1 >= argc)
        return cli_usage_error(cmd, "option %s needs a value", argv[*i]);
    *out = argv[++*i];
    return 0;
}

int opt_u64(const char *cmd, const char *name, const char *value, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    if (!*value || *value == '-' || *value == '+')
        return cli_usage_error(cmd, "%s: '%s' is not a non-negative integer", name, value);
    unsigned long long v = strtoull(value, &end, 10);
    if (errno || *end)
        return cli_usage_error(cmd, "%s: '%s' is not a non-negative integer", name, value);
    *out = v;
    return 0;
}

int opt_u32(const char *cmd, const char *name, const char *value, uint32_t min, uint32_t max, uint32_t *out) {
    uint64_t v = 0;
    if (opt_u64(cmd, name, value, &v))
        return CLI_USAGE;
    if (v < min || v > max)
        return cli_usage_error(cmd, "%s: %s is outside %u..%u", name, value, min, max);
    *out = (uint32_t)v;
    return 0;
}

int opt_i32(const char *cmd, const char *name, const char *value, int32_t min, int32_t max, int32_t *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (!*value || errno || *end)
        return cli_usage_error(cmd, "%s: '%s' is not an integer", name, value);
    if (v < min || v > max)
        return cli_usage_error(cmd, "%s: %s is outside %d..%d", name, value, min, max);
    *out = (int32_t)v;
    return 0;
}

int opt_float(const char *cmd, const char *name, const char *value, double min, double max, float *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(value, &end);
    if (!*value || errno || *end || !isfinite(v))
        return cli_usage_error(cmd, "%s: '%s' is not a number", name, value);
    if (v < min || v > max)
        return cli_usage_error(cmd, "%s: %s is outside %g..%g", name, value, min, max);
    *out = (float)v;
    return 0;
}

int opt_precision(const char *cmd, const char *name, const char *value, int *out) {
    if (strcmp(value, "f32") == 0)
        *out = 0;
    else if (strcmp(value, "f16") == 0)
        *out = 1;
    else
        return cli_usage_error(cmd, "%s: '%s' is not f32 or f16", name, value);
    return 0;
}

int opt_weights(const char *cmd, const char *name, const char *value, int *out) {
    static const char *const names[] = {"f32", "f16", "bf16", "auto"}; /* vkg_precision order */
    for (int i = 0; i < 4; i++)
        if (strcmp(value, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return cli_usage_error(cmd, "%s: '%s' is not f32, f16, bf16 or auto", name, value);
}

int opt_quant(const char *cmd, const char *name, const char *value, int *out) {
    static const char *const names[] = {"none", "q8_0", "q6_k", "q5_k", "q4_k", "q4_0"}; /* vkg_quant order */
    for (int i = 0; i < 6; i++)
        if (strcmp(value, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return cli_usage_error(cmd, "%s: '%s' is not one of q8_0, q6_k, q5_k, q4_k, q4_0 or none", name, value);
}

const char *cli_quant_name(int q) {
    static const char *const names[] = {"none", "q8_0", "q6_k", "q5_k", "q4_k", "q4_0"};
    return q >= 0 && q < 6 ? names[q] : "?";
}

const char *cli_precision_name(int p) {
    static const char *const names[] = {"f32", "f16", "bf16", "auto"};
    return p >= 0 && p < 4 ? names[p] : "?";
}

int opt_ids(const char *cmd, const char *name, const char *value, int32_t **ids, uint32_t *n) {
    size_t cap = 16, count = 0;
    int32_t *out = malloc(cap * sizeof *out);
    if (!out)
        return cli_usage_error(cmd, "%s: out of memory", name);
    const char *p = value;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        if (!*p)
            break;
        char *end = NULL;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || (*end && *end != ',' && *end != ' ') || v < INT32_MIN || v > INT32_MAX) {
            free(out);
            return cli_usage_error(cmd, "%s: '%s' is not a list of token ids (e.g. 464,3290,318)", name, value);
        }
        if (count == cap) {
            int32_t *grown = realloc(out, (cap *= 2) * sizeof *out);
            if (!grown) {
                free(out);
                return cli_usage_error(cmd, "%s: out of memory", name);
            }
            out = grown;
        }
        out[count++] = (int32_t)v;
        p = end;
    }
    if (count == 0) {
        free(out);
        return cli_usage_error(cmd, "%s: no token ids given", name);
    }
    *ids = out;
    *n = (uint32_t)count;
    return 0;
}
