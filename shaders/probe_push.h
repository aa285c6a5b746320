/* shaders/probe_push.h — push constants of the benchmark probes (probe_read.comp, probe_fma.comp),
 * shared by C (src/bench/probes.c) and GLSL. */
#include "push_common.h"

VKG_PUSH_BEGIN(vkg_probe_push)
    u32 n;        /* probe_read: vec4 elements in the buffer; probe_fma: iterations of the FMA loop */
    u32 n_groups; /* workgroups in the (possibly folded) 1-D grid; ids past it exit */
    u32 stride;   /* probe_read: vec4 elements between one invocation's loads (= n_groups * WG) */
    f32 seed;     /* a value unknown at compile time, so the compiler cannot fold the work away */
VKG_PUSH_END(vkg_probe_push)
