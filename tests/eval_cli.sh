#!/bin/sh
# mvquant eval over tinyrope-3M F32 and its RTN q4_k_m files with the
# massive dimensions protected and ignored (made here by mvquant): the
# table, the JSON and the SVG, runs twice alike, and bad input refused
# with one line and a non-zero exit (TAP).
MVQ="${MVQ_BUILDDIR:-.}/tools/mvquant/mvquant"
facts="${MVQ_SRCDIR:-..}/tests/data/tinystories-facts.tsv"
dir=$(mktemp -d /tmp/mvq-eval-cli-XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
if [ -n "$EMULATOR" ]; then
    echo "1..0 # SKIP the CLI tests run natively only (EMULATOR=$EMULATOR)"
    exit 0
fi
echo "1..11"
n=0
check() { # description, then the command's status (0 = ok)
    n=$((n + 1))
    if [ "$2" -eq 0 ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; fi
}
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
# exit status $1 is $2, one error line on stderr naming $3 (usage errors
# add the hint to --help), nothing on stdout
one_line() {
    [ "$1" -eq "$2" ] && head -1 "$dir/err" | grep -q -- "$3" && [ ! -s "$dir/out" ] &&
        { [ "$(wc -l <"$dir/err")" -eq 1 ] || { [ "$2" -eq 1 ] && tail -1 "$dir/err" | grep -q -- "--help"; }; }
}

"$MVQ" eval --help >/dev/null
check "eval --help" $?
"$MVQ" eval 2>"$dir/err" >"$dir/out"
check "no model: usage error (exit 1)" $(one_line $? 1 "expected at least one MODEL"; echo $?)
"$MVQ" eval x.gguf --tasks copy,nonsense --text x 2>"$dir/err" >"$dir/out"
check "bad --tasks: one line naming the task, exit 1" $(one_line $? 1 "bad task 'nonsense'"; echo $?)
model="${MVQ_FIXTURES:-}/models/tinyrope-3M.gguf"
text="${MVQ_FIXTURES:-}/text/tinystories-eval.txt"
calib="${MVQ_FIXTURES:-}/text/tinystories-calib.txt"
if [ -z "${MVQ_FIXTURES:-}" ] || [ ! -r "$model" ] || [ ! -r "$text" ] || [ ! -r "$calib" ]; then
    for what in missing-model bad-tsv ppl-no-text table json twice svg svg-folder; do skip "fixtures absent ($what)"; done
    exit 0
fi
"$MVQ" eval "$model" "$dir/none.gguf" --tasks recall --ctx 128 2>"$dir/err" >"$dir/out"
check "a missing model: one line naming it, exit 2, nothing on stdout" $(one_line $? 2 "none.gguf"; echo $?)
printf 'Once upon a\ttime\nno tab here\n' >"$dir/bad.tsv"
"$MVQ" eval "$model" --tasks "recall,facts:$dir/bad.tsv" --ctx 128 2>"$dir/err" >"$dir/out"
check "a bad TSV: one line naming the file and line, exit 2" $(one_line $? 2 "bad.tsv:2: no tab"; echo $?)
"$MVQ" eval "$model" --tasks ppl 2>"$dir/err" >"$dir/out"
check "ppl without --text: usage error" $(one_line $? 1 "needs --text"; echo $?)

q="--calib $calib --calib-tokens 4096 --ctx 256"
"$MVQ" -q --protect-massive $q "$model" "$dir/pro.gguf" q4_k_m >/dev/null 2>&1 &&
    "$MVQ" -q --ignore-massive $q "$model" "$dir/ign.gguf" q4_k_m >/dev/null 2>&1
made=$?
run() {
    "$MVQ" eval "$model" "$dir/pro.gguf" "$dir/ign.gguf" --tasks "copy,passkey:names,recall,facts:$facts,ppl" \
        --text "$text" --items 8 --ctx 128 --chunks 2 --threads 2 "$@"
}
run >"$dir/table.txt" 2>/dev/null &&
    grep -q '^model .* copy .* recall .* facts .* ppl:closed .*contextual .*parametric' "$dir/table.txt" &&
    grep -q '^tinyrope-3M.gguf ' "$dir/table.txt" && grep -q '^pro.gguf ' "$dir/table.txt" &&
    grep -q '^ign.gguf ' "$dir/table.txt" && grep -q 'recall .*chance 25% (1/4 candidate names)' "$dir/table.txt"
table=$?
check "eval F32, q4_k_m protected and ignored: the table, chance stated" $([ $made -eq 0 ] && [ $table -eq 0 ]; echo $?)
run --json --svg "$dir/fig.svg" >"$dir/a.json" 2>/dev/null &&
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
names = [m["name"] for m in d["models"]]
assert names == ["tinyrope-3M.gguf", "pro.gguf", "ign.gguf"], names
tasks = [t["name"] for t in d["tasks"]]
assert tasks == ["copy", "copy-first", "passkey:names", "passkey:names-rank", "recall", "facts", "ppl", "ppl:ctx",
                 "ppl:closed"], tasks
ref = d["models"][0]
assert ref["contextual"] == 1 and ref["parametric"] == 1, ref
for m in d["models"]:
    s = m["scores"]
    assert 0 <= s["recall"]["value"] <= 1 and s["ppl"]["value"] > 1, s
    assert s["ppl:closed"]["value"] > s["ppl:ctx"]["value"], s
    assert 0.5 < m["contextual"] < 1.5 and 0.5 < m["parametric"] < 1.5, m
    assert s["copy"]["tokens_per_s"] > 0
' "$dir/a.json"
check "eval --json: models in order, tasks and classes, the first model the reference" $?
run --json >"$dir/b.json" 2>/dev/null &&
    python3 -c 'import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
strip = lambda d: [{k: {t: v["value"] for t, v in m["scores"].items()} for k in [m["name"]]} for m in d["models"]]
assert strip(a) == strip(b), (strip(a), strip(b))' "$dir/a.json" "$dir/b.json"
check "eval twice: the same scores" $?
grep -q '^<svg ' "$dir/fig.svg" && grep -q '</svg>' "$dir/fig.svg" && grep -q '>ppl:closed<' "$dir/fig.svg" &&
    [ "$(grep -c '<rect x=.*<title>' "$dir/fig.svg")" -ge 20 ]
check "eval --svg: grouped bars per task and model" $?
"$MVQ" eval "$model" --tasks recall --svg "$dir/no/such/dir/f.svg" 2>"$dir/err" >"$dir/out"
check "eval --svg into a missing folder: refused before the work" $([ $? -ne 0 ] && [ ! -s "$dir/out" ]; echo $?)
