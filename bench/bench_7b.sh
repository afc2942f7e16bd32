#!/bin/sh
# The size users run (make bench-7b, part of make bench; a measurement, never
# a test): mvquant synth models with Llama-2-7B's layer shapes (dim 4096,
# FFN 11008, 32 heads, 32 KV heads) and Llama-3-8B's (8 KV heads, FFN 14336),
# 2 layers, 32,000 tokens of vocabulary, BF16.  For each, one quantize job
# (calibrate, quantize with each method, write) under /usr/bin/time -v:
# calibration tokens/s, seconds per layer to quantize, peak memory, and the
# extrapolation to 32 layers: the whole job for the 7B model on 16k
# calibration tokens, as a time.
#
# The default run is short: each job runs twice, on 256 and on 2048
# calibration tokens, and the extrapolation takes calibration's cost per
# token from the difference (the first window also pays for touching every
# weight page once, a cost of the model's size that one run divided by
# its few tokens would multiply 64-fold at 16k tokens);
# BENCH_7B_TOKENS=16384 runs the real calibration once (several minutes).
# Usage: bench_7b.sh MVQUANT [WORKDIR]
#   BENCH_7B_TOKENS   calibration tokens of the one run (default: the two
#                     runs of 256 and 2048), BENCH_7B_CTX their sequence length (256)
#   BENCH_7B_METHODS  quantization methods ("rtn"; e.g. "rtn gptq awq" where they exist)
#   BENCH_7B_TYPE     target type (q4_k_m), BENCH_7B_THREADS threads (default: all cores)
#   BENCH_7B_MODELS   which shapes ("llama2-7b llama3-8b")
set -eu
MVQ=$1
work=${2:-${TMPDIR:-/tmp}/mvq-bench-7b}
tokens=${BENCH_7B_TOKENS:-256}
# the second run, whose difference from the first gives the cost per token
tokens2=${BENCH_7B_TOKENS:-2048}
ctx=${BENCH_7B_CTX:-256}
methods=${BENCH_7B_METHODS:-rtn}
type=${BENCH_7B_TYPE:-q4_k_m}
models=${BENCH_7B_MODELS:-llama2-7b llama3-8b}
threads=${BENCH_7B_THREADS:+--threads $BENCH_7B_THREADS}
layers=2
full_layers=32
full_tokens=16384
[ -x /usr/bin/time ] || { echo "bench_7b: /usr/bin/time not found (Debian: apt-get install time)" >&2; exit 1; }
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT INT TERM

mib() { echo $(($1 / 1048576)); }
# json_num KEY FILE: the first number under "KEY" in a JSON report
json_num() { sed -n "s/^ *\"$1\": *\([0-9.eE+-]*\),*\$/\1/p" "$2" | head -n 1; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# calibration text: long enough for any token count (the synthetic vocabulary is byte-level)
printf 'Once upon a time there was a little model that wanted to be small, and it asked the wise old quantizer how. ' >"$work/calib.txt"
while [ "$(wc -c <"$work/calib.txt")" -lt $((tokens2 * 2 + 4096)) ]; do
    cat "$work/calib.txt" "$work/calib.txt" >"$work/calib2.txt"
    mv "$work/calib2.txt" "$work/calib.txt"
done

shape_of() {
    case $1 in
    llama2-7b) echo "--dim 4096 --heads 32 --kv-heads 32 --ff 11008" ;;
    llama3-8b) echo "--dim 4096 --heads 32 --kv-heads 8 --ff 14336" ;;
    *) echo "bench_7b: unknown model '$1' (llama2-7b, llama3-8b)" >&2; exit 1 ;;
    esac
}

runs=$tokens
[ "$tokens2" = "$tokens" ] || runs="$tokens and $tokens2"
echo "bench_7b: $layers-layer BF16 models, vocabulary 32000; $runs calibration tokens at ctx $ctx, type $type," \
    "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %-5s %9s %9s %10s %9s %8s | %-28s\n' model method "calib t/s" "s/layer" "quant s/L" "peak MiB" \
    "file MiB" "32 layers, $full_tokens tokens: job"
# run N: the job on N calibration tokens (model, method, out: the loops');
# sets calib_s, quant_s, n_tok, rss and wall
run() {
    /usr/bin/time -v "$MVQ" -q quantize --json --no-cache --method "$method" --type "$type" $threads \
        --calib "$work/calib.txt" --calib-tokens "$1" --ctx "$ctx" "$model" "$out" \
        >"$work/report.json" 2>"$work/time" || { cat "$work/time" >&2; exit 1; }
    rss=$(($(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$work/time") * 1024))
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): *//p' "$work/time" | awk -F: \
        '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
    calib_s=$(json_num calibration_seconds "$work/report.json")
    quant_s=$(json_num seconds "$work/report.json")
    n_tok=$(json_num calibration_tokens "$work/report.json")
}
for name in $models; do
    model=$work/$name-bf16.gguf
    "$MVQ" -q synth "$model" $(shape_of "$name") --layers $layers --vocab 32000 --ctx 4096 --type bf16
    "$MVQ" inspect "$model" >"$work/inspect"
    # weights in the blocks against the whole file (embedding and output matrices), for the extrapolation
    all_w=$(sed -n 's/^totals *\([0-9]*\) weights.*/\1/p' "$work/inspect")
    layer_w=$(sed -n 's/.*blk\.0\.[a-z_]*\.weight.*\[\([0-9, ]*\)\].*/\1/p' "$work/inspect" | tr -d ' ' |
        awk -F, '{ n = 1; for (i = 1; i <= NF; i++) n *= $i; s += n } END { printf "%.0f", s }')
    for method in $methods; do
        out=$work/$name-$type.gguf
        run "$tokens"
        calib1=$calib_s tok1=$n_tok
        if [ "$tokens2" != "$tokens" ]; then
            run "$tokens2"
        fi
        # calibration seconds per token and layer: from the two runs' difference, or the one run's mean
        if [ "$n_tok" -gt "$tok1" ]; then
            per_tok=$(calc "%.9f" "($calib_s - $calib1) / ($n_tok - $tok1) / $layers")
        else
            per_tok=$(calc "%.9f" "$calib_s / $n_tok / $layers")
        fi
        # what is left of the run's calibration: once per layer (its weights' first touch)
        fixed_layer=$(calc "%.6f" "($calib_s - $per_tok * $n_tok * $layers) / $layers")
        # quantization (and writing) scales with the weights: the blocks' share of them per layer
        quant_layer=$(calc "%.3f" "$quant_s * $layer_w / $all_w")
        other_s=$(calc "%.3f" "$wall - $calib_s - $quant_s")
        full_calib=$(calc "%.0f" "($per_tok * $full_tokens + $fixed_layer) * $full_layers")
        full=$(calc "%.0f" "$full_calib + $quant_s * ($all_w + ($full_layers - $layers) * $layer_w) / $all_w + $other_s")
        printf '%-10s %-5s %9.1f %9.2f %10.2f %9s %8s | %5.0f s = %.1f min (calib %.0f s)\n' "$name" "$method" \
            "$(calc "%.3f" "1 / ($per_tok * $layers)")" "$(calc "%.3f" "$calib_s / $layers")" "$quant_layer" "$(mib "$rss")" \
            "$(mib "$(wc -c <"$out")")" "$full" "$(calc "%.3f" "$full / 60")" "$full_calib"
        rm -f "$out"
    done
    rm -f "$model"
done
echo "calib t/s: calibration tokens per second through the $layers layers (from the runs' difference);" \
    "s/layer: calibration seconds per layer of the last run; quant s/L: quantize and write seconds per layer" \
    "(the job's quantization time times the blocks' share of one layer in the weights);" \
    "job: (calibration per token and layer x $full_tokens tokens + its once-per-layer rest) x $full_layers layers" \
    "+ quantization scaled to $full_layers layers + the rest of the wall time (reading, planning)."
