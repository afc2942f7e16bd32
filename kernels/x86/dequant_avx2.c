/* AVX2 dequantization: 8 floats a store (the unpacking is in dequant_x86.h). */
#include "config.h"
#include "kernels/x86/simd_x86.h"

enum dq_op { DQ_MUL, DQ_MUL_ADD, DQ_MUL_SUB };

MVQ_INLINE void put16(float *y, __m128i q, float d, float m, enum dq_op op)
{
    const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
    for (int k = 0; k < 2; k++) {
        __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(k ? _mm_srli_si128(q, 8) : q)), vd);
        if (op == DQ_MUL_ADD)
            v = _mm256_add_ps(v, vm);
        if (op == DQ_MUL_SUB)
            v = _mm256_sub_ps(v, vm);
        _mm256_storeu_ps(y + 8 * k, v);
    }
}

#include "kernels/x86/dequant_x86.h"

void mvq_dequant_init_avx2(mvq_kernel_table *t)
{
    fill_dequant(t);
}
