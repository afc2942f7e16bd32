/* A layer pass set up to run any layer of a model over sequences of up to
 * n_ctx tokens: its scratch, f32 vectors and RoPE tables (the layer-by-layer
 * driver's, and a method's runs of one layer with candidate weights). */
#include "config.h"
#include "quant/model/layer_internal.h"
#include "quant/model/model_internal.h"

#include <stdlib.h>
#include <string.h>

mvq_status mvq_layer_runner_init(mvq_layer_runner *r, const mvq_model *m, int64_t n_ctx, mvq_pool *pool,
                                 mvq_error *err)
{
    memset(r, 0, sizeof *r);
    const mvq_hparams *hp = &m->hp;
    const int64_t T = n_ctx, q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    const int64_t wide = hp->n_embd > q_dim ? hp->n_embd : q_dim, kt_stride = mvq_attention_kt_stride(T);
    /* as mvq_forward_create sizes them */
    const int64_t sizes[] = {T * wide, T * q_dim,    T * kv_dim,   T * kv_dim,           T * q_dim,
                             T * hp->n_ff, T * hp->n_ff, T * hp->n_embd, kt_stride * kv_dim,
                             kt_stride * mvq_pool_size(pool)};
    float **slots[] = {&r->pass.xn,   &r->pass.q,  &r->pass.k,   &r->pass.v,  &r->pass.att,
                       &r->pass.gate, &r->pass.up, &r->pass.tmp, &r->pass.kt, &r->pass.scores};
    int64_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        total += sizes[i];
    if (!(r->scratch = malloc((size_t)total * sizeof *r->scratch)))
        return mvq_error_set(err, MVQ_ERR_NOMEM, "layer pass: out of memory for sequences of %lld", (long long)T);
    float *p = r->scratch;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        *slots[i] = p;
        p += sizes[i];
    }
    mvq_status st = mvq_layer_vectors_init(&r->vec, m, err);
    if (st == MVQ_OK)
        st = mvq_layer_rope_tables(m, T, &r->rope_cos, &r->rope_sin, err);
    r->pass.m = m;
    r->pass.pool = pool;
    r->pass.policy = MVQ_POLICY_LLAMA_CPP;
    r->pass.vec = &r->vec;
    r->pass.rope_cos = r->rope_cos;
    r->pass.rope_sin = r->rope_sin;
    r->pass.obs = &r->none;
    return st;
}

void mvq_layer_runner_free(mvq_layer_runner *r)
{
    free(r->scratch);
    free(r->rope_cos);
    free(r->rope_sin);
    mvq_layer_vectors_free(&r->vec);
    memset(r, 0, sizeof *r);
}
