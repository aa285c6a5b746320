/*
 * kernels/quantize_act.c — host wrapper of shaders/quantize_act.comp: checks sizes and views and
 * records one dispatch (one invocation per block of 32). The math is in the shader's header.
 */
#include "kernels/quantize_act.h"

#include "quantize_act_push.h"

enum { QA_WG = 64 };

uint64_t vkg_quantize_act_bytes(uint32_t M, uint32_t K) {
    if (M == 0 || K == 0 || K % VKG_QACT_BLOCK_ELEMS)
        return 0;
    return (uint64_t)M * (K / VKG_QACT_BLOCK_ELEMS) * VKG_QACT_BLOCK_BYTES; /* < 2^64: 2^32 * 2^27 * 48 */
}

vkg_status vkg_quantize_act(const vkg_kernels *k, vkg_cmd *cmd, vkg_view xq, vkg_view x, uint32_t M, uint32_t K) {
    if (!k || !k->ctx || !cmd || !xq.buf || !x.buf)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "quantize_act: NULL kernels, recorder or view");
    uint64_t q_bytes = vkg_quantize_act_bytes(M, K), x_bytes = (uint64_t)M * K * 4;
    if (q_bytes == 0)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "quantize_act M=%u K=%u: sizes must be at least 1 and K a "
                        "multiple of 32", M, K);
    if (x.size < x_bytes || xq.size < q_bytes)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "quantize_act M=%u K=%u: x holds %llu bytes (needs %llu), xq "
                        "%llu (needs %llu)", M, K, (unsigned long long)x.size, (unsigned long long)x_bytes,
                        (unsigned long long)xq.size, (unsigned long long)q_bytes);
    const vkg_device_info *info = vkg_context_device(k->ctx);
    uint64_t range = info->max_storage_buffer_range, align = vkg_max_u32(info->min_storage_buffer_offset_alignment, 1);
    if (x.offset % align || xq.offset % align)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "quantize_act M=%u K=%u: view offsets %llu (x), %llu (xq) must be "
                        "multiples of minStorageBufferOffsetAlignment %llu", M, K, (unsigned long long)x.offset,
                        (unsigned long long)xq.offset, (unsigned long long)align);
    if (x_bytes > range || q_bytes > range)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "quantize_act M=%u K=%u: %llu bytes of xq in one binding, the "
                        "device allows %llu (maxStorageBufferRange): split M", M, K, (unsigned long long)q_bytes,
                        (unsigned long long)range);
    if (xq.buf == x.buf && xq.offset < x.offset + x_bytes && x.offset < xq.offset + q_bytes)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "quantize_act M=%u K=%u: xq overlaps x", M, K);
    vkg_kernel_desc desc = {.shader = "quantize_act", .n_bindings = 2, .writes = 1u << 0,
                            .push_size = sizeof(vkg_quantize_act_push), .n_spec = 1, .spec = {QA_WG}};
    vkg_pipeline *p = NULL;
    VKG_TRY(vkg_kernels_pipeline(k, desc, &p));
    uint64_t blocks = q_bytes / VKG_QACT_BLOCK_BYTES;
    if (blocks > UINT32_MAX)
        return vkg_fail(VKG_ERROR_DEVICE_LIMIT, "quantize_act M=%u K=%u: %llu blocks in one dispatch", M, K,
                        (unsigned long long)blocks);
    vkg_quantize_act_push push = {.n_blocks = (uint32_t)blocks};
    vkg_view views[2] = {{xq.buf, xq.offset, q_bytes}, {x.buf, x.offset, x_bytes}};
    return vkg_cmd_dispatch_1d(cmd, p, views, &push, vkg_div_up(blocks, QA_WG));
}
