/* AVX-512 BF16 GEMM (vdpbf16ps): BF16 weights by activations split into
 * bf16 terms (mvq_bf16_split).  One instruction multiplies 32 bf16 pairs
 * exactly and adds them into 16 f32 lanes: twice an f32 FMA's work, on
 * weights read as stored (no dequantized copy).
 *
 * Tiles of 4 weight rows x 6 tokens keep 24 accumulators in registers;
 * each step of 32 values loads every row and every token once.  Each
 * (row, token) pair owns its accumulator over the whole row and ends in the
 * same reduction, so its result does not depend on the tile it falls in,
 * nor on how the product is split between threads.
 *
 * Built natively with -mavx512bf16 (the dispatch sets it only on CPUs that
 * have the feature) and over SIMDe for the tests. */
#include "config.h"
#include "kernels/x86/simd_x86.h"

#define TR 4 /* rows per tile */
#define TT 6 /* tokens per tile */
#define STEP 32

MVQ_INLINE __m512bh load_bh(const mvq_bf16 *p)
{
    __m512bh v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* the last m < 32 values, zeros after them */
MVQ_INLINE __m512bh load_bh_tail(const mvq_bf16 *p, int64_t m)
{
    mvq_bf16 buf[STEP] = { 0 };
    memcpy(buf, p, (size_t)m * sizeof *p);
    return load_bh(buf);
}

MVQ_INLINE const mvq_bf16 *row_at(const mvq_bf16 *base, size_t stride, int64_t i)
{
    return (const mvq_bf16 *)((const char *)base + (size_t)i * stride);
}

/* R rows x T tokens (R <= TR, T <= TT: constants after inlining) */
MVQ_INLINE void tile(const int R, const int T, int64_t n, const mvq_bf16 *w, size_t w_row, const mvq_bf16 *a,
                     size_t a_row, int parts, float *y, int64_t ldy)
{
    __m512 acc[TR][TT];
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 6") for (int t = 0; t < T; t++)
            acc[r][t] = _mm512_setzero_ps();
    const int64_t n_full = n / STEP * STEP;
    for (int p = 0; p < parts; p++) {
        const int64_t off = (int64_t)p * n;
        for (int64_t i = 0; i < n_full; i += STEP) {
            __m512bh wv[TR];
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
                wv[r] = load_bh(row_at(w, w_row, r) + i);
            _Pragma("GCC unroll 6") for (int t = 0; t < T; t++) {
                const __m512bh xv = load_bh(row_at(a, a_row, t) + off + i);
                _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
                    acc[r][t] = _mm512_dpbf16_ps(acc[r][t], wv[r], xv);
            }
        }
        if (n_full < n) {
            __m512bh wv[TR];
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
                wv[r] = load_bh_tail(row_at(w, w_row, r) + n_full, n - n_full);
            _Pragma("GCC unroll 6") for (int t = 0; t < T; t++) {
                const __m512bh xv = load_bh_tail(row_at(a, a_row, t) + off + n_full, n - n_full);
                _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
                    acc[r][t] = _mm512_dpbf16_ps(acc[r][t], wv[r], xv);
            }
        }
    }
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 6") for (int t = 0; t < T; t++)
            y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
}

#define TILE_CASE(R, T)                                                                                         \
    case (R) * 8 + (T):                                                                                         \
        tile(R, T, n, w, w_row, a, a_row, parts, y, ldy);                                                       \
        break;
#define TILE_ROW(R) TILE_CASE(R, 1) TILE_CASE(R, 2) TILE_CASE(R, 3) TILE_CASE(R, 4) TILE_CASE(R, 5) TILE_CASE(R, 6)

/* one tile of rows x toks, both at most the tile's size */
static void any_tile(int rows, int toks, int64_t n, const mvq_bf16 *w, size_t w_row, const mvq_bf16 *a,
                     size_t a_row, int parts, float *y, int64_t ldy)
{
    switch (rows * 8 + toks) {
        TILE_ROW(1)
        TILE_ROW(2)
        TILE_ROW(3)
        TILE_ROW(4)
    default: break;
    }
}

static void gemm_bf16_avx512(int64_t n, int64_t n_rows, int64_t n_tok, const mvq_bf16 *w, size_t w_row,
                             const mvq_bf16 *a, size_t a_row, int parts, float *y, int64_t ldy)
{
    for (int64_t t = 0; t < n_tok; t += TT) {
        const int toks = n_tok - t < TT ? (int)(n_tok - t) : TT;
        for (int64_t r = 0; r < n_rows; r += TR) {
            const int rows = n_rows - r < TR ? (int)(n_rows - r) : TR;
            any_tile(rows, toks, n, row_at(w, w_row, r), w_row, row_at(a, a_row, t), a_row, parts,
                     y + t * ldy + r, ldy);
        }
    }
}

void MVQ_X86_FN(mvq_gemm_bf16_init_avx512)(mvq_kernel_table *t)
{
    t->gemm_bf16 = gemm_bf16_avx512;
}
