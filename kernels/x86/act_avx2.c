/* AVX2 quantization of activations to Q8_0, Q8_1 and Q8_K, bit-exact with the
 * scalar reference: the same float operations in the same order per value
 * (max, one division, one multiply, the same rounding). */
#include "config.h"
#include "kernels/ref.h"
#include "kernels/search_eval.h"
#include "kernels/x86/simd_x86.h"

static inline __m256 abs_ps(__m256 v)
{
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

static inline float hmax_ps_256(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* roundf(): halves away from zero.  |v| - trunc(|v|) is exact in float. */
static inline __m256i round_away_epi32(__m256 v)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 a = _mm256_andnot_ps(sign, v);
    const __m256 t = _mm256_round_ps(a, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 up = _mm256_cmp_ps(_mm256_sub_ps(a, t), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    const __m256 r = _mm256_add_ps(t, _mm256_and_ps(up, _mm256_set1_ps(1.0f)));
    return _mm256_cvttps_epi32(_mm256_or_ps(r, _mm256_and_ps(sign, v)));
}

/* 32 int32 (in element order) to 32 int8, saturating. */
static inline __m256i pack_epi32_to_epi8(__m256i a, __m256i b, __m256i c, __m256i d)
{
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* One block of 32: quantizes with scale amax/127 into qs; returns d and the sum of qs. */
static inline float quantize_block32(const float *x, int8_t *qs, int *sum)
{
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        amax = _mm256_max_ps(amax, abs_ps(v[k]));
    }
    const float d = hmax_ps_256(amax) / 127.0f;
    const __m256 id = _mm256_set1_ps(mvq_inverse_scale(d));
    __m256i q[4];
    for (int k = 0; k < 4; k++)
        q[k] = round_away_epi32(_mm256_mul_ps(v[k], id));
    _mm256_storeu_si256((__m256i *)qs, pack_epi32_to_epi8(q[0], q[1], q[2], q[3]));
    *sum = hsum_epi32_256(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
    return d;
}

/* Q8_K: scale -127/max where max is the first value of largest magnitude;
 * round to nearest even (the reference's nearest_int), capped at 127. */
static void quantize_block_q8_K(const float *x, mvq_block_q8_K *y)
{
    __m256 amax8 = _mm256_setzero_ps();
    for (int j = 0; j < MVQ_QK_K; j += 8)
        amax8 = _mm256_max_ps(amax8, abs_ps(_mm256_loadu_ps(x + j)));
    const float amax = hmax_ps_256(amax8);
    if (amax == 0.0f) {
        memset(y, 0, sizeof *y);
        return;
    }
    int first = 0;
    for (int j = 0; j < MVQ_QK_K; j += 8) {
        const __m256 hit = _mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + j)), _mm256_set1_ps(amax), _CMP_EQ_OQ);
        const int mask = _mm256_movemask_ps(hit);
        if (mask) {
            first = j + __builtin_ctz((unsigned)mask);
            break;
        }
    }
    const float iscale = -127.0f / x[first];
    const __m256 is = _mm256_set1_ps(iscale);
    const __m256i cap = _mm256_set1_epi32(127);
    for (int j = 0; j < MVQ_QK_K; j += 32) {
        __m256i q[4];
        for (int k = 0; k < 4; k++)
            q[k] = _mm256_min_epi32(cap, _mm256_cvtps_epi32(_mm256_mul_ps(is, _mm256_loadu_ps(x + j + 8 * k))));
        _mm256_storeu_si256((__m256i *)(y->qs + j), pack_epi32_to_epi8(q[0], q[1], q[2], q[3]));
        y->bsums[j / 16] = (int16_t)hsum_epi32_256(_mm256_add_epi32(q[0], q[1]));
        y->bsums[j / 16 + 1] = (int16_t)hsum_epi32_256(_mm256_add_epi32(q[2], q[3]));
    }
    y->d = 1.0f / iscale;
}

#define ACT_SEARCH_EVALS (&mvq_search_evals_avx2)
#include "kernels/act_rows.h"

void mvq_act_init_avx2(mvq_kernel_table *t)
{
    fill_act(t);
}
