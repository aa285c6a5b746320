/*
 * tests/cli_runner.h — run the built vkgpt binary as a user would (fork + exec, optional stdin text,
 * stdout and stderr captured) for the end-to-end CLI tests.
 */
#ifndef VKG_TESTS_CLI_RUNNER_H
#define VKG_TESTS_CLI_RUNNER_H

#include <stddef.h>

typedef struct cli_result {
    int status;    /* exit status, or 128 + signal number when killed by a signal */
    int signaled;  /* nonzero when the process died of a signal (a crash) */
    char *out;     /* captured stdout, NUL-terminated (malloc'd) */
    size_t out_len;
    char *err;     /* captured stderr, NUL-terminated (malloc'd) */
} cli_result;

/* Run VKGPT_BINARY with argv (NULL-terminated, without argv[0]); `input` (nullable) is fed on stdin;
 * `env` (nullable, NULL-terminated "K=V" strings) is added to the environment. Returns 0 or -1. */
int cli_run(const char *const *argv, const char *input, const char *const *env, cli_result *r);
/* The same with stdout and stderr on a pseudo-terminal (so isatty() is true for both), stdin from
 * /dev/null: what a user at a terminal sees, both streams in r->out (r->err is empty). The pty
 * passes bytes as written (no \n to \r\n). Returns 0 or -1. */
int cli_run_tty(const char *const *argv, const char *const *env, cli_result *r);
void cli_result_free(cli_result *r);

#endif /* VKG_TESTS_CLI_RUNNER_H */
