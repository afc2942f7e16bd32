/* AVX-512 BF16 GEMM (vdpbf16ps): BF16 weights by activations split into
 * bf16 terms (mvq_bf16_split).  One instruction multiplies 32 bf16 pairs
 * exactly and adds them into 16 f32 lanes: twice an f32 FMA's work, on
 * weights read as stored.  Tiles of 4 weight rows x 6 tokens
 * (kernels/x86/gemm_tiles_x86.h).
 *
 * Built natively with -mavx512bf16 (the dispatch sets it only on CPUs that
 * have the feature) and over SIMDe for the tests. */
#include "config.h"
#include "kernels/x86/simd_x86.h"

MVQ_INLINE __m512bh load_bh(const mvq_bf16 *p)
{
    __m512bh v;
    memcpy(&v, p, sizeof v);
    return v;
}

#define TR 4
#define TT 6
#define STEP 32
#define GT_ACC __m512
#define GT_ZERO() _mm512_setzero_ps()
#define GT_W __m512bh
#define GT_X __m512bh
#define GT_W_T mvq_bf16
#define GT_X_T mvq_bf16
#define GT_LOAD_W(p) load_bh(p)
#define GT_LOAD_X(p) load_bh(p)
#define GT_MADD(acc, w, x) _mm512_dpbf16_ps(acc, w, x)
#define GT_REDUCE(acc) _mm512_reduce_add_ps(acc)
#define GT_PREFIX bf16_dot_
#include "kernels/x86/gemm_tiles_x86.h"

static void gemm_bf16_avx512(int64_t n, int64_t n_rows, int64_t n_tok, const mvq_bf16 *w, size_t w_row,
                             const mvq_bf16 *a, size_t a_row, int parts, float *y, int64_t ldy)
{
    bf16_dot_grid(n, n_rows, n_tok, w, w_row, a, a_row, parts, y, ldy);
}

void MVQ_X86_FN(mvq_gemm_bf16_init_avx512)(mvq_kernel_table *t)
{
    t->gemm_bf16 = gemm_bf16_avx512;
}
