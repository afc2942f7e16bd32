# CLI tests: a shell script printing TAP (native builds only; it skips
# itself under an emulator).
TEST_EXTENSIONS = .sh
SH_LOG_DRIVER = $(LOG_DRIVER)
AM_SH_LOG_DRIVER_FLAGS = --ignore-exit
SH_LOG_COMPILER = env EMULATOR='$(EMULATOR)' $(SHELL)
TESTS += tests/cli_test.sh
EXTRA_DIST += tests/cli_test.sh
