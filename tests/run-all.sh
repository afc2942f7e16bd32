#!/bin/bash
# The whole test suite, as CI runs it (.ci/run calls this after installing
# the dependencies).  From a clean checkout:
#   native:  autoreconf, configure, make, make check (once without the
#            fixtures: those tests must skip, not fail), make install into a
#            staging prefix + make installcheck (a downstream program built
#            with `pkg-config --cflags --libs mvquant`), make distcheck;
#   hardening: valgrind memcheck on CLI runs, the whole suite again built
#            with ASan+UBSan, a short libFuzzer run per harness;
#   aarch64: cross build (--host=aarch64-linux-gnu, no Criterion, no oneDNN)
#            whose plain TAP tests run under qemu-aarch64, so the NEON
#            kernels are exercised on every run.
# Builds go to $MVQ_CI_BUILD (default build-ci/ in the source tree).  Ends
# with one summary line starting "mvquant CI:".
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
build=${MVQ_CI_BUILD:-$src/build-ci}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
cross_host=aarch64-linux-gnu
cross_pc=/usr/lib/$cross_host/pkgconfig:/usr/share/pkgconfig

t0=$(date +%s)
stages=()   # "name seconds result" lines for the final table
counts=()   # test counts per configuration, for the summary line

fmt_time() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

summary() {
    local verdict=$1
    echo
    echo "=== stages"
    local s
    for s in "${stages[@]}"; do
        printf '  %-24s %8s  %s\n' $s
    done
    local joined=
    [ ${#counts[@]} -eq 0 ] || joined=$(printf '%s; ' "${counts[@]}")
    echo "mvquant CI: $verdict; ${joined}total $(fmt_time $(( $(date +%s) - t0 )))"
}

# stage NAME COMMAND...: runs COMMAND, records its duration; stops on failure.
stage() {
    local name=$1; shift
    echo
    echo "=== $name: $*"
    local s=$(date +%s) rc=0
    "$@" || rc=$?
    local d=$(( $(date +%s) - s ))
    if [ $rc -ne 0 ]; then
        stages+=("$name $(fmt_time $d) FAILED(rc=$rc)")
        summary "FAILED at stage $name"
        exit 1
    fi
    stages+=("$name $(fmt_time $d) ok")
    echo "=== $name done in $(fmt_time $d)"
}

# test_counts LABEL DIR: automake's summary (test-suite.log) as one phrase.
test_counts() {
    local log=$2/test-suite.log n
    local total pass skip fail
    get() { n=$(sed -n "s/^# $1: *//p" "$log" | head -1); echo "${n:-0}"; }
    total=$(get TOTAL); pass=$(get PASS); skip=$(get SKIP)
    fail=$(( $(get FAIL) + $(get ERROR) + $(get XPASS) ))
    counts+=("$1 $total tests ($pass pass, $skip skip, $fail fail)")
    echo "=== $1: $total tests, $pass pass, $skip skip, $fail fail"
}

# make check whose failures print their logs (VERBOSE) and whose counts are kept
check_in() {
    local label=$1 dir=$2; shift 2
    local rc=0
    make -C "$dir" -j"$jobs" check VERBOSE=yes "$@" || rc=$?
    [ -f "$dir/test-suite.log" ] && test_counts "$label" "$dir"
    return $rc
}

native_configure() {
    mkdir -p "$build/native"
    cd "$build/native"
    "$src/configure" --prefix="$build/stage"
    cd "$src"
}

cross_available() {
    command -v $cross_host-gcc >/dev/null && command -v qemu-aarch64 >/dev/null &&
        [ -e /usr/lib/$cross_host/pkgconfig/libxxhash.pc ]
}

cross_configure() {
    mkdir -p "$build/$cross_host"
    cd "$build/$cross_host"
    "$src/configure" --host=$cross_host --without-criterion --without-onednn \
        EMULATOR=qemu-aarch64 PKG_CONFIG_LIBDIR="$cross_pc"
    cd "$src"
}

rm -rf "$build"
stage autoreconf autoreconf -fi
stage native-configure native_configure
stage native-build make -C "$build/native" -j"$jobs"
stage native-check check_in native "$build/native"
stage install make -C "$build/native" install
stage installcheck make -C "$build/native" installcheck
# distcheck configures --with-fixtures=no: tests that need them must skip there,
# and nothing may fail.
stage distcheck make -C "$build/native" -j"$jobs" distcheck
# hardening: memcheck on CLI runs, the suite under ASan+UBSan, a short fuzz run
stage valgrind tests/run-valgrind.sh "$build/native"
stage sanitizers tests/run-sanitizers.sh "$build/sanitize"
export FUZZ_SECONDS=${FUZZ_SECONDS:-30}
stage fuzz tests/run-fuzz.sh "$build/fuzz"

if cross_available; then
    export QEMU_LD_PREFIX=/usr/$cross_host
    stage cross-configure cross_configure
    stage cross-build make -C "$build/$cross_host" -j"$jobs"
    stage cross-check-qemu check_in aarch64/qemu "$build/$cross_host"
elif [ "${CI:-}" = true ]; then
    stages+=("cross-build 0m00s FAILED(missing)")
    summary "FAILED: no $cross_host-gcc, qemu-aarch64 or libxxhash-dev:arm64 (run .ci/install-deps)"
    exit 1
else
    stages+=("cross-build 0m00s SKIPPED")
    counts+=("aarch64/qemu SKIPPED (no $cross_host-gcc, qemu-aarch64 or libxxhash-dev:arm64)")
fi

summary "PASSED"
