/*
 * cli/progress.h — progress of one long CLI operation (a demo phase, loading weights, a long
 * prefill, a benchmark phase) on stderr, so that a slow run is never mistaken for a hung one.
 *
 * On a terminal: one line redrawn in place (\r) at most ten times a second —
 *   vkgpt: without KV cache  200/511 tokens  5.1 tok/s  0:39 elapsed  ETA 1:45
 * and erased when the operation ends (the command prints its own result). Elsewhere (a log, a pipe):
 * one plain line when the operation ends, and one every 30 s while it runs, so a CI log shows a
 * long phase advancing. Operations that end before `min_s` seconds show nothing in either mode.
 *
 * Not a library feature: the library only reports bytes uploaded (vkg_model_options.progress); the
 * CLI drives everything else between its own calls.
 */
#ifndef VKG_CLI_PROGRESS_H
#define VKG_CLI_PROGRESS_H

#include "vkgpt.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct cli_progress {
    const char *label;  /* what is running, e.g. "without KV cache" */
    const char *unit;   /* "tokens", "steps", ...; "MiB" takes done/total in bytes */
    uint64_t total;     /* units in the whole operation (> 0) */
    double min_s;       /* nothing is shown for an operation shorter than this */
    int mode;           /* off, terminal line or plain lines (progress.c) */
    uint64_t done;      /* units done so far */
    double work;        /* fraction of the work done (for the estimate; see update_work) */
    double t0, last_draw, last_plain;
    int width;          /* characters of the line now on the terminal (to overwrite it) */
} cli_progress;

/* Turn all progress off (`run -q`), for the rest of the process. */
void cli_progress_set_quiet(bool quiet);

/* Start timing an operation of `total` units. The mode is chosen here: terminal when stderr is a
 * terminal, else plain; off when quiet. */
void cli_progress_begin(cli_progress *p, const char *label, const char *unit, uint64_t total, double min_s);
/* `done` units are done; the estimate assumes every unit costs the same. */
void cli_progress_update(cli_progress *p, uint64_t done);
/* `done` units are done and they were `work` (0..1) of the whole cost: for operations whose later
 * units cost more (the uncached baseline: step i recomputes i tokens), so that the estimate of what
 * is left is not a fraction of the truth. */
void cli_progress_update_work(cli_progress *p, uint64_t done, double work);
/* The operation ended (finished or failed): erase the terminal line, or print the final plain line
 * when the operation took at least min_s. Returns the seconds since begin. */
double cli_progress_end(cli_progress *p);

/* vkg_model_options.progress for weights being uploaded: `user` is a cli_progress begun with unit
 * "MiB" (its total is replaced by the callback's). */
void cli_progress_bytes(uint64_t done, uint64_t total, void *user);

/* vkg_session_prefill of n tokens (no all_logits) in pieces of CLI_PREFILL_CHUNK, with progress
 * between them when there is more than one piece: the library reports nothing during a prefill,
 * which on a CPU device can take minutes. The pieces append to the KV cache exactly as the
 * interactive loop's turns do, so the result is that of one call up to rounding. */
enum { CLI_PREFILL_CHUNK = 128 };
vkg_status cli_prefill(vkg_session *s, const int32_t *tokens, uint32_t n);

#endif /* VKG_CLI_PROGRESS_H */
