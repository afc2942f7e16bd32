/* Fills the AVX-512 (F, BW, VL, VNNI) entries of a kernel table; dispatch
 * starts it from the AVX2 table, so what is not here stays AVX2's.  Built a
 * second time over SIMDe for the tests (mvq_kernels_init_avx512_simde). */
#include "config.h"
#include "kernels/cpu.h"
#include "kernels/x86/simd_x86.h"

void MVQ_X86_FN(mvq_kernels_init_avx512)(mvq_kernel_table *t)
{
    t->isa = "avx512";
    MVQ_X86_FN(mvq_act_init_avx512)(t);
    MVQ_X86_FN(mvq_dequant_init_avx512)(t);
    MVQ_X86_FN(mvq_dot_init_avx512)(t);
    MVQ_X86_FN(mvq_dot_iq4xs_init_avx512)(t);
    MVQ_X86_FN(mvq_quant_init_avx512)(t);
    MVQ_X86_FN(mvq_kquant_init_avx512)(t);
    MVQ_X86_FN(mvq_int8_init_avx512)(t);
    MVQ_X86_FN(mvq_gemm_q_init_avx512)(t);
    MVQ_X86_FN(mvq_gemm_half_init_avx512)(t);
#if defined(MVQ_USE_SIMDE)
    mvq_gemm_bf16_init_avx512_simde(t); /* emulated: on any CPU */
#elif defined(MVQ_HAVE_AVX512_BF16)
    if (mvq_cpu()->avx512bf16)
        mvq_gemm_bf16_init_avx512(t);
#endif
}
