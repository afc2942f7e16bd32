#!/bin/sh
# mvquant disrupt on a few chunks of the
# stories260K fixture: text, JSON, exit codes (TAP).
MVQ="${MVQ_BUILDDIR:-.}/tools/mvquant/mvquant"
dir=$(mktemp -d /tmp/mvq-disrupt-cli-XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
if [ -n "$EMULATOR" ]; then
    echo "1..0 # SKIP the CLI tests run natively only (EMULATOR=$EMULATOR)"
    exit 0
fi
echo "1..6"
n=0
check() { # description, then the command's status (0 = ok)
    n=$((n + 1))
    if [ "$2" -eq 0 ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; fi
}
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }

"$MVQ" disrupt --help >/dev/null
check "disrupt --help" $?
"$MVQ" disrupt 2>/dev/null
check "no model: usage error (exit 1)" $([ $? -eq 1 ]; echo $?)
model="${MVQ_FIXTURES:-}/models/stories260K.gguf"
text="${MVQ_FIXTURES:-}/text/tinystories-eval.txt"
if [ -z "${MVQ_FIXTURES:-}" ] || [ ! -r "$model" ] || [ ! -r "$text" ]; then
    for what in text json layers pre-rope; do skip "fixtures absent ($what)"; done
    exit 0
fi
"$MVQ" disrupt "$model" --text "$text" --ctx 256 --chunks 2 --control lowest,random --threads 2 \
    >"$dir/out.txt" 2>/dev/null &&
    grep -q '^massive ' "$dir/out.txt" && grep -q '^lowest ' "$dir/out.txt" && grep -q '^random ' "$dir/out.txt" &&
    grep -q 'layer  4 k ' "$dir/out.txt"
check "disrupt: table with massive, lowest and random runs, dims hit per layer" $?
"$MVQ" disrupt "$model" --text "$text" --ctx 256 --chunks 2 --which v --json --threads 2 >"$dir/out.json" 2>/dev/null &&
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
b, m = d["runs"][0], d["runs"][1]
assert b["name"] == "baseline" and m["name"] == "massive", d["runs"]
assert m["all"]["ppl"] > b["all"]["ppl"] > 1
assert m["contextual"]["n_scored"] + m["other"]["n_scored"] == m["all"]["n_scored"] == 2 * 127
assert all(h["tap"] == "v" for h in m["hits"]) and len(m["hits"]) == 5' "$dir/out.json"
check "disrupt --which v --json: baseline and run, split counts, V hit in every layer" $?
"$MVQ" disrupt "$model" --text "$text" --ctx 256 --chunks 2 --layers 1-2 --threads 2 >"$dir/l.txt" 2>/dev/null &&
    grep -q 'layer  1 q ' "$dir/l.txt" && ! grep -q 'layer  0 q ' "$dir/l.txt" && ! grep -q 'layer  3 q ' "$dir/l.txt"
check "disrupt --layers 1-2 hits only those layers" $?
"$MVQ" disrupt "$model" --text "$text" --ctx 256 --chunks 2 --pre-rope --threads 2 >"$dir/p.txt" 2>/dev/null &&
    grep -q 'layer  0 q_pre_rope ' "$dir/p.txt"
check "disrupt --pre-rope disrupts Q and K before RoPE" $?
