#!/bin/bash
# The whole test suite, as CI runs it (.ci/run calls this after installing
# the dependencies).  From a clean checkout:
#   native:  autoreconf, configure (warnings are errors), make, make check,
#            make install into a staging prefix + make installcheck (a
#            downstream program built with `pkg-config --cflags --libs
#            mvquant`), make distcheck (without the fixtures: those tests
#            must skip, not fail; and without oneDNN, so that option stays
#            tested);
#   hardening: valgrind memcheck on CLI runs, the suite again built with
#            ASan+UBSan, a short libFuzzer run per harness from a fixed seed;
#   aarch64: cross build (--host=aarch64-linux-gnu, no Criterion, no oneDNN)
#            whose plain TAP tests run under qemu-aarch64, so the NEON
#            kernels are exercised on every run.
# Builds go to $MVQ_CI_BUILD (default build-ci/ in the source tree), the
# native one to $MVQ_CI_NATIVE (default build-ci-native/: one level below
# the source, like the README's build/, so that ccache serves the README's
# build from the native stage's compiles).  Ends with one summary line
# starting "mvquant CI:" that gives every stage's test counts.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
build=${MVQ_CI_BUILD:-$src/build-ci}
native=${MVQ_CI_NATIVE:-$src/build-ci-native}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
cross_host=aarch64-linux-gnu
cross_pc=/usr/lib/$cross_host/pkgconfig:/usr/share/pkgconfig

t0=$(date +%s)

# ccache through Debian's compiler links: every build of this run (and the
# README's, run by .ci/run) shares compiles where sources and flags agree.
# -Werror changes no object, so it is left out of the key.
if [ -d /usr/lib/ccache ] && command -v ccache >/dev/null; then
    export PATH=/usr/lib/ccache:$PATH CCACHE_BASEDIR=$(dirname "$src") CCACHE_NOHASHDIR=1 \
        CCACHE_IGNOREOPTIONS=-Werror
    ccache -z >/dev/null
fi
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
    command -v ccache >/dev/null && [ -n "${CCACHE_BASEDIR:-}" ] &&
        echo "ccache: $(ccache -s | sed -n 's/^ *Hits: *\([0-9]* \/ *[0-9]*\).*/\1/p' | head -1) compiles served from the cache"
    echo "mvquant CI: $verdict; ${joined}total $(fmt_time $(( $(date +%s) - t0 )))"
    echo "tests: $all_pass passed, $all_fail failed, $all_skip skipped"
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
    summary_counts "$1" "$2/test-suite.log"
    echo "=== ${counts[-1]}"
}

# summary_counts LABEL LOG: the counts of automake's test summary in LOG (a
# test-suite.log or a make check's output), also added to the totals
all_pass=0 all_skip=0 all_fail=0
summary_counts() {
    local n total pass skip fail
    get() { n=$(sed -n "s/^.*# $1: *\([0-9]*\).*$/\1/p" "$2" | tail -1); echo "${n:-0}"; }
    total=$(get TOTAL "$2"); pass=$(get PASS "$2"); skip=$(get SKIP "$2")
    fail=$(( $(get FAIL "$2") + $(get ERROR "$2") + $(get XPASS "$2") ))
    counts+=("$1 $total tests ($pass pass, $skip skip, $fail fail)")
    all_pass=$((all_pass + pass)) all_skip=$((all_skip + skip)) all_fail=$((all_fail + fail))
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
    mkdir -p "$native"
    cd "$native"
    "$src/configure" --prefix="$build/stage" --enable-werror
    cd "$src"
}

# distcheck: the tarball builds and its tests pass in another configuration
# (shared library only, no oneDNN, no SIMDe emulation: the native stage
# covers those), its counts taken from the output.
distcheck() {
    local log=$build/distcheck.log rc=0
    make -C "$native" -j"$jobs" distcheck \
        DISTCHECK_CONFIGURE_FLAGS="--without-onednn --disable-static --enable-werror ac_cv_header_simde_x86_avx512_h=no" \
        2>&1 | tee "$log" || rc=$?
    summary_counts distcheck "$log"
    return $rc
}


sanitizers() {
    local rc=0
    tests/run-sanitizers.sh "$build/sanitize" || rc=$?
    [ -f "$build/sanitize/test-suite.log" ] && test_counts sanitizers "$build/sanitize"
    return $rc
}

fuzz() {
    local log=$build/fuzz.log rc=0
    tests/run-fuzz.sh "$build/fuzz" 2>&1 | tee "$log" || rc=$?
    local line
    while read -r line; do counts+=("$line"); done < <(sed -n 's/^\(fuzz-[a-z]*: [0-9?]* executions\).*/\1/p' "$log" | awk '!seen[$0]++')
    return $rc
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

rm -rf "$build" "$native"
mkdir -p "$build"
stage autoreconf autoreconf -fi
stage native-configure native_configure
stage native-build make -C "$native" -j"$jobs"
stage native-check check_in native "$native"
stage install make -C "$native" install
stage installcheck make -C "$native" installcheck
# distcheck configures --with-fixtures=no: tests that need them must skip there,
# and nothing may fail.
stage distcheck distcheck
# hardening: memcheck on CLI runs, the suite under ASan+UBSan, a short fuzz run
stage valgrind tests/run-valgrind.sh "$native"
stage sanitizers sanitizers
export FUZZ_SECONDS=${FUZZ_SECONDS:-60}
stage fuzz fuzz

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

# .ci/run adds the README's quick start, verbatim, in a fresh clone (it
# installs packages, so a developer's run leaves it out unless asked).
if [ "${MVQ_CI_README:-no}" = yes ]; then
    stage readme tests/run-readme.sh
    counts+=("readme quick start ok")
fi

summary "PASSED"
