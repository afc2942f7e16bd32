/* Fills the NEON (armv8.2-a + dotprod) entries of a kernel table; the
 * entries it leaves alone keep the scalar reference. */
#include "config.h"
#include "kernels/arm/neon_impl.h"

void mvq_kernels_init_neon(mvq_kernel_table *t)
{
    t->isa = "neon";
    mvq_act_init_neon(t);
    mvq_convert_init_neon(t);
    mvq_dequant_init_neon(t);
    mvq_dot_init_neon(t);
    mvq_dot_k_init_neon(t);
    mvq_dot_iq4xs_init_neon(t);
    mvq_quant_init_neon(t);
    mvq_kquant_init_neon(t);
    mvq_int8_init_neon(t);
}
