/*
 * shaders/common.glsl — helpers every vkgpt shader may include.
 */
#ifndef VKG_COMMON_GLSL
#define VKG_COMMON_GLSL

/* Linear workgroup id of a grid folded into y and z by vkg_cmd_dispatch_1d when it exceeds the
 * device's x limit. Shaders must ignore ids past their own workgroup count (the fold pads). */
uint vkg_group_id() {
    return gl_WorkGroupID.x + gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
}

#endif
