# Tokenizer and synthetic-model tests (Criterion).
if HAVE_CRITERION
check_PROGRAMS += tests/test_tokenizer tests/test_synth
TESTS += tests/test_tokenizer tests/test_synth
tests_test_tokenizer_SOURCES = tests/test_tokenizer.c
tests_test_tokenizer_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_tokenizer_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_tokenizer_LDADD = $(TEST_LIBS) $(CRITERION_LIBS)
tests_test_synth_SOURCES = tests/test_synth.c
tests_test_synth_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_synth_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(XXHASH_CFLAGS)
tests_test_synth_LDADD = $(TEST_LIBS) $(CRITERION_LIBS)
endif

TESTS += tests/synth_cli.sh
EXTRA_DIST += tests/synth_cli.sh
