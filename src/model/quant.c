/*
 * model/quant.c — ggml type table, block dequantizers and round-to-nearest quantizers (see quant.h
 * for the layouts and the guarantees). Host code only; the shaders decode the same layouts in
 * shaders/quant.glsl.
 */
#include "model/quant.h"

#include "model/dtype.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

typedef struct type_info {
    const char *name;
    uint32_t block_elems, block_bytes;
} type_info;

/* Every current ggml type (retired numbers are absent); sizes from ggml's block structs. */
static const type_info types[VKG_GGML_TYPE_END] = {
    [VKG_GGML_F32] = {"F32", 1, 4},           [VKG_GGML_F16] = {"F16", 1, 2},
    [VKG_GGML_Q4_0] = {"Q4_0", 32, 18},       [VKG_GGML_Q4_1] = {"Q4_1", 32, 20},
    [VKG_GGML_Q5_0] = {"Q5_0", 32, 22},       [VKG_GGML_Q5_1] = {"Q5_1", 32, 24},
    [VKG_GGML_Q8_0] = {"Q8_0", 32, 34},       [VKG_GGML_Q8_1] = {"Q8_1", 32, 36},
    [VKG_GGML_Q2_K] = {"Q2_K", 256, 84},      [VKG_GGML_Q3_K] = {"Q3_K", 256, 110},
    [VKG_GGML_Q4_K] = {"Q4_K", 256, 144},     [VKG_GGML_Q5_K] = {"Q5_K", 256, 176},
    [VKG_GGML_Q6_K] = {"Q6_K", 256, 210},     [VKG_GGML_Q8_K] = {"Q8_K", 256, 292},
    [VKG_GGML_IQ2_XXS] = {"IQ2_XXS", 256, 66}, [VKG_GGML_IQ2_XS] = {"IQ2_XS", 256, 74},
    [VKG_GGML_IQ3_XXS] = {"IQ3_XXS", 256, 98}, [VKG_GGML_IQ1_S] = {"IQ1_S", 256, 50},
    [VKG_GGML_IQ4_NL] = {"IQ4_NL", 32, 18},   [VKG_GGML_IQ3_S] = {"IQ3_S", 256, 110},
    [VKG_GGML_IQ2_S] = {"IQ2_S", 256, 82},    [VKG_GGML_IQ4_XS] = {"IQ4_XS", 256, 136},
    [VKG_GGML_I8] = {"I8", 1, 1},             [VKG_GGML_I16] = {"I16", 1, 2},
    [VKG_GGML_I32] = {"I32", 1, 4},           [VKG_GGML_I64] = {"I64", 1, 8},
    [VKG_GGML_F64] = {"F64", 1, 8},           [VKG_GGML_IQ1_M] = {"IQ1_M", 256, 56},
    [VKG_GGML_BF16] = {"BF16", 1, 2},         [VKG_GGML_TQ1_0] = {"TQ1_0", 256, 54},
    [VKG_GGML_TQ2_0] = {"TQ2_0", 256, 66},    [VKG_GGML_MXFP4] = {"MXFP4", 32, 17},
};

const char *vkg_ggml_type_name(uint32_t t) { return t < VKG_GGML_TYPE_END ? types[t].name : NULL; }

bool vkg_ggml_type_layout(uint32_t t, uint32_t *block_elems, uint32_t *block_bytes) {
    if (!vkg_ggml_type_name(t))
        return false;
    *block_elems = types[t].block_elems;
    *block_bytes = types[t].block_bytes;
    return true;
}

bool vkg_ggml_type_quantizable(uint32_t t) {
    return t == VKG_GGML_Q8_0 || t == VKG_GGML_Q4_0 || t == VKG_GGML_Q4_K || t == VKG_GGML_Q5_K ||
           t == VKG_GGML_Q6_K;
}

bool vkg_ggml_type_supported(uint32_t t) {
    return t == VKG_GGML_F32 || t == VKG_GGML_F16 || t == VKG_GGML_BF16 || vkg_ggml_type_quantizable(t);
}

uint64_t vkg_ggml_bytes(uint32_t t, uint64_t n) {
    uint32_t be, bb;
    uint64_t out;
    if (!vkg_ggml_type_layout(t, &be, &bb) || n % be || !vkg_mul_u64(n / be, bb, &out))
        return 0;
    return out;
}

static float f16_at(const uint8_t *p) { return vkg_f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

static void put_f16(uint8_t *p, uint16_t h) {
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

/* Sub-block j's 6-bit scale and min in a Q4_K/Q5_K `scales` array: j < 4 in the low 6 bits of bytes j
 * and j + 4; j >= 4 in the nibbles of byte j + 4 with the top two bits in bytes j - 4 and j. */
static void scale_min(const uint8_t *s, int j, float *sc, float *m) {
    if (j < 4) {
        *sc = (float)(s[j] & 63);
        *m = (float)(s[j + 4] & 63);
    } else {
        *sc = (float)((s[j + 4] & 0xF) | (s[j - 4] >> 6) << 4);
        *m = (float)((s[j + 4] >> 4) | (s[j] >> 6) << 4);
    }
}

static void pack_scale_min(uint8_t *s, const uint8_t *sc, const uint8_t *m) {
    memset(s, 0, 12);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            s[j] |= sc[j];
            s[j + 4] |= m[j];
        } else {
            s[j + 4] = (uint8_t)((sc[j] & 0xF) | (m[j] & 0xF) << 4);
            s[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
            s[j] |= (uint8_t)((m[j] >> 4) << 6);
        }
    }
}

static void dequant_block(uint32_t t, const uint8_t *b, float *y) {
    switch (t) {
    case VKG_GGML_Q8_0: {
        float d = f16_at(b);
        for (int j = 0; j < 32; j++)
            y[j] = (float)(int8_t)b[2 + j] * d;
        break;
    }
    case VKG_GGML_Q4_0: {
        float d = f16_at(b);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((b[2 + j] & 0xF) - 8) * d;
            y[j + 16] = (float)((b[2 + j] >> 4) - 8) * d;
        }
        break;
    }
    case VKG_GGML_Q4_K:
    case VKG_GGML_Q5_K: {
        bool five = t == VKG_GGML_Q5_K;
        float d = f16_at(b), dmin = f16_at(b + 2);
        const uint8_t *sc = b + 4, *qh = b + 16, *qs = b + (five ? 48 : 16);
        for (int s = 0; s < 8; s++) {
            float scale, mn;
            scale_min(sc, s, &scale, &mn);
            float d1 = d * scale, m1 = dmin * mn;
            for (int l = 0; l < 32; l++) {
                int q = s & 1 ? qs[32 * (s / 2) + l] >> 4 : qs[32 * (s / 2) + l] & 0xF;
                if (five)
                    q += (qh[l] >> s & 1) << 4;
                float p = d1 * (float)q;
                y[32 * s + l] = p - m1;
            }
        }
        break;
    }
    case VKG_GGML_Q6_K: {
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        float d = f16_at(b + 208);
        for (int e = 0; e < 256; e++) {
            int h = e / 128, g = e % 128 / 32, l = e % 32;
            int lo = ql[64 * h + 32 * (g & 1) + l] >> (4 * (g >> 1)) & 0xF;
            int hi = qh[32 * h + l] >> (2 * g) & 3;
            float ds = d * (float)sc[e / 16];
            y[e] = ds * (float)((lo | hi << 4) - 32);
        }
        break;
    }
    default:
        assert(!"not a block format");
    }
}

vkg_status vkg_quant_dequantize(uint32_t t, const void *src, float *dst, uint64_t n) {
    uint32_t be, bb;
    if (!vkg_ggml_type_supported(t) || !vkg_ggml_type_layout(t, &be, &bb) || n % be)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "dequantize: %" PRIu64 " elements of type %s (%u): %s", n,
                        vkg_ggml_type_name(t) ? vkg_ggml_type_name(t) : "unknown", t,
                        vkg_ggml_type_supported(t) ? "not a multiple of the block" : "not a type vkgpt reads");
    const uint8_t *p = src;
    if (t == VKG_GGML_F32) {
        memcpy(dst, src, n * 4);
        return VKG_OK;
    }
    if (t == VKG_GGML_F16 || t == VKG_GGML_BF16) {
        for (uint64_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
            dst[i] = t == VKG_GGML_F16 ? vkg_f16_to_f32(h) : vkg_bf16_to_f32(h);
        }
        return VKG_OK;
    }
    for (uint64_t i = 0; i < n / be; i++)
        dequant_block(t, p + i * bb, dst + i * be);
    return VKG_OK;
}

/* The smallest f16 >= x (x >= 0, finite), so that a scale rounded to f16 never shrinks a range;
 * false when it does not fit f16. */
static bool f16_up(float x, uint16_t *h, float *value) {
    uint16_t r = vkg_f32_to_f16(x);
    if (vkg_f16_to_f32(r) < x)
        r++;
    if ((r & 0x7C00) == 0x7C00)
        return false;
    *h = r;
    *value = vkg_f16_to_f32(r);
    return true;
}

static float clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }

/* Quantize one block; false when a scale does not fit f16 (|x| above ~65504 * 127). */
static bool quant_block(uint32_t t, const float *x, uint8_t *b) {
    switch (t) {
    case VKG_GGML_Q8_0: {
        float amax = 0, d;
        uint16_t h;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        if (!f16_up(amax / 127.0f, &h, &d))
            return false;
        put_f16(b, h);
        for (int j = 0; j < 32; j++)
            b[2 + j] = (uint8_t)(int8_t)(d > 0 ? clampf(roundf(x[j] / d), -127, 127) : 0);
        return true;
    }
    case VKG_GGML_Q4_0: {
        /* The element of largest magnitude maps to -8, as in ggml: the other sign reaches +7 only. */
        float mx = 0, d;
        uint16_t h;
        for (int j = 0; j < 32; j++)
            if (fabsf(x[j]) > fabsf(mx))
                mx = x[j];
        if (!f16_up(fabsf(mx) / 8.0f, &h, &d))
            return false;
        if (mx > 0) {
            h |= 0x8000;
            d = -d;
        }
        put_f16(b, h);
        memset(b + 2, 0, 16);
        for (int j = 0; j < 32; j++) {
            int q = d != 0 ? (int)clampf(roundf(x[j] / d) + 8, 0, 15) : 8;
            b[2 + j % 16] |= (uint8_t)(j < 16 ? q : q << 4);
        }
        return true;
    }
    case VKG_GGML_Q4_K:
    case VKG_GGML_Q5_K: {
        bool five = t == VKG_GGML_Q5_K;
        const float nmax = five ? 31 : 15;
        float neg_min[8], mx[8], off[8], s[8], dmin, d, top_min = 0, top_s = 0;
        uint8_t scq[8], mq[8];
        uint16_t hd, hm;
        for (int j = 0; j < 8; j++) {
            float lo = 0, hi = -INFINITY;
            for (int l = 0; l < 32; l++) {
                lo = fminf(lo, x[32 * j + l]);
                hi = fmaxf(hi, x[32 * j + l]);
            }
            neg_min[j] = -lo;
            mx[j] = hi;
            top_min = fmaxf(top_min, -lo);
        }
        if (!f16_up(top_min / 63.0f, &hm, &dmin))
            return false;
        for (int j = 0; j < 8; j++) {
            mq[j] = (uint8_t)(dmin > 0 ? fminf(ceilf(neg_min[j] / dmin), 63) : 0);
            off[j] = dmin * (float)mq[j]; /* what the dequantizer subtracts */
            s[j] = fmaxf(mx[j] + off[j], 0) / nmax;
            top_s = fmaxf(top_s, s[j]);
        }
        if (!f16_up(top_s / 63.0f, &hd, &d))
            return false;
        put_f16(b, hd);
        put_f16(b + 2, hm);
        for (int j = 0; j < 8; j++)
            scq[j] = (uint8_t)(d > 0 ? fminf(ceilf(s[j] / d), 63) : 0);
        pack_scale_min(b + 4, scq, mq);
        uint8_t *qh = b + 16, *qs = b + (five ? 48 : 16);
        memset(qs, 0, 128);
        if (five)
            memset(qh, 0, 32);
        for (int j = 0; j < 8; j++) {
            float step = d * (float)scq[j];
            for (int l = 0; l < 32; l++) {
                int q = step > 0 ? (int)clampf(roundf((x[32 * j + l] + off[j]) / step), 0, nmax) : 0;
                qs[32 * (j / 2) + l] |= (uint8_t)(j & 1 ? (q & 0xF) << 4 : q & 0xF);
                if (five)
                    qh[l] |= (uint8_t)((q >> 4) << j);
            }
        }
        return true;
    }
    case VKG_GGML_Q6_K: {
        float s[16], d, top = 0;
        uint16_t h;
        for (int j = 0; j < 16; j++) {
            float amax = 0;
            for (int l = 0; l < 16; l++)
                amax = fmaxf(amax, fabsf(x[16 * j + l]));
            s[j] = amax / 31.0f;
            top = fmaxf(top, s[j]);
        }
        if (!f16_up(top / 127.0f, &h, &d))
            return false;
        uint8_t *ql = b, *qh = b + 128;
        int8_t sc[16];
        memset(b, 0, 192);
        for (int j = 0; j < 16; j++)
            sc[j] = (int8_t)(d > 0 ? fminf(ceilf(s[j] / d), 127) : 0);
        memcpy(b + 192, sc, 16);
        put_f16(b + 208, h);
        for (int e = 0; e < 256; e++) {
            float step = d * (float)sc[e / 16];
            int q = (step > 0 ? (int)clampf(roundf(x[e] / step), -32, 31) : 0) + 32;
            int hh = e / 128, g = e % 128 / 32, l = e % 32;
            ql[64 * hh + 32 * (g & 1) + l] |= (uint8_t)((q & 0xF) << (4 * (g >> 1)));
            qh[32 * hh + l] |= (uint8_t)((q >> 4) << (2 * g));
        }
        return true;
    }
    default:
        assert(!"not a block format");
        return false;
    }
}

vkg_status vkg_quant_quantize(uint32_t t, const float *src, void *dst, uint64_t n) {
    uint32_t be, bb;
    if (!vkg_ggml_type_quantizable(t) || !vkg_ggml_type_layout(t, &be, &bb) || n % be)
        return vkg_fail(VKG_ERROR_INVALID_ARGUMENT, "quantize: %" PRIu64 " elements to %s (%u): %s", n,
                        vkg_ggml_type_name(t) ? vkg_ggml_type_name(t) : "unknown", t,
                        vkg_ggml_type_quantizable(t) ? "not a multiple of the block" : "not a format vkgpt writes");
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(src[i]))
            return vkg_fail(VKG_ERROR_BAD_WEIGHTS, "quantize to %s: element %" PRIu64 " is %s", types[t].name, i,
                            isnan(src[i]) ? "NaN" : src[i] > 0 ? "+Inf" : "-Inf");
    uint8_t *p = dst;
    for (uint64_t i = 0; i < n / be; i++)
        if (!quant_block(t, src + i * be, p + i * bb))
            return vkg_fail(VKG_ERROR_BAD_WEIGHTS, "quantize to %s: block %" PRIu64 " (elements %" PRIu64
                            "..) has values too large for an f16 scale", types[t].name, i, i * be);
    return VKG_OK;
}
