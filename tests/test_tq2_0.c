/* TQ2_0 (ternary) reference kernels (Criterion): the layout of ggml's
 * format on a hand-packed block, the dot product against exact sums, and
 * the quantizer against ggml's rule (d = max|x|, round x/d), against a
 * fine scan of scales, and on edge rows.  The SIMD tables are compared with
 * this reference by simd_vs_ref. */
#include <criterion/criterion.h>
#include <mvquant.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 1024

static const mvq_kernel_table *ref(void)
{
    const mvq_kernel_table *t = mvq_kernels_for_isa(MVQ_ISA_SCALAR);
    cr_assert_not_null(t);
    return t;
}

static uint64_t rng = 1;
static double gauss(void)
{
    double u[2];
    for (int k = 0; k < 2; k++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        u[k] = ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

static double sq_error(const float *x, const float *y, const float *w, int n)
{
    double e = 0;
    for (int i = 0; i < n; i++)
        e += (w ? w[i] : 1.0) * ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
    return e;
}

/* weighted error of one block at scale d with the nearest codes */
static double error_at(const float *x, const float *w, int n, double d)
{
    double e = 0;
    for (int i = 0; i < n; i++) {
        double q = d > 0 ? fabs(x[i]) > d / 2 ? (x[i] < 0 ? -1 : 1) : 0 : 0;
        e += (w ? w[i] : 1.0) * (x[i] - q * d) * (x[i] - q * d);
    }
    return e;
}

/* ggml's rule, written from the format's description */
static double ggml_rule_error(const float *x, const float *w, int n)
{
    double e = 0;
    for (int b = 0; b < n / 256; b++) {
        const float *xb = x + 256 * b;
        float amax = 0;
        for (int i = 0; i < 256; i++)
            amax = fmaxf(amax, fabsf(xb[i]));
        const float d = mvq_fp16_to_fp32(mvq_fp32_to_fp16(amax));
        for (int i = 0; i < 256; i++) {
            const float q = amax ? (float)lroundf(xb[i] / amax) : 0;
            const double diff = (double)xb[i] - q * d;
            e += (w ? w[256 * b + i] : 1.0) * diff * diff;
        }
    }
    return e;
}

Test(tq2_0, layout_of_a_hand_packed_block)
{
    mvq_block_tq2_0 b;
    /* byte c, bits 2l: weight 128 (c/32) + 32 l + c%32; code = level + 1 */
    for (int c = 0; c < 64; c++)
        b.qs[c] = (uint8_t)((0u << 0) | (1u << 2) | (2u << 4) | ((unsigned)(c & 1) * 2u << 6));
    b.d = mvq_fp32_to_fp16(0.5f);
    float y[256];
    ref()->to_float[MVQ_TYPE_TQ2_0](&b, y, 256);
    for (int h = 0; h < 2; h++)
        for (int m = 0; m < 32; m++) {
            cr_expect_eq(y[128 * h + m], -0.5f);
            cr_expect_eq(y[128 * h + 32 + m], 0.0f);
            cr_expect_eq(y[128 * h + 64 + m], 0.5f);
            cr_expect_eq(y[128 * h + 96 + m], (m & 1) ? 0.5f : -0.5f, "weight %d", 128 * h + 96 + m);
        }
}

Test(tq2_0, dot_is_the_exact_sum_times_the_scales)
{
    float x[N], a[N], w[N];
    rng = 3;
    for (int i = 0; i < N; i++)
        x[i] = (float)gauss(), a[i] = (float)gauss();
    mvq_block_tq2_0 q[N / 256];
    mvq_block_q8_K y[N / 256];
    ref()->from_float[MVQ_TYPE_TQ2_0](x, q, N, NULL);
    ref()->from_float[MVQ_TYPE_Q8_K](a, y, N, NULL);
    ref()->to_float[MVQ_TYPE_TQ2_0](q, w, N);
    double want = 0;
    for (int b = 0; b < N / 256; b++) {
        long isum = 0;
        const float d = mvq_fp16_to_fp32(q[b].d);
        for (int i = 0; i < 256; i++)
            isum += (long)lroundf(d ? w[256 * b + i] / d : 0) * y[b].qs[i];
        want += (double)isum * y[b].d * d;
    }
    float got;
    ref()->vec_dot[MVQ_TYPE_TQ2_0](N, &got, q, y);
    cr_expect(fabs(got - want) <= 1e-5 * (fabs(want) + 1), "dot %.9g, exact %.9g", got, want);
}

Test(tq2_0, error_below_ggml_rule_and_at_the_best_scale)
{
    float x[N], y[N], imp[N];
    rng = 11;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            x[i] = (float)(gauss() * (i % 97 == 3 ? 6 : 1));
            imp[i] = (float)(0.1 + fabs(gauss()));
        }
        const float *w = round ? imp : NULL;
        mvq_block_tq2_0 q[N / 256];
        ref()->from_float[MVQ_TYPE_TQ2_0](x, q, N, w);
        ref()->to_float[MVQ_TYPE_TQ2_0](q, y, N);
        const double ours = sq_error(x, y, w, N), ggml = ggml_rule_error(x, w, N);
        cr_log_info("%s: error %.4f, ggml's rule %.4f", w ? "importance" : "plain", ours, ggml);
        cr_expect(ours < 0.8 * ggml, "%s: error %.4f, ggml's rule %.4f", w ? "importance" : "plain", ours, ggml);
        /* no scale on a fine scan does better (but for d's rounding) */
        for (int b = 0; b < N / 256; b++) {
            const float *xb = x + 256 * b, *wb = w ? w + 256 * b : NULL;
            const double got = sq_error(xb, y + 256 * b, wb, 256);
            double best = INFINITY;
            for (int s = 1; s <= 4000; s++)
                best = fmin(best, error_at(xb, wb, 256, s * 0.001));
            cr_expect(got <= best * 1.002, "block %d: error %.6f, best scanned %.6f", b, got, best);
        }
    }
}

/* three symmetric levels on a Gaussian: Lloyd-Max's 0.436 relative RMS */
Test(tq2_0, gaussian_error_near_the_three_level_optimum)
{
    float x[N], y[N];
    rng = 5;
    for (int i = 0; i < N; i++)
        x[i] = (float)gauss();
    mvq_block_tq2_0 q[N / 256];
    ref()->from_float[MVQ_TYPE_TQ2_0](x, q, N, NULL);
    ref()->to_float[MVQ_TYPE_TQ2_0](q, y, N);
    double rms = 0;
    for (int i = 0; i < N; i++)
        rms += (double)x[i] * x[i];
    const double rel = sqrt(sq_error(x, y, NULL, N) / rms);
    cr_expect(rel > 0.38 && rel < 0.46, "relative RMS error %.4f", rel);
}

Test(tq2_0, edge_rows)
{
    float x[256], y[256];
    mvq_block_tq2_0 q;
    memset(x, 0, sizeof x);
    ref()->from_float[MVQ_TYPE_TQ2_0](x, &q, 256, NULL);
    ref()->to_float[MVQ_TYPE_TQ2_0](&q, y, 256);
    for (int i = 0; i < 256; i++)
        cr_expect_eq(y[i], 0.0f);
    for (int i = 0; i < 256; i++)
        x[i] = i % 2 ? -0.375f : 0.375f; /* +-c is kept exactly */
    ref()->from_float[MVQ_TYPE_TQ2_0](x, &q, 256, NULL);
    ref()->to_float[MVQ_TYPE_TQ2_0](&q, y, 256);
    for (int i = 0; i < 256; i++)
        cr_expect_eq(y[i], x[i], "value %d: %g", i, y[i]);
    for (int i = 0; i < 256; i++)
        x[i] = (float)gauss();
    x[77] = 1e30f; /* beyond fp16: the scale saturates, the rest stays finite */
    x[5] = NAN;
    ref()->from_float[MVQ_TYPE_TQ2_0](x, &q, 256, NULL);
    ref()->to_float[MVQ_TYPE_TQ2_0](&q, y, 256);
    for (int i = 0; i < 256; i++)
        cr_expect(isfinite(y[i]), "value %d: %g", i, y[i]);
    cr_expect_eq(y[77], 65504.0f);
}
