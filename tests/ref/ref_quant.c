/* ref_quant.c — element-wise reference decoder of ggml's block formats (see ref_quant.h). */
#include "ref_quant.h"

#include "ref.h"

#include <assert.h>
#include <string.h>

int ref_q_block_elems(int type) {
    switch (type) {
    case REF_GGML_F32: case REF_GGML_F16: case REF_GGML_BF16: return 1;
    case REF_GGML_Q4_0: case REF_GGML_Q8_0: return 32;
    case REF_GGML_Q4_K: case REF_GGML_Q5_K: case REF_GGML_Q6_K: return 256;
    default: return 0;
    }
}

int ref_q_block_bytes(int type) {
    switch (type) {
    case REF_GGML_F32: return 4;
    case REF_GGML_F16: case REF_GGML_BF16: return 2;
    case REF_GGML_Q4_0: return 2 + 16;           /* ggml_half d; uint8_t qs[QK4_0 / 2] */
    case REF_GGML_Q8_0: return 2 + 32;           /* ggml_half d; int8_t qs[QK8_0] */
    case REF_GGML_Q4_K: return 2 + 2 + 12 + 128; /* d, dmin, scales[K_SCALE_SIZE], qs[QK_K / 2] */
    case REF_GGML_Q5_K: return 2 + 2 + 12 + 32 + 128; /* ... qh[QK_K / 8], qs[QK_K / 2] */
    case REF_GGML_Q6_K: return 128 + 64 + 16 + 2; /* ql[QK_K / 2], qh[QK_K / 4], scales[QK_K / 16], d */
    default: return 0;
    }
}

static float half_at(const uint8_t *p) { return ref_f16_to_f32((uint16_t)(p[0] + 256 * p[1])); }

/* Round a double to float: the fp32 result of one operation on floats. */
static float r(double x) { return (float)x; }

/* The 6-bit scale (want_min = 0) or min (1) of sub-block j of a Q4_K/Q5_K block, from the 12 scale
 * bytes: bytes 0-3 hold scales 0-3 in bits 0-5 and bits 4-5 of scales 4-7 in bits 6-7; bytes 4-7
 * likewise for the mins; bytes 8-11 hold bits 0-3 of scale 4+i (low nibble) and min 4+i (high). */
static int k_scale(const uint8_t *sc, int j, int want_min) {
    if (j < 4)
        return sc[j + 4 * want_min] % 64;
    int low = want_min ? sc[j + 4] / 16 : sc[j + 4] % 16;
    int high = sc[(j - 4) + 4 * want_min] / 64;
    return low + 16 * high;
}

float ref_q_element(int type, const uint8_t *b, int i) {
    switch (type) {
    case REF_GGML_F32: {
        float v;
        memcpy(&v, b, 4); /* little-endian host assumed, as by the rest of the tests */
        return v;
    }
    case REF_GGML_F16: return half_at(b);
    case REF_GGML_BF16: return ref_bf16_to_f32((uint16_t)(b[0] + 256 * b[1]));
    case REF_GGML_Q8_0: return r((double)(int8_t)b[2 + i] * half_at(b));
    case REF_GGML_Q4_0: {
        int byte = b[2 + i % 16], q = i < 16 ? byte % 16 : byte / 16;
        return r((double)(q - 8) * half_at(b));
    }
    case REF_GGML_Q4_K: case REF_GGML_Q5_K: {
        int five = type == REF_GGML_Q5_K, j = i / 32, l = i % 32;
        const uint8_t *scales = b + 4, *qh = b + 16, *qs = b + (five ? 48 : 16);
        int byte = qs[32 * (j / 2) + l];
        int q = j % 2 ? byte / 16 : byte % 16;
        if (five && (qh[l] & (1 << j)))
            q += 16;
        float d1 = r((double)half_at(b) * k_scale(scales, j, 0));
        float m1 = r((double)half_at(b + 2) * k_scale(scales, j, 1));
        return r((double)r((double)d1 * q) - m1);
    }
    case REF_GGML_Q6_K: {
        /* Element i: half h = i / 128, within it quarter g = (i % 128) / 32, lane l = i % 32. */
        int h = i / 128, g = (i % 128) / 32, l = i % 32;
        const uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
        int lowbyte = ql[l + (g == 1 || g == 3 ? 32 : 0)];
        int low = g < 2 ? lowbyte % 16 : lowbyte / 16;
        int high = (qh[l] >> (2 * g)) % 4;
        int8_t scale = (int8_t)b[192 + i / 16];
        float ds = r((double)half_at(b + 208) * scale);
        return r((double)ds * (low + 16 * high - 32));
    }
    default:
        assert(!"ref_q_element: unknown type");
        return 0;
    }
}

void ref_q_dequantize(int type, const void *src, float *dst, size_t n) {
    size_t be = (size_t)ref_q_block_elems(type), bb = (size_t)ref_q_block_bytes(type);
    assert(be && n % be == 0);
    const uint8_t *p = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = ref_q_element(type, p + (i / be) * bb, (int)(i % be));
}
