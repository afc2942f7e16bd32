/* Matrix product: quantized (or F16/BF16/F32) weights x f32 activations.
 *
 * Two phases on the pool:
 * 1. the activations are quantized once to the weight type's vec_dot_type
 *    (the whole n_tok x n_in matrix is one run of blocks, so threads take
 *    contiguous block ranges whatever the shape);
 * 2. the weight rows are split in chunks handed out by an atomic counter;
 *    inside a chunk a small tile of weight rows stays in L1 while a tile of
 *    token rows (in L2) goes past it, so in a GEMM every weight row fetched
 *    from memory serves several tokens.
 * Small products run on the caller alone: waking threads would cost more.
 * With oneDNN, F32 weights, and batches on other types, go to
 * kernels/matmul_dequant.c (see mvq_matmul_choose). */
#include "config.h"
#include "kernels/matmul.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* below this many multiply-adds per thread, one thread does it all */
#define MIN_MACS_PER_THREAD (1 << 16)
/* cache budgets of the tiles (bytes) */
#define WEIGHT_TILE_BYTES (16 * 1024)
#define TOKEN_TILE_BYTES (128 * 1024)
#define GEMM_WEIGHT_TILE_BYTES (256 * 1024)

typedef struct matmul_job {
    /* phase 1 */
    mvq_from_float_fn quantize; /* NULL: activations are used as they are */
    const float *x;
    char *xq;
    int64_t act_block;     /* values per activation block */
    size_t act_block_size; /* bytes per activation block */
    int64_t act_blocks;    /* n_tok * n_in / act_block */

    /* phase 2 */
    mvq_vec_dot_fn vec_dot;
    mvq_gemm_q_fn gemm; /* NULL: vec_dot per (row, token) */
    const char *w;
    size_t w_row;          /* bytes per weight row */
    const char *act;       /* activation rows as vec_dot reads them */
    size_t act_row;        /* bytes per activation row */
    int64_t n_in, n_out, n_tok;
    float *y;
    int64_t chunk_rows, n_chunks;
    int64_t row_tile, tok_tile;
    atomic_llong next_chunk;
} matmul_job;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

static void quantize_share(void *arg, int ith, int nth)
{
    matmul_job *job = arg;
    int64_t b0 = job->act_blocks * ith / nth, b1 = job->act_blocks * (ith + 1) / nth;
    if (b1 > b0)
        job->quantize(job->x + b0 * job->act_block, job->xq + (size_t)b0 * job->act_block_size,
                      (b1 - b0) * job->act_block, NULL);
}

static void gemm_rows(const matmul_job *job, int64_t r0, int64_t r1)
{
    for (int64_t t0 = 0; t0 < job->n_tok; t0 += job->tok_tile) {
        int64_t nt = min64(t0 + job->tok_tile, job->n_tok) - t0;
        for (int64_t rt = r0; rt < r1; rt += job->row_tile)
            job->gemm(job->n_in, min64(rt + job->row_tile, r1) - rt, nt, job->w + (size_t)rt * job->w_row,
                      job->w_row, job->act + (size_t)t0 * job->act_row, job->act_row,
                      job->y + t0 * job->n_out + rt, job->n_out);
    }
}

static void dot_rows(const matmul_job *job, int64_t r0, int64_t r1)
{
    if (job->gemm) {
        gemm_rows(job, r0, r1);
        return;
    }
    for (int64_t t0 = 0; t0 < job->n_tok; t0 += job->tok_tile) {
        int64_t t1 = min64(t0 + job->tok_tile, job->n_tok);
        for (int64_t rt = r0; rt < r1; rt += job->row_tile) {
            int64_t re = min64(rt + job->row_tile, r1);
            for (int64_t t = t0; t < t1; t++) {
                const char *a = job->act + (size_t)t * job->act_row;
                float *yt = job->y + t * job->n_out;
                for (int64_t r = rt; r < re; r++)
                    job->vec_dot(job->n_in, &yt[r], job->w + (size_t)r * job->w_row, a);
            }
        }
    }
}

static void dot_share(void *arg, int ith, int nth)
{
    matmul_job *job = arg;
    (void)ith;
    (void)nth;
    for (;;) {
        int64_t c = atomic_fetch_add_explicit(&job->next_chunk, 1, memory_order_relaxed);
        if (c >= job->n_chunks)
            return;
        int64_t r0 = c * job->chunk_rows;
        dot_rows(job, r0, min64(r0 + job->chunk_rows, job->n_out));
    }
}

/* Whether the product is big enough to be worth waking the pool's threads. */
static bool worth_threads(mvq_pool *pool, int64_t n_out, int64_t n_in, int64_t n_tok)
{
    int nth = mvq_pool_size(pool);
    return nth > 1 && (double)n_out * (double)n_in * (double)n_tok / nth >= MIN_MACS_PER_THREAD;
}

static void plan_chunks(matmul_job *job, int nth)
{
    if (job->gemm) {
        /* the kernel sweeps the row tile once per few tokens: keep it in L2 */
        job->row_tile = clamp64(GEMM_WEIGHT_TILE_BYTES / (int64_t)job->w_row, 1, 1024) / 16 * 16;
        job->row_tile = job->row_tile < 16 ? 16 : job->row_tile;
        job->tok_tile = clamp64(TOKEN_TILE_BYTES / (int64_t)job->act_row, 8, 64) / 8 * 8;
    } else {
        job->row_tile = clamp64(WEIGHT_TILE_BYTES / (int64_t)job->w_row, 1, 16);
        job->tok_tile = clamp64(TOKEN_TILE_BYTES / (int64_t)job->act_row, 1, 64);
    }
    job->chunk_rows = mvq_matmul_chunk_rows(job->n_out, nth);
    job->n_chunks = (job->n_out + job->chunk_rows - 1) / job->chunk_rows;
    atomic_init(&job->next_chunk, 0);
}

/* Runs fn on the pool, or on the caller alone. */
static void run_on(mvq_pool *pool, bool parallel, void (*fn)(void *, int, int), void *job)
{
    if (parallel)
        mvq_pool_run(pool, fn, job);
    else
        fn(job, 0, 1);
}

/* MVQ_GEMM_Q=0 in the environment: the per-pair loop even where a GEMM exists */
static bool gemm_q_allowed(void)
{
    static atomic_int state; /* 0 unknown, 1 allowed, 2 not */
    int s = atomic_load_explicit(&state, memory_order_relaxed);
    if (s == 0) {
        const char *e = getenv("MVQ_GEMM_Q");
        s = e && strcmp(e, "0") == 0 ? 2 : 1;
        atomic_store_explicit(&state, s, memory_order_relaxed);
    }
    return s == 1;
}

static mvq_status check_args(const mvq_kernel_table *kt, mvq_type wtype, const void *w,
                             int64_t n_out, int64_t n_in, const float *x, int64_t n_tok,
                             const float *y, mvq_error *err)
{
    const mvq_type_traits *tr = mvq_type_traits_get(wtype);
    if (!tr)
        return mvq_error_set(err, MVQ_ERR_ARG, "mvq_matmul: unknown weight type %d", (int)wtype);
    if (n_out < 0 || n_in <= 0 || n_tok < 0)
        return mvq_error_set(err, MVQ_ERR_ARG,
                             "mvq_matmul: bad shape n_out %lld, n_in %lld, n_tok %lld",
                             (long long)n_out, (long long)n_in, (long long)n_tok);
    if ((n_out > 0 && !w) || (n_tok > 0 && (!x || (n_out > 0 && !y))))
        return mvq_error_set(err, MVQ_ERR_ARG, "mvq_matmul: NULL matrix");
    mvq_type at = tr->vec_dot_type;
    const mvq_type_traits *atr = mvq_type_traits_get(at);
    if (!kt->vec_dot[wtype] || !atr || (at != MVQ_TYPE_F32 && !kt->from_float[at]))
        return mvq_error_set(err, MVQ_ERR_UNSUPPORTED,
                             "mvq_matmul: no %s dot product for %s weights in the %s kernels",
                             atr ? atr->name : "?", tr->name, kt->isa);
    if (n_in % tr->block_size != 0 || n_in % atr->block_size != 0)
        return mvq_error_set(err, MVQ_ERR_ARG,
                             "mvq_matmul: row length %lld is not a multiple of %s's block size %lld",
                             (long long)n_in, n_in % tr->block_size ? tr->name : atr->name,
                             (long long)(n_in % tr->block_size ? tr->block_size
                                                               : atr->block_size));
    return MVQ_OK;
}

mvq_matmul_path mvq_matmul_choose(const mvq_kernel_table *kt, mvq_type wtype, int64_t n_tok)
{
    if (n_tok >= MVQ_HALF_GEMM_MIN_TOKENS && gemm_q_allowed()) {
        if (wtype == MVQ_TYPE_BF16 && kt->gemm_bf16)
            return MVQ_BF16_GEMM_PATH;
        if ((wtype == MVQ_TYPE_F16 || wtype == MVQ_TYPE_BF16) && kt->gemm_half[wtype] &&
            (n_tok < MVQ_HALF_GEMM_MAX_TOKENS || !mvq_onednn_available()))
            return MVQ_PATH_HALF;
    }
    if (!mvq_onednn_available() || (unsigned)wtype >= MVQ_TYPE_COUNT)
        return MVQ_PATH_DOT;
    if (wtype == MVQ_TYPE_F32)
        return MVQ_PATH_ONEDNN;
    bool half = wtype == MVQ_TYPE_F16 || wtype == MVQ_TYPE_BF16;
    int64_t min_tokens = half ? MVQ_DEQUANT_GEMM_MIN_TOKENS_HALF : MVQ_DEQUANT_GEMM_MIN_TOKENS;
    return n_tok >= min_tokens && kt->to_float[wtype] ? MVQ_PATH_ONEDNN : MVQ_PATH_DOT;
}

static mvq_status matmul_onednn(const mvq_kernel_table *kt, mvq_pool *pool, mvq_type wtype,
                                const void *w, int64_t n_out, int64_t n_in, const float *x,
                                int64_t n_tok, float *y, mvq_error *err)
{
    if (!mvq_onednn_available())
        return mvq_error_set(err, MVQ_ERR_UNSUPPORTED,
                             "mvq_matmul: oneDNN is not available in this build");
    if (wtype != MVQ_TYPE_F32 && !kt->to_float[wtype])
        return mvq_error_set(err, MVQ_ERR_UNSUPPORTED,
                             "mvq_matmul: no %s dequantizer in the %s kernels",
                             mvq_type_name(wtype), kt->isa);
    return mvq_matmul_dequant_sgemm(kt, pool, worth_threads(pool, n_out, n_in, n_tok), wtype, w,
                                    n_out, n_in, x, n_tok, y, err);
}

mvq_status mvq_matmul_table(const mvq_kernel_table *kt, mvq_matmul_path path, mvq_pool *pool,
                            mvq_type wtype, const void *w, int64_t n_out, int64_t n_in,
                            const float *x, int64_t n_tok, float *y, mvq_error *err)
{
    mvq_status st = check_args(kt, wtype, w, n_out, n_in, x, n_tok, y, err);
    if (st != MVQ_OK)
        return st;
    if (n_out == 0 || n_tok == 0)
        return MVQ_OK;
    if (path == MVQ_PATH_AUTO)
        path = mvq_matmul_choose(kt, wtype, n_tok);
    if (path == MVQ_PATH_ONEDNN)
        return matmul_onednn(kt, pool, wtype, w, n_out, n_in, x, n_tok, y, err);
    if (path == MVQ_PATH_BF16 || path == MVQ_PATH_BF16_SPLIT || path == MVQ_PATH_HALF) {
        if (wtype != MVQ_TYPE_BF16 && (path != MVQ_PATH_HALF || wtype != MVQ_TYPE_F16))
            return mvq_error_set(err, MVQ_ERR_ARG, "mvq_matmul: the %s GEMM does not take %s weights",
                                 path == MVQ_PATH_HALF ? "half" : "bf16", mvq_type_name(wtype));
        const int parts = path == MVQ_PATH_HALF ? 0 : path == MVQ_PATH_BF16 ? 1 : 2;
        return mvq_matmul_half(kt, pool, worth_threads(pool, n_out, n_in, n_tok), wtype, parts, w, n_out, n_in, x,
                               n_tok, y, err);
    }

    const mvq_type_traits *tr = mvq_type_traits_get(wtype);
    const mvq_type_traits *atr = mvq_type_traits_get(tr->vec_dot_type);
    matmul_job job;
    memset(&job, 0, sizeof job);
    job.vec_dot = kt->vec_dot[wtype];
    if (path == MVQ_PATH_DOT && n_tok >= MVQ_GEMM_Q_MIN_TOKENS && gemm_q_allowed())
        job.gemm = kt->gemm_q[wtype];
    job.w = w;
    job.w_row = mvq_row_size(wtype, n_in);
    job.n_in = n_in;
    job.n_out = n_out;
    job.n_tok = n_tok;
    job.y = y;
    job.x = x;
    job.act_row = mvq_row_size(tr->vec_dot_type, n_in);
    bool parallel = worth_threads(pool, n_out, n_in, n_tok);

    if (tr->vec_dot_type == MVQ_TYPE_F32) {
        job.act = (const char *)x;
    } else {
        size_t bytes = job.act_row * (size_t)n_tok;
        job.xq = aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!job.xq)
            return mvq_error_set(err, MVQ_ERR_NOMEM,
                                 "mvq_matmul: cannot allocate %zu bytes for activations", bytes);
        job.quantize = kt->from_float[tr->vec_dot_type];
        job.act_block = atr->block_size;
        job.act_block_size = atr->type_size;
        job.act_blocks = n_tok * (n_in / atr->block_size);
        /* quantizing is ~n_in work per token against ~n_out*n_in for the
         * dots: worth the threads only for a batch */
        run_on(pool, parallel && n_tok >= 4, quantize_share, &job);
        job.act = job.xq;
    }

    plan_chunks(&job, parallel ? mvq_pool_size(pool) : 1);
    run_on(pool, parallel, dot_share, &job);
    free(job.xq);
    return MVQ_OK;
}

mvq_status mvq_matmul(mvq_pool *pool, mvq_type wtype, const void *w, int64_t n_out, int64_t n_in,
                      const float *x, int64_t n_tok, float *y, mvq_error *err)
{
    return mvq_matmul_table(mvq_kernels(), MVQ_PATH_AUTO, pool, wtype, w, n_out, n_in, x, n_tok,
                            y, err);
}
