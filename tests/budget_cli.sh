#!/bin/sh
# The size budget from the command line on stories260K: files at most the
# target and within 0.5% below it, protect and ignore at the same size, the
# plan printed and saved, and bad budgets refused before calibrating (TAP).
MVQ="${MVQ_BUILDDIR:-.}/tools/mvquant/mvquant"
if [ -n "$EMULATOR" ]; then
    echo "1..0 # SKIP the CLI tests run natively only (EMULATOR=$EMULATOR)"
    exit 0
fi
F="${MVQ_FIXTURES:-}"
model="$F/models/stories260K.gguf"
if [ ! -f "$model" ] || [ ! -f "$F/text/tinystories-calib.txt" ]; then
    echo "1..0 # SKIP fixtures absent (stories260K.gguf, tinystories-calib.txt; configure --with-fixtures)"
    exit 0
fi
dir=$(mktemp -d /tmp/mvq-budget-cli-XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
export MVQ_CACHE_DIR="$dir/cache"
echo "1..10"
n=0
check() { # description, then the command's status (0 = ok)
    n=$((n + 1))
    if [ "$2" -eq 0 ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; fi
}
size() { wc -c <"$1" | tr -d ' '; }
within() { # file, target: at most the target, at least 99.5% of it
    s=$(size "$1")
    [ "$s" -le "$2" ] && [ $((s * 1000)) -ge $(($2 * 995)) ]
}
calib="--calib $F/text/tinystories-calib.txt --calib-tokens 4096 --ctx 256"

"$MVQ" --ignore-massive --target-size 304096 $calib "$model" ign.gguf >ign.txt 2>err && within ign.gguf 304096
check "--target-size 304096 (llama.cpp's Q4_K_M): $(size ign.gguf 2>/dev/null) bytes, within 0.5% below" $?

"$MVQ" --protect-massive --target-size 304096 $calib "$model" pro.gguf >pro.txt 2>err && within pro.gguf 304096
check "--protect-massive at the same budget: $(size pro.gguf 2>/dev/null) bytes, within 0.5% below" $?

grep -q "^budget plan (protect massive values)" pro.txt && grep -q "blk.0.attn_q.weight .* budget" pro.txt &&
    grep -q "^budget: 304096 bytes aimed at" pro.txt
check "the plan is printed: per tensor type, bytes, estimated loss, why" $?

"$MVQ" inspect "$(pwd)/pro.gguf" >meta.txt 2>err && grep -q "mvquant.budget.bytes .*304096" meta.txt &&
    grep -q "mvquant.budget.est_loss" meta.txt
check "the plan is saved in the file's mvquant.budget.* metadata" $?

"$MVQ" --same-size-as "$F/models/stories260K-Q4_K_M.gguf" $calib "$model" same.gguf >/dev/null 2>err &&
    within same.gguf "$(size "$F/models/stories260K-Q4_K_M.gguf")"
check "--same-size-as llama.cpp's file: $(size same.gguf 2>/dev/null) bytes" $?

"$MVQ" --target-size 40% $calib --plan-only "$model" none.gguf >plan.txt 2>err && [ ! -e none.gguf ] &&
    grep -q "^budget: 474150 bytes aimed at" plan.txt
check "--target-size 40% --plan-only prints the plan for 40% of the input and writes nothing" $?

"$MVQ" --target-size 1000 $calib "$model" small.gguf >out 2>err
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <err)" -eq 1 ] && grep -q "below the smallest file the types allow" err &&
    [ ! -e small.gguf ] && [ ! -d "$dir/cache" ]
check "a budget below the smallest ladder: one line, exit 2, before calibrating ($(cat err))" $?

"$MVQ" --target-size lots "$model" x.gguf >out 2>err
[ $? -eq 1 ] && grep -q "not a byte count, a percentage" err
check "--target-size lots: usage error" $?

"$MVQ" --target-size 300000 --target-bpw 4 "$model" x.gguf >out 2>err
[ $? -eq 1 ] && grep -q "exclude each other" err
check "two budgets at once: usage error" $?

"$MVQ" --same-size-as "$dir/absent.gguf" "$model" x.gguf >out 2>err
[ $? -eq 2 ] && [ "$(wc -l <err)" -eq 1 ] && grep -q "absent.gguf" err
check "--same-size-as a missing file: one line naming it, exit 2" $?
