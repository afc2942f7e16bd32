# Tests print TAP: Criterion tests through CRITERION_OUTPUTS=tap:-, plain
# tests (tests/tap.h) by hand.  Plain tests also run under qemu-user in the
# cross build, where Criterion is not available.  Each part adds its tests
# in its own fragment (tests/*.mk) following this pattern.
TEST_CPPFLAGS = $(AM_CPPFLAGS) -include config.h
TEST_LIBS = libmvq_core.la $(XXHASH_LIBS) $(ONEDNN_LIBS)
CRITERION_TEST_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
CRITERION_TEST_LIBS = $(TEST_LIBS) $(CRITERION_LIBS)
EXTRA_DIST += tests/tap.h tests/fixtures.h

if HAVE_CRITERION
check_PROGRAMS += tests/test_common tests/test_types
TESTS += tests/test_common tests/test_types
tests_test_common_SOURCES = tests/test_common.c
tests_test_common_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_common_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_common_LDADD = $(CRITERION_TEST_LIBS)
tests_test_types_SOURCES = tests/test_types.c
tests_test_types_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_types_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_types_LDADD = $(CRITERION_TEST_LIBS)
endif
