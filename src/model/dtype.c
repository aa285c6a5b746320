/*
 * dtype.c — dtype names and sizes, f32/f16/bf16 conversion (round to nearest even), NaN/Inf scan.
 * Bit-level code on purpose: the result must not depend on the compiler's _Float16 support or on
 * the FPU rounding mode.
 */
#include "model/dtype.h"

#include <string.h>

static const struct {
    const char *name;
    uint8_t size;
} dtype_info[VKG_DTYPE_COUNT] = {
    [VKG_DTYPE_F32] = {"F32", 4},     [VKG_DTYPE_F16] = {"F16", 2},
    [VKG_DTYPE_BF16] = {"BF16", 2},   [VKG_DTYPE_F64] = {"F64", 8},
    [VKG_DTYPE_I64] = {"I64", 8},     [VKG_DTYPE_I32] = {"I32", 4},
    [VKG_DTYPE_I16] = {"I16", 2},     [VKG_DTYPE_I8] = {"I8", 1},
    [VKG_DTYPE_U64] = {"U64", 8},     [VKG_DTYPE_U32] = {"U32", 4},
    [VKG_DTYPE_U16] = {"U16", 2},     [VKG_DTYPE_U8] = {"U8", 1},
    [VKG_DTYPE_BOOL] = {"BOOL", 1},   [VKG_DTYPE_F8_E4M3] = {"F8_E4M3", 1},
    [VKG_DTYPE_F8_E5M2] = {"F8_E5M2", 1},
};

size_t vkg_dtype_size(vkg_dtype dt) {
    assert((unsigned)dt < VKG_DTYPE_COUNT);
    return dtype_info[dt].size;
}

const char *vkg_dtype_name(vkg_dtype dt) {
    return (unsigned)dt < VKG_DTYPE_COUNT ? dtype_info[dt].name : "?";
}

bool vkg_dtype_from_name(const char *name, vkg_dtype *out) {
    for (unsigned i = 0; i < VKG_DTYPE_COUNT; i++) {
        if (strcmp(name, dtype_info[i].name) == 0) {
            *out = (vkg_dtype)i;
            return true;
        }
    }
    return false;
}

bool vkg_dtype_is_supported(vkg_dtype dt) {
    return dt == VKG_DTYPE_F32 || dt == VKG_DTYPE_F16 || dt == VKG_DTYPE_BF16;
}

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t load_u16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static inline uint16_t f32_to_f16_bits(uint32_t x) {
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    x &= 0x7fffffffu;
    if (x >= 0x7f800000u) {
        if (x == 0x7f800000u)
            return sign | 0x7c00u;
        /* NaN: keep the top payload bits, force the quiet bit so a payload that lived only in the
         * low 13 bits does not turn into Inf. */
        return (uint16_t)(sign | 0x7e00u | ((x >> 13) & 0x3ffu));
    }
    if (x >= 0x47800000u) /* >= 65536: beyond every value that rounds to 65504 */
        return sign | 0x7c00u;
    if (x >= 0x38800000u) { /* >= 2^-14: a normal half */
        uint32_t h = ((x >> 23) - 112u) << 10 | ((x >> 13) & 0x3ffu);
        uint32_t rem = x & 0x1fffu;
        /* A carry out of the mantissa bumps the exponent, which is the right answer (up to Inf). */
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t e = x >> 23;
    if (e < 102) /* below 2^-25 (f32 subnormals included): rounds to zero */
        return sign;
    /* Subnormal half: value = mant * 2^(e-150); in units of 2^-24 that is mant >> (126 - e). */
    uint32_t mant = (x & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e; /* 14..24 */
    uint32_t h = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (h & 1u)))
        h++;
    return (uint16_t)(sign | h);
}

static inline uint32_t f16_to_f32_bits(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 31)
        return sign | 0x7f800000u | mant << 13;
    if (exp != 0)
        return sign | (exp + 112u) << 23 | mant << 13;
    if (mant == 0)
        return sign;
    /* Subnormal half: normalise; every one is a normal f32. */
    uint32_t e = 113;
    while (!(mant & 0x400u)) {
        mant <<= 1;
        e--;
    }
    return sign | e << 23 | (mant & 0x3ffu) << 13;
}

static inline uint16_t f32_to_bf16_bits(uint32_t x) {
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x0040u); /* quiet NaN; rounding could have made it Inf */
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

float vkg_f16_to_f32(uint16_t h) { return f32_from_bits(f16_to_f32_bits(h)); }
uint16_t vkg_f32_to_f16(float f) { return f32_to_f16_bits(f32_bits(f)); }
float vkg_bf16_to_f32(uint16_t b) { return f32_from_bits((uint32_t)b << 16); }
uint16_t vkg_f32_to_bf16(float f) { return f32_to_bf16_bits(f32_bits(f)); }

vkg_status vkg_dtype_to_f32(vkg_dtype src_dt, const void *src, float *dst, size_t n) {
    const uint8_t *p = src;
    switch (src_dt) {
    case VKG_DTYPE_F32:
        memcpy(dst, src, n * 4);
        return VKG_OK;
    case VKG_DTYPE_F16:
        for (size_t i = 0; i < n; i++)
            dst[i] = f32_from_bits(f16_to_f32_bits(load_u16(p + 2 * i)));
        return VKG_OK;
    case VKG_DTYPE_BF16:
        for (size_t i = 0; i < n; i++)
            dst[i] = f32_from_bits((uint32_t)load_u16(p + 2 * i) << 16);
        return VKG_OK;
    default:
        return vkg_fail(VKG_ERROR_ST_DTYPE, "cannot convert dtype %s to F32 (only F32, F16, BF16)",
                        vkg_dtype_name(src_dt));
    }
}

vkg_status vkg_dtype_to_f16(vkg_dtype src_dt, const void *src, uint16_t *dst, size_t n) {
    const uint8_t *p = src;
    switch (src_dt) {
    case VKG_DTYPE_F32:
        for (size_t i = 0; i < n; i++) {
            uint32_t x;
            memcpy(&x, p + 4 * i, 4);
            dst[i] = f32_to_f16_bits(x);
        }
        return VKG_OK;
    case VKG_DTYPE_F16:
        memcpy(dst, src, n * 2);
        return VKG_OK;
    case VKG_DTYPE_BF16:
        for (size_t i = 0; i < n; i++)
            dst[i] = f32_to_f16_bits((uint32_t)load_u16(p + 2 * i) << 16);
        return VKG_OK;
    default:
        return vkg_fail(VKG_ERROR_ST_DTYPE, "cannot convert dtype %s to F16 (only F32, F16, BF16)",
                        vkg_dtype_name(src_dt));
    }
}

size_t vkg_check_finite(vkg_dtype dt, const void *data, size_t n) {
    const uint8_t *p = data;
    switch (dt) {
    case VKG_DTYPE_F32:
        for (size_t i = 0; i < n; i++) {
            uint32_t x;
            memcpy(&x, p + 4 * i, 4);
            if ((x & 0x7f800000u) == 0x7f800000u)
                return i;
        }
        return n;
    case VKG_DTYPE_F64:
        for (size_t i = 0; i < n; i++) {
            uint64_t x;
            memcpy(&x, p + 8 * i, 8);
            if ((x & 0x7ff0000000000000ull) == 0x7ff0000000000000ull)
                return i;
        }
        return n;
    case VKG_DTYPE_F16:
    case VKG_DTYPE_BF16: {
        uint16_t mask = dt == VKG_DTYPE_F16 ? 0x7c00u : 0x7f80u;
        for (size_t i = 0; i < n; i++)
            if ((load_u16(p + 2 * i) & mask) == mask)
                return i;
        return n;
    }
    case VKG_DTYPE_F8_E4M3:
        for (size_t i = 0; i < n; i++)
            if ((p[i] & 0x7fu) == 0x7fu)
                return i;
        return n;
    case VKG_DTYPE_F8_E5M2:
        for (size_t i = 0; i < n; i++)
            if ((p[i] & 0x7cu) == 0x7cu)
                return i;
        return n;
    default:
        return n;
    }
}
