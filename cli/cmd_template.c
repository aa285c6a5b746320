/* cli/cmd_template.c — `vkgpt template`: render a model's chat template for a conversation and print
 * the prompt exactly as the model would see it (nothing added), for comparison with other tools. */
#include "cli.h"
#include "options.h"
#include "setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct template_args {
    const char *dir, *messages, *tools, *template_file, *vars;
    bool add_generation_prompt;
} template_args;

static void print_template_help(void) {
    printf("usage: vkgpt template -m DIR --messages FILE.json [--tools FILE.json] [--add-generation-prompt]\n"
           "                      [--chat-template FILE] [--vars JSON]\n\n"
           "Renders the model's chat template (Jinja, as Hugging Face's apply_chat_template renders it) and\n"
           "prints the prompt exactly, with nothing added.\n"
           "  -m, --model DIR           model or tokenizer directory (tokenizer_config.json, chat_template.jinja\n"
           "      --tokenizer DIR       or chat_template.json), or a .gguf file (tokenizer.chat_template); same as -m\n"
           "      --messages FILE       JSON array of messages ('-' for stdin)\n"
           "      --tools FILE          JSON array of tools (the template's `tools`; None without it)\n"
           "      --add-generation-prompt  end with the header of the assistant's turn\n"
           "      --chat-template FILE  Jinja source to use instead of the model's template\n"
           "      --vars JSON           further template variables, e.g. '{\"enable_thinking\": false}'\n"
           "Exit status: 0 rendered, 1 the template failed or raised (its message on stderr), 2 usage.\n");
}

static int parse_template(int argc, char **argv, template_args *a) {
    const char *v;
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help"))
            return CLI_HELP;
        if (!strcmp(o, "--add-generation-prompt")) {
            a->add_generation_prompt = true;
            continue;
        }
        const char **slot = !strcmp(o, "-m") || !strcmp(o, "--model") || !strcmp(o, "--tokenizer") ? &a->dir
                           : !strcmp(o, "--messages")      ? &a->messages
                           : !strcmp(o, "--tools")         ? &a->tools
                           : !strcmp(o, "--chat-template") ? &a->template_file
                           : !strcmp(o, "--vars")          ? &a->vars
                                                           : NULL;
        if (!slot)
            return cli_usage_error("template", "unknown option '%s'", o);
        if (opt_value("template", argc, argv, &i, &v))
            return CLI_USAGE;
        *slot = v;
    }
    if (!a->dir && !a->template_file)
        return cli_usage_error("template", "no template: give -m DIR or --chat-template FILE");
    if (!a->messages)
        return cli_usage_error("template", "no conversation: give --messages FILE.json");
    return CLI_OK;
}

int cmd_template_parse(int argc, char **argv) {
    template_args a;
    return parse_template(argc, argv, &a);
}

int cmd_template(int argc, char **argv) {
    template_args a;
    int rc = parse_template(argc, argv, &a);
    if (rc == CLI_HELP)
        print_template_help();
    if (rc != CLI_OK)
        return rc == CLI_HELP ? CLI_OK : rc;
    size_t len;
    char *messages = cli_read_file(a.messages, &len), *tools = NULL;
    if (!messages) {
        fprintf(stderr, "vkgpt template: cannot read '%s'\n", a.messages);
        return CLI_FAILED;
    }
    if (a.tools && !(tools = cli_read_file(a.tools, &len))) {
        fprintf(stderr, "vkgpt template: cannot read '%s'\n", a.tools);
        free(messages);
        return CLI_FAILED;
    }
    vkg_template *t = NULL;
    vkg_status s = vkg_template_load(a.dir, a.template_file, &t);
    if (s != VKG_OK) {
        rc = cli_report("template: loading the chat template", s);
    } else {
        char *out = NULL;
        size_t out_len = 0;
        s = vkg_template_apply(t, messages, tools, a.add_generation_prompt, NULL, a.vars, &out, &out_len);
        if (s == VKG_ERROR_TEMPLATE_RAISED) {
            /* The template's own message (e.g. "Conversation roles must alternate"), as it wrote it. */
            fprintf(stderr, "vkgpt template: the template raised an exception: %s\n", vkg_last_error());
            rc = CLI_FAILED;
        } else if (s != VKG_OK) {
            rc = cli_report("template", s);
        } else if (fwrite(out, 1, out_len, stdout) != out_len || fflush(stdout) != 0) {
            fprintf(stderr, "vkgpt template: writing the prompt failed\n");
            rc = CLI_FAILED;
        }
        free(out);
    }
    vkg_template_free(t);
    free(messages);
    free(tools);
    return rc;
}
