/* The statistics of an evaluation, with llama.cpp's error estimates. */
#include "config.h"
#include "quant/eval_internal.h"

#include <math.h>
#include <stdlib.h>

typedef struct estimate {
    double value, err;
} estimate;

/* Mean of a quantity and the standard error of that mean. */
static estimate mean_err(double sum, double sum2, int64_t n)
{
    estimate e = {0, 0};
    if (n < 1)
        return e;
    e.value = sum / (double)n;
    double var = sum2 / (double)n - e.value * e.value;
    e.err = var > 0 && n > 10 ? sqrt(var / (double)(n - 1)) : 0.0;
    return e;
}

/* Covariance of the two means. */
static double mean_cov(double sum_a, double sum_b, double sum_ab, int64_t n)
{
    if (n < 10)
        return 0.0;
    const double cov = sum_ab / (double)n - (sum_a / (double)n) * (sum_b / (double)n);
    return cov / (double)(n - 1);
}

static int cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation between the sorted values around fraction * (n - 1). */
static double percentile(const float *sorted, int64_t n, double fraction)
{
    if (fraction <= 0)
        return sorted[0];
    if (fraction >= 1)
        return sorted[n - 1];
    double p = fraction * (double)(n - 1);
    int64_t ip = (int64_t)p;
    p -= (double)ip;
    return (1 - p) * sorted[ip] + p * sorted[ip + 1 < n ? ip + 1 : n - 1];
}

void mvq_eval_finish(const mvq_eval_sums *s, bool has_base, float *kld_values, mvq_eval_result *out)
{
    const int64_t n = s->count;
    out->n_scored = n;
    const estimate nll = mean_err(s->nll, s->nll2, n);
    out->ppl = exp(nll.value);
    out->ppl_err = out->ppl * nll.err;
    out->has_base = has_base;
    if (!has_base || n == 0)
        return;

    const estimate nll_b = mean_err(s->nll_base, s->nll_base2, n);
    out->base_ppl = exp(nll_b.value);
    out->base_ppl_err = out->base_ppl * nll_b.err;
    const double cov = mean_cov(s->nll, s->nll_base, s->nll_nll_base, n);
    const double log_ratio = nll.value - nll_b.value;
    const double var_ratio = nll.err * nll.err + nll_b.err * nll_b.err - 2.0 * cov;
    out->ppl_ratio = exp(log_ratio);
    out->ppl_ratio_err = out->ppl_ratio * (var_ratio > 0 ? sqrt(var_ratio) : 0.0);

    const estimate kld = mean_err(s->kld, s->kld2, n);
    out->kld_mean = kld.value;
    out->kld_err = kld.err;
    qsort(kld_values, (size_t)n, sizeof *kld_values, cmp_float);
    out->kld_median = n % 2 == 0 ? 0.5 * ((double)kld_values[n / 2] + kld_values[n / 2 - 1]) : kld_values[n / 2];
    out->kld_p99 = percentile(kld_values, n, 0.99);
    out->kld_p999 = percentile(kld_values, n, 0.999);
    out->kld_max = kld_values[n - 1];

    const double same = (double)s->same_top / (double)n;
    out->same_top = same;
    out->same_top_err = n > 1 ? sqrt(same * (1 - same) / (double)(n - 1)) : 0.0;

    const estimate dp = mean_err(s->dp, s->dp2, n);
    out->dp_mean = dp.value;
    out->dp_mean_err = dp.err;
    const estimate msd = mean_err(s->dp2, s->dp4, n);
    out->dp_rms = sqrt(msd.value);
    out->dp_rms_err = out->dp_rms > 0 ? 0.5 / out->dp_rms * msd.err : 0.0;
}
