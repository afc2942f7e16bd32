/* The leftover blocks of the SIMD dot products, run by the scalar reference:
 * written once here rather than in every kernel. */
#include "config.h"
#include "kernels/x86/x86_impl.h"

float mvq_x86_dot_tail(mvq_type t, int64_t from, int64_t nb, const void *x, const void *y)
{
    if (from >= nb)
        return 0.0f;
    const mvq_type_traits *tx = mvq_type_traits_get(t);
    const mvq_type_traits *ty = mvq_type_traits_get(tx->vec_dot_type);
    const mvq_kernel_table *ref = mvq_kernels_for_isa(MVQ_ISA_SCALAR);
    float s = 0.0f;
    ref->vec_dot[t]((nb - from) * tx->block_size, &s, (const char *)x + from * tx->type_size,
                    (const char *)y + from * ty->type_size);
    return s;
}
