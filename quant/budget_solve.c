/* The budget's solver: an exact multiple-choice knapsack by dynamic
 * programming over bytes counted in units (so the table stays small). */
#include "config.h"
#include <mvquant/budget.h>

#include <float.h>
#include <stdlib.h>
#include <string.h>

#define MAX_UNITS 65536u

mvq_status mvq_budget_solve(const mvq_budget_item *items, int64_t n_items, uint64_t budget, int *choice,
                            mvq_error *err)
{
    uint64_t unit = budget / MAX_UNITS + (budget % MAX_UNITS != 0);
    if (unit == 0)
        unit = 1;
    size_t cap = (size_t)(budget / unit); /* rooms 0..cap */
    double *best = malloc(sizeof *best * (cap + 1)), *next = malloc(sizeof *next * (cap + 1));
    uint8_t *pick = malloc((size_t)(n_items ? n_items : 1) * (cap + 1));
    mvq_status st = MVQ_OK;
    if (!best || !next || !pick) {
        st = mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory solving a budget of %llu bytes",
                           (unsigned long long)budget);
        goto done;
    }
    /* best[c]: the lowest loss of the items so far within c units */
    for (size_t c = 0; c <= cap; c++)
        best[c] = 0;
    for (int64_t i = 0; i < n_items; i++) {
        const mvq_budget_item *it = &items[i];
        uint8_t *row = pick + (size_t)i * (cap + 1);
        for (size_t c = 0; c <= cap; c++) {
            double b = DBL_MAX;
            int k_best = 0;
            for (int k = 0; k < it->n_choices && k < 256; k++) {
                uint64_t u = it->bytes[k] / unit + (it->bytes[k] % unit != 0);
                if (u > c || best[c - u] == DBL_MAX)
                    continue;
                double v = best[c - u] + it->loss[k];
                if (v < b)
                    b = v, k_best = k;
            }
            next[c] = b;
            row[c] = (uint8_t)k_best;
        }
        double *t = best;
        best = next, next = t;
    }
    if (best[cap] == DBL_MAX) {
        st = mvq_error_set(err, MVQ_ERR_ARG, "no choice of types fits %llu bytes", (unsigned long long)budget);
        goto done;
    }
    size_t c = cap;
    for (int64_t i = n_items - 1; i >= 0; i--) {
        int k = pick[(size_t)i * (cap + 1) + c];
        choice[i] = k;
        c -= (size_t)(items[i].bytes[k] / unit + (items[i].bytes[k] % unit != 0));
    }
done:
    free(best);
    free(next);
    free(pick);
    return st;
}
