#!/bin/sh
# Runs each libFuzzer harness for SECONDS on its corpus (kept in the build
# folder between runs), the seeds of make-seeds.sh and the regression
# inputs.  A crash input is copied to tests/fuzz-regressions/HARNESS/ (to be
# committed with the fix: make check replays it) and fails the run.
# Usage: run-harnesses.sh SRCDIR BUILDDIR SECONDS HARNESS...
set -u
src=$1
build=$2
seconds=$3
shift 3
work="$build/tests/fuzz/work"
rm -rf "$work/seeds"
sh "$src/tests/fuzz/make-seeds.sh" "$build/tools/mvquant/mvquant" "$work/seeds" || exit 1

# halt_on_error: the first report ends the run with the input saved;
# detect_leaks: leaks are bugs too.
ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:allocator_may_return_null=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS UBSAN_OPTIONS

max_len() {
    case $1 in gguf) echo 131072 ;; *) echo 4096 ;; esac
}

failed=0
summary=""
for h in "$@"; do
    corpus="$work/corpus/$h"
    artifacts="$work/artifacts/$h"
    rm -rf "$artifacts"
    mkdir -p "$corpus" "$artifacts" "$src/tests/fuzz-regressions/$h"
    log="$work/$h.log"
    echo "=== fuzz-$h: ${seconds}s"
    "$build/tests/fuzz/fuzz-$h" -max_total_time="$seconds" -max_len="$(max_len "$h")" -timeout=30 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
        "$corpus" "$work/seeds/$h" "$src/tests/fuzz-regressions/$h" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    units=$(ls "$corpus" | wc -l)
    line="fuzz-$h: ${execs:-?} executions, $cov, corpus $units, exit $rc"
    echo "$line"
    summary="$summary$line
"
    if [ $rc -ne 0 ] || [ -n "$(ls -A "$artifacts")" ]; then
        failed=1
        tail -n 40 "$log"
        for a in "$artifacts"/*; do
            [ -f "$a" ] || continue
            cp "$a" "$src/tests/fuzz-regressions/$h/" &&
                echo "crash input saved: tests/fuzz-regressions/$h/$(basename "$a")"
        done
    fi
done
printf '%s' "$summary"
exit $failed
