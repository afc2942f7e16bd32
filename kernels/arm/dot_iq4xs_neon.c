/* NEON dot product of IQ4_XS with Q8_K.  Per sub-block of 32: the levels by
 * a table lookup of the nibbles, their integer dot with the activation
 * (vdotq_s32), times the sub-block's scale; per super-block the exact
 * integer sum, then the reference's float operations in its order, so the
 * result is bit-exact with the scalar table. */
#include "config.h"
#include "kernels/arm/neon_impl.h"

static void vec_dot_iq4_xs_q8_K_neon(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_iq4_xs *x = vx;
    const mvq_block_q8_K *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        int32x4_t acc = vdupq_n_s32(0);
        for (int j = 0; j < 8; j++)
            acc = vmlaq_n_s32(acc, neon_dot32(neon_iq4_levels(x[i].qs + 16 * j), y[i].qs + 32 * j),
                              mvq_iq4_xs_scale(&x[i], j));
        sum += neon_half(x[i].d) * y[i].d * (float)vaddvq_s32(acc);
    }
    *s = sum;
}

void mvq_dot_iq4xs_init_neon(mvq_kernel_table *t)
{
    t->vec_dot[MVQ_TYPE_IQ4_XS] = vec_dot_iq4_xs_q8_K_neon;
}
