# One convenience library per instruction set, each with its own flags.
if HAVE_AVX2
noinst_LTLIBRARIES += libmvq_avx2.la
libmvq_avx2_la_SOURCES = kernels/x86/init_avx2.c
libmvq_avx2_la_CPPFLAGS = $(LIB_CPPFLAGS)
libmvq_avx2_la_CFLAGS = $(AM_CFLAGS) $(AVX2_CFLAGS)
libmvq_core_la_LIBADD += libmvq_avx2.la
endif
if HAVE_AVX512
noinst_LTLIBRARIES += libmvq_avx512.la
libmvq_avx512_la_SOURCES = kernels/x86/init_avx512.c
libmvq_avx512_la_CPPFLAGS = $(LIB_CPPFLAGS)
libmvq_avx512_la_CFLAGS = $(AM_CFLAGS) $(AVX512_CFLAGS)
libmvq_core_la_LIBADD += libmvq_avx512.la
endif
