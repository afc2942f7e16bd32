/* The optimized forward pass: causal prefill of a batch, f32 activations,
 * the layers by the one layer implementation, observers at the taps. */
#include "config.h"
#include "quant/model/layer_internal.h"
#include "quant/model/act_int8_internal.h"
#include "quant/model/model_internal.h"

#include <mvquant/kvcache.h>

#include <stdlib.h>
#include <string.h>

struct mvq_forward {
    const mvq_model *m;
    int64_t max_tokens;
    mvq_pool *pool;
    bool owns_pool;
    mvq_layer_vectors vec;
    float *rope_cos, *rope_sin;
    /* activations, max_tokens rows each */
    float *x, *xn, *q, *k, *v, *att, *gate, *up, *tmp, *kt, *scores;
    mvq_forward_numerics numerics;
    mvq_observers obs;
    const mvq_kv_quant *kv;
    const mvq_act_int8 *act;
    mvq_act_scratch act_scratch;
};

static mvq_status alloc_activations(mvq_forward *f, mvq_error *err)
{
    const mvq_hparams *hp = &f->m->hp;
    const int64_t T = f->max_tokens;
    const int64_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    const int64_t wide = hp->n_embd > q_dim ? hp->n_embd : q_dim;
    const int nth = mvq_pool_size(f->pool);
    const int64_t kt_stride = mvq_attention_kt_stride(T);
    struct {
        float **p;
        int64_t n;
    } bufs[] = {
        {&f->x, T * hp->n_embd}, {&f->xn, T * wide},         {&f->q, T * q_dim},
        {&f->k, T * kv_dim},     {&f->v, T * kv_dim},        {&f->att, T * q_dim},
        {&f->gate, T * hp->n_ff}, {&f->up, T * hp->n_ff},    {&f->tmp, T * hp->n_embd},
        {&f->kt, kt_stride * kv_dim}, {&f->scores, kt_stride * nth},
    };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        *bufs[i].p = malloc((size_t)(bufs[i].n > 0 ? bufs[i].n : 1) * sizeof(float));
        if (!*bufs[i].p)
            return mvq_error_set(err, MVQ_ERR_NOMEM, "forward pass: out of memory for %lld tokens",
                                 (long long)T);
    }
    return mvq_layer_rope_tables(f->m, T, &f->rope_cos, &f->rope_sin, err);
}

mvq_forward *mvq_forward_create(const mvq_model *model, int64_t max_tokens, mvq_pool *pool, mvq_error *err)
{
    if (!model || max_tokens <= 0) {
        mvq_error_set(err, MVQ_ERR_ARG, "forward pass: needs a model and max_tokens > 0");
        return NULL;
    }
    mvq_forward *f = calloc(1, sizeof *f);
    if (!f) {
        mvq_error_set(err, MVQ_ERR_NOMEM, "forward pass: out of memory");
        return NULL;
    }
    f->m = model;
    f->max_tokens = max_tokens;
    f->pool = pool;
    if (!pool) {
        f->pool = mvq_pool_create(1);
        f->owns_pool = true;
        if (!f->pool) {
            mvq_error_set(err, MVQ_ERR_NOMEM, "forward pass: cannot create a thread pool");
            free(f);
            return NULL;
        }
    }
    if (mvq_layer_vectors_init(&f->vec, model, err) != MVQ_OK || alloc_activations(f, err) != MVQ_OK) {
        mvq_forward_free(f);
        return NULL;
    }
    return f;
}

void mvq_forward_free(mvq_forward *f)
{
    if (!f)
        return;
    float *bufs[] = {f->rope_cos, f->rope_sin, f->x, f->xn,  f->q,  f->k,
                     f->v,        f->att,      f->gate, f->up, f->tmp, f->kt, f->scores};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    mvq_layer_vectors_free(&f->vec);
    mvq_act_scratch_free(&f->act_scratch);
    if (f->owns_pool)
        mvq_pool_free(f->pool);
    free(f);
}

mvq_status mvq_forward_add_observer(mvq_forward *f, const mvq_observer *o, int *id, mvq_error *err)
{
    return mvq_observers_add(&f->obs, o, id, err);
}

void mvq_forward_remove_observer(mvq_forward *f, int id)
{
    mvq_observers_remove(&f->obs, id);
}

void mvq_forward_set_numerics(mvq_forward *f, mvq_forward_numerics numerics)
{
    f->numerics = numerics;
}

void mvq_forward_set_kv(mvq_forward *f, const mvq_kv_quant *kv)
{
    f->kv = kv;
}

mvq_status mvq_forward_set_act(mvq_forward *f, const mvq_act_int8 *a, mvq_error *err)
{
    mvq_act_scratch_free(&f->act_scratch);
    f->act = NULL;
    mvq_status st = a ? mvq_act_scratch_init(&f->act_scratch, a, f->m, f->max_tokens, err) : MVQ_OK;
    if (st == MVQ_OK)
        f->act = a;
    return st;
}

static mvq_status embed(mvq_forward *f, const int32_t *tokens, int64_t T, mvq_error *err)
{
    const mvq_weight *e = &f->m->token_embd;
    const size_t row = mvq_row_size(e->type, e->n_in);
    for (int64_t t = 0; t < T; t++) {
        if (tokens[t] < 0 || tokens[t] >= e->n_out)
            return mvq_error_set(err, MVQ_ERR_ARG, "forward pass: token %d at position %lld is outside the vocabulary of %lld",
                                 tokens[t], (long long)t, (long long)e->n_out);
        mvq_dequantize_row(e->type, (const char *)e->data + (size_t)tokens[t] * row, f->x + t * e->n_in, e->n_in);
    }
    return MVQ_OK;
}

mvq_status mvq_forward_run(mvq_forward *f, const int32_t *tokens, int64_t n_tokens, int64_t first_logit,
                           float *logits, mvq_error *err)
{
    const mvq_hparams *hp = &f->m->hp;
    const int64_t T = n_tokens;
    if (T <= 0 || T > f->max_tokens || first_logit < 0 || first_logit > T)
        return mvq_error_set(err, MVQ_ERR_ARG, "forward pass: %lld tokens (first logit %lld) for a context of %lld",
                             (long long)T, (long long)first_logit, (long long)f->max_tokens);
    const mvq_layer_pass p = {
        .m = f->m, .pool = f->pool, .vec = &f->vec, .rope_cos = f->rope_cos, .rope_sin = f->rope_sin,
        .policy = f->numerics == MVQ_NUMERICS_FAST ? MVQ_POLICY_FAST : MVQ_POLICY_LLAMA_CPP,
        .xn = f->xn, .q = f->q, .k = f->k, .v = f->v, .att = f->att, .gate = f->gate, .up = f->up, .tmp = f->tmp,
        .kt = f->kt, .scores = f->scores, .obs = &f->obs, .tokens = tokens, .kv = f->kv,
        .act = f->act, .act_scratch = &f->act_scratch,
    };
    mvq_status st = embed(f, tokens, T, err);
    for (int64_t il = 0; st == MVQ_OK && il < hp->n_layer; il++)
        st = mvq_layer_run(&p, &f->m->layers[il], il, f->x, T, err);
    if (st != MVQ_OK)
        return st;
    /* the final norm only where someone looks */
    const bool all = mvq_observers_want(&f->obs, MVQ_TAP_OUTPUT_IN);
    const int64_t from = all ? 0 : first_logit;
    const float *out_norm = f->vec.vec[hp->n_layer * MVQ_VEC_PER_LAYER];
    mvq_rmsnorm_rows(f->x + from * hp->n_embd, f->xn + from * hp->n_embd, out_norm, T - from, hp->n_embd,
                     (float)hp->rms_eps);
    mvq_layer_observe(&p, MVQ_TAP_OUTPUT_IN, hp->n_layer, f->xn, T, 1, hp->n_embd);
    if (!logits || first_logit == T)
        return MVQ_OK;
    return mvq_layer_linear(f->pool, p.policy, &f->m->output, NULL, f->xn + first_logit * hp->n_embd,
                            T - first_logit, logits, err);
}
