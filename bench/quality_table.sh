#!/bin/sh
# The quality table of the weight methods (make bench-quality, part of make
# bench; a measurement, never a test): each fixture model quantized at each
# preset with each method, massive values ignored and protected, all from
# the same calibration (tinystories-calib.txt, 16,384 tokens, n_ctx 256),
# then measured on the whole tinystories-eval.txt at n_ctx 256 against the
# F32 model: file size, PPL, mean KLD, same top p, and the quantize time.
# Prints a Markdown table; llama.cpp's own figures for these files are in
# the fixtures' README.
# Usage: quality_table.sh MVQUANT FIXTURES [WORKDIR]
#   BENCH_QUALITY_MODELS   (stories260K tinyrope-3M)
#   BENCH_QUALITY_PRESETS  (q4_k_m q4_0 q3_k_m)
#   BENCH_QUALITY_METHODS  NAME=OPTIONS entries, ';'-separated
#                          (default: rtn, gptq without and with its refit,
#                          smoothquant, awq, awq without importance)
#   BENCH_QUALITY_CHUNKS   evaluate only the first N chunks (default: all)
set -eu
MVQ=$1
fx=$2
work=${3:-${TMPDIR:-/tmp}/mvq-bench-quality}
models=${BENCH_QUALITY_MODELS:-stories260K tinyrope-3M}
presets=${BENCH_QUALITY_PRESETS:-q4_k_m q4_0 q3_k_m}
methods=${BENCH_QUALITY_METHODS:-rtn=--method rtn;gptq=--method gptq --no-gptq-refit;gptq+refit=--method gptq --gptq-refit;smoothquant=--method smoothquant;awq=--method awq;awq-noimp=--method awq --exclude-weights weight}
chunks=${BENCH_QUALITY_CHUNKS:+--chunks $BENCH_QUALITY_CHUNKS}
[ -d "$fx/models" ] || { echo "quality_table: no fixtures at $fx (configure --with-fixtures)" >&2; exit 0; }
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT INT TERM

# json KEY FILE: a number from perplexity's JSON
json() { sed -n "s/^ *\"$1\": \\([-0-9.e+]*\\),*\$/\\1/p" "$2"; }

echo "quality_table: $(uname -m), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| model | preset | method | massive | bytes | PPL | mean KLD | same top p | quantize s |"
echo "|---|---|---|---|---|---|---|---|---|"
for model in $models; do
    in=$fx/models/$model.gguf
    stats=$work/$model.stats.gguf
    # one calibration per model, shared by every row
    "$MVQ" quantize --type q8_0 --calib "$fx/text/tinystories-calib.txt" --ctx 256 --stats-out "$stats" \
        "$in" "$work/calib-run.gguf" >/dev/null 2>&1
    for preset in $presets; do
        echo "$methods" | tr ';' '\n' | while IFS='=' read -r name opts; do
            [ -n "$name" ] || continue
            for mode in ignore protect; do
                out=$work/out.gguf
                t0=$(date +%s.%N)
                # shellcheck disable=SC2086 # opts are words
                "$MVQ" quantize $opts --type "$preset" --"$mode"-massive --stats "$stats" \
                    --calib "$fx/text/tinystories-calib.txt" --ctx 256 "$in" "$out" >/dev/null 2>"$work/err" ||
                    { echo "quality_table: $model $preset $name $mode failed:" >&2; cat "$work/err" >&2; exit 1; }
                t1=$(date +%s.%N)
                # shellcheck disable=SC2086
                "$MVQ" perplexity "$out" --text "$fx/text/tinystories-eval.txt" --ctx 256 $chunks \
                    --kl-base "$in" --json >"$work/ppl.json" 2>/dev/null
                printf '| %s | %s | %s | %s | %s | %.4f | %.6f | %.2f%% | %.2f |\n' "$model" "$preset" "$name" \
                    "$mode" "$(stat -c %s "$out")" "$(json ppl "$work/ppl.json")" "$(json kld_mean "$work/ppl.json")" \
                    "$(json same_top "$work/ppl.json")" "$(echo "$t1 $t0" | awk '{ print $1 - $2 }')"
            done
        done
    done
done
