/* cli/cmd_tokenize.c — `vkgpt tokenize` and `vkgpt detokenize`: the tokenizer on its own. */
#include "cli.h"
#include "options.h"
#include "setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load(const char *cmd, const char *dir, vkg_tokenizer **tok) {
    vkg_status s = vkg_tokenizer_load(dir, tok);
    if (s != VKG_OK) {
        char what[64];
        snprintf(what, sizeof what, "%s: loading the tokenizer", cmd);
        return cli_report(what, s);
    }
    return CLI_OK;
}


static void print_tokenize_help(void) {
    printf("usage: vkgpt tokenize -m DIR [--no-special] [TEXT | --file F]\n\n"
           "Prints the token ids of TEXT (or of file F, '-' for stdin) space-separated on one line, as\n"
           "Hugging Face's tokenizer(TEXT) gives them: the special tokens the tokenizer adds (BOS for\n"
           "Llama 2) are included, and added tokens written in the text (<|im_start|>) become their ids.\n"
           "  -m, --model DIR       directory with tokenizer.json (+ tokenizer_config.json), or GPT-2's\n"
           "      --tokenizer DIR   vocab.json + merges.txt, or a .gguf file (its own tokenizer); the two\n"
           "                        options mean the same\n"
           "      --no-special      do not add special tokens (add_special_tokens=False)\n");
}

/* -m / --model / --tokenizer DIR: all three name the tokenizer directory here. */
static bool is_dir_option(const char *a) {
    return !strcmp(a, "-m") || !strcmp(a, "--model") || !strcmp(a, "--tokenizer");
}

static int parse_tokenize(int argc, char **argv, const char **dir, const char **file, const char **text,
                          bool *special) {
    const char *v;
    *dir = *file = *text = NULL;
    *special = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return CLI_HELP;
        if (!strcmp(argv[i], "--no-special")) {
            *special = false;
        } else if (is_dir_option(argv[i])) {
            if (opt_value("tokenize", argc, argv, &i, &v))
                return CLI_USAGE;
            *dir = v;
        } else if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--file")) {
            if (opt_value("tokenize", argc, argv, &i, &v))
                return CLI_USAGE;
            *file = v;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("tokenize", "unknown option '%s'", argv[i]);
        } else if (*text) {
            return cli_usage_error("tokenize", "give the text as one argument (quote it)");
        } else {
            *text = argv[i];
        }
    }
    if (!*dir)
        return cli_usage_error("tokenize", "no tokenizer: give -m DIR");
    if (!!*text + !!*file != 1)
        return cli_usage_error("tokenize", "give TEXT or --file F (one of them)");
    return CLI_OK;
}

int cmd_tokenize_parse(int argc, char **argv) {
    const char *dir, *file, *text;
    bool special;
    return parse_tokenize(argc, argv, &dir, &file, &text, &special);
}

int cmd_tokenize(int argc, char **argv) {
    const char *dir, *file, *text;
    bool special;
    int prc = parse_tokenize(argc, argv, &dir, &file, &text, &special);
    if (prc == CLI_HELP)
        print_tokenize_help();
    if (prc != CLI_OK)
        return prc == CLI_HELP ? CLI_OK : prc;
    vkg_tokenizer *tok = NULL;
    if (cli_check_model("tokenize", dir) != CLI_OK || load("tokenize", dir, &tok) != CLI_OK)
        return CLI_FAILED;
    size_t len = 0;
    char *buf = NULL;
    if (file) {
        if (!(buf = cli_read_file(file, &len))) {
            fprintf(stderr, "vkgpt tokenize: cannot read '%s'\n", file);
            vkg_tokenizer_free(tok);
            return CLI_FAILED;
        }
        text = buf;
    } else {
        len = strlen(text);
    }
    int32_t *ids = NULL;
    size_t n = 0;
    vkg_status s = text ? vkg_tokenizer_encode(tok, text, len, special, &ids, &n) : VKG_ERROR_OUT_OF_HOST_MEMORY;
    int rc = CLI_OK;
    if (s != VKG_OK) {
        rc = cli_report("tokenize", s);
    } else {
        for (size_t i = 0; i < n; i++)
            printf("%s%d", i ? " " : "", ids[i]);
        printf("\n");
    }
    free(ids);
    free(buf);
    vkg_tokenizer_free(tok);
    return rc;
}

/* Parse detokenize's arguments: *ids (malloc'd, *n of them; the caller frees it whatever the
 * result) and the tokenizer directory. */
static int parse_detokenize(int argc, char **argv, const char **dir, int32_t **ids, size_t *n,
                            bool *skip) {
    const char *v;
    size_t cap = 64;
    *dir = NULL;
    *skip = false;
    *n = 0;
    if (!(*ids = malloc(cap * sizeof **ids)))
        return cli_usage_error("detokenize", "out of memory");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return CLI_HELP;
        if (is_dir_option(argv[i])) {
            if (opt_value("detokenize", argc, argv, &i, &v))
                return CLI_USAGE;
            *dir = v;
            continue;
        }
        if (!strcmp(argv[i], "--skip-special")) {
            *skip = true;
            continue;
        }
        int32_t *part = NULL;
        uint32_t k = 0;
        if (opt_ids("detokenize", "ID", argv[i], &part, &k))
            return CLI_USAGE;
        while (*n + k > cap) {
            int32_t *grown = realloc(*ids, (cap *= 2) * sizeof **ids);
            if (!grown) {
                free(part);
                return cli_usage_error("detokenize", "out of memory");
            }
            *ids = grown;
        }
        memcpy(*ids + *n, part, k * sizeof **ids);
        *n += k;
        free(part);
    }
    if (!*dir)
        return cli_usage_error("detokenize", "no tokenizer: give -m DIR");
    if (*n == 0)
        return cli_usage_error("detokenize", "no token ids given");
    return CLI_OK;
}

int cmd_detokenize_parse(int argc, char **argv) {
    const char *dir;
    int32_t *ids;
    size_t n;
    bool skip;
    int rc = parse_detokenize(argc, argv, &dir, &ids, &n, &skip);
    free(ids);
    return rc;
}

int cmd_detokenize(int argc, char **argv) {
    const char *dir;
    int32_t *ids;
    size_t n;
    bool skip;
    int rc = parse_detokenize(argc, argv, &dir, &ids, &n, &skip);
    if (rc == CLI_HELP) {
        printf("usage: vkgpt detokenize -m DIR [--skip-special] ID...\n\nPrints the text of the token ids "
               "(each argument may also be a comma-separated list), as Hugging Face's tokenizer.decode(ids).\n"
               "  -m, --model DIR       tokenizer directory or .gguf file (also --tokenizer DIR)\n"
               "      --skip-special    leave out special tokens (skip_special_tokens=True)\n");
        free(ids);
        return CLI_OK;
    }
    vkg_tokenizer *tok = NULL;
    if (rc == CLI_OK && (rc = cli_check_model("detokenize", dir)) == CLI_OK)
        rc = load("detokenize", dir, &tok);
    if (rc == CLI_OK) {
        char *text = NULL;
        size_t len = 0;
        vkg_status s = vkg_tokenizer_decode(tok, ids, n, skip, &text, &len);
        if (s != VKG_OK) {
            rc = cli_report("detokenize", s);
        } else {
            fwrite(text, 1, len, stdout);
            printf("\n");
        }
        free(text);
    }
    vkg_tokenizer_free(tok);
    free(ids);
    return rc;
}
