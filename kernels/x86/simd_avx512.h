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

#endif
