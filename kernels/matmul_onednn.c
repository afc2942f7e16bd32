/* Dense f32 products through oneDNN's sgemm, on the requested thread count.
 *
 * Debian's libdnnl (2.6) is built with the OpenMP runtime (libgomp): sgemm
 * uses omp_get_max_threads() of the calling thread, which defaults to the
 * number of cores.  To honour the pool's size we set that per-thread ICV
 * around the call.  The omp_* functions are looked up at run time (libgomp is
 * loaded with libdnnl), so the build needs no -fopenmp; when they cannot be
 * found oneDNN simply uses its default. */
#include "config.h"
#include "kernels/matmul.h"

#ifdef MVQ_HAVE_ONEDNN
#include <dlfcn.h>
#include <dnnl.h>
#include <pthread.h>
#include <string.h>

typedef void (*omp_set_fn)(int);
typedef int (*omp_get_fn)(void);
static omp_set_fn omp_set_num_threads_p;
static omp_get_fn omp_get_max_threads_p;
static pthread_once_t omp_once = PTHREAD_ONCE_INIT;

static void find_omp(void)
{
    void *set = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    void *get = dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    if (set && get) {
        /* data and function pointers share a representation on POSIX */
        memcpy(&omp_set_num_threads_p, &set, sizeof set);
        memcpy(&omp_get_max_threads_p, &get, sizeof get);
    }
}

bool mvq_onednn_available(void)
{
    return true;
}

bool mvq_sgemm_onednn(int n_threads, const float *w, int64_t n_out, int64_t n_in, const float *x,
                      int64_t n_tok, float *y, int64_t ldy)
{
    pthread_once(&omp_once, find_omp);
    int before = 0;
    if (omp_set_num_threads_p && n_threads > 0) {
        before = omp_get_max_threads_p();
        if (before != n_threads)
            omp_set_num_threads_p(n_threads);
        else
            before = 0;
    }
    /* row-major: y[n_tok x n_out] = x[n_tok x n_in] * w[n_out x n_in]^T */
    dnnl_status_t st = dnnl_sgemm('N', 'T', n_tok, n_out, n_in, 1.0f, x, n_in, w, n_in, 0.0f, y,
                                  ldy);
    if (before > 0)
        omp_set_num_threads_p(before);
    return st == dnnl_success;
}

#else

bool mvq_onednn_available(void)
{
    return false;
}

bool mvq_sgemm_onednn(int n_threads, const float *w, int64_t n_out, int64_t n_in, const float *x,
                      int64_t n_tok, float *y, int64_t ldy)
{
    (void)n_threads, (void)w, (void)n_out, (void)n_in, (void)x, (void)n_tok, (void)y, (void)ldy;
    return false;
}

#endif
