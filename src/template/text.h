/* text.h — Unicode helpers of the template engine (text.c): Python's whitespace, case mapping and
 * word characters over UTF-8 strings. Internal to src/template. */
#ifndef VKG_TEMPLATE_TEXT_H
#define VKG_TEMPLATE_TEXT_H

#include "template/template.h"

typedef enum tt_case_kind { TT_UPPER, TT_LOWER, TT_TITLE } tt_case_kind;

/* The code point at *at (an invalid byte decodes as itself), advancing *at. */
uint32_t tt_decode(const char *s, size_t len, size_t *at);
size_t tt_encode(uint32_t cp, char *out4);
bool tt_is_space(uint32_t cp);  /* str.isspace() */
bool tt_is_cased(uint32_t cp);  /* Lu, Ll or Lt */
bool tt_is_word(uint32_t cp);   /* \w of Python's re */
uint32_t tt_case(uint32_t cp, tt_case_kind kind);
tmpl_value *tt_map_case(tmpl_ctx *c, tmpl_str s, tt_case_kind kind);
/* str.strip/lstrip/rstrip: chars NULL strips whitespace. */
tmpl_value *tt_strip(tmpl_ctx *c, tmpl_str s, const tmpl_str *chars, bool left, bool right);
/* A string value owning b's bytes. */
tmpl_value *tt_buf_value(tmpl_ctx *c, tmpl_buf *b);

#endif /* VKG_TEMPLATE_TEXT_H */
