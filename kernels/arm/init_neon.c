/* Fills the neon entries of a kernel table (placeholder until the kernels land). */
#include "config.h"
#include "kernels/kernel_impl.h"

void mvq_kernels_init_neon(mvq_kernel_table *t)
{
    t->isa = "neon";
}
