/* AVX-512 dequantization: 16 floats a store (the unpacking is in dequant_x86.h). */
#include "config.h"
#include "kernels/x86/simd_x86.h"

enum dq_op { DQ_MUL, DQ_MUL_ADD, DQ_MUL_SUB };

MVQ_INLINE void put16(float *y, __m128i q, float d, float m, enum dq_op op)
{
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), _mm512_set1_ps(d));
    if (op == DQ_MUL_ADD)
        v = _mm512_add_ps(v, _mm512_set1_ps(m));
    if (op == DQ_MUL_SUB)
        v = _mm512_sub_ps(v, _mm512_set1_ps(m));
    _mm512_storeu_ps(y, v);
}

#include "kernels/x86/dequant_x86.h"

void MVQ_X86_FN(mvq_dequant_init_avx512)(mvq_kernel_table *t)
{
    fill_dequant(t);
}
