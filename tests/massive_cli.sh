#!/bin/sh
# mvquant massive: text, JSON, the SVG figure (checked by an XML parser),
# the statistics cache, exit codes (TAP).
MVQ="${MVQ_BUILDDIR:-.}/tools/mvquant/mvquant"
dir=$(mktemp -d /tmp/mvq-massive-cli-XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
MVQ_CACHE_DIR="$dir/cache"
export MVQ_CACHE_DIR
if [ -n "$EMULATOR" ]; then
    echo "1..0 # SKIP the CLI tests run natively only (EMULATOR=$EMULATOR)"
    exit 0
fi
echo "1..16"
n=0
check() { # description, then the command's status (0 = ok)
    n=$((n + 1))
    if [ "$2" -eq 0 ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; fi
}
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }

# An XML parser: python3's, else xmllint.
xml_ok() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
assert r.tag == "{http://www.w3.org/2000/svg}svg", r.tag
ns = "{http://www.w3.org/2000/svg}"
rects = r.findall(ns + "rect")
texts = [t.text for t in r.findall(ns + "text")]
assert len(rects) >= int(sys.argv[2]), len(rects)
for want in sys.argv[3:]:
    assert want in texts, want' "$@"
    elif command -v xmllint >/dev/null 2>&1; then
        xmllint --noout "$1"
    else
        return 2
    fi
}

"$MVQ" massive --help >"$dir/help.txt" 2>&1 && grep -q "top-p 0.95" "$dir/help.txt" && grep -q "temperature 1.0" "$dir/help.txt"
check "--help states the default calibration" $?

"$MVQ" synth "$dir/syn.gguf" --dim 64 --heads 4 --kv-heads 2 --ff 96 --layers 2 --vocab 300 >/dev/null 2>&1
"$MVQ" massive "$dir/syn.gguf" --calib-tokens 128 --ctx 64 >"$dir/syn.txt" 2>&1 &&
    grep -q "self-generated" "$dir/syn.txt" && grep -q "^summary" "$dir/syn.txt"
check "runs on any model without a text (self-generated)" $?

model="${MVQ_FIXTURES:-}/models/stories260K.gguf"
text="${MVQ_FIXTURES:-}/text/tinystories-calib.txt"
if [ -r "$model" ] && [ -r "$text" ]; then
    "$MVQ" massive "$model" --text "$text" --calib-tokens 256 --ctx 256 --svg "$dir/fig.svg" >"$dir/out.txt" 2>"$dir/err.txt"
    check "text report on stories260K" $?
    grep -q "^layer 4: massive dims" "$dir/out.txt" && grep -q "Q: .*most frequent top pair 3" "$dir/out.txt"
    check "per layer, and Q peaks in pair 3" $?
    # 5 layers x (8 + 4 + 4 heads) x 8 dims of cells
    xml_ok "$dir/fig.svg" 640 "layer 0: Q (after RoPE)" "layer 4: V" "head dimension"
    rc=$?
    if [ $rc -eq 2 ]; then skip "no XML parser (python3 or xmllint)"; else check "the SVG parses, with cells and labels" $rc; fi
    ! ls "$dir" | grep -q "fig.svg."
    check "no temporary file left beside the figure" $?
    grep -q '>stories260K: M\[h,d\]' "$dir/fig.svg" && ! grep -q "$model" "$dir/fig.svg"
    check "the figure is titled by the model's name, not its path" $?
    "$MVQ" massive "$model" --text "$text" --calib-tokens 256 --ctx 256 --svg "$dir/shared.svg" \
        --svg-shared-scale >/dev/null 2>&1
    rc=$?
    if [ $rc -eq 0 ] && command -v python3 >/dev/null 2>&1; then
        # colour-bar labels: three per panel (max, middle, min), panels layer by layer, Q K V
        python3 -c 'import sys, xml.etree.ElementTree as E
def tops(path):
    ns = "{http://www.w3.org/2000/svg}"
    bars = [t.text for t in E.parse(path).getroot().iter(ns + "text") if t.get("text-anchor") == "start"]
    return [bars[i] for i in range(0, len(bars), 3)]
shared, own = tops(sys.argv[1]), tops(sys.argv[2])
assert len(shared) == len(own) == 15, (len(shared), len(own))
for w in range(3):
    assert len(set(shared[w::3])) == 1, shared[w::3]
assert any(len(set(own[w::3])) > 1 for w in range(3)), own' "$dir/shared.svg" "$dir/fig.svg"
        rc=$?
    fi
    check "--svg-shared-scale: one colour scale per column across the layers" $rc
    "$MVQ" massive "$model" --text "$text" --calib-tokens 256 --ctx 256 >/dev/null 2>"$dir/err2.txt" &&
        grep -q "calibration skipped" "$dir/err2.txt"
    check "the second run takes the statistics from the cache" $?
    "$MVQ" massive "$model" --text "$text" --calib-tokens 256 --ctx 256 --layers 1-2 --json >"$dir/out.json" 2>/dev/null
    rc=$?
    if [ $rc -eq 0 ] && command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
assert [l["layer"] for l in j["layers"]] == [1, 2]
assert all(len(l["q"]["heads"]) == 8 and len(l["k"]["heads"]) == 4 for l in j["layers"])
assert j["summary"]["q"]["top_pair"] == 3 and j["summary"]["k"]["top_pair"] == 3' "$dir/out.json"
        rc=$?
    fi
    check "--json with --layers" $rc
    # before RoPE: each rotated pair keeps its total (RoPE rotates within a
    # pair), V is untouched, and the cache keeps the two apart
    "$MVQ" massive "$model" --text "$text" --calib-tokens 256 --ctx 256 --layers 1-2 --json --pre-rope \
        >"$dir/pre.json" 2>"$dir/pre.err"
    rc=$?
    if [ $rc -eq 0 ] && command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert b["pre_rope"] is True and a["pre_rope"] is False
for la, lb in zip(a["layers"], b["layers"]):
    assert la["v"] == lb["v"]
    for w in "qk":
        for ha, hb in zip(la[w]["heads"], lb[w]["heads"]):
            for i in range(0, len(ha["M"]), 2):
                pa = ha["M"][i] ** 2 + ha["M"][i + 1] ** 2
                pb = hb["M"][i] ** 2 + hb["M"][i + 1] ** 2
                assert abs(pa - pb) <= 1e-4 * max(pa, 1e-6), (w, i, pa, pb)
assert any(ha["M"] != hb["M"] for la, lb in zip(a["layers"], b["layers"])
           for ha, hb in zip(la["q"]["heads"], lb["q"]["heads"])), "the norms did not change"' "$dir/out.json" "$dir/pre.json" &&
            ! grep -q "calibration skipped" "$dir/pre.err"
        rc=$?
    fi
    check "--pre-rope: pair totals kept, V the same, not the post-RoPE cache" $rc
    "$MVQ" massive "$model" --text "$text" --calib-tokens 256 --svg /nonexistent/dir/fig.svg >/dev/null 2>&1
    [ $? -eq 2 ]
    check "unwritable figure: exit 2" $?
else
    for what in report layers svg temp title shared-scale cache json pre-rope unwritable; do skip "fixtures absent ($what)"; done
fi

"$MVQ" massive "$dir/syn.gguf" --layers 7 >/dev/null 2>&1
[ $? -eq 1 ]
check "layers outside the model: exit 1" $?
"$MVQ" massive "$dir/syn.gguf" --lambda -2 >/dev/null 2>&1
[ $? -eq 1 ]
check "bad --lambda: exit 1" $?
"$MVQ" massive "$dir/syn.gguf" --pre-rope --stats "$dir/none.gguf" >/dev/null 2>&1
[ $? -eq 1 ]
check "--pre-rope with --stats: exit 1" $?
"$MVQ" massive "$dir/missing.gguf" >/dev/null 2>&1
[ $? -eq 2 ]
check "missing model: exit 2" $?
