/* Incremental decoding with a KV cache: each step runs one token of each
 * of a batch of sequences through the layers, attending to the cached keys
 * and values of that sequence's earlier positions.  The batch turns the
 * weight products into small matrix products instead of vector ones. */
#include "config.h"
#include "quant/decode_internal.h"
#include "quant/model_internal.h"
#include "kernels/matmul.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { V_ATTN_NORM = 0, V_FFN_NORM = 1, V_BIAS0 = 2, V_PER_LAYER = V_BIAS0 + MVQ_LINEAR_COUNT };

struct mvq_decoder {
    const mvq_model *m;
    mvq_pool *pool;
    bool owns_pool;
    int64_t max_pos, batch, pos;
    float **vec;              /* per layer V_PER_LAYER vectors (NULL when absent), then output_norm */
    float *rope_cos, *rope_sin;
    float *k_cache, *v_cache; /* [layer][sequence][pos][kv_dim] */
    float *x, *xn, *q, *k, *v, *att, *gate, *up, *tmp, *scores;
};

static float *f32_copy(const mvq_weight *w)
{
    if (!w->data)
        return NULL;
    float *p = malloc((size_t)w->n_in * sizeof *p);
    if (p)
        mvq_dequantize_row(w->type, w->data, p, w->n_in);
    return p;
}

static bool convert_vectors(mvq_decoder *d)
{
    const mvq_model *m = d->m;
    const int64_t n = m->hp.n_layer * V_PER_LAYER + 1;
    d->vec = calloc((size_t)n, sizeof *d->vec);
    if (!d->vec)
        return false;
    for (int64_t il = 0; il < m->hp.n_layer; il++) {
        const mvq_layer *L = &m->layers[il];
        float **v = d->vec + il * V_PER_LAYER;
        v[V_ATTN_NORM] = f32_copy(&L->attn_norm);
        v[V_FFN_NORM] = f32_copy(&L->ffn_norm);
        if (!v[V_ATTN_NORM] || !v[V_FFN_NORM])
            return false;
        for (int i = 0; i < MVQ_LINEAR_COUNT; i++)
            if (L->bias[i].data && !(v[V_BIAS0 + i] = f32_copy(&L->bias[i])))
                return false;
    }
    return (d->vec[n - 1] = f32_copy(&m->output_norm)) != NULL;
}

static bool alloc_buffers(mvq_decoder *d)
{
    const mvq_hparams *hp = &d->m->hp;
    const int64_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    const int64_t half = hp->n_rot / 2, P = d->max_pos, B = d->batch;
    struct {
        float **p;
        int64_t n;
    } bufs[] = {
        {&d->rope_cos, P * half}, {&d->rope_sin, P * half}, {&d->k_cache, hp->n_layer * B * P * kv_dim},
        {&d->v_cache, hp->n_layer * B * P * kv_dim}, {&d->x, B * hp->n_embd}, {&d->xn, B * hp->n_embd},
        {&d->q, B * q_dim}, {&d->k, B * kv_dim}, {&d->v, B * kv_dim}, {&d->att, B * q_dim},
        {&d->gate, B * hp->n_ff}, {&d->up, B * hp->n_ff}, {&d->tmp, B * hp->n_embd}, {&d->scores, P},
    };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (!(*bufs[i].p = malloc((size_t)(bufs[i].n > 0 ? bufs[i].n : 1) * sizeof(float))))
            return false;
    float *factors = NULL;
    if (d->m->rope_freqs.data) {
        if (!(factors = malloc((size_t)half * sizeof *factors)))
            return false;
        mvq_dequantize_row(d->m->rope_freqs.type, d->m->rope_freqs.data, factors, half);
    }
    mvq_rope_tables(P, hp->n_rot, hp->rope_freq_base, factors, d->rope_cos, d->rope_sin);
    free(factors);
    return true;
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
    if (!convert_vectors(d) || !alloc_buffers(d))
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
    if (d->vec)
        for (int64_t i = 0; i < d->m->hp.n_layer * V_PER_LAYER + 1; i++)
            free(d->vec[i]);
    free(d->vec);
    float *bufs[] = {d->rope_cos, d->rope_sin, d->k_cache, d->v_cache, d->x,  d->xn,  d->q,
                     d->k,        d->v,        d->att,     d->gate,    d->up, d->tmp, d->scores};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    if (d->owns_pool)
        mvq_pool_free(d->pool);
    free(d);
}

void mvq_decoder_reset(mvq_decoder *d)
{
    d->pos = 0;
}

/* y = x W^T (+ bias) for n rows. */
static mvq_status linear(const mvq_decoder *d, const mvq_weight *w, const float *bias, const float *x, int64_t n,
                         float *y, mvq_error *err)
{
    /* one row: our own GEMV, as oneDNN's sgemm costs more to start than it takes */
    const mvq_matmul_path path = n < 4 ? MVQ_PATH_DOT : MVQ_PATH_AUTO;
    mvq_status st = mvq_matmul_table(mvq_kernels(), path, d->pool, w->type, w->data, w->n_out, w->n_in, x, n, y, err);
    if (st == MVQ_OK && bias)
        for (int64_t t = 0; t < n; t++)
            for (int64_t o = 0; o < w->n_out; o++)
                y[t * w->n_out + o] += bias[o];
    return st;
}

/* One query per head against the cached positions 0..pos (softmax in f32,
 * its sum in double, as the forward pass): q and att of one sequence. */
static void attend(mvq_decoder *d, const float *q, const float *kc, const float *vc, float *att)
{
    const mvq_hparams *hp = &d->m->hp;
    const int64_t hd = hp->head_dim, kv_dim = hp->n_head_kv * hd, n = d->pos + 1;
    const int64_t group = hp->n_head / hp->n_head_kv;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int64_t h = 0; h < hp->n_head; h++) {
        const float *qh = q + h * hd;
        const int64_t g = h / group;
        float mx = -INFINITY;
        for (int64_t j = 0; j < n; j++) {
            const float *kj = kc + j * kv_dim + g * hd;
            float s = 0.0f;
            for (int64_t e = 0; e < hd; e++)
                s += qh[e] * scale * kj[e];
            d->scores[j] = s;
            mx = s > mx ? s : mx;
        }
        double sum = 0.0;
        for (int64_t j = 0; j < n; j++)
            sum += d->scores[j] = expf(d->scores[j] - mx);
        float *oh = att + h * hd;
        memset(oh, 0, (size_t)hd * sizeof *oh);
        for (int64_t j = 0; j < n; j++)
            for (int64_t e = 0; e < hd; e++)
                oh[e] += d->scores[j] * vc[j * kv_dim + g * hd + e];
        const float inv = (float)(1.0 / sum);
        for (int64_t e = 0; e < hd; e++)
            oh[e] *= inv;
    }
}

static void add_rows(float *x, const float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] += y[i];
}

static mvq_status layer_step(mvq_decoder *d, int64_t il, int64_t nb, mvq_error *err)
{
    const mvq_hparams *hp = &d->m->hp;
    const mvq_layer *L = &d->m->layers[il];
    float **vec = d->vec + il * V_PER_LAYER;
    const int64_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim, half = hp->n_rot / 2;
    const int64_t seq_stride = d->max_pos * kv_dim;
    float *kc = d->k_cache + il * d->batch * seq_stride, *vc = d->v_cache + il * d->batch * seq_stride;
    float *out[3] = {d->q, d->k, d->v};
    mvq_status st;

    mvq_rmsnorm_rows(d->x, d->xn, vec[V_ATTN_NORM], nb, hp->n_embd, (float)hp->rms_eps);
    for (int i = MVQ_LINEAR_Q; i <= MVQ_LINEAR_V; i++)
        if ((st = linear(d, &L->linear[i], vec[V_BIAS0 + i], d->xn, nb, out[i], err)) != MVQ_OK)
            return st;
    /* every sequence is at the same position */
    const float *c = d->rope_cos + d->pos * half, *s = d->rope_sin + d->pos * half;
    for (int64_t b = 0; b < nb; b++) {
        mvq_rope_apply(d->q + b * q_dim, 1, hp->n_head, hp->head_dim, hp->n_rot, hp->rope_style, c, s);
        mvq_rope_apply(d->k + b * kv_dim, 1, hp->n_head_kv, hp->head_dim, hp->n_rot, hp->rope_style, c, s);
        float *kb = kc + b * seq_stride, *vb = vc + b * seq_stride;
        memcpy(kb + d->pos * kv_dim, d->k + b * kv_dim, (size_t)kv_dim * sizeof(float));
        memcpy(vb + d->pos * kv_dim, d->v + b * kv_dim, (size_t)kv_dim * sizeof(float));
        attend(d, d->q + b * q_dim, kb, vb, d->att + b * q_dim);
    }
    if ((st = linear(d, &L->linear[MVQ_LINEAR_O], vec[V_BIAS0 + MVQ_LINEAR_O], d->att, nb, d->tmp, err)) != MVQ_OK)
        return st;
    add_rows(d->x, d->tmp, nb * hp->n_embd);

    mvq_rmsnorm_rows(d->x, d->xn, vec[V_FFN_NORM], nb, hp->n_embd, (float)hp->rms_eps);
    if ((st = linear(d, &L->linear[MVQ_LINEAR_GATE], vec[V_BIAS0 + MVQ_LINEAR_GATE], d->xn, nb, d->gate, err)) !=
            MVQ_OK ||
        (st = linear(d, &L->linear[MVQ_LINEAR_UP], vec[V_BIAS0 + MVQ_LINEAR_UP], d->xn, nb, d->up, err)) != MVQ_OK)
        return st;
    mvq_swiglu(d->gate, d->up, nb * hp->n_ff);
    if ((st = linear(d, &L->linear[MVQ_LINEAR_DOWN], vec[V_BIAS0 + MVQ_LINEAR_DOWN], d->gate, nb, d->tmp, err)) !=
        MVQ_OK)
        return st;
    add_rows(d->x, d->tmp, nb * hp->n_embd);
    return MVQ_OK;
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
    mvq_status st = MVQ_OK;
    for (int64_t il = 0; il < hp->n_layer && st == MVQ_OK; il++)
        st = layer_step(d, il, nb, err);
    if (st != MVQ_OK)
        return st;
    d->pos++;
    if (!logits)
        return MVQ_OK;
    mvq_rmsnorm_rows(d->x, d->xn, d->vec[hp->n_layer * V_PER_LAYER], nb, hp->n_embd, (float)hp->rms_eps);
    return linear(d, &d->m->output, NULL, d->xn, nb, logits, err);
}
