/* Internal to kernels/ (and to tests and benchmarks, which link the core
 * statically): the matrix product on an explicit kernel table and path, so
 * paths can be compared side by side in one process. */
#ifndef MVQ_MATMUL_H
#define MVQ_MATMUL_H

#include <mvquant/kernels.h>

typedef enum mvq_matmul_path {
    MVQ_PATH_AUTO = 0,  /* what mvq_matmul_choose says */
    MVQ_PATH_DOT = 1,   /* activations quantized to vec_dot_type, the table's vec_dot */
    MVQ_PATH_ONEDNN = 2, /* oneDNN sgemm: F32 directly, other types on dequantized tiles;
                           MVQ_ERR_UNSUPPORTED when not built with oneDNN */
    MVQ_PATH_DOT_PAIRS = 3, /* as MVQ_PATH_DOT, never the tiled GEMM (same result, bit for bit) */
    /* BF16 weights on the table's gemm_bf16 (MVQ_ERR_UNSUPPORTED where it
     * has none), activations split into bf16 terms: one (rounded as
     * llama.cpp rounds them) or two (16 significant bits) */
    MVQ_PATH_BF16 = 4,
    MVQ_PATH_BF16_SPLIT = 5,
    MVQ_PATH_HALF = 6 /* F16/BF16 weights on the table's gemm_half, f32 activations */
} mvq_matmul_path;

/* From this batch size on, dequantizing weight tiles once and multiplying
 * them with oneDNN's register-blocked sgemm beats one vec_dot per
 * (row, token).  Measured on AVX2 (4096x4096, one thread): quantized types
 * break even at about 16 tokens (q4_0: 24 vs 28 GFLOP/s; at 64 tokens 24 vs
 * 50), F16/BF16 already at 4 (8 vs 12). */
#define MVQ_DEQUANT_GEMM_MIN_TOKENS 16
#define MVQ_DEQUANT_GEMM_MIN_TOKENS_HALF 4

/* From this batch size on, MVQ_PATH_DOT runs the table's tiled quantized
 * GEMM (gemm_q) where it has one: bit-identical to vec_dot per pair, each
 * weight block loaded once per tile of tokens.  The environment variable
 * MVQ_GEMM_Q=0 keeps the per-pair loop (benchmarks, comparisons). */
/* Measured on AVX-512 (4096x4096, one thread, GFLOP/s tiled vs per pair):
 * 2 tokens q8_0 54 vs 54, q4_0 47 vs 55, q4_K 131 vs 86; 4 tokens 2.2-2.4x
 * (q4_K 1.5x). */
#define MVQ_GEMM_Q_MIN_TOKENS 4

/* F16 and BF16 weights, where the table has their GEMM: MVQ_PATH_AUTO
 * takes it from MIN tokens (MVQ_GEMM_Q=0: never).  BF16 weights take
 * gemm_bf16 where the table has it (AVX-512 BF16), with the activations
 * rounded to bf16 (one term) as llama.cpp's CPU backend does; otherwise
 * gemm_half on f32 activations, below MAX tokens when oneDNN is there.
 * Measured (Zen 4, 4096x4096, one thread, GFLOP/s at 32/128/512 tokens;
 * oneDNN f32 sgemm 50/84/95), against the dequantized tiles' sgemm:
 *   AVX-512 f16  gemm_half 71/76/72 vs 31/51/73
 *   AVX-512 bf16 gemm_bf16 121/132/131 (two terms 63/65/67), gemm_half
 *                73/79/75, vs 25/54/74
 *   AVX2 f16     gemm_half 67/62/60 vs 32/52/76; bf16 58/59/62 vs 32/51/77 */
#define MVQ_HALF_GEMM_MIN_TOKENS 4
#define MVQ_HALF_GEMM_MAX_TOKENS 256
#define MVQ_BF16_GEMM_PATH MVQ_PATH_BF16

/* The path MVQ_PATH_AUTO takes: F32 through oneDNN when built with it;
 * other types through oneDNN for batches of MVQ_DEQUANT_GEMM_MIN_TOKENS
 * (F16/BF16: _HALF) or more when the table can dequantize them; otherwise
 * vec_dot. */
mvq_matmul_path mvq_matmul_choose(const mvq_kernel_table *kt, mvq_type wtype, int64_t n_tok);

/* Rows per chunk of a product split over nth threads by an atomic
 * counter: about 4 chunks per thread, for balance when one is preempted,
 * in multiples of 16 rows (16 floats, a cache line: two threads never
 * write the same line of y); one chunk on one thread. */
static inline int64_t mvq_matmul_chunk_rows(int64_t n_out, int nth)
{
    if (nth <= 1)
        return n_out > 0 ? n_out : 1;
    const int64_t rows = (n_out + 4 * nth - 1) / (4 * nth);
    return (rows + 15) / 16 * 16;
}

/* mvq_matmul with the given table and path. */
mvq_status mvq_matmul_table(const mvq_kernel_table *kt, mvq_matmul_path path, mvq_pool *pool,
                            mvq_type wtype, const void *w, int64_t n_out, int64_t n_in,
                            const float *x, int64_t n_tok, float *y, mvq_error *err);

/* kernels/matmul_half.c: the half GEMM paths (arguments already checked;
 * F16 or BF16 weights): gemm_bf16 with the activations split into `parts`
 * bf16 terms, or gemm_half when parts is 0; on the whole pool when
 * parallel, else on the caller alone. */
mvq_status mvq_matmul_half(const mvq_kernel_table *kt, mvq_pool *pool, bool parallel, mvq_type wtype, int parts,
                           const void *w, int64_t n_out, int64_t n_in, const float *x, int64_t n_tok, float *y,
                           mvq_error *err);

/* kernels/matmul_dequant.c: the oneDNN path (arguments already checked;
 * F32, or kt->to_float[wtype] not NULL): tiles of weight rows, each one
 * single-threaded sgemm, on the whole pool when parallel, else on the caller
 * alone; the tiles depend on the shape only. */
mvq_status mvq_matmul_dequant_sgemm(const mvq_kernel_table *kt, mvq_pool *pool, bool parallel,
                                    mvq_type wtype, const void *w, int64_t n_out, int64_t n_in,
                                    const float *x, int64_t n_tok, float *y, mvq_error *err);

/* kernels/matmul_onednn.c: y = x * w^T (y rows ldy apart) through dnnl_sgemm
 * on n_threads of oneDNN's own (OpenMP) threads.  false when oneDNN is
 * absent or fails. */
bool mvq_onednn_available(void);
bool mvq_sgemm_onednn(int n_threads, const float *w, int64_t n_out, int64_t n_in, const float *x,
                      int64_t n_tok, float *y, int64_t ldy);

#endif
