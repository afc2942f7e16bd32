#!/bin/sh
# Peak resident memory of mvquant on a ~1B-parameter model (make bench-memory,
# part of make bench; a measurement, never a test).  Writes a synthetic F16
# Llama (mvquant synth), copies and inspects it, calibrates it (16 tokens:
# the forward pass's peak) and converts it with the main job from the saved
# statistics to Q8_0 and Q4_K (the streaming quantizer's peak), each
# under /usr/bin/time -v, and compares each peak with the model's size and
# with the target: the largest tensor's F32 size + 256 MiB.
# Usage: bench_memory.sh MVQUANT [WORKDIR]   (BENCH_MEMORY_SYNTH: synth options)
set -eu
MVQ=$1
work=${2:-${TMPDIR:-/tmp}/mvq-bench-memory}
synth_opts=${BENCH_MEMORY_SYNTH:---dim 2048 --heads 16 --kv-heads 4 --ff 5632 --layers 20 --vocab 32000 --type f16}
[ -x /usr/bin/time ] || { echo "bench_memory: /usr/bin/time not found (Debian: apt-get install time)" >&2; exit 1; }
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT INT TERM
model=$work/model-f16.gguf

mib() { echo $(($1 / 1048576)); }
# run_timed COMMAND...: runs it under time -v; sets rss (bytes) and wall
run_timed() {
    /usr/bin/time -v "$@" >"$work/out" 2>"$work/time" || { cat "$work/out" "$work/time" >&2; exit 1; }
    rss=$(($(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$work/time") * 1024))
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): *//p' "$work/time")
}
# report LABEL: the last run's peak against the model's size and the target
report() {
    verdict="under the target"
    [ "$rss" -le "$target" ] || verdict="OVER the target"
    printf '%-16s peak RSS %6s MiB = %5.1f%% of the model, %s (%s)\n' "$1" "$(mib "$rss")" \
        "$(echo "$rss $size" | awk '{ printf "%.1f", 100 * $1 / $2 }')" "$verdict" "$wall"
}
measure() { # LABEL COMMAND...
    label=$1
    shift
    run_timed "$@"
    report "$label"
}

echo "bench_memory: mvquant synth $synth_opts"
run_timed "$MVQ" -q synth "$model" $synth_opts
"$MVQ" inspect "$model" >"$work/inspect"
size=$(wc -c <"$model")
weights=$(sed -n 's/^totals *\([0-9]*\) weights.*/\1/p' "$work/inspect")
# the largest tensor's weights: the product of the biggest shape in the table
largest=$(sed -n 's/.*\[\([0-9, ]*\)\].*/\1/p' "$work/inspect" | tr -d ' ' |
    awk -F, '{ n = 1; for (i = 1; i <= NF; i++) n *= $i; if (n > m) m = n } END { printf "%.0f", m }')
target=$((largest * 4 + (256 << 20)))
echo "model: $weights weights, $(mib "$size") MiB; largest tensor $largest weights ($(mib $((largest * 4))) MiB as F32)"
echo "target: largest tensor's F32 size + 256 MiB = $(mib $target) MiB"
report "synth (f16)"

printf 'Once upon a time there was a little model that wanted to be small. ' >"$work/calib.txt"
for i in 1 2 3 4 5 6; do cat "$work/calib.txt" "$work/calib.txt" >"$work/calib2.txt"; mv "$work/calib2.txt" "$work/calib.txt"; done
calib="--calib $work/calib.txt --calib-tokens 16 --ctx 16 --no-cache"
measure "inspect --hash" "$MVQ" inspect --hash "$model"
measure "copy" "$MVQ" copy "$model" "$work/copy.gguf"
rm -f "$work/copy.gguf"
# the job in two steps: calibration (a forward pass reads every weight),
# then quantization from the saved statistics (one tensor at a time)
measure "calibrate" "$MVQ" --type q8_0 $calib --stats-out "$work/stats.gguf" "$model" "$work/calib-q8_0.gguf"
rm -f "$work/calib-q8_0.gguf"
for type in q8_0 q4_K; do
    measure "quantize $type" "$MVQ" --protect-massive --type "$type" --no-cache --stats "$work/stats.gguf" \
        "$model" "$work/$type.gguf"
    echo "  $type file: $(mib "$(wc -c <"$work/$type.gguf")") MiB"
    rm -f "$work/$type.gguf"
done
