/*
 * bench_tokenizer.c — tokenizer throughput on one core: for each tokenizer, encodes ~4 MB of
 * English-like text and decodes the ids back, several runs, and prints the load time and the
 * median and best MB/s. Not a test (ctest does not run it) and not a model benchmark.
 *
 * The text is sentences of a built-in paragraph in a seeded random order, where one word in ten
 * is replaced by a made-up word of random syllables (so that the per-call piece cache does not
 * see only a few hundred distinct words, as real text of this size would not either).
 *
 * Usage: bench_tokenizer [--runs N] [model_dir...]
 *   Without directories: GPT-2 ($VKG_TEST_SOURCE_DIR/../shared/gpt2-tokenizer, when there) and
 *   the Llama 2, Llama 3 and Qwen3 tokenizers of tests/data (unpacked in the build tree).
 *   Runs defaults to 7.
 */
#include "tokenizer/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const sentences[] = {
    "The quick brown fox jumps over the lazy dog, and the dog doesn't seem to mind at all.",
    "In 1969, astronauts landed on the Moon; it was a moment that millions watched live.",
    "She said, \"We'll meet at 10:30 tomorrow morning,\" but nobody knew where exactly.",
    "Machine learning models are trained on large datasets, often with billions of tokens.",
    "The committee's report, published on March 3rd, recommended several changes to the plan.",
    "Prices rose by 4.5% last year, while wages increased by only 2.1% on average.",
    "He walked slowly down the narrow street, looking at the old houses and quiet gardens.",
    "It's not clear whether the new policy will work, but they're hopeful it might.",
    "Water boils at 100 degrees Celsius at sea level, and freezes at 0 degrees.",
    "The library was open until nine o'clock, so students often stayed late to study.",
    "After the storm, the river flooded the fields and several roads were closed for days.",
    "Researchers found that people who sleep well tend to remember new information better.",
    "\"I can't believe it's already December,\" she laughed, looking out at the snow.",
    "The company announced a new product line, with shipments expected in the second quarter.",
    "Music, art and literature have always reflected the hopes and fears of their time.",
    "Most of the town's residents had never seen anything like it before that summer.",
};

static const char *const syllables[] = {"ka", "lo", "mi", "ne", "tor", "ex", "ran", "vel", "qu",
                                        "is", "ph", "ar", "ung", "st", "bre", "zo"};

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next_rand(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 33);
}

/* Appends sentences until `target` bytes, replacing one word in ten by a made-up one. */
static char *make_text(size_t target, size_t *len) {
    char *t = malloc(target + 512);
    if (!t)
        return NULL;
    size_t n = 0;
    while (n < target) {
        const char *s = sentences[next_rand() % (sizeof sentences / sizeof sentences[0])];
        while (*s) {
            const char *w = s;
            while (*s && *s != ' ')
                s++;
            if (next_rand() % 10 == 0 && s - w > 2) {
                int k = 1 + (int)(next_rand() % 4);
                while (k--) {
                    const char *y = syllables[next_rand() % 16];
                    memcpy(t + n, y, strlen(y));
                    n += strlen(y);
                }
            } else {
                memcpy(t + n, w, (size_t)(s - w));
                n += (size_t)(s - w);
            }
            if (*s == ' ')
                t[n++] = *s++;
        }
        t[n++] = next_rand() % 5 ? ' ' : '\n';
    }
    *len = n;
    return t;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Loads, encodes and decodes with one tokenizer; prints a paragraph. */
static int bench_one(const char *dir, const char *text, size_t len, int runs) {
    double t0 = vkg_bench_now();
    vkg_tokenizer *tok;
    if (vkg_tokenizer_load(dir, &tok) != VKG_OK) {
        fprintf(stderr, "bench_tokenizer: %s\n", vkg_last_error());
        return 1;
    }
    double load_s = vkg_bench_now() - t0;
    size_t jit = 0;
    for (size_t i = 0; i < tok->n_pre && !jit; i++)
        if (tok->pre[i].re)
            pcre2_pattern_info(tok->pre[i].re, PCRE2_INFO_JITSIZE, &jit);

    double *enc_mbs = malloc((size_t)runs * sizeof *enc_mbs);
    double *dec_mbs = malloc((size_t)runs * sizeof *dec_mbs);
    double *enc_cpu = malloc((size_t)runs * sizeof *enc_cpu);
    if (!enc_mbs || !dec_mbs || !enc_cpu)
        return 1;
    size_t n_ids = 0;
    for (int r = 0; r < runs; r++) {
        int32_t *ids;
        char *back;
        size_t back_len;
        double a = vkg_bench_now(), ca = (double)clock() / CLOCKS_PER_SEC;
        if (vkg_tokenizer_encode(tok, text, len, false, &ids, &n_ids) != VKG_OK) {
            fprintf(stderr, "bench_tokenizer: %s\n", vkg_last_error());
            return 1;
        }
        double b = vkg_bench_now(), cb = (double)clock() / CLOCKS_PER_SEC;
        if (vkg_tokenizer_decode(tok, ids, n_ids, false, &back, &back_len) != VKG_OK ||
            back_len != len || memcmp(back, text, len) != 0) {
            fprintf(stderr, "bench_tokenizer: %s: decode(encode(text)) != text\n", dir);
            return 1;
        }
        double c = vkg_bench_now();
        enc_mbs[r] = (double)len / 1e6 / (b - a);
        enc_cpu[r] = (double)len / 1e6 / (cb - ca);
        dec_mbs[r] = (double)len / 1e6 / (c - b);
        free(ids);
        free(back);
    }
    qsort(enc_mbs, (size_t)runs, sizeof *enc_mbs, cmp_double);
    qsort(dec_mbs, (size_t)runs, sizeof *dec_mbs, cmp_double);
    qsort(enc_cpu, (size_t)runs, sizeof *enc_cpu, cmp_double);
    printf("tokenizer: %s (load %.0f ms, PCRE2 %d.%d, JIT %s)\n", dir, load_s * 1e3, PCRE2_MAJOR,
           PCRE2_MINOR, jit ? "on" : "off");
    printf("  text: %.2f MB -> %zu tokens (%.2f bytes/token), %d runs\n", (double)len / 1e6, n_ids,
           (double)len / (double)n_ids, runs);
    printf("  encode: median %.2f MB/s, best %.2f MB/s (per second of CPU: median %.2f MB/s; the wall "
           "clock counts time other processes take)\n", enc_mbs[runs / 2], enc_mbs[runs - 1],
           enc_cpu[runs / 2]);
    printf("  decode: median %.1f MB/s, best %.1f MB/s\n", dec_mbs[runs / 2], dec_mbs[runs - 1]);
    free(enc_mbs);
    free(dec_mbs);
    free(enc_cpu);
    vkg_tokenizer_free(tok);
    return 0;
}

int main(int argc, char **argv) {
    int runs = 7, first_dir = 1;
    if (argc > 2 && !strcmp(argv[1], "--runs")) {
        runs = atoi(argv[2]);
        first_dir = 3;
    }
    if (runs < 1 || runs > 1000)
        runs = 7;
    char dirs[4][4096];
    const char *list[64];
    int n = 0;
    for (int i = first_dir; i < argc && n < 64; i++)
        list[n++] = argv[i];
    if (n == 0) {
        const char *src = getenv("VKG_TEST_SOURCE_DIR");
        snprintf(dirs[0], sizeof dirs[0], "%s/../shared/gpt2-tokenizer", src ? src : "..");
        static const char *fam[3] = {"llama2", "llama3", "qwen3"};
        for (int f = 0; f < 3; f++)
            snprintf(dirs[f + 1], sizeof dirs[f + 1], "%s/%s", VKG_TOKENIZERS_DIR, fam[f]);
        vkg_tokenizer *probe;
        for (int k = 0; k < 4; k++)
            if (k > 0 || vkg_tokenizer_load(dirs[0], &probe) == VKG_OK) {
                if (k == 0)
                    vkg_tokenizer_free(probe);
                list[n++] = dirs[k];
            }
    }
    size_t len;
    char *text = make_text((size_t)4 << 20, &len);
    if (!text)
        return 1;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++)
        rc = bench_one(list[i], text, len, runs);
    free(text);
    return rc;
}
