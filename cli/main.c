/* cli/main.c — `vkgpt <command> [options]`: finds the command and hands it the rest of argv. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command COMMANDS[] = {
    {"demo", cmd_demo, "generate with and without the KV cache on a synthetic model and compare"},
    {"run", cmd_run, "generate text from a prompt (-i for a chat-like loop)"},
    {"chat", cmd_chat, "a conversation in the model's chat template, the KV cache kept across turns"},
    {"devices", cmd_devices, "list Vulkan devices and their capabilities"},
    {"info", cmd_info, "what a model file holds (architecture, sizes, tensor types), without loading it"},
    {"bench", cmd_bench, "benchmarks: kv (the KV-cache table), gen (tokens/s), ops (every kernel vs the device's peaks)"},
    {"serve", cmd_serve, "an OpenAI-compatible HTTP server (/v1/completions, /v1/chat/completions)"},
    {"tokenize", cmd_tokenize, "print the token ids of a text"},
    {"detokenize", cmd_detokenize, "print the text of token ids"},
    {"template", cmd_template, "print a conversation rendered in the model's chat template"},
};

static void print_help(FILE *out) {
    fprintf(out, "vkgpt — transformer language models (GPT-2, Llama, Mistral, Qwen) on any Vulkan GPU\n\n"
                 "usage: vkgpt <command> [options]   (vkgpt <command> --help for its options)\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(out, "  %-12s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(out, "\nenvironment: VKG_DEVICE=<index> chooses the device; VKG_VALIDATION=1 turns on the "
                 "Khronos validation layer;\nVKG_DISABLE_FP16, VKG_DISABLE_COOPMAT(_KHR|_NV), "
                 "VKG_DISABLE_SUBGROUP_SIZE_CONTROL, VKG_DISABLE_INT_DOT,\nVKG_DISABLE_HOST_VISIBLE_VRAM, "
                 "VKG_NO_PIPELINE_CACHE turn features off (see README.md).\n");
}

int cli_report(const char *what, vkg_status s) {
    const char *detail = vkg_last_error();
    fprintf(stderr, "vkgpt: %s: %s%s%s\n", what, vkg_status_str(s), *detail ? ": " : "", detail);
    return CLI_FAILED;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vkgpt %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see `vkgpt %s --help`)\n", cmd);
    va_end(ap);
    return CLI_USAGE;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_help(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_help(stdout);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0)
            return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "vkgpt: unknown command '%s'\n\n", argv[1]);
    print_help(stderr);
    return CLI_USAGE;
}
