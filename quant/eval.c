/* Perplexity and KL divergence by llama.cpp's method (its perplexity tool):
 * disjoint chunks of n_ctx tokens, BOS first in each, the predictions of
 * the second half scored.  Statistics and their errors follow its formulas. */
#include "config.h"
#include "quant/eval_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The rows of one chunk, scored on the pool's threads. */
typedef struct score_job {
    const float *logits, *base_logits; /* n_rows x n_vocab */
    const int32_t *targets;            /* n_rows */
    int64_t n_rows, n_vocab;
    mvq_eval_sums *sums;               /* one per thread */
    float *kld_values;                 /* n_rows, when base */
} score_job;

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

static void score_share(void *arg, int ith, int nth)
{
    const score_job *job = arg;
    const int64_t r0 = job->n_rows * ith / nth, r1 = job->n_rows * (ith + 1) / nth;
    for (int64_t r = r0; r < r1; r++)
        mvq_eval_score_row(job->logits + r * job->n_vocab, job->base_logits ? job->base_logits + r * job->n_vocab : NULL,
                           job->n_vocab, job->targets[r], &job->sums[ith],
                           job->kld_values ? &job->kld_values[r] : NULL);
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

/* Everything one evaluation holds. */
typedef struct eval_run {
    mvq_forward *f, *fb;
    float *logits, *base_logits;
    int32_t *chunk;
    mvq_eval_sums *thread_sums;
    float *kld_values;
} eval_run;

static void free_run(eval_run *r)
{
    mvq_forward_free(r->f);
    mvq_forward_free(r->fb);
    free(r->logits);
    free(r->base_logits);
    free(r->chunk);
    free(r->thread_sums);
    free(r->kld_values);
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
        return mvq_error_set(err, MVQ_ERR_ARG, "perplexity: the base model's vocabulary (%lld) differs from the model's (%lld)",
                             (long long)base->hp.n_vocab, (long long)model->hp.n_vocab);
    return MVQ_OK;
}

static mvq_status alloc_run(eval_run *r, const mvq_model *model, const mvq_model *base, int64_t n_ctx,
                            int64_t n_chunks, mvq_pool *pool, mvq_error *err)
{
    const int64_t n_vocab = model->hp.n_vocab, rows = n_ctx - n_ctx / 2;
    const int nth = pool ? mvq_pool_size(pool) : 1;
    memset(r, 0, sizeof *r);
    if (!(r->f = mvq_forward_create(model, n_ctx, pool, err)))
        return err ? err->status : MVQ_ERR_NOMEM;
    if (base && !(r->fb = mvq_forward_create(base, n_ctx, pool, err)))
        return err ? err->status : MVQ_ERR_NOMEM;
    r->logits = malloc((size_t)(rows * n_vocab) * sizeof(float));
    r->chunk = malloc((size_t)(n_ctx + 1) * sizeof(int32_t));
    r->thread_sums = calloc((size_t)nth, sizeof *r->thread_sums);
    bool ok = r->logits && r->chunk && r->thread_sums;
    if (base) {
        r->base_logits = malloc((size_t)(rows * n_vocab) * sizeof(float));
        r->kld_values = malloc((size_t)(n_chunks * (n_ctx - 1 - n_ctx / 2)) * sizeof(float));
        ok = ok && r->base_logits && r->kld_values;
    }
    return ok ? MVQ_OK : mvq_error_set(err, MVQ_ERR_NOMEM, "perplexity: out of memory");
}

mvq_status mvq_eval_perplexity(const mvq_model *model, const mvq_model *base, const int32_t *tokens,
                               int64_t n_tokens, const mvq_eval_opts *opts, mvq_pool *pool, mvq_eval_result *out,
                               mvq_error *err)
{
    const mvq_eval_opts dflt = {.n_ctx = 512, .bos = -1};
    if (!opts)
        opts = &dflt;
    const int64_t n_ctx = opts->n_ctx > 0 ? opts->n_ctx : 512;
    mvq_status st = check_inputs(model, base, n_tokens, n_ctx, err);
    if (st != MVQ_OK)
        return st;
    int64_t n_chunks = n_tokens / n_ctx;
    if (opts->max_chunks > 0 && opts->max_chunks < n_chunks)
        n_chunks = opts->max_chunks;
    const int64_t first = n_ctx / 2, n_score = n_ctx - 1 - first, n_vocab = model->hp.n_vocab;

    eval_run r;
    if ((st = alloc_run(&r, model, base, n_ctx, n_chunks, pool, err)) != MVQ_OK) {
        free_run(&r);
        return st;
    }
    const int nth = pool ? mvq_pool_size(pool) : 1;
    mvq_eval_sums total = {0};
    double t_model = 0, t_base = 0, t_start = now_seconds();
    for (int64_t c = 0; c < n_chunks && st == MVQ_OK; c++) {
        memcpy(r.chunk, tokens + c * n_ctx, (size_t)n_ctx * sizeof(int32_t));
        if (opts->bos >= 0)
            r.chunk[0] = opts->bos;
        double t0 = now_seconds();
        st = mvq_forward_run(r.f, r.chunk, n_ctx, first, r.logits, err);
        double t1 = now_seconds();
        if (st == MVQ_OK && base)
            st = mvq_forward_run(r.fb, r.chunk, n_ctx, first, r.base_logits, err);
        t_model += t1 - t0;
        t_base += now_seconds() - t1;
        if (st != MVQ_OK)
            break;
        memset(r.thread_sums, 0, (size_t)nth * sizeof *r.thread_sums);
        score_job job = {
            .logits = r.logits, .base_logits = r.base_logits, .targets = tokens + c * n_ctx + first + 1,
            .n_rows = n_score, .n_vocab = n_vocab, .sums = r.thread_sums,
            .kld_values = r.kld_values ? r.kld_values + c * n_score : NULL,
        };
        if (pool)
            mvq_pool_run(pool, score_share, &job);
        else
            score_share(&job, 0, 1);
        for (int i = 0; i < nth; i++)
            add_sums(&total, &r.thread_sums[i]);
        if (opts->progress) {
            mvq_eval_progress p = {
                .chunk = c + 1, .n_chunks = n_chunks, .ppl = exp(total.nll / (double)total.count),
                .kld_mean = base ? total.kld / (double)total.count : 0.0, .seconds = now_seconds() - t_start,
            };
            opts->progress(opts->user, &p);
        }
    }
    if (st == MVQ_OK) {
        memset(out, 0, sizeof *out);
        out->n_tokens = n_tokens;
        out->n_ctx = n_ctx;
        out->n_chunks = n_chunks;
        out->seconds = t_model;
        out->base_seconds = t_base;
        out->tokens_per_s = t_model > 0 ? (double)(n_chunks * n_ctx) / t_model : 0.0;
        mvq_eval_finish(&total, base != NULL, r.kld_values, out);
    }
    free_run(&r);
    return st;
}
