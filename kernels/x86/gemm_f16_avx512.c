/* AVX-512 F16 GEMM: F16 weights converted to f32 in registers (exactly)
 * and multiplied with f32 activations by FMA, in tiles of 4 weight rows x
 * 6 tokens (24 accumulators).  Each weight vector is converted once per
 * tile and serves 6 tokens; nothing is dequantized to memory, which is
 * what a batch of tens of tokens needs (the dequantized-tile sgemm pays a
 * tile conversion and a packing of the batch for each tile of rows).
 *
 * Each (row, token) pair owns its accumulator over the whole row, so its
 * result does not depend on the tile it falls in, nor on the threads. */
#include "config.h"
#include "kernels/x86/simd_avx512.h"

#define TR 4 /* rows per tile */
#define TT 6 /* tokens per tile */
#define STEP 16

MVQ_INLINE __m512 load_w(const mvq_half *p)
{
    return _mm512_cvtph_ps(load_256(p));
}

/* the last m < 16 values, zeros after them */
MVQ_INLINE __m512 load_w_tail(const mvq_half *p, int64_t m)
{
    mvq_half buf[STEP] = { 0 };
    memcpy(buf, p, (size_t)m * sizeof *p);
    return load_w(buf);
}

MVQ_INLINE __m512 load_x_tail(const float *p, int64_t m)
{
    float buf[STEP] = { 0 };
    memcpy(buf, p, (size_t)m * sizeof *p);
    return _mm512_loadu_ps(buf);
}

MVQ_INLINE const void *row_at(const void *base, size_t stride, int64_t i)
{
    return (const char *)base + (size_t)i * stride;
}

/* R rows x T tokens (R <= TR, T <= TT: constants after inlining) */
MVQ_INLINE void tile(const int R, const int T, int64_t n, const mvq_half *w, size_t w_row, const float *x,
                     size_t x_row, float *y, int64_t ldy)
{
    __m512 acc[TR][TT];
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 6") for (int t = 0; t < T; t++)
            acc[r][t] = _mm512_setzero_ps();
    const int64_t n_full = n / STEP * STEP;
    for (int64_t i = 0; i < n_full; i += STEP) {
        __m512 wv[TR];
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
            wv[r] = load_w((const mvq_half *)row_at(w, w_row, r) + i);
        _Pragma("GCC unroll 6") for (int t = 0; t < T; t++) {
            const __m512 xv = _mm512_loadu_ps((const float *)row_at(x, x_row, t) + i);
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
                acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    if (n_full < n) {
        __m512 wv[TR];
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
            wv[r] = load_w_tail((const mvq_half *)row_at(w, w_row, r) + n_full, n - n_full);
        _Pragma("GCC unroll 6") for (int t = 0; t < T; t++) {
            const __m512 xv = load_x_tail((const float *)row_at(x, x_row, t) + n_full, n - n_full);
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
                acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 6") for (int t = 0; t < T; t++)
            y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
}

#define TILE_CASE(R, T)                                                                                         \
    case (R) * 8 + (T):                                                                                         \
        tile(R, T, n, w, w_row, x, x_row, y, ldy);                                                              \
        break;
#define TILE_ROW(R) TILE_CASE(R, 1) TILE_CASE(R, 2) TILE_CASE(R, 3) TILE_CASE(R, 4) TILE_CASE(R, 5) TILE_CASE(R, 6)

/* one tile of rows x toks, both at most the tile's size */
static void any_tile(int rows, int toks, int64_t n, const mvq_half *w, size_t w_row, const float *x, size_t x_row,
                     float *y, int64_t ldy)
{
    switch (rows * 8 + toks) {
        TILE_ROW(1)
        TILE_ROW(2)
        TILE_ROW(3)
        TILE_ROW(4)
    default: break;
    }
}

static void gemm_f16_avx512(int64_t n, int64_t n_rows, int64_t n_tok, const mvq_half *w, size_t w_row,
                            const float *x, size_t x_row, float *y, int64_t ldy)
{
    for (int64_t t = 0; t < n_tok; t += TT) {
        const int toks = n_tok - t < TT ? (int)(n_tok - t) : TT;
        for (int64_t r = 0; r < n_rows; r += TR) {
            const int rows = n_rows - r < TR ? (int)(n_rows - r) : TR;
            any_tile(rows, toks, n, row_at(w, w_row, r), w_row, row_at(x, x_row, t), x_row, y + t * ldy + r, ldy);
        }
    }
}

void MVQ_X86_FN(mvq_gemm_f16_init_avx512)(mvq_kernel_table *t)
{
    t->gemm_f16 = gemm_f16_avx512;
}
