/*
 * vk/recorder.c — recording compute work into a reusable command buffer.
 *
 * Barriers are derived, not written by hand: every dispatch declares which bindings it writes (the
 * pipeline's `writes` mask), the recorder remembers the byte ranges read and written since the last
 * barrier, and inserts a compute->compute memory barrier only when the next dispatch reads what was
 * written (RAW), writes what was written (WAW) or writes what was read (WAR). Independent dispatches
 * (the Q, K and V halves of a step, say) run back to back.
 *
 * Each recording opens with a barrier against everything submitted before it and closes with one
 * that makes its writes visible to the host, so a recording can be replayed any number of times and
 * its outputs read after vkg_cmd_wait without further thought.
 */
#include "vk/vk_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SETS_PER_POOL = 256, MAX_TIMESTAMPS = 128 };

typedef struct access {
    VkBuffer buffer;
    uint64_t begin, end;
} access;

typedef struct access_list {
    access *items;
    uint32_t n, cap;
} access_list;

struct vkg_cmd {
    vkg_context *ctx;
    char name[64];
    VkCommandPool pool;
    VkCommandBuffer cb;
    VkFence fence;
    bool pending;     /* submitted, not yet waited for */
    bool recording;
    VkDescriptorPool *desc_pools;
    uint32_t n_desc_pools, cur_desc_pool;
    VkQueryPool queries;
    uint32_t n_timestamps;
    access_list reads, writes;
    VkPipeline bound;
    uint32_t n_dispatches, n_barriers;
    bool no_barriers; /* test hook: see vkg_cmd_disable_barriers */
};

static void list_free(access_list *l) {
    free(l->items);
    *l = (access_list){0};
}

static bool list_push(access_list *l, access a) {
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 32;
        access *p = realloc(l->items, cap * sizeof *p);
        if (!p)
            return false;
        l->items = p;
        l->cap = cap;
    }
    l->items[l->n++] = a;
    return true;
}

static bool list_overlaps(const access_list *l, access a) {
    for (uint32_t i = 0; i < l->n; i++)
        if (l->items[i].buffer == a.buffer && l->items[i].begin < a.end && a.begin < l->items[i].end)
            return true;
    return false;
}

vkg_status vkg_cmd_create(vkg_context *ctx, const char *name, vkg_cmd **out) {
    *out = NULL;
    vkg_cmd *cmd = vkg_calloc(1, sizeof *cmd);
    if (!cmd)
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    cmd->ctx = ctx;
    snprintf(cmd->name, sizeof cmd->name, "%s", name ? name : "vkgpt commands");
    vkg_status s = VKG_OK;
    VkResult r;
    VkCommandPoolCreateInfo pool = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .queueFamilyIndex = ctx->queue_family,
    };
    VkFenceCreateInfo fence = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkQueryPoolCreateInfo queries = {
        .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
        .queryType = VK_QUERY_TYPE_TIMESTAMP,
        .queryCount = MAX_TIMESTAMPS,
    };
    if ((r = vkCreateCommandPool(ctx->device, &pool, NULL, &cmd->pool)) != VK_SUCCESS) {
        s = vkg_vk_fail(r, "vkCreateCommandPool", __FILE__, __LINE__);
        goto fail;
    }
    VkCommandBufferAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = cmd->pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    if ((r = vkAllocateCommandBuffers(ctx->device, &alloc, &cmd->cb)) != VK_SUCCESS) {
        s = vkg_vk_fail(r, "vkAllocateCommandBuffers", __FILE__, __LINE__);
        goto fail;
    }
    if ((r = vkCreateFence(ctx->device, &fence, NULL, &cmd->fence)) != VK_SUCCESS) {
        s = vkg_vk_fail(r, "vkCreateFence", __FILE__, __LINE__);
        goto fail;
    }
    if (ctx->info.timestamps && (r = vkCreateQueryPool(ctx->device, &queries, NULL, &cmd->queries)) != VK_SUCCESS) {
        s = vkg_vk_fail(r, "vkCreateQueryPool", __FILE__, __LINE__);
        goto fail;
    }
    vkg_vk_name(ctx, VK_OBJECT_TYPE_COMMAND_BUFFER, (uint64_t)(uintptr_t)cmd->cb, cmd->name);
    *out = cmd;
    return VKG_OK;
fail:
    vkg_cmd_destroy(cmd);
    return s;
}

void vkg_cmd_destroy(vkg_cmd *cmd) {
    if (!cmd)
        return;
    VkDevice dev = cmd->ctx->device;
    if (cmd->pending)
        vkWaitForFences(dev, 1, &cmd->fence, VK_TRUE, UINT64_MAX);
    for (uint32_t i = 0; i < cmd->n_desc_pools; i++)
        vkDestroyDescriptorPool(dev, cmd->desc_pools[i], NULL);
    free(cmd->desc_pools);
    if (cmd->queries)
        vkDestroyQueryPool(dev, cmd->queries, NULL);
    if (cmd->fence)
        vkDestroyFence(dev, cmd->fence, NULL);
    if (cmd->pool)
        vkDestroyCommandPool(dev, cmd->pool, NULL);
    list_free(&cmd->reads);
    list_free(&cmd->writes);
    free(cmd);
}

static void global_barrier(vkg_cmd *cmd, VkPipelineStageFlags src, VkAccessFlags src_access,
                           VkPipelineStageFlags dst, VkAccessFlags dst_access) {
    VkMemoryBarrier b = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = src_access,
        .dstAccessMask = dst_access,
    };
    vkCmdPipelineBarrier(cmd->cb, src, dst, 0, 1, &b, 0, NULL, 0, NULL);
    cmd->reads.n = cmd->writes.n = 0;
}

static const VkPipelineStageFlags WORK_STAGES = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
static const VkAccessFlags WORK_WRITES = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
static const VkAccessFlags WORK_ACCESS = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                         VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;

vkg_status vkg_cmd_begin(vkg_cmd *cmd) {
    VKG_TRY(vkg_cmd_wait(cmd));
    VkDevice dev = cmd->ctx->device;
    VKG_VK(vkResetCommandPool(dev, cmd->pool, 0));
    for (uint32_t i = 0; i < cmd->n_desc_pools; i++)
        VKG_VK(vkResetDescriptorPool(dev, cmd->desc_pools[i], 0));
    cmd->cur_desc_pool = 0;
    VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    VKG_VK(vkBeginCommandBuffer(cmd->cb, &begin));
    cmd->recording = true;
    cmd->bound = VK_NULL_HANDLE;
    cmd->n_timestamps = cmd->n_dispatches = cmd->n_barriers = 0;
    if (cmd->queries)
        vkCmdResetQueryPool(cmd->cb, cmd->queries, 0, MAX_TIMESTAMPS);
    /* Order this recording after everything submitted before it (including its own last replay). */
    global_barrier(cmd, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_ACCESS_MEMORY_WRITE_BIT,
                   VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT);
    return VKG_OK;
}

static vkg_status alloc_set(vkg_cmd *cmd, VkDescriptorSetLayout layout, VkDescriptorSet *set) {
    VkDevice dev = cmd->ctx->device;
    for (;;) {
        if (cmd->cur_desc_pool == cmd->n_desc_pools) {
            VkDescriptorPool *p = realloc(cmd->desc_pools, (cmd->n_desc_pools + 1) * sizeof *p);
            if (!p)
                return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory for descriptor pools");
            cmd->desc_pools = p;
            VkDescriptorPoolSize size = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, SETS_PER_POOL * VKG_MAX_BINDINGS};
            VkDescriptorPoolCreateInfo info = {
                .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                .maxSets = SETS_PER_POOL,
                .poolSizeCount = 1,
                .pPoolSizes = &size,
            };
            VKG_VK(vkCreateDescriptorPool(dev, &info, NULL, &cmd->desc_pools[cmd->n_desc_pools]));
            cmd->n_desc_pools++;
        }
        VkDescriptorSetAllocateInfo info = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
            .descriptorPool = cmd->desc_pools[cmd->cur_desc_pool],
            .descriptorSetCount = 1,
            .pSetLayouts = &layout,
        };
        VkResult r = vkAllocateDescriptorSets(dev, &info, set);
        if (r == VK_SUCCESS)
            return VKG_OK;
        if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL)
            return vkg_vk_fail(r, "vkAllocateDescriptorSets", __FILE__, __LINE__);
        cmd->cur_desc_pool++;
    }
}

/* Record the accesses of one command, inserting a barrier first when it conflicts with what was
 * recorded since the last one. */
static vkg_status track(vkg_cmd *cmd, const access *acc, const bool *writes, uint32_t n) {
    bool conflict = false;
    for (uint32_t i = 0; i < n && !conflict; i++)
        conflict = list_overlaps(&cmd->writes, acc[i]) || (writes[i] && list_overlaps(&cmd->reads, acc[i]));
    if (conflict && !cmd->no_barriers) {
        global_barrier(cmd, WORK_STAGES, WORK_WRITES, WORK_STAGES, WORK_ACCESS);
        cmd->n_barriers++;
    }
    for (uint32_t i = 0; i < n; i++)
        if (!list_push(writes[i] ? &cmd->writes : &cmd->reads, acc[i]))
            return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory tracking accesses");
    return VKG_OK;
}

static vkg_status check_view(const vkg_cmd *cmd, const char *who, uint32_t i, vkg_view v, bool bound) {
    const vkg_device_info *info = &cmd->ctx->info;
    uint64_t end;
    if (!v.buf || v.size == 0 || !vkg_add_u64(v.offset, v.size, &end) || end > v.buf->size)
        return vkg_fail(VKG_ERROR_INTERNAL, "%s: binding %u: range [%llu, +%llu) is empty or outside its "
                        "buffer", who, i, (unsigned long long)v.offset, (unsigned long long)v.size);
    if (bound && v.size > info->max_storage_buffer_range)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "%s: binding %u spans %llu bytes, above the device's "
                        "maxStorageBufferRange (%llu)", who, i, (unsigned long long)v.size,
                        (unsigned long long)info->max_storage_buffer_range);
    if (bound && info->min_storage_buffer_offset_alignment &&
        v.offset % info->min_storage_buffer_offset_alignment)
        return vkg_fail(VKG_ERROR_INTERNAL, "%s: binding %u offset %llu is not a multiple of %u", who, i,
                        (unsigned long long)v.offset, info->min_storage_buffer_offset_alignment);
    return VKG_OK;
}

vkg_status vkg_cmd_dispatch(vkg_cmd *cmd, vkg_pipeline *p, const vkg_view *views, const void *push,
                            uint32_t gx, uint32_t gy, uint32_t gz) {
    const vkg_device_info *info = &cmd->ctx->info;
    if (!cmd->recording)
        return vkg_fail(VKG_ERROR_INTERNAL, "%s: dispatch outside vkg_cmd_begin/end", cmd->name);
    if (gx == 0 || gy == 0 || gz == 0 || gx > info->max_workgroup_count[0] ||
        gy > info->max_workgroup_count[1] || gz > info->max_workgroup_count[2])
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "%s: grid %ux%ux%u outside the device's limits %ux%ux%u",
                        p->name, gx, gy, gz, info->max_workgroup_count[0], info->max_workgroup_count[1],
                        info->max_workgroup_count[2]);
    access acc[VKG_MAX_BINDINGS];
    bool writes[VKG_MAX_BINDINGS];
    VkDescriptorBufferInfo buffers[VKG_MAX_BINDINGS];
    VkWriteDescriptorSet w[VKG_MAX_BINDINGS];
    VkDescriptorSet set;
    for (uint32_t i = 0; i < p->n_bindings; i++) {
        VKG_TRY(check_view(cmd, p->name, i, views[i], true));
        acc[i] = (access){views[i].buf->buffer, views[i].offset, views[i].offset + views[i].size};
        writes[i] = p->writes & (1u << i);
        buffers[i] = (VkDescriptorBufferInfo){views[i].buf->buffer, views[i].offset, views[i].size};
    }
    VKG_TRY(alloc_set(cmd, p->set_layout, &set));
    for (uint32_t i = 0; i < p->n_bindings; i++)
        w[i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = set,
            .dstBinding = i,
            .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .pBufferInfo = &buffers[i],
        };
    vkUpdateDescriptorSets(cmd->ctx->device, p->n_bindings, w, 0, NULL);
    VKG_TRY(track(cmd, acc, writes, p->n_bindings));
    if (cmd->bound != p->pipeline) {
        vkCmdBindPipeline(cmd->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
        cmd->bound = p->pipeline;
    }
    vkCmdBindDescriptorSets(cmd->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0, 1, &set, 0, NULL);
    if (p->push_size)
        vkCmdPushConstants(cmd->cb, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, p->push_size, push);
    vkCmdDispatch(cmd->cb, gx, gy, gz);
    cmd->n_dispatches++;
    return VKG_OK;
}

vkg_status vkg_cmd_dispatch_1d(vkg_cmd *cmd, vkg_pipeline *p, const vkg_view *views, const void *push,
                               uint64_t n_groups) {
    const uint32_t *max = cmd->ctx->info.max_workgroup_count;
    if (n_groups == 0)
        return vkg_fail(VKG_ERROR_INTERNAL, "%s: empty grid", p->name);
    uint64_t x = n_groups, y = 1, z = 1;
    if (x > max[0]) {
        x = max[0];
        y = (n_groups + x - 1) / x;
        if (y > max[1]) {
            z = (y + max[1] - 1) / max[1];
            y = max[1];
        }
    }
    if (z > max[2])
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "%s: %llu workgroups exceed the device's grid", p->name,
                        (unsigned long long)n_groups);
    return vkg_cmd_dispatch(cmd, p, views, push, (uint32_t)x, (uint32_t)y, (uint32_t)z);
}

vkg_status vkg_cmd_copy(vkg_cmd *cmd, vkg_view src, vkg_view dst) {
    VKG_TRY(check_view(cmd, "copy", 0, src, false));
    VKG_TRY(check_view(cmd, "copy", 1, dst, false));
    if (src.size != dst.size)
        return vkg_fail(VKG_ERROR_INTERNAL, "copy: source %llu bytes, destination %llu",
                        (unsigned long long)src.size, (unsigned long long)dst.size);
    access acc[2] = {{src.buf->buffer, src.offset, src.offset + src.size},
                     {dst.buf->buffer, dst.offset, dst.offset + dst.size}};
    bool writes[2] = {false, true};
    VKG_TRY(track(cmd, acc, writes, 2));
    VkBufferCopy region = {.srcOffset = src.offset, .dstOffset = dst.offset, .size = src.size};
    vkCmdCopyBuffer(cmd->cb, src.buf->buffer, dst.buf->buffer, 1, &region);
    return VKG_OK;
}

vkg_status vkg_cmd_timestamp(vkg_cmd *cmd, uint32_t *slot) {
    if (!cmd->queries)
        return vkg_fail(VKG_ERROR_FEATURE_MISSING, "%s does not support timestamps on its compute queue",
                        cmd->ctx->info.name);
    if (cmd->n_timestamps == MAX_TIMESTAMPS)
        return vkg_fail(VKG_ERROR_INTERNAL, "%s: more than %d timestamps", cmd->name, MAX_TIMESTAMPS);
    *slot = cmd->n_timestamps++;
    vkCmdWriteTimestamp(cmd->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, cmd->queries, *slot);
    return VKG_OK;
}

vkg_status vkg_cmd_end(vkg_cmd *cmd) {
    global_barrier(cmd, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_ACCESS_MEMORY_WRITE_BIT,
                   VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
    cmd->recording = false;
    VKG_VK(vkEndCommandBuffer(cmd->cb));
    return VKG_OK;
}

vkg_status vkg_cmd_submit(vkg_cmd *cmd) {
    if (cmd->recording)
        return vkg_fail(VKG_ERROR_INTERNAL, "%s: submitted while still recording", cmd->name);
    VKG_TRY(vkg_cmd_wait(cmd));
    VkSubmitInfo submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &cmd->cb,
    };
    pthread_mutex_lock(&cmd->ctx->queue_lock);
    VkResult r = vkQueueSubmit(cmd->ctx->queue, 1, &submit, cmd->fence);
    pthread_mutex_unlock(&cmd->ctx->queue_lock);
    if (r == VK_ERROR_DEVICE_LOST)
        return vkg_fail(VKG_ERROR_DEVICE_LOST, "device lost on %s while submitting '%s'",
                        cmd->ctx->info.name, cmd->name);
    if (r != VK_SUCCESS)
        return vkg_vk_fail(r, "vkQueueSubmit", __FILE__, __LINE__);
    cmd->pending = true;
    return VKG_OK;
}

vkg_status vkg_cmd_wait(vkg_cmd *cmd) {
    if (!cmd->pending)
        return VKG_OK;
    VkResult r = vkWaitForFences(cmd->ctx->device, 1, &cmd->fence, VK_TRUE, UINT64_MAX);
    cmd->pending = false;
    vkResetFences(cmd->ctx->device, 1, &cmd->fence);
    if (r == VK_ERROR_DEVICE_LOST)
        return vkg_fail(VKG_ERROR_DEVICE_LOST, "device lost on %s while running '%s'", cmd->ctx->info.name,
                        cmd->name);
    if (r != VK_SUCCESS)
        return vkg_vk_fail(r, "vkWaitForFences", __FILE__, __LINE__);
    return VKG_OK;
}

vkg_status vkg_cmd_run(vkg_cmd *cmd) {
    VKG_TRY(vkg_cmd_submit(cmd));
    return vkg_cmd_wait(cmd);
}

vkg_status vkg_cmd_elapsed_ns(vkg_cmd *cmd, uint32_t a, uint32_t b, double *ns) {
    if (!cmd->queries || a >= cmd->n_timestamps || b >= cmd->n_timestamps)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s: timestamp slots %u, %u not recorded", cmd->name, a, b);
    uint64_t t[2];
    VKG_VK(vkGetQueryPoolResults(cmd->ctx->device, cmd->queries, a, 1, sizeof t[0], &t[0], sizeof t[0],
                                 VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    VKG_VK(vkGetQueryPoolResults(cmd->ctx->device, cmd->queries, b, 1, sizeof t[1], &t[1], sizeof t[1],
                                 VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    *ns = (double)(int64_t)(t[1] - t[0]) * cmd->ctx->info.timestamp_period_ns;
    return VKG_OK;
}

uint32_t vkg_cmd_dispatch_count(const vkg_cmd *cmd) { return cmd->n_dispatches; }

void vkg_cmd_disable_barriers(vkg_cmd *cmd) { cmd->no_barriers = true; }
uint32_t vkg_cmd_barrier_count(const vkg_cmd *cmd) { return cmd->n_barriers; }
