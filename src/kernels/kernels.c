/* kernels/kernels.c — settings shared by the kernel wrappers. */
#include "kernels/kernels.h"

vkg_kernels vkg_kernels_default(vkg_context *ctx) {
    const vkg_device_info *info = vkg_context_device(ctx);
    return (vkg_kernels){
        .ctx = ctx,
        .subgroup_size = 0,
        .use_coopmat = info->coopmat_nv && info->n_coopmat_shapes > 0,
        .cpu_tuning = info->type == VKG_DEVICE_CPU,
    };
}

vkg_status vkg_kernels_pipeline(const vkg_kernels *k, vkg_kernel_desc desc, vkg_pipeline **out) {
    desc.subgroup_size = k->subgroup_size;
    return vkg_pipeline_get(k->ctx, &desc, out);
}
