/* GPTQ's solver on one matrix (quant/methods/gptq_solve.c): with a known
 * H its output error tr(dW H dW^T) is below RTN's on the same grids, and
 * with H = identity it writes RTN's bytes, for every block type. */
#include <criterion/criterion.h>
#include <mvquant.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/methods/gptq_internal.h"
#include "quant/methods/methods_internal.h"

static const mvq_type grid_types[] = {
    MVQ_TYPE_Q4_0, MVQ_TYPE_Q4_1, MVQ_TYPE_Q5_0, MVQ_TYPE_Q5_1, MVQ_TYPE_Q8_0, MVQ_TYPE_IQ4_NL,
    MVQ_TYPE_Q2_K, MVQ_TYPE_Q3_K, MVQ_TYPE_Q4_K, MVQ_TYPE_Q5_K, MVQ_TYPE_Q6_K, MVQ_TYPE_IQ4_XS, MVQ_TYPE_TQ2_0,
};
#define N_TYPES (sizeof grid_types / sizeof grid_types[0])

static uint64_t rng_state;
static double uniform(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}
static double gauss(void)
{
    double u = uniform() + 1e-12, v = uniform();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

typedef struct rtn_fit {
    mvq_rtn_row k;
    const float *importance;
} rtn_fit;

static void fit_rtn(void *user, int64_t row, const float *x, void *dst)
{
    (void)row;
    const rtn_fit *f = user;
    float *scratch = malloc(sizeof *scratch * (size_t)(2 * f->k.n));
    void *cand = malloc(f->k.row_bytes);
    mvq_rtn_quantize_row(&f->k, x, dst, f->importance, false, scratch, cand);
    free(scratch);
    free(cand);
}

/* RTN's bytes of w (rows of n) with importance imp. */
static void *rtn_rows(mvq_type t, const float *w, int64_t n_out, int64_t n, const float *imp)
{
    rtn_fit f = {.importance = imp};
    cr_assert(mvq_rtn_row_init(&f.k, t, n));
    char *out = malloc(f.k.row_bytes * (size_t)n_out);
    for (int64_t r = 0; r < n_out; r++)
        fit_rtn(&f, r, w + r * n, out + (size_t)r * f.k.row_bytes);
    return out;
}

static double output_error(mvq_type t, const float *w, const void *q, int64_t n_out, int64_t n, const double *h)
{
    const size_t row = mvq_row_size(t, n);
    float *deq = malloc(sizeof *deq * (size_t)(n_out * n));
    for (int64_t r = 0; r < n_out; r++)
        mvq_dequantize_row(t, (const char *)q + (size_t)r * row, deq + r * n, n);
    double e;
    mvq_error err;
    cr_assert_eq(gptq_output_error(w, deq, n_out, n, h, NULL, &e, &err), MVQ_OK, "%s", err.msg);
    free(deq);
    return e;
}

static void *gptq_rows_cached(mvq_type t, const float *w, int64_t n_out, int64_t n, const double *h,
                              gptq_params prm, gptq_factor_cache *cache, int64_t layer, gptq_problem *out);

static void *gptq_rows(mvq_type t, const float *w, int64_t n_out, int64_t n, const double *h, gptq_params prm,
                       gptq_problem *out)
{
    return gptq_rows_cached(t, w, n_out, n, h, prm, NULL, 0, out);
}

static void *gptq_rows_cached(mvq_type t, const float *w, int64_t n_out, int64_t n, const double *h,
                              gptq_params prm, gptq_factor_cache *cache, int64_t layer, gptq_problem *out)
{
    gptq_grid g;
    cr_assert(gptq_grid_init(&g, t), "%s has a grid", mvq_type_name(t));
    float *imp = malloc(sizeof *imp * (size_t)n);
    for (int64_t j = 0; j < n; j++)
        imp[j] = (float)(h[j * n + j] / 2);
    rtn_fit f = {.importance = imp};
    cr_assert(mvq_rtn_row_init(&f.k, t, n));
    void *dst = malloc(f.k.row_bytes * (size_t)n_out);
    gptq_problem p = {.grid = &g, .n_in = n, .n_out = n_out, .w = w, .hessian = h, .params = prm,
                      .fit = fit_rtn, .fit_user = &f, .dst = dst, .cache = cache, .cache_input = 0,
                      .cache_layer = layer};
    mvq_error err;
    mvq_pool *pool = mvq_pool_create(2);
    cr_assert_eq(gptq_solve(&p, pool, &err), MVQ_OK, "%s", err.msg);
    mvq_pool_free(pool);
    free(imp);
    *out = p;
    return dst;
}

Test(gptq, identity_hessian_gives_rtn_bytes)
{
    const int64_t n_out = 16, n = 512;
    float *w = malloc(sizeof *w * (size_t)(n_out * n));
    double *h = calloc((size_t)(n * n), sizeof *h);
    float *imp = malloc(sizeof *imp * (size_t)n);
    rng_state = 7;
    for (int64_t i = 0; i < n_out * n; i++)
        w[i] = (float)(gauss() * (1 + (i % 37 == 0) * 4)); /* a few outliers */
    for (int64_t j = 0; j < n; j++)
        h[j * n + j] = 1, imp[j] = 0.5f;
    for (size_t ti = 0; ti < N_TYPES; ti++) {
        const mvq_type t = grid_types[ti];
        for (int act = 0; act < 2; act++) {
            gptq_problem p;
            void *g = gptq_rows(t, w, n_out, n, h, (gptq_params){0.01, 128, act != 0, false, 0}, &p);
            void *r = rtn_rows(t, w, n_out, n, imp);
            cr_expect_eq(memcmp(g, r, mvq_row_size(t, n) * (size_t)n_out), 0, "%s, act-order %d: RTN's bytes",
                         mvq_type_name(t), act);
            free(g);
            free(r);
        }
    }
    free(w);
    free(h);
    free(imp);
}

/* H = 2/n_tok sum x x^T of correlated inputs with uneven scales (x_t = A
 * z_t) and a few dead columns; n x n, malloc'd. */
static double *correlated_hessian(int64_t n, int64_t n_tok)
{
    double *h = calloc((size_t)(n * n), sizeof *h);
    double *x = malloc(sizeof *x * (size_t)(n_tok * n));
    for (int64_t t = 0; t < n_tok; t++) {
        double prev = 0;
        for (int64_t j = 0; j < n; j++) {
            prev = 0.8 * prev + gauss();
            x[t * n + j] = j % 61 == 5 ? 0 : prev * (1 + (j % 7));
        }
    }
    for (int64_t a = 0; a < n; a++)
        for (int64_t b = 0; b < n; b++) {
            double s = 0;
            for (int64_t t = 0; t < n_tok; t++)
                s += x[t * n + a] * x[t * n + b];
            h[a * n + b] = 2 * s / n_tok;
        }
    free(x);
    return h;
}

Test(gptq, output_error_below_rtn_with_a_known_hessian)
{
    const int64_t n_out = 32, n = 256, n_tok = 1024;
    float *w = malloc(sizeof *w * (size_t)(n_out * n));
    float *imp = malloc(sizeof *imp * (size_t)n);
    rng_state = 11;
    for (int64_t i = 0; i < n_out * n; i++)
        w[i] = (float)gauss();
    double *h = correlated_hessian(n, n_tok);
    for (int64_t j = 0; j < n; j++)
        imp[j] = (float)(h[j * n + j] / 2);
    for (size_t ti = 0; ti < N_TYPES; ti++) {
        const mvq_type t = grid_types[ti];
        void *r = rtn_rows(t, w, n_out, n, imp);
        const double e_rtn = output_error(t, w, r, n_out, n, h);
        for (int act = 0; act < 2; act++) {
            gptq_problem p;
            void *g = gptq_rows(t, w, n_out, n, h, (gptq_params){0.01, 64, act != 0, true, 0}, &p);
            const double e = output_error(t, w, g, n_out, n, h);
            if (getenv("GPTQ_TEST_PRINT"))
                fprintf(stderr, "%-7s act %d: rtn %.4g gptq %.4g refit %.4g kept %d\n", mvq_type_name(t), act, e_rtn, p.err[0], p.err[1], p.kept);
            cr_expect_lt(p.err[0], e_rtn, "%s act-order %d: GPTQ %g below RTN %g", mvq_type_name(t), act, p.err[0],
                         e_rtn);
            cr_expect_geq(p.err[1], 0, "%s: the refit pass ran", mvq_type_name(t));
            cr_expect_float_eq(e, p.err[p.kept], 1e-3 * e, "%s: the pass kept is the one written (%g, %g)",
                               mvq_type_name(t), e, p.err[p.kept]);
            cr_expect_leq(e, p.err[0], "%s: never worse than the first pass", mvq_type_name(t));
            free(g);
        }
        free(r);
    }
    free(w);
    free(h);
    free(imp);
}

/* A tall matrix is solved a slab of rows at a time (its rows are
 * independent given U): slabs of 5 rows, with a tail of 2, give the bytes
 * and the errors of one slab of all rows. */
Test(gptq, slabs_of_rows_give_the_same_result)
{
    const int64_t n_out = 37, n = 256;
    float *w = malloc(sizeof *w * (size_t)(n_out * n));
    rng_state = 13;
    for (int64_t i = 0; i < n_out * n; i++)
        w[i] = (float)gauss();
    double *h = correlated_hessian(n, 512);
    const mvq_type types[] = {MVQ_TYPE_Q4_0, MVQ_TYPE_Q4_K, MVQ_TYPE_Q6_K};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const mvq_type t = types[ti];
        gptq_problem whole, slabs;
        void *a = gptq_rows(t, w, n_out, n, h, (gptq_params){0.01, 64, true, true, 0}, &whole);
        void *b = gptq_rows(t, w, n_out, n, h, (gptq_params){0.01, 64, true, true, 5}, &slabs);
        cr_expect_eq(memcmp(a, b, mvq_row_size(t, n) * (size_t)n_out), 0, "%s: the same bytes in slabs",
                     mvq_type_name(t));
        cr_expect_eq(whole.kept, slabs.kept, "%s: the same pass kept", mvq_type_name(t));
        for (int k = 0; k < 2; k++)
            cr_expect_float_eq(whole.err[k], slabs.err[k], 1e-6 * whole.err[k], "%s pass %d: error %g vs %g",
                               mvq_type_name(t), k, whole.err[k], slabs.err[k]);
        free(a);
        free(b);
    }
    free(w);
    free(h);
}

/* attn_k after attn_q: the factor kept from the first matrix gives the
 * bytes of a fresh one; a new key (the next layer's Hessian, at the same
 * address) is a miss and gives that Hessian's bytes, not the old factor's. */
Test(gptq, cached_factor_gives_the_same_bytes)
{
    const int64_t n_out = 19, n = 256;
    float *w = malloc(sizeof *w * (size_t)(2 * n_out * n));
    rng_state = 29;
    for (int64_t i = 0; i < 2 * n_out * n; i++)
        w[i] = (float)gauss();
    double *h = correlated_hessian(n, 512);
    const gptq_params prm = {0.01, 64, true, true, 0};
    const mvq_type t = MVQ_TYPE_Q4_K;
    const size_t bytes = mvq_row_size(t, n) * (size_t)n_out;
    gptq_factor_cache cache = {0};
    gptq_problem p;
    void *first = gptq_rows_cached(t, w, n_out, n, h, prm, &cache, 3, &p);
    void *second = gptq_rows_cached(t, w + n_out * n, n_out, n, h, prm, &cache, 3, &p);
    void *fresh = gptq_rows(t, w + n_out * n, n_out, n, h, prm, &p);
    cr_expect_eq(cache.hits, 1, "the second matrix reused the factor (%d hits)", cache.hits);
    cr_expect_eq(memcmp(second, fresh, bytes), 0, "the cached factor gives a fresh factor's bytes");
    free(first), free(second), free(fresh);
    double *h2 = correlated_hessian(n, 64);
    memcpy(h, h2, sizeof *h * (size_t)(n * n)); /* the next layer's, where the last one was */
    void *next = gptq_rows_cached(t, w, n_out, n, h, prm, &cache, 4, &p);
    fresh = gptq_rows(t, w, n_out, n, h, prm, &p);
    cr_expect_eq(cache.hits, 1, "a new layer is not a hit");
    cr_expect_eq(memcmp(next, fresh, bytes), 0, "a new key is factored afresh");
    gptq_factor_cache_clear(&cache);
    free(next), free(fresh), free(w), free(h), free(h2);
}

/* The blocked factor against the left-looking reference, over sizes that
 * leave every tail of the panels and tiles; U^T U H = I; and the same
 * bytes on 1 and 2 threads. */
Test(gptq, blocked_factor_matches_the_reference)
{
    static const int64_t sizes[] = { 1, 7, 63, 64, 65, 130, 200, 333 };
    mvq_pool *pool = mvq_pool_create(2);
    rng_state = 17;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const int64_t n = sizes[si];
        double *h = correlated_hessian(n, n + 16);
        for (int64_t j = 0; j < n; j++)
            h[j * n + j] += 0.01 + (h[j * n + j] == 0); /* damped; dead columns as the solver's */
        const size_t bytes = sizeof(double) * (size_t)(n * n);
        double *work = malloc(bytes), *u_ref = malloc(bytes), *u1 = malloc(bytes), *u2 = malloc(bytes);
        memcpy(work, h, bytes);
        cr_assert(gptq_inverse_factor_ref(work, n, u_ref, NULL));
        memcpy(work, h, bytes);
        cr_assert(gptq_inverse_factor(work, n, u1, NULL));
        memcpy(work, h, bytes);
        cr_assert(gptq_inverse_factor(work, n, u2, pool));
        cr_expect_eq(memcmp(u1, u2, bytes), 0, "n %lld: 1 and 2 threads differ", (long long)n);
        double big = 0, diff = 0, off = 0;
        for (int64_t i = 0; i < n * n; i++) {
            big = fmax(big, fabs(u_ref[i]));
            diff = fmax(diff, fabs(u1[i] - u_ref[i]));
        }
        double *utu = calloc((size_t)(n * n), sizeof *utu); /* U^T U, then (U^T U H)_ij */
        for (int64_t l = 0; l < n; l++)
            for (int64_t i = l; i < n; i++)
                for (int64_t k = l; k < n; k++)
                    utu[i * n + k] += u1[l * n + i] * u1[l * n + k];
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t k = 0; k < n; k++)
                    s += utu[i * n + k] * h[k * n + j];
                off = fmax(off, fabs(s - (i == j)));
            }
        free(utu);
        cr_expect(diff <= 1e-10 * big, "n %lld: blocked differs from the reference by %.3g (max %.3g)", (long long)n,
                  diff, big);
        cr_expect(off < 1e-6, "n %lld: U^T U H is off the identity by %.3g", (long long)n, off);
        free(h), free(work), free(u_ref), free(u1), free(u2);
    }
    mvq_pool_free(pool);
}
