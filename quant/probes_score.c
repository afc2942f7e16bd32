/* Scores probe items by teacher forcing: one batched pass per sequence
 * gives the next-token logits over the answer; the greedy answer is right
 * when every answer token is the top-1 choice after the right prefix. */
#include "config.h"
#include <mvquant/probes.h>

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

/* What one item scored. */
typedef struct item_score {
    double logprob;      /* the right answer's */
    int64_t top1, n_top; /* right top-1 choices among the scored answer tokens */
    int64_t base_top1, n_base; /* and among the baseline's (copy) */
    bool exact, ranked_first;
    int64_t n_tokens;    /* tokens run */
} item_score;

typedef struct score_worker {
    mvq_forward *f;
    float *logits;
} score_worker;

typedef struct score_job {
    const mvq_probe_set *set;
    int64_t n_vocab;
    score_worker *workers;
    int n_workers;
    item_score *scores;
    atomic_llong next;
    pthread_mutex_t lock;
    mvq_status status;
    mvq_error err;
} score_job;

/* The answer's summed log-probability, and its top-1 hits from scored_from on. */
static mvq_status run_seq(score_worker *w, int64_t n_vocab, const mvq_probe_seq *s, int64_t scored_from,
                          double *logprob, int64_t top1[2], int64_t n_top[2], bool *exact, mvq_error *err)
{
    /* the last token needs no prediction; row r predicts answer_start + r */
    const int64_t first = s->answer_start - 1, n_run = s->n_tokens - 1;
    mvq_status st = mvq_forward_run(w->f, s->tokens, n_run, first, w->logits, err);
    if (st != MVQ_OK)
        return st;
    *logprob = 0;
    *exact = true;
    for (int64_t p = s->answer_start; p < s->n_tokens; p++) {
        const float *l = w->logits + (p - s->answer_start) * n_vocab;
        int64_t im = 0;
        for (int64_t i = 1; i < n_vocab; i++)
            if (l[i] > l[im])
                im = i;
        double sum = 0;
        for (int64_t i = 0; i < n_vocab; i++)
            sum += exp((double)l[i] - l[im]);
        if (p >= scored_from)
            *logprob += (double)l[s->tokens[p]] - ((double)l[im] + log(sum));
        const bool hit = im == s->tokens[p];
        /* [0]: the scored tokens, [1]: those before them (copy's first copy) */
        const int k = p >= scored_from ? 0 : 1;
        top1[k] += hit;
        n_top[k]++;
        *exact = *exact && (hit || k == 1);
    }
    return MVQ_OK;
}

static mvq_status score_item(score_job *job, score_worker *w, const mvq_probe_item *it, item_score *out,
                             mvq_error *err)
{
    memset(out, 0, sizeof *out);
    int64_t top1[2] = {0, 0}, n_top[2] = {0, 0};
    mvq_status st = run_seq(w, job->n_vocab, &it->answer, it->scored_from, &out->logprob, top1, n_top, &out->exact,
                            err);
    out->top1 = top1[0], out->n_top = n_top[0];
    if (it->base_from > 0)
        out->base_top1 = top1[1], out->n_base = n_top[1];
    out->n_tokens = it->answer.n_tokens - 1;
    out->ranked_first = true;
    for (int a = 0; st == MVQ_OK && a < it->n_alts; a++) {
        double lp;
        int64_t t1[2] = {0, 0}, nt[2] = {0, 0};
        bool ex;
        st = run_seq(w, job->n_vocab, &it->alts[a], it->alts[a].answer_start, &lp, t1, nt, &ex, err);
        out->n_tokens += it->alts[a].n_tokens - 1;
        out->ranked_first = out->ranked_first && out->logprob > lp;
    }
    return st;
}

static void score_share(void *arg, int ith, int nth)
{
    score_job *job = arg;
    (void)nth;
    if (ith >= job->n_workers)
        return;
    mvq_error err;
    mvq_error_clear(&err);
    for (;;) {
        const int64_t i = atomic_fetch_add(&job->next, 1);
        if (i >= job->set->n_items)
            return;
        mvq_status st = score_item(job, &job->workers[ith], &job->set->items[i], &job->scores[i], &err);
        if (st != MVQ_OK) {
            pthread_mutex_lock(&job->lock);
            if (job->status == MVQ_OK) {
                job->status = st;
                job->err = err;
            }
            pthread_mutex_unlock(&job->lock);
            atomic_store(&job->next, job->set->n_items);
            return;
        }
    }
}

/* The longest sequence of the set. */
static int64_t longest(const mvq_probe_set *s)
{
    int64_t n = 1;
    for (int64_t i = 0; i < s->n_items; i++) {
        const mvq_probe_item *it = &s->items[i];
        n = it->answer.n_tokens > n ? it->answer.n_tokens : n;
        for (int a = 0; a < it->n_alts; a++)
            n = it->alts[a].n_tokens > n ? it->alts[a].n_tokens : n;
    }
    return n;
}

static mvq_status make_workers(score_job *job, const mvq_model *m, const mvq_probe_score_opts *o, int n,
                               mvq_pool *pool, mvq_error *err)
{
    const int64_t max_tokens = longest(job->set);
    job->n_workers = n;
    if (!(job->workers = calloc((size_t)n, sizeof *job->workers)))
        return mvq_error_set(err, MVQ_ERR_NOMEM, "probes: out of memory");
    for (int i = 0; i < n; i++) {
        score_worker *w = &job->workers[i];
        if (!(w->f = mvq_forward_create(m, max_tokens, n > 1 ? NULL : pool, err)))
            return err ? err->status : MVQ_ERR_NOMEM;
        for (int k = 0; o && k < o->n_observers; k++) {
            mvq_status st = mvq_forward_add_observer(w->f, &o->observers[k], NULL, err);
            if (st != MVQ_OK)
                return st;
        }
        if (!(w->logits = malloc((size_t)(max_tokens * job->n_vocab) * sizeof(float))))
            return mvq_error_set(err, MVQ_ERR_NOMEM, "probes: out of memory");
    }
    return MVQ_OK;
}

static void summarise(const mvq_probe_set *s, const item_score *sc, mvq_probe_result *out)
{
    int64_t top1 = 0, n_top = 0, exact = 0, ranked = 0, base_top1 = 0, n_base = 0;
    double logprob = 0;
    out->n_tokens = 0;
    for (int64_t i = 0; i < s->n_items; i++) { /* in item order: the same sums at any thread count */
        top1 += sc[i].top1;
        n_top += sc[i].n_top;
        base_top1 += sc[i].base_top1;
        n_base += sc[i].n_base;
        exact += sc[i].exact;
        ranked += sc[i].ranked_first;
        logprob += sc[i].logprob;
        out->n_tokens += sc[i].n_tokens;
    }
    const double n = (double)s->n_items;
    out->n_items = s->n_items;
    out->top1 = n_top ? (double)top1 / (double)n_top : 0;
    out->base_top1 = n_base ? (double)base_top1 / (double)n_base : 0;
    out->exact = (double)exact / n;
    out->rank_acc = (double)ranked / n;
    out->logprob = logprob / n;
    out->score = s->kind == MVQ_PROBE_COPY     ? out->top1
                 : s->kind == MVQ_PROBE_RECALL ? out->rank_acc
                                               : out->exact;
}

mvq_status mvq_probes_score(const mvq_model *m, const mvq_probe_set *s, const mvq_probe_score_opts *opts,
                            mvq_pool *pool, mvq_probe_result *out, mvq_error *err)
{
    memset(out, 0, sizeof *out);
    if (!s || s->n_items < 1)
        return mvq_error_set(err, MVQ_ERR_ARG, "probes: no items to score");
    for (int64_t i = 0; i < s->n_items; i++) {
        const mvq_probe_seq *q = &s->items[i].answer;
        for (int64_t k = 0; k < q->n_tokens; k++)
            if (q->tokens[k] < 0 || q->tokens[k] >= m->hp.n_vocab)
                return mvq_error_set(err, MVQ_ERR_ARG, "probes: token %d beyond the model's vocabulary of %lld",
                                     q->tokens[k], (long long)m->hp.n_vocab);
    }
    score_job job;
    memset(&job, 0, sizeof job);
    job.set = s;
    job.n_vocab = m->hp.n_vocab;
    atomic_init(&job.next, 0);
    pthread_mutex_init(&job.lock, NULL);
    const int nth = pool ? mvq_pool_size(pool) : 1;
    mvq_status st = MVQ_OK;
    if (!(job.scores = calloc((size_t)s->n_items, sizeof *job.scores)))
        st = mvq_error_set(err, MVQ_ERR_NOMEM, "probes: out of memory");
    if (st == MVQ_OK)
        st = make_workers(&job, m, opts, s->n_items >= nth ? nth : 1, pool, err);
    if (st == MVQ_OK) {
        const double t0 = now_seconds();
        if (job.n_workers > 1)
            mvq_pool_run(pool, score_share, &job);
        else
            score_share(&job, 0, 1);
        out->seconds = now_seconds() - t0;
        st = job.status;
        if (st != MVQ_OK && err)
            *err = job.err;
    }
    if (st == MVQ_OK) {
        const double seconds = out->seconds;
        summarise(s, job.scores, out);
        out->seconds = seconds;
        out->tokens_per_s = seconds > 0 ? (double)out->n_tokens / seconds : 0;
    }
    for (int i = 0; job.workers && i < job.n_workers; i++) {
        mvq_forward_free(job.workers[i].f);
        free(job.workers[i].logits);
    }
    free(job.workers);
    free(job.scores);
    pthread_mutex_destroy(&job.lock);
    return st;
}
