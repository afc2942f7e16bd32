/* The optimized forward pass: causal prefill of a batch, f32 activations,
 * weight products through mvq_matmul, observation hooks at the taps. */
#include "config.h"
#include "quant/model_internal.h"
#include "kernels/matmul.h"

#include <stdlib.h>
#include <string.h>

struct mvq_forward {
    const mvq_model *m;
    int64_t max_tokens;
    mvq_pool *pool;
    bool owns_pool;
    /* f32 copies of the vectors, per layer: attn_norm, ffn_norm, then the
     * biases (NULL when absent); output_norm last */
    float **vec;
    float *vec_data;
    float *rope_cos, *rope_sin;
    /* activations, max_tokens rows each */
    float *x, *xn, *q, *k, *v, *att, *gate, *up, *tmp, *kt, *scores;
    mvq_forward_numerics numerics;
    uint32_t tap_mask;
    mvq_observe_fn observe;
    void *user;
    const int32_t *tokens; /* of the running batch, for observations */
};

enum { VEC_ATTN_NORM = 0, VEC_FFN_NORM = 1, VEC_BIAS0 = 2, VEC_PER_LAYER = VEC_BIAS0 + MVQ_LINEAR_COUNT };

static float **layer_vecs(const mvq_forward *f, int64_t il)
{
    return f->vec + il * VEC_PER_LAYER;
}

/* Collects the vectors to convert: fills list (when not NULL) and returns the count of floats. */
static int64_t collect_vectors(const mvq_model *m, const mvq_weight **list)
{
    int64_t n = 0, k = 0;
    for (int64_t il = 0; il < m->hp.n_layer; il++) {
        const mvq_layer *L = &m->layers[il];
        const mvq_weight *ws[VEC_PER_LAYER] = {&L->attn_norm, &L->ffn_norm};
        for (int i = 0; i < MVQ_LINEAR_COUNT; i++)
            ws[VEC_BIAS0 + i] = &L->bias[i];
        for (int i = 0; i < VEC_PER_LAYER; i++) {
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

static mvq_status convert_vectors(mvq_forward *f, mvq_error *err)
{
    const mvq_model *m = f->m;
    const int64_t n_vec = m->hp.n_layer * VEC_PER_LAYER + 1;
    const int64_t n_floats = collect_vectors(m, NULL);
    const mvq_weight **list = malloc((size_t)n_vec * sizeof *list);
    f->vec = calloc((size_t)n_vec, sizeof *f->vec);
    f->vec_data = malloc((size_t)n_floats * sizeof(float));
    if (!list || !f->vec || !f->vec_data) {
        free(list);
        return mvq_error_set(err, MVQ_ERR_NOMEM, "forward pass: out of memory");
    }
    collect_vectors(m, list);
    float *p = f->vec_data;
    for (int64_t i = 0; i < n_vec; i++) {
        if (!list[i]->data)
            continue;
        mvq_dequantize_row(list[i]->type, list[i]->data, p, list[i]->n_in);
        f->vec[i] = p;
        p += list[i]->n_in;
    }
    free(list);
    return MVQ_OK;
}

static mvq_status alloc_activations(mvq_forward *f, mvq_error *err)
{
    const mvq_hparams *hp = &f->m->hp;
    const int64_t T = f->max_tokens, half = hp->n_rot / 2;
    const int64_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    const int64_t wide = hp->n_embd > q_dim ? hp->n_embd : q_dim;
    const int nth = mvq_pool_size(f->pool);
    const int64_t kt_stride = mvq_attention_kt_stride(T);
    struct {
        float **p;
        int64_t n;
    } bufs[] = {
        {&f->rope_cos, T * half}, {&f->rope_sin, T * half}, {&f->x, T * hp->n_embd},
        {&f->xn, T * wide},       {&f->q, T * q_dim},       {&f->k, T * kv_dim},
        {&f->v, T * kv_dim},      {&f->att, T * q_dim},     {&f->gate, T * hp->n_ff},
        {&f->up, T * hp->n_ff},   {&f->tmp, T * hp->n_embd}, {&f->kt, kt_stride * kv_dim},
        {&f->scores, kt_stride * nth},
    };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        *bufs[i].p = malloc((size_t)(bufs[i].n > 0 ? bufs[i].n : 1) * sizeof(float));
        if (!*bufs[i].p)
            return mvq_error_set(err, MVQ_ERR_NOMEM, "forward pass: out of memory for %lld tokens",
                                 (long long)T);
    }
    float *factors = NULL;
    if (f->m->rope_freqs.data) {
        factors = malloc((size_t)half * sizeof *factors);
        if (!factors)
            return mvq_error_set(err, MVQ_ERR_NOMEM, "forward pass: out of memory");
        mvq_dequantize_row(f->m->rope_freqs.type, f->m->rope_freqs.data, factors, half);
    }
    mvq_rope_tables(T, hp->n_rot, hp->rope_freq_base, factors, f->rope_cos, f->rope_sin);
    free(factors);
    return MVQ_OK;
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
    if (convert_vectors(f, err) != MVQ_OK || alloc_activations(f, err) != MVQ_OK) {
        mvq_forward_free(f);
        return NULL;
    }
    return f;
}

void mvq_forward_free(mvq_forward *f)
{
    if (!f)
        return;
    float *bufs[] = {f->vec_data, f->rope_cos, f->rope_sin, f->x,  f->xn,  f->q,  f->k,
                     f->v,        f->att,      f->gate,     f->up, f->tmp, f->kt, f->scores};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    free(f->vec);
    if (f->owns_pool)
        mvq_pool_free(f->pool);
    free(f);
}

void mvq_forward_set_observer(mvq_forward *f, uint32_t tap_mask, mvq_observe_fn fn, void *user)
{
    f->observe = fn;
    f->tap_mask = fn ? tap_mask : 0;
    f->user = user;
}

static void observe(const mvq_forward *f, mvq_tap tap, int64_t layer, float *data, int64_t n_tokens,
                    int64_t n_heads, int64_t head_dim)
{
    if (!(f->tap_mask & MVQ_TAP_BIT(tap)))
        return;
    mvq_observation o = {
        .tap = tap, .layer = layer, .data = data, .n_tokens = n_tokens, .dim = n_heads * head_dim,
        .n_heads = n_heads, .head_dim = head_dim, .tokens = f->tokens,
    };
    f->observe(f->user, &o);
}

void mvq_forward_set_numerics(mvq_forward *f, mvq_forward_numerics numerics)
{
    f->numerics = numerics;
}

/* y = x W^T (+ bias) for n rows. */
static mvq_status linear(const mvq_forward *f, const mvq_weight *w, const float *bias, const float *x, int64_t n,
                         float *y, mvq_error *err)
{
    /* llama.cpp's numerics: quantized weights meet activations quantized to their dot-product type */
    const mvq_matmul_path path =
        f->numerics == MVQ_NUMERICS_LLAMA_CPP && w->type != MVQ_TYPE_F32 ? MVQ_PATH_DOT : MVQ_PATH_AUTO;
    mvq_status st =
        mvq_matmul_table(mvq_kernels(), path, f->pool, w->type, w->data, w->n_out, w->n_in, x, n, y, err);
    if (st != MVQ_OK || !bias)
        return st;
    for (int64_t t = 0; t < n; t++)
        for (int64_t o = 0; o < w->n_out; o++)
            y[t * w->n_out + o] += bias[o];
    return MVQ_OK;
}

static void add_rows(float *x, const float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] += y[i];
}

static mvq_status attention_block(mvq_forward *f, int64_t il, int64_t T, mvq_error *err)
{
    const mvq_hparams *hp = &f->m->hp;
    const mvq_layer *L = &f->m->layers[il];
    float **vec = layer_vecs(f, il);
    const int64_t hd = hp->head_dim;
    mvq_status st;

    observe(f, MVQ_TAP_RESIDUAL, il, f->x, T, 1, hp->n_embd);
    mvq_rmsnorm_rows(f->x, f->xn, vec[VEC_ATTN_NORM], T, hp->n_embd, (float)hp->rms_eps);
    observe(f, MVQ_TAP_ATTN_IN, il, f->xn, T, 1, hp->n_embd);
    float *out[3] = {f->q, f->k, f->v};
    for (int i = MVQ_LINEAR_Q; i <= MVQ_LINEAR_V; i++)
        if ((st = linear(f, &L->linear[i], vec[VEC_BIAS0 + i], f->xn, T, out[i], err)) != MVQ_OK)
            return st;
    observe(f, MVQ_TAP_Q_PRE_ROPE, il, f->q, T, hp->n_head, hd);
    observe(f, MVQ_TAP_K_PRE_ROPE, il, f->k, T, hp->n_head_kv, hd);
    mvq_rope_apply(f->q, T, hp->n_head, hd, hp->n_rot, hp->rope_style, f->rope_cos, f->rope_sin);
    mvq_rope_apply(f->k, T, hp->n_head_kv, hd, hp->n_rot, hp->rope_style, f->rope_cos, f->rope_sin);
    observe(f, MVQ_TAP_Q, il, f->q, T, hp->n_head, hd);
    observe(f, MVQ_TAP_K, il, f->k, T, hp->n_head_kv, hd);
    observe(f, MVQ_TAP_V, il, f->v, T, hp->n_head_kv, hd);

    mvq_attention_args a = {
        .q = f->q, .k = f->k, .v = f->v, .out = f->att, .kt = f->kt, .scores = f->scores,
        .n_tokens = T, .n_head = hp->n_head, .n_head_kv = hp->n_head_kv, .head_dim = hd,
    };
    mvq_attention(f->pool, &a);
    observe(f, MVQ_TAP_ATTN_OUT, il, f->att, T, hp->n_head, hd);
    if ((st = linear(f, &L->linear[MVQ_LINEAR_O], vec[VEC_BIAS0 + MVQ_LINEAR_O], f->att, T, f->tmp, err)) !=
        MVQ_OK)
        return st;
    add_rows(f->x, f->tmp, T * hp->n_embd);
    return MVQ_OK;
}

static mvq_status ffn_block(mvq_forward *f, int64_t il, int64_t T, mvq_error *err)
{
    const mvq_hparams *hp = &f->m->hp;
    const mvq_layer *L = &f->m->layers[il];
    float **vec = layer_vecs(f, il);
    mvq_status st;

    mvq_rmsnorm_rows(f->x, f->xn, vec[VEC_FFN_NORM], T, hp->n_embd, (float)hp->rms_eps);
    observe(f, MVQ_TAP_FFN_IN, il, f->xn, T, 1, hp->n_embd);
    if ((st = linear(f, &L->linear[MVQ_LINEAR_GATE], vec[VEC_BIAS0 + MVQ_LINEAR_GATE], f->xn, T, f->gate,
                     err)) != MVQ_OK ||
        (st = linear(f, &L->linear[MVQ_LINEAR_UP], vec[VEC_BIAS0 + MVQ_LINEAR_UP], f->xn, T, f->up, err)) !=
            MVQ_OK)
        return st;
    mvq_swiglu(f->gate, f->up, T * hp->n_ff);
    observe(f, MVQ_TAP_FFN_DOWN_IN, il, f->gate, T, 1, hp->n_ff);
    if ((st = linear(f, &L->linear[MVQ_LINEAR_DOWN], vec[VEC_BIAS0 + MVQ_LINEAR_DOWN], f->gate, T, f->tmp,
                     err)) != MVQ_OK)
        return st;
    add_rows(f->x, f->tmp, T * hp->n_embd);
    return MVQ_OK;
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
    f->tokens = tokens;
    mvq_status st = embed(f, tokens, T, err);
    for (int64_t il = 0; st == MVQ_OK && il < hp->n_layer; il++) {
        st = attention_block(f, il, T, err);
        if (st == MVQ_OK)
            st = ffn_block(f, il, T, err);
    }
    if (st != MVQ_OK)
        return st;
    /* the final norm only where someone looks */
    const bool all = (f->tap_mask & MVQ_TAP_BIT(MVQ_TAP_OUTPUT_IN)) != 0;
    const int64_t from = all ? 0 : first_logit;
    const float *out_norm = f->vec[hp->n_layer * VEC_PER_LAYER];
    mvq_rmsnorm_rows(f->x + from * hp->n_embd, f->xn + from * hp->n_embd, out_norm, T - from, hp->n_embd,
                     (float)hp->rms_eps);
    observe(f, MVQ_TAP_OUTPUT_IN, hp->n_layer, f->xn, T, 1, hp->n_embd);
    if (!logits || first_logit == T)
        return MVQ_OK;
    return linear(f, &f->m->output, NULL, f->xn + first_logit * hp->n_embd, T - first_logit, logits, err);
}
