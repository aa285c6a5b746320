/*
 * shaders/attn_kv.glsl — the KV-cache storage type for kv_store and the attention shaders: fp32, or fp16 with
 * KV_F16 (GL_EXT_shader_16bit_storage: loads convert to fp32, no fp16 arithmetic). KV_LOAD(x)
 * turns a stored value into the fp32 arithmetic type; KV_LOAD4 does the same for four.
 */
#ifndef VKG_ATTN_KV_GLSL
#define VKG_ATTN_KV_GLSL

#ifdef KV_F16
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define KV_STORE_T float16_t  /* storage type of one cached element */
#define KV_STORE4_T f16vec4   /* four of them, for 8-byte loads */
#else
#define KV_STORE_T float
#define KV_STORE4_T vec4
#endif
#define KV_LOAD(x) float(x)   /* arithmetic is always fp32 */
#define KV_LOAD4(x) vec4(x)

#endif
