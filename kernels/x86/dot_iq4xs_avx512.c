/* AVX-512 (VNNI) dot product of IQ4_XS with Q8_K, two sub-blocks of 32 per
 * 512-bit vector.  The levels are read as unsigned bytes u = level + 128, so
 * VNNI's unsigned-by-signed multiply-add applies (int32, no saturation);
 * each sub-block's sums are multiplied by its scale, and the offset,
 * 128 * scale * (sum of its activations), comes once per super-block from
 * Q8_K's bsums.  Then the reference's float operations in its order, so the
 * result is bit-exact with the scalar table. */
#include "config.h"
#include "kernels/x86/simd_avx512.h"

/* u of sub-block j: its levels by a byte shuffle, plus 128 */
MVQ_INLINE __m256i u_sub(const mvq_block_iq4_xs *b, int j, __m256i levels)
{
    const __m256i q = _mm256_shuffle_epi8(levels, nibbles_to_bytes_32(b->qs + 16 * j));
    return _mm256_xor_si256(q, _mm256_set1_epi8((char)0x80));
}

static void vec_dot_iq4_xs_q8_K_avx512(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_iq4_xs *x = vx;
    const mvq_block_q8_K *y = vy;
    const __m256i levels = iq4nl_levels_256();
    float sum = 0.0f;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        int sc[8];
        mvq_iq4_xs_scales(&x[i], sc);
        __m512i acc = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) {
            const __m512i u = join_256(u_sub(&x[i], 2 * v, levels), u_sub(&x[i], 2 * v + 1, levels));
            const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, load_512(y[i].qs + 64 * v));
            const __m512i scale = join_256(_mm256_set1_epi32(sc[2 * v]), _mm256_set1_epi32(sc[2 * v + 1]));
            acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(p, scale));
        }
        /* bsums 2j and 2j + 1 are sub-block j's */
        const __m256i sc16 = _mm256_setr_epi16((short)sc[0], (short)sc[0], (short)sc[1], (short)sc[1], (short)sc[2],
                                               (short)sc[2], (short)sc[3], (short)sc[3], (short)sc[4], (short)sc[4],
                                               (short)sc[5], (short)sc[5], (short)sc[6], (short)sc[6], (short)sc[7],
                                               (short)sc[7]);
        const int offset = hsum_epi32_256(_mm256_madd_epi16(load_256(y[i].bsums), sc16));
        const int isum = hsum_epi32_256(add_halves_epi32(acc)) - 128 * offset;
        sum += half_to_float(x[i].d) * y[i].d * (float)isum;
    }
    *s = sum;
}

void MVQ_X86_FN(mvq_dot_iq4xs_init_avx512)(mvq_kernel_table *t)
{
    t->vec_dot[MVQ_TYPE_IQ4_XS] = vec_dot_iq4_xs_q8_K_avx512;
}
