/* AVX2 dot product of IQ4_XS with Q8_K.  Per sub-block of 32: the levels by
 * a byte shuffle of the nibbles, signed-by-signed products summed in int16
 * pairs, times the sub-block's scale into int32 (madd).  Per super-block the
 * exact integer sum, then the reference's float operations in its order, so
 * the result is bit-exact with the scalar table. */
#include "config.h"
#include "kernels/x86/simd_x86.h"

static void vec_dot_iq4_xs_q8_K_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_iq4_xs *x = vx;
    const mvq_block_q8_K *y = vy;
    const __m256i levels = iq4nl_levels_256();
    float sum = 0.0f;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        __m256i acc = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            const __m256i q = _mm256_shuffle_epi8(levels, nibbles_to_bytes_32(x[i].qs + 16 * j));
            const __m256i a = load_256(y[i].qs + 32 * j);
            const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q));
            const __m256i scale = _mm256_set1_epi16((short)mvq_iq4_xs_scale(&x[i], j));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, scale));
        }
        sum += half_to_float(x[i].d) * y[i].d * (float)hsum_epi32_256(acc);
    }
    *s = sum;
}

void mvq_dot_iq4xs_init_avx2(mvq_kernel_table *t)
{
    t->vec_dot[MVQ_TYPE_IQ4_XS] = vec_dot_iq4_xs_q8_K_avx2;
}
