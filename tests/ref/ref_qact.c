/* ref_qact.c — see ref_qact.h. */
#include "ref_qact.h"

#include <math.h>

void ref_qact_block(const float *x, int8_t *q, float *d, int32_t *s0, int32_t *s1, double *exact_q) {
    float amax = 0.0f;
    for (int i = 0; i < 32; i++)
        amax = fmaxf(amax, fabsf(x[i]));
    *d = amax / 127.0f;
    *s0 = *s1 = 0;
    for (int i = 0; i < 32; i++) {
        double v = *d > 0.0f ? (double)x[i] / (double)*d : 0.0;
        exact_q[i] = v;
        double r = round(v); /* C's round: halves away from zero */
        r = r > 127 ? 127 : r < -127 ? -127 : r;
        q[i] = (int8_t)r;
        if (i < 16)
            *s0 += q[i];
        else
            *s1 += q[i];
    }
}
