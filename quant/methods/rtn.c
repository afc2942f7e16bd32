/* Round to nearest: each row on its own, the kernels' importance-weighted
 * scale search; protected rows get the best of several weightings. */
#include "config.h"
#include "quant/methods/methods_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    mvq_method_tensor *t;
    mvq_rtn_row k;
    pthread_mutex_t lock;
    double err, ref, careful_err, careful_ref; /* sums over rows, under lock */
    bool nomem;
} share;

/* Four partial sums (term j into sum j % 4), added (0+1)+(2+3):
 * independent chains, not one add's latency per weight (a single chain ran
 * as long as the quantizer on a 7B job).  Kept in named variables: arrays
 * stay in memory. */
typedef struct {
    double s0, s1, s2, s3;
} sum4;

static inline double sum4_total(sum4 s)
{
    return (s.s0 + s.s1) + (s.s2 + s.s3);
}

static inline void sum4_add(sum4 *s, int l, double v)
{
    switch (l) {
    case 0: s->s0 += v; break;
    case 1: s->s1 += v; break;
    case 2: s->s2 += v; break;
    default: s->s3 += v; break;
    }
}

static inline double err_term(const float *a, const float *b, const float *imp, int64_t j, double *ref)
{
    const double w = imp ? imp[j] : 1.0, d = (double)a[j] - b[j];
    *ref = w * (double)a[j] * a[j];
    return w * d * d;
}

/* sum_j I_j (a_j - b_j)^2 and sum_j I_j a_j^2 */
void mvq_weighted_error(const float *a, const float *b, const float *imp, int64_t n, double *err, double *ref)
{
    sum4 e = {0, 0, 0, 0}, r = {0, 0, 0, 0};
    double t;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        e.s0 += err_term(a, b, imp, j, &t), r.s0 += t;
        e.s1 += err_term(a, b, imp, j + 1, &t), r.s1 += t;
        e.s2 += err_term(a, b, imp, j + 2, &t), r.s2 += t;
        e.s3 += err_term(a, b, imp, j + 3, &t), r.s3 += t;
    }
    for (int l = 0; j < n; j++, l++) {
        sum4_add(&e, l, err_term(a, b, imp, j, &t));
        sum4_add(&r, l, t);
    }
    *err = sum4_total(e);
    *ref = sum4_total(r);
}

/* sum_j x_j^2 in double (each square exact), summed as mvq_weighted_error */
static double sum_squares(const float *x, int64_t n)
{
    sum4 s = {0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        s.s0 += (double)x[j] * x[j];
        s.s1 += (double)x[j + 1] * x[j + 1];
        s.s2 += (double)x[j + 2] * x[j + 2];
        s.s3 += (double)x[j + 3] * x[j + 3];
    }
    for (int l = 0; j < n; j++, l++)
        sum4_add(&s, l, (double)x[j] * x[j]);
    return sum4_total(s);
}

/* For the 32-weight block types, weight the importance by the weight's own
 * size, sqrt(mean x^2 + x_j^2), as llama.cpp's quantizers do: measured on
 * the fixtures (KLD against F32, tinystories-eval, n_ctx 256), stories260K's
 * Q4_K_M mixture (mostly Q5_0) went from 0.01471 to 0.01406.  The K-quants
 * did better with the plain importance (tinyrope-3M 0.00301 against 0.00308). */
static bool sharpens_importance(mvq_type t)
{
    const mvq_type_traits *tr = mvq_type_traits_get(t);
    return tr && tr->is_quantized && tr->block_size == 32;
}

static const float *sharpened(const float *imp, const float *x, int64_t n, float *out)
{
    const double ms = sum_squares(x, n) / (double)n;
    /* the job's costliest loop outside the quantizer: sqrt two or more at a time */
#pragma omp simd
    for (int64_t j = 0; j < n; j++)
        out[j] = imp[j] * (float)sqrt(ms + (double)x[j] * x[j]);
    return out;
}

/* A protected row: try the importance as given, none, and the importance
 * sharpened by the weights' own magnitude; keep the lowest weighted error. */
static void quantize_carefully(const mvq_rtn_row *k, const float *x, void *dst, const float *imp, float *deq,
                               float *alt_imp, void *cand)
{
    int64_t n = k->n;
    double best = INFINITY, e, r;
    for (int variant = 0; variant < 3; variant++) {
        const float *use = imp;
        if (variant == 1)
            use = NULL;
        else if (variant == 2) {
            const double ms = sum_squares(x, n) / (double)n + 1e-30;
            for (int64_t j = 0; j < n; j++)
                alt_imp[j] = (imp ? imp[j] : 1.0f) * (float)(1.0 + x[j] * x[j] / ms);
            use = alt_imp;
        }
        k->quantize(x, cand, n, use);
        k->to_float(cand, deq, n);
        mvq_weighted_error(x, deq, imp, n, &e, &r);
        if (e < best) {
            best = e;
            memcpy(dst, cand, k->row_bytes);
        }
    }
}

bool mvq_rtn_row_init(mvq_rtn_row *k, mvq_type type, int64_t n)
{
    const mvq_kernel_table *kt = mvq_kernels();
    k->type = type;
    k->n = n;
    k->row_bytes = mvq_row_size(type, n);
    k->to_float = (unsigned)type < MVQ_TYPE_COUNT ? kt->to_float[type] : NULL;
    k->quantize = (unsigned)type < MVQ_TYPE_COUNT ? kt->from_float[type] : NULL;
    return k->row_bytes && k->to_float && k->quantize;
}

void mvq_rtn_quantize_row(const mvq_rtn_row *k, const float *x, void *dst, const float *importance, bool careful,
                          float *scratch, void *cand)
{
    float *deq = scratch, *alt = scratch + k->n;
    if (careful)
        quantize_carefully(k, x, dst, importance, deq, alt, cand);
    else if (importance && sharpens_importance(k->type))
        k->quantize(x, dst, k->n, sharpened(importance, x, k->n, alt));
    else
        k->quantize(x, dst, k->n, importance);
}

static void run_rows(void *arg, int ith, int nth)
{
    share *s = arg;
    mvq_method_tensor *t = s->t;
    int64_t r0 = t->n_out * ith / nth, r1 = t->n_out * (ith + 1) / nth, n = t->n_in;
    float *buf = malloc(sizeof(float) * (size_t)n * 2);
    void *cand = malloc(s->k.row_bytes);
    if (!buf || !cand) {
        free(buf);
        free(cand);
        pthread_mutex_lock(&s->lock);
        s->nomem = true;
        pthread_mutex_unlock(&s->lock);
        return;
    }
    float *deq = buf;
    double err = 0, ref = 0, cerr = 0, cref = 0, e, r;
    for (int64_t row = r0; row < r1; row++) {
        const float *x = t->rows + (size_t)row * (size_t)n;
        char *dst = (char *)t->dst + (size_t)row * s->k.row_bytes;
        bool careful = t->protected_rows && t->protected_rows[row];
        mvq_rtn_quantize_row(&s->k, x, dst, t->importance, careful, buf, cand);
        s->k.to_float(dst, deq, n);
        mvq_weighted_error(x, deq, t->importance, n, &e, &r);
        err += e, ref += r;
        if (careful)
            cerr += e, cref += r;
    }
    free(buf);
    free(cand);
    pthread_mutex_lock(&s->lock);
    s->err += err, s->ref += ref, s->careful_err += cerr, s->careful_ref += cref;
    pthread_mutex_unlock(&s->lock);
}

mvq_status mvq_rtn_quantize(mvq_method_tensor *t, mvq_pool *pool, mvq_error *err)
{
    share s = {.t = t};
    if (!mvq_rtn_row_init(&s.k, t->type, t->n_in))
        return mvq_error_set(err, MVQ_ERR_UNSUPPORTED, "cannot quantize rows of %lld to %s", (long long)t->n_in,
                             mvq_type_name(t->type));
    pthread_mutex_init(&s.lock, NULL);
    if (pool && t->n_out > 1)
        mvq_pool_run(pool, run_rows, &s);
    else
        run_rows(&s, 0, 1);
    pthread_mutex_destroy(&s.lock);
    if (s.nomem)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory quantizing rows of %lld", (long long)t->n_in);
    t->rel_err = s.ref > 0 ? sqrt(s.err / s.ref) : 0.0;
    t->protected_rel_err = s.careful_ref > 0 ? sqrt(s.careful_err / s.careful_ref) : -1.0;
    return MVQ_OK;
}

const mvq_method mvq_method_rtn = {
    .name = "rtn",
    .about = "round to nearest with an importance-weighted scale search",
    .needs = MVQ_NEED_IMPORTANCE,
    .prepare = NULL,
    .quantize = mvq_rtn_quantize,
};
