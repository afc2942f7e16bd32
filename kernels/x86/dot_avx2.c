/* AVX2 dot products of a weight row with its activation row: the 32-value
 * formats by Q8_0/Q8_1, and F16/BF16/F32 by F32.  The K-quants are in
 * dot_kquants_avx2.c.  Each loop covers whole steps of its unroll; the
 * leftover blocks go to the scalar reference through mvq_x86_dot_tail. */
#include "config.h"
#include "kernels/x86/simd_x86.h"

/* Signed formats (q4_0, q5_0, q8_0, iq4_nl) as signed bytes, multiplied by
 * the sign trick; q4_1/q5_1 as unsigned bytes, their min added through
 * Q8_1's s = d * sum(y).  Two blocks a step, one accumulator each. */
MVQ_INLINE __m256i s_q4_0(const mvq_block_q4_0 *b)
{
    return _mm256_sub_epi8(nibbles_to_bytes_32(b->qs), _mm256_set1_epi8(8));
}
MVQ_INLINE __m256i s_q5_0(const mvq_block_q5_0 *b)
{
    return _mm256_sub_epi8(q5_bytes_32(b->qs, b->qh), _mm256_set1_epi8(16));
}
MVQ_INLINE __m256i s_q8_0(const mvq_block_q8_0 *b) { return load_256(b->qs); }
MVQ_INLINE __m256i s_iq4_nl(const mvq_block_iq4_nl *b)
{
    return _mm256_shuffle_epi8(iq4nl_levels_256(), nibbles_to_bytes_32(b->qs));
}
MVQ_INLINE __m256i u_q4_1(const mvq_block_q4_1 *b) { return nibbles_to_bytes_32(b->qs); }
MVQ_INLINE __m256i u_q5_1(const mvq_block_q5_1 *b) { return q5_bytes_32(b->qs, b->qh); }

#define MIN_NONE(x, y) 0.0f
#define MIN_TERM(x, y) (half_to_float((x).m) * half_to_float((y).s))

#define DEFINE_DOT_PAIRS(NAME, TYPE, XB, YB, UNPACK, DOT, MINTERM)                                   \
    static void NAME(int64_t n, float *s, const void *vx, const void *vy)                          \
    {                                                                                              \
        const XB *x = vx;                                                                          \
        const YB *y = vy;                                                                          \
        const int64_t nb = n / 32;                                                                 \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();                            \
        float summs = 0.0f;                                                                        \
        int64_t i = 0;                                                                             \
        for (; i + 2 <= nb; i += 2) {                                                              \
            const __m128 d = scale_products_2(x[i].d, y[i].d, x[i + 1].d, y[i + 1].d);             \
            const __m256i p0 = DOT(UNPACK(&x[i]), load_256(y[i].qs));                              \
            const __m256i p1 = DOT(UNPACK(&x[i + 1]), load_256(y[i + 1].qs));                      \
            acc0 = _mm256_fmadd_ps(_mm256_broadcastss_ps(d), _mm256_cvtepi32_ps(p0), acc0);        \
            acc1 = _mm256_fmadd_ps(_mm256_broadcastss_ps(_mm_movehl_ps(d, d)), _mm256_cvtepi32_ps(p1), acc1); \
            summs += MINTERM(x[i], y[i]) + MINTERM(x[i + 1], y[i + 1]);                            \
        }                                                                                          \
        *s = hsum_ps_256(_mm256_add_ps(acc0, acc1)) + summs + mvq_x86_dot_tail(TYPE, i, nb, vx, vy); \
    }

DEFINE_DOT_PAIRS(vec_dot_q4_0_q8_0_avx2, MVQ_TYPE_Q4_0, mvq_block_q4_0, mvq_block_q8_0, s_q4_0, dot_s8s8_256, MIN_NONE)
DEFINE_DOT_PAIRS(vec_dot_q4_1_q8_1_avx2, MVQ_TYPE_Q4_1, mvq_block_q4_1, mvq_block_q8_1, u_q4_1, dot_u8s8_256, MIN_TERM)
DEFINE_DOT_PAIRS(vec_dot_q5_0_q8_0_avx2, MVQ_TYPE_Q5_0, mvq_block_q5_0, mvq_block_q8_0, s_q5_0, dot_s8s8_256, MIN_NONE)
DEFINE_DOT_PAIRS(vec_dot_q5_1_q8_1_avx2, MVQ_TYPE_Q5_1, mvq_block_q5_1, mvq_block_q8_1, u_q5_1, dot_u8s8_256, MIN_TERM)
DEFINE_DOT_PAIRS(vec_dot_q8_0_q8_0_avx2, MVQ_TYPE_Q8_0, mvq_block_q8_0, mvq_block_q8_0, s_q8_0, dot_s8s8_256, MIN_NONE)
DEFINE_DOT_PAIRS(vec_dot_iq4_nl_q8_0_avx2, MVQ_TYPE_IQ4_NL, mvq_block_iq4_nl, mvq_block_q8_0, s_iq4_nl, dot_s8s8_256,
                 MIN_NONE)

/* ---- plain types by f32: 32 values a step, the rest by the reference ---- */

static inline __m256 load8_f16(const mvq_half *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static inline __m256 load8_bf16(const mvq_bf16 *p)
{
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

static inline __m256 load8_f32(const float *p)
{
    return _mm256_loadu_ps(p);
}

#define DEFINE_DOT_PLAIN(NAME, TYPE, ELEM, LOAD8)                                                \
    static void NAME(int64_t n, float *s, const void *vx, const void *vy)                        \
    {                                                                                            \
        const ELEM *x = vx;                                                                      \
        const float *y = vy;                                                                     \
        __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),        \
                          _mm256_setzero_ps() };                                                 \
        int64_t i = 0;                                                                           \
        for (; i + 32 <= n; i += 32)                                                             \
            _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++)                                  \
                acc[k] = _mm256_fmadd_ps(LOAD8(x + i + 8 * k), _mm256_loadu_ps(y + i + 8 * k), acc[k]); \
        const __m256 sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])); \
        *s = hsum_ps_256(sum) + mvq_x86_dot_tail(TYPE, i, n, vx, vy);                            \
    }

DEFINE_DOT_PLAIN(vec_dot_f32_f32_avx2, MVQ_TYPE_F32, float, load8_f32)
DEFINE_DOT_PLAIN(vec_dot_f16_f32_avx2, MVQ_TYPE_F16, mvq_half, load8_f16)
DEFINE_DOT_PLAIN(vec_dot_bf16_f32_avx2, MVQ_TYPE_BF16, mvq_bf16, load8_bf16)

void mvq_dot_init_avx2(mvq_kernel_table *t)
{
    t->vec_dot[MVQ_TYPE_Q4_0] = vec_dot_q4_0_q8_0_avx2;
    t->vec_dot[MVQ_TYPE_Q4_1] = vec_dot_q4_1_q8_1_avx2;
    t->vec_dot[MVQ_TYPE_Q5_0] = vec_dot_q5_0_q8_0_avx2;
    t->vec_dot[MVQ_TYPE_Q5_1] = vec_dot_q5_1_q8_1_avx2;
    t->vec_dot[MVQ_TYPE_Q8_0] = vec_dot_q8_0_q8_0_avx2;
    t->vec_dot[MVQ_TYPE_IQ4_NL] = vec_dot_iq4_nl_q8_0_avx2;
    t->vec_dot[MVQ_TYPE_F32] = vec_dot_f32_f32_avx2;
    t->vec_dot[MVQ_TYPE_F16] = vec_dot_f16_f32_avx2;
    t->vec_dot[MVQ_TYPE_BF16] = vec_dot_bf16_f32_avx2;
    mvq_dot_kquants_init_avx2(t);
}
