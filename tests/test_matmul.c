/* Thread pool and matrix product (Criterion).
 *
 * mvq_matmul is checked two ways for every type that has a dot product:
 * - against a double-precision dequantize-then-multiply, within the error
 *   the on-the-fly activation quantization may add (bound below);
 * - bit for bit against a plain loop of the same table's vec_dot over the
 *   same quantized activations, for 1..4 threads: splitting and tiling must
 *   not change a single result;
 * - through oneDNN, bit for bit against the same product at one thread: the
 *   result does not depend on the thread count. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mvquant/kernels.h>

#include "kernels/matmul.h"

/* ---- pool ---- */

typedef struct {
    atomic_int calls[16];
    atomic_int bad_nth;
} pool_probe;

static void count_call(void *arg, int ith, int nth)
{
    pool_probe *p = arg;
    atomic_fetch_add(&p->calls[ith], 1);
    if (nth < 1 || ith >= nth)
        atomic_fetch_add(&p->bad_nth, 1);
}

Test(pool, every_share_runs_exactly_once_per_job)
{
    for (int n = 1; n <= 6; n++) {
        mvq_pool *pool = mvq_pool_create(n);
        cr_assert_not_null(pool);
        cr_assert_eq(mvq_pool_size(pool), n);
        pool_probe probe;
        memset(&probe, 0, sizeof probe);
        /* fewer jobs when the pool outnumbers the cores: then every job
         * waits for the scheduler */
        const int jobs = n <= 2 ? 20000 : 2000;
        for (int j = 0; j < jobs; j++)
            mvq_pool_run(pool, count_call, &probe);
        for (int i = 0; i < n; i++)
            cr_assert_eq(atomic_load(&probe.calls[i]), jobs, "pool of %d: share %d ran %d times",
                         n, i, atomic_load(&probe.calls[i]));
        cr_assert_eq(atomic_load(&probe.calls[n]), 0);
        cr_assert_eq(atomic_load(&probe.bad_nth), 0);
        mvq_pool_free(pool);
    }
}

Test(pool, wakes_workers_that_went_to_sleep)
{
    mvq_pool *pool = mvq_pool_create(3);
    pool_probe probe;
    memset(&probe, 0, sizeof probe);
    struct timespec pause = { 0, 2 * 1000 * 1000 }; /* 2 ms: longer than the spin */
    for (int j = 0; j < 20; j++) {
        nanosleep(&pause, NULL);
        mvq_pool_run(pool, count_call, &probe);
    }
    for (int i = 0; i < 3; i++)
        cr_assert_eq(atomic_load(&probe.calls[i]), 20);
    mvq_pool_free(pool);
}

Test(pool, default_size_is_the_number_of_cores_and_null_is_one)
{
    mvq_pool *pool = mvq_pool_create(0);
    cr_assert_geq(mvq_pool_size(pool), 1);
    mvq_pool_free(pool);
    cr_assert_eq(mvq_pool_size(NULL), 1);
    pool_probe probe;
    memset(&probe, 0, sizeof probe);
    mvq_pool_run(NULL, count_call, &probe);
    cr_assert_eq(atomic_load(&probe.calls[0]), 1);
    mvq_pool_free(NULL);
}

/* ---- matmul ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float frand(void) /* roughly uniform in [-1, 1) */
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) / (double)(1u << 23)) - 1.0f;
}

static void fill(float *v, int64_t n, float scale)
{
    for (int64_t i = 0; i < n; i++)
        v[i] = scale * frand();
}

/* Weights of type t for the test: random f32 quantized by the reference,
 * and their dequantized values (the matrix the product must multiply). */
static void *make_weights(const mvq_kernel_table *ref, mvq_type t, int64_t n_out, int64_t n_in,
                          float *deq)
{
    size_t row = mvq_row_size(t, n_in);
    char *w = malloc(row * (size_t)n_out);
    float *src = malloc(sizeof(float) * (size_t)(n_out * n_in));
    fill(src, n_out * n_in, 0.5f);
    for (int64_t o = 0; o < n_out; o++) {
        ref->from_float[t](src + o * n_in, w + (size_t)o * row, n_in, NULL);
        ref->to_float[t](w + (size_t)o * row, deq + o * n_in, n_in);
    }
    free(src);
    return w;
}

/* Largest error the product may have at one output: each activation block
 * quantized to 8 bits moves a value by at most about half a step of
 * amax/127 (plus the step's own f16 rounding), so the dot moves by at most
 * that times the block's sum of |w|; float accumulation adds a little. */
static double error_bound(mvq_type act_type, int64_t act_block, const float *w, const float *x,
                          int64_t n_in)
{
    double abs_dot = 0, quant = 0;
    for (int64_t i = 0; i < n_in; i++)
        abs_dot += fabs((double)w[i] * x[i]);
    if (act_type != MVQ_TYPE_F32) {
        for (int64_t b = 0; b < n_in; b += act_block) {
            double amax = 0, wsum = 0;
            for (int64_t i = b; i < b + act_block; i++) {
                amax = fmax(amax, fabs(x[i]));
                wsum += fabs(w[i]);
            }
            quant += 0.75 * amax / 127.0 * wsum;
        }
    }
    return quant + 2e-5 * abs_dot + 1e-6;
}

typedef struct { int64_t n_out, n_in, n_tok; } shape;

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/* One type, one shape, threads 1..4: reference bound and bit-exactness. */
static void check_type_shape(const mvq_kernel_table *kt, mvq_type t, shape s, mvq_matmul_path path)
{
    const mvq_kernel_table *ref = mvq_kernels_for_isa(MVQ_ISA_SCALAR);
    const mvq_type_traits *tr = mvq_type_traits_get(t);
    const mvq_type_traits *atr = mvq_type_traits_get(tr->vec_dot_type);
    int64_t n_in = round_up(s.n_in, atr->block_size > tr->block_size ? atr->block_size
                                                                      : tr->block_size);
    float *deq = malloc(sizeof(float) * (size_t)(s.n_out * n_in));
    float *x = malloc(sizeof(float) * (size_t)(s.n_tok * n_in));
    float *y = malloc(sizeof(float) * (size_t)(s.n_tok * s.n_out));
    float *y_loop = malloc(sizeof(float) * (size_t)(s.n_tok * s.n_out));
    float *y_one = malloc(sizeof(float) * (size_t)(s.n_tok * s.n_out)); /* at one thread */
    void *w = make_weights(ref, t, s.n_out, n_in, deq);
    fill(x, s.n_tok * n_in, 3.0f);

    /* the plain loop: quantize each token row, one vec_dot per output */
    size_t arow = mvq_row_size(tr->vec_dot_type, n_in);
    char *xq = malloc(arow);
    for (int64_t tk = 0; tk < s.n_tok; tk++) {
        const void *a = x + tk * n_in;
        if (tr->vec_dot_type != MVQ_TYPE_F32) {
            kt->from_float[tr->vec_dot_type](x + tk * n_in, xq, n_in, NULL);
            a = xq;
        }
        for (int64_t o = 0; o < s.n_out; o++)
            kt->vec_dot[t](n_in, &y_loop[tk * s.n_out + o],
                           (const char *)w + (size_t)o * mvq_row_size(t, n_in), a);
    }

    for (int nth = 1; nth <= 4; nth++) {
        mvq_pool *pool = mvq_pool_create(nth);
        mvq_error err;
        memset(y, 0xff, sizeof(float) * (size_t)(s.n_tok * s.n_out));
        mvq_status st = mvq_matmul_table(kt, path, pool, t, w, s.n_out, n_in, x, s.n_tok, y, &err);
        cr_assert_eq(st, MVQ_OK, "%s: %s", tr->name, err.msg);
        for (int64_t tk = 0; tk < s.n_tok; tk++)
            for (int64_t o = 0; o < s.n_out; o++) {
                const float *wr = deq + o * n_in, *xr = x + tk * n_in;
                double exact = 0;
                for (int64_t i = 0; i < n_in; i++)
                    exact += (double)wr[i] * xr[i];
                /* oneDNN multiplies the f32 activations themselves */
                mvq_type act = path == MVQ_PATH_ONEDNN ? MVQ_TYPE_F32 : tr->vec_dot_type;
                double bound = error_bound(act, atr->block_size, wr, xr, n_in);
                float got = y[tk * s.n_out + o];
                cr_assert(fabs(got - exact) <= bound,
                          "%s %s %lldx%lldx%lld threads %d: y[%lld][%lld] = %.8g, exact %.8g, "
                          "bound %.3g", kt->isa, tr->name, (long long)s.n_out, (long long)n_in,
                          (long long)s.n_tok, nth, (long long)tk, (long long)o, got, exact, bound);
                if (path == MVQ_PATH_DOT)
                    cr_assert(memcmp(&got, &y_loop[tk * s.n_out + o], sizeof got) == 0,
                              "%s %s threads %d: y[%lld][%lld] = %.9g, the plain loop gives %.9g",
                              kt->isa, tr->name, nth, (long long)tk, (long long)o, got,
                              y_loop[tk * s.n_out + o]);
                else if (nth > 1)
                    cr_assert(memcmp(&got, &y_one[tk * s.n_out + o], sizeof got) == 0,
                              "oneDNN %s threads %d: y[%lld][%lld] = %.9g, one thread gives %.9g",
                              tr->name, nth, (long long)tk, (long long)o, got,
                              y_one[tk * s.n_out + o]);
            }
        if (nth == 1)
            memcpy(y_one, y, sizeof(float) * (size_t)(s.n_tok * s.n_out));
        mvq_pool_free(pool);
    }
    free(xq);
    free(w);
    free(deq);
    free(x);
    free(y);
    free(y_loop);
    free(y_one);
}

/* odd output counts, GEMV and batches of 3 and 17 tokens; the last shapes
 * are large enough for every thread to get work */
static const shape shapes[] = {
    { 1, 32, 1 }, { 37, 64, 1 }, { 37, 256, 3 }, { 53, 512, 17 }, { 301, 512, 1 }, { 130, 768, 17 },
};

static bool has_matmul(const mvq_kernel_table *kt, mvq_type t)
{
    const mvq_type_traits *tr = mvq_type_traits_get(t);
    return tr && kt->vec_dot[t] && kt->to_float[t] && kt->from_float[t] &&
           (tr->vec_dot_type == MVQ_TYPE_F32 || kt->from_float[tr->vec_dot_type]);
}

static int check_table(const mvq_kernel_table *kt, mvq_matmul_path path)
{
    const mvq_kernel_table *ref = mvq_kernels_for_isa(MVQ_ISA_SCALAR);
    int types = 0;
    for (int t = 0; t < MVQ_TYPE_COUNT; t++) {
        if (!has_matmul(kt, (mvq_type)t) || !has_matmul(ref, (mvq_type)t))
            continue;
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
            check_type_shape(kt, (mvq_type)t, shapes[i], path);
        types++;
    }
    return types;
}

Test(matmul, every_type_of_the_reference_table)
{
    int types = check_table(mvq_kernels_for_isa(MVQ_ISA_SCALAR), MVQ_PATH_DOT);
    if (types == 0)
        cr_skip_test("no type has reference kernels yet");
    cr_log_info("%d types checked", types);
}

Test(matmul, every_type_of_every_supported_isa)
{
    int tables = 0;
    for (int isa = 1; isa < MVQ_ISA_COUNT; isa++) {
        const mvq_kernel_table *kt = mvq_kernels_for_isa((mvq_isa)isa);
        if (kt && check_table(kt, MVQ_PATH_DOT) > 0)
            tables++;
    }
    if (tables == 0)
        cr_skip_test("this CPU runs no SIMD kernel set with matmul kernels");
}

Test(matmul, every_type_through_onednn)
{
    if (!mvq_onednn_available())
        cr_skip_test("built without oneDNN");
    check_table(mvq_kernels_for_isa(MVQ_ISA_SCALAR), MVQ_PATH_ONEDNN);
}

Test(matmul, auto_path_uses_onednn_for_f32_and_batches)
{
    const mvq_kernel_table *kt = mvq_kernels_for_isa(MVQ_ISA_SCALAR);
    mvq_matmul_path f32 = mvq_matmul_choose(kt, MVQ_TYPE_F32, 1);
    mvq_matmul_path q_gemv = mvq_matmul_choose(kt, MVQ_TYPE_Q4_0, 1);
    mvq_matmul_path q_gemm = mvq_matmul_choose(kt, MVQ_TYPE_Q4_0, MVQ_DEQUANT_GEMM_MIN_TOKENS);
    cr_assert_eq(q_gemv, MVQ_PATH_DOT);
    cr_assert_eq(mvq_matmul_choose(kt, MVQ_TYPE_Q4_0, MVQ_DEQUANT_GEMM_MIN_TOKENS - 1), MVQ_PATH_DOT);
    cr_assert_eq(mvq_matmul_choose(kt, MVQ_TYPE_F16, 1), MVQ_PATH_DOT);
    if (mvq_onednn_available()) {
        cr_assert_eq(f32, MVQ_PATH_ONEDNN);
        cr_assert_eq(q_gemm, kt->to_float[MVQ_TYPE_Q4_0] ? MVQ_PATH_ONEDNN : MVQ_PATH_DOT);
    } else {
        cr_assert_eq(f32, MVQ_PATH_DOT);
        cr_assert_eq(q_gemm, MVQ_PATH_DOT);
    }
}

Test(matmul, rejects_rows_that_are_not_whole_blocks)
{
    float x[40] = { 0 }, y[1];
    char w[64] = { 0 };
    mvq_error err;
    mvq_status st = mvq_matmul(NULL, MVQ_TYPE_Q4_0, w, 1, 40, x, 1, y, &err);
    /* either the shape is refused or, before the kernels exist, the type */
    cr_assert(st == MVQ_ERR_ARG || st == MVQ_ERR_UNSUPPORTED);
    if (st == MVQ_ERR_ARG)
        cr_assert_str_eq(err.msg, "mvq_matmul: row length 40 is not a multiple of q4_0's block size 32");
}

Test(matmul, rejects_types_without_a_dot_product)
{
    float x[256] = { 0 }, y[1];
    char w[256] = { 0 };
    mvq_error err;
    cr_assert_eq(mvq_matmul(NULL, MVQ_TYPE_IQ2_XXS, w, 1, 256, x, 1, y, &err), MVQ_ERR_UNSUPPORTED);
    cr_assert(strstr(err.msg, "iq2_xxs") != NULL, "%s", err.msg);
    cr_assert_eq(mvq_matmul(NULL, (mvq_type)4, w, 1, 256, x, 1, y, &err), MVQ_ERR_ARG);
    cr_assert_eq(mvq_matmul(NULL, MVQ_TYPE_F32, w, 1, 0, x, 1, y, &err), MVQ_ERR_ARG);
}

Test(matmul, empty_products_do_nothing)
{
    mvq_error err;
    float y = 42.0f;
    cr_assert_eq(mvq_matmul(NULL, MVQ_TYPE_F32, NULL, 0, 32, NULL, 0, &y, &err), MVQ_OK);
    cr_assert_eq(y, 42.0f);
}
