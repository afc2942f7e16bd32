/* GPTQ (Frantar et al., 2022) into the ggml block types, layer by layer:
 * the job runs the calibration tokens through the model one layer at a
 * time with the Hessian observer on, and quantizes each layer's tensors
 * from that layer's Hessians (gptq_solve.c).  Every grid is the one RTN's
 * search fits, with the importance diag H / 2 (the mean square of the
 * input, as RTN's importance); tensors without a Hessian (the embedding,
 * no calibration) and types without a grid (F16, ...) are rounded to
 * nearest as RTN does.
 *
 * Options ("key=value", mvq_quantize_opts.method_opts): damp (0.01),
 * block (128), act_order (1), refit (1). */
#include "config.h"
#include "quant/calib/calib_internal.h"
#include "quant/methods/gptq_internal.h"
#include "quant/methods/methods_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct gptq_state {
    gptq_hessians *h;
    gptq_params params;
    gptq_factor_cache factor; /* attn_q's for attn_k and attn_v, ffn_gate's for ffn_up */
} gptq_state;

static const gptq_params defaults = {.damp = 0.01, .block = 128, .act_order = true, .refit = true};

static bool parse_number(const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi))
        return false;
    *out = x;
    return true;
}

static mvq_status parse_opts(const char *const *opts, gptq_params *p, mvq_error *err)
{
    *p = defaults;
    for (; opts && *opts; opts++) {
        const char *eq = strchr(*opts, '=');
        const size_t klen = eq ? (size_t)(eq - *opts) : strlen(*opts);
        const char *v = eq ? eq + 1 : "";
        double x;
        bool ok;
        if (klen == 4 && !strncmp(*opts, "damp", 4))
            ok = parse_number(v, 0, 1e6, &p->damp);
        else if (klen == 5 && !strncmp(*opts, "block", 5) && (ok = parse_number(v, 1, 1 << 20, &x)))
            p->block = (int)x, ok = x == floor(x);
        else if (klen == 9 && !strncmp(*opts, "act_order", 9) && (ok = parse_number(v, 0, 1, &x)))
            p->act_order = x != 0;
        else if (klen == 5 && !strncmp(*opts, "refit", 5) && (ok = parse_number(v, 0, 1, &x)))
            p->refit = x != 0;
        else
            return mvq_error_set(err, MVQ_ERR_ARG, "gptq: unknown option '%.40s' (damp, block, act_order, refit)",
                                 *opts);
        if (!ok)
            return mvq_error_set(err, MVQ_ERR_ARG, "gptq: bad value in '%.60s'", *opts);
    }
    return MVQ_OK;
}

static void *gptq_begin(const mvq_model *m, const char *const *opts, mvq_pool *pool, mvq_error *err)
{
    gptq_state *s = calloc(1, sizeof *s);
    if (!s) {
        mvq_error_set(err, MVQ_ERR_NOMEM, "gptq: out of memory");
        return NULL;
    }
    if (parse_opts(opts, &s->params, err) != MVQ_OK || !(s->h = gptq_hessians_new(m, pool, err))) {
        free(s);
        return NULL;
    }
    return s;
}

static void gptq_end(void *state)
{
    gptq_state *s = state;
    if (s) {
        gptq_hessians_free(s->h);
        gptq_factor_cache_clear(&s->factor);
    }
    free(s);
}

static void gptq_observe(void *user, const mvq_observation *obs)
{
    gptq_hessians_observe(((gptq_state *)user)->h, obs);
}

typedef struct fit_ctx {
    const mvq_method_tensor *t;
    mvq_rtn_row k;
    const float *importance;
} fit_ctx;

/* RTN's grid of a row; thread-safe (scratch on the stack or malloc'd). */
static void fit_row(void *user, int64_t row, const float *x, void *dst)
{
    const fit_ctx *f = user;
    const int64_t n = f->k.n;
    float *scratch = malloc(sizeof *scratch * (size_t)(2 * n));
    void *cand = malloc(f->k.row_bytes);
    const bool careful = f->t->protected_rows && f->t->protected_rows[row];
    if (scratch && cand)
        mvq_rtn_quantize_row(&f->k, x, dst, f->importance, careful, scratch, cand);
    else
        f->k.quantize(x, dst, n, f->importance); /* no room for the careful search */
    free(scratch);
    free(cand);
}

/* rel_err and protected_rel_err of the rows in t->dst, as RTN reports them. */
static mvq_status report_errors(mvq_method_tensor *t, const mvq_rtn_row *k, mvq_error *err)
{
    float *deq = malloc(sizeof *deq * (size_t)t->n_in);
    if (!deq)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "gptq: out of memory");
    double e_all = 0, r_all = 0, e_p = 0, r_p = 0, e, r;
    for (int64_t row = 0; row < t->n_out; row++) {
        const float *x = t->rows + (size_t)row * (size_t)t->n_in;
        k->to_float((const char *)t->dst + (size_t)row * k->row_bytes, deq, t->n_in);
        mvq_weighted_error(x, deq, t->importance, t->n_in, &e, &r);
        e_all += e, r_all += r;
        if (t->protected_rows && t->protected_rows[row])
            e_p += e, r_p += r;
    }
    free(deq);
    t->rel_err = r_all > 0 ? sqrt(e_all / r_all) : 0.0;
    t->protected_rel_err = r_p > 0 ? sqrt(e_p / r_p) : -1.0;
    return MVQ_OK;
}

static mvq_status gptq_quantize(mvq_method_tensor *t, mvq_pool *pool, mvq_error *err)
{
    gptq_state *s = t->layer_state;
    const double *H = s ? gptq_hessians_for(s->h, t->name, t->n_in) : NULL;
    gptq_grid grid;
    fit_ctx f = {.t = t};
    t->out_err[0] = t->out_err[1] = -1;
    t->out_err_kept = 0;
    t->no_stats = !H;
    if (!H || !gptq_grid_init(&grid, t->type) || !mvq_rtn_row_init(&f.k, t->type, t->n_in))
        return mvq_method_rtn.quantize(t, pool, err);
    float *importance = malloc(sizeof *importance * (size_t)t->n_in);
    if (!importance)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "gptq: out of memory");
    for (int64_t j = 0; j < t->n_in; j++)
        importance[j] = (float)(H[j * t->n_in + j] / 2); /* mean x^2 */
    f.importance = importance;
    /* the inputs two or three matrices share keep their factor for the next;
     * the others drop whatever the cache holds (ffn_down's is the largest) */
    int64_t layer;
    const int input = mvq_calib_tensor_input(t->name, &layer);
    const bool shared = input == MVQ_CALIB_ATTN_IN || input == MVQ_CALIB_FFN_IN;
    if (!shared)
        gptq_factor_cache_clear(&s->factor);
    gptq_problem p = {
        .grid = &grid, .n_in = t->n_in, .n_out = t->n_out, .w = t->rows, .hessian = H, .params = s->params,
        .fit = fit_row, .fit_user = &f, .dst = t->dst,
        .cache = shared ? &s->factor : NULL, .cache_input = input, .cache_layer = layer,
    };
    mvq_status st = gptq_solve(&p, pool, err);
    free(importance);
    if (st != MVQ_OK)
        return st;
    t->out_err[0] = p.err[0];
    t->out_err[1] = p.err[1];
    t->out_err_kept = p.kept;
    return report_errors(t, &f.k, err);
}

static const mvq_method_layerwise gptq_layerwise = {
    .taps = MVQ_TAP_LINEAR_INPUTS,
    .begin = gptq_begin,
    .observe = gptq_observe,
    .end = gptq_end,
};

const mvq_method mvq_method_gptq = {
    .name = "gptq",
    .about = "GPTQ: columns rounded in turn, errors spread by the inverse Hessian (layer by layer)",
    .needs = MVQ_NEED_IMPORTANCE | MVQ_NEED_HESSIAN,
    .prepare = NULL,
    .quantize = gptq_quantize,
    .layerwise = &gptq_layerwise,
};
