/* The one layer implementation: batched prefill and cached decoding differ
 * only in where RoPE positions come from and whom the queries attend to. */
#include "config.h"
#include "quant/model/kv_channel.h"
#include "quant/model/layer_internal.h"
#include "quant/model/act_int8_internal.h"
#include "quant/model/model_internal.h"
#include "kernels/matmul.h"

#include <stdlib.h>
#include <string.h>

mvq_status mvq_observers_add(mvq_observers *s, const mvq_observer *o, int *id, mvq_error *err)
{
    if (!o || !o->fn || (o->kind != MVQ_OBSERVER_READ && o->kind != MVQ_OBSERVER_MODIFY))
        return mvq_error_set(err, MVQ_ERR_ARG, "observer: needs a function and a kind");
    if (s->n >= MVQ_MAX_OBSERVERS)
        return mvq_error_set(err, MVQ_ERR_ARG, "observer: at most %d at once", MVQ_MAX_OBSERVERS);
    s->list[s->n] = *o;
    s->id[s->n] = ++s->next_id;
    s->n++;
    s->mask |= o->taps;
    if (id)
        *id = s->next_id;
    return MVQ_OK;
}

void mvq_observers_remove(mvq_observers *s, int id)
{
    int k = 0;
    s->mask = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->id[i] == id)
            continue;
        s->list[k] = s->list[i];
        s->id[k] = s->id[i];
        s->mask |= s->list[k].taps;
        k++;
    }
    s->n = k;
}

void mvq_observers_emit(const mvq_observers *s, const mvq_observation *o)
{
    /* readers last: they see the values the pass goes on with */
    for (int kind = MVQ_OBSERVER_MODIFY; kind >= MVQ_OBSERVER_READ; kind--)
        for (int i = 0; i < s->n; i++)
            if ((int)s->list[i].kind == kind && (s->list[i].taps & MVQ_TAP_BIT(o->tap)))
                s->list[i].fn(s->list[i].user, o);
}

/* Collects the vectors to convert: fills list (when not NULL) and returns the count of floats. */
static int64_t collect_vectors(const mvq_model *m, const mvq_weight **list)
{
    int64_t n = 0, k = 0;
    for (int64_t il = 0; il < m->hp.n_layer; il++) {
        const mvq_layer *L = &m->layers[il];
        const mvq_weight *ws[MVQ_VEC_PER_LAYER] = {&L->attn_norm, &L->ffn_norm};
        for (int i = 0; i < MVQ_LINEAR_COUNT; i++)
            ws[MVQ_VEC_BIAS0 + i] = &L->bias[i];
        for (int i = 0; i < MVQ_VEC_PER_LAYER; i++) {
            if (list)
                list[k] = ws[i];
            k++;
            if (ws[i]->data)
                n += ws[i]->n_in;
        }
    }
    if (list)
        list[k] = &m->output_norm;
    return n + m->output_norm.n_in;
}

mvq_status mvq_layer_vectors_init(mvq_layer_vectors *lv, const mvq_model *m, mvq_error *err)
{
    const int64_t n_vec = m->hp.n_layer * MVQ_VEC_PER_LAYER + 1;
    const mvq_weight **list = malloc((size_t)n_vec * sizeof *list);
    lv->vec = calloc((size_t)n_vec, sizeof *lv->vec);
    lv->data = malloc((size_t)collect_vectors(m, NULL) * sizeof(float));
    if (!list || !lv->vec || !lv->data) {
        free(list);
        return mvq_error_set(err, MVQ_ERR_NOMEM, "forward pass: out of memory");
    }
    collect_vectors(m, list);
    float *p = lv->data;
    for (int64_t i = 0; i < n_vec; i++) {
        if (!list[i]->data)
            continue;
        mvq_dequantize_row(list[i]->type, list[i]->data, p, list[i]->n_in);
        lv->vec[i] = p;
        p += list[i]->n_in;
    }
    free(list);
    return MVQ_OK;
}

void mvq_layer_vectors_free(mvq_layer_vectors *lv)
{
    free(lv->vec);
    free(lv->data);
    lv->vec = NULL;
    lv->data = NULL;
}

mvq_status mvq_layer_rope_tables(const mvq_model *m, int64_t n_pos, float **cos_t, float **sin_t, mvq_error *err)
{
    const int64_t half = m->hp.n_rot / 2, n = n_pos * half > 0 ? n_pos * half : 1;
    float *factors = m->rope_freqs.data ? malloc((size_t)(half > 0 ? half : 1) * sizeof *factors) : NULL;
    *cos_t = malloc((size_t)n * sizeof **cos_t);
    *sin_t = malloc((size_t)n * sizeof **sin_t);
    if (!*cos_t || !*sin_t || (m->rope_freqs.data && !factors)) {
        free(factors);
        return mvq_error_set(err, MVQ_ERR_NOMEM, "forward pass: out of memory for RoPE tables");
    }
    if (factors)
        mvq_dequantize_row(m->rope_freqs.type, m->rope_freqs.data, factors, half);
    mvq_rope_tables(n_pos, m->hp.n_rot, m->hp.rope_freq_base, factors, *cos_t, *sin_t);
    free(factors);
    return MVQ_OK;
}

mvq_status mvq_layer_linear(mvq_pool *pool, mvq_linear_policy policy, const mvq_weight *w, const float *bias,
                            const float *x, int64_t n, float *y, mvq_error *err)
{
    /* llama.cpp's numerics: quantized weights meet activations quantized
     * to their dot-product type.  Weights whose dot type is f32 (F16,
     * BF16: the files users calibrate on) quantize no activation, so a
     * batch takes mvq_matmul's tiled path (dequantized once per tile,
     * sgemm) rather than one dot per row and token */
    const bool quantizes_x = mvq_type_traits_get(w->type)->vec_dot_type != MVQ_TYPE_F32;
    mvq_matmul_path path = MVQ_PATH_AUTO;
    if ((policy == MVQ_POLICY_LLAMA_CPP && quantizes_x) || (policy == MVQ_POLICY_DECODE && n < 4))
        path = MVQ_PATH_DOT;
    mvq_status st = mvq_matmul_table(mvq_kernels(), path, pool, w->type, w->data, w->n_out, w->n_in, x, n, y, err);
    if (st != MVQ_OK || !bias)
        return st;
    for (int64_t t = 0; t < n; t++)
        for (int64_t o = 0; o < w->n_out; o++)
            y[t * w->n_out + o] += bias[o];
    return MVQ_OK;
}

/* Linear which of layer il with the weights L: W8A8 when the pass has int8 activations. */
static mvq_status linear(const mvq_layer_pass *p, const mvq_layer *L, int64_t il, mvq_linear which, const float *x,
                         int64_t n, float *y, mvq_error *err)
{
    const float *bias = mvq_layer_vecs(p->vec, il)[MVQ_VEC_BIAS0 + which];
    if (p->act && mvq_act_int8_linears(p->act))
        return mvq_act_int8_linear(p->act, p->act_scratch, p->pool, il, which, &L->linear[which], bias, x, n, y,
                                   err);
    return mvq_layer_linear(p->pool, p->policy, &L->linear[which], bias, x, n, y, err);
}

void mvq_layer_observe(const mvq_layer_pass *p, mvq_tap tap, int64_t il, float *data, int64_t n, int64_t n_heads,
                       int64_t head_dim)
{
    if (!p->obs || !mvq_observers_want(p->obs, tap))
        return;
    const mvq_observation o = {
        .tap = tap, .layer = il, .data = data, .n_tokens = n, .dim = n_heads * head_dim, .n_heads = n_heads,
        .head_dim = head_dim, .tokens = p->tokens, .pos = p->k_cache ? p->pos : 0, .decoding = p->k_cache != NULL,
    };
    mvq_observers_emit(p->obs, &o);
}

static void add_rows(float *x, const float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] += y[i];
}

/* RoPE, then attention: over the batch, or one position of each sequence against its cache. */
static mvq_status rope_and_attend(const mvq_layer_pass *p, int64_t il, int64_t n, mvq_error *err)
{
    const mvq_hparams *hp = &p->m->hp;
    const int64_t hd = hp->head_dim, q_dim = hp->n_head * hd, kv_dim = hp->n_head_kv * hd, half = hp->n_rot / 2;
    if (!p->k_cache) {
        mvq_rope_apply(p->q, n, hp->n_head, hd, hp->n_rot, hp->rope_style, p->rope_cos, p->rope_sin);
        mvq_rope_apply(p->k, n, hp->n_head_kv, hd, hp->n_rot, hp->rope_style, p->rope_cos, p->rope_sin);
    } else {
        /* every sequence is at the same position */
        const float *c = p->rope_cos + p->pos * half, *s = p->rope_sin + p->pos * half;
        for (int64_t b = 0; b < n; b++) {
            mvq_rope_apply(p->q + b * q_dim, 1, hp->n_head, hd, hp->n_rot, hp->rope_style, c, s);
            mvq_rope_apply(p->k + b * kv_dim, 1, hp->n_head_kv, hd, hp->n_rot, hp->rope_style, c, s);
        }
    }
    mvq_layer_observe(p, MVQ_TAP_Q, il, p->q, n, hp->n_head, hd);
    mvq_layer_observe(p, MVQ_TAP_K, il, p->k, n, hp->n_head_kv, hd);
    mvq_layer_observe(p, MVQ_TAP_V, il, p->v, n, hp->n_head_kv, hd);
    if (p->act)
        mvq_act_int8_bmm(p->act, il, p->q, p->k, p->v, n);
    mvq_status st = p->kv ? mvq_kv_apply(p->kv, hp, il, p->q, p->k, p->v, n, err) : MVQ_OK;
    if (st != MVQ_OK)
        return st;
    if (!p->k_cache && mvq_kv_per_channel(p->kv))
        return mvq_kv_channel_attention(p, il, n, err);
    if (!p->k_cache) {
        mvq_attention_args a = {
            .q = p->q, .k = p->k, .v = p->v, .out = p->att, .kt = p->kt, .scores = p->scores,
            .n_tokens = n, .n_head = hp->n_head, .n_head_kv = hp->n_head_kv, .head_dim = hd,
        };
        mvq_attention(p->pool, &a);
        return MVQ_OK;
    }
    const int64_t seq_stride = p->max_pos * kv_dim;
    for (int64_t b = 0; b < n; b++) {
        float *kb = p->k_cache + b * seq_stride, *vb = p->v_cache + b * seq_stride;
        memcpy(kb + p->pos * kv_dim, p->k + b * kv_dim, (size_t)kv_dim * sizeof(float));
        memcpy(vb + p->pos * kv_dim, p->v + b * kv_dim, (size_t)kv_dim * sizeof(float));
        if (mvq_kv_per_channel(p->kv) && (st = mvq_kv_channel_step(p->kv, hp, il, kb, p->pos + 1, err)) != MVQ_OK)
            return st;
        mvq_attention_cached(p->q + b * q_dim, kb, vb, p->pos + 1, hp->n_head, hp->n_head_kv, hd, p->scores,
                             p->att + b * q_dim);
    }
    return MVQ_OK;
}

static mvq_status attention_block(const mvq_layer_pass *p, const mvq_layer *L, int64_t il, float *x, int64_t n,
                                  mvq_error *err)
{
    const mvq_hparams *hp = &p->m->hp;
    float *const *vec = mvq_layer_vecs(p->vec, il);
    const int64_t hd = hp->head_dim;
    mvq_status st;

    mvq_layer_observe(p, MVQ_TAP_RESIDUAL, il, x, n, 1, hp->n_embd);
    mvq_rmsnorm_rows(x, p->xn, vec[MVQ_VEC_ATTN_NORM], n, hp->n_embd, (float)hp->rms_eps);
    mvq_layer_observe(p, MVQ_TAP_ATTN_IN, il, p->xn, n, 1, hp->n_embd);
    float *out[3] = {p->q, p->k, p->v};
    for (int i = MVQ_LINEAR_Q; i <= MVQ_LINEAR_V; i++)
        if ((st = linear(p, L, il, (mvq_linear)i, p->xn, n, out[i], err)) != MVQ_OK)
            return st;
    mvq_layer_observe(p, MVQ_TAP_Q_PRE_ROPE, il, p->q, n, hp->n_head, hd);
    mvq_layer_observe(p, MVQ_TAP_K_PRE_ROPE, il, p->k, n, hp->n_head_kv, hd);
    if ((st = rope_and_attend(p, il, n, err)) != MVQ_OK)
        return st;
    mvq_layer_observe(p, MVQ_TAP_ATTN_OUT, il, p->att, n, hp->n_head, hd);
    if ((st = linear(p, L, il, MVQ_LINEAR_O, p->att, n, p->tmp, err)) != MVQ_OK)
        return st;
    add_rows(x, p->tmp, n * hp->n_embd);
    return MVQ_OK;
}

static mvq_status ffn_block(const mvq_layer_pass *p, const mvq_layer *L, int64_t il, float *x, int64_t n,
                            mvq_error *err)
{
    const mvq_hparams *hp = &p->m->hp;
    float *const *vec = mvq_layer_vecs(p->vec, il);
    mvq_status st;

    mvq_rmsnorm_rows(x, p->xn, vec[MVQ_VEC_FFN_NORM], n, hp->n_embd, (float)hp->rms_eps);
    mvq_layer_observe(p, MVQ_TAP_FFN_IN, il, p->xn, n, 1, hp->n_embd);
    if ((st = linear(p, L, il, MVQ_LINEAR_GATE, p->xn, n, p->gate, err)) != MVQ_OK ||
        (st = linear(p, L, il, MVQ_LINEAR_UP, p->xn, n, p->up, err)) != MVQ_OK)
        return st;
    mvq_swiglu(p->gate, p->up, n * hp->n_ff);
    mvq_layer_observe(p, MVQ_TAP_FFN_DOWN_IN, il, p->gate, n, 1, hp->n_ff);
    if ((st = linear(p, L, il, MVQ_LINEAR_DOWN, p->gate, n, p->tmp, err)) != MVQ_OK)
        return st;
    add_rows(x, p->tmp, n * hp->n_embd);
    return MVQ_OK;
}

mvq_status mvq_layer_run(const mvq_layer_pass *p, const mvq_layer *L, int64_t il, float *x, int64_t n,
                         mvq_error *err)
{
    mvq_status st = attention_block(p, L, il, x, n, err);
    return st == MVQ_OK ? ffn_block(p, L, il, x, n, err) : st;
}
