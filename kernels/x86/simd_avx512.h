/* Internal to kernels/x86/: helpers of the AVX-512 (F, BW, VL, VNNI) kernels.
 * Only AVX-512F/BW/VL/VNNI intrinsics (no DQ, no VBMI): what the dispatch
 * requires of the CPU. */
#ifndef MVQ_SIMD_AVX512_H
#define MVQ_SIMD_AVX512_H

#include "kernels/x86/simd_x86.h"

MVQ_INLINE __m512i load_512(const void *p)
{
    return _mm512_loadu_si512(p);
}

/* lo in the low 256 bits, hi in the high */
MVQ_INLINE __m512i join_256(__m256i lo, __m256i hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* 32 bytes in both halves */
MVQ_INLINE __m512i broadcast_256(const void *p)
{
    return _mm512_broadcast_i64x4(load_256(p));
}

/* 16-bit lanes: a in the low half, b in the high half */
MVQ_INLINE __m512i halves_epi16(short a, short b)
{
    return join_256(_mm256_set1_epi16(a), _mm256_set1_epi16(b));
}

MVQ_INLINE __m512i halves_epi8(char a, char b)
{
    return join_256(_mm256_set1_epi8(a), _mm256_set1_epi8(b));
}

MVQ_INLINE __m256i add_halves_epi32(__m512i v)
{
    return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

/* 2-bit fields of 32 bytes q: field j0 in the low half, j1 in the high half */
MVQ_INLINE __m512i crumbs_512(const uint8_t *q, int j0, int j1)
{
    return _mm512_and_si512(_mm512_srlv_epi16(broadcast_256(q), halves_epi16((short)(2 * j0), (short)(2 * j1))),
                            _mm512_set1_epi8(3));
}

/* u + add where bit g0 (low half) / g1 (high half) of 32 bytes h is set */
MVQ_INLINE __m512i add_high_bit(__m512i u, __m512i h, int g0, int g1, char add)
{
    const __mmask64 k = _mm512_test_epi8_mask(h, halves_epi8((char)(1 << g0), (char)(1 << g1)));
    return _mm512_mask_add_epi8(u, k, u, _mm512_set1_epi8(add));
}

#endif
