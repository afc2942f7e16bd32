/* AVX-512 quantization of activations to Q8_0, Q8_1 and Q8_K, bit-exact with
 * the scalar reference (same float operations per value, same rounding):
 * 16 values a vector, saturating narrow straight to bytes. */
#include "config.h"
#include "kernels/ref.h"
#include "kernels/search_eval.h"
#include "kernels/x86/simd_avx512.h"

/* roundf(): halves away from zero.  |v| - trunc(|v|) is exact in float. */
MVQ_INLINE __m512i round_away_epi32(__m512 v)
{
    const __m512 a = _mm512_abs_ps(v);
    /* truncate (imm 3; without NO_EXC, which SIMDe 0.7 misreads as fraction bits) */
    const __m512 t = _mm512_roundscale_ps(a, _MM_FROUND_TO_ZERO);
    const __mmask16 up = _mm512_cmp_ps_mask(_mm512_sub_ps(a, t), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512i r = _mm512_castps_si512(_mm512_mask_add_ps(t, up, t, _mm512_set1_ps(1.0f)));
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32((int)0x80000000u));
    return _mm512_cvttps_epi32(_mm512_castsi512_ps(_mm512_or_si512(r, sign)));
}

/* One block of 32: quantizes with scale amax/127 into qs; returns d and the sum of qs. */
MVQ_INLINE float quantize_block32(const float *x, int8_t *qs, int *sum)
{
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float d = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1))) / 127.0f;
    const __m512 id = _mm512_set1_ps(mvq_inverse_scale(d));
    const __m512i q0 = round_away_epi32(_mm512_mul_ps(v0, id)), q1 = round_away_epi32(_mm512_mul_ps(v1, id));
    _mm_storeu_si128((__m128i *)qs, _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128((__m128i *)(qs + 16), _mm512_cvtsepi32_epi8(q1));
    *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    return d;
}

/* Q8_K: scale -127/max where max is the first value of largest magnitude;
 * round to nearest even (the reference's nearest_int), capped at 127. */
static void quantize_block_q8_K(const float *x, mvq_block_q8_K *y)
{
    __m512 amax16 = _mm512_setzero_ps();
    for (int j = 0; j < MVQ_QK_K; j += 16)
        amax16 = _mm512_max_ps(amax16, _mm512_abs_ps(_mm512_loadu_ps(x + j)));
    const float amax = _mm512_reduce_max_ps(amax16);
    if (amax == 0.0f) {
        memset(y, 0, sizeof *y);
        return;
    }
    int first = 0;
    for (int j = 0; j < MVQ_QK_K; j += 16) {
        const __mmask16 hit =
            _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + j)), _mm512_set1_ps(amax), _CMP_EQ_OQ);
        if (hit) {
            first = j + __builtin_ctz((unsigned)hit);
            break;
        }
    }
    const float iscale = -127.0f / x[first];
    const __m512 is = _mm512_set1_ps(iscale);
    for (int j = 0; j < MVQ_QK_K; j += 16) {
        const __m512i q = _mm512_min_epi32(_mm512_set1_epi32(127), _mm512_cvtps_epi32(_mm512_mul_ps(is, _mm512_loadu_ps(x + j))));
        _mm_storeu_si128((__m128i *)(y->qs + j), _mm512_cvtsepi32_epi8(q));
        y->bsums[j / 16] = (int16_t)_mm512_reduce_add_epi32(q);
    }
    y->d = 1.0f / iscale;
}

#define ACT_SEARCH_EVALS (&MVQ_X86_FN(mvq_search_evals_avx512))
#include "kernels/act_rows.h"

void MVQ_X86_FN(mvq_act_init_avx512)(mvq_kernel_table *t)
{
    fill_act(t);
}
