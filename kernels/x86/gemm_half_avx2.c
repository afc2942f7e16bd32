/* AVX2 F16 and BF16 GEMMs on f32 activations: the AVX-512 kernels'
 * scheme (gemm_half_avx512.c) in 16 ymm registers, tiles of 3 weight rows
 * x 4 tokens (12 accumulators, 3 weight vectors, 1 activation). */
#include "config.h"
#include "kernels/x86/simd_x86.h"

MVQ_INLINE __m256 widen_f16(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

MVQ_INLINE __m256 widen_bf16(const uint16_t *p)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

#define TR 3
#define TT 4
#define STEP 8
#define GT_ACC __m256
#define GT_ZERO() _mm256_setzero_ps()
#define GT_W __m256
#define GT_X __m256
#define GT_W_T uint16_t
#define GT_X_T float
#define GT_LOAD_X(p) _mm256_loadu_ps(p)
#define GT_MADD(acc, w, x) _mm256_fmadd_ps(w, x, acc)
#define GT_REDUCE(acc) hsum_ps_256(acc)
#define GT_LOAD_W(p) widen_f16(p)
#define GT_PREFIX f16_
#include "kernels/x86/gemm_tiles_x86.h"

#define GT_LOAD_W(p) widen_bf16(p)
#define GT_PREFIX bf16_
#include "kernels/x86/gemm_tiles_x86.h"

static void gemm_f16_avx2(int64_t n, int64_t n_rows, int64_t n_tok, const void *w, size_t w_row, const float *x,
                          size_t x_row, float *y, int64_t ldy)
{
    f16_grid(n, n_rows, n_tok, w, w_row, x, x_row, 1, y, ldy);
}

static void gemm_bf16_f32_avx2(int64_t n, int64_t n_rows, int64_t n_tok, const void *w, size_t w_row,
                               const float *x, size_t x_row, float *y, int64_t ldy)
{
    bf16_grid(n, n_rows, n_tok, w, w_row, x, x_row, 1, y, ldy);
}

void mvq_gemm_half_init_avx2(mvq_kernel_table *t)
{
    t->gemm_half[MVQ_TYPE_F16] = gemm_f16_avx2;
    t->gemm_half[MVQ_TYPE_BF16] = gemm_bf16_f32_avx2;
}
