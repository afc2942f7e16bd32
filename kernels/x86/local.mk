# One convenience library per instruction set, each with its own flags.
# The leftover blocks of the SIMD dot products run the portable reference.
libmvq_core_la_SOURCES += kernels/x86/dot_tail.c kernels/x86/x86_impl.h

X86_AVX2_SOURCES = \
	kernels/x86/simd_x86.h \
	kernels/x86/gemm_tiles_x86.h \
	kernels/x86/kscales_avx2.h \
	kernels/x86/kquant_sym16_x86.h \
	kernels/x86/act_avx2.c \
	kernels/x86/dequant_avx2.c \
	kernels/x86/dequant_x86.h \
	kernels/x86/dot_avx2.c \
	kernels/x86/dot_kquants_avx2.c \
	kernels/x86/dot_iq4xs_avx2.c \
	kernels/x86/dot_tq2_0_avx2.c \
	kernels/x86/quant_avx2.c \
	kernels/x86/kquant_avx2.c \
	kernels/x86/int8_avx2.c \
	kernels/x86/gemm_q_avx2.c \
	kernels/x86/gemm_half_avx2.c \
	kernels/x86/init_avx2.c
X86_AVX512_SOURCES = \
	kernels/x86/simd_x86.h \
	kernels/x86/gemm_tiles_x86.h \
	kernels/x86/simd_avx512.h \
	kernels/x86/simde_shims.h \
	kernels/x86/dequant_x86.h \
	kernels/x86/act_avx512.c \
	kernels/x86/dequant_avx512.c \
	kernels/x86/dot_avx512.c \
	kernels/x86/dot_kquants_avx512.c \
	kernels/x86/dot_iq4xs_avx512.c \
	kernels/x86/quant_avx512.c \
	kernels/x86/kquant_avx512.c \
	kernels/x86/int8_avx512.c \
	kernels/x86/gemm_q_avx512.c \
	kernels/x86/gemm_half_avx512.c \
	kernels/x86/init_avx512.c
# AVX-512 BF16 (vdpbf16ps): a CPU feature beyond the AVX-512 set's, its own flags
X86_AVX512_BF16_SOURCES = kernels/x86/gemm_bf16_avx512.c

if HAVE_AVX2
noinst_LTLIBRARIES += libmvq_avx2.la
libmvq_avx2_la_SOURCES = $(X86_AVX2_SOURCES)
libmvq_avx2_la_CPPFLAGS = $(LIB_CPPFLAGS)
libmvq_avx2_la_CFLAGS = $(AM_CFLAGS) $(AVX2_CFLAGS)
libmvq_core_la_LIBADD += libmvq_avx2.la
endif
if HAVE_AVX512
noinst_LTLIBRARIES += libmvq_avx512.la
libmvq_avx512_la_SOURCES = $(X86_AVX512_SOURCES)
libmvq_avx512_la_CPPFLAGS = $(LIB_CPPFLAGS)
libmvq_avx512_la_CFLAGS = $(AM_CFLAGS) $(AVX512_CFLAGS)
libmvq_core_la_LIBADD += libmvq_avx512.la
endif
if HAVE_AVX512_BF16
noinst_LTLIBRARIES += libmvq_avx512_bf16.la
libmvq_avx512_bf16_la_SOURCES = $(X86_AVX512_BF16_SOURCES)
libmvq_avx512_bf16_la_CPPFLAGS = $(LIB_CPPFLAGS)
libmvq_avx512_bf16_la_CFLAGS = $(AM_CFLAGS) $(AVX512_BF16_CFLAGS)
libmvq_core_la_LIBADD += libmvq_avx512_bf16.la
endif
# The AVX-512 sources again over SIMDe's portable emulation, for the tests
# on CPUs without AVX-512 (symbols renamed *_simde; no -m flags).
if HAVE_SIMDE
noinst_LTLIBRARIES += libmvq_avx512_simde.la
libmvq_avx512_simde_la_SOURCES = $(X86_AVX512_SOURCES) $(X86_AVX512_BF16_SOURCES)
libmvq_avx512_simde_la_CPPFLAGS = $(LIB_CPPFLAGS) -DMVQ_USE_SIMDE
libmvq_avx512_simde_la_CFLAGS = $(AM_CFLAGS) $(SIMDE_CFLAGS)
endif
