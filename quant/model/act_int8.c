/* Int8 activations on the reference pass (SmoothQuant's W8A8): the block
 * linears repacked once per model to int8 per output channel and fed int8
 * per-token inputs through mvq_i8_gemm; optionally Q, K and V rounded
 * through int8 per token before attention, the massive Q/K channels held
 * in F16 outside the scale. */
#include "config.h"
#include "quant/model/act_int8_internal.h"
#include "quant/methods/scales_internal.h"
#include <mvquant/int8.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct mvq_act_int8 {
    const mvq_model *m;
    bool linears, bmm;
    mvq_i8_weights *w;         /* [n_layer][MVQ_LINEAR_COUNT] with linears */
    const void **src;          /* the weight data each was packed from */
    uint8_t *k_keep, *q_keep;  /* [n_layer][kv_dim], [n_layer][q_dim]; NULL: none */
};

typedef struct pack_job {
    mvq_act_int8 *a;
    mvq_status *status; /* per matrix */
    mvq_error *errs;
} pack_job;

static void pack_share(void *arg, int ith, int nth)
{
    pack_job *j = arg;
    const mvq_model *m = j->a->m;
    for (int64_t k = ith; k < m->hp.n_layer * MVQ_LINEAR_COUNT; k += nth) {
        const mvq_weight *w = &m->layers[k / MVQ_LINEAR_COUNT].linear[k % MVQ_LINEAR_COUNT];
        float *rows = mvq_weight_f32(w, &j->errs[k]);
        j->status[k] = rows ? mvq_i8_weights_pack(rows, w->n_out, w->n_in, &j->a->w[k], &j->errs[k])
                            : j->errs[k].status;
        j->a->src[k] = w->data;
        free(rows);
    }
}

static mvq_status pack_all(mvq_act_int8 *a, mvq_pool *pool, mvq_error *err)
{
    const int64_t n = a->m->hp.n_layer * MVQ_LINEAR_COUNT;
    a->w = calloc((size_t)n, sizeof *a->w);
    a->src = calloc((size_t)n, sizeof *a->src);
    pack_job j = {.a = a, .status = calloc((size_t)n, sizeof *j.status), .errs = calloc((size_t)n, sizeof *j.errs)};
    mvq_status st = MVQ_OK;
    if (!a->w || !a->src || !j.status || !j.errs)
        st = mvq_error_set(err, MVQ_ERR_NOMEM, "int8 activations: out of memory");
    else if (pool)
        mvq_pool_run(pool, pack_share, &j);
    else
        pack_share(&j, 0, 1);
    for (int64_t k = 0; st == MVQ_OK && k < n; k++)
        if (j.status[k] != MVQ_OK) {
            st = j.status[k];
            if (err)
                *err = j.errs[k];
        }
    free(j.status);
    free(j.errs);
    return st;
}

/* The query channels read by kept K channels: head h reads KV head h / group. */
static mvq_status keep_masks(mvq_act_int8 *a, const uint8_t *k_keep, mvq_error *err)
{
    const mvq_hparams *hp = &a->m->hp;
    const int64_t hd = hp->head_dim, kv_dim = hp->n_head_kv * hd, q_dim = hp->n_head * hd;
    const int64_t group = hp->n_head / hp->n_head_kv;
    a->k_keep = malloc((size_t)(hp->n_layer * kv_dim));
    a->q_keep = malloc((size_t)(hp->n_layer * q_dim));
    if (!a->k_keep || !a->q_keep)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "int8 activations: out of memory");
    memcpy(a->k_keep, k_keep, (size_t)(hp->n_layer * kv_dim));
    for (int64_t l = 0; l < hp->n_layer; l++)
        for (int64_t c = 0; c < q_dim; c++)
            a->q_keep[l * q_dim + c] = k_keep[l * kv_dim + (c / hd / group) * hd + c % hd];
    return MVQ_OK;
}

mvq_act_int8 *mvq_act_int8_create(const mvq_model *m, const mvq_act_int8_opts *o, mvq_pool *pool, mvq_error *err)
{
    if (!m || !o) {
        mvq_error_set(err, MVQ_ERR_ARG, "int8 activations: needs a model and options");
        return NULL;
    }
    mvq_act_int8 *a = calloc(1, sizeof *a);
    if (!a) {
        mvq_error_set(err, MVQ_ERR_NOMEM, "int8 activations: out of memory");
        return NULL;
    }
    a->m = m;
    a->linears = o->linears;
    a->bmm = o->bmm;
    mvq_status st = o->linears ? pack_all(a, pool, err) : MVQ_OK;
    if (st == MVQ_OK && o->bmm && o->k_keep)
        st = keep_masks(a, o->k_keep, err);
    if (st != MVQ_OK) {
        mvq_act_int8_free(a);
        return NULL;
    }
    return a;
}

void mvq_act_int8_free(mvq_act_int8 *a)
{
    if (!a)
        return;
    for (int64_t k = 0; a->w && k < a->m->hp.n_layer * MVQ_LINEAR_COUNT; k++)
        mvq_i8_weights_free(&a->w[k]);
    free(a->w);
    free(a->src);
    free(a->k_keep);
    free(a->q_keep);
    free(a);
}

size_t mvq_act_int8_weight_bytes(const mvq_act_int8 *a)
{
    size_t b = 0;
    for (int64_t k = 0; a->w && k < a->m->hp.n_layer * MVQ_LINEAR_COUNT; k++)
        b += (size_t)(a->w[k].n_out * a->w[k].n_in) + (size_t)a->w[k].n_out * (sizeof(float) + sizeof(int32_t));
    return b;
}

bool mvq_act_int8_linears(const mvq_act_int8 *a)
{
    return a->linears;
}

static int64_t widest_input(const mvq_model *m)
{
    const mvq_hparams *hp = &m->hp;
    const int64_t q_dim = hp->n_head * hp->head_dim;
    int64_t w = hp->n_embd > hp->n_ff ? hp->n_embd : hp->n_ff;
    return w > q_dim ? w : q_dim;
}

mvq_status mvq_act_scratch_init(mvq_act_scratch *s, const mvq_act_int8 *a, const mvq_model *m, int64_t rows,
                                mvq_error *err)
{
    memset(s, 0, sizeof *s);
    if (a->m != m)
        return mvq_error_set(err, MVQ_ERR_ARG, "int8 activations: made for another model");
    if (!a->linears)
        return MVQ_OK;
    s->q = malloc((size_t)(rows * widest_input(m)));
    s->scale = malloc((size_t)rows * sizeof *s->scale);
    if (!s->q || !s->scale) {
        mvq_act_scratch_free(s);
        return mvq_error_set(err, MVQ_ERR_NOMEM, "int8 activations: out of memory for %lld rows", (long long)rows);
    }
    return MVQ_OK;
}

void mvq_act_scratch_free(mvq_act_scratch *s)
{
    free(s->q);
    free(s->scale);
    s->q = NULL;
    s->scale = NULL;
}

mvq_status mvq_act_int8_linear(const mvq_act_int8 *a, const mvq_act_scratch *s, mvq_pool *pool, int64_t il,
                               mvq_linear which, const mvq_weight *w, const float *bias, const float *x, int64_t n,
                               float *y, mvq_error *err)
{
    const int64_t k = il * MVQ_LINEAR_COUNT + which;
    const mvq_i8_weights *p = &a->w[k];
    if (w->data != a->src[k])
        return mvq_error_set(err, MVQ_ERR_ARG, "int8 activations: %s changed since its int8 weights were packed",
                             w->name ? w->name : mvq_linear_name(which));
    mvq_i8_quantize_rows(x, n, p->n_in, s->q, s->scale);
    mvq_i8_gemm(pool, p, s->q, s->scale, n, y);
    for (int64_t t = 0; bias && t < n; t++)
        for (int64_t o = 0; o < p->n_out; o++)
            y[t * p->n_out + o] += bias[o];
    return MVQ_OK;
}

void mvq_act_int8_round_row(float *x, int64_t n, const uint8_t *keep)
{
    /* the numerics of mvq_i8_quantize_rows, so a product of two such rows
     * is scale * scale * (their int8 dot) plus the kept channels' part */
    float amax = 0.0f;
    for (int64_t i = 0; i < n; i++)
        if (!keep || !keep[i])
            amax = fmaxf(amax, fabsf(x[i]));
    const float d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
    for (int64_t i = 0; i < n; i++)
        x[i] = keep && keep[i] ? mvq_fp16_to_fp32(mvq_fp32_to_fp16(x[i])) : roundf(x[i] * id) * d;
}

void mvq_act_int8_bmm(const mvq_act_int8 *a, int64_t il, float *q, float *k, float *v, int64_t n)
{
    if (!a->bmm)
        return;
    const mvq_hparams *hp = &a->m->hp;
    const int64_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    const uint8_t *qk = a->q_keep ? a->q_keep + il * q_dim : NULL;
    const uint8_t *kk = a->k_keep ? a->k_keep + il * kv_dim : NULL;
    for (int64_t t = 0; t < n; t++) {
        mvq_act_int8_round_row(q + t * q_dim, q_dim, qk);
        mvq_act_int8_round_row(k + t * kv_dim, kv_dim, kk);
        mvq_act_int8_round_row(v + t * kv_dim, kv_dim, NULL);
    }
}
