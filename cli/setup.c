/* cli/setup.c — device and model setup shared by the commands (see setup.h). */
#include "setup.h"

#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *cli_read_file(const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *grown = realloc(buf, (cap *= 2) + 1);
        if (!grown)
            free(buf);
        buf = grown;
    }
    bool failed = ferror(f);
    if (f != stdin)
        fclose(f);
    if (failed || !buf) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* A one-line progress bar on stderr, only when stderr is a terminal. */
static void show_progress(uint64_t done, uint64_t total, void *user) {
    int *last = user;
    int pct = total ? (int)(done * 100 / total) : 100;
    if (pct == *last)
        return;
    *last = pct;
    fprintf(stderr, "\rvkgpt: uploading weights %3d%% (%llu / %llu MiB)", pct,
            (unsigned long long)(done >> 20), (unsigned long long)(total >> 20));
    if (done >= total)
        fputc('\n', stderr);
    fflush(stderr);
}

int setup_model(const char *cmd, const model_args *args, vkg_context **ctx, vkg_model **model) {
    *ctx = NULL;
    *model = NULL;
    vkg_context_options co = vkg_context_default_options();
    co.device_index = args->device;
    vkg_status s = vkg_context_create(&co, ctx);
    if (s != VKG_OK)
        return cli_report("opening the Vulkan device", s);
    vkg_model_options mo = vkg_model_default_options();
    mo.weights = (vkg_precision)args->dtype;
    mo.quant = (vkg_quant)args->quant;
    int last = -1;
    if (isatty(STDERR_FILENO)) {
        mo.progress = show_progress;
        mo.progress_user = &last;
    }
    if (args->path)
        s = vkg_model_load(*ctx, args->path, &mo, model);
    else
        s = vkg_model_synthetic(*ctx, args->config ? args->config : "gpt-mini", args->seed, &mo, model);
    if (s != VKG_OK) {
        char what[300];
        snprintf(what, sizeof what, "%s: loading the model", cmd);
        vkg_context_destroy(*ctx);
        *ctx = NULL;
        return cli_report(what, s);
    }
    return CLI_OK;
}

const char *describe_model(const model_args *args, const vkg_model *m, char *buf, size_t n) {
    const char *name = args->path ? args->path : args->config ? args->config : "gpt-mini";
    snprintf(buf, n, "%s (%.1fM params)", name, (double)vkg_model_param_count(m) / 1e6);
    return buf;
}
