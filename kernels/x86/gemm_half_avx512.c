/* AVX-512 F16 and BF16 GEMMs on f32 activations: the weights widened to f32
 * in registers (exactly: F16 by vcvtph2ps, BF16 by a shift into the high
 * half) and multiplied by FMA, in tiles of 4 weight rows x 6 tokens
 * (kernels/x86/gemm_tiles_x86.h).  Each weight vector is widened once per
 * tile and serves 6 tokens; nothing is dequantized to memory, which a batch
 * of tens of tokens needs (the dequantized-tile sgemm pays a tile
 * conversion and a packing of the batch for every tile of rows). */
#include "config.h"
#include "kernels/x86/simd_avx512.h"

MVQ_INLINE __m512 widen_bf16(const uint16_t *p)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(load_256(p)), 16));
}

#define TR 4
#define TT 6
#define STEP 16
#define GT_ACC __m512
#define GT_ZERO() _mm512_setzero_ps()
#define GT_W __m512
#define GT_X __m512
#define GT_W_T uint16_t
#define GT_X_T float
#define GT_LOAD_X(p) _mm512_loadu_ps(p)
#define GT_MADD(acc, w, x) _mm512_fmadd_ps(w, x, acc)
#define GT_REDUCE(acc) _mm512_reduce_add_ps(acc)
#define GT_LOAD_W(p) _mm512_cvtph_ps(load_256(p))
#define GT_PREFIX f16_
#include "kernels/x86/gemm_tiles_x86.h"

#define GT_LOAD_W(p) widen_bf16(p)
#define GT_PREFIX bf16_
#include "kernels/x86/gemm_tiles_x86.h"

static void gemm_f16_avx512(int64_t n, int64_t n_rows, int64_t n_tok, const void *w, size_t w_row, const float *x,
                            size_t x_row, float *y, int64_t ldy)
{
    f16_grid(n, n_rows, n_tok, w, w_row, x, x_row, 1, y, ldy);
}

static void gemm_bf16_f32_avx512(int64_t n, int64_t n_rows, int64_t n_tok, const void *w, size_t w_row,
                                 const float *x, size_t x_row, float *y, int64_t ldy)
{
    bf16_grid(n, n_rows, n_tok, w, w_row, x, x_row, 1, y, ldy);
}

void MVQ_X86_FN(mvq_gemm_half_init_avx512)(mvq_kernel_table *t)
{
    t->gemm_half[MVQ_TYPE_F16] = gemm_f16_avx512;
    t->gemm_half[MVQ_TYPE_BF16] = gemm_bf16_f32_avx512;
}
