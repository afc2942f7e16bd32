/* The W8A8 dot product, the specification of its SIMD versions. */
#include "config.h"
#include "kernels/ref.h"

int32_t mvq_i8_dot_ref(int64_t n, const int8_t *x, const int8_t *w, int32_t w_sum)
{
    (void)w_sum;
    int32_t s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (int32_t)x[i] * w[i];
    return s;
}
