/* Disruption of chosen Q/K/V dimensions as a MODIFY observer: per batched
 * pass, the per-head norms over all rows pick the dimensions, which are
 * then replaced in every row by the column's mean (or zero, or maximum). */
#include "config.h"
#include <mvquant/disrupt.h>

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The taps that can be disrupted, in the order of the hit counters. */
static const mvq_tap disrupt_taps[] = {MVQ_TAP_Q, MVQ_TAP_K, MVQ_TAP_Q_PRE_ROPE, MVQ_TAP_K_PRE_ROPE, MVQ_TAP_V};
#define N_DISRUPT_TAPS ((int)(sizeof disrupt_taps / sizeof disrupt_taps[0]))

struct mvq_disrupt {
    mvq_disrupt_opts opts;
    unsigned char *layers; /* n_layer flags */
    int64_t n_layer, n_head_max, head_dim;
    pthread_mutex_t lock; /* guards the counters */
    int64_t *passes;      /* [tap][layer] */
    int64_t *hits;        /* [tap][layer][head][dim] */
};

static int tap_slot(mvq_tap tap)
{
    for (int i = 0; i < N_DISRUPT_TAPS; i++)
        if (disrupt_taps[i] == tap)
            return i;
    return -1;
}

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Order of dimensions by norm: larger first, ties to the lower index. */
static void sort_by_norm(const double *norm, int n, int *order)
{
    for (int i = 0; i < n; i++)
        order[i] = i;
    for (int i = 1; i < n; i++) { /* insertion sort: heads are small */
        int v = order[i], j = i;
        while (j > 0 && norm[order[j - 1]] < norm[v])
            order[j] = order[j - 1], j--;
        order[j] = v;
    }
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

int mvq_disrupt_choose(const float *rows, int64_t n_tokens, int64_t stride, int64_t head_dim,
                       const mvq_disrupt_opts *opts, uint64_t slot, int *dims)
{
    const int n = (int)head_dim;
    double *norm = malloc((size_t)n * sizeof *norm);
    int *order = malloc((size_t)n * sizeof *order);
    unsigned char *massive = calloc((size_t)n, 1);
    int count = 0;
    if (!norm || !order || !massive)
        goto done;
    double mean = 0.0;
    for (int d = 0; d < n; d++) {
        double s = 0.0;
        for (int64_t t = 0; t < n_tokens; t++) {
            const double x = rows[t * stride + d];
            s += x * x;
        }
        norm[d] = sqrt(s);
        mean += norm[d] / n;
    }
    sort_by_norm(norm, n, order);
    int k = opts->topk < n ? opts->topk : n;
    if (opts->lambda > 0)
        for (k = 0; k < n && norm[order[k]] > opts->lambda * mean; k++)
            ;
    for (int i = 0; i < k; i++)
        massive[order[i]] = 1;
    if (opts->target == MVQ_DISRUPT_MASSIVE)
        memcpy(dims, order, (size_t)k * sizeof *dims), count = k;
    else if (opts->target == MVQ_DISRUPT_LOWEST)
        for (int i = 0; i < k; i++)
            dims[count++] = order[n - 1 - i];
    else {
        /* a fixed permutation per slot (Fisher-Yates on the seed), its first k non-massive entries */
        for (int i = 0; i < n; i++)
            order[i] = i;
        uint64_t s = mix64(opts->seed ^ mix64(slot));
        for (int i = n - 1; i > 0; i--) {
            s = mix64(s);
            const int j = (int)(s % (uint64_t)(i + 1)), v = order[i];
            order[i] = order[j], order[j] = v;
        }
        for (int i = 0; i < n && count < k; i++)
            if (!massive[order[i]])
                dims[count++] = order[i];
    }
    qsort(dims, (size_t)count, sizeof *dims, cmp_int);
done:
    free(norm);
    free(order);
    free(massive);
    return count;
}

/* Replaces column d of one head in every row. */
static void replace_column(float *rows, int64_t n_tokens, int64_t stride, int d, mvq_disrupt_mode mode)
{
    float v = 0.0f;
    if (mode == MVQ_DISRUPT_MEAN) {
        double s = 0.0;
        for (int64_t t = 0; t < n_tokens; t++)
            s += rows[t * stride + d];
        v = (float)(s / (double)n_tokens);
    } else if (mode == MVQ_DISRUPT_MAX) {
        v = rows[d];
        for (int64_t t = 1; t < n_tokens; t++)
            v = fmaxf(v, rows[t * stride + d]);
    }
    for (int64_t t = 0; t < n_tokens; t++)
        rows[t * stride + d] = v;
}

static void observe(void *user, const mvq_observation *obs)
{
    mvq_disrupt *dr = user;
    const int slot = tap_slot(obs->tap);
    if (obs->decoding || slot < 0 || !(dr->opts.taps & MVQ_TAP_BIT(obs->tap)) || obs->layer < 0 ||
        obs->layer >= dr->n_layer || !dr->layers[obs->layer] || obs->n_tokens < 1)
        return;
    const int64_t hd = obs->head_dim, nh = obs->n_heads;
    int *dims = malloc((size_t)(nh * hd) * sizeof *dims);
    int *counts = malloc((size_t)nh * sizeof *counts);
    if (!dims || !counts) {
        free(dims);
        free(counts);
        return; /* nothing to report it to; the counters show the pass was left alone */
    }
    /* choose on the undisturbed values of every head, then replace */
    for (int64_t h = 0; h < nh; h++) {
        const uint64_t key = ((uint64_t)slot << 48) ^ ((uint64_t)obs->layer << 24) ^ (uint64_t)h;
        counts[h] = mvq_disrupt_choose(obs->data + h * hd, obs->n_tokens, obs->dim, hd, &dr->opts, key,
                                       dims + h * hd);
    }
    for (int64_t h = 0; h < nh; h++)
        for (int i = 0; i < counts[h]; i++)
            replace_column(obs->data + h * hd, obs->n_tokens, obs->dim, dims[h * hd + i], dr->opts.mode);
    pthread_mutex_lock(&dr->lock);
    const int64_t at = slot * dr->n_layer + obs->layer;
    dr->passes[at]++;
    for (int64_t h = 0; h < nh && h < dr->n_head_max && hd == dr->head_dim; h++)
        for (int i = 0; i < counts[h]; i++)
            dr->hits[(at * dr->n_head_max + h) * dr->head_dim + dims[h * hd + i]]++;
    pthread_mutex_unlock(&dr->lock);
    free(dims);
    free(counts);
}

mvq_disrupt *mvq_disrupt_create(const mvq_model *m, const mvq_disrupt_opts *opts, mvq_error *err)
{
    uint32_t allowed = 0;
    for (int i = 0; i < N_DISRUPT_TAPS; i++)
        allowed |= MVQ_TAP_BIT(disrupt_taps[i]);
    const uint32_t taps = opts->taps ? opts->taps : MVQ_TAP_BIT(MVQ_TAP_Q) | MVQ_TAP_BIT(MVQ_TAP_K);
    if (taps & ~allowed) {
        mvq_error_set(err, MVQ_ERR_ARG, "disrupt: only the q, k (before or after RoPE) and v taps can be disrupted");
        return NULL;
    }
    if (opts->topk < 0 || opts->topk > m->hp.head_dim || !(opts->lambda >= 0)) {
        mvq_error_set(err, MVQ_ERR_ARG, "disrupt: top-k %d or lambda %g out of range (head size %lld)", opts->topk,
                      opts->lambda, (long long)m->hp.head_dim);
        return NULL;
    }
    if (opts->mode > MVQ_DISRUPT_MAX || opts->target > MVQ_DISRUPT_RANDOM) {
        mvq_error_set(err, MVQ_ERR_ARG, "disrupt: unknown mode or target");
        return NULL;
    }
    mvq_disrupt *d = calloc(1, sizeof *d);
    if (!d) {
        mvq_error_set(err, MVQ_ERR_NOMEM, "disrupt: out of memory");
        return NULL;
    }
    d->opts = *opts;
    d->opts.taps = taps;
    d->n_layer = m->hp.n_layer;
    d->n_head_max = m->hp.n_head > m->hp.n_head_kv ? m->hp.n_head : m->hp.n_head_kv;
    d->head_dim = m->hp.head_dim;
    d->layers = malloc((size_t)d->n_layer + 1);
    d->passes = calloc((size_t)(N_DISRUPT_TAPS * d->n_layer) + 1, sizeof *d->passes);
    d->hits = calloc((size_t)(N_DISRUPT_TAPS * d->n_layer * d->n_head_max * d->head_dim) + 1, sizeof *d->hits);
    if (!d->layers || !d->passes || !d->hits) {
        mvq_disrupt_free(d);
        mvq_error_set(err, MVQ_ERR_NOMEM, "disrupt: out of memory");
        return NULL;
    }
    for (int64_t l = 0; l < d->n_layer; l++)
        d->layers[l] = opts->layers ? opts->layers[l] != 0 : 1;
    d->opts.layers = d->layers;
    pthread_mutex_init(&d->lock, NULL);
    return d;
}

void mvq_disrupt_free(mvq_disrupt *d)
{
    if (!d)
        return;
    if (d->layers && d->passes && d->hits)
        pthread_mutex_destroy(&d->lock);
    free(d->layers);
    free(d->passes);
    free(d->hits);
    free(d);
}

mvq_observer mvq_disrupt_observer(mvq_disrupt *d)
{
    mvq_observer o = {.taps = d->opts.taps, .kind = MVQ_OBSERVER_MODIFY, .fn = observe, .user = d};
    return o;
}

int64_t mvq_disrupt_passes(const mvq_disrupt *d, mvq_tap tap, int64_t layer)
{
    const int slot = tap_slot(tap);
    if (slot < 0 || layer < 0 || layer >= d->n_layer)
        return 0;
    return d->passes[slot * d->n_layer + layer];
}

int64_t mvq_disrupt_hits(const mvq_disrupt *d, mvq_tap tap, int64_t layer, int64_t head, int64_t dim)
{
    const int slot = tap_slot(tap);
    if (slot < 0 || layer < 0 || layer >= d->n_layer || head < 0 || head >= d->n_head_max || dim < 0 ||
        dim >= d->head_dim)
        return 0;
    return d->hits[((slot * d->n_layer + layer) * d->n_head_max + head) * d->head_dim + dim];
}

typedef struct norms_pass {
    double *const *sq;
    bool pre_rope;
} norms_pass;

static void add_squares(void *user, const mvq_observation *obs)
{
    const norms_pass *np = user;
    const int w = obs->tap == MVQ_TAP_V ? 2 : obs->tap == MVQ_TAP_K || obs->tap == MVQ_TAP_K_PRE_ROPE ? 1 : 0;
    double *sq = np->sq[w] + obs->layer * obs->dim;
    for (int64_t t = 0; t < obs->n_tokens; t++)
        for (int64_t j = 0; j < obs->dim; j++)
            sq[j] += (double)obs->data[t * obs->dim + j] * obs->data[t * obs->dim + j];
}

mvq_status mvq_qkv_norms_pass(const mvq_model *m, const int32_t *tokens, int64_t n_tokens, int64_t n_ctx,
                              int32_t bos, bool pre_rope, mvq_pool *pool, double *const sq[3], mvq_error *err)
{
    norms_pass np = {sq, pre_rope};
    const uint32_t taps = pre_rope ? MVQ_TAP_BIT(MVQ_TAP_Q_PRE_ROPE) | MVQ_TAP_BIT(MVQ_TAP_K_PRE_ROPE)
                                   : MVQ_TAP_BIT(MVQ_TAP_Q) | MVQ_TAP_BIT(MVQ_TAP_K);
    const mvq_observer o = {.taps = taps | MVQ_TAP_BIT(MVQ_TAP_V), .kind = MVQ_OBSERVER_READ, .fn = add_squares,
                            .user = &np};
    const mvq_layerwise_opts lw = {.n_ctx = n_ctx, .bos = bos, .observers = &o, .n_observers = 1, .release = true};
    return mvq_forward_layerwise(m, tokens, n_tokens, &lw, pool, err);
}
