/* The budget's plan: the solver over the measured estimates. */
#include "config.h"
#include <mvquant/budget.h>

#include <stdlib.h>

mvq_status mvq_budget_plan(const mvq_budget_estimate *e, uint64_t data_budget, int *types, double *loss,
                           mvq_error *err)
{
    if (data_budget < mvq_budget_min_bytes(e))
        return mvq_error_set(err, MVQ_ERR_ARG,
                             "a budget of %llu bytes of tensor data is below the smallest the types allow (%llu)",
                             (unsigned long long)data_budget, (unsigned long long)mvq_budget_min_bytes(e));
    mvq_budget_item *items = calloc((size_t)(e->n ? e->n : 1), sizeof *items);
    int64_t *index = calloc((size_t)(e->n ? e->n : 1), sizeof *index);
    int *choice = calloc((size_t)(e->n ? e->n : 1), sizeof *choice);
    if (!items || !index || !choice) {
        free(items), free(index), free(choice);
        return mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory planning a budget");
    }
    int64_t m = 0;
    for (int64_t i = 0; i < e->n; i++) {
        types[i] = -1;
        loss[i] = -1;
        if (e->t[i].planned) {
            items[m] = (mvq_budget_item){ e->t[i].n, e->t[i].bytes, e->t[i].loss };
            index[m++] = i;
        }
    }
    mvq_status st = mvq_budget_solve(items, m, data_budget - e->fixed_bytes, choice, err);
    for (int64_t j = 0; st == MVQ_OK && j < m; j++) {
        const mvq_budget_tensor *bt = &e->t[index[j]];
        types[index[j]] = (int)bt->type[choice[j]];
        loss[index[j]] = bt->loss[choice[j]];
    }
    free(items), free(index), free(choice);
    return st;
}
