/*
 * cli/cmd_bench.h — what the `vkgpt bench` subcommands share (cmd_bench*.c): the device and commit
 * record of a JSON report, medians, the SVG plot. Not used by the other commands.
 */
#ifndef VKG_CLI_CMD_BENCH_H
#define VKG_CLI_CMD_BENCH_H

#include "vkgpt.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

int bench_kv(int argc, char **argv);
int bench_gen(int argc, char **argv);
int bench_ops(int argc, char **argv);

/* The git commit the CLI was configured from ("unknown" outside a git checkout). */
const char *bench_commit(void);
/* "llvmpipe (LLVM 15.0.6, 256 bits)" + driver as one line: "<name> (<driver_name> <driver_info>)". */
const char *bench_driver_line(const vkg_device_info *info, char *buf, size_t n);
/* {"name", "type", "driver_name", "driver_info", "driver_version", "api_version", "vendor_id",
 * "device_id"} of the device, plus "commit", "date" (UTC) and "command" (argv joined): the header of
 * every bench JSON report. New reference owned by the caller. */
json_t *bench_json_header(const vkg_device_info *info, const char *bench, int argc, char **argv);
/* Write `root` to `path` (indented); prints the failure and returns false on an error. */
bool bench_json_write(const char *cmd, json_t *root, const char *path);
/* A JSON array of n doubles. */
json_t *bench_json_doubles(const double *v, uint32_t n, double scale);

/* The value of option argv[*i] (advancing *i) when it is one of `known` (NULL-terminated); a usage
 * error naming the option when it is unknown or its value is missing. */
int bench_option_value(const char *cmd, const char *const *known, int argc, char **argv, int *i, const char **v);

/* Sample standard deviation (0 for n < 2). */
double bench_stdev(const double *v, uint32_t n);

/* "a,b,c" → malloc()ed array of strdup'ed names (usage error naming the option when empty). */
int bench_parse_names(const char *cmd, const char *opt, const char *value, char ***names, uint32_t *n);
void bench_free_names(char **names, uint32_t n);

/* One line of an SVG plot: y against x, both drawn on log scales. */
typedef struct plot_series {
    const char *label;
    const double *x, *y;
    uint32_t n;
    const char *color; /* SVG colour, e.g. "#1f77b4" */
    bool dashed;
} plot_series;

/* Write a log-log line chart with axes, tick labels, grid, title and legend to `path`. Returns false
 * (errno set) when the file cannot be written. */
bool plot_write_svg(const char *path, const char *title, const char *subtitle, const char *xlabel,
                    const char *ylabel, const plot_series *series, uint32_t n_series);

#endif /* VKG_CLI_CMD_BENCH_H */
