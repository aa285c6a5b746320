/*
 * cli/cmd_info.c — `vkgpt info -m PATH`: what a model holds (format, architecture, the neutral
 * description vkgpt runs it as, tensor types and sizes, memory at a given context), without loading
 * it onto a device. Tokenizer and chat template lines come from the tokenizer and template layers.
 */
#include "cli.h"
#include "options.h"

#include <stdio.h>
#include <string.h>

static void print_help(void) {
    printf("usage: vkgpt info -m PATH [-c N]\n\n"
           "Prints what a model directory (config.json + safetensors), .safetensors or .gguf file holds:\n"
           "architecture, sizes, tensor types, and the KV cache a context of N positions needs (default:\n"
           "the model's context, at most 4096). Nothing is loaded onto a device.\n");
}

static const char *yes(bool b) { return b ? "yes" : "no"; }

static void print_config(const vkg_model_config *c, uint32_t n_ctx) {
    printf("family: %s\n", c->family);
    printf("layers %u, width %u, heads %u, K/V heads %u, head_dim %u, FFN %u (%s), vocabulary %u, context %u\n",
           c->n_layer, c->d_model, c->n_head, c->n_kv_head, c->head_dim, c->d_ff,
           c->gated_mlp ? "gated, SiLU" : c->act == VKG_ACT_SILU ? "SiLU" : "GELU", c->vocab_size, c->n_positions);
    printf("norm: %s, eps %g\n", c->norm == VKG_NORM_RMSNORM ? "RMSNorm" : "LayerNorm", c->norm_eps);
    if (c->pos == VKG_POS_ROPE) {
        static const char *const scaling[] = {"none", "linear", "llama3", "per-dimension factors (rope_freqs)"};
        printf("positions: RoPE, theta %g, %s pairs, scaling %s", c->rope.theta,
               c->rope.pairing == VKG_ROPE_HALF ? "rotate-half" : "adjacent", scaling[c->rope.scaling]);
        if (c->rope.scaling == VKG_ROPE_SCALING_FREQ_FACTORS)
            printf(" (%g .. %g)", c->rope.freq_factors[0], c->rope.freq_factors[c->head_dim / 2 - 1]);
        else if (c->rope.scaling)
            printf(" (factor %g)", c->rope.factor);
        printf("\n");
    } else {
        printf("positions: learned table\n");
    }
    printf("biases: q/k/v %s, o %s, MLP %s; q/k norm %s; LM head %s; sliding window %u\n", yes(c->qkv_bias),
           yes(c->o_bias), yes(c->mlp_bias), yes(c->qk_norm), c->tied_lm_head ? "tied to the embedding" : "separate",
           c->sliding_window);
    printf("bos %d, eos", c->bos_token_id);
    for (uint32_t i = 0; i < c->n_eos; i++)
        printf(" %d", c->eos_token_ids[i]);
    printf(c->n_eos ? "\n" : " none\n");
    uint32_t ctx = n_ctx ? n_ctx : (c->n_positions < 4096 ? c->n_positions : 4096);
    double kv = 2.0 * c->n_layer * ctx * c->n_kv_head * c->head_dim;
    printf("KV cache for %u positions: %.1f MiB f32, %.1f MiB f16\n", ctx, kv * 4 / 1048576.0, kv * 2 / 1048576.0);
}

/* A role's token as "ID (TEXT)", or "none". */
static void print_role(const char *name, const vkg_tokenizer *tok, vkg_token_role role) {
    int32_t id = vkg_tokenizer_role_id(tok, role);
    const char *text = vkg_tokenizer_role_text(tok, role);
    if (id >= 0)
        printf("%s %d (%s)", name, (int)id, text ? text : "");
    else
        printf("%s none", name);
}

/* The tokenizer and chat template lines: of the file itself for a .gguf, else of the model's
 * directory. Neither is required: their absence (or a failure to load) is reported, not an error. */
static void print_tokenizer(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    size_t n = strlen(dir);
    if (n > 12 && strcmp(dir + n - 12, ".safetensors") == 0) {
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(dir, sizeof dir, ".");
    }
    vkg_tokenizer *tok = NULL;
    vkg_status s = vkg_tokenizer_load(dir, &tok);
    if (s != VKG_OK) {
        printf("tokenizer: none (%s)\n", vkg_last_error());
    } else {
        printf("tokenizer: %s\n", vkg_tokenizer_summary(tok));
        printf("tokenizer vocabulary: %zu tokens; ", vkg_tokenizer_vocab_size(tok));
        print_role("bos", tok, VKG_TOKEN_BOS);
        printf(", ");
        print_role("eos", tok, VKG_TOKEN_EOS);
        printf("; adds bos: %s\n", yes(vkg_tokenizer_adds_bos(tok)));
        vkg_tokenizer_free(tok);
    }
    vkg_template *t = NULL;
    s = vkg_template_load(dir, NULL, &t);
    if (s == VKG_OK)
        printf("chat template: yes\n");
    else if (s == VKG_ERROR_IO)
        printf("chat template: none\n");
    else
        printf("chat template: present, but it does not load (%s)\n", vkg_last_error());
    vkg_template_free(t);
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    uint32_t n_ctx = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            print_help();
            return CLI_OK;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (opt_value("info", argc, argv, &i, &v))
                return CLI_USAGE;
            path = v;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
            if (opt_value("info", argc, argv, &i, &v) || opt_u32("info", a, v, 1, 1u << 24, &n_ctx))
                return CLI_USAGE;
        } else {
            return cli_usage_error("info", "unknown option '%s'", a);
        }
    }
    if (!path)
        return cli_usage_error("info", "no model: give -m PATH");
    vkg_model_info info;
    vkg_status s = vkg_model_inspect(path, &info);
    if (s != VKG_OK)
        return cli_report("info", s);
    printf("model: %s (%s)\n", path, info.format);
    printf("architecture: %s\n", info.architecture[0] ? info.architecture : "(none)");
    printf("tensors: %llu, %.1f MiB:", (unsigned long long)info.n_tensors, info.tensor_bytes / 1048576.0);
    for (uint32_t i = 0; i < info.n_types; i++)
        printf(" %s x%llu (%.1f MiB)%s", info.types[i].name, (unsigned long long)info.types[i].count,
               info.types[i].bytes / 1048576.0, i + 1 < info.n_types ? "," : "");
    printf("\n");
    if (info.has_weights)
        print_config(&info.config, n_ctx);
    else
        printf("weights: none (a vocabulary-only file)\n");
    print_tokenizer(path);
    return CLI_OK;
}
