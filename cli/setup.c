/* cli/setup.c — device and model setup shared by the commands (see setup.h). */
#include "setup.h"

#include "cli.h"
#include "options.h"
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

gen_args gen_args_defaults(uint32_t n_predict) {
    gen_args g = {.model = {.device = -1, .dtype = VKG_PRECISION_AUTO}, .n_predict = n_predict,
                  .sampling = vkg_sampler_defaults()};
    g.sampling.temperature = 0.8f;
    g.sampling.top_k = 40;
    g.sampling.top_p = 0.95f;
    g.sampling.min_p = 0.05f;
    return g;
}

int gen_args_option(const char *cmd, int argc, char **argv, int *i, gen_args *g) {
    const char *a = argv[*i], *v = NULL;
    bool flag = !strcmp(a, "-q") || !strcmp(a, "--quiet");
    static const char *const with_value[] = {"-m", "--model", "--config", "--tokenizer", "--dtype", "--quant",
                                             "--kv-dtype", "-c", "--ctx-size", "--device", "-n", "--n-predict",
                                             "--temp", "--top-k", "--top-p", "--min-p", "--repeat-penalty",
                                             "--seed"};
    bool known = flag;
    for (size_t k = 0; !known && k < sizeof with_value / sizeof with_value[0]; k++)
        known = !strcmp(a, with_value[k]);
    if (!known)
        return 0;
    if (flag) {
        g->quiet = g->model.quiet = true;
        return 1;
    }
    if (opt_value(cmd, argc, argv, i, &v))
        return CLI_USAGE;
    uint32_t d = 0;
    int bad = 0;
    if (!strcmp(a, "-m") || !strcmp(a, "--model")) g->model.path = v;
    else if (!strcmp(a, "--config")) g->model.config = v;
    else if (!strcmp(a, "--tokenizer")) g->tokenizer_dir = v;
    else if (!strcmp(a, "--dtype")) bad = opt_weights(cmd, a, v, &g->model.dtype);
    else if (!strcmp(a, "--quant")) bad = opt_quant(cmd, a, v, &g->model.quant);
    else if (!strcmp(a, "--kv-dtype")) bad = opt_precision(cmd, a, v, &g->kv_dtype);
    else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) bad = opt_u32(cmd, a, v, 1, 1u << 24, &g->n_ctx);
    else if (!strcmp(a, "--device")) { bad = opt_u32(cmd, a, v, 0, 1024, &d); g->model.device = (int)d; }
    else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) bad = opt_u32(cmd, a, v, 1, 1u << 24, &g->n_predict);
    else if (!strcmp(a, "--temp")) bad = opt_float(cmd, a, v, 0, 100, &g->sampling.temperature);
    else if (!strcmp(a, "--top-k")) bad = opt_i32(cmd, a, v, 0, 1 << 24, &g->sampling.top_k);
    else if (!strcmp(a, "--top-p")) bad = opt_float(cmd, a, v, 0, 1, &g->sampling.top_p);
    else if (!strcmp(a, "--min-p")) bad = opt_float(cmd, a, v, 0, 1, &g->sampling.min_p);
    else if (!strcmp(a, "--repeat-penalty")) bad = opt_float(cmd, a, v, 1e-3, 100, &g->sampling.repetition_penalty);
    else bad = opt_u64(cmd, a, v, &g->sampling.seed); /* --seed */
    return bad ? CLI_USAGE : 1;
}

const char *cli_tokenizer_dir(const char *model_path, const char *tokenizer_dir, char *buf, size_t n) {
    if (tokenizer_dir || !model_path)
        return tokenizer_dir;
    snprintf(buf, n, "%s", model_path);
    size_t len = strlen(buf);
    if (len > 12 && strcmp(buf + len - 12, ".safetensors") == 0) {
        char *slash = strrchr(buf, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(buf, n, ".");
    }
    return buf;
}

bool cli_greedy_on_device(const vkg_sampler_params *p) {
    return p->temperature == 0 && p->repetition_penalty == 1.0f;
}

bool cli_ends_sequence(const vkg_model *m, const vkg_tokenizer *tok, int32_t id) {
    const vkg_model_config *c = vkg_model_get_config(m);
    for (uint32_t i = 0; i < c->n_eos; i++)
        if (c->eos_token_ids[i] == id)
            return true;
    const int32_t *ends = NULL;
    size_t n = tok ? vkg_tokenizer_end_ids(tok, &ends) : 0;
    for (size_t i = 0; i < n; i++)
        if (ends[i] == id)
            return true;
    return false;
}
