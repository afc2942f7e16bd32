/* AWQ (Lin et al., 2023): activation-aware per-column scales, searched per
 * group of linears on a sample of the calibration tokens and folded into
 * the model (norms, attn_v and ffn_up rows), then RTN.
 *
 * For each layer, the sample's residual stream entering it is kept (an
 * observer on the layer-by-layer pass); for each group (attn_norm ->
 * attn_q/k/v; attn_v -> attn_output when heads are not shared; ffn_norm ->
 * ffn_gate/up; ffn_up -> ffn_down) and ratio r in {0, 0.05, ..., 0.95}:
 * s = mean|x|^r (duo: / mean|w|^(1-r)), clamped >= 1e-4 and divided by
 * sqrt(max s * min s); the group's linears become Q(W s) / s, quantized
 * as the job will (the plan's type, importance / s^2, protected rows with
 * care), and the layer runs on the sample: the squared error of its output
 * against the original layer's is the loss.  The best r is kept (r = 0 is
 * plain RTN, so the search never loses on the sample).
 * After a layer's scales, its linears but attn_q/attn_k get the reference's
 * clipping search (awq_clip.c).
 * Options: tokens (2048), duo (0), massive (0), clip (1).  The sample's size by
 * measurement (q4_0, massive ignored, 96 eval chunks, mean KLD; RTN
 * 0.004112 / 0.065776): tinyrope-3M 512 tokens 0.004191, 2048 0.004066,
 * 8192 0.004022; stories260K 0.065341, 0.064059, 0.061683; the search's
 * time grows with the tokens, so 2048 is the default for a CPU. */
#include "config.h"
#include "quant/calib/calib_internal.h"
#include "quant/methods/awq_internal.h"
#include "quant/methods/scales_internal.h"
#include "quant/model/layer_internal.h"
#include "quant/quant_internal.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define AWQ_GRID 20
/* The weight of the massive Q/K error under --protect-massive (option
 * massive).  0 by measurement: 1 and 10 moved the mean KLD by under 0.3%
 * (inside its error) on both fixtures at q4_k_m and q4_0, 96 chunks, as
 * protection already raises attn_q/attn_k of those layers to Q8_0. */
#define AWQ_MASSIVE_WEIGHT 0.0

typedef struct awq {
    const mvq_method_context *ctx;
    const mvq_model *m;
    double duo;
    int64_t n_tokens, n_ctx;
    float *resid;       /* the layer's input over the sample */
    int64_t filled, layer_seen;
    float *ref;         /* the original layer's output */
    float *x;           /* one sequence being run */
    mvq_layer_runner run;
    mvq_transform_list *out;
    /* with massive (> 0, --protect-massive): the loss adds massive times the
     * relative squared error of Q and K (after RoPE) on the massive
     * dimensions and their RoPE partners */
    double massive;
    mvq_massive_map mm;
    mvq_observers obs;
    int64_t n_dims[2], *dims[2];   /* per Q, K: flagged dims of this layer */
    float *qk_ref[2];              /* [token][flagged dim] of the original layer */
    double qk_err, qk_norm, out_norm;        /* a run's squared error; the reference's sum of squares */
    bool recording;                /* the reference run: Q/K and the Gram blocks recorded */
    int64_t qk_at;                 /* the sample row of the run's sequence */
    /* with clip: per linear input (mvq_calib_input), the reference run's Gram blocks */
    bool clip;
    awq_gram gram[MVQ_CALIB_OUTPUT_IN];
    /* one group's buffers */
    float *w[3], *cand[3], *imp[3], *scale, *x_mean, *w_mean;
} awq;

static void observe(void *user, const mvq_observation *obs)
{
    awq *a = user;
    const int64_t E = a->m->hp.n_embd;
    if (obs->tap != MVQ_TAP_RESIDUAL)
        return;
    if (obs->layer != a->layer_seen)
        a->layer_seen = obs->layer, a->filled = 0;
    int64_t n = obs->n_tokens;
    if (a->filled + n > a->n_tokens)
        n = a->n_tokens - a->filled;
    memcpy(a->resid + a->filled * E, obs->data, sizeof(float) * (size_t)(n * E));
    a->filled += n;
}

/* Q and K on the massive dims: recorded on the reference run, compared after. */
static void observe_qk(void *user, const mvq_observation *obs)
{
    awq *a = user;
    const int w = obs->tap == MVQ_TAP_K;
    const int64_t nd = a->n_dims[w];
    for (int64_t t = 0; t < obs->n_tokens; t++)
        for (int64_t k = 0; k < nd; k++) {
            const float v = obs->data[t * obs->dim + a->dims[w][k]];
            float *ref = &a->qk_ref[w][(a->qk_at + t) * nd + k];
            if (a->recording) {
                *ref = v;
                a->qk_norm += (double)v * v;
            } else {
                a->qk_err += ((double)v - *ref) * ((double)v - *ref);
            }
        }
}

/* The inputs of the linears, into their Gram blocks, on the reference run. */
static void observe_inputs(void *user, const mvq_observation *obs)
{
    awq *a = user;
    const mvq_calib_input in = obs->tap == MVQ_TAP_ATTN_IN ? MVQ_CALIB_ATTN_IN
                               : obs->tap == MVQ_TAP_ATTN_OUT ? MVQ_CALIB_ATTN_OUT
                               : obs->tap == MVQ_TAP_FFN_IN ? MVQ_CALIB_FFN_IN : MVQ_CALIB_FFN_DOWN_IN;
    if (a->recording && a->gram[in].n == obs->dim)
        awq_gram_add(&a->gram[in], obs->data, obs->n_tokens);
}

/* The flagged Q and K dims of layer il (none without massive). */
static mvq_status massive_dims_of(awq *a, int64_t il, mvq_error *err)
{
    const mvq_hparams *hp = &a->m->hp;
    a->n_dims[0] = a->n_dims[1] = 0;
    if (a->massive <= 0 || !a->mm.q)
        return MVQ_OK;
    for (int w = 0; w < 2; w++) {
        const int64_t n = (w ? hp->n_head_kv : hp->n_head) * hp->head_dim;
        uint8_t *rows = malloc((size_t)n);
        if (!rows || !(a->dims[w] = realloc(a->dims[w], sizeof(int64_t) * (size_t)n)) ||
            !(a->qk_ref[w] = realloc(a->qk_ref[w], sizeof(float) * (size_t)(n * a->n_tokens)))) {
            free(rows);
            return mvq_error_set(err, MVQ_ERR_NOMEM, "awq: out of memory");
        }
        int got = mvq_massive_rows(&a->mm, hp, il, w ? MVQ_LINEAR_K : MVQ_LINEAR_Q, rows, n);
        for (int64_t d = 0; got && d < n; d++)
            if (rows[d])
                a->dims[w][a->n_dims[w]++] = d;
        free(rows);
    }
    return MVQ_OK;
}

/* Runs layer il with weights L over the sample: into ref, or (ref NULL)
 * returning the squared error of the output against a->ref. */
static mvq_status run_sample(awq *a, const mvq_layer *L, int64_t il, float *ref, double *loss, mvq_error *err)
{
    const int64_t E = a->m->hp.n_embd;
    double e = 0, e_ref = 0;
    a->recording = ref != NULL;
    a->qk_err = 0;
    if (ref)
        a->qk_norm = 0;
    for (int64_t at = 0; at < a->n_tokens; at += a->n_ctx) {
        const int64_t n = a->n_tokens - at < a->n_ctx ? a->n_tokens - at : a->n_ctx;
        float *x = ref ? ref + at * E : a->x;
        memcpy(x, a->resid + at * E, sizeof(float) * (size_t)(n * E));
        a->qk_at = at;
        mvq_status st = mvq_layer_run(&a->run.pass, L, il, x, n, err);
        if (st != MVQ_OK)
            return st;
        for (int64_t i = 0; !ref && i < n * E; i++) {
            const double d = (double)x[i] - a->ref[at * E + i];
            e += d * d;
        }
        for (int64_t i = 0; ref && i < n * E; i++)
            e_ref += (double)x[i] * x[i];
    }
    if (ref)
        a->out_norm = e_ref;
    /* relative errors, so that massive weighs the two parts alike */
    *loss = e / (a->out_norm > 0 ? a->out_norm : 1);
    if (a->n_dims[0] + a->n_dims[1] && a->qk_norm > 0)
        *loss += a->massive * a->qk_err / a->qk_norm;
    return MVQ_OK;
}

/* The plan of the tensor named so, or NULL. */
static const mvq_tensor_plan *plan_of(const mvq_method_context *ctx, const char *name)
{
    for (int64_t i = 0; name && i < ctx->n_tensors; i++)
        if (strcmp(mvq_gguf_tensor_at(ctx->in, i)->name.data, name) == 0)
            return &ctx->tensors[i];
    return NULL;
}

static bool quantized(const mvq_tensor_plan *tp)
{
    const mvq_type_traits *tr = tp && tp->quantize ? mvq_type_traits_get(tp->type) : NULL;
    return tr && tr->is_quantized;
}

/* One linear's candidate Q(W s) / s, rows over the pool. */
typedef struct cand_share {
    const mvq_tensor_plan *tp;
    mvq_rtn_row k;
    const float *w, *imp, *scale;
    float *out;
    int64_t n_out;
    atomic_bool nomem;
} cand_share;

static void cand_rows(void *arg, int ith, int nth)
{
    cand_share *c = arg;
    const int64_t n = c->k.n, r0 = c->n_out * ith / nth, r1 = c->n_out * (ith + 1) / nth;
    float *buf = malloc(sizeof(float) * (size_t)n * 3);
    void *q = malloc(c->k.row_bytes), *spare = malloc(c->k.row_bytes);
    if (!buf || !q || !spare) {
        atomic_store(&c->nomem, true);
    } else {
        for (int64_t r = r0; r < r1; r++) {
            for (int64_t j = 0; j < n; j++)
                buf[2 * n + j] = c->w[r * n + j] * c->scale[j];
            const bool careful = c->tp->protected_rows && c->tp->protected_rows[r];
            mvq_rtn_quantize_row(&c->k, buf + 2 * n, q, c->imp, careful, buf, spare);
            c->k.to_float(q, c->out + r * n, n);
            for (int64_t j = 0; j < n; j++)
                c->out[r * n + j] /= c->scale[j];
        }
    }
    free(buf);
    free(q);
    free(spare);
}

static mvq_status candidate(awq *a, const mvq_tensor_plan *tp, const mvq_weight *w, const float *wf,
                            const float *imp, float *imp_s, float *out, mvq_error *err)
{
    cand_share c = { .tp = tp, .w = wf, .imp = imp ? imp_s : NULL, .scale = a->scale, .out = out, .n_out = w->n_out };
    if (!mvq_rtn_row_init(&c.k, tp->type, w->n_in))
        return mvq_error_set(err, MVQ_ERR_UNSUPPORTED, "awq: %s: cannot quantize rows of %lld to %s", w->name,
                             (long long)w->n_in, mvq_type_name(tp->type));
    for (int64_t j = 0; imp && j < w->n_in; j++)
        imp_s[j] = imp[j] / (a->scale[j] * a->scale[j]);
    mvq_pool *pool = a->ctx->opts->pool;
    if (pool && w->n_out > 1)
        mvq_pool_run(pool, cand_rows, &c);
    else
        cand_rows(&c, 0, 1);
    return atomic_load(&c.nomem) ? mvq_error_set(err, MVQ_ERR_NOMEM, "awq: out of memory quantizing %s", w->name) : MVQ_OK;
}

/* s for ratio r (the reference's formula). */
static void ratio_scales(awq *a, int64_t n, double r)
{
    double hi = 0, lo = INFINITY;
    for (int64_t j = 0; j < n; j++) {
        double s = pow(a->x_mean[j], r);
        if (a->duo)
            s /= pow(a->w_mean[j], 1 - r) + 1e-4;
        s = fmax(s, 1e-4);
        a->scale[j] = (float)s;
        hi = fmax(hi, s);
        lo = fmin(lo, s);
    }
    const double norm = sqrt(hi * lo);
    for (int64_t j = 0; j < n; j++)
        a->scale[j] = (float)(a->scale[j] / norm);
}

/* mean over rows of |W[r][j]| / max |W[r][block of j]| (duo's weight term). */
static void weight_means(awq *a, const mvq_weight *const *w, int n_lin, int64_t n, int64_t block)
{
    int64_t rows = 0;
    memset(a->w_mean, 0, sizeof(float) * (size_t)n);
    for (int k = 0; k < n_lin; k++) {
        for (int64_t r = 0; r < w[k]->n_out; r++)
            for (int64_t j0 = 0; j0 < n; j0 += block) {
                const float *row = a->w[k] + r * n;
                float mx = 0;
                for (int64_t j = j0; j < j0 + block && j < n; j++)
                    mx = fmaxf(mx, fabsf(row[j]));
                for (int64_t j = j0; j < j0 + block && j < n; j++)
                    a->w_mean[j] += mx > 0 ? fabsf(row[j]) / mx : 0;
            }
        rows += w[k]->n_out;
    }
    for (int64_t j = 0; j < n; j++)
        a->w_mean[j] /= (float)rows;
}

static mvq_status search_group(awq *a, const mvq_layer *L, int64_t il, mvq_calib_input input, mvq_error *err)
{
    const mvq_calib *c = a->ctx->calib;
    const mvq_quantize_opts *o = a->ctx->opts;
    mvq_linear lin[3];
    const int n_lin = mvq_scale_group_linears(input, lin);
    const int64_t n = mvq_calib_input_dim(c, input);
    const mvq_weight *w[3];
    const mvq_tensor_plan *tp[3];
    bool any = false;
    int64_t block = 32;
    for (int k = 0; k < n_lin; k++) {
        w[k] = &L->linear[lin[k]];
        tp[k] = plan_of(a->ctx, w[k]->name);
        if (!w[k]->data || w[k]->n_in != n || !tp[k])
            return MVQ_OK; /* not this model's shape: no scales */
        if (quantized(tp[k]))
            any = true, block = mvq_type_traits_get(tp[k]->type)->block_size;
    }
    if (!any)
        return MVQ_OK;
    mvq_status st = MVQ_OK;
    for (int k = 0; k < n_lin && st == MVQ_OK; k++) {
        free(a->w[k]);
        free(a->cand[k]);
        a->cand[k] = malloc(sizeof(float) * (size_t)(n * w[k]->n_out));
        if (!(a->w[k] = mvq_weight_f32(w[k], err)) || !a->cand[k])
            st = mvq_error_set(err, MVQ_ERR_NOMEM, "awq: out of memory");
    }
    float *imp_s = malloc(sizeof(float) * (size_t)n);
    bool has_imp[3] = { false, false, false };
    for (int k = 0; k < n_lin && st == MVQ_OK; k++)
        has_imp[k] = (!o->use_importance || o->use_importance(o->user, w[k]->name)) &&
                     mvq_calib_importance(c, w[k]->name, a->imp[k], n);
    if (st == MVQ_OK && !mvq_calib_column_stat(c, input, il, MVQ_CALIB_MEAN_ABS, a->x_mean))
        st = mvq_error_set(err, MVQ_ERR_ARG, "awq: no mean |x| for layer %lld's input %d", (long long)il, (int)input);
    if (st == MVQ_OK && a->duo)
        weight_means(a, w, n_lin, n, block);
    mvq_layer Lc = *L;
    double best = INFINITY;
    int best_k = 0;
    for (int g = 0; g < AWQ_GRID && st == MVQ_OK && imp_s; g++) {
        ratio_scales(a, n, (double)g / AWQ_GRID);
        for (int k = 0; k < n_lin && st == MVQ_OK; k++) {
            if (!quantized(tp[k]))
                continue;
            st = candidate(a, tp[k], w[k], a->w[k], has_imp[k] ? a->imp[k] : NULL, imp_s, a->cand[k], err);
            Lc.linear[lin[k]] = (mvq_weight){ .name = w[k]->name, .type = MVQ_TYPE_F32, .data = a->cand[k],
                                              .n_in = n, .n_out = w[k]->n_out };
        }
        double loss = 0;
        if (st == MVQ_OK)
            st = run_sample(a, &Lc, il, NULL, &loss, err);
        if (st == MVQ_OK && loss < best)
            best = loss, best_k = g;
    }
    if (!imp_s && st == MVQ_OK)
        st = mvq_error_set(err, MVQ_ERR_NOMEM, "awq: out of memory");
    free(imp_s);
    if (st != MVQ_OK || best_k == 0)
        return st; /* r = 0: all scales 1, nothing to fold */
    mvq_transform *t = mvq_transform_add(a->out, il, input, n);
    if (!t)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "awq: out of memory");
    ratio_scales(a, n, (double)best_k / AWQ_GRID);
    memcpy(t->scale, a->scale, sizeof(float) * (size_t)n);
    return MVQ_OK;
}

/* The transform this search made for (il, input), or NULL. */
static const float *scales_of(const awq *a, int64_t il, mvq_calib_input input)
{
    for (int64_t k = 0; k < a->out->n; k++)
        if (a->out->items[k].layer == il && a->out->items[k].input == input)
            return a->out->items[k].scale;
    return NULL;
}

/* The clipping of one linear of layer il with the scales found for it. */
static mvq_status clip_linear(awq *a, const mvq_layer *L, int64_t il, mvq_linear lin, mvq_error *err)
{
    static const mvq_calib_input reads[] = { [MVQ_LINEAR_V] = MVQ_CALIB_ATTN_IN, [MVQ_LINEAR_O] = MVQ_CALIB_ATTN_OUT,
                                             [MVQ_LINEAR_GATE] = MVQ_CALIB_FFN_IN, [MVQ_LINEAR_UP] = MVQ_CALIB_FFN_IN,
                                             [MVQ_LINEAR_DOWN] = MVQ_CALIB_FFN_DOWN_IN };
    const mvq_weight *w = &L->linear[lin];
    const mvq_tensor_plan *tp = plan_of(a->ctx, w->name);
    const awq_gram *g = &a->gram[reads[lin]];
    if (!w->data || !quantized(tp) || w->n_in != g->n)
        return MVQ_OK;
    const mvq_quantize_opts *o = a->ctx->opts;
    float *wf = mvq_weight_f32(w, err);
    if (!wf)
        return MVQ_ERR_NOMEM;
    const bool has_imp = (!o->use_importance || o->use_importance(o->user, w->name)) &&
                         mvq_calib_importance(a->ctx->calib, w->name, a->imp[0], w->n_in);
    const size_t size = sizeof(float) * (size_t)(w->n_out * w->n_in);
    awq_clip_in in = {
        .tp = tp, .w = wf, .n_out = w->n_out, .n_in = w->n_in, .col_scale = scales_of(a, il, reads[lin]),
        .row_div = lin == MVQ_LINEAR_V ? scales_of(a, il, MVQ_CALIB_ATTN_OUT)
                   : lin == MVQ_LINEAR_UP ? scales_of(a, il, MVQ_CALIB_FFN_DOWN_IN) : NULL,
        .imp = has_imp ? a->imp[0] : NULL, .gram = g, .deq = { malloc(size), malloc(size) },
    };
    mvq_clip *c = in.deq[0] && in.deq[1] ? mvq_clip_add(a->out, il, lin, w->n_out, w->n_in, AWQ_CLIP_GROUP) : NULL;
    double gain = 0, loss[2] = { 0, 0 };
    mvq_status st = c ? awq_clip_search(&in, o->pool, c, &gain, err)
                      : mvq_error_set(err, MVQ_ERR_NOMEM, "awq: out of memory");
    /* the groups' own errors leave out their cross terms and what follows
     * the linear: the layer's output on the sample, with this linear
     * rounded without and with the clipping, decides */
    mvq_layer Lc = *L;
    for (int k = 0; k < 2 && st == MVQ_OK && gain > 0; k++) {
        Lc.linear[lin] = (mvq_weight){ .name = w->name, .type = MVQ_TYPE_F32, .data = in.deq[k], .n_in = w->n_in,
                                       .n_out = w->n_out };
        st = run_sample(a, &Lc, il, NULL, &loss[k], err);
    }
    free(wf);
    free(in.deq[0]);
    free(in.deq[1]);
    if (st == MVQ_OK && (gain <= 0 || loss[1] >= loss[0])) { /* no clipping: no entry */
        free(c->max);
        a->out->n_clips--;
    }
    return st;
}

static mvq_status layer_done(void *user, int64_t il, mvq_layer *L, mvq_error *err)
{
    awq *a = user;
    const mvq_hparams *hp = &a->m->hp;
    double unused;
    for (int i = 0; a->clip && i < MVQ_CALIB_OUTPUT_IN; i++)
        awq_gram_reset(&a->gram[i]);
    mvq_status st = massive_dims_of(a, il, err);
    if (st == MVQ_OK)
        st = run_sample(a, L, il, a->ref, &unused, err);
    static const mvq_calib_input groups[] = { MVQ_CALIB_ATTN_IN, MVQ_CALIB_ATTN_OUT, MVQ_CALIB_FFN_IN,
                                              MVQ_CALIB_FFN_DOWN_IN };
    for (size_t g = 0; g < sizeof groups / sizeof groups[0] && st == MVQ_OK; g++) {
        /* attn_v's rows are shared by several heads under GQA: no v -> o scales (as the reference) */
        if (groups[g] == MVQ_CALIB_ATTN_OUT && hp->n_head != hp->n_head_kv)
            continue;
        st = search_group(a, L, il, groups[g], err);
    }
    /* not attn_q/attn_k: the reference skips them "because of the Q.K product" */
    static const mvq_linear clipped[] = { MVQ_LINEAR_V, MVQ_LINEAR_O, MVQ_LINEAR_GATE, MVQ_LINEAR_UP, MVQ_LINEAR_DOWN };
    for (size_t k = 0; a->clip && k < sizeof clipped / sizeof clipped[0] && st == MVQ_OK; k++)
        st = clip_linear(a, L, il, clipped[k], err);
    return st;
}

static void awq_free(awq *a)
{
    free(a->resid);
    free(a->ref);
    free(a->x);
    for (int k = 0; k < 3; k++) {
        free(a->w[k]);
        free(a->cand[k]);
        free(a->imp[k]);
    }
    free(a->scale);
    free(a->x_mean);
    free(a->w_mean);
    for (int w = 0; w < 2; w++) {
        free(a->dims[w]);
        free(a->qk_ref[w]);
    }
    for (int i = 0; i < MVQ_CALIB_OUTPUT_IN; i++)
        awq_gram_free(&a->gram[i]);
    mvq_massive_map_free(&a->mm);
    mvq_layer_runner_free(&a->run);
}

static mvq_status awq_prepare(const mvq_method_context *ctx, mvq_transform_list *out, mvq_error *err)
{
    const mvq_quantize_opts *o = ctx->opts;
    double tokens = 2048, duo = 0, massive = AWQ_MASSIVE_WEIGHT, clip = 1;
    const mvq_scale_opt spec[] = { { "tokens", 16, 1 << 24, &tokens }, { "duo", 0, 1, &duo },
                                   { "massive", 0, 1e6, &massive }, { "clip", 0, 1, &clip } };
    mvq_status st = mvq_scale_opts_parse("awq", o ? o->method_opts : NULL, spec, 4, err);
    if (st != MVQ_OK)
        return st;
    if (!o || !o->calib_tokens || o->n_calib_tokens <= 0)
        return mvq_error_set(err, MVQ_ERR_ARG, "awq: its scale search needs calibration tokens");
    if (!mvq_calib_has_norms(ctx->calib))
        return mvq_error_set(err, MVQ_ERR_ARG, "awq: needs mean |x| statistics (not an imported importance matrix)");
    mvq_model *m = mvq_model_from_gguf(ctx->in, err);
    if (!m)
        return err ? err->status : MVQ_ERR_FORMAT;
    const mvq_hparams *hp = &m->hp;
    awq a = { .ctx = ctx, .m = m, .duo = duo, .out = out, .layer_seen = -1, .clip = clip != 0,
              .massive = o->protect_massive ? massive : 0 };
    a.n_tokens = o->n_calib_tokens < (int64_t)tokens ? o->n_calib_tokens : (int64_t)tokens;
    a.n_ctx = o->calib_ctx > 0 ? o->calib_ctx : mvq_calib_default_ctx(hp);
    if (a.n_ctx > a.n_tokens)
        a.n_ctx = a.n_tokens;
    const int64_t widest = hp->n_ff > hp->n_embd ? hp->n_ff : hp->n_embd > hp->n_head * hp->head_dim
                                                                  ? hp->n_embd : hp->n_head * hp->head_dim;
    a.resid = malloc(sizeof(float) * (size_t)(a.n_tokens * hp->n_embd));
    a.ref = malloc(sizeof(float) * (size_t)(a.n_tokens * hp->n_embd));
    a.x = malloc(sizeof(float) * (size_t)(a.n_ctx * hp->n_embd));
    a.scale = malloc(sizeof(float) * (size_t)widest);
    a.x_mean = malloc(sizeof(float) * (size_t)widest);
    a.w_mean = malloc(sizeof(float) * (size_t)widest);
    bool ok = a.resid && a.ref && a.x && a.scale && a.x_mean && a.w_mean;
    for (int k = 0; k < 3; k++)
        ok = ok && (a.imp[k] = malloc(sizeof(float) * (size_t)widest));
    if (!ok)
        st = mvq_error_set(err, MVQ_ERR_NOMEM, "awq: out of memory for %lld sample tokens", (long long)a.n_tokens);
    if (st == MVQ_OK)
        st = mvq_layer_runner_init(&a.run, m, a.n_ctx, o->pool, err);
    if (st == MVQ_OK && a.massive > 0) {
        const mvq_observer qk = { .taps = MVQ_TAP_BIT(MVQ_TAP_Q) | MVQ_TAP_BIT(MVQ_TAP_K), .kind = MVQ_OBSERVER_READ,
                                  .fn = observe_qk, .user = &a };
        st = mvq_massive_map_build(&a.mm, ctx->calib, &o->massive, err);
        if (st == MVQ_OK)
            st = mvq_observers_add(&a.obs, &qk, NULL, err);
        a.run.pass.obs = &a.obs;
    }
    if (st == MVQ_OK && a.clip) {
        const int64_t dims[] = { hp->n_embd, hp->n_head * hp->head_dim, hp->n_embd, hp->n_ff };
        for (int i = 0; i < MVQ_CALIB_OUTPUT_IN && st == MVQ_OK; i++)
            st = awq_gram_init(&a.gram[i], dims[i], err);
        const mvq_observer in = { .taps = MVQ_TAP_LINEAR_INPUTS & ~MVQ_TAP_BIT(MVQ_TAP_OUTPUT_IN),
                                  .kind = MVQ_OBSERVER_READ, .fn = observe_inputs, .user = &a };
        if (st == MVQ_OK)
            st = mvq_observers_add(&a.obs, &in, NULL, err);
        a.run.pass.obs = &a.obs;
    }
    if (st == MVQ_OK) {
        const mvq_observer obs = { .taps = MVQ_TAP_BIT(MVQ_TAP_RESIDUAL), .kind = MVQ_OBSERVER_READ,
                                   .fn = observe, .user = &a };
        const mvq_layerwise_opts lw = { .n_ctx = a.n_ctx, .bos = mvq_calib_model_bos(m), .observers = &obs,
                                        .n_observers = 1, .layer_done = layer_done, .user = &a };
        st = mvq_forward_layerwise(m, o->calib_tokens, a.n_tokens, &lw, o->pool, err);
    }
    awq_free(&a);
    mvq_model_free(m);
    return st;
}

const mvq_method mvq_method_awq = {
    .name = "awq",
    .about = "AWQ's activation-aware scales searched per layer on the block output, folded in, then rtn",
    .needs = MVQ_NEED_IMPORTANCE | MVQ_NEED_MEAN_ABS | MVQ_NEED_BLOCK_OUTPUTS,
    .prepare = awq_prepare,
    .quantize = mvq_rtn_quantize,
};
