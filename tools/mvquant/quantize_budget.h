/* The main job's size budget: --target-size, --target-bpw, --same-size-as,
 * --plan-only (quantize_budget.c). */
#ifndef MVQ_QUANTIZE_BUDGET_H
#define MVQ_QUANTIZE_BUDGET_H

#include <mvquant/budget.h>
#include <stdio.h>

typedef struct budget_opts {
    const char *target_size, *same_size_as; /* as given */
    double target_bpw;                      /* > 0 when given */
    bool plan_only;
    /* resolved before calibration */
    uint64_t file_target; /* bytes the file aims at (never above) */
    uint64_t header;      /* the file's bytes before its tensor data (an estimate until written once) */
    bool by_bpw;          /* the target is tensor data (bits per weight), not the file */
    uint64_t data_target;
    mvq_budget_estimate est;
    int *types;
    double *loss;
    double seconds;       /* measuring and solving */
} budget_opts;

static inline bool budget_wanted(const budget_opts *b)
{
    return b->target_size || b->same_size_as || b->target_bpw > 0;
}

/* Checks the options against each other (CLI_EXIT_USAGE and a message). */
int budget_check_args(const budget_opts *b);
/* Resolves the target for in and checks that the ladder can meet it,
 * before any calibration: CLI_EXIT_FAIL with one line when it cannot. */
int budget_resolve(budget_opts *b, const mvq_gguf *in, const char *in_path, const mvq_plan_params *pp);
/* Measures the losses (tokens: at least 2 sequences of n_ctx), solves,
 * prints the plan to f (NULL: not printed), and points q at it. */
int budget_plan(budget_opts *b, const mvq_gguf *in, const mvq_model *model, mvq_quantize_opts *q,
                const int32_t *tokens, int64_t n_tokens, int64_t n_ctx, FILE *f);
/* After writing file_bytes: true (and a new plan in q) when the header
 * estimate was off enough to miss the target; the file is to be written again. */
bool budget_replan(budget_opts *b, mvq_quantize_opts *q, uint64_t file_bytes, int *rc);
void budget_free(budget_opts *b);

#endif
