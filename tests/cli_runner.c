/* tests/cli_runner.c — see cli_runner.h. */
#include "cli_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef VKGPT_BINARY
#error "VKGPT_BINARY must name the vkgpt executable"
#endif

static char *read_all(FILE *f, size_t *len) {
    rewind(f);
    size_t cap = 4096, n = 0;
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
    if (buf)
        buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

int cli_run(const char *const *argv, const char *input, const char *const *env, cli_result *r) {
    memset(r, 0, sizeof *r);
    FILE *out = tmpfile(), *err = tmpfile(), *in = tmpfile();
    if (!out || !err || !in)
        return -1;
    if (input)
        fputs(input, in);
    fflush(in);
    rewind(in);
    size_t argc = 0;
    while (argv[argc])
        argc++;
    char **args = calloc(argc + 2, sizeof *args);
    args[0] = (char *)VKGPT_BINARY;
    for (size_t i = 0; i < argc; i++)
        args[i + 1] = (char *)argv[i];
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fileno(in), 0);
        dup2(fileno(out), 1);
        dup2(fileno(err), 2);
        for (size_t i = 0; env && env[i]; i++) {
            char kv[512];
            snprintf(kv, sizeof kv, "%s", env[i]);
            char *eq = strchr(kv, '=');
            if (eq) {
                *eq = 0;
                setenv(kv, eq + 1, 1);
            }
        }
        execv(VKGPT_BINARY, args);
        _exit(127);
    }
    free(args);
    int ws = 0;
    if (pid < 0 || waitpid(pid, &ws, 0) < 0)
        return -1;
    r->signaled = WIFSIGNALED(ws);
    r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    r->out = read_all(out, &r->out_len);
    r->err = read_all(err, NULL);
    fclose(out);
    fclose(err);
    fclose(in);
    return r->out && r->err ? 0 : -1;
}

void cli_result_free(cli_result *r) {
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}
