/* Internal to kernels/ (and to tests and benchmarks, which link the core
 * statically): the matrix product on an explicit kernel table, so paths can
 * be compared side by side in one process. */
#ifndef MVQ_MATMUL_H
#define MVQ_MATMUL_H

#include <mvquant/kernels.h>

/* How mvq_matmul_table treats F32 weights. */
typedef enum mvq_f32_path {
    MVQ_F32_AUTO = 0,   /* oneDNN when built with it, else our own */
    MVQ_F32_OWN = 1,    /* always our own (vec_dot of the table) */
    MVQ_F32_ONEDNN = 2  /* oneDNN; MVQ_ERR_UNSUPPORTED when not built with it */
} mvq_f32_path;

/* mvq_matmul with the given table instead of the one in use. */
mvq_status mvq_matmul_table(const mvq_kernel_table *kt, mvq_f32_path f32_path, mvq_pool *pool,
                            mvq_type wtype, const void *w, int64_t n_out, int64_t n_in,
                            const float *x, int64_t n_tok, float *y, mvq_error *err);

/* kernels/pool.c: tells the pool's idle workers to sleep now rather than
 * spin, before handing the cores to other threads (oneDNN's).  The next
 * mvq_pool_run wakes them as usual. */
void mvq_pool_park(mvq_pool *pool);

/* kernels/matmul_onednn.c: y = x * w^T through dnnl_sgemm on n_threads of
 * oneDNN's own (OpenMP) threads.  false when oneDNN is absent or fails. */
bool mvq_onednn_available(void);
bool mvq_sgemm_onednn(int n_threads, const float *w, int64_t n_out, int64_t n_in, const float *x,
                      int64_t n_tok, float *y);

#endif
