#!/bin/bash
# CI stage: a short fuzz run.  Builds the libFuzzer harnesses (clang,
# ./configure --enable-fuzz, static) in BUILDDIR and runs each for
# FUZZ_SECONDS at most (FUZZ_RUNS inputs from FUZZ_SEED: see
# tests/fuzz/run-harnesses.sh).  A crash fails the stage; its input stays in BUILDDIR.
# Without clang's libFuzzer the stage is skipped, except under CI=true.
# Usage: tests/run-fuzz.sh [BUILDDIR]   (default build-fuzz/)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build-fuzz}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

if ! command -v clang >/dev/null; then
    echo "run-fuzz: clang not found (Debian: clang libclang-rt-14-dev)"
    [ "${CI:-}" = true ] && exit 1
    echo "run-fuzz: SKIPPED"
    exit 0
fi
[ -x "$src/configure" ] || (cd "$src" && autoreconf -fi)
mkdir -p "$build"
cd "$build"
# no SIMDe emulation library: the harnesses use the kernel sets this CPU runs
[ -f Makefile ] || "$src/configure" --enable-fuzz --disable-shared CC=clang ac_cv_header_simde_x86_avx512_h=no
make -j"$jobs"
make fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-45}"
