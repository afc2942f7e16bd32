# K-quant reference kernels against ggml's goldens (Criterion).
if HAVE_CRITERION
check_PROGRAMS += tests/test_kquants
TESTS += tests/test_kquants
tests_test_kquants_SOURCES = tests/test_kquants.c tests/golden.c tests/golden.h
tests_test_kquants_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_kquants_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_kquants_LDADD = $(TEST_LIBS) $(CRITERION_LIBS)
endif
