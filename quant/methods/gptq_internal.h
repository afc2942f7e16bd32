/* Internal to quant/methods/: GPTQ's pieces.  gptq_grid.c sees a ggml
 * block type as a grid per weight; gptq_solve.c quantizes one matrix
 * column by column on those grids; gptq_hessian.c collects the Hessians
 * of a layer's inputs; gptq.c is the method's table entry. */
#ifndef MVQ_GPTQ_INTERNAL_H
#define MVQ_GPTQ_INTERNAL_H

#include <mvquant/methods.h>

#include "kernels/search_eval.h"

/* ---- the grid of a block type (gptq_grid.c) ----
 * Weight j of a row the type's quantizer wrote can take the values
 * scale[j] * level + offset[j], level one of the type's levels (integers
 * lo .. hi, or IQ4_NL's table); scale and offset come from its block (and
 * sub-block).  The nearest level is found by the quantizer's own float
 * operations, so a weight left where the quantizer saw it gets the code the
 * quantizer chose. */
typedef struct gptq_grid {
    mvq_type type;
    int block;           /* weights per block */
    int lo, hi;          /* integer levels; codes are level - lo */
    bool kquant;         /* 1/scale without the finiteness guard (kq_sub_quantize) */
    bool table;          /* IQ4_NL's levels */
    mvq_levels levels;   /* the table, prepared */
    mvq_grid table_grid; /* what levels points at */
} gptq_grid;

/* False for types without a grid (F32, F16, BF16, ...). */
bool gptq_grid_init(gptq_grid *g, mvq_type type);
/* The scale and offset of each of a row's n weights. */
void gptq_grid_read(const gptq_grid *g, const void *row, int64_t n, float *scale, float *offset);
/* The nearest code of x and its value. */
uint8_t gptq_grid_round(const gptq_grid *g, float scale, float offset, float x, float *value);
/* Writes codes into a row (its scales unchanged). */
void gptq_grid_write(const gptq_grid *g, void *row, int64_t n, const uint8_t *codes);

/* fn over the pool when the work (a count of multiply-adds) is worth the threads, else on the caller. */
static inline void gptq_run(mvq_pool *pool, void (*fn)(void *, int, int), void *arg, int64_t work)
{
    if (pool && work > 4096)
        mvq_pool_run(pool, fn, arg);
    else
        fn(arg, 0, 1);
}

/* ---- the factor U of H^-1 = U^T U (gptq_factor.c) ----
 * u: n x n upper, from the damped and permuted H in h (destroyed); false
 * when H is not positive definite.  Blocked; _ref is the left-looking
 * reference (the tests' and the bench's baseline). */
bool gptq_inverse_factor(double *h, int64_t n, double *u, mvq_pool *pool);
bool gptq_inverse_factor_ref(double *h, int64_t n, double *u, mvq_pool *pool);

/* ---- one matrix (gptq_solve.c) ---- */

/* Fits row r's grid: writes the type's bytes of x (n_in values) into dst. */
typedef void (*gptq_fit_fn)(void *user, int64_t row, const float *x, void *dst);

typedef struct gptq_params {
    double damp;    /* lambda = damp * mean diag H */
    int block;      /* columns per lazy batch */
    bool act_order; /* columns in decreasing diag H */
    bool refit;     /* a second pass on grids refitted to the first's updated weights */
    int64_t slab_rows; /* rows solved at a time (0: about 8 Mi weights' worth) */
} gptq_params;

/* The factor of one damped Hessian, kept for the next matrix with the same
 * inputs (attn_q, attn_k and attn_v read one input, ffn_gate and ffn_up
 * another): the n^3 part is then paid once per input, not per matrix.
 * The key is the caller's (input, layer) with the Hessian's address and the
 * parameters the factor depends on. */
typedef struct gptq_factor_cache {
    int input;
    int64_t layer;
    const double *hessian;
    int64_t n;
    double damp;
    bool act_order;
    double *u;       /* NULL: empty */
    int64_t *perm;
    uint8_t *dead;
    int hits;        /* matrices that reused a factor (for the tests) */
} gptq_factor_cache;
void gptq_factor_cache_clear(gptq_factor_cache *c);

typedef struct gptq_problem {
    const gptq_grid *grid;
    int64_t n_in, n_out;
    const float *w;         /* n_out rows of n_in */
    const double *hessian;  /* n_in x n_in, symmetric (not damped) */
    gptq_params params;
    gptq_fit_fn fit;
    void *fit_user;
    void *dst;              /* n_out rows of the type */
    /* NULL, or where the factor is looked up and left, under the key
     * (cache_input, cache_layer): a different key empties it first */
    gptq_factor_cache *cache;
    int cache_input;
    int64_t cache_layer;
    /* out: tr(dW H dW^T) of each pass (second < 0 when not run), which was kept */
    double err[2];
    int kept;
} gptq_problem;

mvq_status gptq_solve(gptq_problem *p, mvq_pool *pool, mvq_error *err);

/* tr(dW H dW^T) for dW = w - deq (n_out rows of n_in), H n_in x n_in. */
mvq_status gptq_output_error(const float *w, const float *deq, int64_t n_out, int64_t n_in, const double *h,
                             mvq_pool *pool, double *out, mvq_error *err);

/* ---- the Hessians of one layer's inputs (gptq_hessian.c) ---- */
typedef struct gptq_hessians gptq_hessians;

gptq_hessians *gptq_hessians_new(const mvq_model *m, mvq_pool *pool, mvq_error *err);
void gptq_hessians_free(gptq_hessians *h);
/* The observer (user: the gptq_hessians): sums x x^T of the linear
 * inputs of the layer being observed. */
void gptq_hessians_observe(void *user, const mvq_observation *obs);
/* H = 2/n sum x x^T of the input feeding a tensor, n_in x n_in, or NULL
 * when none was observed for it (the embedding, another layer). */
const double *gptq_hessians_for(gptq_hessians *h, const char *tensor_name, int64_t n_in);

#endif
