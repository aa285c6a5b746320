/*
 * cli/stop_text.h — streamed text with stop strings (`run --stop`, `chat`): text is written as it
 * comes, except a tail that could still grow into a stop string, which is held back; when a stop
 * string completes, the text before it is written and the rest is dropped.
 */
#ifndef VKG_CLI_STOP_TEXT_H
#define VKG_CLI_STOP_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct stop_text {
    const char *const *stops; /* n non-empty stop strings, owned by the caller */
    size_t n;
    char *buf;                /* held back: the longest tail that is a prefix of a stop string */
    size_t len, cap;
} stop_text;

/* Append `len` bytes; write what is settled to `out`. True when a stop string completed (the caller
 * stops generating; nothing after the stop string is written, the stop string neither). False also
 * when out of memory, after writing everything (the stop strings then no longer apply). */
bool stop_text_push(stop_text *s, const char *text, size_t len, FILE *out);

/* Write what is held back (the stream ended without a stop string) and empty the buffer. */
void stop_text_flush(stop_text *s, FILE *out);

/* Empty the buffer without writing (a stop string was found, or a new turn starts). */
void stop_text_reset(stop_text *s);

void stop_text_free(stop_text *s);

#endif /* VKG_CLI_STOP_TEXT_H */
