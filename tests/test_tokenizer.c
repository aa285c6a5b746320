/*
 * test_tokenizer.c — the GPT-2 byte-level BPE tokenizer against independent references:
 *   - every case of ../shared/gpt2-tokenizer/encodings.json (ids from the gpt-3-encoder package);
 *   - own cases whose ids were computed by a separate implementation of GPT-2's reference
 *     algorithm (Python 3, `regex` module for the pattern, the original O(n^2) BPE loop) over the
 *     same vocab.json / merges.txt;
 *   - round trips, invalid UTF-8, streaming decode, tokenizer.json (written here with jansson)
 *     against vocab.json + merges.txt, and the errors of malformed and missing files.
 * Needs no Vulkan device. The GPT-2 files are found through VKG_TEST_SOURCE_DIR; without them the
 * tests that need them skip, or fail when CI=true.
 */
#include "harness.h"
#include "tokenizer/tokenizer.h"

#include <jansson.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static vkg_tokenizer *gpt2;  /* loaded once from the shared files; NULL when they are absent */
static char data_dir[4096];

/* ---- helpers ---- */

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    p[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void write_file(const char *dir, const char *name, const char *text) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

static void remove_dir(const char *dir) {
    static const char *names[] = {"vocab.json", "merges.txt", "tokenizer.json"};
    char path[4200];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void make_temp_dir(char dir[64]) {
    strcpy(dir, "/tmp/vkg_tok_XXXXXX");
    assert_non_null(mkdtemp(dir));
}

/* The GPT-2 tokenizer, or skip (fail under CI) when the shared files are absent. */
static const vkg_tokenizer *need_gpt2(void) {
    if (!gpt2) {
        const char *ci = getenv("CI");
        if (ci && strcmp(ci, "true") == 0)
            fail_msg("GPT-2 tokenizer files not found in '%s' (set VKG_TEST_SOURCE_DIR)", data_dir);
        skip();
    }
    return gpt2;
}

static void encode_ok(const vkg_tokenizer *tok, const char *text, size_t len, int32_t **ids,
                      size_t *n) {
    vkg_status st = vkg_tokenizer_encode(tok, text, len, true, ids, n);
    if (st != VKG_OK)
        fail_msg("encode failed: %s: %s", vkg_status_str(st), vkg_last_error());
}

static void assert_round_trip(const vkg_tokenizer *tok, const char *text, size_t len) {
    int32_t *ids;
    size_t n;
    encode_ok(tok, text, len, &ids, &n);
    char *back;
    size_t back_len;
    assert_int_equal(vkg_tokenizer_decode(tok, ids, n, false, &back, &back_len), VKG_OK);
    assert_int_equal(back_len, len);
    assert_memory_equal(back, text, len);
    assert_int_equal(back[back_len], '\0');
    free(back);
    free(ids);
}

static void assert_ids(const int32_t *got, size_t n_got, const int32_t *want, size_t n_want,
                       const char *what) {
    if (n_got != n_want)
        fail_msg("%s: %zu ids, expected %zu", what, n_got, n_want);
    for (size_t i = 0; i < n_want; i++)
        if (got[i] != want[i])
            fail_msg("%s: ids[%zu] = %d, expected %d", what, i, (int)got[i], (int)want[i]);
}

/* A strict UTF-8 validator written for the test (overlongs, surrogates, > U+10FFFF rejected). */
static bool utf8_valid(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t c = s[i], cp, len;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
        else return false;
        if (i + len > n)
            return false;
        for (uint32_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* ---- GPT-2 reference cases ---- */

static void test_encodings_json(void **state) {
    (void)state;
    const vkg_tokenizer *tok = need_gpt2();
    char path[4200];
    snprintf(path, sizeof path, "%s/encodings.json", data_dir);
    json_error_t err;
    json_t *cases = json_load_file(path, 0, &err);
    if (!cases)
        fail_msg("%s: %s", path, err.text);
    assert_true(json_array_size(cases) >= 10);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *e = json_array_get(cases, c), *want = json_object_get(e, "ids");
        const char *text = json_string_value(json_object_get(e, "text"));
        assert_non_null(text);
        int32_t *ids, *w = malloc((json_array_size(want) + 1) * sizeof *w);
        size_t n;
        for (size_t i = 0; i < json_array_size(want); i++)
            w[i] = (int32_t)json_integer_value(json_array_get(want, i));
        encode_ok(tok, text, strlen(text), &ids, &n);
        assert_ids(ids, n, w, json_array_size(want), text);
        assert_round_trip(tok, text, strlen(text));
        free(ids);
        free(w);
    }
    json_decref(cases);
}

typedef struct own_case {
    const char *name, *text;
    size_t n;
    int32_t ids[48];
} own_case;

/* Ids from the independent Python implementation described at the top of the file. */
static const own_case own_cases[] = {
    {"empty", "", 0,
     {0}},
    {"one letter", "a", 1,
     {64}},
    {"whitespace runs", "a  b   c\t\t d \n  e    ", 17,
     {64, 220, 275, 220, 220, 269, 197, 197, 288, 220, 198, 220, 304, 220, 220, 220, 220}},
    {"newlines", "\n\n\nx\r\ny\n \n", 9,
     {628, 198, 87, 201, 198, 88, 198, 220, 198}},
    {"contractions", "I'm sure you've heard they'd've said it's 'll I'LL DON'T", 20,
     {40, 1101, 1654, 345, 1053, 2982, 484, 1549, 1053, 531, 340, 338, 705, 297, 314, 6, 3069,
     23917, 6, 51}},
    {"digits", "1234567890 3.14 100,000 -42 ٣٤٥ ½", 19,
     {10163, 2231, 30924, 3829, 513, 13, 1415, 1802, 11, 830, 532, 3682, 18923, 96, 149, 97, 149,
     98, 25208}},
    {"cyrillic greek hebrew arabic", "Привет мир! Γειά σου. שלום مرحبا", 36,
     {140, 253, 21169, 18849, 38857, 16843, 20375, 12466, 120, 18849, 21169, 0, 7377, 241, 30950,
     29945, 138, 105, 18074, 225, 26517, 139, 227, 13, 14360, 102, 40010, 27072, 147, 251, 47048,
     26897, 148, 255, 39848, 12919}},
    {"cjk", "こんにちは世界 한국어 텍스트", 29,
     {46036, 22174, 28618, 2515, 94, 31676, 10310, 244, 45911, 234, 220, 47991, 250, 166, 113,
     255, 168, 244, 112, 220, 169, 227, 235, 168, 232, 97, 169, 232, 116}},
    {"emoji", "emoji 👍🏽 family 👨\342\200\215👩\342\200\215👧 flag 🇯🇵!", 26,
     {368, 31370, 50169, 235, 8582, 237, 121, 1641, 50169, 101, 447, 235, 41840, 102, 447, 235,
     41840, 100, 6056, 12520, 229, 107, 8582, 229, 113, 0}},
    {"special text is not special", "<|endoftext|>", 7,
     {27, 91, 437, 1659, 5239, 91, 29}},
    {"long space run", "a                                        b", 41,
     {64, 220, 220, 220, 220, 220, 220, 220, 220, 220, 220, 220, 220, 220, 220, 220, 220, 220,
     220, 220, 220, 220, 220, 220, 220, 220, 220, 220, 220, 220, 220, 220, 220, 220, 220, 220,
     220, 220, 220, 220, 275}},
    {"code", "\t\t\tif (x) {\n\t\t\t\treturn y;// done\n\t\t\t}", 23,
     {197, 197, 197, 361, 357, 87, 8, 1391, 198, 197, 197, 197, 197, 7783, 331, 26, 1003, 1760,
     198, 197, 197, 197, 92}},
    {"unicode spaces", "x\302\240y\343\200\200z \342\200\203w", 10,
     {87, 1849, 88, 5099, 222, 89, 220, 447, 225, 86}},
    {"repeated letters", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!!!!!!!!!!!!!!!!!!!!!!!.......", 15,
     {24794, 24794, 24794, 24794, 24794, 24794, 24794, 24794, 24794, 7252, 34635, 34635, 13896,
     10185, 25780}},
};

static void test_own_cases(void **state) {
    (void)state;
    const vkg_tokenizer *tok = need_gpt2();
    for (size_t c = 0; c < sizeof own_cases / sizeof own_cases[0]; c++) {
        const own_case *oc = &own_cases[c];
        int32_t *ids;
        size_t n;
        encode_ok(tok, oc->text, strlen(oc->text), &ids, &n);
        assert_ids(ids, n, oc->ids, oc->n, oc->name);
        assert_round_trip(tok, oc->text, strlen(oc->text));
        free(ids);
    }
}

static void test_special_tokens(void **state) {
    (void)state;
    const vkg_tokenizer *tok = need_gpt2();
    assert_int_equal(vkg_tokenizer_vocab_size(tok), 50257);
    assert_int_equal(vkg_tokenizer_eos(tok), 50256);
    assert_int_equal(vkg_tokenizer_token_id(tok, "<|endoftext|>"), 50256);
    assert_int_equal(vkg_tokenizer_token_id(tok, "\304\240the"), 262); /* "Ġthe" */
    assert_int_equal(vkg_tokenizer_token_id(tok, "no such token"), -1);
    const char *bytes;
    size_t len;
    assert_int_equal(vkg_tokenizer_token_bytes(tok, 262, &bytes, &len), VKG_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(bytes, " the", 4);
    int32_t ids[] = {15496, 50256, 995};
    char *text;
    assert_int_equal(vkg_tokenizer_decode(tok, ids, 3, false, &text, &len), VKG_OK);
    assert_string_equal(text, "Hello<|endoftext|> world");
    free(text);
    int32_t bad[] = {15496, 50257};
    assert_int_equal(vkg_tokenizer_decode(tok, bad, 2, false, &text, &len), VKG_ERROR_TOKEN_RANGE);
    assert_null(text);
    assert_non_null(strstr(vkg_last_error(), "ids[1] = 50257"));
    int32_t neg = -1;
    assert_int_equal(vkg_tokenizer_decode(tok, &neg, 1, false, &text, &len), VKG_ERROR_TOKEN_RANGE);
    assert_int_equal(vkg_tokenizer_token_bytes(tok, 50257, &bytes, &len), VKG_ERROR_TOKEN_RANGE);
    int32_t *out;
    size_t n;
    assert_int_equal(vkg_tokenizer_encode(NULL, "x", 1, true, &out, &n), VKG_ERROR_INVALID_ARGUMENT);
    assert_int_equal(vkg_tokenizer_encode(tok, NULL, 1, true, &out, &n), VKG_ERROR_INVALID_ARGUMENT);
    encode_ok(tok, NULL, 0, &out, &n);
    assert_int_equal(n, 0);
    free(out);
}

/* ---- invalid UTF-8 and round trips ---- */

static void concat(int32_t **v, size_t *n, const int32_t *add, size_t n_add) {
    *v = realloc(*v, (*n + n_add + 1) * sizeof **v);
    assert_non_null(*v);
    memcpy(*v + *n, add, n_add * sizeof **v);
    *n += n_add;
}

static void test_invalid_utf8(void **state) {
    (void)state;
    const vkg_tokenizer *tok = need_gpt2();
    /* The chosen behaviour: a run of invalid bytes is a piece of its own, between the pieces of
     * the valid text around it. Expected: encode("abc") + BPE("\xff\xfe") + encode("def"), where
     * GPT-2 has no merge for (ÿ, þ), so the run is its two byte tokens. */
    static const char text[] = "abc\xff\xfe" "def";
    int32_t *want = NULL, *part, *got;
    size_t n_want = 0, n_part, n_got;
    encode_ok(tok, "abc", 3, &part, &n_part);
    concat(&want, &n_want, part, n_part);
    free(part);
    int32_t bytes[2] = {vkg_tokenizer_token_id(tok, "\303\277"), vkg_tokenizer_token_id(tok, "\303\276")};
    assert_int_equal(bytes[0], 187); /* ÿ stands for byte 0xff, þ for 0xfe */
    assert_int_equal(bytes[1], 186);
    concat(&want, &n_want, bytes, 2);
    encode_ok(tok, "def", 3, &part, &n_part);
    concat(&want, &n_want, part, n_part);
    free(part);
    encode_ok(tok, text, sizeof text - 1, &got, &n_got);
    assert_ids(got, n_got, want, n_want, "abc\\xff\\xfedef");
    free(got);
    free(want);

    static const struct { const char *s; size_t n; } bad[] = {
        {"\xc3", 1}, {"x\xe2\x82", 3}, {"\x80\x80 a", 4}, {"\xed\xa0\x80 surrogate", 12},
        {"overlong \xc0\xaf", 11}, {"a \xff" "b", 4}, {"\xf4\x90\x80\x80", 4},
        {"caf\xc3\xa9\xc3", 6}, {"nul\0byte", 8}, {"\xff\xff\xff\xff\xff", 5},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_round_trip(tok, bad[i].s, bad[i].n);

    /* Random bytes and random mixes of valid fragments and stray bytes, with a fixed seed. */
    static const char *frags[] = {" the", "é", "😀", "\n", "  ", "'s", "123", "世界", "\xe2\x82",
                                  "\xff", "!!", "\t", "Ω", "\xf0\x9f"};
    uint64_t x = 0x12345678;
    char buf[4096];
    for (int round = 0; round < 50; round++) {
        size_t len = 0;
        while (len < sizeof buf - 8) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            if (round % 2) {
                buf[len++] = (char)(x >> 56);
            } else {
                const char *f = frags[(x >> 33) % (sizeof frags / sizeof frags[0])];
                memcpy(buf + len, f, strlen(f));
                len += strlen(f);
            }
        }
        assert_round_trip(tok, buf, len);
    }
}

static void test_long_pieces(void **state) {
    (void)state;
    const vkg_tokenizer *tok = need_gpt2();
    /* One piece of 256 KiB: must stay O(n log n) and within PCRE2's JIT stack. */
    size_t n = 1 << 18;
    char *s = malloc(n + 1);
    assert_non_null(s);
    static const char fill[] = {' ', 'a', '!', '7'};
    for (size_t f = 0; f < sizeof fill; f++) {
        memset(s, fill[f], n);
        s[n] = 'x';
        assert_round_trip(tok, s, n + 1);
    }
    for (size_t i = 0; i + 2 <= n; i += 2)
        memcpy(s + i, "\xc3\xa9", 2); /* é: one letter run */
    assert_round_trip(tok, s, n);
    free(s);
}

/* ---- streaming decode ---- */

static void test_stream(void **state) {
    (void)state;
    const vkg_tokenizer *tok = need_gpt2();
    vkg_detok *d;
    const char *out;
    size_t len;
    assert_int_equal(vkg_detok_create(tok, &d), VKG_OK);
    /* "smile 😀 ok": 30325 is " \xf0\x9f\x98", 222 is "\x80" (the emoji split across tokens). */
    int32_t smile[] = {5796, 576, 30325, 222, 12876};
    assert_int_equal(vkg_detok_push(d, smile[0], &out, &len), VKG_OK);
    assert_string_equal(out, "sm");
    assert_int_equal(vkg_detok_push(d, smile[1], &out, &len), VKG_OK);
    assert_string_equal(out, "ile");
    assert_int_equal(vkg_detok_push(d, smile[2], &out, &len), VKG_OK);
    assert_int_equal(len, 1);
    assert_string_equal(out, " ");
    assert_int_equal(vkg_detok_push(d, smile[3], &out, &len), VKG_OK);
    assert_string_equal(out, "\xf0\x9f\x98\x80");
    assert_int_equal(vkg_detok_push(d, smile[4], &out, &len), VKG_OK);
    assert_string_equal(out, " ok");
    assert_int_equal(vkg_detok_flush(d, &out, &len), VKG_OK);
    assert_int_equal(len, 0);

    /* An incomplete sequence at the end comes out of flush; bytes that can never be valid pass. */
    int32_t f0 = vkg_tokenizer_token_id(tok, "\303\260"); /* ð stands for byte 0xf0 */
    assert_int_equal(vkg_detok_push(d, f0, &out, &len), VKG_OK);
    assert_int_equal(len, 0);
    assert_int_equal(vkg_detok_flush(d, &out, &len), VKG_OK);
    assert_int_equal(len, 1);
    assert_memory_equal(out, "\xf0", 1);
    assert_int_equal(vkg_detok_push(d, 187, &out, &len), VKG_OK); /* byte 0xff */
    assert_int_equal(len, 1);
    assert_int_equal(vkg_detok_push(d, f0, &out, &len), VKG_OK);
    assert_int_equal(len, 0);
    assert_int_equal(vkg_detok_push(d, 64, &out, &len), VKG_OK); /* "a" cannot continue 0xf0 */
    assert_int_equal(len, 2);
    assert_memory_equal(out, "\xf0" "a", 2);
    assert_int_equal(vkg_detok_push(d, 50257, &out, &len), VKG_ERROR_TOKEN_RANGE);

    /* Every own case pushed token by token: each chunk is valid UTF-8, the chunks are the text. */
    for (size_t c = 0; c < sizeof own_cases / sizeof own_cases[0]; c++) {
        const own_case *oc = &own_cases[c];
        char joined[1024];
        size_t at = 0;
        for (size_t i = 0; i <= oc->n; i++) {
            vkg_status st = i < oc->n ? vkg_detok_push(d, oc->ids[i], &out, &len)
                                      : vkg_detok_flush(d, &out, &len);
            assert_int_equal(st, VKG_OK);
            if (!utf8_valid((const uint8_t *)out, len))
                fail_msg("%s: chunk %zu is not valid UTF-8", oc->name, i);
            assert_true(at + len < sizeof joined);
            memcpy(joined + at, out, len);
            at += len;
        }
        assert_int_equal(at, strlen(oc->text));
        assert_memory_equal(joined, oc->text, at);
    }
    vkg_detok_destroy(d);
}

/* ---- tokenizer.json ---- */

/* Writes dir/tokenizer.json from the shared vocab.json and merges.txt (merges as "a b" strings or
 * as [a, b] pairs), with <|endoftext|> also listed under added_tokens and the ByteLevel
 * pre-tokenizer and decoder, as GPT-2's tokenizer.json on Hugging Face has them. */
static void write_hf_json(const char *dir, bool pairs, bool prefix_space) {
    char path[4200];
    snprintf(path, sizeof path, "%s/vocab.json", data_dir);
    json_error_t err;
    json_t *vocab = json_load_file(path, 0, &err), *merges = json_array();
    assert_non_null(vocab);
    size_t len;
    snprintf(path, sizeof path, "%s/merges.txt", data_dir);
    char *txt = read_all(path, &len);
    for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "#version", 8) == 0)
            continue;
        char *sp = strchr(line, ' ');
        assert_non_null(sp);
        if (pairs) {
            *sp = '\0';
            json_array_append_new(merges, json_pack("[ss]", line, sp + 1));
        } else {
            json_array_append_new(merges, json_string(line));
        }
    }
    free(txt);
    json_t *root = json_pack("{s:s, s:[{s:i, s:s, s:b}], s:{s:s, s:n, s:o, s:o}, s:{s:s, s:b, s:b},"
                             " s:{s:s}}", "version", "1.0",
                             "added_tokens", "id", 50256, "content", "<|endoftext|>", "special", 1,
                             "model", "type", "BPE", "dropout", "vocab", vocab, "merges", merges,
                             "pre_tokenizer", "type", "ByteLevel", "add_prefix_space", prefix_space,
                             "use_regex", 1, "decoder", "type", "ByteLevel");
    assert_non_null(root);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    assert_int_equal(json_dump_file(root, path, JSON_COMPACT), 0);
    json_decref(root);
}

static void test_hf_json(void **state) {
    (void)state;
    const vkg_tokenizer *ref = need_gpt2();
    for (int pairs = 0; pairs < 2; pairs++) {
        char dir[64];
        make_temp_dir(dir);
        write_hf_json(dir, pairs, false);
        vkg_tokenizer *tok;
        vkg_status st = vkg_tokenizer_load(dir, &tok);
        if (st)
            fail_msg("%s", vkg_last_error());
        assert_int_equal(vkg_tokenizer_vocab_size(tok), 50257);
        assert_int_equal(vkg_tokenizer_eos(tok), 50256);
        for (size_t c = 0; c < sizeof own_cases / sizeof own_cases[0]; c++) {
            int32_t *a, *b;
            size_t na, nb;
            const char *t = own_cases[c].text;
            if (strstr(t, "<|endoftext|>")) { /* an added token here: one id, as in HF */
                encode_ok(tok, t, strlen(t), &b, &nb);
                assert_int_equal(nb, 1);
                assert_int_equal(b[0], 50256);
                free(b);
                continue;
            }
            encode_ok(ref, t, strlen(t), &a, &na);
            encode_ok(tok, t, strlen(t), &b, &nb);
            assert_ids(b, nb, a, na, own_cases[c].name);
            free(a);
            free(b);
        }
        for (int32_t id = 0; id < 50257; id++) {
            const char *x, *y;
            size_t nx, ny;
            assert_int_equal(vkg_tokenizer_token_bytes(ref, id, &x, &nx), VKG_OK);
            assert_int_equal(vkg_tokenizer_token_bytes(tok, id, &y, &ny), VKG_OK);
            assert_int_equal(nx, ny);
            assert_memory_equal(x, y, nx);
        }
        vkg_tokenizer_free(tok);
        remove_dir(dir);
    }
}

/* ByteLevel's add_prefix_space: a text that does not start with a space is encoded as GPT-2's
 * reference encodes it with one space in front. */
static void test_hf_prefix_space(void **state) {
    (void)state;
    const vkg_tokenizer *ref = need_gpt2();
    char dir[64];
    make_temp_dir(dir);
    write_hf_json(dir, false, true);
    vkg_tokenizer *tok;
    if (vkg_tokenizer_load(dir, &tok))
        fail_msg("%s", vkg_last_error());
    for (size_t c = 0; c < sizeof own_cases / sizeof own_cases[0]; c++) {
        const char *t = own_cases[c].text;
        if (strstr(t, "<|endoftext|>") || !t[0])
            continue; /* an added token (test_hf_json); empty text has no piece to prefix */
        char *spaced = malloc(strlen(t) + 2);
        assert_non_null(spaced);
        sprintf(spaced, "%s%s", t[0] == ' ' ? "" : " ", t);
        int32_t *a, *b;
        size_t na, nb;
        encode_ok(ref, spaced, strlen(spaced), &a, &na);
        encode_ok(tok, t, strlen(t), &b, &nb);
        assert_ids(b, nb, a, na, own_cases[c].name);
        free(a);
        free(b);
        free(spaced);
    }
    vkg_tokenizer_free(tok);
    remove_dir(dir);
}

/* ---- small synthetic vocabularies: merge order, malformed and missing files ---- */

/* GPT-2's bytes_to_unicode(), written again here so that the library's table is checked. */
static void byte_char(int b, char out[3]) {
    int n = 0, cp = b;
    if (!((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))) {
        for (int k = 0; k < b; k++)
            if (!((k >= '!' && k <= '~') || (k >= 0xA1 && k <= 0xAC) || (k >= 0xAE && k <= 0xFF)))
                n++;
        cp = 256 + n;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = '\0';
    } else {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = '\0';
    }
}

/* A vocabulary of the 256 byte tokens (id = byte) plus `extra` tokens from id 256 on, as JSON
 * text; `skip` leaves one byte out (-1: none). */
static char *small_vocab(const char *const *extra, size_t n_extra, int skip) {
    json_t *v = json_object();
    for (int b = 0; b < 256; b++) {
        char c[3];
        byte_char(b, c);
        if (b != skip)
            json_object_set_new(v, c, json_integer(b));
    }
    for (size_t i = 0; i < n_extra; i++)
        json_object_set_new(v, extra[i], json_integer(256 + (json_int_t)i));
    char *s = json_dumps(v, 0);
    json_decref(v);
    return s;
}

static void test_byte_table(void **state) {
    (void)state;
    uint16_t cp[256];
    vkg_tok_byte_to_cp(cp);
    for (int b = 0; b < 256; b++) {
        char want[3], got[3] = {0};
        byte_char(b, want);
        if (cp[b] < 0x80) {
            got[0] = (char)cp[b];
        } else {
            got[0] = (char)(0xC0 | cp[b] >> 6);
            got[1] = (char)(0x80 | (cp[b] & 0x3F));
        }
        assert_string_equal(got, want);
    }
    assert_int_equal(cp[' '], 0x120); /* the "Ġ" of GPT-2's vocabulary */
    assert_int_equal(cp['\n'], 0x10A);
}

static void test_merge_order(void **state) {
    (void)state;
    /* Ranks: (ab, a) = 0 comes before (a, b) = 1. The reference merges every (a, b) of a round
     * before it looks at the pairs that round created, so "abab" is [ab, ab], not [aba, b]; and
     * "aaa" with (a, a) merges left to right: [aa, a]. */
    static const char *extra[] = {"ab", "aba", "aa", "abc"};
    char *vocab = small_vocab(extra, 4, -1);
    static const char merges[] = "#version: 0.2\nab a\na b\r\na a\n\nab c";
    vkg_tokenizer *tok;
    vkg_status st = vkg_tokenizer_load_buffers(vocab, strlen(vocab), merges, strlen(merges), NULL,
                                               NULL, &tok);
    if (st)
        fail_msg("%s", vkg_last_error());
    static const struct { const char *text; size_t n; int32_t ids[4]; } cases[] = {
        {"abab", 2, {256, 256}}, {"aaa", 2, {258, 'a'}}, {"abc", 1, {259}},
        {"aba", 1, {257}}, {"ba", 2, {'b', 'a'}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int32_t *ids;
        size_t n;
        encode_ok(tok, cases[c].text, strlen(cases[c].text), &ids, &n);
        assert_ids(ids, n, cases[c].ids, cases[c].n, cases[c].text);
        free(ids);
    }
    assert_int_equal(vkg_tokenizer_eos(tok), -1);
    vkg_tokenizer_free(tok);
    free(vocab);
}

typedef struct bad_case {
    const char *vocab;   /* NULL: the small valid vocabulary */
    const char *merges;  /* NULL: omit merges.txt */
    const char *hf;      /* NULL: omit tokenizer.json */
    vkg_status status;
    const char *msg[2];  /* substrings the message must contain, besides the directory */
} bad_case;

static void test_malformed_and_missing(void **state) {
    (void)state;
    static const char *extra[] = {"ab"};
    char *good = small_vocab(extra, 1, -1), *no_x = small_vocab(extra, 1, 'x');
    char dup[] = "{\"a\": 1, \"b\": 1}";
    static const char HF_HEAD[] = "{\"model\": {\"type\": \"BPE\", \"vocab\": ";
    char hf_bad_merge[20000], hf_wordpiece[100], hf_pairs_bad[20000], hf_added_bad[20000];
    snprintf(hf_bad_merge, sizeof hf_bad_merge, "%s%s, \"merges\": [\"a b\", \"a b c\"]}}",
             HF_HEAD, good);
    snprintf(hf_pairs_bad, sizeof hf_pairs_bad, "%s%s, \"merges\": [[\"a\", \"b\"], 7]}}", HF_HEAD,
             good);
    snprintf(hf_added_bad, sizeof hf_added_bad,
             "{\"added_tokens\": [{\"id\": 1, \"content\": \"<|x|>\"}], \"model\": {\"type\": "
             "\"BPE\", \"vocab\": %s, \"merges\": []}}", good);
    snprintf(hf_wordpiece, sizeof hf_wordpiece, "{\"model\": {\"type\": \"WordPiece\"}}");
    const bad_case cases[] = {
        {"{\"a\": 1,", "", NULL, VKG_ERROR_TOKENIZER, {"vocab.json: byte 8", ""}},
        {"[1, 2]", "", NULL, VKG_ERROR_TOKENIZER, {"vocab.json", "not a JSON object"}},
        {"{\"a\": \"x\"}", "", NULL, VKG_ERROR_TOKENIZER, {"vocab.json", "entry \"a\""}},
        {"{\"a\": -3}", "", NULL, VKG_ERROR_TOKENIZER, {"vocab.json", "id -3"}},
        {"{\"a\": 99999999}", "", NULL, VKG_ERROR_TOKENIZER, {"vocab.json", "99999999"}},
        {dup, "", NULL, VKG_ERROR_TOKENIZER, {"vocab.json", "both have id 1"}},
        {"{\"a\": 0, \"a\": 1}", "", NULL, VKG_ERROR_TOKENIZER, {"vocab.json", "duplicate"}},
        {no_x, "", NULL, VKG_ERROR_TOKENIZER, {"vocab.json", "byte 0x78"}},
        {NULL, "#version: 0.2\na b\nab\n", NULL, VKG_ERROR_TOKENIZER, {"merges.txt line 3", "\"ab\""}},
        {NULL, "a b\na  b\n", NULL, VKG_ERROR_TOKENIZER, {"merges.txt line 2", "left right"}},
        {NULL, "a b\nq zz\n", NULL, VKG_ERROR_TOKENIZER, {"merges.txt line 2", "\"zz\" is not in"}},
        {NULL, "a b\nb c\n", NULL, VKG_ERROR_TOKENIZER, {"merges.txt line 2", "merged token \"bc\""}},
        {"", NULL, "{", VKG_ERROR_TOKENIZER, {"tokenizer.json: byte 1", ""}},
        {"", NULL, "{\"version\": \"1.0\"}", VKG_ERROR_TOKENIZER, {"tokenizer.json", "\"model\""}},
        {"", NULL, hf_wordpiece, VKG_ERROR_TOKENIZER, {"tokenizer.json", "WordPiece"}},
        {"", NULL, hf_bad_merge, VKG_ERROR_TOKENIZER, {"tokenizer.json: model.merges[1]", "a b c"}},
        {"", NULL, hf_pairs_bad, VKG_ERROR_TOKENIZER, {"tokenizer.json: model.merges[1]", "pair"}},
        {"", NULL, hf_added_bad, VKG_ERROR_TOKENIZER, {"tokenizer.json", "both have id 1"}},
        {"", NULL, "{\"model\": {\"vocab\": [], \"merges\": []}}", VKG_ERROR_TOKENIZER,
         {"tokenizer.json", "model.vocab is not"}},
        {"", NULL, NULL, VKG_ERROR_IO, {"vocab.json", "tokenizer.json"}},
        {NULL, NULL, NULL, VKG_ERROR_IO, {"merges.txt absent", "tokenizer.json"}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const bad_case *bc = &cases[c];
        char dir[64];
        make_temp_dir(dir);
        /* vocab "" means: no vocab.json at all */
        if (!bc->vocab || bc->vocab[0])
            write_file(dir, "vocab.json", bc->vocab ? bc->vocab : good);
        if (bc->merges)
            write_file(dir, "merges.txt", bc->merges);
        if (bc->hf)
            write_file(dir, "tokenizer.json", bc->hf);
        vkg_tokenizer *tok = (vkg_tokenizer *)&tok; /* must be reset to NULL */
        vkg_status st = vkg_tokenizer_load(dir, &tok);
        if (st != bc->status)
            fail_msg("case %zu: %s (%s), expected %s", c, vkg_status_str(st), vkg_last_error(),
                     vkg_status_str(bc->status));
        assert_null(tok);
        for (int k = 0; k < 2; k++)
            if (!strstr(vkg_last_error(), bc->msg[k]) || !strstr(vkg_last_error(), dir))
                fail_msg("case %zu: message \"%s\" lacks \"%s\" or the directory", c,
                         vkg_last_error(), bc->msg[k]);
        remove_dir(dir);
    }

    /* A directory that does not exist; tokenizer.json preferred over vocab.json + merges.txt
     * (it describes the whole pipeline; Qwen's repositories ship both), so a broken one is an
     * error even beside good GPT-2 files, which load once it is gone. */
    vkg_tokenizer *tok;
    assert_int_equal(vkg_tokenizer_load("/nonexistent/vkg", &tok), VKG_ERROR_IO);
    assert_non_null(strstr(vkg_last_error(), "/nonexistent/vkg"));
    assert_non_null(strstr(vkg_last_error(), "does not exist"));
    char dir[64];
    make_temp_dir(dir);
    write_file(dir, "vocab.json", good);
    write_file(dir, "merges.txt", "a b\n");
    write_file(dir, "tokenizer.json", "{");
    assert_int_equal(vkg_tokenizer_load(dir, &tok), VKG_ERROR_TOKENIZER);
    assert_non_null(strstr(vkg_last_error(), "tokenizer.json"));
    char path[4200];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    unlink(path);
    assert_int_equal(vkg_tokenizer_load(dir, &tok), VKG_OK);
    int32_t *ids;
    size_t n;
    encode_ok(tok, "ab", 2, &ids, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 256);
    free(ids);
    vkg_tokenizer_free(tok);
    remove_dir(dir);
    assert_int_equal(vkg_tokenizer_load(NULL, &tok), VKG_ERROR_INVALID_ARGUMENT);
    free(good);
    free(no_x);
}

static int group_setup(void **state) {
    (void)state;
    snprintf(data_dir, sizeof data_dir, "%s", vkg_test_gpt2_dir());
    struct stat sb;
    char path[4200];
    snprintf(path, sizeof path, "%s/vocab.json", data_dir);
    if (stat(path, &sb) != 0)
        return 0; /* need_gpt2() skips or fails each test that needs the files */
    vkg_status st = vkg_tokenizer_load(data_dir, &gpt2);
    if (st != VKG_OK) {
        fprintf(stderr, "loading %s: %s: %s\n", data_dir, vkg_status_str(st), vkg_last_error());
        return -1;
    }
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    vkg_tokenizer_free(gpt2);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encodings_json),
        cmocka_unit_test(test_own_cases),
        cmocka_unit_test(test_special_tokens),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_long_pieces),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_hf_json),
        cmocka_unit_test(test_hf_prefix_space),
        cmocka_unit_test(test_byte_table),
        cmocka_unit_test(test_merge_order),
        cmocka_unit_test(test_malformed_and_missing),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
