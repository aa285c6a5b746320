/*
 * tokenizer.h — internals of the tokenizer shared by its source files: the Hugging Face
 * tokenizer.json pipeline, one file per stage kind:
 *   load.c         files -> vocabulary, merges, added tokens, tokenizer_config.json; dispatches the
 *                  stage descriptions to the files below
 *   hfjson.c       the fast reader of tokenizer.json's vocabulary and merges
 *   normalizers.c  text -> normalized text (Sequence, Prepend, Replace, NF*, Lowercase, Strip)
 *   pretokenizers.c normalized text -> pieces (Split, ByteLevel, Metaspace, Digits, Whitespace, ...)
 *   bpe.c          one piece -> ids (the BPE model)
 *   added.c        added tokens: found in the text before normalisation
 *   postproc.c     the special tokens the post-processor puts around a sequence
 *   decoders.c     one token -> bytes, as the decoder chain says
 *   encode.c       the encoding pipeline; decode.c: decoding, the streaming decoder, queries
 * Not part of the public API (include/vkgpt.h); the buffer loaders below let tests and fuzz targets
 * feed bytes without files.
 */
#ifndef VKG_TOKENIZER_H
#define VKG_TOKENIZER_H

#include "common.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

typedef struct json_t json_t;

/* GPT-2's pre-tokenizer pattern (ByteLevel's use_regex), verbatim. */
#define VKG_TOK_PATTERN \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

/* Largest token id a vocabulary may use; bounds the tables a hostile file can make us allocate. */
#define VKG_TOK_MAX_ID (1 << 24)
/* Most stages one normalizer, pre-tokenizer or decoder may have (Sequences flattened). */
#define VKG_TOK_MAX_STAGES 32
/* Most special ids a post-processor may put before or after a sequence. */
#define VKG_TOK_MAX_SPECIAL 8

#define VKG_TOK_NONE UINT32_MAX

/* A growable byte buffer. */
typedef struct vkg_tok_buf {
    char *p;
    size_t len, cap;
} vkg_tok_buf;

vkg_status vkg_tok_buf_put(vkg_tok_buf *b, const void *data, size_t n);
vkg_status vkg_tok_buf_reserve(vkg_tok_buf *b, size_t extra);

/* Strings read by hfjson.c: the string of entry i is arena.p + off[i] (len[i] bytes, NUL after
 * it), with a number: model.vocab's id, or model.merges' entry index (two entries per merge,
 * -1 - index for an entry that is not "left right"). */
typedef struct vkg_tok_table {
    vkg_tok_buf arena;
    uint32_t *off, *len;
    int64_t *id;
    size_t n, cap;
} vkg_tok_table;

/* Reads a tokenizer.json: model.vocab (when an object) into *vocab, model.merges (when an array)
 * into *merges, every other member into *root (a JSON object, the caller's to json_decref, also
 * on failure). *has_vocab / *has_merges say whether those were read. */
vkg_status vkg_tok_hfjson_read(const char *json, size_t len, const char *name, json_t **root,
                               vkg_tok_table *vocab, vkg_tok_table *merges, bool *has_vocab,
                               bool *has_merges);
/* Reads a vocab.json (an object of token -> id). */
vkg_status vkg_tok_vocab_read(const char *json, size_t len, const char *name, vkg_tok_table *t);
void vkg_tok_table_free(vkg_tok_table *t);

/* ---- normalizers ---- */
typedef enum vkg_tok_norm_kind {
    VKG_NORM_PREPEND,
    VKG_NORM_REPLACE,
    VKG_NORM_NFC,
    VKG_NORM_NFD,
    VKG_NORM_NFKC,
    VKG_NORM_NFKD,
    VKG_NORM_LOWERCASE,
    VKG_NORM_STRIP,
} vkg_tok_norm_kind;

typedef struct vkg_tok_norm {
    vkg_tok_norm_kind kind;
    char *text;          /* Prepend: the prefix; Replace: the replacement */
    size_t n_text;
    pcre2_code *re;      /* Replace: the pattern (a String pattern compiled as a literal) */
    bool left, right;    /* Strip */
} vkg_tok_norm;

/* ---- pre-tokenizers ---- */
typedef enum vkg_tok_pre_kind {
    VKG_PRE_SPLIT,       /* also Whitespace, WhitespaceSplit, Digits, Punctuation: a pattern + behaviour */
    VKG_PRE_BYTELEVEL,   /* always the last stage (checked at load) */
    VKG_PRE_METASPACE,
} vkg_tok_pre_kind;

/* Hugging Face's SplitDelimiterBehavior: what becomes of the pattern's matches. */
typedef enum vkg_tok_split {
    VKG_SPLIT_REMOVED,
    VKG_SPLIT_ISOLATED,
    VKG_SPLIT_MERGED_PREV,
    VKG_SPLIT_MERGED_NEXT,
    VKG_SPLIT_CONTIGUOUS,
} vkg_tok_split;

typedef enum vkg_tok_prepend { VKG_PREPEND_ALWAYS, VKG_PREPEND_FIRST, VKG_PREPEND_NEVER } vkg_tok_prepend;

typedef struct vkg_tok_pre {
    vkg_tok_pre_kind kind;
    pcre2_code *re;          /* Split: the pattern; ByteLevel: GPT-2's (NULL without use_regex);
                                Metaspace: the replacement (NULL without split) */
    vkg_tok_split behavior;  /* Split; Metaspace splits MergedWithNext */
    bool invert;             /* Split: the matches are what is kept apart, not the delimiters */
    bool add_prefix_space;   /* ByteLevel */
    char repl[8];            /* Metaspace: the replacement character, UTF-8 */
    size_t n_repl;
    vkg_tok_prepend prepend; /* Metaspace */
} vkg_tok_pre;

/* ---- decoders ---- */
typedef enum vkg_tok_dec_kind {
    VKG_DEC_BYTELEVEL,
    VKG_DEC_METASPACE,
    VKG_DEC_REPLACE,
    VKG_DEC_BYTEFALLBACK,
    VKG_DEC_FUSE,
    VKG_DEC_STRIP,
} vkg_tok_dec_kind;

typedef struct vkg_tok_dec {
    vkg_tok_dec_kind kind;
    pcre2_code *re;       /* Replace: the pattern */
    char *text;           /* Replace: the replacement; Metaspace, Strip: the character (UTF-8) */
    size_t n_text;
    uint32_t start, stop; /* Strip: how many characters at most to strip at each end */
    bool fused;           /* a Fuse comes before this stage: it sees the whole text, not a token */
    bool prefix;          /* Metaspace: strip the first token's leading space (prepend_scheme) */
} vkg_tok_dec;

/* ---- added tokens ---- */
typedef struct vkg_tok_added {
    int32_t id;
    uint8_t first;        /* the content's first byte (the sort key) */
    uint32_t off, len;    /* the content (normalized when `normalized`) in added_arena */
    bool special, lstrip, rstrip, single_word, normalized;
} vkg_tok_added;

/* One entry of the merge table: the pair (left id, right id) packed in `key`, its rank (order in
 * the merge list, lower merges first) and the id of the merged token. */
typedef struct vkg_tok_merge {
    uint64_t key;    /* (uint64_t)left << 32 | right; UINT64_MAX marks an empty slot */
    uint32_t rank;
    int32_t merged;
} vkg_tok_merge;

/* A string -> id map over strings stored in an arena, open addressing; a slot holds id + 1 in
 * its low 32 bits (0: empty) and the string's hash's high 32 bits above, so that most probes
 * that miss never touch the arena. */
typedef struct vkg_tok_map {
    uint64_t *slots;
    size_t cap;           /* power of two */
    const char *arena;    /* where the strings are */
    const uint32_t *off, *len;  /* (n_vocab) */
} vkg_tok_map;

struct vkg_tokenizer {
    size_t n_vocab;         /* largest id + 1; ids without a token are holes (off == NONE) */

    /* Token text as spelled in the file (byte-level unicode, e.g. "Ġthe", or "▁the"). */
    char *str_arena;
    uint32_t *str_off;      /* (n_vocab) offset into str_arena, VKG_TOK_NONE for a hole */
    uint32_t *str_len;      /* (n_vocab) */
    vkg_tok_map spell;      /* spelling -> id, model vocabulary and added tokens */

    /* The model's key of each vocabulary token: what a piece must hold to be that token. For a
     * byte-level model the bytes its spelling stands for, else the spelling. */
    uint8_t *key_arena;
    uint32_t *key_off, *key_len;   /* (n_vocab) */
    vkg_tok_map key;        /* key -> id, model vocabulary only */

    /* What each token decodes to in the middle of a sequence (the decoder chain applied). */
    uint8_t *byte_arena;
    uint32_t *byte_off;     /* (n_vocab) */
    uint32_t *byte_len;     /* (n_vocab) */

    uint8_t *flags;         /* (n_vocab) VKG_TOKF_* */

    /* The BPE model. */
    vkg_tok_merge *merges;
    size_t merge_cap;       /* power of two */
    size_t n_merges;
    bool byte_level;        /* the pre-tokenizer ends with ByteLevel: pieces are raw bytes */
    int32_t byte_id[256];   /* byte-level: the token of each byte; else byte_fallback's <0xNN>, -1 */
    int16_t byte_of_cp[512];/* GPT-2's byte alphabet back to bytes (-1: not a byte character) */
    bool byte_fallback, ignore_merges, fuse_unk;
    bool merge_rounds;      /* GPT-2's vocab.json + merges.txt: merge by rounds (see bpe.c) */
    bool meta_cut;          /* pieces may be cut before each U+2581 that ends a word (encode.c) */
    int32_t unk;            /* model.unk_token's id, -1 */
    char *cont_prefix, *eow_suffix;   /* continuing_subword_prefix, end_of_word_suffix; NULL: none */
    size_t n_cont_prefix, n_eow_suffix;

    vkg_tok_norm norm[VKG_TOK_MAX_STAGES];
    size_t n_norm;
    vkg_tok_pre pre[VKG_TOK_MAX_STAGES];
    size_t n_pre;
    vkg_tok_dec dec[VKG_TOK_MAX_STAGES];
    size_t n_dec;
    bool no_decoder;        /* tokenizer.json has none: tokens are joined with spaces */

    vkg_tok_added *added;   /* sorted by first byte, then longest first */
    size_t n_added;
    char *added_arena;
    uint32_t added_at[257]; /* the tokens that start with byte b: added[added_at[b], added_at[b+1]) */
    bool has_added[2];      /* [normalized]: some added token is matched in raw / normalized text */

    /* Post-processor (or tokenizer_config.json's add_bos/eos_token): ids around a sequence. */
    int32_t pre_ids[VKG_TOK_MAX_SPECIAL], post_ids[VKG_TOK_MAX_SPECIAL];
    size_t n_pre_ids, n_post_ids;

    /* tokenizer_config.json (or the vocabulary's own conventions): bos, eos, unk, pad. */
    int32_t role_id[4];
    char *role_text[4];
    int32_t end_ids[16];    /* ids that end a turn or the text */
    size_t n_end_ids;

    char summary[160];      /* vkg_tokenizer_summary(): source, model, pre-tokenizer */
};

/* flags[id]: an added token; a special one (skipped by skip_special); a model vocabulary entry. */
enum { VKG_TOKF_ADDED = 1, VKG_TOKF_SPECIAL = 2, VKG_TOKF_MODEL = 4 };

/* Build a tokenizer from the contents of vocab.json and merges.txt (GPT-2's byte-level BPE).
 * `vocab_name` and `merges_name` are used only in error messages. Buffers need no NUL. */
vkg_status vkg_tokenizer_load_buffers(const char *vocab_json, size_t vocab_len,
                                      const char *merges_txt, size_t merges_len,
                                      const char *vocab_name, const char *merges_name,
                                      vkg_tokenizer **out);

/* Build a tokenizer from the contents of a Hugging Face tokenizer.json and, optionally (NULL, 0),
 * a tokenizer_config.json. `name`/`config_name` are used only in error messages. */
vkg_status vkg_tokenizer_load_hf(const char *json, size_t len, const char *name,
                                 const char *config, size_t config_len, const char *config_name,
                                 vkg_tokenizer **out);

/* The same without a tokenizer_config.json (kept for the fuzz target and tests). */
vkg_status vkg_tokenizer_load_hf_json(const char *json, size_t len, const char *name,
                                      vkg_tokenizer **out);

/* Builds a tokenizer from a tokenizer.json-shaped description: `root` holds the normalizer,
 * pre_tokenizer, decoder, post_processor, added_tokens and a "model" object with the BPE settings
 * (not its vocab and merges, which come in `vocab` and `merges` as hfjson.c reads them); `cfg`
 * (NULL: none) is read as tokenizer_config.json. The one construction path of every format:
 * tokenizer.json (load.c) and GGUF metadata (gguf.c). `name`/`config_name` name the source in
 * messages. */
vkg_status vkg_tok_build(const json_t *root, const vkg_tok_table *vocab, const vkg_tok_table *merges,
                         const json_t *cfg, const char *name, const char *config_name,
                         vkg_tokenizer **out);

/* Builds the tokenizer in a GGUF file's tokenizer.ggml.* metadata (gguf.c): of the file at `path`,
 * or of one already parsed (the fuzz target parses bytes); messages name the file's label. */
typedef struct vkg_gguf_file vkg_gguf_file;
vkg_status vkg_tokenizer_load_gguf(const char *path, vkg_tokenizer **out);
vkg_status vkg_tok_gguf_build(const vkg_gguf_file *f, vkg_tokenizer **out);

/* Appends a string with an id to a table (hfjson.c), for loaders that fill tables themselves. */
vkg_status vkg_tok_table_add(vkg_tok_table *t, const char *s, size_t n, int64_t id);

/* GPT-2's bytes_to_unicode(): the code point (< 512) that stands for each byte in vocab strings. */
void vkg_tok_byte_to_cp(uint16_t cp_of_byte[256]);

/* 64-bit FNV-1a; the string hash of the maps and the encode cache. */
static inline uint64_t vkg_tok_hash(const void *p, size_t n) {
    const uint8_t *s = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

int32_t vkg_tok_map_get(const vkg_tok_map *m, const void *s, size_t n);

/* The id of a spelling (vocabulary or added token), -1 when absent. */
static inline int32_t vkg_tok_lookup(const vkg_tokenizer *tok, const char *s, size_t n) {
    return vkg_tok_map_get(&tok->spell, s, n);
}

/* Rank and merged id of the pair (left, right); false when the pair does not merge. */
static inline bool vkg_tok_merge_find(const vkg_tokenizer *tok, int32_t left, int32_t right,
                                      uint32_t *rank, int32_t *merged) {
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    size_t mask = tok->merge_cap - 1;
    size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 17) & mask;
    for (;;) {
        const vkg_tok_merge *m = &tok->merges[i];
        if (m->key == key) {
            *rank = m->rank;
            *merged = m->merged;
            return true;
        }
        if (m->key == UINT64_MAX)
            return false;
        i = (i + 1) & mask;
    }
}

/* UTF-8 helpers (utf8.c-style, in normalizers.c): decode one character at s[*i] (invalid bytes
 * decode as -1, one byte each), encode one. */
int32_t vkg_tok_utf8_next(const uint8_t *s, size_t n, size_t *i);
size_t vkg_tok_utf8_put(uint32_t cp, char out[4]);
/* Rust's char::is_whitespace (the White_Space property). */
bool vkg_tok_is_white(int32_t cp);
/* Replaces every non-empty, non-overlapping match of `re` in s[0, n) with `with`, appending to out. */
vkg_status vkg_tok_replace(const pcre2_code *re, const char *with, size_t n_with, const uint8_t *s,
                           size_t n, vkg_tok_buf *out);
/* A {"String": ...} or {"Regex": ...} pattern object. */
vkg_status vkg_tok_pattern_parse(const json_t *p, const char *what, pcre2_code **re);

/* A regex through PCRE2 (UTF, Unicode properties, invalid UTF-8 never matched); `literal` matches
 * the pattern's text as it is. `what` names the field for the message. */
vkg_status vkg_tok_regex(const char *pattern, size_t n, bool literal, const char *what,
                         pcre2_code **out);

/* Stage parsers (load time): each reads one JSON description, appends its stages (Sequences
 * flattened) and refuses a type it does not implement, naming it. `where` is "file: field". */
/* The stage parsers' shared start: *type is stage object j's "type" (VKG_ERROR_TOKENIZER naming `where`
 * when it has none), or NULL when j is absent or null, or is a "Sequence" whose `list` array this
 * call has already parsed entry by entry with `parse` (entries named "where.list[i]"). */
typedef vkg_status (*vkg_tok_stage_fn)(vkg_tokenizer *tok, const json_t *j, const char *where);
vkg_status vkg_tok_stage_type(vkg_tokenizer *tok, const json_t *j, const char *where, const char *list,
                              vkg_tok_stage_fn parse, const char **type);
vkg_status vkg_tok_norm_parse(vkg_tokenizer *tok, const json_t *j, const char *where);
vkg_status vkg_tok_pre_parse(vkg_tokenizer *tok, const json_t *j, const char *where);
vkg_status vkg_tok_dec_parse(vkg_tokenizer *tok, const json_t *j, const char *where);
vkg_status vkg_tok_post_parse(vkg_tokenizer *tok, const json_t *j, const char *where);
vkg_status vkg_tok_added_parse(vkg_tokenizer *tok, const json_t *added, const char *where);
void vkg_tok_stages_free(vkg_tokenizer *tok);

/* Runs the normalizers over s[0, n) into out (replacing its contents). */
vkg_status vkg_tok_normalize(const vkg_tokenizer *tok, const char *s, size_t n, vkg_tok_buf *out,
                             vkg_tok_buf *tmp);

/* A piece of text being pre-tokenized: bytes [off, off + len) of an arena; `first`: it starts at
 * the beginning of the input (Metaspace's prepend_scheme "first"). */
typedef struct vkg_tok_piece {
    size_t off, len;
    bool first;
} vkg_tok_piece;

typedef struct vkg_tok_pieces {
    vkg_tok_piece *p;
    size_t n, cap;
} vkg_tok_pieces;

/* Runs the pre-tokenizers over the one piece in *in (its text in *arena, which may grow); the
 * result is left in *in. `tmp` is scratch. */
vkg_status vkg_tok_pretokenize(const vkg_tokenizer *tok, vkg_tok_buf *arena, vkg_tok_pieces *in,
                               vkg_tok_pieces *tmp, pcre2_match_data *md);

/* BPE state reused across pieces within one call. */
typedef struct vkg_tok_bpe vkg_tok_bpe;
vkg_status vkg_tok_bpe_create(vkg_tok_bpe **out);
void vkg_tok_bpe_destroy(vkg_tok_bpe *b);
/* Appends the ids of one piece to out[*n] (growing *out, *cap). */
vkg_status vkg_tok_bpe_piece(const vkg_tokenizer *tok, vkg_tok_bpe *b, const uint8_t *s, size_t n,
                             int32_t **out, size_t *n_out, size_t *cap);

/* Finds the next added token in s[0, n) among those with `normalized` as given: its span in
 * [*start, *end) after lstrip/rstrip (never before `from`) and its entry; false when none. */
bool vkg_tok_added_find(const vkg_tokenizer *tok, const uint8_t *s, size_t n, size_t from,
                        bool normalized, size_t *start, size_t *end, const vkg_tok_added **hit);

/* Appends what token `id` decodes to, as the decoder chain says, at `first` (the first token of a
 * sequence) or in the middle; the Strip stages after a Fuse are left to the caller. */
vkg_status vkg_tok_decode_token(const vkg_tokenizer *tok, int32_t id, bool first, vkg_tok_buf *out);
/* For a stream: the Strip-after-Fuse stages over its next bytes s[0, n), each with the number of
 * characters it may still strip in budget[stage] (starting at its `start`, decremented here);
 * returns how many bytes to drop at the head. */
size_t vkg_tok_fused_strip_head(const vkg_tokenizer *tok, const uint8_t *s, size_t n,
                                uint32_t budget[VKG_TOK_MAX_STAGES]);
/* The Strip-after-Fuse stages over a whole decoded text: how many bytes to drop at each end. */
void vkg_tok_decode_fused_strip(const vkg_tokenizer *tok, const uint8_t *s, size_t n, size_t *head,
                                size_t *tail);

#endif /* VKG_TOKENIZER_H */
