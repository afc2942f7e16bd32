/* Internal to kernels/: how the per-instruction-set tables are filled.
 *
 * libwebp-style: the scalar reference fills every entry first, then the
 * selected instruction set's init overrides the entries it implements.
 * Each init below lives in its own convenience library built with its own
 * -m flags (kernels/x86/, kernels/arm/); only the file that defines it
 * includes intrinsics. */
#ifndef MVQ_KERNEL_IMPL_H
#define MVQ_KERNEL_IMPL_H

#include <mvquant/kernels.h>

/* kernels/ : the portable reference (the specification).
 * init_scalar fills the plain types, legacy quants, activation types and all
 * dot products, then calls kquants_init_ref for the K-quants' quantizers. */
void mvq_kernels_init_scalar(mvq_kernel_table *t);
void mvq_kquants_init_ref(mvq_kernel_table *t);

/* kernels/x86/ and kernels/arm/: each calls its families' inits. */
void mvq_kernels_init_avx2(mvq_kernel_table *t);
void mvq_kernels_init_avx512(mvq_kernel_table *t);
void mvq_kernels_init_neon(mvq_kernel_table *t);

#endif
