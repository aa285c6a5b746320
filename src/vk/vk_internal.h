/*
 * vk/vk_internal.h — what the files of src/vk share: the context and object layouts and the macro
 * that checks Vulkan results. Only the src/vk sources include this (and so <volk.h>).
 */
#ifndef VKG_VK_INTERNAL_H
#define VKG_VK_INTERNAL_H

#include "vk/vk.h"

#include <pthread.h>
#include <volk.h>

/* Report a failed Vulkan call with its name, VkResult, file and line, and return the status that
 * matches the result (out of memory, device lost, or VKG_ERROR_VULKAN). */
vkg_status vkg_vk_fail(VkResult r, const char *call, const char *file, int line);
const char *vkg_vk_result_str(VkResult r);

#define VKG_VK(call)                                                       \
    do {                                                                   \
        VkResult vkg_vk_r_ = (call);                                       \
        if (vkg_vk_r_ != VK_SUCCESS)                                       \
            return vkg_vk_fail(vkg_vk_r_, #call, __FILE__, __LINE__);      \
    } while (0)

/* Memory: one block per (memory type, chunk); buffers are placed in blocks by a first-fit free list. */
typedef struct vkg_mem_block vkg_mem_block;

typedef struct vkg_pipeline_entry vkg_pipeline_entry;

struct vkg_context {
    VkInstance instance;
    VkPhysicalDevice phys;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    pthread_mutex_t queue_lock; /* vkQueueSubmit/WaitIdle on one queue must be externally synced */
    pthread_mutex_t lock;       /* allocator and pipeline table */
    vkg_device_info info;
    VkPhysicalDeviceMemoryProperties mem_props;
    bool has_debug_utils;
    bool has_memory_budget;
    VkDebugUtilsMessengerEXT messenger;
    uint64_t validation_messages; /* atomic via __atomic builtins */

    vkg_mem_block *blocks;        /* linked list */
    uint64_t device_bytes;        /* bytes allocated from vkAllocateMemory */
    uint64_t block_size;

    VkPipelineCache pipeline_cache;
    bool pipeline_cache_loaded;
    char pipeline_cache_path[512];
    VkDescriptorSetLayout set_layouts[VKG_MAX_BINDINGS + 1]; /* by binding count, lazily */
    vkg_pipeline_entry *pipelines;                            /* linked list */

    /* Transfers for vkg_buffer_write/download when the buffer is not host-mapped. */
    VkCommandPool transfer_pool;
    VkCommandBuffer transfer_cb;
    VkFence transfer_fence;
    vkg_buffer *staging;
    pthread_mutex_t transfer_lock;
};

struct vkg_buffer {
    vkg_context *ctx;
    VkBuffer buffer;
    uint64_t size;
    vkg_mem_block *block; /* NULL for a dedicated allocation */
    VkDeviceMemory dedicated;
    uint64_t block_offset;
    uint64_t block_bytes; /* bytes reserved in the block */
    void *mapped;
    uint32_t memory_type;
};

struct vkg_pipeline {
    VkPipeline pipeline;
    VkPipelineLayout layout;
    VkDescriptorSetLayout set_layout;
    uint32_t n_bindings, writes, push_size, local_size;
    char name[96];
};

/* Set a debug name on a Vulkan object when VK_EXT_debug_utils is present. */
void vkg_vk_name(const vkg_context *ctx, VkObjectType type, uint64_t handle, const char *name);

/* Pipeline and allocator teardown, called by vkg_context_destroy. */
void vkg_pipelines_destroy(vkg_context *ctx);
void vkg_memory_destroy(vkg_context *ctx);
vkg_status vkg_memory_init(vkg_context *ctx);

/* Capability query for one physical device (device_info.c); `instance_api` bounds what is asked. */
void vkg_device_info_query(VkPhysicalDevice phys, uint32_t index, vkg_device_info *info);
/* Apply VKG_DISABLE_* switches to the feature flags of `info`. */
void vkg_device_info_apply_env(vkg_device_info *info);
/* Index of the device vkgpt picks by default (discrete, integrated, virtual, CPU, other). */
uint32_t vkg_device_pick_default(const vkg_device_info *infos, uint32_t count);
/* Refresh heap budgets (VK_EXT_memory_budget) into ctx->info. */
void vkg_device_info_update_budget(vkg_context *ctx);

/* Load the Vulkan loader through volk; VKG_ERROR_NO_LOADER with advice when absent. */
vkg_status vkg_vk_load(void);
/* Parse an environment switch: true when set to a value other than "", "0", "false" or "no". */
bool vkg_env_flag(const char *name);

#endif /* VKG_VK_INTERNAL_H */
