/*
 * cli/cmd_bench.c — `vkgpt bench <kv|gen|ops>`: finds the benchmark and hands it the rest of argv;
 * also the helpers the three share (JSON report header with device, driver and commit; medians).
 * The benchmarks themselves are in cmd_bench_kv.c, cmd_bench_gen.c and cmd_bench_ops.c.
 */
#include "cmd_bench.h"

#include "cli.h"
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef VKG_GIT_COMMIT
#define VKG_GIT_COMMIT "unknown"
#endif

static void print_help(FILE *out) {
    fprintf(out, "usage: vkgpt bench <kv|gen|ops> [options]   (vkgpt bench <name> --help for its options)\n\n"
                 "  kv    the KV-cache table: one generation step at each context length, with and without\n"
                 "        the cache (median ms, speedup); --json and --plot FILE.svg\n"
                 "  gen   end to end, like llama-bench: pp512 and tg128 tokens/s, decode GB/s and its\n"
                 "        fraction of the measured streaming-read bandwidth\n"
                 "  ops   every kernel at one config's shapes: GPU time, GB/s, GFLOP/s and the fraction of\n"
                 "        the device's peaks measured on the spot by probe kernels; --csv / --json\n\n"
                 "See bench/README.md for how to read the output.\n");
}

int cmd_bench(int argc, char **argv) {
    if (argc < 2) {
        print_help(stderr);
        return CLI_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        print_help(stdout);
        return CLI_OK;
    }
    if (!strcmp(sub, "kv"))
        return bench_kv(argc - 1, argv + 1);
    if (!strcmp(sub, "gen"))
        return bench_gen(argc - 1, argv + 1);
    if (!strcmp(sub, "ops"))
        return bench_ops(argc - 1, argv + 1);
    return cli_usage_error("bench", "unknown benchmark '%s' (kv, gen or ops)", sub);
}

const char *bench_commit(void) { return VKG_GIT_COMMIT; }

const char *bench_driver_line(const vkg_device_info *info, char *buf, size_t n) {
    snprintf(buf, n, "%s %s, Vulkan %u.%u.%u", info->driver_name, info->driver_info, info->api_version >> 22,
             (info->api_version >> 12) & 0x3ffu, info->api_version & 0xfffu);
    return buf;
}

json_t *bench_json_header(const vkg_device_info *info, const char *bench, int argc, char **argv) {
    char api[32], date[32], cmdline[1024] = "vkgpt bench";
    snprintf(api, sizeof api, "%u.%u.%u", info->api_version >> 22, (info->api_version >> 12) & 0x3ffu,
             info->api_version & 0xfffu);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    for (int i = 0; i < argc; i++) {
        size_t used = strlen(cmdline);
        snprintf(cmdline + used, sizeof cmdline - used, " %s", argv[i]);
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I}}", "bench", bench,
                     "commit", bench_commit(), "date", date, "command", cmdline, "device", "name", info->name,
                     "type", vkg_device_type_str(info->type), "driver_name", info->driver_name, "driver_info",
                     info->driver_info, "driver_version", (json_int_t)info->driver_version, "api_version", api,
                     "vendor_id", (json_int_t)info->vendor_id, "device_id", (json_int_t)info->device_id);
}

bool bench_json_write(const char *cmd, json_t *root, const char *path) {
    errno = 0;
    if (!root || json_dump_file(root, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER) != 0) {
        fprintf(stderr, "vkgpt bench %s: cannot write %s: %s\n", cmd, path, errno ? strerror(errno) : "JSON error");
        return false;
    }
    return true;
}

json_t *bench_json_doubles(const double *v, uint32_t n, double scale) {
    json_t *a = json_array();
    for (uint32_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_real(v[i] * scale));
    return a;
}

int bench_option_value(const char *cmd, const char *const *known, int argc, char **argv, int *i, const char **v) {
    for (const char *const *k = known; *k; k++)
        if (!strcmp(argv[*i], *k))
            return opt_value(cmd, argc, argv, i, v);
    return cli_usage_error(cmd, "unknown option '%s'", argv[*i]);
}

double bench_stdev(const double *v, uint32_t n) {
    if (n < 2)
        return 0;
    double mean = 0, ss = 0;
    for (uint32_t i = 0; i < n; i++)
        mean += v[i];
    mean /= n;
    for (uint32_t i = 0; i < n; i++)
        ss += (v[i] - mean) * (v[i] - mean);
    return sqrt(ss / (n - 1));
}

void bench_free_names(char **names, uint32_t n) {
    for (uint32_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

int bench_parse_names(const char *cmd, const char *opt, const char *value, char ***names, uint32_t *n) {
    char **out = NULL;
    uint32_t count = 0;
    const char *p = value;
    while (*p) {
        size_t len = strcspn(p, ", ");
        if (len) {
            char **grown = realloc(out, (count + 1) * sizeof *out);
            char *name = grown ? malloc(len + 1) : NULL;
            if (!name) {
                bench_free_names(grown ? grown : out, count);
                return cli_usage_error(cmd, "%s: out of memory", opt);
            }
            memcpy(name, p, len);
            name[len] = '\0';
            out = grown;
            out[count++] = name;
        }
        p += len;
        if (*p)
            p++;
    }
    if (count == 0)
        return cli_usage_error(cmd, "%s: empty list", opt);
    *names = out;
    *n = count;
    return 0;
}
