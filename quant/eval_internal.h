/* Internal to quant/: the running sums of an evaluation and the statistics
 * made from them (llama.cpp's formulas), separate so tests can feed them. */
#ifndef MVQ_EVAL_INTERNAL_H
#define MVQ_EVAL_INTERNAL_H

#include <mvquant/model.h>

typedef struct mvq_eval_sums {
    double nll, nll2;                          /* model's negative log-likelihood of the target */
    double nll_base, nll_base2, nll_nll_base;  /* base's, and the cross term */
    double kld, kld2;                          /* KL(base || model) */
    double dp, dp2, dp4;                       /* p_model(target) - p_base(target) */
    int64_t same_top;                          /* both argmax equal */
    int64_t count;
} mvq_eval_sums;

/* Scores one prediction: l (and lb, the base's, or NULL) are n_vocab logits.
 * With a base, *kld_out receives this prediction's KL divergence. */
void mvq_eval_score_row(const float *l, const float *lb, int64_t n_vocab, int32_t target, mvq_eval_sums *s,
                        float *kld_out);

/* Fills the statistics of out from the sums; kld_values (count of them,
 * with a base) are sorted in place for the percentiles. */
void mvq_eval_finish(const mvq_eval_sums *s, bool has_base, float *kld_values, mvq_eval_result *out);

#endif
