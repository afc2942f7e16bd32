/* W8A8: weight packing, per-token activation quantization, and the
 * threaded GEMM/GEMV over the table's i8_dot. */
#include "config.h"
#include <mvquant/int8.h>

#include <math.h>
#include <stdlib.h>

static float quantize_row(const float *x, int64_t n, int8_t *q)
{
    float amax = 0.0f;
    for (int64_t i = 0; i < n; i++)
        amax = fmaxf(amax, fabsf(x[i]));
    const float d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
    for (int64_t i = 0; i < n; i++)
        q[i] = (int8_t)roundf(x[i] * id);
    return d;
}

mvq_status mvq_i8_weights_pack(const float *w, int64_t n_out, int64_t n_in, mvq_i8_weights *out, mvq_error *err)
{
    if (n_out < 1 || n_in < 1 || n_in > 65536)
        return mvq_error_set(err, MVQ_ERR_ARG, "int8 weights: %lld x %lld (rows of 1 to 65536)", (long long)n_out,
                             (long long)n_in);
    out->n_out = n_out;
    out->n_in = n_in;
    out->q = malloc((size_t)(n_out * n_in));
    out->scale = malloc((size_t)n_out * sizeof *out->scale);
    out->sum = malloc((size_t)n_out * sizeof *out->sum);
    if (!out->q || !out->scale || !out->sum) {
        mvq_i8_weights_free(out);
        return mvq_error_set(err, MVQ_ERR_NOMEM, "int8 weights: out of memory for %lld x %lld", (long long)n_out,
                             (long long)n_in);
    }
    for (int64_t o = 0; o < n_out; o++) {
        int8_t *q = out->q + o * n_in;
        out->scale[o] = quantize_row(w + o * n_in, n_in, q);
        int32_t s = 0;
        for (int64_t i = 0; i < n_in; i++)
            s += q[i];
        out->sum[o] = s;
    }
    return MVQ_OK;
}

void mvq_i8_weights_free(mvq_i8_weights *w)
{
    free(w->q);
    free(w->scale);
    free(w->sum);
    w->q = NULL;
    w->scale = NULL;
    w->sum = NULL;
}

void mvq_i8_quantize_rows(const float *x, int64_t n_rows, int64_t n, int8_t *q, float *scale)
{
    for (int64_t t = 0; t < n_rows; t++)
        scale[t] = quantize_row(x + t * n, n, q + t * n);
}

typedef struct gemm_job {
    const mvq_i8_weights *w;
    const int8_t *xq;
    const float *x_scale;
    int64_t n_tok;
    int32_t *acc;
    float *y;
    mvq_i8_dot_fn dot;
} gemm_job;

/* Output channels in tiles of 16 split over the threads; every token
 * meets a tile while its rows are in cache. */
static void gemm_rows(void *arg, int ith, int nth)
{
    const gemm_job *j = arg;
    const mvq_i8_weights *w = j->w;
    enum { TILE = 16 };
    const int64_t n_tiles = (w->n_out + TILE - 1) / TILE;
    for (int64_t tile = ith; tile < n_tiles; tile += nth) {
        const int64_t o0 = tile * TILE, o1 = o0 + TILE < w->n_out ? o0 + TILE : w->n_out;
        for (int64_t t = 0; t < j->n_tok; t++) {
            const int8_t *x = j->xq + t * w->n_in;
            for (int64_t o = o0; o < o1; o++) {
                const int32_t s = j->dot(w->n_in, x, w->q + o * w->n_in, w->sum[o]);
                if (j->acc)
                    j->acc[t * w->n_out + o] = s;
                else
                    j->y[t * w->n_out + o] = j->x_scale[t] * w->scale[o] * (float)s;
            }
        }
    }
}

static void run(mvq_pool *pool, gemm_job *j)
{
    j->dot = mvq_kernels()->i8_dot;
    if (pool)
        mvq_pool_run(pool, gemm_rows, j);
    else
        gemm_rows(j, 0, 1);
}

void mvq_i8_gemm_i32(mvq_pool *pool, const mvq_i8_weights *w, const int8_t *xq, int64_t n_tok, int32_t *acc)
{
    gemm_job j = {.w = w, .xq = xq, .n_tok = n_tok, .acc = acc};
    run(pool, &j);
}

void mvq_i8_gemm(mvq_pool *pool, const mvq_i8_weights *w, const int8_t *xq, const float *x_scale, int64_t n_tok,
                 float *y)
{
    gemm_job j = {.w = w, .xq = xq, .x_scale = x_scale, .n_tok = n_tok, .y = y};
    run(pool, &j);
}
