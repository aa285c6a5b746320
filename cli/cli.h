/*
 * cli/cli.h — what the vkgpt subcommands share. The CLI uses only the public API (include/vkgpt.h);
 * it is the one place that prints for the user and chooses exit statuses:
 *   0 success, 1 a failure reported by the library, 2 a usage error, 130 interrupted (Ctrl-C).
 */
#ifndef VKG_CLI_H
#define VKG_CLI_H

#include "vkgpt.h"

enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2, CLI_INTERRUPTED = 130 };

/* Print "vkgpt: <what>: <status name>: <detail>" on stderr and return CLI_FAILED. */
int cli_report(const char *what, vkg_status s);
/* Print "vkgpt <cmd>: <message>" and a pointer to --help on stderr; return CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...);

int cmd_devices(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);

#endif /* VKG_CLI_H */
