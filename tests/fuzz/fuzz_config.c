/*
 * fuzz_config.c — libFuzzer target: arbitrary bytes as config.json through vkg_config_parse().
 * An accepted config must satisfy the invariants the model code relies on (checked here, abort on
 * violation): every size non-zero and within the documented limits, n_embd divisible by n_head.
 */
#include "model/config.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *copy = malloc(size ? size : 1); /* exactly `size` bytes: no NUL for the parser to lean on */
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    vkg_gpt2_config c;
    if (vkg_config_parse(copy, size, "fuzz/config.json", &c) == VKG_OK) {
        if (!c.n_layer || !c.n_head || !c.n_embd || !c.vocab_size || !c.n_positions)
            abort();
        if (c.n_embd % c.n_head || c.n_layer > VKG_CONFIG_MAX_LAYERS || c.n_embd > VKG_CONFIG_MAX_DIM ||
            c.n_positions > VKG_CONFIG_MAX_DIM || c.vocab_size > VKG_CONFIG_MAX_VOCAB)
            abort();
        if (!(c.layer_norm_epsilon > 0) || c.layer_norm_epsilon != c.layer_norm_epsilon)
            abort();
    }
    free(copy);
    return 0;
}
