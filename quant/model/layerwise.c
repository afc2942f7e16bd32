/* The layer-by-layer driver: the calibration set goes through layer l as a
 * whole before layer l + 1, so that a layer's weights are read once (and
 * their pages released) and a caller may replace the layer in between. */
#include "config.h"
#include "quant/model/layer_internal.h"
#include "quant/model/model_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct driver {
    const mvq_model *m;
    const mvq_layerwise_opts *o;
    int64_t n_tokens, n_ctx;
    int32_t *seq;      /* the tokens, bos first in each sequence */
    float *x;          /* residual stream of every token */
    float *x1;         /* one sequence's copy (sequential: the observed run) */
    mvq_layer_runner run; /* one sequence's layer pass */
    mvq_observers obs;
} driver;

static mvq_status setup(driver *d, mvq_pool *pool, mvq_error *err)
{
    const mvq_hparams *hp = &d->m->hp;
    d->seq = malloc((size_t)d->n_tokens * sizeof *d->seq);
    d->x = malloc((size_t)(d->n_tokens * hp->n_embd) * sizeof *d->x);
    d->x1 = malloc((size_t)(d->n_ctx * hp->n_embd) * sizeof *d->x1);
    if (!d->seq || !d->x || !d->x1)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "layer-by-layer pass: out of memory for %lld tokens",
                             (long long)d->n_tokens);
    for (int i = 0; i < d->o->n_observers; i++)
        if (mvq_observers_add(&d->obs, &d->o->observers[i], NULL, err) != MVQ_OK)
            return err ? err->status : MVQ_ERR_ARG;
    return mvq_layer_runner_init(&d->run, d->m, d->n_ctx, pool, err);
}

static void teardown(driver *d)
{
    free(d->seq);
    free(d->x);
    free(d->x1);
    mvq_layer_runner_free(&d->run);
}

static void release(const mvq_model *m, const mvq_weight *w)
{
    if (m->gguf && w->data)
        mvq_gguf_drop_pages(m->gguf, w->data, mvq_row_size(w->type, w->n_in) * (size_t)w->n_out);
}

static void release_layer(const mvq_model *m, const mvq_layer *L)
{
    release(m, &L->attn_norm);
    release(m, &L->ffn_norm);
    for (int i = 0; i < MVQ_LINEAR_COUNT; i++) {
        release(m, &L->linear[i]);
        release(m, &L->bias[i]);
    }
}

static mvq_status embed(driver *d, const int32_t *tokens, mvq_error *err)
{
    const mvq_weight *e = &d->m->token_embd;
    const size_t row = mvq_row_size(e->type, e->n_in);
    const int32_t bos = d->o->bos;
    for (int64_t t = 0; t < d->n_tokens; t++) {
        d->seq[t] = bos >= 0 && t % d->n_ctx == 0 ? bos : tokens[t];
        if (d->seq[t] < 0 || d->seq[t] >= e->n_out)
            return mvq_error_set(err, MVQ_ERR_ARG, "layer-by-layer pass: token %d at %lld is outside the vocabulary of %lld",
                                 d->seq[t], (long long)t, (long long)e->n_out);
        mvq_dequantize_row(e->type, (const char *)e->data + (size_t)d->seq[t] * row, d->x + t * e->n_in, e->n_in);
    }
    if (d->o->release)
        release(d->m, e);
    return MVQ_OK;
}

/* Layer il over every sequence; observed runs on a copy when the output
 * comes from a second run. */
static mvq_status run_layer(driver *d, const mvq_layer *L, int64_t il, bool observe, bool keep, mvq_error *err)
{
    const int64_t E = d->m->hp.n_embd;
    d->run.pass.obs = observe ? &d->obs : &d->run.none;
    for (int64_t at = 0; at < d->n_tokens; at += d->n_ctx) {
        const int64_t n = d->n_tokens - at < d->n_ctx ? d->n_tokens - at : d->n_ctx;
        float *x = d->x + at * E;
        if (!keep) {
            memcpy(d->x1, x, (size_t)(n * E) * sizeof *x);
            x = d->x1;
        }
        d->run.pass.tokens = d->seq + at;
        mvq_status st = mvq_layer_run(&d->run.pass, L, il, x, n, err);
        if (st != MVQ_OK)
            return st;
    }
    return MVQ_OK;
}

static void observe_output(driver *d)
{
    const mvq_hparams *hp = &d->m->hp;
    if (!mvq_observers_want(&d->obs, MVQ_TAP_OUTPUT_IN))
        return;
    d->run.pass.obs = &d->obs;
    const float *out_norm = d->run.vec.vec[hp->n_layer * MVQ_VEC_PER_LAYER];
    for (int64_t at = 0; at < d->n_tokens; at += d->n_ctx) {
        const int64_t n = d->n_tokens - at < d->n_ctx ? d->n_tokens - at : d->n_ctx;
        mvq_rmsnorm_rows(d->x + at * hp->n_embd, d->run.pass.xn, out_norm, n, hp->n_embd, (float)hp->rms_eps);
        d->run.pass.tokens = d->seq + at;
        mvq_layer_observe(&d->run.pass, MVQ_TAP_OUTPUT_IN, hp->n_layer, d->run.pass.xn, n, 1, hp->n_embd);
    }
}

mvq_status mvq_forward_layerwise(const mvq_model *m, const int32_t *tokens, int64_t n_tokens,
                                 const mvq_layerwise_opts *opts, mvq_pool *pool, mvq_error *err)
{
    const mvq_layerwise_opts none = {0};
    const mvq_layerwise_opts *o = opts ? opts : &none;
    if (!m || !tokens || n_tokens <= 0)
        return mvq_error_set(err, MVQ_ERR_ARG, "layer-by-layer pass: needs a model and tokens");
    mvq_pool *own = pool ? NULL : mvq_pool_create(1);
    if (!pool && !own)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "layer-by-layer pass: cannot create a thread pool");
    driver d = {.m = m, .o = o, .n_tokens = n_tokens};
    d.n_ctx = o->n_ctx > 0 ? o->n_ctx : m->hp.n_ctx_train > 0 && m->hp.n_ctx_train < 512 ? m->hp.n_ctx_train : 512;
    mvq_status st = setup(&d, pool ? pool : own, err);
    if (st == MVQ_OK)
        st = embed(&d, tokens, err);
    for (int64_t il = 0; st == MVQ_OK && il < m->hp.n_layer; il++) {
        mvq_layer L = m->layers[il];
        st = run_layer(&d, &L, il, true, !o->sequential, err);
        if (st == MVQ_OK && o->layer_done)
            st = o->layer_done(o->user, il, &L, err);
        if (st == MVQ_OK && o->sequential)
            st = run_layer(&d, &L, il, false, true, err);
        if (o->release)
            release_layer(m, &m->layers[il]);
        if (o->progress)
            o->progress(o->user, n_tokens * (il + 1) / m->hp.n_layer, n_tokens);
    }
    if (st == MVQ_OK)
        observe_output(&d);
    teardown(&d);
    mvq_pool_free(own);
    return st;
}
