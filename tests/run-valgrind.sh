#!/bin/bash
# CI stage: valgrind memcheck on a few CLI runs of the native build
# (definite leaks and every memory error fail it).  The runs cover the
# reader, the writer, hashing, the tokenizer and the main job on small
# models.  Skipped when valgrind is missing, except under CI=true.
# Usage: tests/run-valgrind.sh BUILDDIR
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$1
if ! command -v valgrind >/dev/null; then
    echo "run-valgrind: valgrind not found"
    [ "${CI:-}" = true ] && exit 1
    echo "run-valgrind: SKIPPED"
    exit 0
fi
mvq="$build/tools/mvquant/mvquant"
work=$(mktemp -d "${TMPDIR:-/tmp}/mvq-valgrind-XXXXXX")
trap 'rm -rf "$work"' EXIT
fixture=${MVQ_FIXTURES:-$src/../shared/fixtures}/models/stories260K.gguf

n=0 failed=0
# memcheck EXPECTED_EXIT ARGS...: mvquant ARGS under memcheck
memcheck() {
    local want=$1 rc=0
    shift
    n=$((n + 1))
    "$build/libtool" --mode=execute valgrind --quiet --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite --show-leak-kinds=definite "$mvq" "$@" \
        >"$work/out" 2>"$work/err" || rc=$?
    if [ "$rc" = "$want" ]; then
        echo "ok $n - mvquant $* (exit $rc)"
    else
        echo "not ok $n - mvquant $* (exit $rc, expected $want)"
        tail -n 30 "$work/err"
        failed=$((failed + 1))
    fi
}

tiny="--dim 64 --heads 4 --kv-heads 2 --ff 96 --layers 1 --vocab 300 --seed 7"
memcheck 0 synth "$work/tiny.gguf" $tiny --type f16
memcheck 0 inspect --hash "$work/tiny.gguf"
memcheck 0 inspect --json "$work/tiny.gguf"
memcheck 0 copy --hashes "$work/tiny.gguf" "$work/copy.gguf"
memcheck 0 verify "$work/copy.gguf"
memcheck 0 --protect-massive --type q4_K --threads 2 --no-cache --ctx 16 --calib-tokens 16 \
    "$work/tiny.gguf" "$work/q4.gguf"
memcheck 0 inspect "$work/q4.gguf"
head -c 300 "$work/tiny.gguf" >"$work/cut.gguf"
memcheck 2 inspect "$work/cut.gguf"
memcheck 2 copy "$work/cut.gguf" "$work/never.gguf"
memcheck 1 copy "$work/tiny.gguf" "$work/tiny.gguf"
if [ -r "$fixture" ]; then
    memcheck 0 inspect --hash "$fixture"
fi
echo "1..$n"
echo "run-valgrind: $((n - failed)) of $n runs clean"
[ $failed = 0 ]
