#!/bin/sh
# mvquant synth: writes, is deterministic, refuses bad options (TAP).
MVQ="${MVQ_BUILDDIR:-.}/tools/mvquant/mvquant"
if [ -n "${EMULATOR:-}" ]; then
    echo "1..0 # SKIP the CLI is a host binary here: run natively"
    exit 0
fi
dir=$(mktemp -d /tmp/mvq-synth-cli-XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
echo "1..6"
n=0
check() { # description, then the command's status (0 = ok)
    n=$((n + 1))
    if [ "$2" -eq 0 ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; fi
}
args="--dim 64 --heads 4 --kv-heads 2 --ff 96 --layers 1 --vocab 300 --seed 7"
"$MVQ" synth "$dir/a.gguf" $args >"$dir/out.txt" 2>&1
check "synth writes a file" $?
grep -q "massive Q/K dims" "$dir/out.txt"
check "synth names the massive dims" $?
"$MVQ" synth "$dir/b.gguf" $args --type f32 >/dev/null 2>&1 && cmp -s "$dir/a.gguf" "$dir/b.gguf"
check "same options, same bytes" $?
"$MVQ" synth "$dir/c.gguf" $args --seed 8 >/dev/null 2>&1 && ! cmp -s "$dir/a.gguf" "$dir/c.gguf"
check "another seed, other bytes" $?
"$MVQ" synth "$dir/d.gguf" --heads 5 >/dev/null 2>&1
[ $? -eq 1 ] && [ ! -e "$dir/d.gguf" ]
check "bad shape: exit 1, nothing written" $?
"$MVQ" synth "$dir/e.gguf" --type q4_0 >/dev/null 2>&1
[ $? -eq 1 ]
check "bad type: exit 1" $?
