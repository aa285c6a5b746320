/* ref_gqa.c — grouped-query, sliding-window attention in double precision (see ref_gqa.h). Plain
 * loops, one (row, query head) at a time: the key range and the K/V head are computed from the
 * definition, independently of how the GPU kernels group or tile them. */
#include "ref_gqa.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

int ref_gqa_attention(float *out, const float *q, const float *k, const float *v, const ref_gqa_shape *s) {
    assert(out && q && k && v && s);
    assert(s->T > 0 && s->H > 0 && s->KVH > 0 && s->hd > 0 && s->H % s->KVH == 0);
    assert(s->q_pos0 >= 0 && s->window >= 0);
    const int S = s->q_pos0 + s->T, group = s->H / s->KVH, hd = s->hd;
    const size_t qrow = (size_t)s->H * hd, kvrow = (size_t)s->KVH * hd;
    double *p = malloc((size_t)S * sizeof *p);
    double *acc = malloc((size_t)hd * sizeof *acc);
    if (!p || !acc) {
        free(p);
        free(acc);
        return -1;
    }
    for (int t = 0; t < s->T; t++) {
        const int pos = s->q_pos0 + t;
        const int first = s->window > 0 && pos - s->window + 1 > 0 ? pos - s->window + 1 : 0;
        for (int h = 0; h < s->H; h++) {
            const int g = h / group;
            const float *qt = q + (size_t)t * qrow + (size_t)h * hd;
            double max = -INFINITY;
            for (int j = first; j <= pos; j++) {
                const float *kj = k + (size_t)j * kvrow + (size_t)g * hd;
                double dot = 0.0;
                for (int i = 0; i < hd; i++)
                    dot += (double)qt[i] * (double)kj[i];
                p[j] = s->scale * dot;
                if (p[j] > max)
                    max = p[j];
            }
            double sum = 0.0;
            for (int j = first; j <= pos; j++) {
                p[j] = exp(p[j] - max);
                sum += p[j];
            }
            for (int i = 0; i < hd; i++)
                acc[i] = 0.0;
            for (int j = first; j <= pos; j++) {
                const float *vj = v + (size_t)j * kvrow + (size_t)g * hd;
                for (int i = 0; i < hd; i++)
                    acc[i] += p[j] * (double)vj[i];
            }
            float *ot = out + (size_t)t * qrow + (size_t)h * hd;
            for (int i = 0; i < hd; i++)
                ot[i] = (float)(acc[i] / sum);
        }
    }
    free(p);
    free(acc);
    return 0;
}
