/* Fills the avx512 entries of a kernel table (placeholder until the kernels land). */
#include "config.h"
#include "kernels/kernel_impl.h"

void mvq_kernels_init_avx512(mvq_kernel_table *t)
{
    t->isa = "avx512";
}
