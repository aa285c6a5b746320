/*
 * vk/pipeline.c — compute pipelines from the embedded SPIR-V, created lazily and kept for the
 * context's lifetime, plus the VkPipelineCache saved under the user's cache directory so that the
 * second start of vkgpt skips shader compilation.
 *
 * A pipeline is identified by (shader name, specialization values, required subgroup size). Its
 * layout is "n storage buffers in set 0 + one push-constant block", so layouts are shared by binding
 * count.
 */
#include "vk/shader_table.h"
#include "vk/vk_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct vkg_pipeline_entry {
    vkg_pipeline_entry *next;
    vkg_kernel_desc desc;
    vkg_pipeline pipeline;
};

static const vkg_spirv *find_spirv(const char *name) {
    for (size_t i = 0; i < vkg_spirv_table_len; i++)
        if (strcmp(vkg_spirv_table[i].name, name) == 0)
            return &vkg_spirv_table[i];
    return NULL;
}

static bool same_desc(const vkg_kernel_desc *a, const vkg_kernel_desc *b) {
    return strcmp(a->shader, b->shader) == 0 && a->n_bindings == b->n_bindings && a->writes == b->writes &&
           a->push_size == b->push_size && a->n_spec == b->n_spec &&
           a->subgroup_size == b->subgroup_size && memcmp(a->spec, b->spec, a->n_spec * sizeof a->spec[0]) == 0;
}

/* ---- the on-disk pipeline cache ---- */

/* $XDG_CACHE_HOME/vkgpt, else $HOME/.cache/vkgpt; "" when neither is set. Creates the directory. */
static void cache_path(const vkg_context *ctx, char *out, size_t n) {
    out[0] = 0;
    if (vkg_env_flag("VKG_NO_PIPELINE_CACHE"))
        return;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[400];
    if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s/vkgpt", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.cache/vkgpt", home);
    else
        return;
    /* Create both levels; an existing directory is fine, any other failure disables the cache. */
    char parent[400];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash) {
        *slash = 0;
        mkdir(parent, 0755);
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return;
    snprintf(out, n, "%s/pipelines-%04x-%04x-%08x.bin", dir, ctx->info.vendor_id, ctx->info.device_id,
             ctx->info.driver_version);
}

static void cache_load(vkg_context *ctx) {
    cache_path(ctx, ctx->pipeline_cache_path, sizeof ctx->pipeline_cache_path);
    void *data = NULL;
    size_t size = 0;
    FILE *f = ctx->pipeline_cache_path[0] ? fopen(ctx->pipeline_cache_path, "rb") : NULL;
    if (f) {
        if (fseek(f, 0, SEEK_END) == 0) {
            long len = ftell(f);
            if (len > 0 && len < (64l << 20) && fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)len)))
                size = fread(data, 1, (size_t)len, f);
        }
        fclose(f);
    }
    /* The header names the device by vendor, device and pipelineCacheUUID; a cache written by another
     * driver is dropped here rather than trusted to the driver's own check. */
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(ctx->phys, &props);
    if (size < 16 + VK_UUID_SIZE || memcmp((char *)data + 16, props.pipelineCacheUUID, VK_UUID_SIZE) != 0)
        size = 0;
    VkPipelineCacheCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
        .initialDataSize = size,
        .pInitialData = size ? data : NULL,
    };
    if (vkCreatePipelineCache(ctx->device, &info, NULL, &ctx->pipeline_cache) != VK_SUCCESS)
        ctx->pipeline_cache = VK_NULL_HANDLE; /* run without a cache: slower start, same results */
    free(data);
}

static void cache_save(vkg_context *ctx) {
    if (!ctx->pipeline_cache || !ctx->pipeline_cache_path[0] || !ctx->pipelines)
        return;
    size_t size = 0;
    if (vkGetPipelineCacheData(ctx->device, ctx->pipeline_cache, &size, NULL) != VK_SUCCESS || !size)
        return;
    void *data = malloc(size);
    if (data && vkGetPipelineCacheData(ctx->device, ctx->pipeline_cache, &size, data) == VK_SUCCESS) {
        /* Write a temporary file and rename it, so that concurrent vkgpt processes never read a
         * half-written cache. */
        char tmp[600];
        snprintf(tmp, sizeof tmp, "%s.%ld.tmp", ctx->pipeline_cache_path, (long)getpid());
        FILE *f = fopen(tmp, "wb");
        if (f) {
            bool ok = fwrite(data, 1, size, f) == size;
            ok = fclose(f) == 0 && ok;
            if (!ok || rename(tmp, ctx->pipeline_cache_path) != 0)
                remove(tmp);
        }
    }
    free(data);
}

/* ---- pipelines ---- */

static vkg_status set_layout(vkg_context *ctx, uint32_t n, VkDescriptorSetLayout *out) {
    if (ctx->set_layouts[n]) {
        *out = ctx->set_layouts[n];
        return VKG_OK;
    }
    VkDescriptorSetLayoutBinding b[VKG_MAX_BINDINGS];
    for (uint32_t i = 0; i < n; i++)
        b[i] = (VkDescriptorSetLayoutBinding){
            .binding = i,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    VkDescriptorSetLayoutCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = n,
        .pBindings = b,
    };
    VKG_VK(vkCreateDescriptorSetLayout(ctx->device, &info, NULL, &ctx->set_layouts[n]));
    *out = ctx->set_layouts[n];
    return VKG_OK;
}

static vkg_status check_desc(const vkg_context *ctx, const vkg_kernel_desc *d, const vkg_spirv **spv) {
    const vkg_device_info *info = &ctx->info;
    if (!(*spv = find_spirv(d->shader)))
        return vkg_fail(VKG_ERROR_INTERNAL, "no embedded shader named '%s'", d->shader);
    if (d->n_bindings > VKG_MAX_BINDINGS || d->n_spec > VKG_MAX_SPEC || d->n_spec < 1)
        return vkg_fail(VKG_ERROR_INTERNAL, "shader %s: %u bindings / %u specialization constants",
                        d->shader, d->n_bindings, d->n_spec);
    if (d->push_size > 128 || d->push_size > info->max_push_constants_size || d->push_size % 4)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "shader %s: push constants of %u bytes (device allows %u)",
                        d->shader, d->push_size, info->max_push_constants_size);
    uint32_t wg = d->spec[0];
    if (wg == 0 || wg > info->max_workgroup_size[0] || wg > info->max_workgroup_invocations)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "shader %s: workgroup of %u invocations exceeds %s's "
                        "limits (%u in x, %u in all)", d->shader, wg, info->name, info->max_workgroup_size[0],
                        info->max_workgroup_invocations);
    if (d->subgroup_size) {
        if (!info->subgroup_size_control || d->subgroup_size < info->subgroup_min ||
            d->subgroup_size > info->subgroup_max)
            return vkg_fail(VKG_ERROR_FEATURE_MISSING, "shader %s: subgroup size %u requested, %s offers "
                            "%u..%u%s", d->shader, d->subgroup_size, info->name, info->subgroup_min,
                            info->subgroup_max, info->subgroup_size_control ? "" : " (no subgroup size control)");
        if (wg % d->subgroup_size)
            return vkg_fail(VKG_ERROR_INTERNAL, "shader %s: workgroup %u is not a multiple of subgroup "
                            "size %u", d->shader, wg, d->subgroup_size);
    }
    return VKG_OK;
}

static vkg_status create_pipeline(vkg_context *ctx, const vkg_kernel_desc *d, vkg_pipeline *p) {
    const vkg_spirv *spv;
    VKG_TRY(check_desc(ctx, d, &spv));
    VKG_TRY(set_layout(ctx, d->n_bindings, &p->set_layout));
    p->n_bindings = d->n_bindings;
    p->writes = d->writes;
    p->push_size = d->push_size;
    p->local_size = d->spec[0];
    snprintf(p->name, sizeof p->name, "%s", d->shader);

    VkPushConstantRange push = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = d->push_size};
    VkPipelineLayoutCreateInfo layout = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &p->set_layout,
        .pushConstantRangeCount = d->push_size ? 1 : 0,
        .pPushConstantRanges = &push,
    };
    VKG_VK(vkCreatePipelineLayout(ctx->device, &layout, NULL, &p->layout));

    VkShaderModuleCreateInfo module_info = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = spv->size,
        .pCode = spv->code,
    };
    VkShaderModule module;
    VKG_VK(vkCreateShaderModule(ctx->device, &module_info, NULL, &module));

    VkSpecializationMapEntry entries[VKG_MAX_SPEC];
    for (uint32_t i = 0; i < d->n_spec; i++)
        entries[i] = (VkSpecializationMapEntry){.constantID = i, .offset = i * 4, .size = 4};
    VkSpecializationInfo spec = {
        .mapEntryCount = d->n_spec,
        .pMapEntries = entries,
        .dataSize = d->n_spec * 4,
        .pData = d->spec,
    };
    VkPipelineShaderStageRequiredSubgroupSizeCreateInfo sg = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO,
        .requiredSubgroupSize = d->subgroup_size,
    };
    VkComputePipelineCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
            .pNext = d->subgroup_size ? &sg : NULL,
            .flags = d->subgroup_size ? VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT : 0,
            .stage = VK_SHADER_STAGE_COMPUTE_BIT,
            .module = module,
            .pName = "main",
            .pSpecializationInfo = &spec,
        },
        .layout = p->layout,
    };
    VkResult r = vkCreateComputePipelines(ctx->device, ctx->pipeline_cache, 1, &info, NULL, &p->pipeline);
    vkDestroyShaderModule(ctx->device, module, NULL);
    if (r != VK_SUCCESS) {
        vkg_vk_fail(r, "vkCreateComputePipelines", __FILE__, __LINE__);
        return vkg_fail_context(VKG_ERROR_VULKAN, "creating pipeline %s", d->shader);
    }
    vkg_vk_name(ctx, VK_OBJECT_TYPE_PIPELINE, (uint64_t)p->pipeline, d->shader);
    return VKG_OK;
}

static void destroy_pipeline(vkg_context *ctx, vkg_pipeline *p) {
    if (p->pipeline)
        vkDestroyPipeline(ctx->device, p->pipeline, NULL);
    if (p->layout)
        vkDestroyPipelineLayout(ctx->device, p->layout, NULL);
}

vkg_status vkg_pipeline_get(vkg_context *ctx, const vkg_kernel_desc *desc, vkg_pipeline **out) {
    pthread_mutex_lock(&ctx->lock);
    vkg_status s = VKG_OK;
    vkg_pipeline_entry *e = ctx->pipelines;
    while (e && !same_desc(&e->desc, desc))
        e = e->next;
    if (!e) {
        if (!ctx->pipeline_cache_loaded) {
            cache_load(ctx);
            ctx->pipeline_cache_loaded = true;
        }
        e = vkg_calloc(1, sizeof *e);
        if (!e) {
            s = VKG_ERROR_OUT_OF_HOST_MEMORY;
        } else if ((s = create_pipeline(ctx, desc, &e->pipeline)) != VKG_OK) {
            destroy_pipeline(ctx, &e->pipeline);
            free(e);
            e = NULL;
        } else {
            e->desc = *desc;
            e->desc.shader = e->pipeline.name; /* own the name: callers may pass temporaries */
            e->next = ctx->pipelines;
            ctx->pipelines = e;
        }
    }
    pthread_mutex_unlock(&ctx->lock);
    *out = e ? &e->pipeline : NULL;
    return s;
}

uint32_t vkg_pipeline_local_size(const vkg_pipeline *p) { return p->local_size; }

void vkg_pipelines_destroy(vkg_context *ctx) {
    cache_save(ctx);
    while (ctx->pipelines) {
        vkg_pipeline_entry *e = ctx->pipelines;
        ctx->pipelines = e->next;
        destroy_pipeline(ctx, &e->pipeline);
        free(e);
    }
    for (uint32_t i = 0; i <= VKG_MAX_BINDINGS; i++)
        if (ctx->set_layouts[i])
            vkDestroyDescriptorSetLayout(ctx->device, ctx->set_layouts[i], NULL);
    if (ctx->pipeline_cache)
        vkDestroyPipelineCache(ctx->device, ctx->pipeline_cache, NULL);
}
