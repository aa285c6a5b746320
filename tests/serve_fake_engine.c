/* tests/serve_fake_engine.c — cli/serve_engine.h on a fake model (see serve_fake_engine.h). */
#include "serve_fake_engine.h"

#include "serve_engine.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int32_t fake_eos = -1;
uint32_t fake_positions = 128;
int fake_fail_steps = 0;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int gate_closed;
static char log_buf[1 << 16];
static uint32_t max_batch;

struct serve_engine { int unused; };
struct serve_eslot {
    int32_t seq[4096];
    uint32_t n;
};
struct serve_esampler {
    uint64_t state;
};
struct serve_edetok {
    char buf[16];
};

static uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void fake_logits(const int32_t *seq, uint32_t n, float *logits) {
    uint64_t h = 1469598103934665603ull;
    for (uint32_t i = 0; i < n; i++)
        h = mix(h ^ (uint64_t)(uint32_t)seq[i]);
    for (uint32_t v = 0; v < FAKE_VOCAB; v++)
        logits[v] = (float)(mix(h + v) >> 40) / (float)(1 << 24) * 8.0f;
}

int32_t fake_argmax(const float *logits) {
    int32_t best = 0;
    for (int32_t v = 1; v < FAKE_VOCAB; v++)
        if (logits[v] > logits[best])
            best = v;
    return best;
}

static void gate_and_log(const char *fmt, uint32_t n) {
    pthread_mutex_lock(&mu);
    while (gate_closed)
        pthread_cond_wait(&cv, &mu);
    size_t at = strlen(log_buf);
    if (at + 16 < sizeof log_buf)
        snprintf(log_buf + at, sizeof log_buf - at, fmt, n);
    pthread_mutex_unlock(&mu);
}

void fake_gate_close(void) {
    pthread_mutex_lock(&mu);
    gate_closed = 1;
    pthread_mutex_unlock(&mu);
}

void fake_gate_open(void) {
    pthread_mutex_lock(&mu);
    gate_closed = 0;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

const char *fake_log(void) {
    return log_buf;
}

void fake_reset(void) {
    pthread_mutex_lock(&mu);
    log_buf[0] = 0;
    max_batch = 0;
    pthread_mutex_unlock(&mu);
    fake_eos = -1;
    fake_positions = 128;
    fake_fail_steps = 0;
}

uint32_t fake_max_batch(void) {
    return max_batch;
}

const char *serve_engine_last_error(void) {
    return "fake engine failure";
}

int serve_engine_open(const serve_engine_options *opts, serve_engine **out) {
    (void)opts;
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -1;
}

void serve_engine_close(serve_engine *e) {
    free(e);
}

void serve_engine_get_info(const serve_engine *e, serve_engine_info *info) {
    (void)e;
    *info = (serve_engine_info){.n_positions = fake_positions, .vocab_size = FAKE_VOCAB, .eos = fake_eos,
                                .has_tokenizer = true};
}

/* Tokens: ids < 256 are bytes; the others spell "<id>". */
static void token_text(int32_t id, char *buf, size_t *len) {
    if (id < 256) {
        buf[0] = (char)id;
        *len = 1;
    } else {
        *len = (size_t)snprintf(buf, 16, "<%d>", id);
    }
}

int serve_engine_tokenize(const serve_engine *e, const char *text, size_t len, bool add_special, int32_t **ids,
                          size_t *n) {
    (void)add_special;
    (void)e;
    *ids = malloc((len + 1) * sizeof **ids);
    for (size_t i = 0; i < len; i++)
        (*ids)[i] = (unsigned char)text[i];
    *n = len;
    return 0;
}

int serve_engine_token_text(const serve_engine *e, int32_t id, const char **bytes, size_t *len) {
    (void)e;
    static _Thread_local char buf[16];
    token_text(id, buf, len);
    *bytes = buf;
    return 0;
}

int serve_engine_render_chat(const serve_engine *e, const serve_message *msgs, size_t n, char **prompt, size_t *len,
                             serve_error *err) {
    (void)e, (void)msgs, (void)n, (void)prompt, (void)len;
    return serve_error_set(err, 400, "invalid_request_error", "no_chat_template", "messages", "no template");
}

int serve_engine_slot_create(serve_engine *e, serve_eslot **out) {
    (void)e;
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -1;
}

void serve_engine_slot_free(serve_eslot *s) {
    free(s);
}

int serve_engine_slot_truncate(serve_eslot *s, uint32_t pos) {
    if (pos > s->n)
        return -1;
    s->n = pos;
    return 0;
}

int serve_engine_slot_prefill(serve_eslot *s, const int32_t *ids, uint32_t n) {
    gate_and_log("P%u ", n);
    if (s->n + n > fake_positions)
        return -1;
    memcpy(s->seq + s->n, ids, n * sizeof *ids);
    s->n += n;
    return 0;
}

void serve_engine_slot_want_logits(serve_eslot *s, bool want) {
    (void)s, (void)want;
}

int serve_engine_slot_logits(serve_eslot *s, float *logits) {
    fake_logits(s->seq, s->n, logits);
    return 0;
}

int32_t serve_engine_slot_argmax(serve_eslot *s) {
    float lg[FAKE_VOCAB];
    fake_logits(s->seq, s->n, lg);
    return fake_argmax(lg);
}

int serve_engine_step(serve_engine *e, serve_eslot *const *slots, const int32_t *tokens, uint32_t n) {
    (void)e;
    gate_and_log("S%u ", n);
    pthread_mutex_lock(&mu);
    if (n > max_batch)
        max_batch = n;
    pthread_mutex_unlock(&mu);
    if (fake_fail_steps > 0) {
        fake_fail_steps--;
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (slots[i]->n >= fake_positions)
            return -1;
        slots[i]->seq[slots[i]->n++] = tokens[i];
    }
    return 0;
}

int serve_engine_sampler_create(const serve_engine *e, const serve_sampling *p, serve_esampler **out) {
    (void)e;
    *out = calloc(1, sizeof **out);
    if (*out)
        (*out)->state = p->seed;
    return *out ? 0 : -1;
}

void serve_engine_sampler_free(serve_esampler *s) {
    free(s);
}

/* A seeded draw that ignores the logits: enough for the scheduler's reproducibility. */
int serve_engine_sample(serve_esampler *s, const float *logits, uint32_t n_vocab, const int32_t *history,
                        uint32_t n_history, int32_t *token) {
    (void)logits, (void)history, (void)n_history;
    s->state = mix(s->state);
    *token = (int32_t)(s->state % n_vocab);
    return 0;
}

int serve_engine_detok_create(const serve_engine *e, serve_edetok **out) {
    (void)e;
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -1;
}

void serve_engine_detok_free(serve_edetok *d) {
    free(d);
}

int serve_engine_detok_push(serve_edetok *d, int32_t id, const char **text, size_t *len) {
    token_text(id, d->buf, len);
    *text = d->buf;
    return 0;
}

int serve_engine_detok_flush(serve_edetok *d, const char **text, size_t *len) {
    (void)d;
    *text = "";
    *len = 0;
    return 0;
}
