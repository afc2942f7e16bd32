/* W8A8 dot product, NEON: sdot (signed by signed bytes into int32), exact. */
#include "config.h"
#include "kernels/arm/neon_impl.h"

#include <arm_neon.h>

static int32_t i8_dot_neon(int64_t n, const int8_t *x, const int8_t *w, int32_t w_sum)
{
    int32x4_t acc0 = vdupq_n_s32(0), acc1 = acc0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = vdotq_s32(acc0, vld1q_s8(x + i), vld1q_s8(w + i));
        acc1 = vdotq_s32(acc1, vld1q_s8(x + i + 16), vld1q_s8(w + i + 16));
    }
    (void)w_sum;
    return vaddvq_s32(vaddq_s32(acc0, acc1)) + mvq_i8_dot_ref(n - i, x + i, w + i, 0);
}

void mvq_int8_init_neon(mvq_kernel_table *t)
{
    t->i8_dot = i8_dot_neon;
}
