/*
 * postproc.c — tokenizer.json's "post_processor", reduced to what it does to one sequence: the
 * special ids put before and after it when special tokens are asked for. TemplateProcessing (its
 * "single" template), RobertaProcessing and BertProcessing (cls ... sep), ByteLevel (offsets only:
 * nothing to do for ids) and Sequence. Pair templates, type ids and offsets are not used by vkgpt.
 * Not here: tokenizer_config.json's add_bos_token / add_eos_token (load.c).
 */
#include "tokenizer/tokenizer.h"

#include <jansson.h>

#include <stdio.h>
#include <string.h>

static vkg_status add_id(int32_t *ids, size_t *n, int32_t id, const char *where) {
    if (*n == VKG_TOK_MAX_SPECIAL)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: more than %d special tokens around a sequence",
                        where, VKG_TOK_MAX_SPECIAL);
    ids[(*n)++] = id;
    return VKG_OK;
}

/* Wraps the current ids in `pre` ... `post` (a later processor sees the earlier one's output). */
static vkg_status wrap(vkg_tokenizer *tok, const int32_t *pre, size_t n_pre, const int32_t *post,
                       size_t n_post, const char *where) {
    if (tok->n_pre_ids + n_pre > VKG_TOK_MAX_SPECIAL || tok->n_post_ids + n_post > VKG_TOK_MAX_SPECIAL)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: more than %d special tokens around a sequence",
                        where, VKG_TOK_MAX_SPECIAL);
    memmove(tok->pre_ids + n_pre, tok->pre_ids, tok->n_pre_ids * sizeof *pre);
    memcpy(tok->pre_ids, pre, n_pre * sizeof *pre);
    tok->n_pre_ids += n_pre;
    memcpy(tok->post_ids + tok->n_post_ids, post, n_post * sizeof *post);
    tok->n_post_ids += n_post;
    return VKG_OK;
}

static vkg_status id_of(const json_t *v, const char *where, int32_t *id) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= VKG_TOK_MAX_ID)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: a token id is not an integer in range", where);
    *id = (int32_t)json_integer_value(v);
    return VKG_OK;
}

static vkg_status template_parse(vkg_tokenizer *tok, const json_t *j, const char *where) {
    const json_t *single = json_object_get(j, "single"), *specials = json_object_get(j, "special_tokens");
    if (!json_is_array(single))
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: TemplateProcessing without a \"single\" array",
                        where);
    int32_t pre[VKG_TOK_MAX_SPECIAL], post[VKG_TOK_MAX_SPECIAL];
    size_t n_pre = 0, n_post = 0, n_seq = 0;
    for (size_t i = 0; i < json_array_size(single); i++) {
        const json_t *item = json_array_get(single, i);
        const json_t *sp = json_object_get(item, "SpecialToken");
        if (json_object_get(item, "Sequence")) {
            n_seq++;
            continue;
        }
        const char *name = json_string_value(json_object_get(sp, "id"));
        if (!name)
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: single[%zu] is neither a SpecialToken nor a "
                            "Sequence", where, i);
        const json_t *ids = json_object_get(json_object_get(specials, name), "ids");
        if (!json_is_array(ids))
            return vkg_fail(VKG_ERROR_TOKENIZER, "%s: special token \"%s\" is not described in "
                            "special_tokens", where, name);
        for (size_t k = 0; k < json_array_size(ids); k++) {
            int32_t id;
            VKG_TRY(id_of(json_array_get(ids, k), where, &id));
            VKG_TRY(n_seq ? add_id(post, &n_post, id, where) : add_id(pre, &n_pre, id, where));
        }
    }
    if (n_seq != 1)
        return vkg_fail(VKG_ERROR_TOKENIZER, "%s: the single template has %zu sequences, not one",
                        where, n_seq);
    return wrap(tok, pre, n_pre, post, n_post, where);
}

/* RobertaProcessing / BertProcessing: "cls": [text, id], "sep": [text, id]. */
static vkg_status cls_sep_parse(vkg_tokenizer *tok, const json_t *j, const char *where) {
    int32_t cls, sep;
    VKG_TRY(id_of(json_array_get(json_object_get(j, "cls"), 1), where, &cls));
    VKG_TRY(id_of(json_array_get(json_object_get(j, "sep"), 1), where, &sep));
    return wrap(tok, &cls, 1, &sep, 1, where);
}

vkg_status vkg_tok_post_parse(vkg_tokenizer *tok, const json_t *j, const char *where) {
    const char *type;
    VKG_TRY(vkg_tok_stage_type(tok, j, where, "processors", vkg_tok_post_parse, &type));
    if (!type) /* absent, or a Sequence already parsed */
        return VKG_OK;
    if (!strcmp(type, "ByteLevel"))
        return VKG_OK;
    if (!strcmp(type, "TemplateProcessing"))
        return template_parse(tok, j, where);
    if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing"))
        return cls_sep_parse(tok, j, where);
    return vkg_fail(VKG_ERROR_TOKENIZER, "%s: post-processor \"%s\" is not supported (vkgpt has "
                    "TemplateProcessing, ByteLevel, Sequence, RobertaProcessing, BertProcessing)",
                    where, type);
}
