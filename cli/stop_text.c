/* cli/stop_text.c — stop strings over streamed text (see stop_text.h). */
#include "stop_text.h"

#include <stdlib.h>
#include <string.h>

/* Length of the longest tail of buf[0..len) that is a proper prefix of some stop string. */
static size_t held_tail(const stop_text *s) {
    size_t best = 0;
    for (size_t i = 0; i < s->n; i++) {
        size_t sl = strlen(s->stops[i]);
        for (size_t k = sl - 1 < s->len ? sl - 1 : s->len; k > best; k--)
            if (memcmp(s->buf + s->len - k, s->stops[i], k) == 0) {
                best = k;
                break;
            }
    }
    return best;
}

bool stop_text_push(stop_text *s, const char *text, size_t len, FILE *out) {
    if (len == 0) /* nothing new (a decoder holding back part of a character) */
        return false;
    if (s->n == 0) {
        fwrite(text, 1, len, out);
        return false;
    }
    if (s->len + len > s->cap) {
        size_t cap = (s->len + len) * 2 + 64;
        char *grown = realloc(s->buf, cap);
        if (!grown) { /* write everything out: the stops no longer apply, nothing is lost */
            if (s->len)
                fwrite(s->buf, 1, s->len, out);
            fwrite(text, 1, len, out);
            s->len = 0;
            return false;
        }
        s->buf = grown;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, text, len);
    s->len += len;
    /* The earliest completed stop string ends the stream. */
    size_t cut = s->len;
    for (size_t i = 0; i < s->n; i++) {
        size_t sl = strlen(s->stops[i]);
        for (size_t at = 0; sl && at + sl <= s->len && at < cut; at++)
            if (memcmp(s->buf + at, s->stops[i], sl) == 0) {
                cut = at;
                break;
            }
    }
    if (cut < s->len) {
        fwrite(s->buf, 1, cut, out);
        s->len = 0;
        return true;
    }
    size_t keep = held_tail(s);
    fwrite(s->buf, 1, s->len - keep, out);
    memmove(s->buf, s->buf + s->len - keep, keep);
    s->len = keep;
    return false;
}

void stop_text_flush(stop_text *s, FILE *out) {
    if (s->len) /* buf is NULL until something was held back */
        fwrite(s->buf, 1, s->len, out);
    s->len = 0;
}

void stop_text_reset(stop_text *s) { s->len = 0; }

void stop_text_free(stop_text *s) {
    free(s->buf);
    s->buf = NULL;
    s->len = s->cap = 0;
}
