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
    vkg_model_config c;
    if (vkg_config_parse(copy, size, "fuzz/config.json", NULL, &c) == VKG_OK) {
        if (!c.n_layer || !c.n_head || !c.n_kv_head || !c.d_model || !c.head_dim || !c.d_ff || !c.vocab_size ||
            !c.n_positions)
            abort();
        if (c.n_head % c.n_kv_head || c.head_dim > 256 || c.n_layer > VKG_CONFIG_MAX_LAYERS ||
            c.d_model > VKG_CONFIG_MAX_DIM || c.n_positions > VKG_CONFIG_MAX_DIM || c.vocab_size > VKG_CONFIG_MAX_VOCAB)
            abort();
        if (!(c.norm_eps > 0) || !(c.attn_scale > 0) || c.n_eos > VKG_MAX_EOS)
            abort();
        for (uint32_t i = 0; i < c.n_eos; i++)
            if (c.eos_token_ids[i] < 0 || (uint32_t)c.eos_token_ids[i] >= c.vocab_size)
                abort();
    }
    free(copy);
    return 0;
}
