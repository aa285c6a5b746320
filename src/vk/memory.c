/*
 * vk/memory.c — device memory for vkgpt: a small sub-allocator over a few large VkDeviceMemory blocks,
 * buffers placed in them, and synchronous host <-> device transfers.
 *
 * Why sub-allocate: drivers limit the number of allocations (maxMemoryAllocationCount, often 4096) and
 * each one is slow; a GPT-2 model has ~150 tensors. Blocks are `block_size` bytes (64 MiB, less on
 * small heaps, never above maxMemoryAllocationSize); a buffer larger than half a block gets a dedicated
 * allocation. Free space in a block is a sorted list of ranges, first fit, coalesced on free; a block
 * that becomes empty is returned to the driver so device memory stays flat over long runs.
 *
 * Host access: HOST and READBACK buffers are always mapped. A DEVICE buffer is mapped too when the
 * device has host-visible memory on its main device-local heap (lavapipe, integrated GPUs, resizable
 * BAR); writes then go straight to it, otherwise through a 16 MiB staging buffer and vkCmdCopyBuffer.
 */
#include "vk/vk_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { STAGING_BYTES = 16u << 20 };

typedef struct range {
    uint64_t offset, size;
} range;

struct vkg_mem_block {
    vkg_mem_block *next;
    VkDeviceMemory memory;
    uint32_t type;
    uint64_t size;
    void *mapped;
    range *free;      /* sorted by offset, non-adjacent */
    uint32_t n_free, cap_free;
};

static const VkBufferUsageFlags BUFFER_USAGE = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
                                               VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                               VK_BUFFER_USAGE_TRANSFER_DST_BIT;

static void describe_bytes(uint64_t b, char *out, size_t n) {
    if (b >= (1ull << 30))
        snprintf(out, n, "%.2f GiB", (double)b / (1ull << 30));
    else if (b >= (1ull << 20))
        snprintf(out, n, "%.1f MiB", (double)b / (1ull << 20));
    else
        snprintf(out, n, "%llu bytes", (unsigned long long)b);
}

/* Pick a memory type allowed by `bits` with all `required` flags, preferring `preferred` ones. */
static int find_type(const vkg_context *ctx, uint32_t bits, VkMemoryPropertyFlags required,
                     VkMemoryPropertyFlags preferred, VkMemoryPropertyFlags avoided) {
    int best = -1, best_score = -1000;
    for (uint32_t t = 0; t < ctx->mem_props.memoryTypeCount; t++) {
        VkMemoryPropertyFlags f = ctx->mem_props.memoryTypes[t].propertyFlags;
        if (!(bits & (1u << t)) || (f & required) != required)
            continue;
        int score = __builtin_popcount(f & preferred) * 2 - __builtin_popcount(f & avoided);
        if (score > best_score) {
            best = (int)t;
            best_score = score;
        }
    }
    return best;
}

static int type_for_kind(const vkg_context *ctx, uint32_t bits, vkg_memory_kind kind) {
    const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    switch (kind) {
    case VKG_MEMORY_DEVICE:
        return find_type(ctx, bits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
                         ctx->info.host_visible_device_memory ? host : 0, 0);
    case VKG_MEMORY_HOST:
        return find_type(ctx, bits, host, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    case VKG_MEMORY_READBACK:
        return find_type(ctx, bits, host, VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0);
    }
    return -1;
}

static vkg_status allocate(vkg_context *ctx, uint64_t size, uint32_t type, const char *what,
                           VkDeviceMemory *mem, void **mapped) {
    VkMemoryAllocateInfo info = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = size,
        .memoryTypeIndex = type,
    };
    uint32_t heap = ctx->mem_props.memoryTypes[type].heapIndex;
    /* Asking for more than the heap holds is invalid usage, not an allocation failure: answer it
     * here with the same message the driver's refusal gets. */
    bool fits = size <= ctx->mem_props.memoryHeaps[heap].size;
    VkResult r = fits ? vkAllocateMemory(ctx->device, &info, NULL, mem) : VK_ERROR_OUT_OF_DEVICE_MEMORY;
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY) {
        char asked[32], heap_size[32], used[32];
        describe_bytes(size, asked, sizeof asked);
        describe_bytes(ctx->mem_props.memoryHeaps[heap].size, heap_size, sizeof heap_size);
        describe_bytes(ctx->device_bytes, used, sizeof used);
        return vkg_fail(VKG_ERROR_OUT_OF_DEVICE_MEMORY,
                        "out of device memory: %s asked for %s in heap %u (%s, %s already allocated by "
                        "vkgpt) on %s", what, asked, heap, heap_size, used, ctx->info.name);
    }
    if (r != VK_SUCCESS)
        return vkg_vk_fail(r, "vkAllocateMemory", __FILE__, __LINE__);
    *mapped = NULL;
    if (ctx->mem_props.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
        r = vkMapMemory(ctx->device, *mem, 0, VK_WHOLE_SIZE, 0, mapped);
        if (r != VK_SUCCESS) {
            vkFreeMemory(ctx->device, *mem, NULL);
            return vkg_vk_fail(r, "vkMapMemory", __FILE__, __LINE__);
        }
    }
    ctx->device_bytes += size;
    return VKG_OK;
}

/* Reserve `size` bytes aligned to `align` from the first free range that fits. The reservation
 * starts at the range's start and includes the alignment gap, so a range never splits in two. */
static bool block_take(vkg_mem_block *b, uint64_t size, uint64_t align, uint64_t *reserved_at,
                       uint64_t *reserved_bytes) {
    for (uint32_t i = 0; i < b->n_free; i++) {
        range *r = &b->free[i];
        uint64_t need = vkg_align_up(r->offset, align) - r->offset + size;
        if (need > r->size)
            continue;
        *reserved_at = r->offset;
        *reserved_bytes = need;
        if (need < r->size) {
            r->offset += need;
            r->size -= need;
        } else {
            memmove(r, r + 1, (b->n_free - i - 1) * sizeof *r);
            b->n_free--;
        }
        return true;
    }
    return false;
}

static bool block_give(vkg_mem_block *b, uint64_t offset, uint64_t size) {
    if (b->n_free == b->cap_free) {
        uint32_t cap = b->cap_free ? b->cap_free * 2 : 16;
        range *p = realloc(b->free, cap * sizeof *p);
        if (!p)
            return false;
        b->free = p;
        b->cap_free = cap;
    }
    uint32_t i = 0;
    while (i < b->n_free && b->free[i].offset < offset)
        i++;
    memmove(&b->free[i + 1], &b->free[i], (b->n_free - i) * sizeof(range));
    b->free[i] = (range){offset, size};
    b->n_free++;
    if (i + 1 < b->n_free && b->free[i].offset + b->free[i].size == b->free[i + 1].offset) {
        b->free[i].size += b->free[i + 1].size;
        memmove(&b->free[i + 1], &b->free[i + 2], (b->n_free - i - 2) * sizeof(range));
        b->n_free--;
    }
    if (i > 0 && b->free[i - 1].offset + b->free[i - 1].size == b->free[i].offset) {
        b->free[i - 1].size += b->free[i].size;
        memmove(&b->free[i], &b->free[i + 1], (b->n_free - i - 1) * sizeof(range));
        b->n_free--;
    }
    return true;
}

static void block_release(vkg_context *ctx, vkg_mem_block *b) {
    vkg_mem_block **pp = &ctx->blocks;
    while (*pp && *pp != b)
        pp = &(*pp)->next;
    if (*pp)
        *pp = b->next;
    vkFreeMemory(ctx->device, b->memory, NULL);
    ctx->device_bytes -= b->size;
    free(b->free);
    free(b);
}

/* Place `req` in an existing block of `type` or a new one. Called with ctx->lock held. */
static vkg_status suballocate(vkg_context *ctx, const VkMemoryRequirements *req, uint32_t type,
                              const char *what, vkg_mem_block **block, uint64_t *reserved_at,
                              uint64_t *reserved_bytes) {
    for (vkg_mem_block *b = ctx->blocks; b; b = b->next)
        if (b->type == type && block_take(b, req->size, req->alignment, reserved_at, reserved_bytes)) {
            *block = b;
            return VKG_OK;
        }
    vkg_mem_block *b = vkg_calloc(1, sizeof *b);
    if (!b)
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    b->type = type;
    b->size = ctx->block_size;
    vkg_status s = allocate(ctx, b->size, type, what, &b->memory, &b->mapped);
    if (s != VKG_OK) {
        free(b);
        return s;
    }
    b->next = ctx->blocks;
    ctx->blocks = b;
    if (!block_give(b, 0, b->size)) {
        block_release(ctx, b);
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory tracking a memory block");
    }
    bool ok = block_take(b, req->size, req->alignment, reserved_at, reserved_bytes);
    assert(ok); /* a fresh block holds anything up to half its size */
    (void)ok;
    *block = b;
    return VKG_OK;
}

vkg_status vkg_buffer_create(vkg_context *ctx, uint64_t size, vkg_memory_kind kind, const char *name,
                             vkg_buffer **out) {
    *out = NULL;
    if (size == 0)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "buffer '%s': size 0", name ? name : "?");
    if (size > ctx->info.max_buffer_size) {
        char asked[32], limit[32];
        describe_bytes(size, asked, sizeof asked);
        describe_bytes(ctx->info.max_buffer_size, limit, sizeof limit);
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "buffer '%s' of %s exceeds the device's maxBufferSize "
                        "(%s) on %s", name ? name : "?", asked, limit, ctx->info.name);
    }
    vkg_buffer *buf = vkg_calloc(1, sizeof *buf);
    if (!buf)
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    buf->ctx = ctx;
    buf->size = size;
    VkBufferCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = BUFFER_USAGE,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VkResult r = vkCreateBuffer(ctx->device, &info, NULL, &buf->buffer);
    if (r != VK_SUCCESS) {
        free(buf);
        return vkg_vk_fail(r, "vkCreateBuffer", __FILE__, __LINE__);
    }
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(ctx->device, buf->buffer, &req);
    int type = type_for_kind(ctx, req.memoryTypeBits, kind);
    vkg_status s = VKG_OK;
    if (type < 0) {
        s = vkg_fail(VKG_ERROR_VULKAN, "no memory type suits buffer '%s' on %s", name ? name : "?",
                     ctx->info.name);
        goto fail;
    }
    buf->memory_type = (uint32_t)type;
    char what[160];
    snprintf(what, sizeof what, "buffer '%s'", name ? name : "?");
    pthread_mutex_lock(&ctx->lock);
    void *base = NULL;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    uint64_t offset = 0;
    if (req.size > ctx->block_size / 2) {
        s = allocate(ctx, req.size, (uint32_t)type, what, &buf->dedicated, &base);
        memory = buf->dedicated;
        buf->block_bytes = req.size;
    } else {
        s = suballocate(ctx, &req, (uint32_t)type, what, &buf->block, &buf->block_offset, &buf->block_bytes);
        if (s == VKG_OK) {
            memory = buf->block->memory;
            base = buf->block->mapped;
            offset = vkg_align_up(buf->block_offset, req.alignment);
        }
    }
    pthread_mutex_unlock(&ctx->lock);
    if (s != VKG_OK)
        goto fail;
    buf->mapped = base ? (char *)base + offset : NULL;
    r = vkBindBufferMemory(ctx->device, buf->buffer, memory, offset);
    if (r != VK_SUCCESS) {
        s = vkg_vk_fail(r, "vkBindBufferMemory", __FILE__, __LINE__);
        goto fail;
    }
    vkg_vk_name(ctx, VK_OBJECT_TYPE_BUFFER, (uint64_t)buf->buffer, name);
    *out = buf;
    return VKG_OK;
fail:
    vkg_buffer_destroy(buf);
    return s;
}

void vkg_buffer_destroy(vkg_buffer *buf) {
    if (!buf)
        return;
    vkg_context *ctx = buf->ctx;
    if (buf->buffer)
        vkDestroyBuffer(ctx->device, buf->buffer, NULL);
    pthread_mutex_lock(&ctx->lock);
    if (buf->dedicated) {
        vkFreeMemory(ctx->device, buf->dedicated, NULL);
        ctx->device_bytes -= buf->block_bytes;
    }
    if (buf->block) {
        vkg_mem_block *b = buf->block;
        /* If the free list cannot grow the range is lost to this block, never reused twice. */
        if (block_give(b, buf->block_offset, buf->block_bytes) && b->n_free == 1 &&
            b->free[0].size == b->size)
            block_release(ctx, b);
    }
    pthread_mutex_unlock(&ctx->lock);
    free(buf);
}

uint64_t vkg_buffer_size(const vkg_buffer *buf) { return buf->size; }
void *vkg_buffer_map(const vkg_buffer *buf) { return buf->mapped; }

uint64_t vkg_context_device_bytes(const vkg_context *ctx) {
    vkg_context *c = (vkg_context *)ctx;
    pthread_mutex_lock(&c->lock);
    uint64_t b = c->device_bytes;
    pthread_mutex_unlock(&c->lock);
    return b;
}

uint64_t vkg_rows_per_binding(const vkg_context *ctx, uint64_t row_bytes) {
    uint64_t rows = ctx->info.max_storage_buffer_range / row_bytes;
    uint64_t align = ctx->info.min_storage_buffer_offset_alignment ? ctx->info.min_storage_buffer_offset_alignment : 1;
    /* Round down until rows * row_bytes is a multiple of the offset alignment, so that every chunk
     * starts aligned. Alignments are powers of two, so this ends within `align` steps. */
    while (rows > 1 && (rows * row_bytes) % align)
        rows--;
    return rows ? rows : 1;
}

vkg_status vkg_memory_init(vkg_context *ctx) {
    /* 64 MiB blocks, fewer on small heaps, and never above what one allocation may be. */
    uint64_t heap = 0;
    for (uint32_t i = 0; i < ctx->info.n_heaps; i++)
        if (ctx->info.heaps[i].device_local && ctx->info.heaps[i].size > heap)
            heap = ctx->info.heaps[i].size;
    ctx->block_size = 64ull << 20;
    while (ctx->block_size > (4ull << 20) && (ctx->block_size > heap / 16 ||
                                              ctx->block_size > ctx->info.max_memory_allocation_size))
        ctx->block_size /= 2;

    VkCommandPoolCreateInfo pool = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = ctx->queue_family,
    };
    VKG_VK(vkCreateCommandPool(ctx->device, &pool, NULL, &ctx->transfer_pool));
    VkCommandBufferAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = ctx->transfer_pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VKG_VK(vkAllocateCommandBuffers(ctx->device, &alloc, &ctx->transfer_cb));
    VkFenceCreateInfo fence = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VKG_VK(vkCreateFence(ctx->device, &fence, NULL, &ctx->transfer_fence));
    return VKG_OK;
}

void vkg_memory_destroy(vkg_context *ctx) {
    vkg_buffer_destroy(ctx->staging);
    ctx->staging = NULL;
    if (ctx->transfer_fence)
        vkDestroyFence(ctx->device, ctx->transfer_fence, NULL);
    if (ctx->transfer_pool)
        vkDestroyCommandPool(ctx->device, ctx->transfer_pool, NULL);
    while (ctx->blocks)
        block_release(ctx, ctx->blocks);
}

/* Every transfer is bracketed by barriers so that it is ordered against all device work submitted
 * before and after it (earlier shader writes are visible to the copy; the copy's writes are visible
 * to later submissions and to the host). */
static void full_barrier(VkCommandBuffer cb) {
    VkMemoryBarrier b = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT,
    };
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT,
                         VK_PIPELINE_STAGE_ALL_COMMANDS_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &b, 0,
                         NULL, 0, NULL);
}

typedef enum { XFER_TO_DEVICE, XFER_TO_HOST, XFER_FILL } xfer_kind;

/* Record one transfer into the context's transfer command buffer, submit and wait. Called with
 * ctx->transfer_lock held. */
static vkg_status transfer(vkg_context *ctx, xfer_kind kind, vkg_buffer *buf, uint64_t offset,
                           uint64_t size, uint32_t pattern) {
    VkCommandBuffer cb = ctx->transfer_cb;
    VKG_VK(vkResetCommandBuffer(cb, 0));
    VkCommandBufferBeginInfo begin = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    VKG_VK(vkBeginCommandBuffer(cb, &begin));
    full_barrier(cb);
    if (kind == XFER_FILL) {
        vkCmdFillBuffer(cb, buf->buffer, offset, size, pattern);
    } else {
        VkBufferCopy region = {
            .srcOffset = kind == XFER_TO_DEVICE ? 0 : offset,
            .dstOffset = kind == XFER_TO_DEVICE ? offset : 0,
            .size = size,
        };
        vkCmdCopyBuffer(cb, kind == XFER_TO_DEVICE ? ctx->staging->buffer : buf->buffer,
                        kind == XFER_TO_DEVICE ? buf->buffer : ctx->staging->buffer, 1, &region);
    }
    full_barrier(cb);
    VKG_VK(vkEndCommandBuffer(cb));
    VkSubmitInfo submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &cb,
    };
    pthread_mutex_lock(&ctx->queue_lock);
    VkResult r = vkQueueSubmit(ctx->queue, 1, &submit, ctx->transfer_fence);
    pthread_mutex_unlock(&ctx->queue_lock);
    if (r != VK_SUCCESS)
        return vkg_vk_fail(r, "vkQueueSubmit", __FILE__, __LINE__);
    r = vkWaitForFences(ctx->device, 1, &ctx->transfer_fence, VK_TRUE, UINT64_MAX);
    vkResetFences(ctx->device, 1, &ctx->transfer_fence);
    if (r == VK_ERROR_DEVICE_LOST)
        return vkg_fail(VKG_ERROR_DEVICE_LOST, "device lost on %s during a buffer transfer",
                        ctx->info.name);
    if (r != VK_SUCCESS)
        return vkg_vk_fail(r, "vkWaitForFences", __FILE__, __LINE__);
    return VKG_OK;
}

static vkg_status ensure_staging(vkg_context *ctx) {
    if (ctx->staging)
        return VKG_OK;
    return vkg_buffer_create(ctx, STAGING_BYTES, VKG_MEMORY_HOST, "vkgpt staging", &ctx->staging);
}

static vkg_status check_range(const vkg_buffer *buf, uint64_t offset, uint64_t size, const char *what) {
    uint64_t end;
    if (!vkg_add_u64(offset, size, &end) || end > buf->size)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "%s of %llu bytes at offset %llu passes the end of "
                        "a %llu-byte buffer", what, (unsigned long long)size, (unsigned long long)offset,
                        (unsigned long long)buf->size);
    return VKG_OK;
}

vkg_status vkg_buffer_write(vkg_buffer *buf, uint64_t offset, uint64_t size, vkg_fill_fn fill,
                            void *user, vkg_progress_fn progress) {
    VKG_TRY(check_range(buf, offset, size, "write"));
    vkg_context *ctx = buf->ctx;
    /* Pieces of 16 MiB in both paths so that progress can be reported as bytes land. */
    if (buf->mapped) {
        for (uint64_t done = 0; done < size;) {
            uint64_t n = size - done < STAGING_BYTES ? size - done : STAGING_BYTES;
            fill((char *)buf->mapped + offset + done, done, n, user);
            done += n;
            if (progress)
                progress(done, size, user);
        }
        return VKG_OK;
    }
    pthread_mutex_lock(&ctx->transfer_lock);
    vkg_status s = ensure_staging(ctx);
    for (uint64_t done = 0; s == VKG_OK && done < size;) {
        uint64_t n = size - done < STAGING_BYTES ? size - done : STAGING_BYTES;
        fill(ctx->staging->mapped, done, n, user);
        s = transfer(ctx, XFER_TO_DEVICE, buf, offset + done, n, 0);
        done += n;
        if (s == VKG_OK && progress)
            progress(done, size, user);
    }
    pthread_mutex_unlock(&ctx->transfer_lock);
    return s;
}

static void copy_from_host(void *dst, uint64_t off, uint64_t len, void *user) {
    memcpy(dst, (const char *)user + off, len);
}

vkg_status vkg_buffer_upload(vkg_buffer *buf, uint64_t offset, const void *data, uint64_t size) {
    return vkg_buffer_write(buf, offset, size, copy_from_host, (void *)data, NULL);
}

vkg_status vkg_buffer_download(vkg_buffer *buf, uint64_t offset, void *data, uint64_t size) {
    VKG_TRY(check_range(buf, offset, size, "download"));
    if (buf->mapped) {
        memcpy(data, (const char *)buf->mapped + offset, size);
        return VKG_OK;
    }
    vkg_context *ctx = buf->ctx;
    pthread_mutex_lock(&ctx->transfer_lock);
    vkg_status s = ensure_staging(ctx);
    for (uint64_t done = 0; s == VKG_OK && done < size;) {
        uint64_t n = size - done < STAGING_BYTES ? size - done : STAGING_BYTES;
        s = transfer(ctx, XFER_TO_HOST, buf, offset + done, n, 0);
        if (s == VKG_OK)
            memcpy((char *)data + done, ctx->staging->mapped, n);
        done += n;
    }
    pthread_mutex_unlock(&ctx->transfer_lock);
    return s;
}

vkg_status vkg_buffer_fill(vkg_buffer *buf, uint64_t offset, uint64_t size, uint32_t pattern) {
    VKG_TRY(check_range(buf, offset, size, "fill"));
    if (offset % 4 || size % 4)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "fill: offset and size must be multiples of 4");
    pthread_mutex_lock(&buf->ctx->transfer_lock);
    vkg_status s = transfer(buf->ctx, XFER_FILL, buf, offset, size, pattern);
    pthread_mutex_unlock(&buf->ctx->transfer_lock);
    return s;
}
