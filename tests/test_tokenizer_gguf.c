/*
 * tests/test_tokenizer_gguf.c — the tokenizer and chat template of a GGUF file (issue 13, "Tokenizer
 * from the file", "A vocabulary-only GGUF").
 *
 * The test writes vocabulary-only GGUFs (tests/gguf_writer.c, written from the GGUF spec) from the
 * REAL vocabularies in tests/data/tokenizers, with the tokenizer.ggml.* keys llama.cpp's converter
 * writes, and checks the tokenizer vkgpt builds from each file against the independent references
 * there (encodings.json: ids computed by @huggingface/tokenizers; chat/renders.json: python3-jinja2):
 *   - "gpt2" model: Llama 3's vocabulary + merges, pre "llama-bpe"; Qwen3's, pre "qwen2";
 *   - "llama" model: Llama 2's vocabulary with scores and token types instead of merges;
 *   - pre "smollm" and "gpt-2" on Llama 3's vocabulary (digit properties, see the test);
 *   - refusals: unknown model, unknown pre, no tokens, mismatched arrays, no scores, a NaN score,
 *     no merges, a role id past the vocabulary, no tokenizer at all;
 *   - the CLI on a vocabulary-only file: tokenize, detokenize, template, info;
 *   - `vkgpt run -m FILE.gguf -p TEXT` encodes TEXT with the file's own tokenizer (argument "run",
 *     its own ctest entry: it needs a device and skips, status 77, without one).
 * Not here: the tokenizer.json pipeline itself (test_tokenizer_hf.c).
 */
#define _GNU_SOURCE /* mkstemps */
#include "cli_runner.h"
#include "gguf_writer.h"
#include "harness.h"
#include "model_fixture.h"
#include "vkgpt.h"

#include "model/gguf.h"

#include <jansson.h>

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#ifndef VKG_TOKENIZERS_DIR
#error "VKG_TOKENIZERS_DIR must name the unpacked tests/data/tokenizers"
#endif

enum { GGUF_I32 = 5, GGUF_F32 = 6 };
enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_BYTE = 6 };

static json_t *load_json(const char *family, const char *file) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s/%s", VKG_TOKENIZERS_DIR, family, file);
    json_error_t e;
    json_t *j = json_load_file(path, JSON_DECODE_INT_AS_REAL, &e);
    if (!j)
        fail_msg("%s: %s", path, e.text);
    return j;
}

/* A family's vocabulary in id order, as llama.cpp's converter lays it out in a GGUF. */
typedef struct vocab {
    size_t n;
    const char **tok;   /* (n) strings owned by the tokenizer.json */
    int32_t *type;      /* (n) */
    float *score;       /* (n) llama only */
    const char **merges;/* "a b" (malloc'd each) */
    size_t n_merges;
    json_t *tj, *cfg;
} vocab;

static void vocab_free(vocab *v) {
    for (size_t i = 0; i < v->n_merges; i++)
        free((char *)v->merges[i]);
    free(v->merges);
    free(v->tok);
    free(v->type);
    free(v->score);
    json_decref(v->tj);
    json_decref(v->cfg);
}

static bool is_byte_token(const char *s) {
    return strlen(s) == 6 && !strncmp(s, "<0x", 3) && s[5] == '>';
}

static void vocab_read(const char *family, bool spm, vocab *v) {
    memset(v, 0, sizeof *v);
    v->tj = load_json(family, "tokenizer.json");
    v->cfg = load_json(family, "tokenizer_config.json");
    json_t *model = json_object_get(v->tj, "model"), *vj = json_object_get(model, "vocab");
    json_t *added = json_object_get(v->tj, "added_tokens");
    const char *key;
    json_t *val;
    size_t i;
    json_object_foreach(vj, key, val) v->n = (size_t)json_number_value(val) + 1 > v->n
                                                 ? (size_t)json_number_value(val) + 1 : v->n;
    json_array_foreach(added, i, val) {
        size_t id = (size_t)json_number_value(json_object_get(val, "id"));
        v->n = id + 1 > v->n ? id + 1 : v->n;
    }
    v->tok = calloc(v->n, sizeof *v->tok);
    v->type = calloc(v->n, sizeof *v->type);
    assert_non_null(v->tok);
    assert_non_null(v->type);
    json_object_foreach(vj, key, val) {
        size_t id = (size_t)json_number_value(val);
        v->tok[id] = key;
        v->type[id] = spm && is_byte_token(key) ? TT_BYTE : TT_NORMAL;
    }
    const char *unk = json_string_value(json_object_get(model, "unk_token"));
    json_array_foreach(added, i, val) {
        size_t id = (size_t)json_number_value(json_object_get(val, "id"));
        v->tok[id] = json_string_value(json_object_get(val, "content"));
        v->type[id] = unk && !strcmp(unk, v->tok[id])                  ? TT_UNKNOWN
                      : json_is_true(json_object_get(val, "special")) ? TT_CONTROL
                                                                       : TT_USER;
    }
    for (size_t id = 0; id < v->n; id++)
        if (!v->tok[id])
            fail_msg("%s: id %zu has no token (the GGUF array has no holes)", family, id);
    json_t *mj = json_object_get(model, "merges");
    v->merges = calloc(json_array_size(mj), sizeof *v->merges);
    json_array_foreach(mj, i, val) {
        const char *a, *b;
        char *m;
        if (json_is_string(val)) {
            m = strdup(json_string_value(val));
        } else {
            a = json_string_value(json_array_get(val, 0));
            b = json_string_value(json_array_get(val, 1));
            m = malloc(strlen(a) + strlen(b) + 2);
            sprintf(m, "%s %s", a, b);
        }
        v->merges[v->n_merges++] = m;
    }
    if (!spm)
        return;
    /* SentencePiece merges the adjacent pair whose concatenation has the highest score; Hugging
     * Face's BPE the pair with the lowest merge rank. llama.cpp's converter copies the scores of
     * the SentencePiece model, from which tokenizer.json's merges were derived in score order; here
     * the scores are derived back from the merges: a token's score is minus the rank of the first
     * merge that makes it, so that "highest score" and "lowest rank" pick the same pair. A token no
     * merge makes (characters, bytes, specials) gets -1e9: it is never the result of a merge in
     * Hugging Face's BPE, and the lowest score keeps it last in SentencePiece's order too. */
    v->score = malloc(v->n * sizeof *v->score);
    for (size_t id = 0; id < v->n; id++)
        v->score[id] = -1e9f;
    for (size_t r = 0; r < v->n_merges; r++) {
        char merged[512];
        const char *sp = strchr(v->merges[r], ' ');
        snprintf(merged, sizeof merged, "%.*s%s", (int)(sp - v->merges[r]), v->merges[r], sp + 1);
        json_t *id = json_object_get(vj, merged);
        assert_non_null(id);
        if (v->score[(size_t)json_number_value(id)] == -1e9f)
            v->score[(size_t)json_number_value(id)] = -(float)r;
    }
}

/* Keys of the tokenizer as llama.cpp writes them; roles given as ids (-1: absent). */
typedef struct gguf_keys {
    const char *model, *pre; /* pre NULL: no key */
    int bos, eos, eot, pad;
    int add_bos;             /* -1: no key */
    bool merges, scores, types, chat_template;
    const char *arch;
} gguf_keys;

static char *write_gguf(const vocab *v, const gguf_keys *k, size_t *size) {
    gguf_writer w;
    gw_init(&w, 3, 0);
    gw_kv_str(&w, "general.architecture", k->arch);
    gw_kv_str(&w, "general.name", "vocabulary only");
    gw_kv_u32(&w, "llama.context_length", 4096);
    gw_kv_str(&w, "tokenizer.ggml.model", k->model);
    if (k->pre)
        gw_kv_str(&w, "tokenizer.ggml.pre", k->pre);
    if (v) {
        gw_kv_str_array(&w, "tokenizer.ggml.tokens", v->n, v->tok);
        if (k->types)
            gw_kv_array(&w, "tokenizer.ggml.token_type", GGUF_I32, v->n, v->type);
        if (k->scores)
            gw_kv_array(&w, "tokenizer.ggml.scores", GGUF_F32, v->n, v->score);
        if (k->merges)
            gw_kv_str_array(&w, "tokenizer.ggml.merges", v->n_merges, v->merges);
    }
    const char *ids[4] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                          "tokenizer.ggml.eot_token_id", "tokenizer.ggml.padding_token_id"};
    int vals[4] = {k->bos, k->eos, k->eot, k->pad};
    for (int i = 0; i < 4; i++)
        if (vals[i] >= 0)
            gw_kv_u32(&w, ids[i], (uint32_t)vals[i]);
    if (k->add_bos >= 0)
        gw_kv_bool(&w, "tokenizer.ggml.add_bos_token", k->add_bos);
    if (k->chat_template && v)
        gw_kv_str(&w, "tokenizer.chat_template",
                  json_string_value(json_object_get(v->cfg, "chat_template")));
    uint8_t *img = gw_finish(&w, size);
    gw_free(&w);
    return (char *)img;
}

/* Writes the file to a temporary path (returned, static per slot). */
static const char *save(const char *img, size_t size, int slot) {
    static char paths[4][512];
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(paths[slot], sizeof paths[slot], "%s/vkg-gtok-XXXXXX.gguf", tmp);
    int fd = mkstemps(paths[slot], 5);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, img, size), (ssize_t)size);
    close(fd);
    return paths[slot];
}

static const char *write_file(const vocab *v, const gguf_keys *k, int slot) {
    size_t size;
    char *img = write_gguf(v, k, &size);
    const char *p = save(img, size, slot);
    free(img);
    return p;
}

static void ids_of(json_t *a, int32_t **ids, size_t *n) {
    *n = json_array_size(a);
    *ids = malloc((*n + 1) * sizeof **ids);
    for (size_t i = 0; i < *n; i++)
        (*ids)[i] = (int32_t)json_number_value(json_array_get(a, i));
}

static bool same_ids(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

/* Every text of the family's encodings.json: ids_no_special; ids with the file's BOS (bos >= 0)
 * before them; decode of the reference ids. Returns the number of texts that differ (listed). */
static int check_encodings(const vkg_tokenizer *tok, const char *family, int bos,
                           const char *const *known_diff) {
    json_t *enc = load_json(family, "encodings.json");
    int bad = 0;
    size_t i;
    json_t *e;
    json_array_foreach(enc, i, e) {
        const char *text = json_string_value(json_object_get(e, "text"));
        int32_t *want, *got, *ref_ids;
        size_t n_want, n_got, n_ref;
        ids_of(json_object_get(e, "ids_no_special"), &want, &n_want);
        ids_of(json_object_get(e, "ids"), &ref_ids, &n_ref);
        bool expected_diff = false;
        for (size_t d = 0; known_diff && known_diff[d]; d++)
            expected_diff |= !strcmp(known_diff[d], text);
        assert_int_equal(vkg_tokenizer_encode(tok, text, strlen(text), false, &got, &n_got), VKG_OK);
        bool ok = same_ids(got, n_got, want, n_want);
        free(got);
        /* with add_special: the BOS the GGUF asks for, then the same ids */
        assert_int_equal(vkg_tokenizer_encode(tok, text, strlen(text), true, &got, &n_got), VKG_OK);
        ok = ok && n_got == n_want + (bos >= 0) && (bos < 0 || got[0] == bos) &&
             same_ids(got + (bos >= 0), n_got - (bos >= 0), want, n_want);
        free(got);
        if (!ok && !expected_diff) {
            fprintf(stderr, "%s: text %zu (\"%.40s\") encodes differently\n", family, i, text);
            bad++;
        } else if (ok && expected_diff) {
            fprintf(stderr, "%s: text %zu (\"%.40s\") was listed as differing but agrees\n",
                    family, i, text);
            bad++;
        }
        /* decoding the reference ids gives the reference texts */
        const char *dec[2] = {json_string_value(json_object_get(e, "decoded")),
                              json_string_value(json_object_get(e, "decoded_skip_special"))};
        for (int skip = 0; skip < 2; skip++) {
            char *out;
            size_t len;
            assert_int_equal(vkg_tokenizer_decode(tok, ref_ids, n_ref, skip, &out, &len), VKG_OK);
            if (len != strlen(dec[skip]) || memcmp(out, dec[skip], len)) {
                fprintf(stderr, "%s: text %zu decodes (skip_special %d) to \"%.60s\", expected "
                        "\"%.60s\"\n", family, i, skip, out, dec[skip]);
                bad++;
            }
            free(out);
        }
        free(want);
        free(ref_ids);
    }
    json_decref(enc);
    return bad;
}

static vkg_tokenizer *load_ok(const char *path) {
    vkg_tokenizer *tok = NULL;
    vkg_status st = vkg_tokenizer_load(path, &tok);
    if (st != VKG_OK)
        fail_msg("loading %s: %s: %s", path, vkg_status_str(st), vkg_last_error());
    return tok;
}

static void test_llama3_gpt2(void **state) {
    (void)state;
    vocab v;
    vocab_read("llama3", false, &v);
    gguf_keys k = {.model = "gpt2", .pre = "llama-bpe", .bos = 128000, .eos = 128001, .eot = 128009,
                   .pad = -1, .add_bos = 1, .merges = true, .types = true, .arch = "llama"};
    const char *path = write_file(&v, &k, 0);
    vkg_tokenizer *tok = load_ok(path);
    assert_int_equal(vkg_tokenizer_vocab_size(tok), 128256);
    assert_int_equal(vkg_tokenizer_bos(tok), 128000);
    assert_int_equal(vkg_tokenizer_eos(tok), 128001);
    assert_string_equal(vkg_tokenizer_role_text(tok, VKG_TOKEN_BOS), "<|begin_of_text|>");
    assert_true(vkg_tokenizer_adds_bos(tok));
    assert_true(vkg_tokenizer_is_special(tok, 128009));
    const int32_t *ends;
    size_t n_ends = vkg_tokenizer_end_ids(tok, &ends);
    bool eot = false;
    for (size_t i = 0; i < n_ends; i++)
        eot |= ends[i] == 128009;
    assert_true(eot);
    assert_int_equal(check_encodings(tok, "llama3", 128000, NULL), 0);
    /* Llama 3's model has ignore_merges: a piece that is a token is that token, reachable by the
     * merges or not. Every token of ASCII letters, with or without one space before them, is one
     * piece of the pattern, so it must encode to itself. */
    size_t bad = 0, checked = 0;
    for (int32_t id = 0; id < 128000; id++) {
        const char *b;
        size_t nb;
        assert_int_equal(vkg_tokenizer_token_bytes(tok, id, &b, &nb), VKG_OK);
        size_t i = nb && b[0] == ' ' ? 1 : 0;
        bool letters = nb > i;
        for (size_t j = i; j < nb; j++)
            letters &= (b[j] >= 'a' && b[j] <= 'z') || (b[j] >= 'A' && b[j] <= 'Z');
        if (!letters)
            continue;
        int32_t *ids;
        size_t n;
        assert_int_equal(vkg_tokenizer_encode(tok, b, nb, false, &ids, &n), VKG_OK);
        bad += !(n == 1 && ids[0] == id);
        checked++;
        free(ids);
    }
    if (bad)
        fail_msg("%zu of %zu letter tokens do not encode to themselves", bad, checked);
    vkg_tokenizer_free(tok);
    unlink(path);
    vocab_free(&v);
}

static void test_qwen3_gpt2(void **state) {
    (void)state;
    vocab v;
    vocab_read("qwen3", false, &v);
    /* as llama.cpp writes Qwen's: no BOS added (add_bos_token false) */
    gguf_keys k = {.model = "gpt2", .pre = "qwen2", .bos = 151643, .eos = 151645, .eot = -1,
                   .pad = 151643, .add_bos = 0, .merges = true, .types = true, .arch = "qwen3"};
    const char *path = write_file(&v, &k, 0);
    vkg_tokenizer *tok = load_ok(path);
    assert_int_equal(vkg_tokenizer_vocab_size(tok), 151669);
    assert_false(vkg_tokenizer_adds_bos(tok));
    assert_false(vkg_tokenizer_is_special(tok, 151657)); /* <tool_call>: user-defined (type 4) */
    assert_true(vkg_tokenizer_is_special(tok, 151644));  /* <|im_start|>: control (type 3) */
    assert_int_equal(check_encodings(tok, "qwen3", -1, NULL), 0);
    vkg_tokenizer_free(tok);
    unlink(path);
    vocab_free(&v);
}

/* Texts of encodings.json where Llama 2's SentencePiece BPE from scores and Hugging Face's
 * tokenizer.json are not meant to agree: none (NULL-terminated list, checked both ways). */
static const char *const llama2_known_diff[] = {NULL};

static void test_llama2_spm(void **state) {
    (void)state;
    vocab v;
    vocab_read("llama2", true, &v);
    gguf_keys k = {.model = "llama", .bos = 1, .eos = 2, .eot = -1, .pad = -1, .add_bos = -1,
                   .scores = true, .types = true, .arch = "llama"};
    const char *path = write_file(&v, &k, 0);
    vkg_tokenizer *tok = load_ok(path);
    assert_int_equal(vkg_tokenizer_vocab_size(tok), 32000);
    assert_true(vkg_tokenizer_adds_bos(tok)); /* "llama" without add_bos_token: BOS, as llama.cpp */
    assert_string_equal(vkg_tokenizer_role_text(tok, VKG_TOKEN_UNK), "<unk>");
    assert_int_equal(check_encodings(tok, "llama2", 1, llama2_known_diff), 0);
    /* round trip through the byte tokens: text no token spells */
    const char *text = "\xf0\x9f\xa6\x99 \xe2\x80\x8b x\x01y";
    int32_t *ids;
    size_t n;
    char *out;
    size_t len;
    assert_int_equal(vkg_tokenizer_encode(tok, text, strlen(text), false, &ids, &n), VKG_OK);
    assert_int_equal(vkg_tokenizer_decode(tok, ids, n, false, &out, &len), VKG_OK);
    assert_string_equal(out, text);
    free(out);
    free(ids);
    vkg_tokenizer_free(tok);
    unlink(path);
    vocab_free(&v);
}

/* tokenizer.ggml.pre "smollm" and "gpt-2" over Llama 3's vocabulary (each byte, digit and "'S" are
 * tokens of it), by properties of their patterns. */
static void test_smollm_gpt2_pre(void **state) {
    (void)state;
    vocab v;
    vocab_read("llama3", false, &v);
    gguf_keys k = {.model = "gpt2", .pre = "smollm", .bos = -1, .eos = -1, .eot = -1, .pad = -1,
                   .add_bos = -1, .merges = true, .types = true, .arch = "llama"};
    const char *p_smollm = write_file(&v, &k, 0);
    k.pre = "gpt-2";
    const char *p_gpt2 = write_file(&v, &k, 1);
    vkg_tokenizer *sm = load_ok(p_smollm), *g2 = load_ok(p_gpt2);
    /* GPT-2's pattern: contractions are lower-case only ("'S" is punctuation, then letters), unlike
     * Llama 3's; smollm splits the digits apart first, "gpt-2" keeps " 2024" one piece. */
    const char *text = "IT'S 2024";
    int32_t *ids;
    size_t n;
    int32_t it = vkg_tokenizer_token_id(sm, "IT"), q = vkg_tokenizer_token_id(sm, "'"),
            cap_s = vkg_tokenizer_token_id(sm, "S"), sp = vkg_tokenizer_token_id(sm, "\xc4\xa0");
    assert_true(it >= 0 && q >= 0 && cap_s >= 0 && sp >= 0 && vkg_tokenizer_token_id(sm, "'S") >= 0);
    int32_t want_sm[] = {it, q, cap_s, sp, vkg_tokenizer_token_id(sm, "2"), vkg_tokenizer_token_id(sm, "0"),
                         vkg_tokenizer_token_id(sm, "2"), vkg_tokenizer_token_id(sm, "4")};
    assert_int_equal(vkg_tokenizer_encode(sm, text, strlen(text), true, &ids, &n), VKG_OK);
    assert_true(same_ids(ids, n, want_sm, 8));
    free(ids);
    assert_int_equal(vkg_tokenizer_encode(g2, text, strlen(text), true, &ids, &n), VKG_OK);
    assert_true(n >= 5 && n < 8 && same_ids(ids, 3, want_sm, 3)); /* digits merged: fewer tokens */
    free(ids);
    assert_string_not_equal(vkg_tokenizer_summary(sm), vkg_tokenizer_summary(g2));
    assert_non_null(strstr(vkg_tokenizer_summary(sm), "smollm"));
    vkg_tokenizer_free(sm);
    vkg_tokenizer_free(g2);
    unlink(p_smollm);
    unlink(p_gpt2);
    vocab_free(&v);
}

/* Each refusal: VKG_ERROR_TOKENIZER and a message naming the thing refused. */
static void expect_refusal(const char *path, const char *needle) {
    vkg_tokenizer *tok = (vkg_tokenizer *)1;
    vkg_status st = vkg_tokenizer_load(path, &tok);
    assert_int_equal(st, VKG_ERROR_TOKENIZER);
    assert_null(tok);
    if (!strstr(vkg_last_error(), needle))
        fail_msg("message \"%s\" does not name \"%s\"", vkg_last_error(), needle);
    unlink(path);
}

static void test_refusals(void **state) {
    (void)state;
    /* a small real-looking vocabulary: the 256 byte characters of GPT-2's alphabet + one merge */
    vocab v = {0};
    static char chars[256][4];
    v.n = 256;
    v.tok = calloc(256, sizeof *v.tok);
    v.type = calloc(256, sizeof *v.type);
    v.score = calloc(256, sizeof *v.score);
    int next = 256;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        int cp = printable ? b : next++;
        if (cp < 0x80) {
            chars[b][0] = (char)cp;
        } else {
            chars[b][0] = (char)(0xC0 | (cp >> 6));
            chars[b][1] = (char)(0x80 | (cp & 0x3F));
        }
        v.tok[b] = chars[b];
        v.type[b] = TT_NORMAL;
    }
    gguf_keys k = {.model = "gpt2", .pre = "gpt-2", .bos = -1, .eos = -1, .eot = -1, .pad = -1,
                   .add_bos = -1, .merges = true, .types = true, .arch = "gpt2"};
    const char *base = write_file(&v, &k, 0);
    vkg_tokenizer *tok = load_ok(base); /* the baseline loads: each refusal below is its one change */
    vkg_tokenizer_free(tok);
    unlink(base);
    k.model = "bert";
    expect_refusal(write_file(&v, &k, 0), "\"bert\"");
    k.model = "gpt2";
    k.pre = "deepseek-llm";
    expect_refusal(write_file(&v, &k, 0), "\"deepseek-llm\"");
    k.pre = "gpt-2";
    expect_refusal(write_file(NULL, &k, 0), "tokenizer.ggml.tokens");
    k.merges = false;
    expect_refusal(write_file(&v, &k, 0), "tokenizer.ggml.merges");
    k.merges = true;
    k.bos = 300;
    expect_refusal(write_file(&v, &k, 0), "tokenizer.ggml.bos_token_id");
    k.bos = -1;
    k.model = "llama";
    expect_refusal(write_file(&v, &k, 0), "tokenizer.ggml.scores");
    k.scores = true; /* a NaN score cannot order the merges */
    v.score[5] = NAN;
    expect_refusal(write_file(&v, &k, 0), "tokenizer.ggml.scores[5]");
    k.scores = false;
    /* token_type with fewer entries than tokens */
    v.n = 200;
    size_t size;
    gguf_writer w;
    gw_init(&w, 3, 0);
    gw_kv_str(&w, "tokenizer.ggml.model", "gpt2");
    gw_kv_str_array(&w, "tokenizer.ggml.tokens", 256, v.tok);
    gw_kv_array(&w, "tokenizer.ggml.token_type", GGUF_I32, 200, v.type);
    uint8_t *img = gw_finish(&w, &size);
    gw_free(&w);
    expect_refusal(save((char *)img, size, 0), "tokenizer.ggml.token_type");
    free(img);
    /* a GGUF without any tokenizer */
    gw_init(&w, 3, 0);
    gw_kv_str(&w, "general.architecture", "llama");
    img = gw_finish(&w, &size);
    gw_free(&w);
    expect_refusal(save((char *)img, size, 0), "tokenizer.ggml.model");
    free(img);
    free(v.tok);
    free(v.type);
    free(v.score);
}

/* Runs the vkgpt binary with `args` (shell words); returns its stdout, *rc its exit status. */
static char *run_cli(const char *args, int *rc) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>/dev/null", VKGPT_BINARY, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    static char out[16384];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

/* The first render of chat/renders.json for `family`, messages written to a file. */
static json_t *render_of(const char *family, char *messages_path, size_t n) {
    json_t *all = load_json("chat", "renders.json"), *e;
    size_t i;
    json_array_foreach(all, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "tokenizer")), family) ||
            !json_is_null(json_object_get(e, "tools")))
            continue;
        snprintf(messages_path, n, "%s/vkg-gtok-msgs-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        int fd = mkstemp(messages_path);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(json_dump_file(json_object_get(e, "messages"), messages_path, 0), 0);
        json_incref(e);
        json_decref(all);
        return e;
    }
    fail_msg("no render for %s", family);
    return NULL;
}

static void test_cli_vocab_only(void **state) {
    (void)state;
    char args[8192], msgs[600];
    int rc;
    const char *families[2] = {"llama3", "qwen3"};
    for (int f = 0; f < 2; f++) {
        vocab v;
        vocab_read(families[f], false, &v);
        gguf_keys k = {.model = "gpt2", .pre = f ? "qwen2" : "llama-bpe", .bos = f ? -1 : 128000,
                       .eos = f ? 151645 : 128001, .eot = -1, .pad = f ? 151643 : -1,
                       .add_bos = f ? 0 : 1, .merges = true, .types = true, .chat_template = true,
                       .arch = f ? "qwen3" : "llama"};
        const char *path = write_file(&v, &k, 2);
        /* tokenize: encodings.json's second text (with the BOS the file adds) */
        snprintf(args, sizeof args, "tokenize -m '%s' 'Hello, World! How are you doing today?'", path);
        assert_string_equal(run_cli(args, &rc),
                            f ? "9707 11 4337 0 2585 525 498 3730 3351 30\n"
                              : "128000 9906 11 4435 0 2650 527 499 3815 3432 30\n");
        assert_int_equal(rc, 0);
        snprintf(args, sizeof args, "detokenize -m '%s' %s", path,
                 f ? "9707,11,4337,0 151645" : "128000 9906,11,4435,0");
        assert_string_equal(run_cli(args, &rc), f ? "Hello, World!<|im_end|>\n"
                                                  : "<|begin_of_text|>Hello, World!\n");
        assert_int_equal(rc, 0);
        /* template: the file's tokenizer.chat_template with its special tokens = jinja2's render */
        json_t *r = render_of(families[f], msgs, sizeof msgs);
        snprintf(args, sizeof args, "template -m '%s' --messages '%s'%s", path, msgs,
                 json_is_true(json_object_get(r, "add_generation_prompt")) ? " --add-generation-prompt" : "");
        assert_string_equal(run_cli(args, &rc), json_string_value(json_object_get(r, "rendered")));
        assert_int_equal(rc, 0);
        unlink(msgs);
        json_decref(r);
        /* info: no weights, the tokenizer, the template */
        snprintf(args, sizeof args, "info -m '%s'", path);
        const char *out = run_cli(args, &rc);
        assert_int_equal(rc, 0);
        char want[256];
        snprintf(want, sizeof want, "tokenizer: GGUF tokenizer.ggml.model gpt2: byte-level BPE, "
                 "pre-tokenizer %s\n", k.pre);
        if (!strstr(out, want) || !strstr(out, "weights: none") || !strstr(out, "chat template: yes"))
            fail_msg("vkgpt info printed:\n%s", out);
        snprintf(want, sizeof want, "tokenizer vocabulary: %s tokens; %s", f ? "151669" : "128256",
                 f ? "bos none, eos 151645 (<|im_end|>); adds bos: no"
                   : "bos 128000 (<|begin_of_text|>), eos 128001 (<|end_of_text|>); adds bos: yes");
        if (!strstr(out, want))
            fail_msg("vkgpt info printed:\n%s\nwithout \"%s\"", out, want);
        unlink(path);
        vocab_free(&v);
    }
    /* a file without a template: info says so, template fails with the reason */
    vocab v;
    vocab_read("llama3", false, &v);
    gguf_keys k = {.model = "gpt2", .pre = "llama-bpe", .bos = 128000, .eos = 128001, .eot = -1,
                   .pad = -1, .add_bos = 1, .merges = true, .types = true, .arch = "llama"};
    const char *path = write_file(&v, &k, 2);
    snprintf(args, sizeof args, "info -m '%s'", path);
    assert_non_null(strstr(run_cli(args, &rc), "chat template: none"));
    snprintf(args, sizeof args, "template -m '%s' --messages /dev/null", path);
    run_cli(args, &rc);
    assert_int_not_equal(rc, 0);
    unlink(path);
    vocab_free(&v);
}

static void copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* `vkgpt info` on a Hugging Face directory (a small GPT-2 checkpoint): with Llama 3's tokenizer
 * files beside it, the tokenizer and template lines; without any, "none" for both. */
static void test_info_hf_directory(void **state) {
    (void)state;
    ref_gpt2 m;
    assert_int_equal(fixture_random(&m, 1, 2, 32, 64, 16, 5), 0);
    char *dir = st_tmpdir_create();
    assert_non_null(dir);
    assert_int_equal(fixture_write(dir, &m, ST_F32, FIXTURE_SAVE_PRETRAINED), 0);
    char args[8192], src[4200];
    int rc;
    snprintf(args, sizeof args, "info -m '%s'", dir);
    const char *out = run_cli(args, &rc);
    assert_int_equal(rc, 0);
    if (!strstr(out, "\ntokenizer: none (") || !strstr(out, "chat template: none"))
        fail_msg("vkgpt info printed:\n%s", out);
    const char *files[2] = {"tokenizer.json", "tokenizer_config.json"};
    for (int i = 0; i < 2; i++) {
        snprintf(src, sizeof src, "%s/llama3/%s", VKG_TOKENIZERS_DIR, files[i]);
        copy_file(src, st_path(dir, files[i]));
    }
    out = run_cli(args, &rc);
    assert_int_equal(rc, 0);
    if (!strstr(out, "tokenizer: tokenizer.json: BPE (byte-level), pre-tokenizer Split+ByteLevel\n") ||
        !strstr(out, "tokenizer vocabulary: 128256 tokens; bos 128000 (<|begin_of_text|>), eos 128001 "
                     "(<|end_of_text|>); adds bos: no\n") ||
        !strstr(out, "chat template: yes"))
        fail_msg("vkgpt info printed:\n%s", out);
    st_tmpdir_remove(dir);
    ref_gpt2_free(&m);
}

/* The GPT-2 byte alphabet as a vocabulary: token b is the character that stands for byte b. */
static const char **byte_alphabet(void) {
    static char chars[256][4];
    static const char *tok[256];
    int next = 256;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        int cp = printable ? b : next++;
        memset(chars[b], 0, 4);
        if (cp < 0x80) {
            chars[b][0] = (char)cp;
        } else {
            chars[b][0] = (char)(0xC0 | (cp >> 6));
            chars[b][1] = (char)(0x80 | (cp & 0x3F));
        }
        tok[b] = chars[b];
    }
    return tok;
}

/* tests/data/gguf/tiny-llama-q8_0.gguf (vocabulary 256, a placeholder tokenizer) copied with a real
 * one instead: the byte alphabet, "gpt2", pre "gpt-2", no merges, so that TEXT's ids are its bytes. */
static const char *model_with_tokenizer(void) {
    vkg_gguf_file *f = NULL;
    const char *src = vkg_test_source_path("tests/data/gguf/tiny-llama-q8_0.gguf");
    assert_int_equal(vkg_gguf_open(src, VKG_GGUF_ANY_TYPE, &f), VKG_OK);
    gguf_writer w;
    gw_init(&w, 3, 0);
    static const size_t scalar[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    for (size_t i = 0; i < vkg_gguf_kv_count(f); i++) {
        const vkg_gguf_kv *kv = vkg_gguf_kv_at(f, i);
        if (!strncmp(kv->key, "tokenizer.", 10) || !strcmp(kv->key, "general.alignment"))
            continue;
        if (kv->type == VKG_GGUF_STRING) {
            char *s = strndup(kv->strs[0].ptr, kv->strs[0].len);
            gw_kv_str(&w, kv->key, s);
            free(s);
        } else if (kv->type == VKG_GGUF_ARRAY) {
            assert_true(kv->elem_type < VKG_GGUF_STRING || kv->elem_type >= VKG_GGUF_U64);
            gw_kv_array(&w, kv->key, kv->elem_type, kv->n, kv->raw);
        } else {
            gw_kv_raw(&w, kv->key, kv->type, kv->raw, scalar[kv->type]);
        }
    }
    gw_kv_str(&w, "tokenizer.ggml.model", "gpt2");
    gw_kv_str(&w, "tokenizer.ggml.pre", "gpt-2");
    gw_kv_str_array(&w, "tokenizer.ggml.tokens", 256, byte_alphabet());
    gw_kv_str_array(&w, "tokenizer.ggml.merges", 0, NULL);
    for (size_t i = 0; i < vkg_gguf_tensor_count(f); i++) {
        const vkg_gguf_tensor *t = vkg_gguf_tensor_at(f, i);
        gw_tensor(&w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes);
    }
    size_t size;
    uint8_t *img = gw_finish(&w, &size);
    gw_free(&w);
    vkg_gguf_close(f);
    const char *path = save((char *)img, size, 3);
    free(img);
    return path;
}

static void test_run_text_prompt(void **state) {
    (void)state;
    const char *path = model_with_tokenizer();
    static const char *const validate[] = {"VKG_VALIDATION=1", NULL};
    /* "Hi!" is bytes 72 105 33: the file's tokenizer (no BOS: add_bos_token absent for "gpt2") */
    const char *by_text[] = {"run", "-m", path, "-p", "Hi!", "-n", "6", "--temp", "0", "--ids",
                             "--ignore-eos", NULL};
    const char *by_ids[] = {"run", "-m", path, "--prompt-ids", "72,105,33", "-n", "6", "--temp",
                            "0", "--ids", "--ignore-eos", NULL};
    cli_result a, b;
    assert_int_equal(cli_run(by_text, NULL, validate, &a), 0);
    assert_int_equal(cli_run(by_ids, NULL, validate, &b), 0);
    if (a.status != 0 || b.status != 0)
        fail_msg("vkgpt run exited with %d / %d:\n%s\n%s", a.status, b.status, a.err, b.err);
    assert_true(a.out_len > 0);
    assert_string_equal(a.out, b.out);
    cli_result_free(&a);
    cli_result_free(&b);
    unlink(path);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "run")) {
        vkg_device_info *infos = NULL;
        uint32_t n = 0;
        if (vkg_devices_list(&infos, &n, NULL) != VKG_OK && !vkg_test_device_required()) {
            fprintf(stderr, "no Vulkan device: skipped\n");
            return 77;
        }
        free(infos);
        const struct CMUnitTest run[] = {cmocka_unit_test(test_run_text_prompt)};
        return cmocka_run_group_tests(run, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama3_gpt2),
        cmocka_unit_test(test_qwen3_gpt2),
        cmocka_unit_test(test_llama2_spm),
        cmocka_unit_test(test_smollm_gpt2_pre),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_cli_vocab_only),
        cmocka_unit_test(test_info_hf_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
