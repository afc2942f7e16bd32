/* AVX2 dot products of the K-quants (Q2_K..Q6_K) with Q8_K.
 *
 * Every format is read as 8 groups of 32 unsigned values u per super-block,
 * each group with one 16-bit scale per half of 16 (the 6-bit formats repeat
 * their one scale per 32).  The signed offsets (q6_K: -32, q3_K: -4) and the
 * mins (q2_K, q4_K, q5_K) are folded in once per super-block through Q8_K's
 * bsums (sums of 16 activations), so the inner loop is multiply-adds only.
 * The group loops are unrolled so every shift and shuffle mask is constant. */
#include "config.h"
#include "kernels/x86/kscales_avx2.h"

static void vec_dot_q2_K_q8_K_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_q2_K *x = vx;
    const mvq_block_q8_K *y = vy;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        const __m128i packed = _mm_loadu_si128((const __m128i *)x[i].scales);
        const scales16 sc = widen_scales(_mm_and_si128(packed, _mm_set1_epi8(0x0F)), 0);
        const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F)));
        __m256i sum = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            const __m256i u = crumb_256(load_256(x[i].qs + 32 * (g / 4)), g % 4);
            sum = _mm256_add_epi32(sum, group_dot(u, y[i].qs + 32 * g, pick_scales(&sc, 2 * g, 2 * g + 1)));
        }
        acc = fma_int(y[i].d * half_to_float(x[i].d), sum, acc);
        acc = fma_int(-y[i].d * half_to_float(x[i].dmin), bsums_dot(y[i].bsums, mins), acc);
    }
    *s = hsum_ps_256(acc);
}

static void vec_dot_q3_K_q8_K_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_q3_K *x = vx;
    const mvq_block_q8_K *y = vy;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        const scales16 sc = widen_scales(q3_K_scales(x[i].scales), 1);
        const __m256i hm = load_256(x[i].hmask);
        __m256i sum = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            const __m256i u = _mm256_or_si256(crumb_256(load_256(x[i].qs + 32 * (g / 4)), g % 4), bit_to_256(hm, g, 2));
            sum = _mm256_add_epi32(sum, group_dot(u, y[i].qs + 32 * g, pick_scales(&sc, 2 * g, 2 * g + 1)));
        }
        /* u = q + 4: subtract 4 * scale * bsum */
        sum = _mm256_sub_epi32(sum, _mm256_slli_epi32(bsums_dot(y[i].bsums, sc.w), 2));
        acc = fma_int(y[i].d * half_to_float(x[i].d), sum, acc);
    }
    *s = hsum_ps_256(acc);
}

/* q4_K and q5_K (qh NULL for q4_K): qs[32j..32j+31] holds group 2j in its
 * low nibbles and group 2j + 1 in its high nibbles */
MVQ_INLINE __m256 q45_K_superblock(const uint8_t *packed, const uint8_t *qs, const uint8_t *qh, float d,
                                   float dmin, const mvq_block_q8_K *y, __m256 acc)
{
    const scales16 sc = widen_scales(k4_scales_mins(packed), 0); /* lo: the scales, hi: the mins */
    const __m256i mins = q45_K_bsum_mins(&sc);
    const __m256i hb = qh ? load_256(qh) : _mm256_setzero_si256();
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256i sum = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        const __m256i q = load_256(qs + 32 * j);
        __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        if (qh) {
            lo = _mm256_or_si256(lo, bit_to_256(hb, 2 * j, 4));
            hi = _mm256_or_si256(hi, bit_to_256(hb, 2 * j + 1, 4));
        }
        sum = _mm256_add_epi32(sum, group_dot(lo, y->qs + 64 * j, pick_scales(&sc, 2 * j, 2 * j)));
        sum = _mm256_add_epi32(sum, group_dot(hi, y->qs + 64 * j + 32, pick_scales(&sc, 2 * j + 1, 2 * j + 1)));
    }
    acc = fma_int(y->d * d, sum, acc);
    return fma_int(-y->d * dmin, bsums_dot(y->bsums, mins), acc);
}

DEFINE_Q45_K_DOTS(vec_dot_q4_K_q8_K_avx2, vec_dot_q5_K_q8_K_avx2)

static void vec_dot_q6_K_q8_K_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_q6_K *x = vx;
    const mvq_block_q8_K *y = vy;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        const scales16 sc = widen_scales(_mm_loadu_si128((const __m128i *)x[i].scales), 1);
        __m256i sum = _mm256_setzero_si256();
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m256i u[4];
            q6_K_bytes(&x[i], h, u);
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                const int g = 4 * h + j;
                sum = _mm256_add_epi32(sum, group_dot(u[j], y[i].qs + 32 * g, pick_scales(&sc, 2 * g, 2 * g + 1)));
            }
        }
        /* u = q + 32: subtract 32 * scale * bsum */
        sum = _mm256_sub_epi32(sum, _mm256_slli_epi32(bsums_dot(y[i].bsums, sc.w), 5));
        acc = fma_int(y[i].d * half_to_float(x[i].d), sum, acc);
    }
    *s = hsum_ps_256(acc);
}

void mvq_dot_kquants_init_avx2(mvq_kernel_table *t)
{
    t->vec_dot[MVQ_TYPE_Q2_K] = vec_dot_q2_K_q8_K_avx2;
    t->vec_dot[MVQ_TYPE_Q3_K] = vec_dot_q3_K_q8_K_avx2;
    t->vec_dot[MVQ_TYPE_Q4_K] = vec_dot_q4_K_q8_K_avx2;
    t->vec_dot[MVQ_TYPE_Q5_K] = vec_dot_q5_K_q8_K_avx2;
    t->vec_dot[MVQ_TYPE_Q6_K] = vec_dot_q6_K_q8_K_avx2;
}
