/*
 * cli/cli.h — what the vkgpt subcommands share. The CLI uses only the public API (include/vkgpt.h);
 * it is the one place that prints for the user and chooses exit statuses:
 *   0 success, 1 a failure reported by the library, 2 a usage error, 130 interrupted (Ctrl-C).
 */
#ifndef VKG_CLI_H
#define VKG_CLI_H

#include "vkgpt.h"

enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2, CLI_INTERRUPTED = 130 };
/* Returned by option parsers (never by a command) when --help was asked: the caller prints help. */
enum { CLI_HELP = -1 };

/* Print "vkgpt: <what>: <status name>: <detail>" on stderr and return CLI_FAILED. */
int cli_report(const char *what, vkg_status s);
/* Print "vkgpt <cmd>: <message>" and a pointer to --help on stderr; return CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...);

int cmd_devices(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_chat_parse(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_template(int argc, char **argv);

/* Option parsing alone, opening no device and reading no file (for the fuzz target
 * tests/fuzz/fuzz_cli_options.c): CLI_OK, CLI_USAGE after printing what is wrong, or CLI_HELP when
 * --help was given. Frees whatever it allocated. */
int cmd_run_parse(int argc, char **argv);
int cmd_demo_parse(int argc, char **argv);
int cmd_tokenize_parse(int argc, char **argv);
int cmd_detokenize_parse(int argc, char **argv);
int cmd_template_parse(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_serve(int argc, char **argv); /* cmd_serve.c; cmd_serve_parse there for a fuzz target */

#endif /* VKG_CLI_H */
