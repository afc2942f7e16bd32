/* One tensor through the pipeline: rows to f32, its transforms, then its
 * method, or, for a tensor that only a transform changes, its own type. */
#include "config.h"
#include "quant/job_internal.h"

#include <string.h>

typedef struct {
    const mvq_gguf_tensor *t;
    const mvq_tensor_plan *tp;
    mvq_to_float_fn to_float;
    size_t src_row;
    int64_t n_out;
    float *rows;
} widen_share;

/* Rows to f32 with the transforms applied, rows split over the pool. */
static void widen_rows(void *arg, int ith, int nth)
{
    widen_share *s = arg;
    int64_t n = s->t->ne[0], r0 = s->n_out * ith / nth, r1 = s->n_out * (ith + 1) / nth;
    const mvq_transform *cols = s->tp->scale_columns, *out = s->tp->divide_out;
    for (int64_t r = r0; r < r1; r++) {
        float *x = s->rows + (size_t)r * (size_t)n;
        s->to_float((const char *)s->t->data + (size_t)r * s->src_row, x, n);
        for (int64_t j = 0; cols && j < n; j++)
            x[j] *= cols->scale[j];
        if (out && s->n_out == 1) /* a norm: its values */
            for (int64_t j = 0; j < n; j++)
                x[j] /= out->scale[j];
        else if (out) /* the linear before: its rows */
            for (int64_t j = 0; j < n; j++)
                x[j] /= out->scale[r];
        const mvq_clip *clip = s->tp->clip;
        for (int64_t j = 0; clip && j < n; j++) {
            const float m = clip->max[r * clip->n_groups + j / clip->group];
            x[j] = x[j] > m ? m : x[j] < -m ? -m : x[j];
        }
    }
}

mvq_status mvq_job_tensor(const mvq_gguf_tensor *t, const mvq_tensor_plan *tp, const mvq_quantize_opts *o,
                          mvq_job_scratch *s, mvq_tensor_report *tr, mvq_error *err)
{
    const mvq_kernel_table *k = mvq_kernels();
    mvq_type from = (mvq_type)t->type;
    widen_share w = {
        .t = t, .tp = tp, .rows = s->rows, .n_out = (int64_t)(tr->n_weights / (uint64_t)t->ne[0]),
        .src_row = mvq_row_size(from, t->ne[0]),
        .to_float = (unsigned)from < MVQ_TYPE_COUNT ? k->to_float[from] : NULL,
    };
    if (!w.src_row || !w.to_float)
        return mvq_error_set(err, MVQ_ERR_UNSUPPORTED, "%s: cannot read rows of %s", t->name.data,
                             mvq_type_name(from));
    if (o->pool && w.n_out > 1)
        mvq_pool_run(o->pool, widen_rows, &w);
    else
        widen_rows(&w, 0, 1);
    if (!tp->method) { /* rewritten in its own type */
        mvq_from_float_fn encode = k->from_float[from];
        if (!encode)
            return mvq_error_set(err, MVQ_ERR_UNSUPPORTED, "%s: cannot write rows of %s", t->name.data,
                                 mvq_type_name(from));
        for (int64_t r = 0; r < w.n_out; r++)
            encode(s->rows + (size_t)r * (size_t)t->ne[0], (char *)s->out + (size_t)r * w.src_row, t->ne[0], NULL);
        return MVQ_OK;
    }
    mvq_method_tensor mt = {
        .name = t->name.data, .rows = s->rows, .n_in = t->ne[0], .n_out = w.n_out, .type = tp->type,
        .importance = o->calib && (!o->use_importance || o->use_importance(o->user, t->name.data)) &&
                              mvq_calib_importance(o->calib, t->name.data, s->importance, t->ne[0])
                          ? s->importance : NULL,
        .protected_rows = tp->protected_rows, .calib = o->calib, .dst = s->out,
        .layer_state = s->layer_state, .out_err = {-1, -1},
    };
    /* scaled columns see x / s: their mean square is divided by s^2 */
    for (int64_t j = 0; mt.importance && tp->scale_columns && j < t->ne[0]; j++)
        s->importance[j] /= tp->scale_columns->scale[j] * tp->scale_columns->scale[j];
    mvq_status st = tp->method->quantize(&mt, o->pool, err);
    if (st != MVQ_OK)
        return mvq_error_set(err, st, "%s: %s: %.400s", t->name.data, tp->method->name, err ? err->msg : "");
    tr->rel_err = mt.rel_err;
    tr->n_massive_rows = (int)tp->n_massive_rows;
    tr->massive_rel_err = mt.protected_rel_err;
    tr->out_err[0] = mt.out_err[0];
    tr->out_err[1] = mt.out_err[1];
    tr->out_err_kept = mt.out_err_kept;
    tr->no_stats = mt.no_stats;
    return MVQ_OK;
}
