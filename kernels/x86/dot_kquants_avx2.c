/* AVX2 dot products of the K-quants (Q2_K..Q6_K) with Q8_K.
 *
 * Every format is read as 8 groups of 32 unsigned values u per super-block,
 * each group with one 16-bit scale per half of 16 (the 6-bit formats repeat
 * their one scale per 32).  The signed offsets (q6_K: -32, q3_K: -4) and the
 * mins (q2_K, q4_K, q5_K) are folded in once per super-block through Q8_K's
 * bsums (sums of 16 activations), so the inner loop is multiply-adds only. */
#include "config.h"
#include "kernels/x86/simd_x86.h"

/* Scales (as int16) for one group: byte a of sc for the first 16 values,
 * byte b for the last 16. */
static inline __m256i scale_pair(__m128i sc, int a, int b)
{
    const __m128i idx = _mm_set_epi64x((long long)(0x0101010101010101ULL * (unsigned)b),
                                       (long long)(0x0101010101010101ULL * (unsigned)a));
    return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc, idx));
}

/* sum of scale * u * y over one group of 32, as 8 int32 */
static inline __m256i group_dot(__m256i u, const int8_t *q8, __m256i scales)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, load_256(q8)), scales);
}

/* bits g of 32 bytes h moved to bit pos: (h >> g & 1) << pos */
static inline __m256i high_bit(__m256i h, int g, int pos)
{
    const __m256i b = _mm256_and_si256(_mm256_srl_epi16(h, _mm_cvtsi32_si128(g)), _mm256_set1_epi8(1));
    return _mm256_sll_epi16(b, _mm_cvtsi32_si128(pos));
}

static inline __m256 fma_int(float d, __m256i sum, __m256 acc)
{
    return _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sum), acc);
}

static void vec_dot_q2_K_q8_K_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_q2_K *x = vx;
    const mvq_block_q8_K *y = vy;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        const __m128i packed = _mm_loadu_si128((const __m128i *)x[i].scales);
        const __m128i sc = _mm_and_si128(packed, _mm_set1_epi8(0x0F));
        const __m128i mins = _mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F));
        __m256i sum = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i q = load_256(x[i].qs + 32 * h);
            for (int j = 0; j < 4; j++) {
                const int g = 4 * h + j;
                sum = _mm256_add_epi32(sum, group_dot(crumb_256(q, j), y[i].qs + 32 * g, scale_pair(sc, 2 * g, 2 * g + 1)));
            }
        }
        const float dy = y[i].d;
        acc = fma_int(dy * half_to_float(x[i].d), sum, acc);
        acc = fma_int(-dy * half_to_float(x[i].dmin), bsums_dot_256(y[i].bsums, mins, 0), acc);
    }
    *s = hsum_ps_256(acc);
}

static void vec_dot_q3_K_q8_K_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_q3_K *x = vx;
    const mvq_block_q8_K *y = vy;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        const __m128i sc = q3_K_scales(x[i].scales);
        const __m256i hm = load_256(x[i].hmask);
        __m256i sum = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i q = load_256(x[i].qs + 32 * h);
            for (int j = 0; j < 4; j++) {
                const int g = 4 * h + j;
                const __m256i u = _mm256_or_si256(crumb_256(q, j), high_bit(hm, g, 2));
                sum = _mm256_add_epi32(sum, group_dot(u, y[i].qs + 32 * g, scale_pair(sc, 2 * g, 2 * g + 1)));
            }
        }
        /* u = q + 4: subtract 4 * scale * bsum */
        sum = _mm256_sub_epi32(sum, _mm256_slli_epi32(bsums_dot_256(y[i].bsums, sc, 1), 2));
        acc = fma_int(y[i].d * half_to_float(x[i].d), sum, acc);
    }
    *s = hsum_ps_256(acc);
}

MVQ_INLINE void vec_dot_q45_K(int64_t n, float *s, const void *vx, const void *vy, int five)
{
    const int64_t nb = n / MVQ_QK_K;
    const mvq_block_q8_K *y = vy;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const mvq_block_q4_K *x4 = (const mvq_block_q4_K *)vx + i;
        const mvq_block_q5_K *x5 = (const mvq_block_q5_K *)vx + i;
        const uint8_t *qs = five ? x5->qs : x4->qs;
        __m128i sc, mins;
        k4_scales_mins(five ? x5->scales : x4->scales, &sc, &mins);
        mins = _mm_unpacklo_epi8(mins, mins); /* each min weighs two bsums */
        const __m256i hb = five ? load_256(x5->qh) : _mm256_setzero_si256();
        __m256i sum = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            const __m256i q = load_256(qs + 32 * j);
            __m256i lo = _mm256_and_si256(q, _mm256_set1_epi8(0x0F));
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), _mm256_set1_epi8(0x0F));
            if (five) {
                lo = _mm256_or_si256(lo, high_bit(hb, 2 * j, 4));
                hi = _mm256_or_si256(hi, high_bit(hb, 2 * j + 1, 4));
            }
            sum = _mm256_add_epi32(sum, group_dot(lo, y[i].qs + 64 * j, scale_pair(sc, 2 * j, 2 * j)));
            sum = _mm256_add_epi32(sum, group_dot(hi, y[i].qs + 64 * j + 32, scale_pair(sc, 2 * j + 1, 2 * j + 1)));
        }
        const mvq_half d = five ? x5->d : x4->d, dmin = five ? x5->dmin : x4->dmin;
        acc = fma_int(y[i].d * half_to_float(d), sum, acc);
        acc = fma_int(-y[i].d * half_to_float(dmin), bsums_dot_256(y[i].bsums, mins, 0), acc);
    }
    *s = hsum_ps_256(acc);
}

static void vec_dot_q4_K_q8_K_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    vec_dot_q45_K(n, s, vx, vy, 0);
}

static void vec_dot_q5_K_q8_K_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    vec_dot_q45_K(n, s, vx, vy, 1);
}

static void vec_dot_q6_K_q8_K_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_q6_K *x = vx;
    const mvq_block_q8_K *y = vy;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        const __m128i sc = _mm_loadu_si128((const __m128i *)x[i].scales);
        __m256i sum = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i a = load_256(x[i].ql + 64 * h), b = load_256(x[i].ql + 64 * h + 32);
            const __m256i qh = load_256(x[i].qh + 32 * h);
            const __m256i u[4] = {
                _mm256_or_si256(_mm256_and_si256(a, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2)),
                _mm256_or_si256(_mm256_and_si256(b, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), m4), _mm256_and_si256(qh, m2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), m4),
                                _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2)),
            };
            for (int j = 0; j < 4; j++) {
                const int g = 4 * h + j;
                sum = _mm256_add_epi32(sum, group_dot(u[j], y[i].qs + 32 * g, scale_pair(sc, 2 * g, 2 * g + 1)));
            }
        }
        /* u = q + 32: subtract 32 * scale * bsum */
        sum = _mm256_sub_epi32(sum, _mm256_slli_epi32(bsums_dot_256(y[i].bsums, sc, 1), 5));
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
