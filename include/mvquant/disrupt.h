/* Disruption of attention dimensions during a forward pass: the seed
 * paper's experiment (replace the massive dimensions of Q and K by their
 * mean over the sequence and see what the model loses), as a MODIFY
 * observer to install on a pass or an evaluation. */
#ifndef MVQUANT_DISRUPT_H
#define MVQUANT_DISRUPT_H

#include <mvquant/model.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the chosen dimensions are replaced by, per column over the batch's tokens. */
typedef enum mvq_disrupt_mode {
    MVQ_DISRUPT_MEAN = 0, /* the column's mean (the paper's text) */
    MVQ_DISRUPT_ZERO = 1, /* zero */
    MVQ_DISRUPT_MAX = 2   /* the column's largest value (the paper's released code) */
} mvq_disrupt_mode;

/* Which dimensions of each head are replaced. */
typedef enum mvq_disrupt_target {
    MVQ_DISRUPT_MASSIVE = 0, /* the largest M[h,d] = ||X[:,h,d]||_2 */
    MVQ_DISRUPT_LOWEST = 1,  /* as many of the smallest (control) */
    MVQ_DISRUPT_RANDOM = 2   /* as many random non-massive ones, fixed by the seed (control) */
} mvq_disrupt_target;

typedef struct mvq_disrupt_opts {
    /* the taps disrupted: any of MVQ_TAP_BIT of Q, K (after RoPE), Q_PRE_ROPE,
     * K_PRE_ROPE and V; 0: Q and K */
    uint32_t taps;
    const unsigned char *layers; /* n_layer flags (non-zero: disrupted); NULL: all */
    int topk;                    /* dimensions per head (0: none); ignored with lambda > 0 */
    double lambda;               /* > 0: massive = M[h,d] > lambda * mean_d M[h,d] (the paper's rule) */
    mvq_disrupt_mode mode;
    mvq_disrupt_target target;
    uint64_t seed; /* for MVQ_DISRUPT_RANDOM */
} mvq_disrupt_opts;

typedef struct mvq_disrupt mvq_disrupt;

/* Checks the options against the model.  Errors: taps other than those
 * above, topk beyond the head size, a bad mode or target. */
MVQ_API mvq_disrupt *mvq_disrupt_create(const mvq_model *m, const mvq_disrupt_opts *opts, mvq_error *err);
MVQ_API void mvq_disrupt_free(mvq_disrupt *d);
/* The MODIFY observer (its user context is d).  In each batched pass it
 * takes the norms over all the batch's rows and replaces the chosen
 * dimensions of every head, in every row; token-by-token decoding passes
 * are left alone.  It may run on several passes at once. */
MVQ_API mvq_observer mvq_disrupt_observer(mvq_disrupt *d);
/* Batched passes seen at tap and layer, and in how many of them dimension
 * dim of head was replaced (0 for taps or layers not disrupted). */
MVQ_API int64_t mvq_disrupt_passes(const mvq_disrupt *d, mvq_tap tap, int64_t layer);
MVQ_API int64_t mvq_disrupt_hits(const mvq_disrupt *d, mvq_tap tap, int64_t layer, int64_t head, int64_t dim);

/* Chooses the dimensions of one head of rows (n_tokens rows, stride
 * values apart, head_dim values each, starting at the head): writes their
 * indices, in increasing order, to dims (head_dim room) and returns their
 * count.  slot makes the random control's choice differ per tap, layer and head. */
MVQ_API int mvq_disrupt_choose(const float *rows, int64_t n_tokens, int64_t stride, int64_t head_dim,
                               const mvq_disrupt_opts *opts, uint64_t slot, int *dims);

/* Sums of squares over tokens of Q, K and V per layer, head and dimension
 * (M[h,d]^2, the layout of mvq_calib's qkv_sq: sq[w] holds n_layer x heads
 * x head_dim doubles, heads n_head for Q and n_head_kv for K and V), with
 * Q and K taken before RoPE when pre_rope.  The tokens run in windows of
 * n_ctx with bos first, as the calibration pass runs them.  Adds to sq. */
MVQ_API mvq_status mvq_qkv_norms_pass(const mvq_model *m, const int32_t *tokens, int64_t n_tokens, int64_t n_ctx,
                                      int32_t bos, bool pre_rope, mvq_pool *pool, double *const sq[3],
                                      mvq_error *err);

#ifdef __cplusplus
}
#endif
#endif
