/* Products through oneDNN, on our pool: each thread claims a tile of weight
 * rows, dequantizes it to f32 once (F32 rows are used in place), and
 * multiplies the whole batch of tokens by it with a single-threaded
 * dnnl_sgemm.  One vec_dot per (row, token) re-reads and re-decodes the row
 * for every token; here the decoding is paid once per tile and sgemm's
 * register blocking does the rest.  The activations stay f32 (nothing is
 * lost to quantizing them), so the result is at least as accurate as the
 * vec_dot path.
 *
 * One owner of the threads: oneDNN never starts its OpenMP team (every call
 * asks it for one thread), because libgomp's idle threads spin for
 * milliseconds after each product and took the cores from our workers
 * (calibration of tinyrope-3M at 2 threads: 50.7 s against 5.4 s at one).
 * The tiles depend on the shape alone, so the result does not depend on
 * the thread count. */
#include "config.h"
#include "kernels/matmul.h"

#include <stdatomic.h>
#include <stdlib.h>

/* f32 bytes of one dequantized tile: fits L2 with the batch streaming by */
#define TILE_BYTES (256 * 1024)
/* but at least n_tok / this rows: sgemm packs the whole batch once per
 * call, which must stay small next to the tile's work (measured: 512 tokens
 * of q4_0, 16-row tiles 45 GFLOP/s, 64-row tiles 58) */
#define TOKENS_PER_TILE_ROW 8
#define TILE_ROW_ALIGN 16 /* rows per tile: a multiple of a cache line of y */
/* F32 weights need no tile buffer: a few large tiles, enough for balance
 * between threads, each packing the batch once */
#define F32_TILES 8
#define F32_MIN_TILE_ROWS 64

typedef struct dequant_job {
    mvq_to_float_fn to_float;
    const char *w;
    size_t w_row;
    int64_t n_in, n_out, n_tok;
    const float *x;
    float *y;
    float *scratch; /* one tile per share */
    int64_t tile_rows, n_tiles;
    atomic_llong next_tile;
    atomic_bool failed;
} dequant_job;

static void dequant_share(void *arg, int ith, int nth)
{
    dequant_job *job = arg;
    (void)nth;
    float *tile = job->scratch + (size_t)ith * (size_t)(job->tile_rows * job->n_in);
    for (;;) {
        int64_t c = atomic_fetch_add_explicit(&job->next_tile, 1, memory_order_relaxed);
        if (c >= job->n_tiles)
            return;
        int64_t r0 = c * job->tile_rows;
        int64_t rows = job->n_out - r0 < job->tile_rows ? job->n_out - r0 : job->tile_rows;
        const float *wt = (const float *)(job->w + (size_t)r0 * job->w_row);
        if (job->to_float) {
            for (int64_t r = 0; r < rows; r++)
                job->to_float(job->w + (size_t)(r0 + r) * job->w_row, tile + r * job->n_in,
                              job->n_in);
            wt = tile;
        }
        if (!mvq_sgemm_onednn(1, wt, rows, job->n_in, job->x, job->n_tok, job->y + r0, job->n_out))
            atomic_store(&job->failed, true);
    }
}

mvq_status mvq_matmul_dequant_sgemm(const mvq_kernel_table *kt, mvq_pool *pool, bool parallel,
                                    mvq_type wtype, const void *w, int64_t n_out, int64_t n_in,
                                    const float *x, int64_t n_tok, float *y, mvq_error *err)
{
    dequant_job job = {
        .to_float = wtype == MVQ_TYPE_F32 ? NULL : kt->to_float[wtype],
        .w = w,
        .w_row = mvq_row_size(wtype, n_in),
        .n_in = n_in,
        .n_out = n_out,
        .n_tok = n_tok,
        .x = x,
        .y = y,
    };
    int64_t rows = TILE_BYTES / (n_in * (int64_t)sizeof(float));
    if (rows < n_tok / TOKENS_PER_TILE_ROW)
        rows = n_tok / TOKENS_PER_TILE_ROW;
    rows = rows / TILE_ROW_ALIGN * TILE_ROW_ALIGN;
    job.tile_rows = rows < TILE_ROW_ALIGN ? TILE_ROW_ALIGN : rows;
    if (!job.to_float) {
        rows = (n_out + F32_TILES - 1) / F32_TILES;
        rows = (rows + TILE_ROW_ALIGN - 1) / TILE_ROW_ALIGN * TILE_ROW_ALIGN;
        job.tile_rows = rows < F32_MIN_TILE_ROWS ? F32_MIN_TILE_ROWS : rows;
    }
    if (job.tile_rows > n_out)
        job.tile_rows = n_out;
    job.n_tiles = (n_out + job.tile_rows - 1) / job.tile_rows;
    atomic_init(&job.next_tile, 0);
    atomic_init(&job.failed, false);

    int shares = parallel ? mvq_pool_size(pool) : 1;
    size_t bytes =
        job.to_float ? (size_t)shares * (size_t)(job.tile_rows * n_in) * sizeof(float) : 0;
    job.scratch = bytes ? aligned_alloc(64, (bytes + 63) / 64 * 64) : NULL;
    if (bytes && !job.scratch)
        return mvq_error_set(err, MVQ_ERR_NOMEM,
                             "mvq_matmul: cannot allocate %zu bytes for dequantized tiles", bytes);
    if (shares == 1)
        dequant_share(&job, 0, 1);
    else
        mvq_pool_run(pool, dequant_share, &job);
    free(job.scratch);
    if (atomic_load(&job.failed))
        return mvq_error_set(err, MVQ_ERR_UNSUPPORTED, "mvq_matmul: oneDNN sgemm failed");
    return MVQ_OK;
}
