/* Fills the AVX2 (+FMA, F16C) entries of a kernel table. */
#include "config.h"
#include "kernels/x86/x86_impl.h"

void mvq_kernels_init_avx2(mvq_kernel_table *t)
{
    t->isa = "avx2";
    mvq_act_init_avx2(t);
    mvq_dequant_init_avx2(t);
    mvq_dot_init_avx2(t);
    mvq_dot_iq4xs_init_avx2(t);
    mvq_dot_tq2_0_init_avx2(t);
    mvq_quant_init_avx2(t);
    mvq_kquant_init_avx2(t);
    mvq_int8_init_avx2(t);
    mvq_gemm_q_init_avx2(t);
    mvq_gemm_half_init_avx2(t);
}
