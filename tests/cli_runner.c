/* tests/cli_runner.c — see cli_runner.h. */
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, unlockpt, ptsname */
#include "cli_runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
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

static void set_env(const char *const *env) {
    for (size_t i = 0; env && env[i]; i++) {
        char kv[512];
        snprintf(kv, sizeof kv, "%s", env[i]);
        char *eq = strchr(kv, '=');
        if (eq) {
            *eq = 0;
            setenv(kv, eq + 1, 1);
        }
    }
}

/* argv with VKGPT_BINARY in front (calloc'd; the strings are not copied). */
static char **full_argv(const char *const *argv) {
    size_t argc = 0;
    while (argv[argc])
        argc++;
    char **args = calloc(argc + 2, sizeof *args);
    if (!args)
        return NULL;
    args[0] = (char *)VKGPT_BINARY;
    for (size_t i = 0; i < argc; i++)
        args[i + 1] = (char *)argv[i];
    return args;
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
    char **args = full_argv(argv);
    if (!args)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fileno(in), 0);
        dup2(fileno(out), 1);
        dup2(fileno(err), 2);
        set_env(env);
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

int cli_run_tty(const char *const *argv, const char *const *env, cli_result *r) {
    memset(r, 0, sizeof *r);
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 || !ptsname(master)) {
        if (master >= 0)
            close(master);
        return -1;
    }
    char slave_name[256];
    snprintf(slave_name, sizeof slave_name, "%s", ptsname(master));
    char **args = full_argv(argv);
    if (!args) {
        close(master);
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        int slave = open(slave_name, O_RDWR);
        int null = open("/dev/null", O_RDONLY);
        if (slave < 0 || null < 0)
            _exit(127);
        struct termios t;
        if (tcgetattr(slave, &t) == 0) {
            t.c_oflag &= ~(tcflag_t)OPOST; /* bytes as written: no \n -> \r\n */
            tcsetattr(slave, TCSANOW, &t);
        }
        dup2(null, 0);
        dup2(slave, 1);
        dup2(slave, 2);
        close(master);
        set_env(env);
        execv(VKGPT_BINARY, args);
        _exit(127);
    }
    free(args);
    if (pid < 0) {
        close(master);
        return -1;
    }
    /* Read until every holder of the slave side is gone (EIO), so the child never blocks on a full
     * pty buffer; then collect its status. */
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (buf && n == cap) {
            char *grown = realloc(buf, (cap *= 2) + 1);
            if (!grown)
                free(buf);
            buf = grown;
        }
        if (!buf)
            break;
        ssize_t k = read(master, buf + n, cap - n);
        if (k > 0)
            n += (size_t)k;
        else if (k < 0 && errno == EINTR)
            continue;
        else
            break;
    }
    close(master);
    int ws = 0;
    if (waitpid(pid, &ws, 0) < 0) {
        free(buf);
        return -1;
    }
    r->signaled = WIFSIGNALED(ws);
    r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    if (buf)
        buf[n] = 0;
    r->out = buf;
    r->out_len = n;
    r->err = calloc(1, 1);
    return r->out && r->err ? 0 : -1;
}

void cli_result_free(cli_result *r) {
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}
