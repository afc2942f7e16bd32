/* The Hessians GPTQ needs, H = 2/n sum x x^T over the calibration tokens,
 * for the inputs of one layer at a time: attn_q/attn_k/attn_v share one,
 * ffn_gate/ffn_up another; attn_output and ffn_down have their own, and
 * the output matrix its input's after the last layer.  The layer-by-layer
 * pass shows each layer's inputs before the layer is quantized, so only
 * the layer being observed is held.  Each observation's x^T x is one
 * float matrix product (a sequence of at most a few hundred tokens) added
 * into sums in double. */
#include "config.h"
#include "quant/calib/calib_internal.h"
#include "quant/methods/gptq_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct input_sum {
    int64_t dim, n_tokens;
    double *sum;    /* dim x dim: sum x x^T, then (final) H */
    bool final;
} input_sum;

struct gptq_hessians {
    mvq_pool *pool;
    int64_t layer; /* whose inputs the sums hold; -1 before any */
    input_sum in[MVQ_CALIB_INPUT_COUNT];
    float *xt, *prod; /* one observation transposed, its product */
    size_t xt_size, prod_size;
    bool nomem;
};

gptq_hessians *gptq_hessians_new(const mvq_model *m, mvq_pool *pool, mvq_error *err)
{
    gptq_hessians *h = calloc(1, sizeof *h);
    if (!h) {
        mvq_error_set(err, MVQ_ERR_NOMEM, "gptq: out of memory");
        return NULL;
    }
    const mvq_hparams *hp = &m->hp;
    h->pool = pool;
    h->layer = -1;
    h->in[MVQ_CALIB_ATTN_IN].dim = h->in[MVQ_CALIB_FFN_IN].dim = h->in[MVQ_CALIB_OUTPUT_IN].dim = hp->n_embd;
    h->in[MVQ_CALIB_ATTN_OUT].dim = hp->n_head * hp->head_dim;
    h->in[MVQ_CALIB_FFN_DOWN_IN].dim = hp->n_ff;
    return h;
}

static void release_sums(gptq_hessians *h)
{
    for (int i = 0; i < MVQ_CALIB_INPUT_COUNT; i++) {
        free(h->in[i].sum);
        h->in[i].sum = NULL;
        h->in[i].n_tokens = 0;
        h->in[i].final = false;
    }
}

void gptq_hessians_free(gptq_hessians *h)
{
    if (!h)
        return;
    release_sums(h);
    free(h->xt);
    free(h->prod);
    free(h);
}

static bool room(float **buf, size_t *size, size_t want)
{
    if (*size >= want)
        return true;
    free(*buf);
    *buf = malloc(sizeof **buf * want);
    *size = *buf ? want : 0;
    return *buf != NULL;
}

void gptq_hessians_observe(void *user, const mvq_observation *obs)
{
    gptq_hessians *h = user;
    const int i = mvq_calib_tap_input(obs->tap);
    if (i < 0 || h->nomem)
        return;
    input_sum *s = &h->in[i];
    const int64_t d = obs->dim, T = obs->n_tokens;
    if (d != s->dim || T <= 0)
        return;
    if (obs->layer != h->layer) { /* a new layer: the last one is done with */
        release_sums(h);
        h->layer = obs->layer;
    }
    if (!s->sum && !(s->sum = calloc((size_t)(d * d), sizeof *s->sum))) {
        h->nomem = true;
        return;
    }
    if (!room(&h->xt, &h->xt_size, (size_t)(d * T)) || !room(&h->prod, &h->prod_size, (size_t)(d * d))) {
        h->nomem = true;
        return;
    }
    for (int64_t t = 0; t < T; t++)
        for (int64_t j = 0; j < d; j++)
            h->xt[j * T + t] = obs->data[t * d + j];
    /* prod[a][b] = sum_t xt[b][t] xt[a][t] */
    if (mvq_matmul(h->pool, MVQ_TYPE_F32, h->xt, d, T, h->xt, d, h->prod, NULL) != MVQ_OK) {
        h->nomem = true;
        return;
    }
    for (int64_t k = 0; k < d * d; k++)
        s->sum[k] += h->prod[k];
    s->n_tokens += T;
}

const double *gptq_hessians_for(gptq_hessians *h, const char *tensor_name, int64_t n_in)
{
    int64_t layer;
    const int i = mvq_calib_tensor_input(tensor_name, &layer);
    if (i < 0 || h->nomem)
        return NULL;
    if (i == MVQ_CALIB_OUTPUT_IN)
        layer = h->layer; /* observed after the last layer, as layer n_layer */
    input_sum *s = &h->in[i];
    if (layer != h->layer || !s->sum || s->dim != n_in || s->n_tokens <= 0)
        return NULL;
    if (!s->final) {
        const double f = 2.0 / (double)s->n_tokens;
        for (int64_t k = 0; k < n_in * n_in; k++)
            s->sum[k] *= f;
        s->final = true;
    }
    return s->sum;
}
