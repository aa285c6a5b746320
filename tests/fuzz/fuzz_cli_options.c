/*
 * fuzz_cli_options.c — libFuzzer target for the CLI's option parsing (cmd_*_parse in cli/cli.h):
 * the input is split at NUL bytes into argv; the first byte chooses the command (run, demo,
 * tokenize, detokenize). Parsing never opens a device or a file, so each input runs in
 * microseconds. A parser must return CLI_OK, CLI_USAGE or CLI_HELP — anything else, a crash, an
 * out-of-bounds read of argv or a leak is a finding. Usage messages go to /dev/null unless
 * VKG_FUZZ_VERBOSE is set (set it when reproducing a crash, to see the sanitizer's report).
 */
#include "cli.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_ARGS 64

static int null_fd = -1, saved_stderr = -1, saved_stdout = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (!getenv("VKG_FUZZ_VERBOSE")) {
        null_fd = open("/dev/null", O_WRONLY);
        saved_stderr = dup(2);
        saved_stdout = dup(1);
    }
    return 0;
}

static void quiet(int on) {
    if (null_fd < 0)
        return;
    fflush(stdout);
    fflush(stderr);
    dup2(on ? null_fd : saved_stderr, 2);
    dup2(on ? null_fd : saved_stdout, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    static int (*const parsers[])(int, char **) = {cmd_run_parse, cmd_demo_parse, cmd_tokenize_parse,
                                                   cmd_detokenize_parse, cmd_template_parse, cmd_chat_parse};
    static const char *const names[] = {"run", "demo", "tokenize", "detokenize", "template", "chat"};
    size_t which = data[0] % 6;
    /* Each argument its own exact-size allocation, so ASan catches reads past its NUL. */
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = strdup(names[which]);
    size_t at = 1;
    while (at < size && argc < MAX_ARGS + 1) {
        const uint8_t *end = memchr(data + at, 0, size - at);
        size_t n = end ? (size_t)(end - (data + at)) : size - at;
        argv[argc] = malloc(n + 1);
        memcpy(argv[argc], data + at, n);
        argv[argc++][n] = '\0';
        at += n + 1;
    }
    argv[argc] = NULL;
    quiet(1);
    int rc = parsers[which](argc, argv);
    quiet(0);
    if (rc != CLI_OK && rc != CLI_USAGE && rc != CLI_HELP)
        abort();
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return 0;
}
