#!/bin/bash
# The whole test suite a second time, built with AddressSanitizer and
# UndefinedBehaviorSanitizer (gcc; -fno-sanitize-recover: the first report
# kills the process).  Every process of the suite - Criterion's forked test
# workers, the CLI runs inside the shell tests, even those whose stderr a
# test throws away - writes its reports to $build/sanitizer-reports/, and
# any report fails this stage, whatever the exit status the test saw.
# Usage: tests/run-sanitizers.sh [BUILDDIR]   (default build-sanitize/)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build-sanitize}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
flags="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
reports=$build/sanitizer-reports

[ -x "$src/configure" ] || (cd "$src" && autoreconf -fi)
mkdir -p "$build"
cd "$build"
# static only: the CLI and the tests carry the instrumented library inside.
# The SIMDe-emulated AVX-512 tests double the build time: only with
# MVQ_SANITIZE_SIMDE=yes (the native stage runs them uninstrumented).
simde=
[ "${MVQ_SANITIZE_SIMDE:-no}" = yes ] || simde=ac_cv_header_simde_x86_avx512_h=no
[ -f Makefile ] || "$src/configure" --disable-shared CFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" $simde
make -j"$jobs"

rm -rf "$reports"
mkdir -p "$reports"
# detect_leaks: LeakSanitizer at every process exit (Criterion's workers too)
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_string_checks=1:log_path=$reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
export LSAN_OPTIONS="suppressions=$src/tests/sanitizers.supp:print_suppressions=0"
# the fixture-scale gates ran natively; here they would cost most of the stage
export MVQ_TEST_HEAVY=${MVQ_TEST_HEAVY:-no}
rc=0
make -j"$jobs" check VERBOSE=yes || rc=$?
sed -n 's/^# \(TOTAL\|PASS\|SKIP\|FAIL\|ERROR\): */\1 /p' test-suite.log | tr '\n' ' '
echo
if [ -n "$(ls -A "$reports")" ]; then
    echo "=== sanitizer reports ($(ls "$reports" | wc -l) files):"
    for f in "$reports"/*; do
        echo "--- $f"
        head -n 60 "$f"
    done
    exit 1
fi
echo "=== sanitizers: no reports"
exit $rc
