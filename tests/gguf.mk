# GGUF reader and writer tests: Criterion suites, and a plain TAP program
# that also runs under qemu-aarch64 in the cross build.
GGUF_TESTLIB = tests/gguf_testlib.h tests/gguf_testlib.c

check_PROGRAMS += tests/gguf_roundtrip_plain
TESTS += tests/gguf_roundtrip_plain
tests_gguf_roundtrip_plain_SOURCES = tests/gguf_roundtrip_plain.c $(GGUF_TESTLIB)
tests_gguf_roundtrip_plain_CPPFLAGS = $(TEST_CPPFLAGS)
tests_gguf_roundtrip_plain_LDADD = $(TEST_LIBS)

if HAVE_CRITERION
GGUF_CRITERION_TESTS = tests/test_gguf_malformed tests/test_gguf_roundtrip tests/test_gguf_fixture
check_PROGRAMS += $(GGUF_CRITERION_TESTS)
TESTS += $(GGUF_CRITERION_TESTS)

tests_test_gguf_malformed_SOURCES = tests/test_gguf_malformed.c $(GGUF_TESTLIB)
tests_test_gguf_malformed_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_gguf_malformed_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_gguf_malformed_LDADD = $(TEST_LIBS) $(CRITERION_LIBS)

tests_test_gguf_roundtrip_SOURCES = tests/test_gguf_roundtrip.c $(GGUF_TESTLIB)
tests_test_gguf_roundtrip_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_gguf_roundtrip_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_gguf_roundtrip_LDADD = $(TEST_LIBS) $(CRITERION_LIBS)

tests_test_gguf_fixture_SOURCES = tests/test_gguf_fixture.c $(GGUF_TESTLIB)
tests_test_gguf_fixture_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_gguf_fixture_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_gguf_fixture_LDADD = $(TEST_LIBS) $(CRITERION_LIBS)
endif
