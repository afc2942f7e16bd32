#!/bin/sh
# The size budget's table (a measurement, never a test): each fixture model
# planned by --target-size at three budgets (llama.cpp's Q3_K_M, Q4_K_M and
# Q5_K_M file sizes where the fixtures' README gives them, else our preset's
# fixed-rule size for the model, marked "preset"), massive values protected
# and ignored, all from the same calibration (tinystories-calib.txt, 16,384
# tokens, n_ctx 256), measured on tinystories-eval.txt at n_ctx 256 against
# the F32 model: file size, PPL, mean KLD, same top p, and the planner's
# time (measuring the losses and solving).  Then a --target-bpw sweep on
# tinyrope-3M: size and mean KLD should fall together.
# Usage: budget_table.sh MVQUANT FIXTURES [WORKDIR]
#   BENCH_BUDGET_CHUNKS  evaluate only the first N chunks (default: all)
#   BENCH_BUDGET_BPW     the sweep's targets (default 2.5 3 3.5 4 4.5 5 5.5 6 6.5)
set -eu
MVQ=$1
fx=$2
work=${3:-${TMPDIR:-/tmp}/mvq-bench-budget}
chunks=${BENCH_BUDGET_CHUNKS:+--chunks $BENCH_BUDGET_CHUNKS}
bpws=${BENCH_BUDGET_BPW:-2.5 3 3.5 4 4.5 5 5.5 6 6.5}
[ -d "$fx/models" ] || { echo "budget_table: no fixtures at $fx (configure --with-fixtures)" >&2; exit 0; }
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT INT TERM
export MVQ_CACHE_DIR="$work/cache"
calib="--calib $fx/text/tinystories-calib.txt --ctx 256"

# measure MODEL FILE: "PPL | KLD | same top p" of FILE against MODEL's F32
measure() {
    "$MVQ" perplexity "$2" --text "$fx/text/tinystories-eval.txt" --ctx 256 $chunks \
        --kl-base "$fx/models/$1.gguf" >"$work/ppl.txt" 2>/dev/null
    ppl=$(sed -n 's/^PPL = \([0-9.]*\).*/\1/p' "$work/ppl.txt")
    kld=$(sed -n 's/^mean KLD = \([0-9.]*\).*/\1/p' "$work/ppl.txt")
    top=$(sed -n 's/^same top p = \([0-9.]*\).*/\1/p' "$work/ppl.txt")
    echo "$ppl | $kld | $top%"
}

# plan MODEL TARGET-OPTION MODE: quantizes into $work/q.gguf, prints "bytes | planner s"
plan() {
    rm -f "$work/q.gguf"
    "$MVQ" "--$3-massive" --type q4_k_m $2 $calib "$fx/models/$1.gguf" "$work/q.gguf" >"$work/q.txt" 2>"$work/q.err" ||
        { echo "refused: $(tail -1 "$work/q.err")"; return; }
    s=$(sed -n 's/.*planned in \([0-9.]*\) s$/\1/p' "$work/q.txt")
    echo "$(wc -c <"$work/q.gguf" | tr -d ' ') | $s s"
}

echo "| model | budget | target bytes | massive | file bytes | planner | PPL | mean KLD | same top p |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for spec in stories260K:Q3_K_M:q3_k_m stories260K:Q4_K_M:304096 stories260K:Q5_K_M:q5_k_m \
    tinyrope-3M:Q3_K_M:1703328 tinyrope-3M:Q4_K_M:2091936 tinyrope-3M:Q5_K_M:q5_k_m; do
    m=${spec%%:*}
    rest=${spec#*:}
    label=${rest%%:*}
    target=${rest#*:}
    [ -f "$fx/models/$m.gguf" ] || continue
    case $target in [0-9]*) shown="$target (llama.cpp)" ;; *) shown="preset $target" ;; esac
    for mode in protect ignore; do
        echo "| $m | $label | $shown | $mode | $(plan "$m" "--target-size $target" $mode) | $(measure "$m" "$work/q.gguf") |"
    done
done

m=tinyrope-3M
[ -f "$fx/models/$m.gguf" ] || exit 0
echo
echo "| $m --target-bpw | file bytes | planner | PPL | mean KLD | same top p |"
echo "| --- | --- | --- | --- | --- | --- |"
for b in $bpws; do
    p=$(plan $m "--target-bpw $b" protect)
    case $p in refused*) echo "| $b | $p | | | | |" ;; *) echo "| $b | $p | $(measure $m "$work/q.gguf") |" ;; esac
done
