/* W8A8 dot product, AVX2: both operands sign-extended to int16 and
 * multiplied pairwise into int32 (vpmaddwd), exact; vpmaddubsw would
 * saturate at 255 * 127 * 2. */
#include "config.h"
#include "kernels/x86/simd_x86.h"

static int32_t i8_dot_avx2(int64_t n, const int8_t *x, const int8_t *w, int32_t w_sum)
{
    __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256i x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x + i)));
        const __m256i x1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x + i + 16)));
        const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + i)));
        const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + i + 16)));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x0, w0));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(x1, w1));
    }
    (void)w_sum;
    return hsum_epi32_256(_mm256_add_epi32(acc0, acc1)) + mvq_i8_dot_ref(n - i, x + i, w + i, 0);
}

void mvq_int8_init_avx2(mvq_kernel_table *t)
{
    t->i8_dot = i8_dot_avx2;
}
