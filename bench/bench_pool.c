/* Thread pool: what one mvq_pool_run of an empty job costs, against
 * creating and joining the threads for every job (what a pool saves). */
#include "config.h"
#include "bench/bench.h"

#include <mvquant/kernels.h>
#include <pthread.h>
#include <stdio.h>

static void empty_job(void *arg, int ith, int nth)
{
    (void)arg, (void)ith, (void)nth;
}

static void run_on_pool(void *pool)
{
    mvq_pool_run(pool, empty_job, NULL);
}

static void *empty_thread(void *arg)
{
    return arg;
}

typedef struct { int n; } spawn_arg;

/* the baseline: a fresh thread per share, joined at the end */
static void spawn_and_join(void *p)
{
    const spawn_arg *a = p;
    pthread_t t[64];
    int n = a->n - 1 < 64 ? a->n - 1 : 64;
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, empty_thread, NULL);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

void bench_pool(bench_ctx *ctx)
{
    for (int n = 2; n <= bench_max_threads(ctx); n++) {
        if (!bench_wants(ctx, "pool", "dispatch", "pool"))
            continue;
        mvq_pool *pool = mvq_pool_create(n);
        if (!pool) {
            bench_note(ctx, "pool: cannot create %d threads", n);
            continue;
        }
        spawn_arg sa = { n };
        bench_timing spawn = bench_time(ctx, spawn_and_join, &sa);
        bench_timing t = bench_time(ctx, run_on_pool, pool);
        bench_report(ctx, &(bench_row){ .group = "pool", .name = "dispatch", .variant = "pool",
                                        .threads = n, .value = t.seconds * 1e6, .unit = "us/run",
                                        .lower_is_better = true, .ref = spawn.seconds * 1e6,
                                        .ref_name = "spawn" });
        mvq_pool_free(pool);
    }
}
