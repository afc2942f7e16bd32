/* The K-quants' per-group int16 scales as the AVX2 kernels use them:
 * shared by the dot products (dot_kquants_avx2.c) and the tiled GEMM
 * (gemm_q_avx2.c), so both do the same integer work. */
#ifndef MVQ_KSCALES_AVX2_H
#define MVQ_KSCALES_AVX2_H

#include "kernels/x86/simd_x86.h"

/* 16 scales (bytes) widened to int16: w (s0..s7 | s8..s15), and each half
 * repeated in both lanes for pick_scales */
typedef struct {
    __m256i w, lo, hi;
} scales16;

MVQ_INLINE scales16 widen_scales(__m128i sc, int is_signed)
{
    scales16 s;
    s.w = is_signed ? _mm256_cvtepi8_epi16(sc) : _mm256_cvtepu8_epi16(sc);
    s.lo = _mm256_permute2x128_si256(s.w, s.w, 0x00);
    s.hi = _mm256_permute2x128_si256(s.w, s.w, 0x11);
    return s;
}

/* int16 scales of one group: scale a for its first 16 values, b for the last */
MVQ_INLINE __m256i pick_scales(const scales16 *s, int a, int b)
{
    const __m256i idx = _mm256_set_m128i(_mm_set1_epi16((short)(0x0100 + 0x0202 * (b % 8))),
                                         _mm_set1_epi16((short)(0x0100 + 0x0202 * (a % 8))));
    return _mm256_shuffle_epi8(a < 8 ? s->lo : s->hi, idx);
}

/* sum of scale * u * y over one group of 32, as 8 int32 */
MVQ_INLINE __m256i group_dot(__m256i u, const int8_t *q8, __m256i scales)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, load_256(q8)), scales);
}

/* sum over the 16 runs of 16 of c[j] * bsums[j] (c widened), as 8 int32 */
MVQ_INLINE __m256i bsums_dot(const int16_t *bsums, __m256i c16)
{
    return _mm256_madd_epi16(load_256(bsums), c16);
}

/* q4_K/q5_K (scales from widen_scales(k4_scales_mins())): one min per two
 * bsums, words 0,0,1,1,..,7,7 of the mins */
MVQ_INLINE __m256i q45_K_bsum_mins(const scales16 *sc)
{
    return _mm256_shuffle_epi8(sc->hi, _mm256_setr_epi8(0, 1, 0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7, 8, 9, 8,
                                                         9, 10, 11, 10, 11, 12, 13, 12, 13, 14, 15, 14, 15));
}

#endif
