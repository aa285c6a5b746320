/* vk/result.c — VkResult names and how a failed Vulkan call becomes a vkg_status with a message. */
#include "vk/vk_internal.h"

const char *vkg_vk_result_str(VkResult r) {
    switch (r) {
#define NAME(x) case x: return #x;
        NAME(VK_SUCCESS)
        NAME(VK_NOT_READY)
        NAME(VK_TIMEOUT)
        NAME(VK_EVENT_SET)
        NAME(VK_EVENT_RESET)
        NAME(VK_INCOMPLETE)
        NAME(VK_ERROR_OUT_OF_HOST_MEMORY)
        NAME(VK_ERROR_OUT_OF_DEVICE_MEMORY)
        NAME(VK_ERROR_INITIALIZATION_FAILED)
        NAME(VK_ERROR_DEVICE_LOST)
        NAME(VK_ERROR_MEMORY_MAP_FAILED)
        NAME(VK_ERROR_LAYER_NOT_PRESENT)
        NAME(VK_ERROR_EXTENSION_NOT_PRESENT)
        NAME(VK_ERROR_FEATURE_NOT_PRESENT)
        NAME(VK_ERROR_INCOMPATIBLE_DRIVER)
        NAME(VK_ERROR_TOO_MANY_OBJECTS)
        NAME(VK_ERROR_FORMAT_NOT_SUPPORTED)
        NAME(VK_ERROR_FRAGMENTED_POOL)
        NAME(VK_ERROR_UNKNOWN)
        NAME(VK_ERROR_OUT_OF_POOL_MEMORY)
        NAME(VK_ERROR_INVALID_EXTERNAL_HANDLE)
        NAME(VK_ERROR_FRAGMENTATION)
        NAME(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
        NAME(VK_PIPELINE_COMPILE_REQUIRED)
#undef NAME
    default: return "VkResult(unknown)";
    }
}

vkg_status vkg_vk_fail(VkResult r, const char *call, const char *file, int line) {
    vkg_status s = VKG_ERROR_VULKAN;
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY)
        s = VKG_ERROR_OUT_OF_DEVICE_MEMORY;
    else if (r == VK_ERROR_OUT_OF_HOST_MEMORY)
        s = VKG_ERROR_OUT_OF_HOST_MEMORY;
    else if (r == VK_ERROR_DEVICE_LOST)
        s = VKG_ERROR_DEVICE_LOST;
    return vkg_fail(s, "%s failed with %s (%d) at %s:%d", call, vkg_vk_result_str(r), (int)r, file, line);
}
