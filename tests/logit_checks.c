/* tests/logit_checks.c — see logit_checks.h. */
#include "logit_checks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

double check_logits(const char *what, const float *got, const double *ref, size_t n, double tol) {
    double max_ref = 0, max_err = 0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i]))
            fail_msg("%s: logit %zu is %g", what, i, (double)got[i]);
        max_ref = fmax(max_ref, fabs(ref[i]));
        double e = fabs((double)got[i] - ref[i]);
        if (e > max_err)
            max_err = e, worst = i;
    }
    if (max_err > tol * max_ref)
        fail_msg("%s: logit %zu: got %.7g, reference %.7g: error %.3g of max %.3g (tolerance %.1g)", what, worst,
                 (double)got[worst], ref[worst], max_err, max_ref, tol);
    return max_err / max_ref;
}

void check_teacher_forced(vkg_model *model, const int32_t *seq, int N, const char *what, double tol) {
    int V = (int)vkg_model_get_config(model)->vocab_size;
    float *all = malloc((size_t)N * V * sizeof *all), *row = malloc((size_t)V * sizeof *row);
    double *row_d = malloc((size_t)V * sizeof *row_d);
    assert_true(all && row && row_d);
    vkg_session_options uo = vkg_session_default_options();
    uo.no_kv_cache = true;
    vkg_session *uncached = NULL, *cached = NULL;
    assert_int_equal(vkg_session_create(model, &uo, &uncached), VKG_OK);
    assert_int_equal(vkg_session_prefill(uncached, seq, (uint32_t)N, all), VKG_OK);
    assert_int_equal(vkg_session_create(model, NULL, &cached), VKG_OK);
    vkg_session_want_logits(cached, true);
    assert_int_equal(vkg_session_prefill(cached, seq, 1, NULL), VKG_OK);
    char msg[128];
    for (int t = 0; t < N; t++) {
        if (t > 0)
            assert_int_equal(vkg_session_step(cached, seq[t]), VKG_OK);
        assert_int_equal(vkg_session_logits(cached, row), VKG_OK);
        for (int i = 0; i < V; i++)
            row_d[i] = all[(size_t)t * V + i];
        snprintf(msg, sizeof msg, "%s: teacher-forced position %d, cached vs uncached", what, t);
        check_logits(msg, row, row_d, (size_t)V, tol);
    }
    vkg_session_free(cached);
    vkg_session_free(uncached);
    free(all);
    free(row);
    free(row_d);
}

int32_t *device_greedy(vkg_model *m, bool cached, const int32_t *prompt, uint32_t n_prompt, uint32_t n) {
    return device_greedy_kv(m, cached, VKG_PRECISION_F32, prompt, n_prompt, n);
}

int32_t *device_greedy_kv(vkg_model *m, bool cached, vkg_precision kv, const int32_t *prompt, uint32_t n_prompt,
                          uint32_t n) {
    vkg_session_options o = vkg_session_default_options();
    o.no_kv_cache = !cached;
    o.kv = kv;
    vkg_session *s = NULL;
    assert_int_equal(vkg_session_create(m, &o, &s), VKG_OK);
    int32_t *out = malloc(n * sizeof *out);
    assert_non_null(out);
    assert_int_equal(vkg_session_prefill(s, prompt, n_prompt, NULL), VKG_OK);
    for (uint32_t i = 0; i < n; i++) {
        out[i] = vkg_session_argmax(s);
        if (i + 1 < n)
            assert_int_equal(vkg_session_step(s, out[i]), VKG_OK);
    }
    vkg_session_free(s);
    return out;
}
