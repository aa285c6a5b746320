/* ref_half.c — reference fp16 (IEEE binary16) and bf16 conversions, the oracle for the library's
 * converters. They work on values, not bits: a finite input is divided by the spacing (quantum) of
 * representable numbers around it — a power of two, so the division is exact in double — rounded to
 * an integer with rint() (ties to even), and the result is encoded field by field. Not fast. */
#include "ref.h"

#include <math.h>

/* One small-float format: binary16 or bfloat16 (1 sign bit, exp_bits, man_bits). */
typedef struct half_format {
    int man_bits;      /* stored mantissa bits: 10 or 7 */
    int bias;          /* exponent bias: 15 or 127 */
    int exp_all_ones;  /* biased exponent of inf/NaN: 31 or 255 */
    uint16_t quiet_nan; /* canonical quiet NaN without sign */
} half_format;

static const half_format fmt_f16 = {10, 15, 31, 0x7E00};
static const half_format fmt_bf16 = {7, 127, 255, 0x7FC0};

static uint16_t encode(const half_format *fmt, float f) {
    uint16_t sign = signbit(f) ? 0x8000u : 0u;
    uint16_t inf = (uint16_t)(sign | (fmt->exp_all_ones << fmt->man_bits));
    if (isnan(f))
        return (uint16_t)(sign | fmt->quiet_nan);
    if (isinf(f))
        return inf;
    double a = fabs((double)f);
    int emin = 1 - fmt->bias;                              /* exponent of the smallest normal */
    double min_normal = ldexp(1.0, emin);
    double quantum;
    if (a < min_normal) {
        quantum = ldexp(1.0, emin - fmt->man_bits);        /* spacing of the subnormals */
    } else {
        int e;
        frexp(a, &e);                                      /* a = m * 2^e, m in [0.5, 1) */
        quantum = ldexp(1.0, e - 1 - fmt->man_bits);       /* spacing in a's binade */
    }
    double r = rint(a / quantum);
    double v = r * quantum;                                /* the rounded value, exact */
    if (v < min_normal)                                    /* subnormal or zero: r < 2^man_bits */
        return (uint16_t)(sign | (uint16_t)r);
    int e;
    double m = frexp(v, &e);                               /* v = (2m) * 2^(e-1), 2m in [1, 2) */
    int biased = e - 1 + fmt->bias;
    if (biased >= fmt->exp_all_ones)                       /* rounded past the largest finite */
        return inf;
    unsigned mant = (unsigned)ldexp(2.0 * m - 1.0, fmt->man_bits);
    return (uint16_t)(sign | (unsigned)biased << fmt->man_bits | mant);
}

static float decode(const half_format *fmt, uint16_t h) {
    int exp_mask = fmt->exp_all_ones;
    int exp = (h >> fmt->man_bits) & exp_mask;
    int mant = h & ((1 << fmt->man_bits) - 1);
    double v;
    if (exp == 0)
        v = ldexp((double)mant, 1 - fmt->bias - fmt->man_bits);
    else if (exp == exp_mask)
        v = mant ? NAN : INFINITY;
    else
        v = ldexp((double)((1 << fmt->man_bits) + mant), exp - fmt->bias - fmt->man_bits);
    return (float)copysign(v, (h & 0x8000u) ? -1.0 : 1.0);
}

uint16_t ref_f32_to_f16(float f) {
    return encode(&fmt_f16, f);
}

float ref_f16_to_f32(uint16_t h) {
    return decode(&fmt_f16, h);
}

int ref_f16_is_nan(uint16_t h) {
    return (h & 0x7C00u) == 0x7C00u && (h & 0x03FFu) != 0;
}

uint16_t ref_f32_to_bf16(float f) {
    return encode(&fmt_bf16, f);
}

float ref_bf16_to_f32(uint16_t h) {
    return decode(&fmt_bf16, h);
}

int ref_bf16_is_nan(uint16_t h) {
    return (h & 0x7F80u) == 0x7F80u && (h & 0x007Fu) != 0;
}
