/* AVX2 tiled quantized GEMM for the 32-value formats by Q8_0: tiles of 2
 * weight rows x 2 tokens, each block unpacked once per tile.  Bit-identical
 * to dot_avx2.c: every (row, token) keeps vec_dot's two accumulators (even
 * and odd blocks) and sees the same float operations in the same order;
 * only the integer work (exact) and the loads are shared.  Only q4_0
 * gains (4096x4096, one thread, 32-512 tokens: 1.2-1.3x the per-pair
 * path); q8_0 measured 0.9-1.0x (its per-pair cost is the sign trick on
 * every pair, not the weights' unpacking) and keeps vec_dot per pair, as do
 * the K-quants on AVX2 (not written yet). */
#include "config.h"
#include "kernels/x86/simd_x86.h"

enum { AR = 2, AT = 2 };

MVQ_INLINE __m256i s_q4_0(const mvq_block_q4_0 *b)
{
    return _mm256_sub_epi8(nibbles_to_bytes_32(b->qs), _mm256_set1_epi8(8));
}

#define DEFINE_GEMM_PAIRS_AVX2(NAME, TYPE, XB, UNPACK)                                                       \
    MVQ_INLINE void NAME##_tile(const int R, const int T, int64_t nb, const char *w, size_t w_row,            \
                                const char *a, size_t a_row, float *y, int64_t ldy)                          \
    {                                                                                                        \
        __m256 acc[AR][AT][2];                                                                               \
        _Pragma("GCC unroll 2") for (int r = 0; r < R; r++)                                                  \
            _Pragma("GCC unroll 2") for (int t = 0; t < T; t++)                                              \
                acc[r][t][0] = acc[r][t][1] = _mm256_setzero_ps();                                           \
        int64_t i = 0;                                                                                       \
        for (; i + 2 <= nb; i += 2) {                                                                        \
            _Pragma("GCC unroll 2") for (int r = 0; r < R; r++) {                                            \
                const XB *xb = (const XB *)(w + (size_t)r * w_row) + i;                                      \
                const __m256i x0 = UNPACK(&xb[0]), x1 = UNPACK(&xb[1]);                                      \
                const __m256i ax0 = _mm256_sign_epi8(x0, x0), ax1 = _mm256_sign_epi8(x1, x1);                \
                const float xd0 = half_to_float(xb[0].d), xd1 = half_to_float(xb[1].d);                      \
                _Pragma("GCC unroll 2") for (int t = 0; t < T; t++) {                                        \
                    const mvq_block_q8_0 *yb = (const mvq_block_q8_0 *)(a + (size_t)t * a_row) + i;          \
                    const __m256i p0 = dot_u8s8_256(ax0, _mm256_sign_epi8(load_256(yb[0].qs), x0));          \
                    const __m256i p1 = dot_u8s8_256(ax1, _mm256_sign_epi8(load_256(yb[1].qs), x1));          \
                    acc[r][t][0] = _mm256_fmadd_ps(_mm256_set1_ps(xd0 * half_to_float(yb[0].d)),             \
                                                   _mm256_cvtepi32_ps(p0), acc[r][t][0]);                    \
                    acc[r][t][1] = _mm256_fmadd_ps(_mm256_set1_ps(xd1 * half_to_float(yb[1].d)),             \
                                                   _mm256_cvtepi32_ps(p1), acc[r][t][1]);                    \
                }                                                                                            \
            }                                                                                                \
        }                                                                                                    \
        _Pragma("GCC unroll 2") for (int r = 0; r < R; r++)                                                  \
            _Pragma("GCC unroll 2") for (int t = 0; t < T; t++) {                                            \
                const float summs = 0.0f; /* vec_dot's sum of the (absent) min terms */                     \
                y[t * ldy + r] = hsum_ps_256(_mm256_add_ps(acc[r][t][0], acc[r][t][1])) + summs +            \
                                 mvq_x86_dot_tail(TYPE, i, nb, w + (size_t)r * w_row, a + (size_t)t * a_row); \
            }                                                                                                \
    }                                                                                                        \
    DEFINE_GEMM_32_TILES(NAME, AR, AT)

DEFINE_GEMM_PAIRS_AVX2(gemm_q4_0_q8_0_avx2, MVQ_TYPE_Q4_0, mvq_block_q4_0, s_q4_0)

void mvq_gemm_q_init_avx2(mvq_kernel_table *t)
{
    t->gemm_q[MVQ_TYPE_Q4_0] = gemm_q4_0_q8_0_avx2;
}
