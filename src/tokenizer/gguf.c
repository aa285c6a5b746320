/*
 * gguf.c — the tokenizer of a GGUF file: llama.cpp's tokenizer.ggml.* metadata turned into the
 * description a tokenizer.json would give (stages as JSON, vocabulary and merges as tables) and
 * built by vkg_tok_build, the same construction as every other format (no second tokenizer).
 *
 *   tokenizer.ggml.model "gpt2": byte-level BPE over tokenizer.ggml.tokens + .merges ("a b"); the
 *     pre-tokenizer is named by tokenizer.ggml.pre, each mapped to what the Hugging Face
 *     tokenizer.json of that family has (the file was converted from it):
 *       llama-bpe  Split(Llama 3's pattern, Isolated) + ByteLevel; ignore_merges (a piece that is
 *                  a token is that token), as Llama 3's model has
 *       qwen2      NFC, then Split(Qwen's pattern: single digits) + ByteLevel
 *       gpt-2      ByteLevel with GPT-2's pattern
 *       smollm     Digits(individual) + ByteLevel with GPT-2's pattern (llama.cpp splits digits
 *                  first, then applies GPT-2's pattern, for this name)
 *   tokenizer.ggml.model "llama": SentencePiece BPE as Llama 2's tokenizer.json describes it
 *     (Prepend "▁" + Replace " " -> "▁", byte fallback through <0xNN>, fuse_unk; decoder Replace,
 *     ByteFallback, Fuse, Strip). The file has no merges: SentencePiece merges, among adjacent
 *     pieces, the pair whose concatenation is the token with the highest score, so every split of
 *     a normal token into two normal tokens is a merge, ranked by the token's score (descending),
 *     ties by the merged id, then the left and right ids.
 *   token_type: 1 normal, 6 byte and 5 unused are the model's vocabulary; 2 unknown and 3 control
 *     are special added tokens, 4 user-defined non-special ones (cut out of the text first).
 *   bos/eos/unknown/padding_token_id name the roles, eot_token_id ends a turn too;
 *     add_bos_token / add_eos_token (default: BOS for "llama", nothing for "gpt2").
 * Any other model or pre-tokenizer is refused by name. Not here: the chat template
 * (src/template reads tokenizer.chat_template) and the model's tensors.
 */
#include "tokenizer/tokenizer.h"

#include "model/gguf.h"

#include <jansson.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The patterns of Llama 3's and Qwen2/3's tokenizer.json (Split, Isolated). They differ in the
 * digits: runs of up to three for Llama 3, one digit each for Qwen. */
#define LLAMA3_PATTERN                                                                          \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+" \
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2_PATTERN                                                                           \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"     \
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

typedef struct gguf_vocab {
    const vkg_gguf_str *tokens;
    uint64_t n;
    int64_t *types;   /* (n) token_type, all TT_NORMAL when the file has none */
    float *scores;    /* (n) llama only */
} gguf_vocab;

static bool model_token(int64_t type) { /* 0: llama.cpp's "undefined", taken as normal */
    return type == 0 || type == TT_NORMAL || type == TT_BYTE || type == TT_UNUSED;
}

/* The pre-tokenizer stages (tokenizer.json's JSON) of a "gpt2" file's tokenizer.ggml.pre;
 * NULL for a name vkgpt does not map. */
static json_t *bpe_pre(const char *pre, bool *nfc, bool *ignore_merges) {
    json_t *bytelevel = json_pack("{s:s, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0,
                                  "use_regex", 0);
    json_t *bytelevel_re = json_pack("{s:s, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0,
                                     "use_regex", 1);
    json_t *out = NULL;
    *nfc = *ignore_merges = false;
    if (!strcmp(pre, "llama-bpe") || !strcmp(pre, "qwen2")) {
        bool qwen = !strcmp(pre, "qwen2");
        *nfc = qwen;
        *ignore_merges = !qwen;
        out = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, O]}", "type", "Sequence",
                        "pretokenizers", "type", "Split", "pattern", "Regex",
                        qwen ? QWEN2_PATTERN : LLAMA3_PATTERN, "behavior", "Isolated", "invert", 0,
                        bytelevel);
    } else if (!strcmp(pre, "gpt-2")) {
        out = json_incref(bytelevel_re);
    } else if (!strcmp(pre, "smollm")) {
        out = json_pack("{s:s, s:[{s:s, s:b}, O]}", "type", "Sequence", "pretokenizers", "type",
                        "Digits", "individual_digits", 1, bytelevel_re);
    }
    json_decref(bytelevel);
    json_decref(bytelevel_re);
    return out;
}

/* The stages of Llama 2's tokenizer.json; without add_space_prefix no "▁" is prepended (and so
 * none stripped when decoding). */
static json_t *spm_root(bool space_prefix, const char *unk) {
    json_t *norm = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s}]}", "type", "Sequence", "normalizers",
                             "type", "Replace", "pattern", "String", " ", "content", "\xe2\x96\x81");
    json_t *dec = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s}, {s:s}, {s:s}]}", "type", "Sequence",
                            "decoders", "type", "Replace", "pattern", "String", "\xe2\x96\x81",
                            "content", " ", "type", "ByteFallback", "type", "Fuse");
    json_t *model = json_pack("{s:s, s:b, s:b}", "type", "BPE", "byte_fallback", 1, "fuse_unk", 1);
    if (!norm || !dec || !model)
        goto fail;
    if (space_prefix &&
        (json_array_insert_new(json_object_get(norm, "normalizers"), 0,
                               json_pack("{s:s, s:s}", "type", "Prepend", "prepend",
                                         "\xe2\x96\x81")) ||
         json_array_append_new(json_object_get(dec, "decoders"),
                               json_pack("{s:s, s:s, s:i, s:i}", "type", "Strip", "content", " ",
                                         "start", 1, "stop", 0))))
        goto fail;
    if (unk && json_object_set_new(model, "unk_token", json_string(unk)))
        goto fail;
    return json_pack("{s:o, s:o, s:o}", "normalizer", norm, "decoder", dec, "model", model);
fail:
    json_decref(norm);
    json_decref(dec);
    json_decref(model);
    return NULL;
}

/* ---- SentencePiece merges from scores ---- */

typedef struct spm_merge {
    float score;
    int32_t merged, left, right;
} spm_merge;

static int spm_merge_cmp(const void *pa, const void *pb) {
    const spm_merge *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->merged != b->merged)
        return a->merged < b->merged ? -1 : 1;
    if (a->left != b->left)
        return a->left < b->left ? -1 : 1;
    return (a->right > b->right) - (a->right < b->right);
}

/* The normal tokens by text (open addressing; slot = id + 1). */
typedef struct spm_index {
    uint32_t *slots;
    size_t mask;
} spm_index;

static int32_t spm_find(const spm_index *x, const gguf_vocab *v, const char *s, size_t n) {
    for (size_t i = (size_t)vkg_tok_hash(s, n) & x->mask;; i = (i + 1) & x->mask) {
        uint32_t slot = x->slots[i];
        if (!slot)
            return -1;
        const vkg_gguf_str *t = &v->tokens[slot - 1];
        if (t->len == n && memcmp(t->ptr, s, n) == 0)
            return (int32_t)(slot - 1);
    }
}

/* Every split of a normal token into two normal tokens, ranked as the file header says, as
 * "left", "right" entries of a merges table. */
static vkg_status spm_merges(const gguf_vocab *v, vkg_tok_table *out) {
    size_t cap = 16;
    while (cap < 2 * v->n + 2)
        cap *= 2;
    spm_index x = {calloc(cap, sizeof *x.slots), cap - 1};
    spm_merge *m = NULL;
    size_t n_m = 0, cap_m = 0;
    vkg_status st = VKG_OK;
    if (!x.slots) {
        st = vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
        goto done;
    }
    for (uint64_t id = 0; id < v->n; id++) {
        if (v->types[id] != TT_NORMAL || spm_find(&x, v, v->tokens[id].ptr, v->tokens[id].len) >= 0)
            continue;
        size_t i = (size_t)vkg_tok_hash(v->tokens[id].ptr, v->tokens[id].len) & x.mask;
        while (x.slots[i])
            i = (i + 1) & x.mask;
        x.slots[i] = (uint32_t)id + 1;
    }
    for (uint64_t id = 0; id < v->n && !st; id++) {
        if (v->types[id] != TT_NORMAL || v->tokens[id].len == 0) /* empty: refused by the builder */
            continue;
        const uint8_t *s = (const uint8_t *)v->tokens[id].ptr;
        size_t n = v->tokens[id].len;
        size_t at = 0;
        vkg_tok_utf8_next(s, n, &at); /* splits at character boundaries, never inside one */
        while (at < n) {
            int32_t l = spm_find(&x, v, (const char *)s, at);
            int32_t r = l >= 0 ? spm_find(&x, v, (const char *)s + at, n - at) : -1;
            if (r >= 0) {
                if (n_m == cap_m) {
                    size_t c = cap_m ? 2 * cap_m : 4096;
                    spm_merge *p = realloc(m, c * sizeof *p);
                    if (!p) {
                        st = vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
                        break;
                    }
                    m = p;
                    cap_m = c;
                }
                m[n_m++] = (spm_merge){v->scores[id], (int32_t)id, l, r};
            }
            vkg_tok_utf8_next(s, n, &at);
        }
    }
    if (!st && n_m)
        qsort(m, n_m, sizeof *m, spm_merge_cmp);
    for (size_t i = 0; i < n_m && !st; i++) {
        const vkg_gguf_str *a = &v->tokens[m[i].left], *b = &v->tokens[m[i].right];
        if (!(st = vkg_tok_table_add(out, a->ptr, a->len, (int64_t)i)))
            st = vkg_tok_table_add(out, b->ptr, b->len, (int64_t)i);
    }
done:
    free(x.slots);
    free(m);
    return st;
}

/* tokenizer.ggml.merges: "left right" each, as two table entries (-1 - index when malformed,
 * which the builder reports). */
static vkg_status bpe_merges(const vkg_gguf_file *f, const char *label, vkg_tok_table *out) {
    const vkg_gguf_str *ms;
    uint64_t n;
    if (!vkg_gguf_find_kv(f, "tokenizer.ggml.merges"))
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: no tokenizer.ggml.merges (a \"gpt2\" tokenizer "
                        "needs its merges)", label);
    VKG_TRY(vkg_gguf_get_str_array(f, "tokenizer.ggml.merges", &ms, &n));
    for (uint64_t i = 0; i < n; i++) {
        const char *s = ms[i].ptr, *sp = memchr(s, ' ', ms[i].len);
        size_t k = sp ? (size_t)(sp - s) : ms[i].len;
        bool ok = sp && k > 0 && k + 1 < ms[i].len && !memchr(sp + 1, ' ', ms[i].len - k - 1);
        int64_t id = ok ? (int64_t)i : -1 - (int64_t)i;
        VKG_TRY(vkg_tok_table_add(out, s, ok ? k : ms[i].len, id));
        VKG_TRY(vkg_tok_table_add(out, ok ? sp + 1 : "", ok ? ms[i].len - k - 1 : 0, id));
    }
    return VKG_OK;
}

/* An optional token id key: -1 when absent; out of the vocabulary is an error. */
static vkg_status role_key(const vkg_gguf_file *f, const char *label, const char *key, uint64_t n,
                           int32_t *id) {
    *id = -1;
    if (!vkg_gguf_find_kv(f, key))
        return VKG_OK;
    uint32_t v;
    VKG_TRY(vkg_gguf_get_u32(f, key, &v));
    if (v >= n)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: %s = %u is past the vocabulary (%llu tokens)",
                        label, key, v, (unsigned long long)n);
    *id = (int32_t)v;
    return VKG_OK;
}

static vkg_status bool_key(const vkg_gguf_file *f, const char *key, bool dflt, bool *out) {
    *out = dflt;
    return vkg_gguf_find_kv(f, key) ? vkg_gguf_get_bool(f, key, out) : VKG_OK;
}

/* Reads the vocabulary keys of the file into *v. */
static vkg_status vocab_read(const vkg_gguf_file *f, const char *label, bool spm, gguf_vocab *v) {
    if (!vkg_gguf_find_kv(f, "tokenizer.ggml.tokens"))
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: no tokenizer.ggml.tokens (the file has no "
                        "vocabulary)", label);
    VKG_TRY(vkg_gguf_get_str_array(f, "tokenizer.ggml.tokens", &v->tokens, &v->n));
    if (v->n == 0 || v->n >= VKG_TOK_MAX_ID)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: tokenizer.ggml.tokens has %llu entries (1 to %d "
                        "allowed)", label, (unsigned long long)v->n, VKG_TOK_MAX_ID - 1);
    v->types = malloc(v->n * sizeof *v->types);
    v->scores = spm ? malloc(v->n * sizeof *v->scores) : NULL;
    if (!v->types || (spm && !v->scores))
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    const char *keys[2] = {"tokenizer.ggml.token_type", "tokenizer.ggml.scores"};
    for (int k = 0; k < (spm ? 2 : 1); k++) {
        uint64_t n = 0;
        if (!vkg_gguf_find_kv(f, keys[k])) {
            if (k == 1)
                return vkg_fail(VKG_ERROR_TOKENIZER, "%s: no tokenizer.ggml.scores (a \"llama\" "
                                "tokenizer merges by them)", label);
            for (uint64_t i = 0; i < v->n; i++)
                v->types[i] = TT_NORMAL;
            continue;
        }
        VKG_TRY(vkg_gguf_get_array_len(f, keys[k], &n));
        if (n != v->n)
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: %s has %llu entries, tokenizer.ggml.tokens "
                            "%llu", label, keys[k], (unsigned long long)n,
                            (unsigned long long)v->n);
        VKG_TRY(k == 0 ? vkg_gguf_get_int_array(f, keys[k], v->types, n)
                       : vkg_gguf_get_float_array(f, keys[k], v->scores, n));
    }
    for (uint64_t i = 0; spm && i < v->n; i++)
        if (!isfinite(v->scores[i])) /* the merge order compares them */
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: tokenizer.ggml.scores[%llu] is %g", label,
                            (unsigned long long)i, (double)v->scores[i]);
    for (uint64_t i = 0; i < v->n; i++)
        if (v->types[i] < 0 || v->types[i] > TT_BYTE)
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: tokenizer.ggml.token_type[%llu] = %lld is not "
                            "a token type (0..6)", label, (unsigned long long)i,
                            (long long)v->types[i]);
    return VKG_OK;
}

/* The description and tables of the file's tokenizer; *summary says what it is. */
static vkg_status describe(const vkg_gguf_file *f, const char *label, gguf_vocab *v, json_t **root,
                           json_t **cfg, vkg_tok_table *vocab, vkg_tok_table *merges,
                           int32_t role[5], char *summary, size_t n_summary) {
    vkg_gguf_str s;
    if (!vkg_gguf_find_kv(f, "tokenizer.ggml.model"))
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: no tokenizer.ggml.model (the file has no "
                        "tokenizer)", label);
    VKG_TRY(vkg_gguf_get_str(f, "tokenizer.ggml.model", &s));
    bool spm = s.len == 5 && !memcmp(s.ptr, "llama", 5);
    if (!spm && !(s.len == 4 && !memcmp(s.ptr, "gpt2", 4)))
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: tokenizer.ggml.model \"%.*s\" is not supported "
                        "(vkgpt has \"gpt2\", byte-level BPE, and \"llama\", SentencePiece BPE)",
                        label, (int)(s.len > 64 ? 64 : s.len), s.ptr);
    VKG_TRY(vocab_read(f, label, spm, v));
    static const char *role_keys[5] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                       "tokenizer.ggml.unknown_token_id",
                                       "tokenizer.ggml.padding_token_id",
                                       "tokenizer.ggml.eot_token_id"};
    for (int r = 0; r < 5; r++)
        VKG_TRY(role_key(f, label, role_keys[r], v->n, &role[r]));
    for (uint64_t i = 0; spm && role[2] < 0 && i < v->n; i++)
        if (v->types[i] == TT_UNKNOWN)
            role[2] = (int32_t)i;
    bool add_bos, add_eos, space_prefix;
    VKG_TRY(bool_key(f, "tokenizer.ggml.add_bos_token", spm, &add_bos));
    VKG_TRY(bool_key(f, "tokenizer.ggml.add_eos_token", false, &add_eos));
    VKG_TRY(bool_key(f, "tokenizer.ggml.add_space_prefix", true, &space_prefix));

    if (spm) {
        char unk[256];
        if (role[2] >= 0)
            snprintf(unk, sizeof unk, "%.*s", (int)v->tokens[role[2]].len, v->tokens[role[2]].ptr);
        *root = spm_root(space_prefix, role[2] >= 0 ? unk : NULL);
        snprintf(summary, n_summary, "GGUF tokenizer.ggml.model llama: SentencePiece BPE (merges by "
                 "score, byte fallback), pre-tokenizer none (\"\xe2\x96\x81\" for spaces%s)",
                 space_prefix ? ", prepended" : "");
    } else {
        vkg_gguf_str pre = {"default", 7};
        if (vkg_gguf_find_kv(f, "tokenizer.ggml.pre"))
            VKG_TRY(vkg_gguf_get_str(f, "tokenizer.ggml.pre", &pre));
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(pre.len > 63 ? 63 : pre.len), pre.ptr);
        bool nfc, ignore_merges;
        json_t *p = pre.len < 63 ? bpe_pre(name, &nfc, &ignore_merges) : NULL;
        if (!p)
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: tokenizer.ggml.pre \"%s\" is not supported "
                            "(vkgpt maps llama-bpe, qwen2, gpt-2 and smollm)", label, name);
        *root = json_pack("{s:o, s:{s:s}, s:{s:s, s:b}}", "pre_tokenizer", p, "decoder", "type",
                          "ByteLevel", "model", "type", "BPE", "ignore_merges", ignore_merges);
        if (*root && nfc)
            json_object_set_new(*root, "normalizer", json_pack("{s:s}", "type", "NFC"));
        snprintf(summary, n_summary, "GGUF tokenizer.ggml.model gpt2: byte-level BPE, "
                 "pre-tokenizer %s", name);
    }
    json_t *added = json_array();
    *cfg = json_pack("{s:b, s:b}", "add_bos_token", add_bos, "add_eos_token", add_eos);
    if (!*root || !added || !*cfg || json_object_set_new(*root, "added_tokens", added)) {
        if (!*root)
            json_decref(added);
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    /* The roles as tokenizer_config.json would name them, so that the builder sets them up (the
     * BOS it adds, the end ids) as for a directory; the ids are checked after the build. */
    static const char *role_names[4] = {"bos_token", "eos_token", "unk_token", "pad_token"};
    for (int r = 0; r < 4; r++) {
        json_t *t = role[r] >= 0 ? json_stringn(v->tokens[role[r]].ptr, v->tokens[role[r]].len)
                                 : NULL;
        if (t && json_object_set_new(*cfg, role_names[r], t))
            return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    for (uint64_t id = 0; id < v->n; id++) {
        const vkg_gguf_str *t = &v->tokens[id];
        if (model_token(v->types[id])) {
            VKG_TRY(vkg_tok_table_add(vocab, t->ptr, t->len, (int64_t)id));
            continue;
        }
        json_t *c = json_stringn(t->ptr, t->len);
        if (!c)
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: tokenizer.ggml.tokens[%llu] (a control or "
                            "user-defined token) is not valid UTF-8", label,
                            (unsigned long long)id);
        if (json_array_append_new(added, json_pack("{s:I, s:o, s:b, s:b, s:b, s:b, s:b}", "id",
                                                   (json_int_t)id, "content", c, "special",
                                                   v->types[id] != TT_USER, "normalized", 0,
                                                   "lstrip", 0, "rstrip", 0, "single_word", 0)))
            return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    return spm ? spm_merges(v, merges) : bpe_merges(f, label, merges);
}

vkg_status vkg_tok_gguf_build(const vkg_gguf_file *f, vkg_tokenizer **out) {
    *out = NULL;
    const char *path = vkg_gguf_label(f);
    gguf_vocab v = {0};
    json_t *root = NULL, *cfg = NULL;
    vkg_tok_table vocab = {0}, merges = {0};
    int32_t role[5];
    char summary[sizeof((vkg_tokenizer *)0)->summary], name[4200];
    snprintf(name, sizeof name, "%s (tokenizer.ggml.*)", path);
    vkg_status st = describe(f, path, &v, &root, &cfg, &vocab, &merges, role, summary,
                             sizeof summary);
    if (!st)
        st = vkg_tok_build(root, &vocab, &merges, cfg, name, name, out);
    if (!st) {
        vkg_tokenizer *tok = *out;
        snprintf(tok->summary, sizeof tok->summary, "%s", summary);
        /* The ids are the file's word: roles by id, not by a spelling another token may share. */
        for (int r = 0; r < 4; r++) {
            if (role[r] < 0 || role[r] == tok->role_id[r])
                continue;
            free(tok->role_text[r]);
            tok->role_text[r] = strndup(tok->str_arena + tok->str_off[role[r]],
                                        tok->str_len[role[r]]);
            if (!tok->role_text[r])
                st = vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
            if (r == 0 && tok->n_pre_ids && tok->pre_ids[0] == tok->role_id[0])
                tok->pre_ids[0] = role[0];
            tok->role_id[r] = role[r];
        }
        bool have_eot = false;
        for (size_t i = 0; i < tok->n_end_ids; i++)
            have_eot |= tok->end_ids[i] == role[4];
        if (role[4] >= 0 && !have_eot && tok->n_end_ids < 16)
            tok->end_ids[tok->n_end_ids++] = role[4];
    }
    json_decref(root);
    json_decref(cfg);
    vkg_tok_table_free(&vocab);
    vkg_tok_table_free(&merges);
    free(v.types);
    free(v.scores);
    if (st && *out) {
        vkg_tokenizer_free(*out);
        *out = NULL;
    }
    return st;
}

vkg_status vkg_tokenizer_load_gguf(const char *path, vkg_tokenizer **out) {
    *out = NULL;
    vkg_gguf_file *f = NULL;
    VKG_TRY(vkg_gguf_open(path, VKG_GGUF_ANY_TYPE, &f));
    vkg_status st = vkg_tok_gguf_build(f, out);
    vkg_gguf_close(f);
    return st;
}
