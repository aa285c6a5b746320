/*
 * shaders/push_common.h — lets one header declare a push-constant block for both C and GLSL.
 *
 *   VKG_PUSH_BEGIN(vkg_scale_push)
 *       u32 n;      // elements
 *       f32 a, b;
 *   VKG_PUSH_END(vkg_scale_push)
 *
 * In GLSL (glslang defines VULKAN when compiling for Vulkan) this becomes
 * `layout(push_constant) uniform vkg_scale_push { ... } pc;`; in C a typedef'd struct whose size is
 * checked at compile time against the 128 bytes every Vulkan device guarantees. Use only 32-bit
 * members (u32, i32, f32) so that std430 and C agree on the layout without padding rules.
 */
#ifndef VKG_PUSH_COMMON_H
#define VKG_PUSH_COMMON_H

#ifdef VULKAN
#define u32 uint
#define i32 int
#define f32 float
#define VKG_PUSH_BEGIN(name) layout(push_constant) uniform name {
#define VKG_PUSH_END(name) } pc;
#else
#include <stdint.h>
typedef uint32_t u32;
typedef int32_t i32;
typedef float f32;
#define VKG_PUSH_BEGIN(name) typedef struct name {
#define VKG_PUSH_END(name) \
    } name;                \
    _Static_assert(sizeof(name) <= 128, #name " must fit the 128 bytes of push constants every device has");
#endif

#endif /* VKG_PUSH_COMMON_H */
