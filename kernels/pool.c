/* A persistent pool of worker threads for the matrix products.
 *
 * The forward pass of a small model calls mvq_pool_run thousands of times a
 * second, so dispatch must cost microseconds, not a thread wake-up each time:
 * - a job is published by storing one 64-bit word, (generation << 32 | next
 *   share); workers spin on it for a short while after each job (SPIN_NS) and
 *   only then sleep on a condition variable, so back-to-back jobs never enter
 *   the kernel;
 * - shares are claimed, not assigned: whoever arrives first (the caller
 *   included) takes the next share with a compare-and-swap, so a worker the
 *   OS has not scheduled yet delays nothing: the caller runs its share too;
 * - the caller then waits only for shares already being run (spin, then
 *   sleep); spinning yields the CPU now and then, so a pool larger than the
 *   free cores degrades gracefully;
 * - the sleep/wake handshakes are Dekker-style on seq_cst atomics: the waker
 *   publishes, then looks for sleepers; a sleeper registers, then re-checks
 *   under the mutex, so neither side can miss the other.
 * One caller at a time: mvq_pool_run is not reentrant for a given pool. */
#include "config.h"
#include "kernels/matmul.h"

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
/* spin iterations between two looks at the clock (and a sched_yield) */
#define SPIN_CHECK_MASK 255u

typedef void (*pool_fn)(void *arg, int ith, int nth);

struct mvq_pool {
    int n_threads;
    pthread_t *workers; /* n_threads - 1 */

    pool_fn fn;
    void *arg;
    _Atomic uint64_t claim; /* generation << 32 | next share to run */
    atomic_int done;        /* shares of this generation finished */
    atomic_bool stop;

    pthread_mutex_t lock;
    pthread_cond_t work_cond; /* workers sleep here for a new generation */
    pthread_cond_t done_cond; /* the caller sleeps here for done == n_threads */
    atomic_int n_sleeping;    /* workers inside (or entering) work_cond */
    atomic_bool caller_sleeping;
};

static unsigned generation_of(uint64_t claim) { return (unsigned)(claim >> 32); }

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One spin step; false once SPIN_NS have passed since the first call.
 * An idle worker yields now and then (it has nothing better to do); the
 * caller waiting for shares in progress does not, since a yield can hand
 * its core to another process for a whole time slice. */
static bool keep_spinning(unsigned i, long long *deadline, bool yield)
{
    cpu_relax();
    if ((i & SPIN_CHECK_MASK) != 0)
        return true;
    if (yield)
        sched_yield();
    long long t = now_ns();
    if (*deadline == 0)
        *deadline = t + SPIN_NS;
    return t <= *deadline;
}

static unsigned current_generation(const mvq_pool *pool)
{
    return generation_of(atomic_load_explicit(&pool->claim, memory_order_acquire));
}

/* Waits for a generation other than seen: spins, then sleeps. */
static void wait_for_generation(mvq_pool *pool, unsigned seen)
{
    long long deadline = 0;
    for (unsigned i = 1; current_generation(pool) == seen; i++) {
        if (keep_spinning(i, &deadline, true))
            continue;
        pthread_mutex_lock(&pool->lock);
        atomic_fetch_add(&pool->n_sleeping, 1);
        while (current_generation(pool) == seen)
            pthread_cond_wait(&pool->work_cond, &pool->lock);
        atomic_fetch_sub(&pool->n_sleeping, 1);
        pthread_mutex_unlock(&pool->lock);
        return;
    }
}

/* Claims and runs shares of generation gen until none is left. */
static void run_shares(mvq_pool *pool, unsigned gen)
{
    const int n = pool->n_threads;
    uint64_t c = atomic_load(&pool->claim);
    while (generation_of(c) == gen && (int)(uint32_t)c < n) {
        if (!atomic_compare_exchange_weak(&pool->claim, &c, c + 1))
            continue; /* c now holds the fresh value */
        pool->fn(pool->arg, (int)(uint32_t)c, n);
        if (atomic_fetch_add(&pool->done, 1) + 1 == n && atomic_load(&pool->caller_sleeping)) {
            pthread_mutex_lock(&pool->lock);
            pthread_cond_signal(&pool->done_cond);
            pthread_mutex_unlock(&pool->lock);
        }
        c = atomic_load(&pool->claim);
    }
}

static void *worker_main(void *p)
{
    mvq_pool *pool = p;
    unsigned seen = 0;
    for (;;) {
        wait_for_generation(pool, seen);
        seen = current_generation(pool);
        if (atomic_load(&pool->stop))
            return NULL;
        run_shares(pool, seen);
    }
}

/* Starts generation gen + 1 with fn and wakes the workers that sleep. */
static unsigned publish(mvq_pool *pool, pool_fn fn, void *arg)
{
    unsigned gen = current_generation(pool) + 1;
    pool->fn = fn;
    pool->arg = arg;
    atomic_store(&pool->done, 0);
    atomic_store(&pool->claim, (uint64_t)gen << 32);
    if (atomic_load(&pool->n_sleeping) > 0) {
        pthread_mutex_lock(&pool->lock);
        pthread_cond_broadcast(&pool->work_cond);
        pthread_mutex_unlock(&pool->lock);
    }
    return gen;
}

static void wait_for_shares(mvq_pool *pool)
{
    long long deadline = 0;
    for (unsigned i = 1; atomic_load(&pool->done) != pool->n_threads; i++) {
        if (keep_spinning(i, &deadline, false))
            continue;
        pthread_mutex_lock(&pool->lock);
        atomic_store(&pool->caller_sleeping, true);
        while (atomic_load(&pool->done) != pool->n_threads)
            pthread_cond_wait(&pool->done_cond, &pool->lock);
        atomic_store(&pool->caller_sleeping, false);
        pthread_mutex_unlock(&pool->lock);
        return;
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
    atomic_store(&pool->stop, true); /* workers check it before claiming */
    publish(pool, NULL, NULL);
    for (int i = 0; i < n_started; i++)
        pthread_join(pool->workers[i], NULL);
}

static void destroy(mvq_pool *pool)
{
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->work_cond);
    pthread_cond_destroy(&pool->done_cond);
    free(pool->workers);
    free(pool);
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
    atomic_init(&pool->claim, 0);
    atomic_init(&pool->done, 0);
    atomic_init(&pool->stop, false);
    atomic_init(&pool->n_sleeping, 0);
    atomic_init(&pool->caller_sleeping, false);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work_cond, NULL);
    pthread_cond_init(&pool->done_cond, NULL);

    for (int i = 1; i < n_threads; i++) {
        if (pthread_create(&pool->workers[i - 1], NULL, worker_main, pool) != 0) {
            stop_workers(pool, i - 1);
            destroy(pool);
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
    destroy(pool);
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
    run_shares(pool, publish(pool, fn, arg));
    wait_for_shares(pool);
}
