/* W8A8 dot product, AVX-512 VNNI: vpdpbusd multiplies unsigned by signed
 * bytes, so x goes in as x + 128 (x ^ 0x80) and 128 * sum(w) comes off:
 * exact in int32 (wrapping arithmetic, a true result in range). */
#include "config.h"
#include "kernels/x86/simd_x86.h"

static int32_t MVQ_X86_FN(i8_dot_vnni)(int64_t n, const int8_t *x, const int8_t *w, int32_t w_sum)
{
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    __m512i acc0 = _mm512_setzero_si512(), acc1 = acc0;
    int64_t i = 0;
    int32_t w_done = 0; /* sum of the weights the vector loop covered */
    for (; i + 128 <= n; i += 128) {
        const __m512i x0 = _mm512_xor_si512(_mm512_loadu_si512((const void *)(x + i)), bias);
        const __m512i x1 = _mm512_xor_si512(_mm512_loadu_si512((const void *)(x + i + 64)), bias);
        acc0 = _mm512_dpbusd_epi32(acc0, x0, _mm512_loadu_si512((const void *)(w + i)));
        acc1 = _mm512_dpbusd_epi32(acc1, x1, _mm512_loadu_si512((const void *)(w + i + 64)));
    }
    for (; i + 64 <= n; i += 64) {
        const __m512i x0 = _mm512_xor_si512(_mm512_loadu_si512((const void *)(x + i)), bias);
        acc0 = _mm512_dpbusd_epi32(acc0, x0, _mm512_loadu_si512((const void *)(w + i)));
    }
    /* the weights of the tail are not in acc: take them off w_sum */
    for (int64_t j = i; j < n; j++)
        w_done -= w[j];
    w_done += w_sum;
    const uint32_t v = (uint32_t)_mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1)) - 128u * (uint32_t)w_done;
    return (int32_t)(v + (uint32_t)mvq_i8_dot_ref(n - i, x + i, w + i, 0));
}

void MVQ_X86_FN(mvq_int8_init_avx512)(mvq_kernel_table *t)
{
    t->i8_dot = MVQ_X86_FN(i8_dot_vnni);
}
