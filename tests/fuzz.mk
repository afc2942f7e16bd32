# Fuzzing (tests/fuzz/).  The harnesses' entry points are replayed on the
# regression inputs of tests/fuzz-regressions/ by every `make check`
# (tests/fuzz_replay, plain TAP, no libFuzzer).  ./configure --enable-fuzz
# CC=clang adds one libFuzzer program per harness, and `make fuzz` runs each
# for FUZZ_SECONDS on a seed corpus made by tests/fuzz/make-seeds.sh.
FUZZ_HARNESS_SOURCES = \
	tests/fuzz/fuzz.h \
	tests/fuzz/fuzz_gguf.c \
	tests/fuzz/fuzz_tokenizer.c \
	tests/fuzz/fuzz_dequant.c
check_PROGRAMS += tests/fuzz_replay
TESTS += tests/fuzz_replay
tests_fuzz_replay_SOURCES = tests/fuzz/replay.c $(FUZZ_HARNESS_SOURCES)
tests_fuzz_replay_CPPFLAGS = $(TEST_CPPFLAGS)
tests_fuzz_replay_LDADD = $(TEST_LIBS) -lm
EXTRA_DIST += tests/fuzz/libfuzzer_main.c tests/fuzz/make-seeds.sh tests/fuzz/run-harnesses.sh \
	tests/fuzz-regressions

FUZZ_SECONDS = 60
FUZZ_HARNESSES = gguf tokenizer dequant
if ENABLE_FUZZ
FUZZ_BINARIES = tests/fuzz/fuzz-gguf tests/fuzz/fuzz-tokenizer tests/fuzz/fuzz-dequant
noinst_PROGRAMS += $(FUZZ_BINARIES)
LIBFUZZER_LINK = -fsanitize=fuzzer
tests_fuzz_fuzz_gguf_SOURCES = tests/fuzz/libfuzzer_main.c tests/fuzz/fuzz.h tests/fuzz/fuzz_gguf.c
tests_fuzz_fuzz_gguf_CPPFLAGS = $(TEST_CPPFLAGS) -DMVQ_FUZZ_TARGET=mvq_fuzz_gguf
tests_fuzz_fuzz_gguf_LDFLAGS = $(LIBFUZZER_LINK)
tests_fuzz_fuzz_gguf_LDADD = $(TEST_LIBS)
tests_fuzz_fuzz_tokenizer_SOURCES = tests/fuzz/libfuzzer_main.c tests/fuzz/fuzz.h tests/fuzz/fuzz_tokenizer.c
tests_fuzz_fuzz_tokenizer_CPPFLAGS = $(TEST_CPPFLAGS) -DMVQ_FUZZ_TARGET=mvq_fuzz_tokenizer
tests_fuzz_fuzz_tokenizer_LDFLAGS = $(LIBFUZZER_LINK)
tests_fuzz_fuzz_tokenizer_LDADD = $(TEST_LIBS)
tests_fuzz_fuzz_dequant_SOURCES = tests/fuzz/libfuzzer_main.c tests/fuzz/fuzz.h tests/fuzz/fuzz_dequant.c
tests_fuzz_fuzz_dequant_CPPFLAGS = $(TEST_CPPFLAGS) -DMVQ_FUZZ_TARGET=mvq_fuzz_dequant
tests_fuzz_fuzz_dequant_LDFLAGS = $(LIBFUZZER_LINK)
tests_fuzz_fuzz_dequant_LDADD = $(TEST_LIBS) -lm

# make fuzz [FUZZ_SECONDS=60]: seeds, then each harness in turn; new crash
# inputs are copied to tests/fuzz-regressions/HARNESS/ and fail the target.
fuzz: $(FUZZ_BINARIES) tools/mvquant/mvquant$(EXEEXT)
	MVQ_FIXTURES='$(MVQ_FIXTURES)' $(SHELL) $(top_srcdir)/tests/fuzz/run-harnesses.sh \
		'$(abs_top_srcdir)' '$(abs_top_builddir)' $(FUZZ_SECONDS) $(FUZZ_HARNESSES)
else
fuzz:
	@echo "make fuzz: configure with --enable-fuzz CC=clang first" >&2; exit 1
endif
.PHONY: fuzz
