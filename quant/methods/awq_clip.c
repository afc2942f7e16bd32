/* AWQ's clipping search (the reference's auto_clip), after its scales:
 * for each output row of a linear and each group of input columns, the
 * weight range is shrunk to (1 - i/20) of its maximum for i = 0 .. 9
 * (down to 0.55), the row is quantized as the job will, and each group's
 * own output error over the sample, sum_t (x_t,g . (q_g - w_g))^2, is
 * measured (the groups' errors summed, their cross terms left out, as the
 * reference does); the best shrink of each group is kept.  The error is d^T G d with G the
 * group's block of the sample's x^T x (computed once per input, so a
 * candidate costs a quantization and group^2 per weight, not a pass over
 * the tokens).  A row whose combined clipping (groups interact through a
 * K-quant's super-block scale) errs more than no clipping is left alone,
 * so the search never loses on the sample. */
#include "config.h"
#include "quant/methods/awq_internal.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CLIP_GRID 20
#define CLIP_STEPS 10 /* max_shrink 0.5 of the reference: i < 0.5 * 20 */

mvq_status awq_gram_init(awq_gram *g, int64_t n, mvq_error *err)
{
    g->n = n;
    g->n_groups = (n + AWQ_CLIP_GROUP - 1) / AWQ_CLIP_GROUP;
    g->g = calloc((size_t)(g->n_groups * AWQ_CLIP_GROUP * AWQ_CLIP_GROUP), sizeof *g->g);
    return g->g ? MVQ_OK : mvq_error_set(err, MVQ_ERR_NOMEM, "awq: out of memory for the clipping's statistics");
}

void awq_gram_reset(awq_gram *g)
{
    memset(g->g, 0, sizeof *g->g * (size_t)(g->n_groups * AWQ_CLIP_GROUP * AWQ_CLIP_GROUP));
}

void awq_gram_add(awq_gram *g, const float *x, int64_t n_tokens)
{
    const int64_t G = AWQ_CLIP_GROUP;
    for (int64_t t = 0; t < n_tokens; t++)
        for (int64_t b = 0; b < g->n_groups; b++) {
            const float *xb = x + t * g->n + b * G;
            const int64_t w = g->n - b * G < G ? g->n - b * G : G;
            double *m = g->g + b * G * G;
            for (int64_t i = 0; i < w; i++)
                for (int64_t j = 0; j <= i; j++)
                    m[i * G + j] += (double)xb[i] * xb[j];
        }
}

void awq_gram_free(awq_gram *g)
{
    free(g->g);
    g->g = NULL;
}

/* e^T G e over group b (G's lower triangle holds the sums). */
static double group_err(const awq_gram *g, int64_t b, const double *e, int64_t w)
{
    const double *m = g->g + b * AWQ_CLIP_GROUP * AWQ_CLIP_GROUP;
    double s = 0;
    for (int64_t i = 0; i < w; i++) {
        double row = 0;
        for (int64_t j = 0; j < i; j++)
            row += m[i * AWQ_CLIP_GROUP + j] * e[j];
        s += e[i] * (2 * row + m[i * AWQ_CLIP_GROUP + i] * e[i]);
    }
    return s;
}

typedef struct clip_share {
    const awq_clip_in *in;
    mvq_rtn_row k;
    const float *imp; /* importance of the scaled columns, or NULL */
    mvq_clip *out;
    _Atomic double before, after; /* summed sample errors */
    atomic_bool nomem;
} clip_share;

/* The row's total error: quantize x (clipped or not), compare with w. */
static double row_err(const clip_share *c, const float *x, const float *w, bool careful, void *q, void *spare,
                      float *scratch, float *deq, double *e, double *per_group)
{
    const awq_clip_in *in = c->in;
    const int64_t n = in->n_in;
    mvq_rtn_quantize_row(&c->k, x, q, c->imp, careful, scratch, spare);
    c->k.to_float(q, deq, n);
    /* the scaled linear sees x / s: its error on the original input is (q - w) / s */
    for (int64_t j = 0; j < n; j++)
        e[j] = ((double)deq[j] - w[j]) / (in->col_scale ? in->col_scale[j] : 1.0f);
    double total = 0;
    for (int64_t b = 0; b < in->gram->n_groups; b++) {
        const int64_t j0 = b * AWQ_CLIP_GROUP, gw = n - j0 < AWQ_CLIP_GROUP ? n - j0 : AWQ_CLIP_GROUP;
        const double eb = group_err(in->gram, b, e + j0, gw);
        if (per_group)
            per_group[b] = eb;
        total += eb;
    }
    return total;
}

/* A dequantized row of the scaled linear as the model computes with it:
 * columns / s, the row times what divided it. */
static void model_space(const awq_clip_in *in, int64_t r, const float *deq, float *out)
{
    for (int64_t j = 0; j < in->n_in; j++)
        out[j] = deq[j] / (in->col_scale ? in->col_scale[j] : 1.0f) * (in->row_div ? in->row_div[r] : 1.0f);
}

static void atomic_add(_Atomic double *a, double v)
{
    double old = atomic_load(a);
    while (!atomic_compare_exchange_weak(a, &old, old + v))
        ;
}

static void clip_rows(void *arg, int ith, int nth)
{
    clip_share *c = arg;
    const awq_clip_in *in = c->in;
    const int64_t n = in->n_in, ng = in->gram->n_groups, r0 = in->n_out * ith / nth;
    int64_t r1 = in->n_out * (ith + 1) / nth;
    float *f = malloc(sizeof(float) * (size_t)n * 5);
    double *d = malloc(sizeof(double) * (size_t)(n + 3 * ng));
    void *q = malloc(c->k.row_bytes), *spare = malloc(c->k.row_bytes);
    if (!f || !d || !q || !spare) {
        atomic_store(&c->nomem, true);
        r1 = r0;
    }
    float *w = f, *x = f + n, *deq = f + 2 * n, *scratch = f + 3 * n;
    double *e = d, *gmax = d + n, *best = d + n + ng, *err = d + n + 2 * ng;
    double before = 0, after = 0;
    for (int64_t r = r0; r < r1; r++) {
        float *max = c->out->max + r * ng;
        for (int64_t j = 0; j < n; j++)
            w[j] = in->w[r * n + j] * (in->col_scale ? in->col_scale[j] : 1.0f) / (in->row_div ? in->row_div[r] : 1.0f);
        for (int64_t b = 0; b < ng; b++) {
            gmax[b] = 0;
            for (int64_t j = b * AWQ_CLIP_GROUP; j < n && j < (b + 1) * AWQ_CLIP_GROUP; j++)
                gmax[b] = fmax(gmax[b], fabsf(w[j]));
            max[b] = INFINITY;
        }
        const bool careful = in->tp->protected_rows && in->tp->protected_rows[r];
        const double plain = row_err(c, w, w, careful, q, spare, scratch, deq, e, best);
        if (in->deq[0]) /* the plain row, back in the model's space */
            model_space(in, r, deq, in->deq[0] + r * n);
        for (int i = 1; i < CLIP_STEPS; i++) {
            const double shrink = 1.0 - (double)i / CLIP_GRID;
            for (int64_t j = 0; j < n; j++) {
                const float m = (float)(gmax[j / AWQ_CLIP_GROUP] * shrink);
                x[j] = w[j] > m ? m : w[j] < -m ? -m : w[j];
            }
            row_err(c, x, w, careful, q, spare, scratch, deq, e, err);
            for (int64_t b = 0; b < ng; b++)
                if (err[b] < best[b])
                    best[b] = err[b], max[b] = (float)(gmax[b] * shrink);
        }
        double kept = plain;
        bool any = false;
        for (int64_t b = 0; b < ng; b++)
            any |= isfinite(max[b]);
        if (any) {
            for (int64_t j = 0; j < n; j++) {
                const float m = max[j / AWQ_CLIP_GROUP];
                x[j] = w[j] > m ? m : w[j] < -m ? -m : w[j];
            }
            const double clipped = row_err(c, x, w, careful, q, spare, scratch, deq, e, NULL);
            if (clipped < plain)
                kept = clipped;
            else
                for (int64_t b = 0; b < ng; b++)
                    max[b] = INFINITY;
        }
        if (in->deq[1] && kept < plain)
            model_space(in, r, deq, in->deq[1] + r * n);
        else if (in->deq[1])
            memcpy(in->deq[1] + r * n, in->deq[0] + r * n, sizeof(float) * (size_t)n);
        before += plain, after += kept;
    }
    atomic_add(&c->before, before);
    atomic_add(&c->after, after);
    free(f);
    free(d);
    free(q);
    free(spare);
}

mvq_status awq_clip_search(const awq_clip_in *in, mvq_pool *pool, mvq_clip *out, double *gain, mvq_error *err)
{
    clip_share c = { .in = in, .out = out };
    if (!mvq_rtn_row_init(&c.k, in->tp->type, in->n_in))
        return mvq_error_set(err, MVQ_ERR_UNSUPPORTED, "awq: cannot quantize rows of %lld to %s",
                             (long long)in->n_in, mvq_type_name(in->tp->type));
    float *imp = in->imp ? malloc(sizeof(float) * (size_t)in->n_in) : NULL;
    if (in->imp && !imp)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "awq: out of memory");
    /* as the job: a scaled column's mean square is divided by s^2 */
    for (int64_t j = 0; imp && j < in->n_in; j++)
        imp[j] = in->imp[j] / (in->col_scale ? in->col_scale[j] * in->col_scale[j] : 1.0f);
    c.imp = imp;
    if (pool && in->n_out > 1)
        mvq_pool_run(pool, clip_rows, &c);
    else
        clip_rows(&c, 0, 1);
    free(imp);
    if (atomic_load(&c.nomem))
        return mvq_error_set(err, MVQ_ERR_NOMEM, "awq: out of memory in the clipping search");
    const double before = atomic_load(&c.before);
    if (gain)
        *gain = before > 0 ? 1.0 - atomic_load(&c.after) / before : 0;
    return MVQ_OK;
}
