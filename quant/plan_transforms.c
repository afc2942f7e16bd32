/* Which tensors each cross-tensor transform touches (see mvq_transform):
 * the linears its input feeds have their columns scaled; the tensor that
 * produces the input (a norm, or the linear before) is divided. */
#include "config.h"
#include "quant/plan_internal.h"

/* The input a linear reads. */
static mvq_calib_input input_of(mvq_linear l)
{
    switch (l) {
    case MVQ_LINEAR_Q:
    case MVQ_LINEAR_K:
    case MVQ_LINEAR_V: return MVQ_CALIB_ATTN_IN;
    case MVQ_LINEAR_O: return MVQ_CALIB_ATTN_OUT;
    case MVQ_LINEAR_GATE:
    case MVQ_LINEAR_UP: return MVQ_CALIB_FFN_IN;
    default: return MVQ_CALIB_FFN_DOWN_IN;
    }
}

/* The input a tensor produces, or -1. */
static int produced_by(const mvq_tensor_role *r)
{
    switch (r->role) {
    case MVQ_ROLE_ATTN_NORM: return MVQ_CALIB_ATTN_IN;
    case MVQ_ROLE_FFN_NORM: return MVQ_CALIB_FFN_IN;
    case MVQ_ROLE_OUTPUT_NORM: return MVQ_CALIB_OUTPUT_IN;
    case MVQ_ROLE_LINEAR:
        return r->linear == MVQ_LINEAR_V ? MVQ_CALIB_ATTN_OUT : r->linear == MVQ_LINEAR_UP ? MVQ_CALIB_FFN_DOWN_IN : -1;
    default: return -1;
    }
}

static const mvq_transform *find(const mvq_transform_list *l, int64_t layer, int input)
{
    for (int64_t k = 0; k < l->n; k++)
        if (l->items[k].layer == layer && (int)l->items[k].input == input)
            return &l->items[k];
    return NULL;
}

static const mvq_clip *find_clip(const mvq_transform_list *l, const mvq_tensor_role *r)
{
    for (int64_t k = 0; r->role == MVQ_ROLE_LINEAR && k < l->n_clips; k++)
        if (l->clips[k].layer == r->layer && l->clips[k].linear == r->linear)
            return &l->clips[k];
    return NULL;
}

mvq_status mvq_plan_transforms(const mvq_gguf *in, int64_t i, const mvq_tensor_role *role,
                               const mvq_transform_list *l, mvq_tensor_plan *tp, mvq_error *err)
{
    if (!l->n && !l->n_clips)
        return MVQ_OK;
    const mvq_gguf_tensor *t = mvq_gguf_tensor_at(in, i);
    int64_t layer = role->layer < 0 ? 0 : role->layer, n_out = 1;
    for (uint32_t d = 1; d < t->n_dims; d++)
        n_out *= t->ne[d];
    /* a clipping is part of the rounding: only where the tensor is quantized */
    if (tp->quantize && (tp->clip = find_clip(l, role)) && (tp->clip->n_in != t->ne[0] || tp->clip->n_out != n_out))
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: a clipping is for %lld x %lld, the tensor is %lld x %lld",
                             t->name.data, (long long)tp->clip->n_out, (long long)tp->clip->n_in, (long long)n_out,
                             (long long)t->ne[0]);
    int reads = role->role == MVQ_ROLE_LINEAR ? (int)input_of(role->linear)
                : role->role == MVQ_ROLE_OUTPUT ? MVQ_CALIB_OUTPUT_IN : -1;
    int makes = produced_by(role);
    if (reads >= 0 && (tp->scale_columns = find(l, layer, reads)) && tp->scale_columns->n != t->ne[0])
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: a transform scales %lld columns, the tensor has %lld",
                             t->name.data, (long long)tp->scale_columns->n, (long long)t->ne[0]);
    if (makes >= 0 && (tp->divide_out = find(l, layer, makes))) {
        int64_t want = n_out == 1 ? t->ne[0] : n_out;
        if (tp->divide_out->n != want)
            return mvq_error_set(err, MVQ_ERR_ARG, "%s: a transform divides %lld values, the tensor makes %lld",
                                 t->name.data, (long long)tp->divide_out->n, (long long)want);
    }
    if (!tp->quantize && (tp->scale_columns || tp->divide_out))
        tp->reason = MVQ_PLAN_TRANSFORM;
    return MVQ_OK;
}
