/* GPTQ on one matrix (Frantar et al., 2022): the columns are rounded one
 * at a time, in decreasing diag H with act-order, each one's error spread
 * over the columns not yet rounded through the upper Cholesky factor U of
 * H^-1 (H damped); within a batch of columns row by row, onto the rest of
 * the matrix once per batch through the library's matrix product.  Each
 * weight is rounded onto the grid its ggml block got from the type's own
 * importance-weighted search before any column was rounded ("static
 * groups"), so act-order can visit the columns of a block in any order.
 * With refit, a second pass fits the grids to the first pass's updated
 * weights; the pass with the lower tr(dW H dW^T) is kept. */
#include "config.h"
#include "quant/methods/gptq_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct solve {
    gptq_problem *p;
    int64_t n;              /* n_in */
    size_t row_bytes;
    double *u;              /* n x n: the upper factor, columns permuted */
    int64_t *perm;          /* permuted column i is column perm[i] */
    uint8_t *dead;          /* n: columns whose input is always 0 */
    /* the slab of rows r0 .. r0 + rows - 1 being solved; the buffers below
     * hold its rows only, so a tall matrix (the output head) needs no
     * n_out x n_in work arrays beside its weights */
    int64_t r0, rows;
    const float *fit_from;  /* rows x n: the weights the grids are fitted to */
    float *wp;              /* rows x n: working weights, permuted */
    float *scale, *offset;  /* rows x n: grid of each weight, stored order */
    uint8_t *codes;         /* rows x n, stored order */
    float *deq;             /* rows x n: the values rounded to, stored order */
    float *updated;         /* rows x n: each weight as it was rounded (for the refit) */
    float *refit_from;      /* rows x n: the first pass's updated weights */
    float *e;               /* rows x block: scaled errors of the batch */
    float *ut;              /* (n - i2) x block: U's rows of the batch, transposed */
    float *y;               /* rows x (n - i2) */
    float *hf;              /* n x n: H in float, for the output error */
    float *d;               /* rows x n: w - deq, for the output error */
    char *dst;              /* the slab's rows of the pass */
    int64_t i1, i2;
} solve;

typedef struct {
    double diag;
    int64_t col;
} by_diag_item;

/* Decreasing diag H, then the stored order. */
static int by_diag(const void *a, const void *b)
{
    const by_diag_item *x = a, *y = b;
    return x->diag > y->diag ? -1 : x->diag < y->diag ? 1 : (x->col > y->col) - (x->col < y->col);
}

/* Damping, the order, dead columns; then U. */
static mvq_status prepare(solve *s, mvq_pool *pool, mvq_error *err)
{
    const gptq_problem *p = s->p;
    const int64_t n = s->n;
    double *h = malloc(sizeof *h * (size_t)(n * n)), *diag = malloc(sizeof *diag * (size_t)n);
    mvq_status st = MVQ_OK;
    if (!h || !diag) {
        st = mvq_error_set(err, MVQ_ERR_NOMEM, "gptq: out of memory for a Hessian of %lld", (long long)n);
        goto done;
    }
    double mean = 0;
    for (int64_t j = 0; j < n; j++) {
        diag[j] = p->hessian[j * n + j];
        s->dead[j] = diag[j] == 0;
        mean += diag[j];
    }
    mean /= (double)n;
    for (int64_t i = 0; i < n; i++)
        s->perm[i] = i;
    by_diag_item *items = p->params.act_order ? malloc(sizeof *items * (size_t)n) : NULL;
    if (items) {
        for (int64_t i = 0; i < n; i++)
            items[i] = (by_diag_item){diag[i], i};
        qsort(items, (size_t)n, sizeof *items, by_diag);
        for (int64_t i = 0; i < n; i++)
            s->perm[i] = items[i].col;
        free(items);
    }
    /* a failed factorisation (H not positive definite in double) retries
     * with ten times the damping */
    double damp = p->params.damp * (mean > 0 ? mean : 1.0);
    for (int attempt = 0;; attempt++) {
        for (int64_t i = 0; i < n; i++) {
            const int64_t pi = s->perm[i];
            for (int64_t j = 0; j < n; j++)
                h[i * n + j] = p->hessian[pi * n + s->perm[j]];
            if (s->dead[pi])
                h[i * n + i] = 1; /* as the reference: H_ii = 1, the weights zeroed */
            h[i * n + i] += damp;
        }
        if (gptq_inverse_factor(h, n, s->u, pool))
            break;
        if (attempt == 4) {
            st = mvq_error_set(err, MVQ_ERR_ARG, "gptq: the Hessian of %lld columns is not positive definite",
                               (long long)n);
            goto done;
        }
        damp = damp > 0 ? damp * 10 : 1e-6;
    }
done:
    free(h);
    free(diag);
    return st;
}

/* ---- one pass ---- */

static void fit_rows(void *arg, int ith, int nth)
{
    solve *s = arg;
    const gptq_problem *p = s->p;
    for (int64_t r = s->rows * ith / nth; r < s->rows * (ith + 1) / nth; r++) {
        char *row = s->dst + (size_t)r * s->row_bytes;
        p->fit(p->fit_user, s->r0 + r, s->fit_from + r * s->n, row);
        gptq_grid_read(p->grid, row, s->n, s->scale + r * s->n, s->offset + r * s->n);
    }
}

/* Columns i1..i2 of the slab's rows: rounded, and their errors spread within the batch. */
static void batch_rows(void *arg, int ith, int nth)
{
    solve *s = arg;
    const gptq_problem *p = s->p;
    const int64_t n = s->n, B = s->i2 - s->i1;
    for (int64_t r = s->rows * ith / nth; r < s->rows * (ith + 1) / nth; r++) {
        float *w = s->wp + r * n;
        const size_t o = (size_t)(r * n);
        for (int64_t i = s->i1; i < s->i2; i++) {
            const int64_t c = s->perm[i];
            const double *ui = s->u + i * n;
            float q;
            s->codes[o + c] = gptq_grid_round(p->grid, s->scale[o + c], s->offset[o + c], w[i], &q);
            s->deq[o + c] = q;
            s->updated[o + c] = w[i];
            const double e = ((double)w[i] - q) / ui[i];
            s->e[r * B + (i - s->i1)] = (float)e;
            for (int64_t k = i + 1; k < s->i2; k++)
                w[k] = (float)(w[k] - e * ui[k]);
        }
    }
}

static void apply_update(void *arg, int ith, int nth)
{
    solve *s = arg;
    const int64_t n = s->n, rest = n - s->i2;
    for (int64_t r = s->rows * ith / nth; r < s->rows * (ith + 1) / nth; r++)
        for (int64_t o = 0; o < rest; o++)
            s->wp[r * n + s->i2 + o] -= s->y[r * rest + o];
}

/* tr(d H d^T) over rows of d (rows x n), with hf = H in float; y: rows x n scratch. */
static mvq_status slab_error(const float *d, int64_t rows, int64_t n, const float *hf, float *y, mvq_pool *pool,
                             double *out, mvq_error *err)
{
    mvq_status st = mvq_matmul(pool, MVQ_TYPE_F32, hf, n, n, d, rows, y, err);
    double sum = 0;
    for (size_t i = 0; st == MVQ_OK && i < (size_t)(rows * n); i++)
        sum += (double)d[i] * y[i];
    *out = sum;
    return st;
}

/* One pass over the slab's rows: grids fitted to fit_from, columns rounded
 * in order into dst (the slab's rows of the type); adds the slab's
 * tr(dW H dW^T) to *out. */
static mvq_status one_pass(solve *s, const float *fit_from, char *dst, double *out, mvq_pool *pool,
                           mvq_error *err)
{
    const gptq_problem *p = s->p;
    const int64_t n = s->n, rows = s->rows, block = p->params.block > 0 ? p->params.block : 128;
    const float *w = p->w + s->r0 * n;
    s->fit_from = fit_from;
    s->dst = dst;
    gptq_run(pool, fit_rows, s, rows * n);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < n; i++)
            s->wp[r * n + i] = s->dead[s->perm[i]] ? 0.0f : w[r * n + s->perm[i]];
    for (s->i1 = 0; s->i1 < n; s->i1 = s->i2) {
        s->i2 = s->i1 + block < n ? s->i1 + block : n;
        gptq_run(pool, batch_rows, s, rows * (s->i2 - s->i1) * (s->i2 - s->i1));
        const int64_t B = s->i2 - s->i1, rest = n - s->i2;
        if (!rest)
            break;
        for (int64_t o = 0; o < rest; o++)
            for (int64_t k = 0; k < B; k++)
                s->ut[o * B + k] = (float)s->u[(s->i1 + k) * n + s->i2 + o];
        mvq_status st = mvq_matmul(pool, MVQ_TYPE_F32, s->ut, rest, B, s->e, rows, s->y, err);
        if (st != MVQ_OK)
            return st;
        gptq_run(pool, apply_update, s, rows * rest);
    }
    for (int64_t r = 0; r < rows; r++)
        gptq_grid_write(p->grid, dst + (size_t)r * s->row_bytes, n, s->codes + r * n);
    for (size_t i = 0; i < (size_t)(rows * n); i++)
        s->d[i] = w[i] - s->deq[i];
    double e = 0;
    mvq_status st = slab_error(s->d, rows, n, s->hf, s->y, pool, &e, err);
    *out += e;
    return st;
}

mvq_status gptq_output_error(const float *w, const float *deq, int64_t n_out, int64_t n_in, const double *h,
                             mvq_pool *pool, double *out, mvq_error *err)
{
    const size_t nw = (size_t)(n_out * n_in);
    float *d = malloc(sizeof *d * nw), *y = malloc(sizeof *y * nw), *hf = malloc(sizeof *hf * (size_t)(n_in * n_in));
    mvq_status st = MVQ_OK;
    if (!d || !y || !hf)
        st = mvq_error_set(err, MVQ_ERR_NOMEM, "gptq: out of memory for the output error");
    if (st == MVQ_OK) {
        for (size_t i = 0; i < nw; i++)
            d[i] = w[i] - deq[i];
        for (int64_t i = 0; i < n_in * n_in; i++)
            hf[i] = (float)h[i];
        st = slab_error(d, n_out, n_in, hf, y, pool, out, err);
    }
    free(d);
    free(y);
    free(hf);
    return st;
}

/* Rows per slab: about 2 Mi weights (each work array 8 MiB), at least 1. */
static int64_t slab_rows(const gptq_problem *p)
{
    if (p->params.slab_rows > 0)
        return p->params.slab_rows < p->n_out ? p->params.slab_rows : p->n_out;
    const int64_t rows = ((int64_t)2 << 20) / (p->n_in > 0 ? p->n_in : 1);
    return rows < 1 ? 1 : rows < p->n_out ? rows : p->n_out;
}

static void solve_free(solve *s)
{
    free(s->u);
    free(s->perm);
    free(s->wp);
    free(s->scale);
    free(s->offset);
    free(s->codes);
    free(s->deq);
    free(s->updated);
    free(s->refit_from);
    free(s->dead);
    free(s->e);
    free(s->ut);
    free(s->y);
    free(s->hf);
    free(s->d);
}

void gptq_factor_cache_clear(gptq_factor_cache *c)
{
    free(c->u);
    free(c->perm);
    free(c->dead);
    c->u = NULL;
    c->perm = NULL;
    c->dead = NULL;
}

static bool cache_hit(const gptq_problem *p)
{
    const gptq_factor_cache *c = p->cache;
    return c && c->u && c->input == p->cache_input && c->layer == p->cache_layer && c->hessian == p->hessian &&
           c->n == p->n_in && c->damp == p->params.damp && c->act_order == p->params.act_order;
}

mvq_status gptq_solve(gptq_problem *p, mvq_pool *pool, mvq_error *err)
{
    const int64_t n = p->n_in, n_out = p->n_out, block = p->params.block > 0 ? p->params.block : 128;
    const int64_t slab = slab_rows(p);
    const size_t nw = (size_t)(n * slab);
    solve s = {.p = p, .n = n, .row_bytes = mvq_row_size(p->grid->type, n)};
    const bool hit = cache_hit(p);
    if (hit) { /* the cache's factor, borrowed: it is only read */
        s.u = p->cache->u;
        s.perm = p->cache->perm;
        s.dead = p->cache->dead;
        p->cache->hits++;
    } else {
        if (p->cache) /* another input's factor: not needed again */
            gptq_factor_cache_clear(p->cache);
        s.u = malloc(sizeof *s.u * (size_t)(n * n));
        s.perm = malloc(sizeof *s.perm * (size_t)n);
        s.dead = malloc((size_t)n);
    }
    s.wp = malloc(sizeof *s.wp * nw);
    s.scale = malloc(sizeof *s.scale * nw);
    s.offset = malloc(sizeof *s.offset * nw);
    s.codes = malloc(nw);
    s.deq = malloc(sizeof *s.deq * nw);
    s.updated = malloc(sizeof *s.updated * nw);
    s.refit_from = p->params.refit ? malloc(sizeof *s.refit_from * nw) : NULL;
    s.e = malloc(sizeof *s.e * (size_t)(slab * block));
    s.ut = malloc(sizeof *s.ut * (size_t)(n * block));
    s.y = malloc(sizeof *s.y * nw);
    s.d = malloc(sizeof *s.d * nw);
    /* the second pass's rows, in the type's bytes (a fraction of the weights) */
    char *second = p->params.refit ? malloc(s.row_bytes * (size_t)n_out) : NULL;
    mvq_status st = MVQ_OK;
    p->err[0] = p->err[1] = -1;
    p->kept = 0;
    if (!s.u || !s.perm || !s.wp || !s.scale || !s.offset || !s.codes || !s.deq || !s.updated || !s.dead || !s.e ||
        !s.ut || !s.y || !s.d || (p->params.refit && (!second || !s.refit_from)) || !s.row_bytes) {
        st = mvq_error_set(err, MVQ_ERR_NOMEM, "gptq: out of memory for a matrix of %lld x %lld", (long long)n_out,
                           (long long)n);
        goto done;
    }
    /* H in float only after prepare has freed its double copy: the peak
     * for a wide input (ffn_down) is H, that copy and U */
    if (!hit)
        st = prepare(&s, pool, err);
    if (st == MVQ_OK && !(s.hf = malloc(sizeof *s.hf * (size_t)(n * n))))
        st = mvq_error_set(err, MVQ_ERR_NOMEM, "gptq: out of memory for a Hessian of %lld", (long long)n);
    for (int64_t i = 0; st == MVQ_OK && i < n * n; i++)
        s.hf[i] = (float)p->hessian[i];
    double err0 = 0, err1 = 0;
    /* rows are independent given U: each slab runs both passes */
    for (s.r0 = 0; st == MVQ_OK && s.r0 < n_out; s.r0 += s.rows) {
        s.rows = n_out - s.r0 < slab ? n_out - s.r0 : slab;
        char *dst0 = (char *)p->dst + (size_t)s.r0 * s.row_bytes;
        st = one_pass(&s, p->w + s.r0 * n, dst0, &err0, pool, err);
        if (st == MVQ_OK && second) {
            memcpy(s.refit_from, s.updated, sizeof *s.updated * (size_t)(s.rows * n));
            st = one_pass(&s, s.refit_from, second + (size_t)s.r0 * s.row_bytes, &err1, pool, err);
        }
    }
    if (st == MVQ_OK) {
        p->err[0] = err0;
        p->err[1] = second ? err1 : -1;
        if (second && err1 < err0) {
            memcpy(p->dst, second, s.row_bytes * (size_t)n_out);
            p->kept = 1;
        }
    }
done:
    if (p->cache && (hit || st == MVQ_OK)) { /* the factor stays in the cache, not freed here */
        gptq_factor_cache *c = p->cache;
        if (!hit)
            *c = (gptq_factor_cache){.input = p->cache_input, .layer = p->cache_layer, .hessian = p->hessian,
                                     .n = n, .damp = p->params.damp, .act_order = p->params.act_order,
                                     .u = s.u, .perm = s.perm, .dead = s.dead, .hits = c->hits};
        s.u = NULL;
        s.perm = NULL;
        s.dead = NULL;
    }
    solve_free(&s);
    free(second);
    return st;
}
