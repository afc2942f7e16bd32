/* A persistent pool of worker threads for the matrix products.
 *
 * The forward pass of a small model calls mvq_pool_run thousands of times a
 * second, so dispatch must cost microseconds, not a thread wake-up each time:
 * - a job is published by bumping a generation counter; workers spin on it
 *   for a short while after each job (SPIN_NS) and only then sleep on a
 *   condition variable, so back-to-back jobs never touch the kernel;
 * - the caller runs share 0 itself, then waits for the others the same way
 *   (spin first, then sleep);
 * - spinning yields the CPU now and then, so a pool larger than the free
 *   cores degrades gracefully instead of spinning against its own workers;
 * - the sleep/wake handshake is Dekker-style on seq_cst atomics: the waker
 *   publishes, then looks for sleepers; a sleeper registers, then re-checks
 *   under the mutex, so neither side can miss the other.
 * One caller at a time: mvq_pool_run is not reentrant for a given pool. */
#include "config.h"
#include <mvquant/kernels.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax(void) { _mm_pause(); }
#elif defined(__aarch64__)
static inline void cpu_relax(void) { __asm__ __volatile__("yield"); }
#else
static inline void cpu_relax(void) {}
#endif

/* How long an idle thread spins before sleeping: long enough to bridge the
 * gaps between the products of one forward pass, short enough not to burn a
 * core when the caller is doing something else. */
#define SPIN_NS 200000LL

typedef void (*pool_fn)(void *arg, int ith, int nth);

struct mvq_pool {
    int n_threads;
    pthread_t *workers; /* n_threads - 1 */

    pool_fn fn;
    void *arg;
    atomic_uint generation; /* bumped once per job (and once to stop) */
    atomic_int remaining;   /* workers still running the current job */
    atomic_bool stop;

    pthread_mutex_t lock;
    pthread_cond_t work_cond; /* workers sleep here for a new generation */
    pthread_cond_t done_cond; /* the caller sleeps here for remaining == 0 */
    atomic_int n_sleeping;    /* workers inside (or entering) work_cond */
    atomic_bool caller_sleeping;
};

struct worker_start {
    mvq_pool *pool;
    int ith;
};

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Spins until *gen differs from seen, for at most SPIN_NS; true when it did. */
static bool spin_for_generation(const atomic_uint *gen, unsigned seen)
{
    long long deadline = 0;
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(gen, memory_order_acquire) != seen)
            return true;
        cpu_relax();
        if ((i & 255) == 0) { /* read the clock rarely: it costs ~20 ns */
            sched_yield();    /* let a preempted thread finish its share */
            long long t = now_ns();
            if (deadline == 0)
                deadline = t + SPIN_NS;
            else if (t > deadline)
                return false;
        }
    }
}

static void wait_for_generation(mvq_pool *pool, unsigned seen)
{
    if (spin_for_generation(&pool->generation, seen))
        return;
    pthread_mutex_lock(&pool->lock);
    atomic_fetch_add(&pool->n_sleeping, 1);
    while (atomic_load(&pool->generation) == seen)
        pthread_cond_wait(&pool->work_cond, &pool->lock);
    atomic_fetch_sub(&pool->n_sleeping, 1);
    pthread_mutex_unlock(&pool->lock);
}

static void *worker_main(void *p)
{
    struct worker_start *start = p;
    mvq_pool *pool = start->pool;
    int ith = start->ith;
    free(start);

    unsigned seen = 0;
    for (;;) {
        wait_for_generation(pool, seen);
        seen = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (atomic_load(&pool->stop))
            return NULL;
        pool->fn(pool->arg, ith, pool->n_threads);
        if (atomic_fetch_sub(&pool->remaining, 1) == 1 && atomic_load(&pool->caller_sleeping)) {
            pthread_mutex_lock(&pool->lock);
            pthread_cond_signal(&pool->done_cond);
            pthread_mutex_unlock(&pool->lock);
        }
    }
}

/* Bumps the generation and wakes the workers that went to sleep. */
static void publish(mvq_pool *pool)
{
    atomic_fetch_add(&pool->generation, 1);
    if (atomic_load(&pool->n_sleeping) > 0) {
        pthread_mutex_lock(&pool->lock);
        pthread_cond_broadcast(&pool->work_cond);
        pthread_mutex_unlock(&pool->lock);
    }
}

static void wait_for_workers(mvq_pool *pool)
{
    long long deadline = 0;
    for (unsigned i = 1; atomic_load_explicit(&pool->remaining, memory_order_acquire) != 0; i++) {
        cpu_relax();
        if ((i & 255) != 0)
            continue;
        sched_yield();
        long long t = now_ns();
        if (deadline == 0) {
            deadline = t + SPIN_NS;
        } else if (t > deadline) {
            pthread_mutex_lock(&pool->lock);
            atomic_store(&pool->caller_sleeping, true);
            while (atomic_load(&pool->remaining) != 0)
                pthread_cond_wait(&pool->done_cond, &pool->lock);
            atomic_store(&pool->caller_sleeping, false);
            pthread_mutex_unlock(&pool->lock);
            return;
        }
    }
}

static int online_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void stop_workers(mvq_pool *pool, int n_started)
{
    atomic_store(&pool->stop, true);
    publish(pool);
    for (int i = 0; i < n_started; i++)
        pthread_join(pool->workers[i], NULL);
}

mvq_pool *mvq_pool_create(int n_threads)
{
    if (n_threads <= 0)
        n_threads = online_cores();
    mvq_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->n_threads = n_threads;
    pool->workers = calloc((size_t)n_threads, sizeof *pool->workers);
    if (!pool->workers) {
        free(pool);
        return NULL;
    }
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->remaining, 0);
    atomic_init(&pool->stop, false);
    atomic_init(&pool->n_sleeping, 0);
    atomic_init(&pool->caller_sleeping, false);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work_cond, NULL);
    pthread_cond_init(&pool->done_cond, NULL);

    for (int i = 1; i < n_threads; i++) {
        struct worker_start *start = malloc(sizeof *start);
        if (start) {
            start->pool = pool;
            start->ith = i;
        }
        if (!start || pthread_create(&pool->workers[i - 1], NULL, worker_main, start) != 0) {
            free(start);
            stop_workers(pool, i - 1);
            pool->n_threads = 0;
            mvq_pool_free(pool);
            return NULL;
        }
    }
    return pool;
}

void mvq_pool_free(mvq_pool *pool)
{
    if (!pool)
        return;
    if (pool->n_threads > 1)
        stop_workers(pool, pool->n_threads - 1);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->work_cond);
    pthread_cond_destroy(&pool->done_cond);
    free(pool->workers);
    free(pool);
}

int mvq_pool_size(const mvq_pool *pool)
{
    return pool ? pool->n_threads : 1;
}

void mvq_pool_run(mvq_pool *pool, void (*fn)(void *arg, int ith, int nth), void *arg)
{
    if (!pool || pool->n_threads <= 1) {
        fn(arg, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->arg = arg;
    atomic_store(&pool->remaining, pool->n_threads - 1);
    publish(pool);
    fn(arg, 0, pool->n_threads);
    wait_for_workers(pool);
}
