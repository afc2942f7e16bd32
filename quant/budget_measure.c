/* The budget's estimates: for every tensor the budget plans, its
 * candidate types, their bytes, and the loss each would add, measured
 * through the job's own path (method, statistics, transforms) and scaled
 * by the model's measured sensitivity to that tensor. */
#include "config.h"
#include "quant/job_internal.h"
#include <mvquant/budget.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The ladder, cheapest first; a tensor gets those that fit its rows. */
static const mvq_type ladder[] = { MVQ_TYPE_TQ2_0, MVQ_TYPE_Q2_K, MVQ_TYPE_Q3_K, MVQ_TYPE_IQ4_XS,
                                   MVQ_TYPE_Q4_K,  MVQ_TYPE_Q4_0, MVQ_TYPE_IQ4_NL, MVQ_TYPE_Q5_0,
                                   MVQ_TYPE_Q5_K,  MVQ_TYPE_Q6_K, MVQ_TYPE_Q8_0, MVQ_TYPE_F16 };
_Static_assert(sizeof ladder / sizeof ladder[0] <= MVQ_BUDGET_MAX_CHOICES, "the ladder fits the estimate");

/* Floor types: TQ2_0 (ternary, 2.06 bpw), the one type below Q2_K's 2.63
 * that needs no codebook.  They join the ladder only for budgets the others
 * cannot meet.  The sensitivities are taken at the cheapest candidate, so
 * with a floor type in, at its error, 2-3x Q2_K's: measured on tinyrope-3M
 * (mean KLD, 64 chunks), TQ2_0 always in planned 3.0 bpw at 0.0321 against
 * 0.0246 without it, and at 2.5 bpw probing at TQ2_0 gave 0.0868 against
 * 0.0933 for probing at Q2_K with TQ2_0's own KLD measured. */
static bool floor_type(mvq_type t)
{
    return t == MVQ_TYPE_TQ2_0;
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t padded(uint64_t bytes, uint64_t align)
{
    return align ? (bytes + align - 1) / align * align : bytes;
}

static int64_t rows_of(const mvq_gguf_tensor *t)
{
    int64_t n = 1;
    for (uint32_t d = 1; d < t->n_dims; d++)
        n *= t->ne[d];
    return n;
}

void mvq_budget_estimate_free(mvq_budget_estimate *e)
{
    if (e)
        free(e->t), memset(e, 0, sizeof *e);
}

static mvq_status build_ladder(const mvq_gguf *in, const mvq_plan_params *p, bool with_floor,
                               mvq_budget_estimate *out, mvq_error *err)
{
    int64_t n = mvq_gguf_n_tensors(in);
    memset(out, 0, sizeof *out);
    mvq_tensor_plan *tp = calloc((size_t)(n ? n : 1), sizeof *tp);
    out->t = calloc((size_t)(n ? n : 1), sizeof *out->t);
    out->n = n;
    if (!tp || !out->t) {
        free(tp);
        mvq_budget_estimate_free(out);
        return mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory planning %s", mvq_gguf_path(in));
    }
    mvq_status st = mvq_plan_make(in, p, tp, err);
    const mvq_kernel_table *k = mvq_kernels();
    uint64_t align = mvq_gguf_alignment(in);
    for (int64_t i = 0; st == MVQ_OK && i < n; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(in, i);
        mvq_budget_tensor *bt = &out->t[i];
        bt->planned = tp[i].quantize && !tp[i].overridden;
        for (size_t c = 0; bt->planned && c < sizeof ladder / sizeof ladder[0]; c++) {
            size_t row = mvq_row_size(ladder[c], t->ne[0]);
            if (!row || !k->from_float[ladder[c]] || (floor_type(ladder[c]) && !with_floor))
                continue;
            bt->type[bt->n] = ladder[c];
            bt->bytes[bt->n++] = padded(row * (uint64_t)rows_of(t), align);
        }
        if (bt->planned && bt->n == 0)
            bt->planned = false; /* nothing on the ladder fits: the rules' type stays */
        if (!bt->planned)
            out->fixed_bytes += padded(tp[i].quantize ? mvq_row_size(tp[i].type, t->ne[0]) * (uint64_t)rows_of(t)
                                                      : t->size, align);
    }
    free(tp);
    if (st != MVQ_OK)
        mvq_budget_estimate_free(out);
    return st;
}

mvq_status mvq_budget_ladder_for(const mvq_gguf *in, const mvq_plan_params *p, uint64_t data_budget,
                                 mvq_budget_estimate *out, mvq_error *err)
{
    mvq_status st = build_ladder(in, p, false, out, err);
    if (st != MVQ_OK || data_budget >= mvq_budget_min_bytes(out))
        return st;
    mvq_budget_estimate_free(out);
    return build_ladder(in, p, true, out, err);
}

mvq_status mvq_budget_ladder(const mvq_gguf *in, const mvq_plan_params *p, mvq_budget_estimate *out,
                             mvq_error *err)
{
    return mvq_budget_ladder_for(in, p, UINT64_MAX, out, err);
}

uint64_t mvq_budget_header_estimate(const mvq_gguf *in)
{
    int64_t n = mvq_gguf_n_tensors(in);
    return padded(mvq_gguf_data_offset(in) + 1024 + 16 * (uint64_t)n, mvq_gguf_alignment(in));
}

uint64_t mvq_budget_min_bytes(const mvq_budget_estimate *e)
{
    uint64_t b = e->fixed_bytes;
    for (int64_t i = 0; i < e->n; i++) {
        uint64_t m = UINT64_MAX;
        for (int k = 0; e->t[i].planned && k < e->t[i].n; k++)
            m = e->t[i].bytes[k] < m ? e->t[i].bytes[k] : m;
        b += e->t[i].planned ? m : 0;
    }
    return b;
}

uint64_t mvq_budget_max_bytes(const mvq_budget_estimate *e)
{
    uint64_t b = e->fixed_bytes;
    for (int64_t i = 0; i < e->n; i++) {
        uint64_t m = 0;
        for (int k = 0; e->t[i].planned && k < e->t[i].n; k++)
            m = e->t[i].bytes[k] > m ? e->t[i].bytes[k] : m;
        b += m;
    }
    return b;
}

/* How much more an error in a massive row of attn_q (attn_k) moves the
 * attention scores than one in an ordinary row: the partner's (K's, Q's)
 * mean square in that dimension over its head's mean, averaged over the
 * massive dimensions. */
static double massive_weight(const mvq_massive_map *mm, const mvq_calib *c, int64_t layer, mvq_linear which)
{
    const mvq_hparams *hp = mvq_calib_hparams(c);
    int64_t hd = hp->head_dim, nq = hp->n_head, nk = hp->n_head_kv, group = nk ? nq / nk : 1;
    float *partner = malloc(sizeof *partner * (size_t)((which == MVQ_LINEAR_Q ? nk : nq) * hd));
    if (!partner || !mm->q || layer >= mm->n_layer || group < 1) {
        free(partner);
        return 1;
    }
    mvq_calib_norms(c, which == MVQ_LINEAR_Q ? MVQ_CALIB_K : MVQ_CALIB_Q, layer, partner);
    const uint8_t *mask = which == MVQ_LINEAR_Q ? mm->q + layer * mm->n_q : mm->k + layer * mm->n_k;
    int64_t n_own = which == MVQ_LINEAR_Q ? nq : nk;
    double sum = 0;
    int64_t count = 0;
    for (int64_t h = 0; h < n_own; h++)
        for (int64_t d = 0; d < hd; d++) {
            if (!mask[h * hd + d])
                continue;
            /* the partner heads: K's head of a Q head, or the Q heads of a K head */
            int64_t p0 = which == MVQ_LINEAR_Q ? h / group : h * group, p1 = which == MVQ_LINEAR_Q ? p0 + 1 : p0 + group;
            for (int64_t p = p0; p < p1; p++) {
                const float *m = partner + p * hd;
                double mean = 0;
                for (int64_t j = 0; j < hd; j++)
                    mean += (double)m[j] * m[j];
                mean /= (double)hd;
                sum += mean > 0 ? (double)m[d] * m[d] / mean : 1;
                count++;
            }
        }
    free(partner);
    return count ? sum / (double)count : 1;
}

/* The model with one weight pointed at other data (the rest shared). */
typedef struct patched {
    mvq_model m;
    mvq_layer *layers;
} patched;

static bool patch(patched *p, const mvq_model *base, const char *name, const float *data)
{
    p->m = *base;
    p->m.owns_gguf = false;
    p->layers = malloc(sizeof *p->layers * (size_t)(base->hp.n_layer ? base->hp.n_layer : 1));
    if (!p->layers)
        return false;
    memcpy(p->layers, base->layers, sizeof *p->layers * (size_t)base->hp.n_layer);
    p->m.layers = p->layers;
    bool found = false;
    mvq_weight *w[2] = { &p->m.token_embd, &p->m.output };
    for (int k = 0; k < 2; k++)
        if (w[k]->name && strcmp(w[k]->name, name) == 0)
            w[k]->data = data, w[k]->type = MVQ_TYPE_F32, found = true;
    if (found && base->output_tied)
        p->m.output.data = p->m.token_embd.data, p->m.output.type = MVQ_TYPE_F32;
    for (int64_t l = 0; l < base->hp.n_layer; l++)
        for (int k = 0; k < MVQ_LINEAR_COUNT; k++) {
            mvq_weight *x = &p->layers[l].linear[k];
            if (x->name && strcmp(x->name, name) == 0)
                x->data = data, x->type = MVQ_TYPE_F32, found = true;
        }
    return found;
}

typedef struct measure_ctx {
    const mvq_gguf *in;
    const mvq_model *base;
    const mvq_quantize_opts *o;
    const mvq_plan *plan;
    const int32_t *tokens;
    int64_t n_tokens, n_ctx;
    mvq_job_scratch s;
    float *weights, *deq;
} measure_ctx;

/* Tensor i at every candidate: its relative squared error (with the
 * massive term), then its sensitivity at the cheapest candidate. */
static mvq_status measure_tensor(measure_ctx *c, int64_t i, mvq_budget_tensor *bt, mvq_error *err)
{
    const mvq_gguf_tensor *t = mvq_gguf_tensor_at(c->in, i);
    const mvq_tensor_plan *base_tp = mvq_plan_tensor(c->plan, i);
    int64_t n_in = t->ne[0], n_out = rows_of(t);
    mvq_tensor_role role = mvq_tensor_role_of(t->name.data);
    const mvq_calib *calib = c->o->calib;
    bool has_imp = calib && (!c->o->use_importance || c->o->use_importance(c->o->user, t->name.data)) &&
                   mvq_calib_importance(calib, t->name.data, c->weights, n_in);
    const uint8_t *massive = c->o->protect_massive ? base_tp->protected_rows : NULL;
    double r_massive = massive ? massive_weight(mvq_plan_massive(c->plan), calib, role.layer, role.linear) : 1;
    int probe = 0;
    for (int k = 1; k < bt->n; k++)
        probe = bt->bytes[k] < bt->bytes[probe] ? k : probe;
    if (bt->n < 2) {
        bt->loss[0] = 0;
        return MVQ_OK;
    }
    const mvq_kernel_table *kt = mvq_kernels();
    for (int k = 0; k < bt->n; k++) {
        mvq_tensor_plan tp = *base_tp;
        tp.type = bt->type[k];
        mvq_tensor_report tr = {.n_weights = (uint64_t)(n_in * n_out) };
        mvq_status st = mvq_job_tensor(t, &tp, c->o, &c->s, &tr, err);
        if (st != MVQ_OK)
            return st;
        double e = tr.rel_err * tr.rel_err;
        if (massive && tr.massive_rel_err >= 0 && r_massive > 1) {
            /* the massive rows' share of the output energy, then their own term */
            double all = 0, own = 0;
            for (int64_t r = 0; r < n_out; r++) {
                const float *x = c->s.rows + (size_t)r * (size_t)n_in;
                double row = 0;
                for (int64_t j = 0; j < n_in; j++)
                    row += (has_imp ? c->weights[j] : 1.0) * x[j] * x[j];
                all += row;
                own += massive[r] ? row : 0;
            }
            e += all > 0 ? (r_massive - 1) * tr.massive_rel_err * tr.massive_rel_err * own / all : 0;
        }
        bt->err[k] = e;
        if (k != probe)
            continue;
        /* the model with this tensor alone at the probe type, back in f32 */
        size_t row = mvq_row_size(tp.type, n_in);
        for (int64_t r = 0; r < n_out; r++) {
            float *y = c->deq + (size_t)r * (size_t)n_in;
            kt->to_float[tp.type]((const char *)c->s.out + (size_t)r * row, y, n_in);
            for (int64_t j = 0; tp.scale_columns && j < n_in; j++)
                y[j] /= tp.scale_columns->scale[j];
            for (int64_t j = 0; tp.divide_out && n_out > 1 && j < n_in; j++)
                y[j] *= tp.divide_out->scale[r];
        }
        patched pm;
        if (!patch(&pm, c->base, t->name.data, c->deq)) {
            free(pm.layers);
            bt->sensitivity = 0; /* not a weight of the forward pass */
            continue;
        }
        mvq_eval_opts eo = {.n_ctx = c->n_ctx, .bos = c->tokens[0] };
        mvq_eval_result res;
        st = mvq_eval_perplexity(&pm.m, c->base, c->tokens, c->n_tokens, &eo, c->o->pool, &res, err);
        free(pm.layers);
        if (st != MVQ_OK)
            return st;
        bt->probe = tp.type;
        bt->sensitivity = e > 0 ? res.kld_mean / e : 0;
    }
    for (int k = 0; k < bt->n; k++)
        bt->loss[k] = bt->sensitivity * bt->err[k];
    return MVQ_OK;
}

mvq_status mvq_budget_measure(const mvq_gguf *in, const mvq_model *base, const mvq_quantize_opts *o,
                              const int32_t *tokens, int64_t n_tokens, int64_t n_ctx, mvq_budget_estimate *e,
                              mvq_error *err)
{
    double t0 = seconds_now();
    if (n_ctx <= 0 || n_tokens < 2 * n_ctx)
        return mvq_error_set(err, MVQ_ERR_ARG, "measuring a budget's losses needs %lld tokens (2 sequences of %lld), "
                             "%lld given", (long long)(2 * (n_ctx > 0 ? n_ctx : 1)), (long long)n_ctx,
                             (long long)n_tokens);
    measure_ctx c = {.in = in, .base = base, .o = o, .tokens = tokens, .n_tokens = n_tokens, .n_ctx = n_ctx };
    mvq_quantize_opts plain = *o;
    plain.budget_types = NULL; /* the rules' plan: its method, transforms and massive rows */
    mvq_plan *plan = mvq_plan_build(in, &plain, err);
    if (!plan)
        return err ? err->status : MVQ_ERR_NOMEM;
    c.plan = plan;
    uint64_t most = 1;
    int64_t widest = 1;
    for (int64_t i = 0; i < e->n; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(in, i);
        if (!e->t[i].planned)
            continue;
        uint64_t nw = (uint64_t)(t->ne[0] * rows_of(t));
        most = nw > most ? nw : most;
        widest = t->ne[0] > widest ? t->ne[0] : widest;
    }
    c.s.rows = malloc(sizeof(float) * most);
    c.s.importance = malloc(sizeof(float) * (size_t)widest);
    c.s.out = malloc(sizeof(float) * most + 4096);
    c.weights = malloc(sizeof(float) * (size_t)widest);
    c.deq = malloc(sizeof(float) * most);
    mvq_status st = MVQ_OK;
    if (!c.s.rows || !c.s.importance || !c.s.out || !c.weights || !c.deq)
        st = mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory measuring %s", mvq_gguf_path(in));
    for (int64_t i = 0; st == MVQ_OK && i < e->n; i++)
        if (e->t[i].planned)
            st = measure_tensor(&c, i, &e->t[i], err);
    free(c.s.rows);
    free(c.s.importance);
    free(c.s.out);
    free(c.weights);
    free(c.deq);
    mvq_plan_free(plan);
    e->seconds = seconds_now() - t0;
    return st;
}
