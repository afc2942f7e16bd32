/* Calibration statistics: accumulated from the forward pass's observation
 * hooks over calibration tokens. */
#include "config.h"
#include "quant/calib/calib_internal.h"
#include "quant/model/model_roles.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

int64_t mvq_calib_default_ctx(const mvq_hparams *hp)
{
    return hp->n_ctx_train > 0 && hp->n_ctx_train < 512 ? hp->n_ctx_train : 512;
}

int64_t mvq_calib_input_layers(const mvq_calib *c, int i)
{
    return i == MVQ_CALIB_OUTPUT_IN ? 1 : c->hp.n_layer;
}

mvq_calib *mvq_calib_new(const mvq_hparams *hp, mvq_error *err)
{
    mvq_calib *c = calloc(1, sizeof *c);
    if (!c)
        goto nomem;
    c->hp = *hp;
    c->dim[MVQ_CALIB_ATTN_IN] = hp->n_embd;
    c->dim[MVQ_CALIB_ATTN_OUT] = hp->n_head * hp->head_dim;
    c->dim[MVQ_CALIB_FFN_IN] = hp->n_embd;
    c->dim[MVQ_CALIB_FFN_DOWN_IN] = hp->n_ff;
    c->dim[MVQ_CALIB_OUTPUT_IN] = hp->n_embd;
    for (int i = 0; i < MVQ_CALIB_INPUT_COUNT; i++) {
        size_t n = (size_t)(mvq_calib_input_layers(c, i) * c->dim[i]);
        c->sum_sq[i] = calloc(n, sizeof(double));
        c->sum_abs[i] = calloc(n, sizeof(double));
        c->max_abs[i] = calloc(n, sizeof(float));
        if (!c->sum_sq[i] || !c->sum_abs[i] || !c->max_abs[i])
            goto nomem;
    }
    c->qkv_heads[MVQ_CALIB_Q] = hp->n_head;
    c->qkv_heads[MVQ_CALIB_K] = c->qkv_heads[MVQ_CALIB_V] = hp->n_head_kv;
    for (int i = 0; i < 3; i++) {
        c->qkv_sq[i] = calloc((size_t)(hp->n_layer * c->qkv_heads[i] * hp->head_dim), sizeof(double));
        if (!c->qkv_sq[i])
            goto nomem;
    }
    return c;
nomem:
    mvq_calib_free(c);
    mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory for calibration statistics");
    return NULL;
}

void mvq_calib_free(mvq_calib *c)
{
    if (!c)
        return;
    for (int i = 0; i < MVQ_CALIB_INPUT_COUNT; i++) {
        free(c->sum_sq[i]);
        free(c->sum_abs[i]);
        free(c->max_abs[i]);
    }
    for (int i = 0; i < 3; i++)
        free(c->qkv_sq[i]);
    free(c);
}

int mvq_calib_tap_input(mvq_tap tap)
{
    switch (tap) {
    case MVQ_TAP_ATTN_IN: return MVQ_CALIB_ATTN_IN;
    case MVQ_TAP_ATTN_OUT: return MVQ_CALIB_ATTN_OUT;
    case MVQ_TAP_FFN_IN: return MVQ_CALIB_FFN_IN;
    case MVQ_TAP_FFN_DOWN_IN: return MVQ_CALIB_FFN_DOWN_IN;
    case MVQ_TAP_OUTPUT_IN: return MVQ_CALIB_OUTPUT_IN;
    default: return -1;
    }
}

static int tap_qkv(mvq_tap tap)
{
    switch (tap) {
    case MVQ_TAP_Q:
    case MVQ_TAP_Q_PRE_ROPE: return MVQ_CALIB_Q;
    case MVQ_TAP_K:
    case MVQ_TAP_K_PRE_ROPE: return MVQ_CALIB_K;
    case MVQ_TAP_V: return MVQ_CALIB_V;
    default: return -1;
    }
}

uint32_t mvq_calib_tap_mask(void)
{
    return MVQ_TAP_LINEAR_INPUTS | MVQ_TAP_BIT(MVQ_TAP_Q) | MVQ_TAP_BIT(MVQ_TAP_K) | MVQ_TAP_BIT(MVQ_TAP_V);
}

void mvq_calib_observe(void *calib, const mvq_observation *obs)
{
    mvq_calib *c = calib;
    int in = mvq_calib_tap_input(obs->tap), qkv = tap_qkv(obs->tap);
    if (in >= 0 && obs->dim == c->dim[in]) {
        int64_t layer = in == MVQ_CALIB_OUTPUT_IN ? 0 : obs->layer;
        double *sq = c->sum_sq[in] + layer * obs->dim, *ab = c->sum_abs[in] + layer * obs->dim;
        float *mx = c->max_abs[in] + layer * obs->dim;
        for (int64_t t = 0; t < obs->n_tokens; t++) {
            const float *x = obs->data + t * obs->dim;
            for (int64_t j = 0; j < obs->dim; j++) {
                float a = fabsf(x[j]);
                sq[j] += (double)x[j] * x[j];
                ab[j] += a;
                if (a > mx[j])
                    mx[j] = a;
            }
        }
        if (in == MVQ_CALIB_ATTN_IN && obs->layer == 0)
            c->n_tokens += obs->n_tokens; /* count each token once */
    } else if (qkv >= 0 && obs->dim == c->qkv_heads[qkv] * c->hp.head_dim) {
        double *sq = c->qkv_sq[qkv] + obs->layer * obs->dim;
        for (int64_t t = 0; t < obs->n_tokens; t++) {
            const float *x = obs->data + t * obs->dim;
            for (int64_t j = 0; j < obs->dim; j++)
                sq[j] += (double)x[j] * x[j];
        }
    }
}

mvq_status mvq_calib_run(mvq_calib *c, const mvq_model *m, const int32_t *tokens, int64_t n_tokens,
                         const mvq_calib_opts *opts, mvq_pool *pool, mvq_error *err)
{
    /* a length given is used as is: converters often record a shorter
     * context than the model was trained with (llama2.c models: 128) */
    uint32_t taps = mvq_calib_tap_mask();
    if (opts && opts->pre_rope) /* the same sums, from the taps before the rotation */
        taps = (taps & ~(MVQ_TAP_BIT(MVQ_TAP_Q) | MVQ_TAP_BIT(MVQ_TAP_K))) | MVQ_TAP_BIT(MVQ_TAP_Q_PRE_ROPE) |
               MVQ_TAP_BIT(MVQ_TAP_K_PRE_ROPE);
    const mvq_observer o = {.taps = taps, .kind = MVQ_OBSERVER_READ, .fn = mvq_calib_observe, .user = c};
    /* layer by layer: each layer's pages are released once its statistics are in */
    const mvq_layerwise_opts lw = {
        .n_ctx = opts && opts->n_ctx > 0 ? opts->n_ctx : mvq_calib_default_ctx(&m->hp),
        .bos = opts ? opts->bos : -1, .observers = &o, .n_observers = 1, .release = true,
        .progress = opts ? opts->progress : NULL, .user = opts ? opts->user : NULL,
    };
    mvq_status st = n_tokens > 0 ? mvq_forward_layerwise(m, tokens, n_tokens, &lw, pool, err) : MVQ_OK;
    if (st != MVQ_OK)
        return st;
    c->tokens_hash = XXH3_64bits(tokens, sizeof *tokens * (size_t)n_tokens);
    return MVQ_OK;
}

/* Which statistic feeds a tensor, and of which layer. */
int mvq_calib_tensor_input(const char *name, int64_t *layer)
{
    static const int input_of[MVQ_LINEAR_COUNT] = {
        MVQ_CALIB_ATTN_IN, MVQ_CALIB_ATTN_IN, MVQ_CALIB_ATTN_IN, MVQ_CALIB_ATTN_OUT,
        MVQ_CALIB_FFN_IN, MVQ_CALIB_FFN_IN, MVQ_CALIB_FFN_DOWN_IN,
    };
    mvq_tensor_role r = mvq_tensor_role_of(name);
    if (r.role == MVQ_ROLE_OUTPUT) {
        *layer = 0;
        return MVQ_CALIB_OUTPUT_IN;
    }
    if (r.role != MVQ_ROLE_LINEAR)
        return -1;
    *layer = r.layer;
    return input_of[r.linear];
}

bool mvq_calib_importance(const mvq_calib *c, const char *tensor_name, float *out, int64_t n_in)
{
    int64_t layer;
    int in = mvq_calib_tensor_input(tensor_name, &layer);
    if (in < 0 || c->n_tokens <= 0 || n_in != c->dim[in] || layer < 0 || layer >= mvq_calib_input_layers(c, in))
        return false;
    const double *sq = c->sum_sq[in] + layer * n_in;
    bool any = false;
    for (int64_t j = 0; j < n_in; j++) {
        out[j] = (float)(sq[j] / (double)c->n_tokens);
        any |= sq[j] != 0.0;
    }
    return any; /* all zero: an imported matrix without this entry */
}

void mvq_calib_norms(const mvq_calib *c, mvq_calib_qkv which, int64_t layer, float *out)
{
    int64_t n = c->qkv_heads[which] * c->hp.head_dim;
    const double *sq = c->qkv_sq[which] + layer * n;
    for (int64_t j = 0; j < n; j++)
        out[j] = (float)sqrt(sq[j]);
}

bool mvq_calib_has_norms(const mvq_calib *c)
{
    for (int w = 0; w < 3; w++)
        for (int64_t j = 0; j < c->hp.n_layer * c->qkv_heads[w] * c->hp.head_dim; j++)
            if (c->qkv_sq[w][j] != 0.0)
                return true;
    return false;
}
