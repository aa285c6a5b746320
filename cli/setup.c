/* cli/setup.c — device and model setup shared by the commands (see setup.h). */
#include "setup.h"

#include "cli.h"
#include "progress.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

int cli_check_model(const char *cmd, const char *path) {
    struct stat st;
    if (!path || stat(path, &st) == 0)
        return CLI_OK;
    int err = errno;
    fprintf(stderr, "vkgpt %s: no model at %s (%s)%s\n"
            "vkgpt %s: a model is a Hugging Face GPT-2 directory (config.json, model.safetensors, vocab.json, "
            "merges.txt) or a .safetensors file; README.md, \"Getting a model\", says how to download one\n",
            cmd, path, strerror(err), path[0] == '~' ? "; '~' is not expanded inside quotes" : "", cmd);
    return CLI_FAILED;
}

int setup_model(const char *cmd, const model_args *args, vkg_context **ctx, vkg_model **model) {
    *ctx = NULL;
    *model = NULL;
    if (cli_check_model(cmd, args->path) != CLI_OK)
        return CLI_FAILED;
    if (args->quiet)
        cli_progress_set_quiet(true);
    vkg_context_options co = vkg_context_default_options();
    co.device_index = args->device;
    vkg_status s = vkg_context_create(&co, ctx);
    if (s != VKG_OK)
        return cli_report("opening the Vulkan device", s);
    vkg_model_options mo = vkg_model_default_options();
    mo.weights = (vkg_precision)args->dtype;
    mo.quant = (vkg_quant)args->quant;
    cli_progress progress;
    cli_progress_begin(&progress, args->path ? "loading weights" : "generating synthetic weights", "MiB", 0, 1.0);
    mo.progress = cli_progress_bytes;
    mo.progress_user = &progress;
    const char *config = args->config ? args->config : "gpt-mini";
    if (args->path)
        s = vkg_model_load(*ctx, args->path, &mo, model);
    else
        s = vkg_model_synthetic(*ctx, config, args->seed, &mo, model);
    cli_progress_end(&progress);
    if (s == VKG_OK && !args->path && !args->quiet)
        fprintf(stderr, "vkgpt: synthetic %s: random weights, the text is noise\n", config);
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
