/* The reference kernels of the 256-weight super-block types (the K-quants
 * Q2_K..Q6_K, and IQ4_XS) against ggml's goldens, and
 * round-trip properties of the quantizers (Criterion). */
#include <criterion/criterion.h>
#include <mvquant.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/golden.h"

static const struct {
    mvq_type type;
    const char *name;
    double max_rel_rms; /* bound on RMS error / RMS of a Gaussian row */
} kq_types[] = {
    {MVQ_TYPE_Q2_K, "q2_K", 0.45}, {MVQ_TYPE_Q3_K, "q3_K", 0.25}, {MVQ_TYPE_Q4_K, "q4_K", 0.12},
    {MVQ_TYPE_Q5_K, "q5_K", 0.06}, {MVQ_TYPE_Q6_K, "q6_K", 0.03}, {MVQ_TYPE_IQ4_XS, "iq4_xs", 0.12},
};
#define N_KQ (sizeof kq_types / sizeof kq_types[0])

static const mvq_kernel_table *ref(void)
{
    const mvq_kernel_table *t = mvq_kernels_for_isa(MVQ_ISA_SCALAR);
    cr_assert_not_null(t);
    return t;
}

/* Loads golden TYPE[-imatrix].bin; false when absent (the caller skips). */
static bool load_golden(const char *name, bool imatrix, mvq_golden *g)
{
    char gname[64], buf[4096], err[256];
    snprintf(gname, sizeof gname, "%s%s", name, imatrix ? "-imatrix" : "");
    const char *path = mvq_golden_path(gname, buf, sizeof buf);
    if (!path)
        return false;
    cr_assert_eq(mvq_golden_load(path, g, err, sizeof err), 0, "%s", err);
    return true;
}

/* Weighted squared error of y against x over n values (w NULL: plain). */
static double sq_error(const float *x, const float *y, const float *w, int64_t n)
{
    return mvq_golden_sq_error(x, y, 1, (uint32_t)n, w);
}

/* Quantize then dequantize n values of type t with the reference table. */
static void round_trip(mvq_type t, const float *x, float *y, int64_t n, const float *imatrix)
{
    void *q = malloc(mvq_row_size(t, n));
    cr_assert_not_null(q);
    ref()->from_float[t](x, q, n, imatrix);
    ref()->to_float[t](q, y, n);
    free(q);
}

/* Runs check on each K-quant golden file (plain and -imatrix) that is
 * present; skips the test when none is. */
static void for_each_golden(void (*check)(size_t k, const char *label, const mvq_golden *g))
{
    int files = 0;
    for (size_t k = 0; k < N_KQ; ++k) {
        for (int im = 0; im < 2; ++im) {
            mvq_golden g;
            if (!load_golden(kq_types[k].name, im, &g))
                continue;
            ++files;
            char label[64];
            snprintf(label, sizeof label, "%s%s", kq_types[k].name, im ? "-imatrix" : "");
            cr_assert_eq(g.type, (uint32_t)kq_types[k].type, "%s", label);
            cr_assert_eq(g.row_bytes, mvq_row_size(kq_types[k].type, g.n_per_row), "%s", label);
            cr_assert_eq((g.importance != NULL), (im == 1), "%s", label);
            check(k, label, &g);
            mvq_golden_free(&g);
        }
    }
    if (!files)
        cr_skip_test("golden fixtures absent (MVQ_FIXTURES unset or no golden/ggml/*.bin)");
    cr_expect_eq(files, 2 * (int)N_KQ, "some K-quant golden files are missing");
}

static void check_dequantize(size_t k, const char *label, const mvq_golden *g)
{
    float *y = malloc(g->n_per_row * sizeof(float));
    for (uint32_t r = 0; r < g->nrows; ++r) {
        ref()->to_float[kq_types[k].type](g->quantized + (size_t)r * g->row_bytes, y, g->n_per_row);
        cr_expect_eq(memcmp(y, g->dequantized + (size_t)r * g->n_per_row, g->n_per_row * sizeof(float)), 0,
                     "%s row %u differs from ggml's floats", label, r);
    }
    free(y);
}

Test(kquants, dequantize_reproduces_ggml_bit_for_bit)
{
    for_each_golden(check_dequantize);
}

static void check_error(size_t k, const char *label, const mvq_golden *g)
{
    float *y = malloc(g->n_per_row * sizeof(float));
    double ours = 0;
    for (uint32_t r = 0; r < g->nrows; ++r) {
        const float *x = g->input + (size_t)r * g->n_per_row;
        round_trip(kq_types[k].type, x, y, g->n_per_row, g->importance);
        ours += sq_error(x, y, g->importance, g->n_per_row);
    }
    double ggml = mvq_golden_sq_error(g->input, g->dequantized, g->nrows, g->n_per_row, g->importance);
    cr_log_info("%s: error ours/ggml = %.4f", label, ours / ggml);
    cr_expect(ggml > 0);
    cr_expect(ours <= ggml, "%s: error %g worse than ggml's %g", label, ours, ggml);
    free(y);
}

Test(kquants, error_no_worse_than_ggml)
{
    for_each_golden(check_error);
}

/* Deterministic standard normal values (Box-Muller over an LCG). */
static float gauss(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    double u1 = ((*state >> 8) + 1.0) / 16777217.0;
    *state = *state * 1664525u + 1013904223u;
    double u2 = (*state >> 8) / 16777216.0;
    return (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
}

Test(kquants, zero_row_gives_zeros)
{
    enum { N = 2 * MVQ_QK_K };
    float x[N] = {0}, y[N];
    for (size_t k = 0; k < N_KQ; ++k) {
        for (int i = 0; i < N; ++i)
            y[i] = 1.f;
        round_trip(kq_types[k].type, x, y, N, NULL);
        for (int i = 0; i < N; ++i)
            cr_expect_eq(y[i], 0.f, "%s: value %d is %g", kq_types[k].name, i, y[i]);
    }
}

Test(kquants, constant_rows_are_kept)
{
    /* small constants need d below fp16's normal range: a few 1e-3 relative */
    static const float values[] = {0.5f, -3.f, 1e-3f, 100.f, -7.25f};
    float x[MVQ_QK_K], y[MVQ_QK_K];
    for (size_t k = 0; k < N_KQ; ++k) {
        for (size_t v = 0; v < sizeof values / sizeof values[0]; ++v) {
            for (int i = 0; i < MVQ_QK_K; ++i)
                x[i] = values[v];
            round_trip(kq_types[k].type, x, y, MVQ_QK_K, NULL);
            for (int i = 0; i < MVQ_QK_K; ++i)
                cr_expect(fabsf(y[i] - x[i]) <= 5e-3f * fabsf(x[i]), "%s: constant %g comes back as %g",
                          kq_types[k].name, x[i], y[i]);
        }
    }
}

Test(kquants, huge_outlier_is_kept_and_the_rest_stays_finite)
{
    enum { N = MVQ_QK_K };
    float x[N], y[N];
    for (size_t k = 0; k < N_KQ; ++k) {
        uint32_t s = 7;
        for (int i = 0; i < N; ++i)
            x[i] = gauss(&s);
        x[77] = 5000.f;
        round_trip(kq_types[k].type, x, y, N, NULL);
        cr_expect(fabsf(y[77] - x[77]) <= 0.02f * x[77], "%s: outlier 5000 comes back as %g",
                  kq_types[k].name, y[77]);
        for (int i = 0; i < N; ++i)
            cr_expect(isfinite(y[i]) && fabsf(y[i]) <= 5000.f * 1.1f, "%s: value %d is %g",
                      kq_types[k].name, i, y[i]);
    }
}

Test(kquants, one_and_many_superblocks_quantize_alike)
{
    enum { NB = 7, N = NB * MVQ_QK_K };
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
    uint32_t s = 12345;
    for (int i = 0; i < N; ++i)
        x[i] = gauss(&s) * (1.f + (float)(i / MVQ_QK_K));
    for (size_t k = 0; k < N_KQ; ++k) {
        mvq_type t = kq_types[k].type;
        size_t bs = mvq_row_size(t, MVQ_QK_K);
        unsigned char *all = malloc(mvq_row_size(t, N)), *one = malloc(bs);
        ref()->from_float[t](x, all, N, NULL);
        for (int b = 0; b < NB; ++b) {
            ref()->from_float[t](x + b * MVQ_QK_K, one, MVQ_QK_K, NULL);
            cr_expect_eq(memcmp(one, all + b * bs, bs), 0, "%s: super-block %d depends on its neighbours",
                         kq_types[k].name, b);
        }
        ref()->to_float[t](all, y, N);
        for (int b = 0; b < NB; ++b) {
            const float *xb = x + b * MVQ_QK_K;
            double rel = sqrt(sq_error(xb, y + b * MVQ_QK_K, NULL, MVQ_QK_K) /
                              sq_error(xb, (float[MVQ_QK_K]){0}, NULL, MVQ_QK_K));
            cr_expect(rel < kq_types[k].max_rel_rms, "%s: super-block %d relative RMS error %.4f",
                      kq_types[k].name, b, rel);
        }
        free(all);
        free(one);
    }
    free(x);
    free(y);
}

Test(kquants, importance_weights_steer_the_error)
{
    /* columns with weight 100 against weight 1: the weighted search must
     * beat the unweighted one on the weighted error */
    enum { N = 4 * MVQ_QK_K };
    float x[N], w[N], y_plain[N], y_imp[N];
    uint32_t s = 99;
    for (int i = 0; i < N; ++i) {
        x[i] = gauss(&s);
        w[i] = (i % 5 == 0) ? 100.f : (i % 7 == 0 ? 0.f : 1.f);
    }
    for (size_t k = 0; k < N_KQ; ++k) {
        round_trip(kq_types[k].type, x, y_plain, N, NULL);
        round_trip(kq_types[k].type, x, y_imp, N, w);
        double e_plain = sq_error(x, y_plain, w, N), e_imp = sq_error(x, y_imp, w, N);
        cr_expect(e_imp < e_plain, "%s: weighted error %g with importance, %g without", kq_types[k].name,
                  e_imp, e_plain);
    }
}

Test(kquants, finite_inputs_give_finite_outputs)
{
    static const float magnitudes[] = {1e-30f, 1e-8f, 1e-3f, 1.f, 1e3f, 6e4f};
    enum { N = MVQ_QK_K };
    float x[N], y[N], w[N];
    for (size_t k = 0; k < N_KQ; ++k) {
        for (size_t m = 0; m < sizeof magnitudes / sizeof magnitudes[0]; ++m) {
            uint32_t s = 3 + (uint32_t)m;
            for (int i = 0; i < N; ++i) {
                x[i] = gauss(&s) * magnitudes[m];
                w[i] = (i % 3) ? fabsf(gauss(&s)) : 0.f;
            }
            for (int im = 0; im < 2; ++im) {
                round_trip(kq_types[k].type, x, y, N, im ? w : NULL);
                for (int i = 0; i < N; ++i)
                    cr_expect(isfinite(y[i]), "%s: magnitude %g value %d is %g", kq_types[k].name,
                              magnitudes[m], i, y[i]);
            }
        }
    }
}
