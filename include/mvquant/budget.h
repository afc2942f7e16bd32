/* mvquant: planning a file against a size budget.  Every quantizable
 * tensor gets a type from a ladder of candidates so that the tensor data
 * meets the budget at the lowest estimated loss: an exact multiple-choice
 * knapsack over the tensors (dynamic programming over bytes), with each
 * tensor's loss at each type measured, not guessed (budget_measure.c). */
#ifndef MVQUANT_BUDGET_H
#define MVQUANT_BUDGET_H

#include <mvquant/quantize.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the solver ----
 * One item per tensor: n_choices (bytes, loss) pairs.  Bytes are counted
 * in units of ceil(budget / 65536) bytes, each choice's bytes rounded up,
 * so the choice never exceeds the budget and lies at most n_items units
 * short of the exact optimum's room. */
typedef struct mvq_budget_item {
    int n_choices;
    const uint64_t *bytes;
    const double *loss;
} mvq_budget_item;

/* choice receives, per item, the index of its choice; MVQ_ERR_ARG when
 * even the smallest choices exceed the budget. */
MVQ_API mvq_status mvq_budget_solve(const mvq_budget_item *items, int64_t n_items, uint64_t budget, int *choice,
                                    mvq_error *err);

/* ---- the candidates and their estimated losses ---- */
#define MVQ_BUDGET_MAX_CHOICES 12

typedef struct mvq_budget_tensor {
    bool planned;        /* quantized and not fixed by an override: the budget picks its type */
    int n;               /* candidates that fit its rows */
    mvq_type type[MVQ_BUDGET_MAX_CHOICES];
    uint64_t bytes[MVQ_BUDGET_MAX_CHOICES]; /* padded to the file's alignment */
    double loss[MVQ_BUDGET_MAX_CHOICES];    /* estimated mean KLD it adds at that type */
    double err[MVQ_BUDGET_MAX_CHOICES];     /* its importance-weighted squared error (massive term included) */
    double sensitivity;  /* measured KLD per unit of that error, at the probe type */
    mvq_type probe;      /* the type the sensitivity was measured at */
} mvq_budget_tensor;

typedef struct mvq_budget_estimate {
    int64_t n;
    mvq_budget_tensor *t;  /* one per tensor of the input */
    uint64_t fixed_bytes;  /* padded data of the tensors the budget does not plan */
    double seconds;        /* measuring */
} mvq_budget_estimate;

/* The candidates and their bytes, without measuring (losses 0): enough to
 * check a budget before calibrating.  The floor types (TQ2_0, below Q2_K)
 * are candidates only when data_budget is below what the others allow;
 * mvq_budget_ladder leaves them out, mvq_budget_ladder_for(..., 0, ...)
 * gives the smallest file of all. */
MVQ_API mvq_status mvq_budget_ladder(const mvq_gguf *in, const mvq_plan_params *p, mvq_budget_estimate *out,
                                     mvq_error *err);
MVQ_API mvq_status mvq_budget_ladder_for(const mvq_gguf *in, const mvq_plan_params *p, uint64_t data_budget,
                                         mvq_budget_estimate *out, mvq_error *err);
/* Smallest and largest tensor data the ladder allows. */
MVQ_API uint64_t mvq_budget_min_bytes(const mvq_budget_estimate *e);
MVQ_API uint64_t mvq_budget_max_bytes(const mvq_budget_estimate *e);

/* The bytes of the job's output before its tensor data (the input's
 * header, the mvquant.* keys, the tensor hashes, the budget's losses),
 * over-estimated a little: a file target less this is the data budget. */
MVQ_API uint64_t mvq_budget_header_estimate(const mvq_gguf *in);

/* Measures the losses: every planned tensor quantized at every candidate
 * through the job's own path (o's method, statistics and transforms; the
 * importance-weighted error), and its sensitivity, the mean KLD of base
 * with that tensor alone quantized at the probe type (the cheapest) over
 * tokens (a few sequences of n_ctx) divided by that error.  With
 * o->protect_massive,
 * the massive rows of attn_q/attn_k weigh as much more as the partner's
 * norm in their dimension exceeds its head's mean (their own term). */
MVQ_API mvq_status mvq_budget_measure(const mvq_gguf *in, const mvq_model *base, const mvq_quantize_opts *o,
                                      const int32_t *tokens, int64_t n_tokens, int64_t n_ctx,
                                      mvq_budget_estimate *e, mvq_error *err);
MVQ_API void mvq_budget_estimate_free(mvq_budget_estimate *e);

/* Picks the types for data_budget bytes of tensor data: types[i] (-1 for a
 * tensor not planned) and loss[i] (its estimate, -1 when not planned). */
MVQ_API mvq_status mvq_budget_plan(const mvq_budget_estimate *e, uint64_t data_budget, int *types, double *loss,
                                   mvq_error *err);

#ifdef __cplusplus
}
#endif
#endif
