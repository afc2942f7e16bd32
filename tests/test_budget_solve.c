/* The budget's solver against brute force on random instances (TAP). */
#include <mvquant.h>
#include <mvquant/budget.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/rng.h"
#include "tests/tap.h"

#define N_ITEMS 6
#define N_CHOICES 4

typedef struct instance {
    uint64_t bytes[N_ITEMS][N_CHOICES];
    double loss[N_ITEMS][N_CHOICES];
    mvq_budget_item items[N_ITEMS];
} instance;

/* The lowest loss within budget over every combination; -1 when none fits. */
static double brute_force(const instance *in, uint64_t budget)
{
    double best = -1;
    int total = 1;
    for (int i = 0; i < N_ITEMS; i++)
        total *= N_CHOICES;
    for (int code = 0; code < total; code++) {
        uint64_t bytes = 0;
        double loss = 0;
        for (int i = 0, c = code; i < N_ITEMS; i++, c /= N_CHOICES)
            bytes += in->bytes[i][c % N_CHOICES], loss += in->loss[i][c % N_CHOICES];
        if (bytes <= budget && (best < 0 || loss < best))
            best = loss;
    }
    return best;
}

static void make(instance *in, uint64_t scale)
{
    for (int i = 0; i < N_ITEMS; i++) {
        for (int k = 0; k < N_CHOICES; k++) {
            in->bytes[i][k] = 1 + rnd() % scale;
            in->loss[i][k] = rnd_unit() + 1.5;
        }
        in->items[i] = (mvq_budget_item){ N_CHOICES, in->bytes[i], in->loss[i] };
    }
}

static void check(const instance *in, const int *choice, uint64_t budget, uint64_t *bytes, double *loss)
{
    *bytes = 0, *loss = 0;
    for (int i = 0; i < N_ITEMS; i++)
        *bytes += in->bytes[i][choice[i]], *loss += in->loss[i][choice[i]];
    (void)budget;
}

int main(void)
{
    int exact = 0, bounded = 0, refused = 0, trials = 300;
    for (int trial = 0; trial < trials; trial++) {
        instance in;
        /* small byte counts: units of one byte, the optimum exactly;
         * large ones: units of many bytes, within n_items units of it */
        bool big = trial % 2;
        make(&in, big ? 4000000u : 60u);
        uint64_t lo = 0, hi = 0;
        for (int i = 0; i < N_ITEMS; i++) {
            uint64_t mn = in.bytes[i][0], mx = in.bytes[i][0];
            for (int k = 1; k < N_CHOICES; k++)
                mn = in.bytes[i][k] < mn ? in.bytes[i][k] : mn, mx = in.bytes[i][k] > mx ? in.bytes[i][k] : mx;
            lo += mn, hi += mx;
        }
        uint64_t budget = lo - lo / 10 + rnd() % (hi - lo + lo / 10 + 1);
        int choice[N_ITEMS];
        mvq_error err;
        double want = brute_force(&in, budget);
        mvq_status st = mvq_budget_solve(in.items, N_ITEMS, budget, choice, &err);
        if (want < 0) {
            refused += st == MVQ_ERR_ARG;
            continue;
        }
        uint64_t bytes;
        double loss;
        check(&in, choice, budget, &bytes, &loss);
        if (st != MVQ_OK || bytes > budget) {
            tap_diag("trial %d: status %d, %llu bytes for a budget of %llu", trial, (int)st, (unsigned long long)bytes,
                 (unsigned long long)budget);
            continue;
        }
        if (!big) {
            exact += fabs(loss - want) < 1e-9;
        } else {
            uint64_t unit = budget / 65536 + (budget % 65536 != 0);
            double floor_loss = brute_force(&in, budget > N_ITEMS * unit ? budget - N_ITEMS * unit : 0);
            bounded += loss >= want - 1e-9 && (floor_loss < 0 || loss <= floor_loss + 1e-9);
        }
    }
    tap_ok(exact + bounded + refused == trials, "every instance solved or refused as brute force says (%d exact, "
                                            "%d within the unit bound, %d refused)", exact, bounded, refused);
    tap_ok(exact > 100 && bounded > 100, "both kinds of instance are tried (%d, %d)", exact, bounded);
    {
        uint64_t b[2] = { 10, 20 };
        double l[2] = { 2, 1 };
        mvq_budget_item it = { 2, b, l };
        int c[1];
        mvq_error err;
        tap_ok(mvq_budget_solve(&it, 1, 9, c, &err) == MVQ_ERR_ARG, "a budget below the smallest choice: %s", err.msg);
    }
    return tap_done();
}
