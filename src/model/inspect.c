/*
 * inspect.c — vkg_model_inspect: what a model file holds (format, architecture, the neutral config,
 * tensor types and sizes), checked and mapped exactly as for loading, without a device.
 */
#include "model/gguf_model.h"
#include "model/tensors.h"

#include <stdio.h>
#include <string.h>

static void count_type(vkg_model_info *info, const char *name, uint64_t bytes) {
    for (uint32_t i = 0; i < info->n_types; i++)
        if (strcmp(info->types[i].name, name) == 0) {
            info->types[i].count++;
            info->types[i].bytes += bytes;
            return;
        }
    if (info->n_types == VKG_ARRAY_LEN(info->types))
        return;
    snprintf(info->types[info->n_types].name, sizeof info->types[0].name, "%s", name);
    info->types[info->n_types].count = 1;
    info->types[info->n_types++].bytes = bytes;
}

static vkg_status inspect_gguf(const char *path, vkg_model_info *info) {
    vkg_gguf_file *f = NULL;
    VKG_TRY(vkg_gguf_open(path, VKG_GGUF_ANY_TYPE, &f));
    snprintf(info->format, sizeof info->format, "gguf");
    vkg_gguf_str arch = {"", 0};
    vkg_status s = vkg_gguf_get_str(f, "general.architecture", &arch);
    if (s == VKG_OK)
        snprintf(info->architecture, sizeof info->architecture, "%.*s", (int)(arch.len > 31 ? 31 : arch.len), arch.ptr);
    info->n_tensors = vkg_gguf_tensor_count(f);
    for (size_t i = 0; i < info->n_tensors; i++) {
        const vkg_gguf_tensor *t = vkg_gguf_tensor_at(f, i);
        const char *name = vkg_ggml_type_name(t->type);
        count_type(info, name ? name : "?", t->nbytes);
        info->tensor_bytes += t->nbytes;
    }
    info->has_weights = info->n_tensors > 0;
    if (s == VKG_OK && info->has_weights)
        s = vkg_gguf_model_config(f, &info->config);
    vkg_gguf_close(f);
    return s;
}

vkg_status vkg_model_inspect(const char *path, vkg_model_info *info) {
    if (!path || !info)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_model_inspect: NULL argument");
    memset(info, 0, sizeof *info);
    if (vkg_is_gguf(path))
        return inspect_gguf(path, info);
    vkg_checkpoint *ck = NULL;
    vkg_model_tensors *t = NULL;
    vkg_status s = vkg_checkpoint_open(path, &ck);
    if (s == VKG_OK)
        s = vkg_model_tensors_map(ck, &t);
    if (s == VKG_OK) {
        snprintf(info->format, sizeof info->format, "safetensors");
        info->config = *vkg_checkpoint_config(ck);
        snprintf(info->architecture, sizeof info->architecture, "%s", info->config.family);
        info->has_weights = true;
        info->n_tensors = vkg_checkpoint_tensor_count(ck);
        for (size_t i = 0; i < info->n_tensors; i++) {
            const vkg_st_tensor *x = vkg_checkpoint_tensor_at(ck, i);
            count_type(info, vkg_dtype_name(x->dtype), x->nbytes);
            info->tensor_bytes += x->nbytes;
        }
    }
    vkg_model_tensors_free(t);
    vkg_checkpoint_close(ck);
    return s;
}
