/*
 * vk/context.c — the Vulkan instance and logical device behind a vkg_context: loading the loader at
 * run time (volk), choosing a device, enabling the optional features it has, and counting validation
 * messages.
 */
#include "vk/vk_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char VALIDATION_LAYER[] = "VK_LAYER_KHRONOS_validation";

static pthread_mutex_t volk_lock = PTHREAD_MUTEX_INITIALIZER;

vkg_status vkg_vk_load(void) {
    pthread_mutex_lock(&volk_lock);
    VkResult r = volkGetInstanceVersion() ? VK_SUCCESS : volkInitialize();
    pthread_mutex_unlock(&volk_lock);
    if (r != VK_SUCCESS)
        return vkg_fail(VKG_ERROR_NO_LOADER,
                        "no Vulkan loader found (libvulkan.so.1 could not be loaded): install the "
                        "Vulkan loader (Debian: libvulkan1) and a driver (e.g. mesa-vulkan-drivers)");
    if (volkGetInstanceVersion() < VK_API_VERSION_1_2)
        return vkg_fail(VKG_ERROR_NO_LOADER, "the Vulkan loader offers version %u.%u; vkgpt needs 1.2",
                        VK_API_VERSION_MAJOR(volkGetInstanceVersion()),
                        VK_API_VERSION_MINOR(volkGetInstanceVersion()));
    return VKG_OK;
}

static bool has_layer(const char *name) {
    uint32_t n = 0;
    if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkLayerProperties *p = calloc(n, sizeof *p);
    bool found = false;
    if (p && vkEnumerateInstanceLayerProperties(&n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(p[i].layerName, name) == 0;
    free(p);
    return found;
}

static bool has_instance_extension(const char *name) {
    uint32_t n = 0;
    if (vkEnumerateInstanceExtensionProperties(NULL, &n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkExtensionProperties *p = calloc(n, sizeof *p);
    bool found = false;
    if (p && vkEnumerateInstanceExtensionProperties(NULL, &n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(p[i].extensionName, name) == 0;
    free(p);
    return found;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                       VkDebugUtilsMessageTypeFlagsEXT type,
                                                       const VkDebugUtilsMessengerCallbackDataEXT *data,
                                                       void *user) {
    (void)type;
    if (severity < VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT)
        return VK_FALSE;
    uint64_t *count = user;
    __atomic_add_fetch(count, 1, __ATOMIC_RELAXED);
    fprintf(stderr, "vkgpt: validation %s: %s\n",
            severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning",
            data && data->pMessage ? data->pMessage : "(no message)");
    return VK_FALSE;
}

/* Create an instance; with validation, the Khronos layer with synchronization validation and a
 * messenger counting into *counter (which must outlive the instance). */
static vkg_status create_instance(bool validation, uint64_t *counter, VkInstance *out,
                                  bool *debug_utils, VkDebugUtilsMessengerEXT *messenger) {
    VKG_TRY(vkg_vk_load());
    *debug_utils = has_instance_extension(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    if (validation && !has_layer(VALIDATION_LAYER))
        return vkg_fail(VKG_ERROR_FEATURE_MISSING,
                        "validation was requested but %s is not installed (Debian: "
                        "vulkan-validationlayers)", VALIDATION_LAYER);
    if (validation && !*debug_utils)
        return vkg_fail(VKG_ERROR_FEATURE_MISSING,
                        "validation was requested but VK_EXT_debug_utils is not available");

    const char *exts[1] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    VkValidationFeatureEnableEXT enables[] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
    VkDebugUtilsMessengerCreateInfoEXT messenger_info = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_debug_message,
        .pUserData = counter,
    };
    VkValidationFeaturesEXT features = {
        .sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
        .pNext = &messenger_info,
        .enabledValidationFeatureCount = VKG_ARRAY_LEN(enables),
        .pEnabledValidationFeatures = enables,
    };
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "vkgpt",
        .applicationVersion = VK_MAKE_API_VERSION(0, 0, 1, 0),
        .pEngineName = "vkgpt",
        .apiVersion = VK_API_VERSION_1_2,
    };
    const char *layers[1] = {VALIDATION_LAYER};
    VkInstanceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = validation ? (const void *)&features : NULL,
        .pApplicationInfo = &app,
        .enabledLayerCount = validation ? 1 : 0,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = *debug_utils ? 1 : 0,
        .ppEnabledExtensionNames = exts,
    };
    VkResult r = vkCreateInstance(&info, NULL, out);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
        return vkg_fail(VKG_ERROR_NO_DEVICE, "no Vulkan driver supports Vulkan 1.2 on this machine "
                                             "(vkCreateInstance: VK_ERROR_INCOMPATIBLE_DRIVER)");
    if (r != VK_SUCCESS)
        return vkg_vk_fail(r, "vkCreateInstance", __FILE__, __LINE__);
    pthread_mutex_lock(&volk_lock);
    volkLoadInstance(*out);
    pthread_mutex_unlock(&volk_lock);
    *messenger = VK_NULL_HANDLE;
    if (validation) {
        r = vkCreateDebugUtilsMessengerEXT(*out, &messenger_info, NULL, messenger);
        if (r != VK_SUCCESS) {
            vkDestroyInstance(*out, NULL);
            return vkg_vk_fail(r, "vkCreateDebugUtilsMessengerEXT", __FILE__, __LINE__);
        }
    }
    return VKG_OK;
}

/* Physical devices of `instance` that support Vulkan 1.2 and have a compute queue. */
static vkg_status enumerate(VkInstance instance, VkPhysicalDevice **phys, vkg_device_info **infos,
                            uint32_t *count) {
    uint32_t n = 0;
    VKG_VK(vkEnumeratePhysicalDevices(instance, &n, NULL));
    if (n == 0)
        return vkg_fail(VKG_ERROR_NO_DEVICE, "the Vulkan loader found no device: install a driver "
                                             "(e.g. mesa-vulkan-drivers for lavapipe) or check "
                                             "VK_DRIVER_FILES / VK_ICD_FILENAMES");
    *phys = calloc(n, sizeof **phys);
    *infos = calloc(n, sizeof **infos);
    if (!*phys || !*infos) {
        free(*phys);
        free(*infos);
        return vkg_fail(VKG_ERROR_OUT_OF_HOST_MEMORY, "out of host memory listing devices");
    }
    VkResult r = vkEnumeratePhysicalDevices(instance, &n, *phys);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
        free(*phys);
        free(*infos);
        return vkg_vk_fail(r, "vkEnumeratePhysicalDevices", __FILE__, __LINE__);
    }
    for (uint32_t i = 0; i < n; i++) {
        vkg_device_info_query((*phys)[i], i, &(*infos)[i]);
        vkg_device_info_apply_env(&(*infos)[i]);
    }
    *count = n;
    return VKG_OK;
}

/* Resolve the device index: explicit, else $VKG_DEVICE, else the default order. */
static vkg_status choose(int requested, const vkg_device_info *infos, uint32_t count, uint32_t *out) {
    const char *env = getenv("VKG_DEVICE");
    if (requested < 0 && env && *env) {
        char *end = NULL;
        errno = 0;
        long v = strtol(env, &end, 10);
        if (errno || *end || end == env || v < 0 || v >= (long)count)
            return vkg_fail(VKG_ERROR_DEVICE_INDEX,
                            "VKG_DEVICE='%s' is not a device index: this machine has %u device(s), "
                            "0..%u (see `vkgpt devices`)", env, count, count - 1);
        *out = (uint32_t)v;
        return VKG_OK;
    }
    if (requested >= 0) {
        if ((uint32_t)requested >= count)
            return vkg_fail(VKG_ERROR_DEVICE_INDEX,
                            "device %d does not exist: this machine has %u device(s), 0..%u (see "
                            "`vkgpt devices`)", requested, count, count - 1);
        *out = (uint32_t)requested;
        return VKG_OK;
    }
    *out = vkg_device_pick_default(infos, count);
    return VKG_OK;
}

vkg_status vkg_devices_list(vkg_device_info **infos, uint32_t *count, uint32_t *default_index) {
    if (!infos || !count)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_devices_list: NULL output");
    uint64_t unused = 0;
    VkInstance instance;
    bool debug_utils;
    VkDebugUtilsMessengerEXT messenger;
    VKG_TRY(create_instance(false, &unused, &instance, &debug_utils, &messenger));
    VkPhysicalDevice *phys = NULL;
    vkg_status s = enumerate(instance, &phys, infos, count);
    if (s == VKG_OK && default_index)
        *default_index = vkg_device_pick_default(*infos, *count);
    free(phys);
    vkDestroyInstance(instance, NULL);
    return s;
}

static bool device_has_extension(VkPhysicalDevice phys, const char *name) {
    uint32_t n = 0;
    if (vkEnumerateDeviceExtensionProperties(phys, NULL, &n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkExtensionProperties *p = calloc(n, sizeof *p);
    bool found = false;
    if (p && vkEnumerateDeviceExtensionProperties(phys, NULL, &n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(p[i].extensionName, name) == 0;
    free(p);
    return found;
}

/* The KHR cooperative-matrix feature structure (see device_info.c for why it is spelled out). */
typedef struct {
    VkStructureType sType;
    void *pNext;
    VkBool32 cooperativeMatrix;
    VkBool32 cooperativeMatrixRobustBufferAccess;
} vkg_coopmat_features_khr;

static vkg_status create_device(vkg_context *ctx) {
    const vkg_device_info *info = &ctx->info;
    uint32_t n_qf = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(ctx->phys, &n_qf, NULL);
    VkQueueFamilyProperties qf[32];
    n_qf = vkg_min_u32(n_qf, 32);
    vkGetPhysicalDeviceQueueFamilyProperties(ctx->phys, &n_qf, qf);
    /* Prefer a compute queue with timestamps; any compute queue otherwise. */
    int family = -1;
    for (uint32_t i = 0; i < n_qf; i++)
        if ((qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) &&
            (family < 0 || (qf[i].timestampValidBits && !qf[family].timestampValidBits)))
            family = (int)i;
    if (family < 0)
        return vkg_fail(VKG_ERROR_NO_DEVICE, "device %u (%s) has no compute queue", info->index,
                        info->name);
    ctx->queue_family = (uint32_t)family;
    ctx->info.timestamps = qf[family].timestampValidBits > 0;

    /* The instance asks for Vulkan 1.2, so the device is used as 1.2 even where it offers 1.3: 1.3's
     * core features are enabled through their extensions. */
    const bool api13 = false;
    const char *exts[8];
    uint32_t n_exts = 0;
    void *chain = NULL;

    VkPhysicalDeviceVulkan11Features f11 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
        .storageBuffer16BitAccess = info->storage_16bit,
    };
    VkPhysicalDeviceVulkan12Features f12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
        .pNext = &f11,
        .shaderFloat16 = info->fp16_arithmetic,
        .storageBuffer8BitAccess = info->storage_8bit,
        .bufferDeviceAddress = info->buffer_device_address,
        .vulkanMemoryModel = info->vulkan_memory_model,
    };
    chain = &f12;
    VkPhysicalDeviceSubgroupSizeControlFeatures sgc = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES,
        .subgroupSizeControl = VK_TRUE,
        .computeFullSubgroups = VK_TRUE,
    };
    if (info->subgroup_size_control &&
        (api13 || device_has_extension(ctx->phys, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME))) {
        if (!api13)
            exts[n_exts++] = VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME;
        sgc.pNext = chain;
        chain = &sgc;
    } else {
        ctx->info.subgroup_size_control = false;
        ctx->info.subgroup_min = ctx->info.subgroup_max = ctx->info.subgroup_size;
    }
    VkPhysicalDeviceShaderIntegerDotProductFeatures idot = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES,
        .shaderIntegerDotProduct = VK_TRUE,
    };
    if (info->integer_dot_product) {
        if (!api13)
            exts[n_exts++] = VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME;
        idot.pNext = chain;
        chain = &idot;
    }
    vkg_coopmat_features_khr cm_khr = {.sType = (VkStructureType)1000506000, .cooperativeMatrix = VK_TRUE};
    VkPhysicalDeviceCooperativeMatrixFeaturesNV cm_nv = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV,
        .cooperativeMatrix = VK_TRUE,
    };
    if (info->coopmat_khr) {
        exts[n_exts++] = "VK_KHR_cooperative_matrix";
        cm_khr.pNext = chain;
        chain = &cm_khr;
    }
    if (info->coopmat_nv) {
        exts[n_exts++] = VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME;
        cm_nv.pNext = chain;
        chain = &cm_nv;
    }
    if (device_has_extension(ctx->phys, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME)) {
        exts[n_exts++] = VK_EXT_MEMORY_BUDGET_EXTENSION_NAME;
        ctx->has_memory_budget = true;
    }
    VkPhysicalDeviceFeatures2 feats = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = chain};

    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = ctx->queue_family,
        .queueCount = 1,
        .pQueuePriorities = &priority,
    };
    VkDeviceCreateInfo create = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = &feats,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &queue,
        .enabledExtensionCount = n_exts,
        .ppEnabledExtensionNames = exts,
    };
    VkResult r = vkCreateDevice(ctx->phys, &create, NULL, &ctx->device);
    if (r != VK_SUCCESS) {
        vkg_vk_fail(r, "vkCreateDevice", __FILE__, __LINE__);
        return vkg_fail_context(r == VK_ERROR_DEVICE_LOST ? VKG_ERROR_DEVICE_LOST : VKG_ERROR_VULKAN,
                                "creating device %u (%s)", info->index, info->name);
    }
    vkGetDeviceQueue(ctx->device, ctx->queue_family, 0, &ctx->queue);
    return VKG_OK;
}

vkg_context_options vkg_context_default_options(void) {
    return (vkg_context_options){.device_index = -1, .validation = -1};
}

vkg_status vkg_context_create(const vkg_context_options *opts, vkg_context **out) {
    if (!out)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "vkg_context_create: NULL output");
    *out = NULL;
    vkg_context_options o = opts ? *opts : vkg_context_default_options();
    bool validation = o.validation < 0 ? vkg_env_flag("VKG_VALIDATION") : o.validation > 0;

    vkg_context *ctx = vkg_calloc(1, sizeof *ctx);
    if (!ctx)
        return VKG_ERROR_OUT_OF_HOST_MEMORY;
    pthread_mutex_init(&ctx->queue_lock, NULL);
    pthread_mutex_init(&ctx->lock, NULL);
    pthread_mutex_init(&ctx->transfer_lock, NULL);

    vkg_status s = create_instance(validation, &ctx->validation_messages, &ctx->instance,
                                   &ctx->has_debug_utils, &ctx->messenger);
    if (s != VKG_OK) {
        vkg_context_destroy(ctx);
        return s;
    }
    VkPhysicalDevice *phys = NULL;
    vkg_device_info *infos = NULL;
    uint32_t count = 0, index = 0;
    s = enumerate(ctx->instance, &phys, &infos, &count);
    if (s == VKG_OK)
        s = choose(o.device_index, infos, count, &index);
    if (s == VKG_OK) {
        ctx->phys = phys[index];
        ctx->info = infos[index];
        vkGetPhysicalDeviceMemoryProperties(ctx->phys, &ctx->mem_props);
        s = create_device(ctx);
    }
    free(phys);
    free(infos);
    if (s == VKG_OK)
        s = vkg_memory_init(ctx);
    if (s != VKG_OK) {
        vkg_context_destroy(ctx);
        return s;
    }
    *out = ctx;
    return VKG_OK;
}

void vkg_context_destroy(vkg_context *ctx) {
    if (!ctx)
        return;
    if (ctx->device) {
        vkDeviceWaitIdle(ctx->device);
        vkg_pipelines_destroy(ctx);
        vkg_memory_destroy(ctx);
        vkDestroyDevice(ctx->device, NULL);
    }
    if (ctx->messenger)
        vkDestroyDebugUtilsMessengerEXT(ctx->instance, ctx->messenger, NULL);
    if (ctx->instance)
        vkDestroyInstance(ctx->instance, NULL);
    pthread_mutex_destroy(&ctx->queue_lock);
    pthread_mutex_destroy(&ctx->lock);
    pthread_mutex_destroy(&ctx->transfer_lock);
    free(ctx);
}

const vkg_device_info *vkg_context_device(const vkg_context *ctx) { return &ctx->info; }

uint64_t vkg_context_validation_messages(const vkg_context *ctx) {
    return __atomic_load_n(&ctx->validation_messages, __ATOMIC_RELAXED);
}

void vkg_vk_name(const vkg_context *ctx, VkObjectType type, uint64_t handle, const char *name) {
    if (!ctx->has_debug_utils || !name || !vkSetDebugUtilsObjectNameEXT)
        return;
    VkDebugUtilsObjectNameInfoEXT info = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_OBJECT_NAME_INFO_EXT,
        .objectType = type,
        .objectHandle = handle,
        .pObjectName = name,
    };
    vkSetDebugUtilsObjectNameEXT(ctx->device, &info);
}
