/* Perplexity and KL divergence by llama.cpp's method (its perplexity tool):
 * disjoint chunks of n_ctx tokens, BOS first in each, the predictions of
 * the second half scored.  Statistics and their errors follow its formulas. */
#include "config.h"
#include "quant/eval_internal.h"
#include <mvquant/kvcache.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* log-sum-exp of a row and its argmax; exponentials in f32 summed in double, as llama.cpp */
static double log_sum_exp(const float *l, int64_t n, int64_t *argmax)
{
    int64_t im = 0;
    for (int64_t i = 1; i < n; i++)
        if (l[i] > l[im])
            im = i;
    const float mx = l[im];
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += expf(l[i] - mx);
    *argmax = im;
    return (double)mx + log(sum);
}

void mvq_eval_score_row(const float *l, const float *lb, int64_t n_vocab, int32_t target, mvq_eval_sums *s,
                        float *kld_out)
{
    int64_t top, top_b;
    const double lse = log_sum_exp(l, n_vocab, &top);
    const double nll = lse - l[target];
    s->nll += nll;
    s->nll2 += nll * nll;
    s->count++;
    if (!lb)
        return;
    const double lse_b = log_sum_exp(lb, n_vocab, &top_b);
    const double nll_b = lse_b - lb[target];
    s->nll_base += nll_b;
    s->nll_base2 += nll_b * nll_b;
    s->nll_nll_base += nll * nll_b;
    double kld = 0.0;
    for (int64_t i = 0; i < n_vocab; i++) {
        const double logp_b = lb[i] - lse_b, logp = l[i] - lse;
        kld += exp(logp_b) * (logp_b - logp);
    }
    s->kld += kld;
    s->kld2 += kld * kld;
    s->same_top += top == top_b;
    const double dp = exp(-nll) - exp(-nll_b);
    s->dp += dp;
    s->dp2 += dp * dp;
    s->dp4 += dp * dp * dp * dp;
    *kld_out = (float)kld;
}

static void add_sums(mvq_eval_sums *acc, const mvq_eval_sums *s)
{
    acc->nll += s->nll;
    acc->nll2 += s->nll2;
    acc->nll_base += s->nll_base;
    acc->nll_base2 += s->nll_base2;
    acc->nll_nll_base += s->nll_nll_base;
    acc->kld += s->kld;
    acc->kld2 += s->kld2;
    acc->dp += s->dp;
    acc->dp2 += s->dp2;
    acc->dp4 += s->dp4;
    acc->same_top += s->same_top;
    acc->count += s->count;
}

/* One worker's forward passes and buffers. */
typedef struct eval_worker {
    mvq_forward *f, *fb;
    float *logits, *base_logits; /* rows from n_ctx/2 on, n_vocab each */
    int32_t *chunk;
    double t_model, t_base;
} eval_worker;

/* The whole evaluation: chunks are handed out by an atomic counter. */
typedef struct eval_job {
    const int32_t *tokens;
    int64_t n_ctx, n_chunks, first, n_score, n_vocab;
    int32_t bos;
    bool has_base;
    eval_worker *workers;
    int n_workers;
    mvq_eval_sums *chunk_sums; /* per chunk: summed in chunk order at the end */
    float *kld_values;         /* n_chunks * n_score, with a base */
    /* split by kind (mvq_eval_perplexity_split): per chunk, contextual then
     * other sums; per prediction, whether it is contextual */
    bool split;
    mvq_eval_sums *class_sums;
    unsigned char *contextual;
    atomic_llong next_chunk;
    pthread_mutex_t lock; /* guards what follows */
    mvq_eval_sums running;
    int64_t done;
    mvq_status status;
    mvq_error err;
    const mvq_eval_opts *opts;
    double t_start;
} eval_job;

static void free_workers(eval_job *job)
{
    for (int i = 0; job->workers && i < job->n_workers; i++) {
        eval_worker *w = &job->workers[i];
        mvq_forward_free(w->f);
        mvq_forward_free(w->fb);
        free(w->logits);
        free(w->base_logits);
        free(w->chunk);
    }
    free(job->workers);
    free(job->chunk_sums);
    free(job->kld_values);
    free(job->class_sums);
    free(job->contextual);
}

/* workers > 1: each runs whole chunks on its own thread (no synchronisation
 * inside a pass); one worker: the passes use the pool. */
static mvq_status alloc_workers(eval_job *job, const mvq_model *model, const mvq_model *base, int n_workers,
                                mvq_pool *pool, mvq_error *err)
{
    const int64_t rows = job->n_ctx - job->first;
    mvq_pool *pass_pool = n_workers > 1 ? NULL : pool;
    job->n_workers = n_workers;
    job->workers = calloc((size_t)n_workers, sizeof *job->workers);
    job->chunk_sums = calloc((size_t)job->n_chunks, sizeof *job->chunk_sums);
    if (base)
        job->kld_values = malloc((size_t)(job->n_chunks * job->n_score) * sizeof(float));
    if (job->split) {
        job->class_sums = calloc((size_t)(2 * job->n_chunks), sizeof *job->class_sums);
        job->contextual = calloc((size_t)(job->n_chunks * job->n_score), 1);
    }
    if (!job->workers || !job->chunk_sums || (base && !job->kld_values) ||
        (job->split && (!job->class_sums || !job->contextual)))
        return mvq_error_set(err, MVQ_ERR_NOMEM, "perplexity: out of memory");
    for (int i = 0; i < n_workers; i++) {
        eval_worker *w = &job->workers[i];
        if (!(w->f = mvq_forward_create(model, job->n_ctx, pass_pool, err)) ||
            (base && !(w->fb = mvq_forward_create(base, job->n_ctx, pass_pool, err))))
            return err ? err->status : MVQ_ERR_NOMEM;
        if (job->opts->kv)
            mvq_forward_set_kv(w->f, job->opts->kv);
        if (job->opts->act) {
            mvq_status st = mvq_forward_set_act(w->f, job->opts->act, err);
            if (st != MVQ_OK)
                return st;
        }
        for (int o = 0; o < job->opts->n_observers; o++) {
            mvq_status st = mvq_forward_add_observer(w->f, &job->opts->observers[o], NULL, err);
            if (st != MVQ_OK)
                return st;
        }
        w->logits = malloc((size_t)(rows * job->n_vocab) * sizeof(float));
        w->chunk = malloc((size_t)job->n_ctx * sizeof(int32_t));
        if (base)
            w->base_logits = malloc((size_t)(rows * job->n_vocab) * sizeof(float));
        if (!w->logits || !w->chunk || (base && !w->base_logits))
            return mvq_error_set(err, MVQ_ERR_NOMEM, "perplexity: out of memory");
    }
    return MVQ_OK;
}

/* Whether target occurs at positions 1 .. j of the chunk (position 0, the BOS, excluded). */
static bool target_seen(const int32_t *chunk, int64_t j, int32_t target)
{
    for (int64_t i = 1; i <= j; i++)
        if (chunk[i] == target)
            return true;
    return false;
}

/* Runs chunk c on worker w and scores it into job->chunk_sums[c]. */
static mvq_status run_chunk(eval_job *job, eval_worker *w, int64_t c, mvq_error *err)
{
    memcpy(w->chunk, job->tokens + c * job->n_ctx, (size_t)job->n_ctx * sizeof(int32_t));
    if (job->bos >= 0)
        w->chunk[0] = job->bos;
    double t0 = now_seconds();
    mvq_status st = mvq_forward_run(w->f, w->chunk, job->n_ctx, job->first, w->logits, err);
    double t1 = now_seconds();
    if (st == MVQ_OK && w->fb)
        st = mvq_forward_run(w->fb, w->chunk, job->n_ctx, job->first, w->base_logits, err);
    w->t_model += t1 - t0;
    w->t_base += now_seconds() - t1;
    if (st != MVQ_OK)
        return st;
    /* row r is the prediction after position first + r */
    const int32_t *targets = job->tokens + c * job->n_ctx + job->first + 1;
    mvq_eval_sums *s = &job->chunk_sums[c];
    for (int64_t r = 0; r < job->n_score; r++) {
        /* one row's sums added to the totals: the same sums as accumulating there */
        mvq_eval_sums one = {0};
        mvq_eval_score_row(w->logits + r * job->n_vocab, w->fb ? w->base_logits + r * job->n_vocab : NULL,
                           job->n_vocab, targets[r], &one,
                           job->kld_values ? &job->kld_values[c * job->n_score + r] : NULL);
        add_sums(s, &one);
        if (job->class_sums) {
            const bool ctx = target_seen(job->tokens + c * job->n_ctx, job->first + r, targets[r]);
            job->contextual[c * job->n_score + r] = ctx;
            add_sums(&job->class_sums[2 * c + (ctx ? 0 : 1)], &one);
        }
    }
    return MVQ_OK;
}

static void chunk_done(eval_job *job, int64_t c)
{
    pthread_mutex_lock(&job->lock);
    add_sums(&job->running, &job->chunk_sums[c]);
    job->done++;
    if (job->opts->progress) {
        const mvq_eval_sums *t = &job->running;
        mvq_eval_progress p = {
            .chunk = job->done, .n_chunks = job->n_chunks, .ppl = exp(t->nll / (double)t->count),
            .kld_mean = job->has_base ? t->kld / (double)t->count : 0.0, .seconds = now_seconds() - job->t_start,
        };
        job->opts->progress(job->opts->user, &p);
    }
    pthread_mutex_unlock(&job->lock);
}

static void eval_share(void *arg, int ith, int nth)
{
    eval_job *job = arg;
    (void)nth;
    if (ith >= job->n_workers)
        return;
    mvq_error err;
    mvq_error_clear(&err);
    for (;;) {
        int64_t c = atomic_fetch_add(&job->next_chunk, 1);
        if (c >= job->n_chunks)
            return;
        mvq_status st = run_chunk(job, &job->workers[ith], c, &err);
        if (st != MVQ_OK) {
            pthread_mutex_lock(&job->lock);
            if (job->status == MVQ_OK) {
                job->status = st;
                job->err = err;
            }
            pthread_mutex_unlock(&job->lock);
            atomic_store(&job->next_chunk, job->n_chunks); /* the others stop too */
            return;
        }
        chunk_done(job, c);
    }
}

static mvq_status check_inputs(const mvq_model *model, const mvq_model *base, int64_t n_tokens, int64_t n_ctx,
                               mvq_error *err)
{
    if (n_ctx < 4)
        return mvq_error_set(err, MVQ_ERR_ARG, "perplexity: context of %lld tokens is too small", (long long)n_ctx);
    if (n_tokens < 2 * n_ctx)
        return mvq_error_set(err, MVQ_ERR_ARG,
                             "perplexity: the text has %lld tokens; a context of %lld needs at least %lld",
                             (long long)n_tokens, (long long)n_ctx, (long long)(2 * n_ctx));
    if (base && base->hp.n_vocab != model->hp.n_vocab)
        return mvq_error_set(err, MVQ_ERR_ARG,
                             "perplexity: the base model's vocabulary (%lld) differs from the model's (%lld)",
                             (long long)base->hp.n_vocab, (long long)model->hp.n_vocab);
    return MVQ_OK;
}

/* Fills the split results from the per-chunk class sums (after out[0] is set, before its KLDs are sorted). */
static mvq_status finish_split(const eval_job *job, bool has_base, mvq_eval_result out[3], mvq_error *err)
{
    const int64_t n = job->n_chunks * job->n_score;
    float *klds = has_base ? malloc((size_t)(n > 0 ? n : 1) * sizeof *klds) : NULL;
    if (has_base && !klds)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "perplexity: out of memory");
    for (int k = 0; k < 2; k++) {
        mvq_eval_sums total = {0};
        for (int64_t c = 0; c < job->n_chunks; c++)
            add_sums(&total, &job->class_sums[2 * c + k]);
        int64_t m = 0;
        for (int64_t i = 0; has_base && i < n; i++)
            if ((job->contextual[i] != 0) == (k == 0))
                klds[m++] = job->kld_values[i];
        mvq_eval_result *r = &out[1 + k];
        memset(r, 0, sizeof *r);
        r->n_tokens = out[0].n_tokens;
        r->n_ctx = out[0].n_ctx;
        r->n_chunks = out[0].n_chunks;
        r->seconds = out[0].seconds;
        r->base_seconds = out[0].base_seconds;
        r->tokens_per_s = out[0].tokens_per_s;
        mvq_eval_finish(&total, has_base && m > 0, klds, r);
    }
    free(klds);
    return MVQ_OK;
}

static mvq_status eval_perplexity(const mvq_model *model, const mvq_model *base, const int32_t *tokens,
                                  int64_t n_tokens, const mvq_eval_opts *opts, mvq_pool *pool, mvq_eval_result *out,
                                  bool split, mvq_error *err)
{
    const mvq_eval_opts dflt = {.n_ctx = 512, .bos = -1};
    if (!opts)
        opts = &dflt;
    const int64_t n_ctx = opts->n_ctx > 0 ? opts->n_ctx : 512;
    mvq_status st = check_inputs(model, base, n_tokens, n_ctx, err);
    if (st != MVQ_OK)
        return st;
    eval_job job;
    memset(&job, 0, sizeof job);
    job.tokens = tokens;
    job.n_ctx = n_ctx;
    job.n_chunks = n_tokens / n_ctx;
    if (opts->max_chunks > 0 && opts->max_chunks < job.n_chunks)
        job.n_chunks = opts->max_chunks;
    job.first = n_ctx / 2;
    job.n_score = n_ctx - 1 - job.first;
    job.n_vocab = model->hp.n_vocab;
    job.bos = opts->bos;
    job.has_base = base != NULL;
    job.opts = opts;
    job.split = split;
    atomic_init(&job.next_chunk, 0);
    pthread_mutex_init(&job.lock, NULL);

    const int nth = pool ? mvq_pool_size(pool) : 1;
    const int n_workers = job.n_chunks >= nth ? nth : 1;
    st = alloc_workers(&job, model, base, n_workers, pool, err);
    if (st == MVQ_OK) {
        job.t_start = now_seconds();
        if (n_workers > 1)
            mvq_pool_run(pool, eval_share, &job);
        else
            eval_share(&job, 0, 1);
        const double wall = now_seconds() - job.t_start;
        st = job.status;
        if (st != MVQ_OK && err)
            *err = job.err;
        if (st == MVQ_OK) {
            mvq_eval_sums total = {0};
            double t_model = 0, t_base = 0;
            for (int64_t c = 0; c < job.n_chunks; c++)
                add_sums(&total, &job.chunk_sums[c]);
            for (int i = 0; i < n_workers; i++) {
                t_model += job.workers[i].t_model;
                t_base += job.workers[i].t_base;
            }
            /* the wall time, shared between the two models in proportion to their passes */
            const double share = t_model + t_base > 0 ? t_model / (t_model + t_base) : 1.0;
            memset(out, 0, sizeof *out);
            out->n_tokens = n_tokens;
            out->n_ctx = n_ctx;
            out->n_chunks = job.n_chunks;
            out->seconds = wall * share;
            out->base_seconds = wall * (1 - share);
            out->tokens_per_s = out->seconds > 0 ? (double)(job.n_chunks * n_ctx) / out->seconds : 0.0;
            if (split)
                st = finish_split(&job, base != NULL, out, err);
            mvq_eval_finish(&total, base != NULL, job.kld_values, out);
        }
    }
    free_workers(&job);
    pthread_mutex_destroy(&job.lock);
    return st;
}

mvq_status mvq_eval_perplexity(const mvq_model *model, const mvq_model *base, const int32_t *tokens,
                               int64_t n_tokens, const mvq_eval_opts *opts, mvq_pool *pool, mvq_eval_result *out,
                               mvq_error *err)
{
    return eval_perplexity(model, base, tokens, n_tokens, opts, pool, out, false, err);
}

mvq_status mvq_eval_perplexity_split(const mvq_model *model, const mvq_model *base, const int32_t *tokens,
                                     int64_t n_tokens, const mvq_eval_opts *opts, mvq_pool *pool,
                                     mvq_eval_result out[3], mvq_error *err)
{
    return eval_perplexity(model, base, tokens, n_tokens, opts, pool, out, true, err);
}
