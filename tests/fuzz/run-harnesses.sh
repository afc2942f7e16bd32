#!/bin/sh
# Runs each libFuzzer harness on its corpus (kept in the build folder
# between runs), the seeds of make-seeds.sh and the regression inputs, for
# FUZZ_RUNS inputs (default 200000) from the fixed seed FUZZ_SEED (default
# 1), so that a run is reproducible, and for at most SECONDS: a slow machine
# stops early in the same sequence.  Nothing is written into the source
# tree: a crash input stays in BUILDDIR/tests/fuzz/work/artifacts/HARNESS/,
# is printed as hex, and fails the run; to keep it as a regression input,
# copy it by hand into tests/fuzz-regressions/HARNESS/ with the fix (make
# check replays that folder).
# Usage: run-harnesses.sh SRCDIR BUILDDIR SECONDS HARNESS...
set -u
src=$1
build=$2
seconds=$3
shift 3
seed=${FUZZ_SEED:-1}
runs=${FUZZ_RUNS:-200000}
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
    mkdir -p "$corpus" "$artifacts"
    log="$work/$h.log"
    echo "=== fuzz-$h: $runs runs from seed $seed, at most ${seconds}s"
    "$build/tests/fuzz/fuzz-$h" -seed="$seed" -runs="$runs" -max_total_time="$seconds" \
        -max_len="$(max_len "$h")" -timeout=30 \
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
            echo "crash input: $a ($(wc -c <"$a") bytes; replay: $build/tests/fuzz/fuzz-$h $a):"
            od -An -tx1 -v "$a" | head -n 64
        done
    fi
done
printf '%s' "$summary"
exit $failed
