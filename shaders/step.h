/*
 * shaders/step.h — the per-step parameter buffer that kernels read instead of push constants, so that
 * one recorded decode step replays at every position. Shared by C and GLSL.
 *
 * Layout (std430, 32-bit words): pos, then 3 reserved words, then token ids.
 *   pos        absolute position of the first token this step processes (0 for a fresh prompt)
 *   tokens[t]  token id of row t of this step (t < the T given to the kernel at record time)
 */
#ifndef VKG_STEP_H
#define VKG_STEP_H

#define VKG_STEP_HEADER_WORDS 4u /* words before tokens[] */

#ifdef VULKAN
/* Declare the step buffer at binding B: VKG_STEP_BUFFER(B) then use step_pos and step_tokens[t]. */
#define VKG_STEP_BUFFER(B)                                   \
    layout(std430, binding = B) readonly buffer StepBuffer { \
        uint step_pos;                                       \
        uint step_reserved[3];                               \
        uint step_tokens[];                                  \
    };
#endif

#endif /* VKG_STEP_H */
