# Criterion tests (TAP through CRITERION_OUTPUTS=tap:-) and plain TAP tests
# that also run under qemu-user (built even without Criterion).
TEST_CPPFLAGS = $(AM_CPPFLAGS) -include config.h
TEST_LIBS = libmvq_core.la $(XXHASH_LIBS) $(ONEDNN_LIBS)

if HAVE_CRITERION
CRITERION_TESTS = tests/test_common
check_PROGRAMS += $(CRITERION_TESTS)
TESTS += $(CRITERION_TESTS)
tests_test_common_SOURCES = tests/test_common.c
tests_test_common_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_common_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_common_LDADD = $(TEST_LIBS) $(CRITERION_LIBS)
endif
