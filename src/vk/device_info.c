/*
 * vk/device_info.c — what a physical device can do, queried once into vkg_device_info, the default
 * device choice, and the VKG_DISABLE_* switches that turn optional features off.
 */
#include "vk/vk_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* VK_KHR_cooperative_matrix arrived in Vulkan headers 1.3.255; Debian 12 ships 1.3.239. These are the
 * extension's structures and enum values as the Vulkan specification defines them. */
#ifndef VK_KHR_cooperative_matrix
#define VKG_KHR_COOPMAT_EXTENSION "VK_KHR_cooperative_matrix"
#define VKG_STYPE_COOPMAT_FEATURES_KHR ((VkStructureType)1000506000)
#define VKG_STYPE_COOPMAT_PROPERTIES_KHR ((VkStructureType)1000506001)
typedef struct VkgCooperativeMatrixPropertiesKHR {
    VkStructureType sType;
    void *pNext;
    uint32_t MSize, NSize, KSize;
    uint32_t AType, BType, CType, ResultType; /* VkComponentTypeKHR: 0 = float16, 1 = float32 */
    VkBool32 saturatingAccumulation;
    uint32_t scope; /* VkScopeKHR: 3 = subgroup */
} VkgCooperativeMatrixPropertiesKHR;
typedef VkResult(VKAPI_PTR *VkgGetCoopmatPropsKHR)(VkPhysicalDevice, uint32_t *,
                                                    VkgCooperativeMatrixPropertiesKHR *);
#endif

enum { COMPONENT_F16 = 0, COMPONENT_F32 = 1, SCOPE_SUBGROUP = 3 };

bool vkg_env_flag(const char *name) {
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0 && strcmp(v, "false") != 0 && strcmp(v, "no") != 0;
}

static bool has_extension(const VkExtensionProperties *exts, uint32_t n, const char *name) {
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(exts[i].extensionName, name) == 0)
            return true;
    return false;
}

static void add_coopmat_shape(vkg_device_info *info, uint32_t m, uint32_t n, uint32_t k, bool khr) {
    if (info->n_coopmat_shapes < VKG_MAX_COOPMAT_SHAPES) {
        uint32_t i = info->n_coopmat_shapes++;
        info->coopmat_shapes[i].m = m;
        info->coopmat_shapes[i].n = n;
        info->coopmat_shapes[i].k = k;
        info->coopmat_shapes[i].khr = khr;
    }
}

/* The fp16 x fp16 -> fp32 subgroup shapes of each extension the device has. Both lists are kept
 * (NVIDIA offers both extensions, not always with the same shapes): each shader variant checks the
 * shapes of its own extension. */
static void query_coopmat_shapes(VkPhysicalDevice phys, vkg_device_info *info) {
    if (info->coopmat_khr) {
        VkgGetCoopmatPropsKHR get = (VkgGetCoopmatPropsKHR)vkGetInstanceProcAddr(
            volkGetLoadedInstance(), "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
        uint32_t n = 0;
        VkgCooperativeMatrixPropertiesKHR *p = NULL;
        if (get && get(phys, &n, NULL) == VK_SUCCESS && (p = calloc(n ? n : 1, sizeof *p))) {
            for (uint32_t i = 0; i < n; i++)
                p[i].sType = VKG_STYPE_COOPMAT_PROPERTIES_KHR;
            if (get(phys, &n, p) == VK_SUCCESS)
                for (uint32_t i = 0; i < n; i++)
                    if (p[i].AType == COMPONENT_F16 && p[i].BType == COMPONENT_F16 &&
                        p[i].CType == COMPONENT_F32 && p[i].ResultType == COMPONENT_F32 &&
                        p[i].scope == SCOPE_SUBGROUP && !p[i].saturatingAccumulation)
                        add_coopmat_shape(info, p[i].MSize, p[i].NSize, p[i].KSize, true);
        }
        free(p);
    }
    if (info->coopmat_nv && vkGetPhysicalDeviceCooperativeMatrixPropertiesNV) {
        uint32_t n = 0;
        VkCooperativeMatrixPropertiesNV *p = NULL;
        if (vkGetPhysicalDeviceCooperativeMatrixPropertiesNV(phys, &n, NULL) == VK_SUCCESS &&
            (p = calloc(n ? n : 1, sizeof *p))) {
            for (uint32_t i = 0; i < n; i++)
                p[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV;
            if (vkGetPhysicalDeviceCooperativeMatrixPropertiesNV(phys, &n, p) == VK_SUCCESS)
                for (uint32_t i = 0; i < n; i++)
                    if (p[i].AType == VK_COMPONENT_TYPE_FLOAT16_NV &&
                        p[i].BType == VK_COMPONENT_TYPE_FLOAT16_NV &&
                        p[i].CType == VK_COMPONENT_TYPE_FLOAT32_NV &&
                        p[i].DType == VK_COMPONENT_TYPE_FLOAT32_NV && p[i].scope == VK_SCOPE_SUBGROUP_NV)
                        add_coopmat_shape(info, p[i].MSize, p[i].NSize, p[i].KSize, false);
        }
        free(p);
    }
}

void vkg_device_info_query(VkPhysicalDevice phys, uint32_t index, vkg_device_info *info) {
    memset(info, 0, sizeof *info);
    info->index = index;

    uint32_t n_ext = 0;
    vkEnumerateDeviceExtensionProperties(phys, NULL, &n_ext, NULL);
    VkExtensionProperties *exts = calloc(n_ext ? n_ext : 1, sizeof *exts);
    if (exts && vkEnumerateDeviceExtensionProperties(phys, NULL, &n_ext, exts) != VK_SUCCESS)
        n_ext = 0;
    if (!exts)
        n_ext = 0;

    VkPhysicalDeviceDriverProperties driver = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceSubgroupSizeControlProperties sgc_props = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES, .pNext = &driver};
    VkPhysicalDeviceSubgroupProperties subgroup = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES, .pNext = &sgc_props};
    VkPhysicalDeviceProperties2 props = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                         .pNext = &subgroup};
    vkGetPhysicalDeviceProperties2(phys, &props);
    const VkPhysicalDeviceLimits *lim = &props.properties.limits;

    VkPhysicalDeviceSubgroupSizeControlFeatures sgc = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
    VkPhysicalDeviceShaderIntegerDotProductFeatures idot = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES, .pNext = &sgc};
    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                                            .pNext = &idot};
    VkPhysicalDeviceVulkan11Features f11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
                                            .pNext = &f12};
    VkPhysicalDeviceFeatures2 feats = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f11};
    vkGetPhysicalDeviceFeatures2(phys, &feats);

    snprintf(info->name, sizeof info->name, "%s", props.properties.deviceName);
    switch (props.properties.deviceType) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: info->type = VKG_DEVICE_INTEGRATED; break;
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: info->type = VKG_DEVICE_DISCRETE; break;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: info->type = VKG_DEVICE_VIRTUAL; break;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: info->type = VKG_DEVICE_CPU; break;
    default: info->type = VKG_DEVICE_OTHER; break;
    }
    info->vendor_id = props.properties.vendorID;
    info->device_id = props.properties.deviceID;
    snprintf(info->driver_name, sizeof info->driver_name, "%s", driver.driverName);
    snprintf(info->driver_info, sizeof info->driver_info, "%s", driver.driverInfo);
    info->driver_version = props.properties.driverVersion;
    info->api_version = props.properties.apiVersion;

    info->subgroup_size = subgroup.subgroupSize;
    info->subgroup_size_control = sgc.subgroupSizeControl && sgc.computeFullSubgroups &&
                                  has_extension(exts, n_ext, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME) &&
                                  (sgc_props.requiredSubgroupSizeStages & VK_SHADER_STAGE_COMPUTE_BIT);
    info->subgroup_min = info->subgroup_size_control ? sgc_props.minSubgroupSize : subgroup.subgroupSize;
    info->subgroup_max = info->subgroup_size_control ? sgc_props.maxSubgroupSize : subgroup.subgroupSize;

    info->max_shared_memory = lim->maxComputeSharedMemorySize;
    info->max_storage_buffer_range = lim->maxStorageBufferRange;
    info->min_storage_buffer_offset_alignment = (uint32_t)lim->minStorageBufferOffsetAlignment;
    for (int i = 0; i < 3; i++) {
        info->max_workgroup_count[i] = lim->maxComputeWorkGroupCount[i];
        info->max_workgroup_size[i] = lim->maxComputeWorkGroupSize[i];
    }
    info->max_workgroup_invocations = lim->maxComputeWorkGroupInvocations;
    info->max_push_constants_size = lim->maxPushConstantsSize;

    VkPhysicalDeviceMaintenance3Properties m3 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceProperties2 props_m = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                           .pNext = &m3};
    vkGetPhysicalDeviceProperties2(phys, &props_m);
    info->max_memory_allocation_size = m3.maxMemoryAllocationSize;
    /* maxBufferSize is a Vulkan 1.3 (maintenance4) limit; without it, a buffer can be as large as
     * one allocation. */
    info->max_buffer_size = m3.maxMemoryAllocationSize;
    if (has_extension(exts, n_ext, VK_KHR_MAINTENANCE_4_EXTENSION_NAME) ||
        VK_API_VERSION_MINOR(info->api_version) >= 3) {
        VkPhysicalDeviceMaintenance4Properties m4 = {
            .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_PROPERTIES};
        VkPhysicalDeviceProperties2 props4 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                              .pNext = &m4};
        vkGetPhysicalDeviceProperties2(phys, &props4);
        if (m4.maxBufferSize)
            info->max_buffer_size = m4.maxBufferSize;
    }

    info->fp16_arithmetic = f12.shaderFloat16;
    info->vulkan_memory_model = f12.vulkanMemoryModel;
    info->storage_16bit = f11.storageBuffer16BitAccess;
    info->storage_8bit = f12.storageBuffer8BitAccess;
    /* vkgpt's instance is Vulkan 1.2: features that are core in 1.3 need their extension. */
    info->integer_dot_product =
        idot.shaderIntegerDotProduct && has_extension(exts, n_ext, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
    info->buffer_device_address = f12.bufferDeviceAddress;
    info->coopmat_khr = has_extension(exts, n_ext, VKG_KHR_COOPMAT_EXTENSION);
    info->coopmat_nv = has_extension(exts, n_ext, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
    query_coopmat_shapes(phys, info);

    info->timestamp_period_ns = lim->timestampPeriod;
    uint32_t n_qf = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(phys, &n_qf, NULL);
    VkQueueFamilyProperties qf[16];
    n_qf = n_qf > 16 ? 16 : n_qf;
    vkGetPhysicalDeviceQueueFamilyProperties(phys, &n_qf, qf);
    for (uint32_t i = 0; i < n_qf; i++)
        if ((qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && qf[i].timestampValidBits > 0 &&
            (lim->timestampComputeAndGraphics || !(qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)))
            info->timestamps = true;

    VkPhysicalDeviceMemoryBudgetPropertiesEXT budget = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
    bool has_budget = has_extension(exts, n_ext, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
    VkPhysicalDeviceMemoryProperties2 mem = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2,
                                             .pNext = has_budget ? &budget : NULL};
    vkGetPhysicalDeviceMemoryProperties2(phys, &mem);
    info->n_heaps = vkg_min_u32(mem.memoryProperties.memoryHeapCount, VKG_MAX_HEAPS);
    for (uint32_t i = 0; i < info->n_heaps; i++) {
        info->heaps[i].size = mem.memoryProperties.memoryHeaps[i].size;
        info->heaps[i].budget = has_budget ? budget.heapBudget[i] : info->heaps[i].size;
        info->heaps[i].device_local =
            mem.memoryProperties.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT;
    }
    /* Host-mappable device-local memory counts as "free" only when it sits on the largest device
     * heap: a 256 MiB BAR window beside 80 GiB of VRAM is not where weights should go. */
    uint64_t largest = 0;
    for (uint32_t i = 0; i < info->n_heaps; i++)
        if (info->heaps[i].device_local && info->heaps[i].size > largest)
            largest = info->heaps[i].size;
    for (uint32_t t = 0; t < mem.memoryProperties.memoryTypeCount; t++) {
        VkMemoryPropertyFlags f = mem.memoryProperties.memoryTypes[t].propertyFlags;
        uint32_t h = mem.memoryProperties.memoryTypes[t].heapIndex;
        if ((f & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) && (f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) &&
            (f & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) && mem.memoryProperties.memoryHeaps[h].size == largest)
            info->host_visible_device_memory = true;
    }
    free(exts);
}

/* Forget one cooperative-matrix extension (KHR or NV) and its shapes. */
static void drop_coopmat(vkg_device_info *info, bool khr) {
    uint32_t kept = 0;
    for (uint32_t i = 0; i < info->n_coopmat_shapes; i++)
        if (info->coopmat_shapes[i].khr != khr)
            info->coopmat_shapes[kept++] = info->coopmat_shapes[i];
    info->n_coopmat_shapes = kept;
    if (khr)
        info->coopmat_khr = false;
    else
        info->coopmat_nv = false;
}

void vkg_device_info_apply_env(vkg_device_info *info) {
    if (vkg_env_flag("VKG_DISABLE_FP16")) {
        info->fp16_arithmetic = false;
        info->storage_16bit = false;
    }
    bool all = vkg_env_flag("VKG_DISABLE_COOPMAT");
    if (all || vkg_env_flag("VKG_DISABLE_COOPMAT_KHR"))
        drop_coopmat(info, true);
    if (all || vkg_env_flag("VKG_DISABLE_COOPMAT_NV"))
        drop_coopmat(info, false);
    if (vkg_env_flag("VKG_DISABLE_SUBGROUP_SIZE_CONTROL")) {
        info->subgroup_size_control = false;
        info->subgroup_min = info->subgroup_max = info->subgroup_size;
    }
    if (vkg_env_flag("VKG_DISABLE_INT_DOT"))
        info->integer_dot_product = false;
    if (vkg_env_flag("VKG_DISABLE_HOST_VISIBLE_VRAM"))
        info->host_visible_device_memory = false;
}

uint32_t vkg_device_pick_default(const vkg_device_info *infos, uint32_t count) {
    static const vkg_device_type order[] = {VKG_DEVICE_DISCRETE, VKG_DEVICE_INTEGRATED, VKG_DEVICE_VIRTUAL,
                                            VKG_DEVICE_CPU, VKG_DEVICE_OTHER};
    for (size_t o = 0; o < VKG_ARRAY_LEN(order); o++)
        for (uint32_t i = 0; i < count; i++)
            if (infos[i].type == order[o])
                return i;
    return 0;
}

void vkg_device_info_update_budget(vkg_context *ctx) {
    if (!ctx->has_memory_budget)
        return;
    VkPhysicalDeviceMemoryBudgetPropertiesEXT budget = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
    VkPhysicalDeviceMemoryProperties2 mem = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2,
                                             .pNext = &budget};
    vkGetPhysicalDeviceMemoryProperties2(ctx->phys, &mem);
    for (uint32_t i = 0; i < ctx->info.n_heaps; i++)
        ctx->info.heaps[i].budget = budget.heapBudget[i];
}

const char *vkg_device_type_str(vkg_device_type t) {
    switch (t) {
    case VKG_DEVICE_INTEGRATED: return "integrated GPU";
    case VKG_DEVICE_DISCRETE: return "discrete GPU";
    case VKG_DEVICE_VIRTUAL: return "virtual GPU";
    case VKG_DEVICE_CPU: return "CPU";
    default: return "other";
    }
}
