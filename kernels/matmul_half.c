/* F16 and BF16 weights by a batch of tokens on the table's half GEMMs:
 * for gemm_bf16 (vdpbf16ps) the activations are first split into bf16
 * terms (mvq_bf16_split); gemm_half takes them as they are.  Each thread
 * claims chunks of weight rows and sweeps them with tiles of tokens.  The
 * weights are read as stored: nothing is dequantized to memory.
 *
 * Each output is one kernel accumulation over its whole row, so the result
 * is the same at any thread count and chunking. */
#include "config.h"
#include "kernels/matmul.h"

#include <stdatomic.h>
#include <stdlib.h>

/* bytes of weight rows swept per token tile, and of token rows per tile:
 * both stay in L2 while the kernel's tiles go over them; both counts are
 * multiples of every kernel's tile (AVX2 3 x 4, AVX-512 4 x 6) */
#define ROW_TILE_BYTES (256 * 1024)
#define TOK_TILE_BYTES (192 * 1024)
#define KERNEL_ROWS 12
#define KERNEL_TOKS 12

typedef struct half_job {
    mvq_gemm_bf16_fn gemm_bf16; /* one of the two */
    mvq_gemm_half_fn gemm_half;
    const float *x;
    mvq_bf16 *a;
    int parts;
    const char *w;
    size_t w_row, a_row;
    int64_t n_in, n_out, n_tok;
    float *y;
    int64_t chunk_rows, n_chunks, row_tile, tok_tile;
    atomic_llong next_chunk;
} half_job;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

static void split_share(void *arg, int ith, int nth)
{
    half_job *job = arg;
    for (int64_t t = job->n_tok * ith / nth; t < job->n_tok * (ith + 1) / nth; t++)
        mvq_bf16_split(job->x + t * job->n_in, (mvq_bf16 *)((char *)job->a + (size_t)t * job->a_row), job->n_in,
                       job->parts);
}

static void gemm_share(void *arg, int ith, int nth)
{
    half_job *job = arg;
    (void)ith;
    (void)nth;
    for (;;) {
        int64_t c = atomic_fetch_add_explicit(&job->next_chunk, 1, memory_order_relaxed);
        if (c >= job->n_chunks)
            return;
        const int64_t r0 = c * job->chunk_rows, r1 = min64(r0 + job->chunk_rows, job->n_out);
        for (int64_t t0 = 0; t0 < job->n_tok; t0 += job->tok_tile) {
            const int64_t nt = min64(job->tok_tile, job->n_tok - t0);
            const char *at = (const char *)(job->a ? (const void *)job->a : (const void *)job->x) +
                             (size_t)t0 * job->a_row;
            for (int64_t rt = r0; rt < r1; rt += job->row_tile) {
                const int64_t nr = min64(job->row_tile, r1 - rt);
                const char *wt = job->w + (size_t)rt * job->w_row;
                float *yt = job->y + t0 * job->n_out + rt;
                if (job->gemm_bf16)
                    job->gemm_bf16(job->n_in, nr, nt, (const mvq_bf16 *)wt, job->w_row, (const mvq_bf16 *)at,
                                   job->a_row, job->parts, yt, job->n_out);
                else
                    job->gemm_half(job->n_in, nr, nt, wt, job->w_row, (const float *)at, job->a_row, yt,
                                   job->n_out);
            }
        }
    }
}

mvq_status mvq_matmul_half(const mvq_kernel_table *kt, mvq_pool *pool, bool parallel, mvq_type wtype, int parts,
                           const void *w, int64_t n_out, int64_t n_in, const float *x, int64_t n_tok, float *y,
                           mvq_error *err)
{
    const bool bf16 = parts > 0; /* bf16 activations */
    half_job job = {
        .gemm_bf16 = bf16 ? kt->gemm_bf16 : NULL,
        .gemm_half = bf16 ? NULL : kt->gemm_half[wtype],
        .x = x,
        .parts = parts,
        .w = w,
        .w_row = (size_t)n_in * sizeof(mvq_bf16),
        .a_row = bf16 ? (size_t)(parts * n_in) * sizeof(mvq_bf16) : (size_t)n_in * sizeof(float),
        .n_in = n_in,
        .n_out = n_out,
        .n_tok = n_tok,
        .y = y,
    };
    if (!job.gemm_bf16 && !job.gemm_half)
        return mvq_error_set(err, MVQ_ERR_UNSUPPORTED, "mvq_matmul: no %s GEMM%s in the %s kernels",
                             mvq_type_name(wtype), bf16 ? " with bf16 activations" : "", kt->isa);
    if (bf16) {
        const size_t bytes = job.a_row * (size_t)n_tok;
        job.a = aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!job.a)
            return mvq_error_set(err, MVQ_ERR_NOMEM,
                                 "mvq_matmul: cannot allocate %zu bytes for bf16 activations", bytes);
    }
    const int nth = parallel ? mvq_pool_size(pool) : 1;
    job.row_tile = clamp64(ROW_TILE_BYTES / (int64_t)job.w_row, 1, 1024) / KERNEL_ROWS * KERNEL_ROWS;
    job.row_tile = job.row_tile < KERNEL_ROWS ? KERNEL_ROWS : job.row_tile;
    job.tok_tile = clamp64(TOK_TILE_BYTES / (int64_t)job.a_row, 1, 16 * KERNEL_TOKS) / KERNEL_TOKS * KERNEL_TOKS;
    job.tok_tile = job.tok_tile < KERNEL_TOKS ? KERNEL_TOKS : job.tok_tile;
    job.chunk_rows = mvq_matmul_chunk_rows(n_out, nth);
    job.n_chunks = (n_out + job.chunk_rows - 1) / job.chunk_rows;
    atomic_init(&job.next_chunk, 0);

    if (bf16) {
        if (nth > 1 && n_tok >= nth)
            mvq_pool_run(pool, split_share, &job);
        else
            split_share(&job, 0, 1);
    }
    if (nth > 1)
        mvq_pool_run(pool, gemm_share, &job);
    else
        gemm_share(&job, 0, 1);
    free(job.a);
    return MVQ_OK;
}
