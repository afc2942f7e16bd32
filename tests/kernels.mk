# Reference kernels: ggml goldens (plain TAP, also under qemu-aarch64) and
# edge cases (Criterion).  tests/golden.c is the reader other tests reuse.
EXTRA_DIST += tests/golden.h
check_PROGRAMS += tests/golden_ggml
TESTS += tests/golden_ggml
tests_golden_ggml_SOURCES = tests/golden_ggml.c tests/golden.c tests/golden.h
tests_golden_ggml_CPPFLAGS = $(TEST_CPPFLAGS)
tests_golden_ggml_LDADD = $(TEST_LIBS)
check_PROGRAMS += tests/test_int8
TESTS += tests/test_int8
tests_test_int8_SOURCES = tests/test_int8.c tests/rng.h tests/tap.h
tests_test_int8_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_int8_LDADD = $(TEST_LIBS) -lm

if HAVE_CRITERION
check_PROGRAMS += tests/test_kernels_ref
TESTS += tests/test_kernels_ref
tests_test_kernels_ref_SOURCES = tests/test_kernels_ref.c
tests_test_kernels_ref_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_kernels_ref_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_kernels_ref_LDADD = $(CRITERION_TEST_LIBS)
endif
