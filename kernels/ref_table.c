/* Fills the scalar reference table (placeholder until the reference kernels land). */
#include "config.h"
#include "kernels/kernel_impl.h"

void mvq_kernels_init_scalar(mvq_kernel_table *t)
{
    mvq_kquants_init_ref(t);
}
