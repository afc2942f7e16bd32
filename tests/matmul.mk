# Thread pool and matrix product (Criterion).
if HAVE_CRITERION
check_PROGRAMS += tests/test_matmul
TESTS += tests/test_matmul
tests_test_matmul_SOURCES = tests/test_matmul.c
tests_test_matmul_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_matmul_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_matmul_LDADD = $(TEST_LIBS) $(CRITERION_LIBS) -lm
endif
