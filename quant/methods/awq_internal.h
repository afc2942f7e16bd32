/* Internal to quant/methods/: AWQ's clipping search (awq_clip.c). */
#ifndef MVQ_AWQ_INTERNAL_H
#define MVQ_AWQ_INTERNAL_H

#include "quant/methods/methods_internal.h"

/* Columns per clipping group: the legacy types' block, and two sub-blocks
 * or one of the K-quants (a clipped range moves a block's own scale). */
#define AWQ_CLIP_GROUP 32

/* The diagonal blocks (AWQ_CLIP_GROUP square, lower triangle used) of the
 * sample's x^T x for one linear input of n columns. */
typedef struct awq_gram {
    int64_t n, n_groups;
    double *g;
} awq_gram;

mvq_status awq_gram_init(awq_gram *g, int64_t n, mvq_error *err);
void awq_gram_reset(awq_gram *g);
/* Adds n_tokens rows of g->n values. */
void awq_gram_add(awq_gram *g, const float *x, int64_t n_tokens);
void awq_gram_free(awq_gram *g);

/* One linear to clip: its f32 rows, the scales folded into it (the job
 * will quantize w[r][j] * col_scale[j] / row_div[r]), its plan, its
 * importance before scaling, and the Gram blocks of its unscaled input. */
typedef struct awq_clip_in {
    const mvq_tensor_plan *tp;
    const float *w;
    int64_t n_out, n_in;
    const float *col_scale, *row_div; /* may be NULL */
    const float *imp;                 /* may be NULL */
    const awq_gram *gram;
    /* optional (both NULL or both set), n_out x n_in each: the rounded rows
     * without [0] and with [1] the clipping, in the model's space (scales undone) */
    float *deq[2];
} awq_clip_in;

/* Fills out->max (out made by mvq_clip_add with group AWQ_CLIP_GROUP);
 * gain: 1 - the sample's output error with the clipping / without. */
mvq_status awq_clip_search(const awq_clip_in *in, mvq_pool *pool, mvq_clip *out, double *gain, mvq_error *err);

#endif
