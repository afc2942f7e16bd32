/* Internal to kernels/x86/: the intrinsics, and helpers both x86 sets share.
 *
 * The AVX-512 sources are built twice: natively (-mavx512...) and, for the
 * tests on CPUs without AVX-512, over SIMDe's portable emulations of the same
 * intrinsics (-DMVQ_USE_SIMDE).  MVQ_X86_FN() renames the SIMDe build's
 * exported functions so both builds link into one test program. */
#ifndef MVQ_SIMD_X86_H
#define MVQ_SIMD_X86_H

#ifdef MVQ_USE_SIMDE
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include "kernels/x86/simde_shims.h"
#define MVQ_X86_FN(name) name##_simde
#else
#include <immintrin.h>
#define MVQ_X86_FN(name) name
#endif

#include <stdint.h>
#include <string.h>

#include "kernels/iq4xs.h"
#include "kernels/ref.h"
#include "kernels/x86/x86_impl.h"

#define MVQ_INLINE static inline __attribute__((always_inline))

MVQ_INLINE float hsum_ps_128(__m128 v)
{
    v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    v = _mm_add_ss(v, _mm_movehdup_ps(v));
    return _mm_cvtss_f32(v);
}

MVQ_INLINE float hsum_ps_256(__m256 v)
{
    return hsum_ps_128(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)));
}

MVQ_INLINE int hsum_epi32_256(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* One half (binary16) to float, exactly (F16C). */
MVQ_INLINE float half_to_float(uint16_t h)
{
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

/* The products dx * dy of two blocks' half scales (x0 y0, x1 y1): lanes 0
 * and 2.  The four halves travel in one general register, so the vector
 * side does one conversion for both blocks. */
MVQ_INLINE __m128 scale_products_2(uint16_t x0, uint16_t y0, uint16_t x1, uint16_t y1)
{
    const uint64_t w = x0 | (uint64_t)y0 << 16 | (uint64_t)x1 << 32 | (uint64_t)y1 << 48;
    const __m128 f = _mm_cvtph_ps(_mm_cvtsi64_si128((long long)w));
    return _mm_mul_ps(f, _mm_movehdup_ps(f));
}

/* Float to half, round to nearest even (F16C), as mvq_fp32_to_fp16. */
MVQ_INLINE uint16_t float_to_half(float f)
{
    return (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT), 0);
}

/* 32 nibbles (16 bytes: element j in the low nibble of byte j, element
 * j + 16 in its high nibble) to 32 bytes 0..15, in element order. */
MVQ_INLINE __m256i nibbles_to_bytes_32(const uint8_t *qs)
{
    const __m128i lo = _mm_loadu_si128((const __m128i *)qs);
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(lo, 4), lo);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

/* 32 bits (little-endian) to 32 bytes: 0xFF where the bit is set. */
MVQ_INLINE __m256i bits_to_bytes_32(const uint8_t *bits)
{
    uint32_t w;
    memcpy(&w, bits, 4);
    /* byte k of the result looks at byte k/8 of w, bit k%8 */
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32((int)w),
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

MVQ_INLINE __m256i load_256(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

/* 5-bit values of q5_0/q5_1/q5_K-like blocks: the nibbles with bit 4 from 32 bits qh */
MVQ_INLINE __m256i q5_bytes_32(const uint8_t *qs, const uint8_t *qh)
{
    return _mm256_or_si256(nibbles_to_bytes_32(qs), _mm256_and_si256(bits_to_bytes_32(qh), _mm256_set1_epi8(0x10)));
}

/* 2-bit field j (bits 2j, 2j+1) of each of 32 bytes (j constant in unrolled loops) */
MVQ_INLINE __m256i crumb_256(__m256i q, int j)
{
    return _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), _mm256_set1_epi8(3));
}

/* bit g of each of 32 bytes h, moved to bit pos (others cleared) */
MVQ_INLINE __m256i bit_to_256(__m256i h, int g, int pos)
{
    const __m256i moved = g >= pos ? _mm256_srli_epi16(h, g - pos) : _mm256_slli_epi16(h, pos - g);
    return _mm256_and_si256(moved, _mm256_set1_epi8((char)(1 << pos)));
}

/* IQ4_NL's 16 non-linear levels, in both 128-bit lanes (for a byte shuffle) */
MVQ_INLINE __m256i iq4nl_levels_256(void)
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)mvq_kvalues_iq4nl));
}

/* acc + d * (float)sum, lane by lane */
MVQ_INLINE __m256 fma_int(float d, __m256i sum, __m256 acc)
{
    return _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sum), acc);
}

/* sum over Q8_K's 16 runs of 16 of c[j] * bsums[j] (c: 16 bytes), as 8 int32 */
MVQ_INLINE __m256i bsums_dot_256(const int16_t *bsums, __m128i c, int c_signed)
{
    const __m256i c16 = c_signed ? _mm256_cvtepi8_epi16(c) : _mm256_cvtepu8_epi16(c);
    return _mm256_madd_epi16(load_256(bsums), c16);
}

/* q4_K/q5_K: the 8 6-bit scales (bytes 0..7) and 8 6-bit mins (bytes 8..15)
 * from their 12 packed bytes, as dwords a0 a1 a2:
 *   scales = a0 & 0x3f.., (a2 & 0x0f..) | (a0 >> 6 & 3..) << 4
 *   mins   = a1 & 0x3f.., (a2 >> 4 & 0x0f..) | (a1 >> 6 & 3..) << 4 */
MVQ_INLINE __m128i k4_scales_mins(const uint8_t *packed)
{
    /* reads 16 bytes: q4_K/q5_K blocks go on after their scales */
    const __m128i v = _mm_loadu_si128((const __m128i *)packed);
    const __m128i low = _mm_srlv_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 0)), _mm_setr_epi32(0, 0, 0, 4));
    const __m128i top = _mm_srli_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 0, 0)), 2);
    return _mm_or_si128(_mm_and_si128(low, _mm_setr_epi32(0x3F3F3F3F, 0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F)),
                        _mm_and_si128(top, _mm_setr_epi32(0, 0x30303030, 0, 0x30303030)));
}

/* q3_K's 16 6-bit scales from their 12 packed bytes (dwords a0 a1 a2), as
 * signed bytes minus 32: dword k of the result is
 *   (k < 2 ? a_k : a_{k-2} >> 4) & 0x0f..  |  (a2 >> 2k & 3..) << 4 */
MVQ_INLINE __m128i q3_K_scales(const uint8_t *packed)
{
    uint32_t a2;
    memcpy(&a2, packed + 8, 4);
    const __m128i v = _mm_loadl_epi64((const __m128i *)packed); /* a0 a1 */
    const __m128i low = _mm_srlv_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 1, 0)), _mm_setr_epi32(0, 0, 4, 4));
    const __m128i h = _mm_set1_epi32((int)a2);
    /* (a2 >> 2k & 3) << 4 = a2 << (4 - 2k) & 0x30 for k < 3, a2 >> 2 & 0x30 for k = 3 */
    const __m128i top = _mm_blend_epi32(_mm_sllv_epi32(h, _mm_setr_epi32(4, 2, 0, 0)), _mm_srli_epi32(h, 2), 8);
    const __m128i sc = _mm_or_si128(_mm_and_si128(low, _mm_set1_epi8(0x0F)), _mm_and_si128(top, _mm_set1_epi8(0x30)));
    return _mm_sub_epi8(sc, _mm_set1_epi8(32));
}

/* q6_K, half h of a super-block: its 4 groups of 32 as unsigned bytes
 * (q + 32): low nibbles of ql[64h..+32], of ql[64h+32..], then their high
 * nibbles; 2 high bits each from qh[32h..] (bits 0-1, 2-3, 4-5, 6-7). */
MVQ_INLINE void q6_K_bytes(const mvq_block_q6_K *b, int h, __m256i u[4])
{
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30);
    const __m256i a = load_256(b->ql + 64 * h), c = load_256(b->ql + 64 * h + 32);
    const __m256i qh = load_256(b->qh + 32 * h);
    u[0] = _mm256_or_si256(_mm256_and_si256(a, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2));
    u[1] = _mm256_or_si256(_mm256_and_si256(c, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2));
    u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), m4), _mm256_and_si256(qh, m2));
    u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(c, 4), m4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2));
}

/* The q4_K and q5_K dot rows around an instruction set's
 *   __m256 q45_K_superblock(packed scales, qs, qh or NULL, d, dmin, y, acc) */
#define DEFINE_Q45_K_DOTS(NAME_Q4, NAME_Q5)                                                          \
    static void NAME_Q4(int64_t n, float *s, const void *vx, const void *vy)                       \
    {                                                                                              \
        const mvq_block_q4_K *x = vx;                                                              \
        const mvq_block_q8_K *y = vy;                                                              \
        __m256 acc = _mm256_setzero_ps();                                                          \
        for (int64_t i = 0; i < n / MVQ_QK_K; i++)                                                 \
            acc = q45_K_superblock(x[i].scales, x[i].qs, NULL, half_to_float(x[i].d),              \
                                   half_to_float(x[i].dmin), &y[i], acc);                          \
        *s = hsum_ps_256(acc);                                                                     \
    }                                                                                              \
    static void NAME_Q5(int64_t n, float *s, const void *vx, const void *vy)                       \
    {                                                                                              \
        const mvq_block_q5_K *x = vx;                                                              \
        const mvq_block_q8_K *y = vy;                                                              \
        __m256 acc = _mm256_setzero_ps();                                                          \
        for (int64_t i = 0; i < n / MVQ_QK_K; i++)                                                 \
            acc = q45_K_superblock(x[i].scales, x[i].qs, x[i].qh, half_to_float(x[i].d),           \
                                   half_to_float(x[i].dmin), &y[i], acc);                          \
        *s = hsum_ps_256(acc);                                                                     \
    }

/* Sums of products of unsigned (u) by signed (s) bytes, 4 at a time, as 8
 * int32.  Exact when no pair sum exceeds int16 (true of all our formats). */
MVQ_INLINE __m256i dot_u8s8_256(__m256i u, __m256i s)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* The same for signed by signed bytes (x must not hold -128 where y does). */
MVQ_INLINE __m256i dot_s8s8_256(__m256i x, __m256i y)
{
    return dot_u8s8_256(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

/* The tiled GEMM of a format of QK-value blocks around its NAME##_tile(R, T, ...):
 * RR x TT tiles, then the leftover rows one at a time, then the leftover
 * tokens one at a time (gemm_q_avx2.c, gemm_q_avx512.c). */
#define DEFINE_GEMM_TILES(NAME, QK, RR, TT)                                                                  \
    static void NAME(int64_t n, int64_t n_rows, int64_t n_tok, const void *vw, size_t w_row, const void *va, \
                     size_t a_row, float *y, int64_t ldy)                                                    \
    {                                                                                                        \
        const char *w = vw, *a = va;                                                                         \
        const int64_t nb = n / (QK);                                                                         \
        int64_t t = 0;                                                                                       \
        for (; t + (TT) <= n_tok; t += (TT)) {                                                               \
            int64_t r = 0;                                                                                   \
            for (; r + (RR) <= n_rows; r += (RR))                                                            \
                NAME##_tile(RR, TT, nb, w + r * w_row, w_row, a + t * a_row, a_row, y + t * ldy + r, ldy);   \
            for (; r < n_rows; r++)                                                                          \
                NAME##_tile(1, TT, nb, w + r * w_row, w_row, a + t * a_row, a_row, y + t * ldy + r, ldy);    \
        }                                                                                                    \
        for (; t < n_tok; t++) {                                                                             \
            int64_t r = 0;                                                                                   \
            for (; r + (RR) <= n_rows; r += (RR))                                                            \
                NAME##_tile(RR, 1, nb, w + r * w_row, w_row, a + t * a_row, a_row, y + t * ldy + r, ldy);    \
            for (; r < n_rows; r++)                                                                          \
                NAME##_tile(1, 1, nb, w + r * w_row, w_row, a + t * a_row, a_row, y + t * ldy + r, ldy);     \
        }                                                                                                    \
    }
#define DEFINE_GEMM_32_TILES(NAME, RR, TT) DEFINE_GEMM_TILES(NAME, 32, RR, TT)

#endif
