# NEON kernels (armv8.2-a + dotprod), in their own convenience library with
# their own flags; one file per kernel family.
if HAVE_NEON
noinst_LTLIBRARIES += libmvq_neon.la
libmvq_neon_la_SOURCES = \
	kernels/arm/neon_impl.h \
	kernels/arm/init_neon.c \
	kernels/arm/act_neon.c \
	kernels/arm/convert_neon.c \
	kernels/arm/dequant_neon.c \
	kernels/arm/dot_neon.c \
	kernels/arm/dot_k_neon.c \
	kernels/arm/dot_iq4xs_neon.c \
	kernels/arm/quant_neon.c \
	kernels/arm/kquant_neon.c \
	kernels/arm/int8_neon.c
libmvq_neon_la_CPPFLAGS = $(LIB_CPPFLAGS)
libmvq_neon_la_CFLAGS = $(AM_CFLAGS) $(NEON_CFLAGS)
libmvq_core_la_LIBADD += libmvq_neon.la
endif
