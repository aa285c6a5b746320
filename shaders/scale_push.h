/* shaders/scale_push.h — push constants of scale.comp. */
#include "push_common.h"

VKG_PUSH_BEGIN(vkg_scale_push)
    u32 n;    /* number of elements */
    f32 a;    /* y = a * x + b */
    f32 b;
VKG_PUSH_END(vkg_scale_push)
