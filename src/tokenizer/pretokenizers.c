/*
 * pretokenizers.c — tokenizer.json's "pre_tokenizer": how normalized text is cut into the pieces
 * the model encodes one at a time. Sequence, Split (String or Regex pattern, the five delimiter
 * behaviours, invert), ByteLevel (add_prefix_space, use_regex), Metaspace (replacement,
 * prepend_scheme, split), Digits, Whitespace, WhitespaceSplit and Punctuation. The last four are
 * Splits with a fixed pattern, written here with the same character classes Hugging Face's code
 * uses (Rust's char::is_whitespace, is_numeric, is_punctuation).
 * Not here: normalizers (normalizers.c), the model (bpe.c).
 *
 * ByteLevel must be the last stage: it only marks the pieces as raw bytes for the model (bpe.c
 * maps bytes to tokens directly) instead of rewriting them in GPT-2's byte alphabet, which a later
 * stage would see. A file with a stage after ByteLevel is refused.
 */
#include "tokenizer/tokenizer.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* White_Space, as Rust's char::is_whitespace. */
#define WS "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
/* Oniguruma's \w in Unicode mode (Hugging Face's Whitespace pattern is \w+|[^\w\s]+). */
#define WORD "\\p{L}\\p{M}\\p{Nd}\\p{Pc}"

static vkg_status behavior_parse(const json_t *j, const char *where, vkg_tok_split *out) {
    static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext",
                                  "Contiguous"};
    const char *b = json_string_value(j);
    for (int i = 0; b && i < 5; i++)
        if (!strcmp(b, names[i])) {
            *out = (vkg_tok_split)i;
            return VKG_OK;
        }
    return vkg_fail(VKG_ERROR_TOKENIZER, "%s: behavior %s%s%s is not one of Removed, Isolated, "
                    "MergedWithPrevious, MergedWithNext, Contiguous", where, b ? "\"" : "",
                    b ? b : "(missing)", b ? "\"" : "");
}

static bool flag(const json_t *j, const char *key, bool def) {
    const json_t *v = json_object_get(j, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

vkg_status vkg_tok_pre_parse(vkg_tokenizer *tok, const json_t *j, const char *where) {
    const char *type;
    VKG_TRY(vkg_tok_stage_type(tok, j, where, "pretokenizers", vkg_tok_pre_parse, &type));
    if (!type) /* absent, or a Sequence already parsed */
        return VKG_OK;
    char what[300];
    if (tok->n_pre && tok->pre[tok->n_pre - 1].kind == VKG_PRE_BYTELEVEL)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: pre-tokenizer \"%s\" after ByteLevel is not "
                        "supported (vkgpt needs ByteLevel last)", where, type);
    if (tok->n_pre == VKG_TOK_MAX_STAGES)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: more than %d pre-tokenizers", where,
                        VKG_TOK_MAX_STAGES);
    vkg_tok_pre *s = &tok->pre[tok->n_pre++];
    *s = (vkg_tok_pre){.kind = VKG_PRE_SPLIT};
    const char *fixed = NULL; /* the pattern of the fixed-pattern kinds */
    snprintf(what, sizeof what, "%s: %s", where, type);
    if (!strcmp(type, "Split")) {
        VKG_TRY(behavior_parse(json_object_get(j, "behavior"), what, &s->behavior));
        s->invert = flag(j, "invert", false);
        snprintf(what, sizeof what, "%s: Split.pattern", where);
        return vkg_tok_pattern_parse(json_object_get(j, "pattern"), what, &s->re);
    } else if (!strcmp(type, "ByteLevel")) {
        s->kind = VKG_PRE_BYTELEVEL;
        s->add_prefix_space = flag(j, "add_prefix_space", true);
        if (flag(j, "use_regex", true))
            fixed = VKG_TOK_PATTERN;
        s->behavior = VKG_SPLIT_ISOLATED;
        tok->byte_level = true;
    } else if (!strcmp(type, "Metaspace")) {
        s->kind = VKG_PRE_METASPACE;
        const json_t *r = json_object_get(j, "replacement");
        const char *rep = json_is_string(r) ? json_string_value(r) : "\xe2\x96\x81";
        size_t n = strlen(rep);
        if (n == 0 || n > 4)
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: replacement must be one character", what);
        memcpy(s->repl, rep, n);
        s->n_repl = n;
        const char *scheme = json_string_value(json_object_get(j, "prepend_scheme"));
        if (!scheme)
            s->prepend = flag(j, "add_prefix_space", true) ? VKG_PREPEND_ALWAYS : VKG_PREPEND_NEVER;
        else if (!strcmp(scheme, "always"))
            s->prepend = VKG_PREPEND_ALWAYS;
        else if (!strcmp(scheme, "first"))
            s->prepend = VKG_PREPEND_FIRST;
        else if (!strcmp(scheme, "never"))
            s->prepend = VKG_PREPEND_NEVER;
        else
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: prepend_scheme \"%s\" is not always, first "
                            "or never", what, scheme);
        s->behavior = VKG_SPLIT_MERGED_NEXT;
        if (flag(j, "split", true))
            return vkg_tok_regex(s->repl, s->n_repl, true, what, &s->re);
        return VKG_OK;
    } else if (!strcmp(type, "Digits")) {
        /* Each digit alone, or runs of digits (Contiguous over one-character matches). */
        s->behavior = VKG_SPLIT_ISOLATED;
        fixed = flag(j, "individual_digits", false) ? "\\p{N}" : "\\p{N}+";
    } else if (!strcmp(type, "Whitespace")) {
        s->behavior = VKG_SPLIT_REMOVED;
        s->invert = true;
        fixed = "[" WORD "]+|[^" WORD WS "]+";
    } else if (!strcmp(type, "WhitespaceSplit")) {
        s->behavior = VKG_SPLIT_REMOVED;
        fixed = "[" WS "]";
    } else if (!strcmp(type, "Punctuation")) {
        s->behavior = VKG_SPLIT_ISOLATED;
        if (json_object_get(j, "behavior"))
            VKG_TRY(behavior_parse(json_object_get(j, "behavior"), what, &s->behavior));
        fixed = "[\\p{P}!-/:-@\\[-`{-~]";
    } else {
        tok->n_pre--;
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: pre-tokenizer \"%s\" is not supported (vkgpt has "
                        "Sequence, Split, ByteLevel, Metaspace, Digits, Whitespace, "
                        "WhitespaceSplit, Punctuation)", where, type);
    }
    return fixed ? vkg_tok_regex(fixed, strlen(fixed), false, what, &s->re) : VKG_OK;
}

/* ---- applying ---- */

static vkg_status push(vkg_tok_pieces *p, size_t off, size_t len, bool first) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        vkg_tok_piece *q = realloc(p->p, cap * sizeof *q);
        if (!q)
            return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "pre-tokenizer: out of host memory");
        p->p = q;
        p->cap = cap;
    }
    p->p[p->n++] = (vkg_tok_piece){.off = off, .len = len, .first = first};
    return VKG_OK;
}

/* Splits arena[off, off + len) by `re` under `behavior` and appends the non-empty parts to out.
 * The parts come from Hugging Face's fold over (segment, is_match) in text order; the one for
 * MergedWithNext folds from the end. */
static vkg_status split(const vkg_tok_pre *s, const vkg_tok_buf *arena, size_t off, size_t len,
                        bool first, vkg_tok_pieces *out, pcre2_match_data *md) {
    const char *text = arena->p + off;
    size_t base = out->n;
    bool prev = false;
    size_t at = 0, from = 0;
    /* Segments (gap, match, gap, ...) are folded as they come for the forward behaviours. For
     * MergedWithNext they are stored (is_match in .first) and folded backwards afterwards. */
    for (;;) {
        size_t ms = len, me = len;
        bool found = false;
        while (from <= len) {
            int rc = pcre2_match(s->re, (PCRE2_SPTR)text, len, from, 0, md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH)
                break;
            if (rc < 0) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(rc, msg, sizeof msg);
                return vkg_fail(VKG_ERROR_INTERNAL, "pre-tokenizer: PCRE2 match failed: %s",
                                (const char *)msg);
            }
            const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            if (ov[1] == ov[0]) { /* an empty match makes an empty split, which is dropped */
                from = ov[0];
                (void)vkg_tok_utf8_next((const uint8_t *)text, len, &from);
                continue;
            }
            ms = ov[0];
            me = ov[1];
            found = true;
            break;
        }
        /* Up to two segments: the gap [at, ms) and the match [ms, me). */
        for (int k = 0; k < 2; k++) {
            size_t a = k ? ms : at, b = k ? me : ms;
            if (b <= a)
                continue;
            bool m = (k == 1) != s->invert;
            switch (s->behavior) {
            case VKG_SPLIT_REMOVED:
                if (!m)
                    VKG_TRY(push(out, off + a, b - a, first && a == 0));
                break;
            case VKG_SPLIT_ISOLATED:
                VKG_TRY(push(out, off + a, b - a, first && a == 0));
                break;
            case VKG_SPLIT_MERGED_PREV:
                if (m && !prev && out->n > base)
                    out->p[out->n - 1].len = off + b - out->p[out->n - 1].off;
                else
                    VKG_TRY(push(out, off + a, b - a, first && a == 0));
                break;
            case VKG_SPLIT_CONTIGUOUS:
                if (m == prev && out->n > base)
                    out->p[out->n - 1].len = off + b - out->p[out->n - 1].off;
                else
                    VKG_TRY(push(out, off + a, b - a, first && a == 0));
                break;
            case VKG_SPLIT_MERGED_NEXT:
                VKG_TRY(push(out, off + a, b - a, m)); /* folded below */
                break;
            }
            prev = m;
        }
        if (!found)
            break;
        at = from = me;
    }
    if (s->behavior == VKG_SPLIT_MERGED_NEXT) {
        /* Fold from the end: a match joins the piece that follows it, unless that is a match. */
        size_t w = out->n;
        bool next_match = false;
        for (size_t i = out->n; i-- > base;) {
            vkg_tok_piece seg = out->p[i];
            bool m = seg.first;
            if (m && !next_match && w < out->n) {
                out->p[w].len += out->p[w].off - seg.off;
                out->p[w].off = seg.off;
            } else {
                out->p[--w] = seg;
            }
            next_match = m;
        }
        size_t n = out->n - w;
        memmove(out->p + base, out->p + w, n * sizeof *out->p);
        out->n = base + n;
        for (size_t i = base; i < out->n; i++)
            out->p[i].first = first && out->p[i].off == off;
    }
    return VKG_OK;
}

/* Metaspace: every ' ' becomes the replacement, which is prepended as the scheme says. */
static vkg_status metaspace(const vkg_tok_pre *s, vkg_tok_buf *arena, const vkg_tok_piece *in,
                            size_t *off, size_t *len) {
    size_t n = in->len;
    bool starts = n >= s->n_repl && memcmp(arena->p + in->off, s->repl, s->n_repl) == 0;
    bool first_space = n && arena->p[in->off] == ' ';
    bool prepend = !starts && !first_space &&
                   (s->prepend == VKG_PREPEND_ALWAYS || (s->prepend == VKG_PREPEND_FIRST && in->first));
    size_t spaces = 0;
    for (size_t i = 0; i < n; i++)
        spaces += arena->p[in->off + i] == ' ';
    size_t in_off = in->off; /* `in` may be where *off and *len go */
    VKG_TRY(vkg_tok_buf_reserve(arena, n + (spaces + 1) * s->n_repl));
    const char *src = arena->p + in_off; /* no realloc from here on */
    char *dst = arena->p + arena->len;
    *off = arena->len;
    size_t w = 0;
    if (prepend) {
        memcpy(dst, s->repl, s->n_repl);
        w += s->n_repl;
    }
    for (size_t i = 0; i < n; i++) {
        if (src[i] == ' ') {
            memcpy(dst + w, s->repl, s->n_repl);
            w += s->n_repl;
        } else {
            dst[w++] = src[i];
        }
    }
    arena->len += w;
    arena->p[arena->len] = '\0';
    *len = w;
    return VKG_OK;
}

vkg_status vkg_tok_pretokenize(const vkg_tokenizer *tok, vkg_tok_buf *arena, vkg_tok_pieces *in,
                               vkg_tok_pieces *tmp, pcre2_match_data *md) {
    for (size_t k = 0; k < tok->n_pre; k++) {
        const vkg_tok_pre *s = &tok->pre[k];
        tmp->n = 0;
        for (size_t i = 0; i < in->n; i++) {
            vkg_tok_piece p = in->p[i];
            if (s->kind == VKG_PRE_BYTELEVEL && s->add_prefix_space && arena->p[p.off] != ' ') {
                VKG_TRY(vkg_tok_buf_reserve(arena, p.len + 1));
                size_t off = arena->len;
                arena->p[arena->len++] = ' ';
                VKG_TRY(vkg_tok_buf_put(arena, arena->p + p.off, p.len));
                p.off = off;
                p.len++;
            } else if (s->kind == VKG_PRE_METASPACE) {
                VKG_TRY(metaspace(s, arena, &p, &p.off, &p.len));
            }
            if (s->re)
                VKG_TRY(split(s, arena, p.off, p.len, p.first, tmp, md));
            else if (p.len)
                VKG_TRY(push(tmp, p.off, p.len, p.first));
        }
        vkg_tok_pieces swap = *in;
        *in = *tmp;
        *tmp = swap;
    }
    return VKG_OK;
}
