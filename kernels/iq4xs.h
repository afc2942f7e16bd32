/* Internal to kernels/: IQ4_XS, ggml's 4.25 bpw i-quant.  A super-block of
 * 256 weights has an fp16 scale d and 8 sub-blocks of 32, each with a 6-bit
 * signed scale l in -32..31 and 4-bit indices into IQ4_NL's 16 levels:
 *   y = (d * l) * kvalues_iq4nl[index]
 * The layout is in include/mvquant/types.h (mvq_block_iq4_xs). */
#ifndef MVQ_KERNELS_IQ4XS_H
#define MVQ_KERNELS_IQ4XS_H

#include <stdint.h>
#include <mvquant/types.h>

/* The signed scale of sub-block j (0..7): low nibble j%2 of scales_l[j/2],
 * high 2 bits at bits 2j of scales_h, minus 32. */
static inline int mvq_iq4_xs_scale(const mvq_block_iq4_xs *b, int j)
{
    const int lo = (b->scales_l[j / 2] >> (4 * (j % 2))) & 0xF;
    const int hi = (b->scales_h >> (2 * j)) & 3;
    return (lo | (hi << 4)) - 32;
}

/* The 8 scales at once. */
static inline void mvq_iq4_xs_scales(const mvq_block_iq4_xs *b, int sc[8])
{
    for (int j = 0; j < 8; j++)
        sc[j] = mvq_iq4_xs_scale(b, j);
}

/* One super-block to its 256 levels (before the sub-block scales). */
void mvq_unpack_iq4_xs(const mvq_block_iq4_xs *b, int8_t q[256]);

void mvq_dequantize_row_iq4_xs_ref(const void *x, float *y, int64_t n);
/* imatrix: NULL, or n importance weights (one per column) */
void mvq_quantize_row_iq4_xs_ref(const float *x, void *y, int64_t n, const float *imatrix);
void mvq_vec_dot_iq4_xs_q8_K_ref(int64_t n, float *s, const void *x, const void *y);

#endif
