/* IQ4_XS reference kernels: unpacking, dequantization and the dot product
 * with Q8_K.  Dequantization is ggml's float for float, (d * l) * level; the
 * dot product is an exact integer sum of l * (levels . activation) per
 * super-block, then d_x * d_y * isum in float, accumulated in block order. */
#include "config.h"

#include "kernels/iq4xs.h"
#include "kernels/ref.h"

void mvq_unpack_iq4_xs(const mvq_block_iq4_xs *b, int8_t q[256])
{
    for (int j = 0; j < 8; j++)
        for (int l = 0; l < 16; l++) {
            const uint8_t byte = b->qs[16 * j + l];
            q[32 * j + l] = mvq_kvalues_iq4nl[byte & 0xF];
            q[32 * j + 16 + l] = mvq_kvalues_iq4nl[byte >> 4];
        }
}

void mvq_dequantize_row_iq4_xs_ref(const void *vx, float *y, int64_t n)
{
    const mvq_block_iq4_xs *x = vx;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++, y += MVQ_QK_K) {
        int8_t q[256];
        mvq_unpack_iq4_xs(&x[i], q);
        const float d = mvq_fp16_to_fp32(x[i].d);
        for (int j = 0; j < 8; j++) {
            const float dl = d * (float)mvq_iq4_xs_scale(&x[i], j);
            for (int l = 0; l < 32; l++)
                y[32 * j + l] = dl * (float)q[32 * j + l];
        }
    }
}

void mvq_vec_dot_iq4_xs_q8_K_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_iq4_xs *x = vx;
    const mvq_block_q8_K *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        int8_t q[256];
        mvq_unpack_iq4_xs(&x[i], q);
        int isum = 0;
        for (int j = 0; j < 8; j++) {
            int dot = 0;
            for (int l = 0; l < 32; l++)
                dot += q[32 * j + l] * y[i].qs[32 * j + l];
            isum += mvq_iq4_xs_scale(&x[i], j) * dot;
        }
        sum += mvq_fp16_to_fp32(x[i].d) * y[i].d * (float)isum;
    }
    *s = sum;
}
