/* AVX-512 (VNNI) dot products of the K-quants (Q2_K..Q6_K) with Q8_K.
 *
 * A super-block is read as 4 vectors of 64 unsigned values u (4 runs of 16
 * each, one per 128-bit lane), every run with its own scale: per vector one
 * unsigned-by-signed multiply (int16 pairs, never saturating in these
 * formats) and one VNNI int16 multiply-add by the scales (vpdpwssd).  The
 * signed offsets (q6_K: -32, q3_K: -4) and the mins (q2_K, q4_K, q5_K) are
 * folded in once per super-block through Q8_K's bsums. */
#include "config.h"
#include "kernels/x86/simd_avx512.h"

/* sum of scale * u * y over the super-block, as 8 int32; run r of vector v
 * has scale sc[4v + r] (sc: 16 signed bytes) */
MVQ_INLINE __m256i superblock_dot(const __m512i u[4], const int8_t *q8, __m128i sc)
{
    const __m512i sc16 = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(sc));
    /* 16-bit lane index r for every lane of 128-bit lane r */
    const __m512i lane = _mm512_set_epi64(0x0003000300030003, 0x0003000300030003, 0x0002000200020002,
                                          0x0002000200020002, 0x0001000100010001, 0x0001000100010001, 0, 0);
    __m512i acc = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) {
        const __m512i s = _mm512_permutexvar_epi16(_mm512_add_epi16(lane, _mm512_set1_epi16((short)(4 * v))), sc16);
        acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(u[v], load_512(q8 + 64 * v)), s);
    }
    return add_halves_epi32(acc);
}

static void vec_dot_q2_K_q8_K_avx512(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_q2_K *x = vx;
    const mvq_block_q8_K *y = vy;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        const __m128i packed = _mm_loadu_si128((const __m128i *)x[i].scales);
        const __m128i sc = _mm_and_si128(packed, _mm_set1_epi8(0x0F));
        const __m128i mins = _mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F));
        __m512i u[4];
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++)
            u[v] = crumbs_512(x[i].qs + 32 * (v / 2), 2 * (v % 2), 2 * (v % 2) + 1);
        acc = fma_int(y[i].d * half_to_float(x[i].d), superblock_dot(u, y[i].qs, sc), acc);
        acc = fma_int(-y[i].d * half_to_float(x[i].dmin), bsums_dot_256(y[i].bsums, mins, 0), acc);
    }
    *s = hsum_ps_256(acc);
}

static void vec_dot_q3_K_q8_K_avx512(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_q3_K *x = vx;
    const mvq_block_q8_K *y = vy;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        const __m128i sc = q3_K_scales(x[i].scales);
        const __m512i hm = broadcast_256(x[i].hmask);
        __m512i u[4];
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++)
            u[v] = add_high_bit(crumbs_512(x[i].qs + 32 * (v / 2), 2 * (v % 2), 2 * (v % 2) + 1), hm, 2 * v,
                                2 * v + 1, 4);
        /* u = q + 4: subtract 4 * scale * bsum */
        const __m256i sum = _mm256_sub_epi32(superblock_dot(u, y[i].qs, sc),
                                             _mm256_slli_epi32(bsums_dot_256(y[i].bsums, sc, 1), 2));
        acc = fma_int(y[i].d * half_to_float(x[i].d), sum, acc);
    }
    *s = hsum_ps_256(acc);
}

/* q4_K and q5_K (qh NULL for q4_K): vector j holds groups 2j (low nibbles)
 * and 2j + 1 (high nibbles) of qs[32j..32j+31] */
MVQ_INLINE __m256 q45_K_superblock(const uint8_t *packed, const uint8_t *qs, const uint8_t *qh, float d,
                                   float dmin, const mvq_block_q8_K *y, __m256 acc)
{
    const __m128i sm = k4_scales_mins(packed);
    /* one scale (min) per 32: repeat it for both runs of 16 (both bsums) */
    const __m128i sc = _mm_unpacklo_epi8(sm, sm), mins = _mm_unpackhi_epi8(sm, sm);
    const __m512i hb = qh ? broadcast_256(qh) : _mm512_setzero_si512();
    __m512i u[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        u[j] = _mm512_and_si512(_mm512_srlv_epi16(broadcast_256(qs + 32 * j), halves_epi16(0, 4)),
                                _mm512_set1_epi8(0x0F));
        if (qh)
            u[j] = add_high_bit(u[j], hb, 2 * j, 2 * j + 1, 16);
    }
    acc = fma_int(y->d * d, superblock_dot(u, y->qs, sc), acc);
    return fma_int(-y->d * dmin, bsums_dot_256(y->bsums, mins, 0), acc);
}

DEFINE_Q45_K_DOTS(vec_dot_q4_K_q8_K_avx512, vec_dot_q5_K_q8_K_avx512)

static void vec_dot_q6_K_q8_K_avx512(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_q6_K *x = vx;
    const mvq_block_q8_K *y = vy;
    const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(0x30);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        const __m128i sc = _mm_loadu_si128((const __m128i *)x[i].scales);
        __m512i u[4];
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            /* groups 4h, 4h+1: low nibbles of ql[64h..], qh bits 0-1 / 2-3;
             * groups 4h+2, 4h+3: high nibbles, qh bits 4-5 / 6-7 */
            const __m512i ql = load_512(x[i].ql + 64 * h);
            const __m512i qh = broadcast_256(x[i].qh + 32 * h);
            u[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, m4),
                                       _mm512_and_si512(_mm512_sllv_epi16(qh, halves_epi16(4, 2)), m2));
            u[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                           _mm512_and_si512(_mm512_srlv_epi16(qh, halves_epi16(0, 2)), m2));
        }
        /* u = q + 32: subtract 32 * scale * bsum */
        const __m256i sum = _mm256_sub_epi32(superblock_dot(u, y[i].qs, sc),
                                             _mm256_slli_epi32(bsums_dot_256(y[i].bsums, sc, 1), 5));
        acc = fma_int(y[i].d * half_to_float(x[i].d), sum, acc);
    }
    *s = hsum_ps_256(acc);
}

void MVQ_X86_FN(mvq_dot_kquants_init_avx512)(mvq_kernel_table *t)
{
    t->vec_dot[MVQ_TYPE_Q2_K] = vec_dot_q2_K_q8_K_avx512;
    t->vec_dot[MVQ_TYPE_Q3_K] = vec_dot_q3_K_q8_K_avx512;
    t->vec_dot[MVQ_TYPE_Q4_K] = vec_dot_q4_K_q8_K_avx512;
    t->vec_dot[MVQ_TYPE_Q5_K] = vec_dot_q5_K_q8_K_avx512;
    t->vec_dot[MVQ_TYPE_Q6_K] = vec_dot_q6_K_q8_K_avx512;
}
