/*
 * vk/vk.h — vkgpt's Vulkan runtime: the only code that calls Vulkan.
 *
 * Above this line (kernels, model, session, CLI) nobody includes <vulkan/vulkan.h>: they see
 * buffers, views, pipelines and a command recorder. What lives here:
 *   context.c      instance, device choice, features, queue, validation messenger
 *   device_info.c  capability queries (vkg_device_info) and the `devices` listing
 *   memory.c       sub-allocating memory allocator, buffers, upload/download through staging
 *   pipeline.c     compute pipelines from embedded SPIR-V, specialization, the on-disk cache
 *   recorder.c     command recording: dispatches, automatic barriers, timestamps, submission
 *   result.c       VkResult names and the failure reporting of Vulkan calls
 *
 * Large tensors: a storage-buffer binding may span at most maxStorageBufferRange bytes (128 MiB on
 * lavapipe). Buffers themselves may be larger (up to maxBufferSize); kernels that read such a tensor
 * bind it in row-aligned chunks, each within the range, and dispatch once per chunk (see
 * vkg_view_chunk()). That keeps every access visible to the validation layers, unlike buffer device
 * addresses, and works on every Vulkan 1.2 device.
 */
#ifndef VKG_VK_H
#define VKG_VK_H

#include "common.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct vkg_buffer vkg_buffer;
typedef struct vkg_pipeline vkg_pipeline;
typedef struct vkg_cmd vkg_cmd;

/* ---- memory (memory.c) ---- */

typedef enum vkg_memory_kind {
    VKG_MEMORY_DEVICE,   /* device-local; host-mapped too when the device offers that for free */
    VKG_MEMORY_HOST,     /* host-visible, coherent: per-step parameters, staging */
    VKG_MEMORY_READBACK, /* host-visible, cached where possible: results read by the host */
} vkg_memory_kind;

/* A buffer of `size` bytes usable as storage buffer and as copy source/destination. `name` is a
 * debug name (shown by validation messages and tools); it is copied. Fails with
 * VKG_ERROR_OUT_OF_DEVICE_MEMORY naming the size and heap, or VKG_ERROR_DEVICE_LIMIT when `size`
 * exceeds maxBufferSize. Release with vkg_buffer_destroy (NULL is fine). */
vkg_status vkg_buffer_create(vkg_context *ctx, uint64_t size, vkg_memory_kind kind, const char *name,
                             vkg_buffer **out);
void vkg_buffer_destroy(vkg_buffer *buf);
uint64_t vkg_buffer_size(const vkg_buffer *buf);
/* Host pointer of a host-visible buffer (always for HOST/READBACK), else NULL. */
void *vkg_buffer_map(const vkg_buffer *buf);

/* Fill `size` bytes of `buf` at `offset` from the host, synchronously (the device is idle for this
 * buffer when it returns). `fill(dst, off, len, user)` writes bytes [off, off+len) of the region into
 * dst — possibly in several pieces through a staging buffer — so callers can convert (f32 → f16) on
 * the fly without a second host copy. `progress` (nullable) is called after each piece with bytes done. */
typedef void (*vkg_fill_fn)(void *dst, uint64_t off, uint64_t len, void *user);
typedef void (*vkg_progress_fn)(uint64_t done, uint64_t total, void *user);
vkg_status vkg_buffer_write(vkg_buffer *buf, uint64_t offset, uint64_t size, vkg_fill_fn fill,
                            void *user, vkg_progress_fn progress);
vkg_status vkg_buffer_upload(vkg_buffer *buf, uint64_t offset, const void *data, uint64_t size);
vkg_status vkg_buffer_download(vkg_buffer *buf, uint64_t offset, void *data, uint64_t size);
/* Fill with a repeated 32-bit pattern (vkCmdFillBuffer), synchronously. */
vkg_status vkg_buffer_fill(vkg_buffer *buf, uint64_t offset, uint64_t size, uint32_t pattern);

/* Bytes currently allocated from Vulkan (device memory), for leak and growth checks. */
uint64_t vkg_context_device_bytes(const vkg_context *ctx);

/* A byte range of a buffer, as a kernel binds it. size must be <= maxStorageBufferRange and offset
 * a multiple of minStorageBufferOffsetAlignment when bound. */
typedef struct vkg_view {
    vkg_buffer *buf;
    uint64_t offset;
    uint64_t size;
} vkg_view;

static inline vkg_view vkg_view_whole(vkg_buffer *b) { return (vkg_view){b, 0, vkg_buffer_size(b)}; }

/* The largest number of rows of `row_bytes` each that one binding may cover on this device, taking
 * maxStorageBufferRange and the offset alignment into account (chunks start on aligned offsets when
 * row_bytes * rows is a multiple of the alignment; the result is rounded down to ensure that). */
uint64_t vkg_rows_per_binding(const vkg_context *ctx, uint64_t row_bytes);

/* ---- pipelines (pipeline.c) ---- */

enum { VKG_MAX_BINDINGS = 8, VKG_MAX_SPEC = 8 };

/* What a kernel is, for pipeline creation. Convention for every shader: specialization constant 0 is
 * local_size_x (`layout(local_size_x_id = 0) in;`); others are the shader's own (tile sizes ...).
 * Bindings are storage buffers 0..n_bindings-1 of set 0; bit i of `writes` says binding i is written
 * (the recorder derives barriers from it). */
typedef struct vkg_kernel_desc {
    const char *shader;          /* name of the embedded SPIR-V (cmake vkg_add_shader NAME) */
    uint32_t n_bindings;
    uint32_t writes;             /* bitmask of bindings the shader writes */
    uint32_t push_size;          /* bytes of the push-constant block, <= 128 */
    uint32_t n_spec;
    uint32_t spec[VKG_MAX_SPEC]; /* values of specialization constants 0..n_spec-1 */
    uint32_t subgroup_size;      /* 0: the driver's choice; else required (subgroup size control) */
} vkg_kernel_desc;

/* The pipeline for `desc`, created on first use and cached in the context for its lifetime (the
 * caller does not own it). Fails with VKG_ERROR_FEATURE_MISSING when a required subgroup size is not
 * available, VKG_ERROR_DEVICE_LIMIT when the workgroup exceeds the device's limits. */
vkg_status vkg_pipeline_get(vkg_context *ctx, const vkg_kernel_desc *desc, vkg_pipeline **out);
uint32_t vkg_pipeline_local_size(const vkg_pipeline *p);

/* ---- recording and submission (recorder.c) ---- */

/* A command recorder: one command buffer with its descriptor sets, timestamp queries and fence.
 * Record once, submit as often as wanted (the decode step is replayed every token). */
vkg_status vkg_cmd_create(vkg_context *ctx, const char *name, vkg_cmd **out);
void vkg_cmd_destroy(vkg_cmd *cmd);

/* Start recording, discarding what was recorded before (waits if a previous submission is still
 * running). */
vkg_status vkg_cmd_begin(vkg_cmd *cmd);
/* Dispatch `groups` = (x, y, z) workgroups of `p` with the given buffer views (one per binding) and
 * push constants. A barrier is inserted first only if this dispatch touches what an earlier one in the
 * recording wrote (or writes what an earlier one read). Grids beyond the device's
 * maxComputeWorkGroupCount fail with VKG_ERROR_DEVICE_LIMIT — use vkg_cmd_dispatch_1d for long grids. */
vkg_status vkg_cmd_dispatch(vkg_cmd *cmd, vkg_pipeline *p, const vkg_view *views, const void *push,
                            uint32_t gx, uint32_t gy, uint32_t gz);
/* Dispatch `n_groups` workgroups laid out in one dimension, folded into y (and z) when above the
 * device's x limit. The shader recovers the linear id with vkg_group_id() from shaders/common.glsl
 * and must ignore ids >= n_groups (the folded grid may be padded). */
vkg_status vkg_cmd_dispatch_1d(vkg_cmd *cmd, vkg_pipeline *p, const vkg_view *views, const void *push,
                               uint64_t n_groups);
/* Copy bytes between buffers inside the recording (tracked like a dispatch). */
vkg_status vkg_cmd_copy(vkg_cmd *cmd, vkg_view src, vkg_view dst);
/* Write a GPU timestamp; returns its slot in *slot (for vkg_cmd_timestamps). */
vkg_status vkg_cmd_timestamp(vkg_cmd *cmd, uint32_t *slot);
vkg_status vkg_cmd_end(vkg_cmd *cmd);

/* Submit the recorded commands to the queue (thread-safe) and return at once. */
vkg_status vkg_cmd_submit(vkg_cmd *cmd);
/* Wait for the last submission. VKG_ERROR_DEVICE_LOST names the device and the recording's name. */
vkg_status vkg_cmd_wait(vkg_cmd *cmd);
/* submit + wait. */
vkg_status vkg_cmd_run(vkg_cmd *cmd);
/* After vkg_cmd_wait: nanoseconds between timestamp slots a and b of the last submission. */
vkg_status vkg_cmd_elapsed_ns(vkg_cmd *cmd, uint32_t slot_a, uint32_t slot_b, double *ns);
/* Number of dispatches and barriers recorded, for tests and benchmarks. */
uint32_t vkg_cmd_dispatch_count(const vkg_cmd *cmd);
uint32_t vkg_cmd_barrier_count(const vkg_cmd *cmd);
/* Test hook only: stop deriving barriers in this recorder, so that a test can prove that the
 * synchronization validation it relies on does report a missing barrier. Never used by vkgpt. */
void vkg_cmd_disable_barriers(vkg_cmd *cmd);

#endif /* VKG_VK_H */
