/* Thread pool: wall time of a job of n shares of about SHARE_US of work each,
 * on a pool of n threads, against the caller doing all shares alone (ref)
 * and against creating and joining the threads for every job (alt): the
 * dispatch overhead is what separates the pool's figure from SHARE_US. */
#include "config.h"
#include "bench/bench.h"

#include <mvquant/kernels.h>
#include <pthread.h>
#include <stdio.h>

#define SHARE_US 5.0

typedef struct share_work {
    long iters;        /* of the busy loop, for about SHARE_US */
    int n;             /* shares per job */
    mvq_pool *pool;
    volatile double sink;
} share_work;

static double busy(long iters)
{
    double x = 1.0;
    for (long i = 0; i < iters; i++)
        x = x * 1.0000001 + 1e-9;
    return x;
}

static void one_share(void *arg, int ith, int nth)
{
    share_work *w = arg;
    (void)ith, (void)nth;
    w->sink = busy(w->iters);
}

static void run_on_pool(void *arg)
{
    share_work *w = arg;
    mvq_pool_run(w->pool, one_share, w);
}

static void run_alone(void *arg)
{
    share_work *w = arg;
    for (int i = 0; i < w->n; i++)
        one_share(w, i, w->n);
}

static void *thread_share(void *arg)
{
    one_share(arg, 0, 1);
    return NULL;
}

/* the naive alternative: a fresh thread per share, joined at the end */
static void spawn_and_join(void *arg)
{
    share_work *w = arg;
    pthread_t t[64];
    int n = w->n - 1 < 64 ? w->n - 1 : 64;
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, thread_share, w);
    one_share(w, 0, w->n);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

static void one_busy_share(void *arg)
{
    one_share(arg, 0, 1);
}

void bench_pool(bench_ctx *ctx)
{
    if (!bench_wants(ctx, "pool", "dispatch", "pool"))
        return;
    share_work w = { .iters = 1000, .n = 1 };
    bench_timing cal = bench_time_cpu(ctx, one_busy_share, &w);
    w.iters = (long)(w.iters * SHARE_US * 1e-6 / cal.seconds);
    char name[64];
    snprintf(name, sizeof name, "%.0fus x threads", SHARE_US);
    for (int n = 2; n <= bench_max_threads(ctx); n++) {
        w.n = n;
        w.pool = mvq_pool_create(n);
        if (!w.pool) {
            bench_note(ctx, "pool: cannot create %d threads", n);
            continue;
        }
        bench_timing alone = bench_time(ctx, run_alone, &w);
        bench_timing spawn = bench_time(ctx, spawn_and_join, &w);
        bench_timing pooled = bench_time(ctx, run_on_pool, &w);
        bench_report(ctx, &(bench_row){ .group = "pool", .name = name, .variant = "pool",
                                        .threads = n, .value = pooled.seconds * 1e6,
                                        .unit = "us/run", .lower_is_better = true,
                                        .ref = alone.seconds * 1e6, .ref_name = "serial",
                                        .alt = spawn.seconds * 1e6, .alt_name = "spawn" });
        mvq_pool_free(w.pool);
    }
}
