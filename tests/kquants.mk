# K-quant reference kernels against ggml's goldens (Criterion).
if HAVE_CRITERION
check_PROGRAMS += tests/test_kquants
TESTS += tests/test_kquants
tests_test_kquants_SOURCES = tests/test_kquants.c tests/golden.c tests/golden.h
tests_test_kquants_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_kquants_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_kquants_LDADD = $(TEST_LIBS) $(CRITERION_LIBS)
endif

# TQ2_0 (ternary) reference kernels (Criterion).
if HAVE_CRITERION
check_PROGRAMS += tests/test_tq2_0
TESTS += tests/test_tq2_0
tests_test_tq2_0_SOURCES = tests/test_tq2_0.c
tests_test_tq2_0_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_tq2_0_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_tq2_0_LDADD = $(TEST_LIBS) $(CRITERION_LIBS) -lm
endif
