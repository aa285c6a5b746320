/*
 * dtype.h — element types of checkpoint tensors: names as safetensors spells them, sizes, and
 * whole-array converters (to f32, to f16) plus a NaN/Inf scan.
 *
 * This is plain host code with no knowledge of files or of GPT-2. The converters are written here
 * (no libc or compiler half-float support is assumed) and round to nearest, ties to even, keeping
 * subnormals, infinities and NaNs. Source pointers need no alignment: elements are read with memcpy,
 * because a safetensors data section is only as aligned as its header length makes it.
 */
#ifndef VKG_MODEL_DTYPE_H
#define VKG_MODEL_DTYPE_H

#include "common.h"

/* Every dtype the safetensors format defines. vkgpt computes with F32, F16 and BF16 only; the others
 * are recognised so that a file holding them parses and the error can name the tensor. */
typedef enum vkg_dtype {
    VKG_DTYPE_F32 = 0,
    VKG_DTYPE_F16,
    VKG_DTYPE_BF16,
    VKG_DTYPE_F64,
    VKG_DTYPE_I64,
    VKG_DTYPE_I32,
    VKG_DTYPE_I16,
    VKG_DTYPE_I8,
    VKG_DTYPE_U64,
    VKG_DTYPE_U32,
    VKG_DTYPE_U16,
    VKG_DTYPE_U8,
    VKG_DTYPE_BOOL,
    VKG_DTYPE_F8_E4M3,  /* "F8_E4M3": e4m3fn, no infinity, S.1111.111 is NaN */
    VKG_DTYPE_F8_E5M2,  /* "F8_E5M2": IEEE-like, exponent 11111 is Inf/NaN */
    VKG_DTYPE_COUNT
} vkg_dtype;

/* Size of one element in bytes (1..8). */
size_t vkg_dtype_size(vkg_dtype dt);

/* The safetensors spelling ("F32", "BF16", ...); "?" for a value outside the enum. */
const char *vkg_dtype_name(vkg_dtype dt);

/* Look up a safetensors dtype string (exact, case-sensitive). Returns false if unknown. */
bool vkg_dtype_from_name(const char *name, vkg_dtype *out);

/* True for the dtypes vkgpt can compute with: F32, F16, BF16. */
bool vkg_dtype_is_supported(vkg_dtype dt);

/* Scalar conversions. f32->f16 and f32->bf16 round to nearest even; NaN stays NaN (quieted),
 * overflow goes to +-Inf, values below half the smallest subnormal go to +-0. */
float vkg_f16_to_f32(uint16_t h);
uint16_t vkg_f32_to_f16(float f);
float vkg_bf16_to_f32(uint16_t b);
uint16_t vkg_f32_to_bf16(float f);

/* Convert n elements of `src` (dtype F32, F16 or BF16) to f32 / f16. `src` may be unaligned;
 * `dst` must not overlap it. Returns VKG_ERROR_ST_DTYPE (message names the dtype) for any other
 * dtype. BF16 -> F16 goes through f32, which is exact, so it rounds once. */
vkg_status vkg_dtype_to_f32(vkg_dtype src_dt, const void *src, float *dst, size_t n);
vkg_status vkg_dtype_to_f16(vkg_dtype src_dt, const void *src, uint16_t *dst, size_t n);

/* Index of the first NaN or Inf among n elements of `data`, or n when all are finite.
 * Integer and bool dtypes are always finite. `data` may be unaligned. */
size_t vkg_check_finite(vkg_dtype dt, const void *data, size_t n);

#endif /* VKG_MODEL_DTYPE_H */
