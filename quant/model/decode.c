/* Incremental decoding with a KV cache: each step runs one token of each
 * of a batch of sequences through the layers (the one layer
 * implementation, in its cached mode), attending to the cached keys and
 * values of that sequence's earlier positions.  The batch turns the
 * weight products into small matrix products instead of vector ones. */
#include "config.h"
#include "quant/model/decode_internal.h"
#include "quant/model/layer_internal.h"
#include "quant/model/model_internal.h"

#include <stdlib.h>
#include <string.h>

struct mvq_decoder {
    const mvq_model *m;
    mvq_pool *pool;
    bool owns_pool;
    int64_t max_pos, batch, pos;
    mvq_layer_vectors vec;
    float *rope_cos, *rope_sin;
    float *k_cache, *v_cache; /* [layer][sequence][pos][kv_dim] */
    float *x, *xn, *q, *k, *v, *att, *gate, *up, *tmp, *scores;
    mvq_observers obs;
    const struct mvq_kv_quant *kv;
};

static bool alloc_buffers(mvq_decoder *d)
{
    const mvq_hparams *hp = &d->m->hp;
    const int64_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    const int64_t P = d->max_pos, B = d->batch;
    struct {
        float **p;
        int64_t n;
    } bufs[] = {
        {&d->k_cache, hp->n_layer * B * P * kv_dim}, {&d->v_cache, hp->n_layer * B * P * kv_dim},
        {&d->x, B * hp->n_embd}, {&d->xn, B * hp->n_embd}, {&d->q, B * q_dim}, {&d->k, B * kv_dim},
        {&d->v, B * kv_dim}, {&d->att, B * q_dim}, {&d->gate, B * hp->n_ff}, {&d->up, B * hp->n_ff},
        {&d->tmp, B * hp->n_embd}, {&d->scores, P},
    };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (!(*bufs[i].p = malloc((size_t)(bufs[i].n > 0 ? bufs[i].n : 1) * sizeof(float))))
            return false;
    return mvq_layer_rope_tables(d->m, P, &d->rope_cos, &d->rope_sin, NULL) == MVQ_OK;
}

mvq_decoder *mvq_decoder_create(const mvq_model *m, int64_t max_pos, int64_t batch, mvq_pool *pool,
                                mvq_error *err)
{
    mvq_decoder *d = calloc(1, sizeof *d);
    if (!d)
        goto nomem;
    d->m = m;
    d->max_pos = max_pos;
    d->batch = batch > 0 ? batch : 1;
    d->pool = pool;
    if (!pool) {
        d->owns_pool = true;
        if (!(d->pool = mvq_pool_create(1)))
            goto nomem;
    }
    if (mvq_layer_vectors_init(&d->vec, m, NULL) != MVQ_OK || !alloc_buffers(d))
        goto nomem;
    return d;
nomem:
    mvq_decoder_free(d);
    mvq_error_set(err, MVQ_ERR_NOMEM, "decoder: out of memory for %lld sequences of %lld positions",
                  (long long)batch, (long long)max_pos);
    return NULL;
}

void mvq_decoder_free(mvq_decoder *d)
{
    if (!d)
        return;
    mvq_layer_vectors_free(&d->vec);
    float *bufs[] = {d->rope_cos, d->rope_sin, d->k_cache, d->v_cache, d->x,  d->xn,  d->q,
                     d->k,        d->v,        d->att,     d->gate,    d->up, d->tmp, d->scores};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    if (d->owns_pool)
        mvq_pool_free(d->pool);
    free(d);
}

void mvq_decoder_set_kv(mvq_decoder *d, const struct mvq_kv_quant *kv)
{
    d->kv = kv;
}

void mvq_decoder_reset(mvq_decoder *d)
{
    d->pos = 0;
}

mvq_status mvq_decoder_add_observer(mvq_decoder *d, const mvq_observer *o, int *id, mvq_error *err)
{
    return mvq_observers_add(&d->obs, o, id, err);
}

void mvq_decoder_remove_observer(mvq_decoder *d, int id)
{
    mvq_observers_remove(&d->obs, id);
}

mvq_status mvq_decoder_step(mvq_decoder *d, const int32_t *tokens, int64_t nb, float *logits, mvq_error *err)
{
    const mvq_hparams *hp = &d->m->hp;
    const mvq_weight *e = &d->m->token_embd;
    if (d->pos >= d->max_pos || nb < 1 || nb > d->batch)
        return mvq_error_set(err, MVQ_ERR_ARG, "decoder: %lld sequences at position %lld, room for %lld of %lld",
                             (long long)nb, (long long)d->pos, (long long)d->batch, (long long)d->max_pos);
    const size_t row = mvq_row_size(e->type, e->n_in);
    for (int64_t b = 0; b < nb; b++) {
        if (tokens[b] < 0 || tokens[b] >= e->n_out)
            return mvq_error_set(err, MVQ_ERR_ARG, "decoder: token %d is outside the vocabulary of %lld", tokens[b],
                                 (long long)e->n_out);
        mvq_dequantize_row(e->type, (const char *)e->data + (size_t)tokens[b] * row, d->x + b * e->n_in, e->n_in);
    }
    const int64_t layer_cache = d->batch * d->max_pos * hp->n_head_kv * hp->head_dim;
    mvq_layer_pass p = {
        .m = d->m, .pool = d->pool, .policy = MVQ_POLICY_DECODE, .vec = &d->vec, .rope_cos = d->rope_cos,
        .rope_sin = d->rope_sin, .xn = d->xn, .q = d->q, .k = d->k, .v = d->v, .att = d->att, .gate = d->gate,
        .up = d->up, .tmp = d->tmp, .scores = d->scores, .pos = d->pos, .max_pos = d->max_pos, .obs = &d->obs,
        .tokens = tokens, .kv = d->kv,
    };
    mvq_status st = MVQ_OK;
    for (int64_t il = 0; il < hp->n_layer && st == MVQ_OK; il++) {
        p.k_cache = d->k_cache + il * layer_cache;
        p.v_cache = d->v_cache + il * layer_cache;
        st = mvq_layer_run(&p, &d->m->layers[il], il, d->x, nb, err);
    }
    if (st != MVQ_OK)
        return st;
    d->pos++;
    if (!logits && !mvq_observers_want(&d->obs, MVQ_TAP_OUTPUT_IN))
        return MVQ_OK;
    mvq_rmsnorm_rows(d->x, d->xn, d->vec.vec[hp->n_layer * MVQ_VEC_PER_LAYER], nb, hp->n_embd, (float)hp->rms_eps);
    mvq_layer_observe(&p, MVQ_TAP_OUTPUT_IN, hp->n_layer, d->xn, nb, 1, hp->n_embd);
    return logits ? mvq_layer_linear(d->pool, p.policy, &d->m->output, NULL, d->xn, nb, logits, err) : MVQ_OK;
}
