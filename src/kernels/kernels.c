/* kernels/kernels.c — settings shared by the kernel wrappers. */
#include "kernels/kernels.h"

#include "kernels/matmul.h"

vkg_kernels vkg_kernels_default(vkg_context *ctx) {
    const vkg_device_info *info = vkg_context_device(ctx);
    vkg_kernels k = {.ctx = ctx, .subgroup_size = 0, .cpu_tuning = info->type == VKG_DEVICE_CPU};
    k.coopmat = vkg_matmul_coopmat_usable(&k, VKG_COOPMAT_KHR)  ? VKG_COOPMAT_KHR
                : vkg_matmul_coopmat_usable(&k, VKG_COOPMAT_NV) ? VKG_COOPMAT_NV
                                                                : VKG_COOPMAT_NONE;
    k.int_dot = info->integer_dot_product; /* see kernels/matmul_quant.h for why */
    k.coopmat_quant = k.coopmat;
    return k;
}

vkg_status vkg_kernels_pipeline(const vkg_kernels *k, vkg_kernel_desc desc, vkg_pipeline **out) {
    desc.subgroup_size = k->subgroup_size;
    return vkg_pipeline_get(k->ctx, &desc, out);
}
