/* AVX2 dot product of TQ2_0 with Q8_K.  Each 2-bit field of a 32-byte half
 * is one run of 32 consecutive weights, so a shift and a mask give their
 * codes (level + 1, 0..2) as unsigned bytes against 32 activations
 * (maddubs, no saturation: 2 * 2 * 127); the level's -1 comes back as the
 * activations' sum from Q8_K's bsums.  The integer sum is exact, then the
 * reference's float operations in its order: bit-exact with the scalar
 * table. */
#include "config.h"
#include "kernels/x86/simd_x86.h"

static void vec_dot_tq2_0_q8_K_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_tq2_0 *x = vx;
    const mvq_block_q8_K *y = vy;
    const __m256i mask = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        __m256i acc = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i v = load_256(x[i].qs + 32 * h);
#pragma GCC unroll 4
            for (int l = 0; l < 4; l++) {
                const __m256i codes = _mm256_and_si256(_mm256_srli_epi16(v, 2 * l), mask);
                const __m256i a = load_256(y[i].qs + 128 * h + 32 * l);
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(codes, a), ones));
            }
        }
        int bsum = 0;
        for (int j = 0; j < MVQ_QK_K / 16; j++)
            bsum += y[i].bsums[j];
        const int isum = hsum_epi32_256(acc) - bsum;
        sum += (float)isum * (y[i].d * half_to_float(x[i].d));
    }
    *s = sum;
}

void mvq_dot_tq2_0_init_avx2(mvq_kernel_table *t)
{
    t->vec_dot[MVQ_TYPE_TQ2_0] = vec_dot_tq2_0_q8_K_avx2;
}
