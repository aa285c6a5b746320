/*
 * fuzz_template.c — libFuzzer target for the chat-template engine: template source and messages
 * both come from the input. Layout: byte 0 holds flags (bit 0: add_generation_prompt, bit 1: also
 * pass the messages text as `tools`); the rest is TEMPLATE, then a NUL byte, then MESSAGES (JSON).
 * When MESSAGES is missing or not JSON, a fixed conversation (content strings, a list of parts,
 * null, tool calls) is used instead, so that malformed JSON does not hide the renderer.
 *
 * Limits are lowered (200,000 steps, 32 MiB of values, 1 MiB of output) so that every input
 * finishes in milliseconds; the defaults are exercised by tests/test_template.c. Checked beyond "no
 * crash, no leak": a failure returns no output and a message; a success returns a NUL-terminated
 * buffer of the reported length; compiling the same source twice renders the same text.
 */
#include "template/template.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char FALLBACK_MESSAGES[] =
    "[{\"role\": \"system\", \"content\": \"sys\"}, {\"role\": \"user\", \"content\": [{\"type\": \"text\", "
    "\"text\": \"hi\"}]}, {\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"function\": "
    "{\"name\": \"f\", \"arguments\": {\"a\": 1.5}}}]}, {\"role\": \"tool\", \"content\": \"ok\"}]";

static void check_result(vkg_status s, const char *out, size_t len) {
    if (s == VKG_OK) {
        if (!out || out[len] != 0)
            abort();
    } else if (out || (s != VKG_ERROR_TEMPLATE && s != VKG_ERROR_TEMPLATE_RAISED &&
                       s != VKG_ERROR_OUT_OF_HOST_MEMORY)) {
        abort();
    }
}

static int mentions(const char *s, size_t n, const char *word) {
    size_t w = strlen(word);
    for (size_t k = 0; k + w <= n; k++)
        if (!memcmp(s + k, word, w))
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    data++;
    size--;
    const uint8_t *nul = memchr(data, 0, size);
    size_t tlen = nul ? (size_t)(nul - data) : size;
    /* Exact-size copy of the template (no NUL to lean on); the messages need one for jansson. */
    char *tmpl = malloc(tlen ? tlen : 1);
    size_t mlen = nul ? size - tlen - 1 : 0;
    char *messages = malloc(mlen + 1);
    if (!tmpl || !messages) {
        free(tmpl);
        free(messages);
        return 0;
    }
    memcpy(tmpl, data, tlen);
    if (mlen)
        memcpy(messages, nul + 1, mlen);
    messages[mlen] = 0;
    json_t *probe = json_loads(messages, JSON_DECODE_ANY, NULL);
    const char *msgs = probe ? messages : FALLBACK_MESSAGES;
    json_decref(probe);

    vkg_template *t = NULL;
    vkg_status s = vkg_template_compile(tmpl, tlen, &t);
    if (s == VKG_OK) {
        tmpl_limits lim = {.max_output = 1u << 20, .max_memory = 32u << 20, .max_steps = 200000, .max_depth = 200};
        vkg_template_tokens sp = {"<s>", "</s>", NULL, "<pad>"};
        char *out = NULL, *again = NULL;
        size_t len = 0, len2 = 0;
        s = tmpl_apply_limited(t, msgs, (flags & 2) ? msgs : NULL, flags & 1, &sp, NULL, &lim, &out, &len);
        check_result(s, out, len);
        /* A second compile of the same source renders the same (strftime_now aside). */
        vkg_template *t2 = NULL;
        if (s == VKG_OK && vkg_template_compile(tmpl, tlen, &t2) == VKG_OK) {
            vkg_status s2 = tmpl_apply_limited(t2, msgs, (flags & 2) ? msgs : NULL, flags & 1, &sp, NULL, &lim,
                                               &again, &len2);
            if (s2 != VKG_OK || ((len2 != len || memcmp(out, again, len)) && !mentions(tmpl, tlen, "strftime")))
                abort();
        }
        free(out);
        free(again);
        vkg_template_free(t2);
        vkg_template_free(t);
    } else if (t || s != VKG_ERROR_TEMPLATE) {
        abort();
    }
    free(tmpl);
    free(messages);
    return 0;
}
