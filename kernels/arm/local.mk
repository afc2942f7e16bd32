if HAVE_NEON
noinst_LTLIBRARIES += libmvq_neon.la
libmvq_neon_la_SOURCES = kernels/arm/init_neon.c
libmvq_neon_la_CPPFLAGS = $(LIB_CPPFLAGS)
libmvq_neon_la_CFLAGS = $(AM_CFLAGS) $(NEON_CFLAGS)
libmvq_core_la_LIBADD += libmvq_neon.la
endif
