/*
 * shaders/reduce.glsl — workgroup-wide reductions (sum, max, argmax) built from subgroup operations
 * and one shared-memory slot per subgroup. Correct for every subgroup size (1..128) and every
 * workgroup size, including a partial last subgroup and drivers that launch partial subgroups.
 *
 * Use: declare `layout(constant_id = 0) const uint WG` and enable GL_KHR_shader_subgroup_basic and
 * GL_KHR_shader_subgroup_arithmetic before including this file. Define VKG_REDUCE_ARGMAX first to
 * get vkg_wg_argmax (it adds a second shared array). Every invocation of the workgroup must call a
 * reduction (uniform control flow: they contain barriers), and every invocation gets the result.
 *
 * How: each subgroup reduces its values (subgroupAdd/Max) and its elected lane stores the result
 * in slot gl_SubgroupID; after a barrier each subgroup reduces the gl_NumSubgroups slots itself,
 * its active lanes striding by the number of active lanes (counted with subgroupAdd(1), ranked with
 * subgroupExclusiveAdd(1), so inactive lanes never leave a slot unread). A barrier at the start
 * keeps a reduction from overwriting slots an earlier one is still reading.
 *
 * Sums: different subgroups may add the slots in a different order, so invocations can disagree
 * in the last bit of a sum; max and argmax are exact and identical everywhere.
 */
#ifndef VKG_REDUCE_GLSL
#define VKG_REDUCE_GLSL

shared float vkg_red_f[WG]; /* one slot per subgroup; WG bounds the subgroup count (size >= 1) */
#ifdef VKG_REDUCE_ARGMAX
shared uint vkg_red_u[WG];
#endif

float vkg_wg_sum(float v) {
    float s = subgroupAdd(v);
    barrier();
    if (subgroupElect())
        vkg_red_f[gl_SubgroupID] = s;
    barrier();
    uint rank = subgroupExclusiveAdd(1u), n_active = subgroupAdd(1u);
    float t = 0.0;
    for (uint i = rank; i < gl_NumSubgroups; i += n_active)
        t += vkg_red_f[i];
    return subgroupAdd(t);
}

/* Max of v over the workgroup. NaN inputs are not allowed (subgroupMax leaves their handling to
 * the implementation): callers replace them first. */
float vkg_wg_max(float v) {
    float s = subgroupMax(v);
    barrier();
    if (subgroupElect())
        vkg_red_f[gl_SubgroupID] = s;
    barrier();
    uint rank = subgroupExclusiveAdd(1u), n_active = subgroupAdd(1u);
    float t = -1.0 / 0.0;
    for (uint i = rank; i < gl_NumSubgroups; i += n_active)
        t = max(t, vkg_red_f[i]);
    return subgroupMax(t);
}

#ifdef VKG_REDUCE_ARGMAX
/* The (value, index) pair with the largest value, ties to the lowest index, over the subgroup.
 * "No candidate" is (-inf, 0xffffffff): it loses to every real element, -inf ones included. */
void vkg_sg_argmax(inout float v, inout uint idx) {
    float m = subgroupMax(v);
    idx = subgroupMin(v == m ? idx : 0xffffffffu);
    v = m;
}

/* Workgroup argmax of (v, idx); v must not be NaN. Result in v and idx of every invocation. */
void vkg_wg_argmax(inout float v, inout uint idx) {
    vkg_sg_argmax(v, idx);
    barrier();
    if (subgroupElect()) {
        vkg_red_f[gl_SubgroupID] = v;
        vkg_red_u[gl_SubgroupID] = idx;
    }
    barrier();
    uint rank = subgroupExclusiveAdd(1u), n_active = subgroupAdd(1u);
    float bv = -1.0 / 0.0;
    uint bi = 0xffffffffu;
    for (uint i = rank; i < gl_NumSubgroups; i += n_active) {
        float cv = vkg_red_f[i];
        uint ci = vkg_red_u[i];
        if (cv > bv || (cv == bv && ci < bi)) {
            bv = cv;
            bi = ci;
        }
    }
    vkg_sg_argmax(bv, bi);
    v = bv;
    idx = bi;
}
#endif

#endif /* VKG_REDUCE_GLSL */
