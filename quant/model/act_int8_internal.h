/* Internal to quant/: the int8 activations (W8A8) of a pass
 * (quant/model/act_int8.c): the linears by int8 GEMM and the per-token
 * rounding of Q, K and V. */
#ifndef MVQ_ACT_INT8_INTERNAL_H
#define MVQ_ACT_INT8_INTERNAL_H

#include <mvquant/model.h>

/* One pass's room for the quantized inputs of its linears. */
typedef struct mvq_act_scratch {
    int8_t *q;    /* rows x cols */
    float *scale; /* rows */
} mvq_act_scratch;

mvq_status mvq_act_scratch_init(mvq_act_scratch *s, const mvq_act_int8 *a, const mvq_model *m, int64_t rows,
                                mvq_error *err);
void mvq_act_scratch_free(mvq_act_scratch *s);

/* Whether a quantizes the linears' inputs. */
bool mvq_act_int8_linears(const mvq_act_int8 *a);
/* y = x W^T (+ bias) for n rows of linear which of layer il, in int8;
 * w is the weight the pass runs, which must be the one packed. */
mvq_status mvq_act_int8_linear(const mvq_act_int8 *a, const mvq_act_scratch *s, mvq_pool *pool, int64_t il,
                               mvq_linear which, const mvq_weight *w, const float *bias, const float *x, int64_t n,
                               float *y, mvq_error *err);
/* With bmm: n rows of Q, K (after RoPE) and V of layer il through int8 per token. */
void mvq_act_int8_bmm(const mvq_act_int8 *a, int64_t il, float *q, float *k, float *v, int64_t n);

#endif
