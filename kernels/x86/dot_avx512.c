/* AVX-512 (VNNI) dot products of the 32-value formats with Q8_0/Q8_1, two
 * blocks per 512-bit vector, and of F16/BF16/F32 with F32.  The K-quants are
 * in dot_kquants_avx512.c.  Leftover blocks go to the scalar reference
 * through mvq_x86_dot_tail. */
#include "config.h"
#include "kernels/x86/simd_avx512.h"

/* Every signed format is read as unsigned bytes u = q + off, so VNNI's
 * unsigned-by-signed multiply-add applies: sum q*y = sum u*y - off*sum y,
 * per run of 4 bytes (8 int32 per block). */
MVQ_INLINE __m512i dot_u_pair(__m512i u, __m512i y, int off)
{
    const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, y);
    if (!off)
        return p;
    return _mm512_sub_epi32(p, _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8((char)off), y));
}

/* unsigned bytes (q + off) of one block of each format */
MVQ_INLINE __m256i u_q4_0(const mvq_block_q4_0 *b) { return nibbles_to_bytes_32(b->qs); }
MVQ_INLINE __m256i u_q4_1(const mvq_block_q4_1 *b) { return nibbles_to_bytes_32(b->qs); }
MVQ_INLINE __m256i u_q5_0(const mvq_block_q5_0 *b) { return q5_bytes_32(b->qs, b->qh); }
MVQ_INLINE __m256i u_q5_1(const mvq_block_q5_1 *b) { return q5_bytes_32(b->qs, b->qh); }
MVQ_INLINE __m256i u_q8_0(const mvq_block_q8_0 *b)
{
    return _mm256_xor_si256(load_256(b->qs), _mm256_set1_epi8((char)0x80));
}
MVQ_INLINE __m256i u_iq4_nl(const mvq_block_iq4_nl *b)
{
    const __m256i q = _mm256_shuffle_epi8(iq4nl_levels_256(), nibbles_to_bytes_32(b->qs));
    return _mm256_xor_si256(q, _mm256_set1_epi8((char)0x80));
}

/* dx * dy of block i in the low 8 lanes, of block i + 1 in the high 8 */
MVQ_INLINE __m512 pair_scales(uint16_t x0, uint16_t y0, uint16_t x1, uint16_t y1)
{
    const __m512i lanes = _mm512_set_epi64(0x0000000200000002, 0x0000000200000002, 0x0000000200000002,
                                           0x0000000200000002, 0, 0, 0, 0);
    return _mm512_permutexvar_ps(lanes, _mm512_castps128_ps512(scale_products_2(x0, y0, x1, y1)));
}

/* the min's part of a q4_1/q5_1 block: m * (d_y * sum y) */
#define MIN_NONE(x, y) 0.0f
#define MIN_TERM(x, y) (half_to_float((x).m) * half_to_float((y).s))

#define DEFINE_DOT_PAIRS(NAME, TYPE, XB, YB, UNPACK, OFF, MINTERM)                                 \
    static void NAME(int64_t n, float *s, const void *vx, const void *vy)                        \
    {                                                                                            \
        const XB *x = vx;                                                                        \
        const YB *y = vy;                                                                        \
        const int64_t nb = n / 32;                                                               \
        __m512 acc = _mm512_setzero_ps();                                                        \
        float summs = 0.0f;                                                                      \
        int64_t i = 0;                                                                           \
        for (; i + 2 <= nb; i += 2) {                                                            \
            const __m512i u = join_256(UNPACK(&x[i]), UNPACK(&x[i + 1]));                        \
            const __m512i q8 = join_256(load_256(y[i].qs), load_256(y[i + 1].qs));               \
            const __m512 d = pair_scales(x[i].d, y[i].d, x[i + 1].d, y[i + 1].d);                 \
            acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(dot_u_pair(u, q8, OFF)), acc);           \
            summs += MINTERM(x[i], y[i]) + MINTERM(x[i + 1], y[i + 1]);                          \
        }                                                                                        \
        *s = _mm512_reduce_add_ps(acc) + summs + mvq_x86_dot_tail(TYPE, i, nb, vx, vy);          \
    }

DEFINE_DOT_PAIRS(vec_dot_q4_0_q8_0_avx512, MVQ_TYPE_Q4_0, mvq_block_q4_0, mvq_block_q8_0, u_q4_0, 8, MIN_NONE)
DEFINE_DOT_PAIRS(vec_dot_q4_1_q8_1_avx512, MVQ_TYPE_Q4_1, mvq_block_q4_1, mvq_block_q8_1, u_q4_1, 0, MIN_TERM)
DEFINE_DOT_PAIRS(vec_dot_q5_0_q8_0_avx512, MVQ_TYPE_Q5_0, mvq_block_q5_0, mvq_block_q8_0, u_q5_0, 16, MIN_NONE)
DEFINE_DOT_PAIRS(vec_dot_q5_1_q8_1_avx512, MVQ_TYPE_Q5_1, mvq_block_q5_1, mvq_block_q8_1, u_q5_1, 0, MIN_TERM)
DEFINE_DOT_PAIRS(vec_dot_q8_0_q8_0_avx512, MVQ_TYPE_Q8_0, mvq_block_q8_0, mvq_block_q8_0, u_q8_0, 128, MIN_NONE)
DEFINE_DOT_PAIRS(vec_dot_iq4_nl_q8_0_avx512, MVQ_TYPE_IQ4_NL, mvq_block_iq4_nl, mvq_block_q8_0, u_iq4_nl, 128,
                 MIN_NONE)

/* ---- plain types by f32: 64 values a step, the rest by the reference ---- */

MVQ_INLINE __m512 load16_f16(const mvq_half *p)
{
    return _mm512_cvtph_ps(load_256(p));
}

MVQ_INLINE __m512 load16_bf16(const mvq_bf16 *p)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(load_256(p)), 16));
}

MVQ_INLINE __m512 load16_f32(const float *p)
{
    return _mm512_loadu_ps(p);
}

#define DEFINE_DOT_PLAIN(NAME, TYPE, ELEM, LOAD16)                                               \
    static void NAME(int64_t n, float *s, const void *vx, const void *vy)                        \
    {                                                                                            \
        const ELEM *x = vx;                                                                      \
        const float *y = vy;                                                                     \
        __m512 acc[4] = { _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),        \
                          _mm512_setzero_ps() };                                                 \
        int64_t i = 0;                                                                           \
        for (; i + 64 <= n; i += 64)                                                             \
            _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++)                                  \
                acc[k] = _mm512_fmadd_ps(LOAD16(x + i + 16 * k), _mm512_loadu_ps(y + i + 16 * k), acc[k]); \
        const __m512 sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])); \
        *s = _mm512_reduce_add_ps(sum) + mvq_x86_dot_tail(TYPE, i, n, vx, vy);                   \
    }

DEFINE_DOT_PLAIN(vec_dot_f32_f32_avx512, MVQ_TYPE_F32, float, load16_f32)
DEFINE_DOT_PLAIN(vec_dot_f16_f32_avx512, MVQ_TYPE_F16, mvq_half, load16_f16)
DEFINE_DOT_PLAIN(vec_dot_bf16_f32_avx512, MVQ_TYPE_BF16, mvq_bf16, load16_bf16)

void MVQ_X86_FN(mvq_dot_init_avx512)(mvq_kernel_table *t)
{
    t->vec_dot[MVQ_TYPE_Q4_0] = vec_dot_q4_0_q8_0_avx512;
    t->vec_dot[MVQ_TYPE_Q4_1] = vec_dot_q4_1_q8_1_avx512;
    t->vec_dot[MVQ_TYPE_Q5_0] = vec_dot_q5_0_q8_0_avx512;
    t->vec_dot[MVQ_TYPE_Q5_1] = vec_dot_q5_1_q8_1_avx512;
    t->vec_dot[MVQ_TYPE_Q8_0] = vec_dot_q8_0_q8_0_avx512;
    t->vec_dot[MVQ_TYPE_IQ4_NL] = vec_dot_iq4_nl_q8_0_avx512;
    t->vec_dot[MVQ_TYPE_F32] = vec_dot_f32_f32_avx512;
    t->vec_dot[MVQ_TYPE_F16] = vec_dot_f16_f32_avx512;
    t->vec_dot[MVQ_TYPE_BF16] = vec_dot_bf16_f32_avx512;
    MVQ_X86_FN(mvq_dot_kquants_init_avx512)(t);
}
