#!/bin/sh
# AWQ's search time against RTN in the same run (make bench-awq-speed; a
# measurement, never a test): quantization seconds (calibration excluded),
# per layer and for the whole model, on tinyrope-3M and a dim-2048
# synthetic model (mvquant synth, 2 layers, FFN 5632, 16 heads, 4 KV heads).
# Usage: awq_speed.sh MVQUANT FIXTURES [WORKDIR]
#   AWQ_SPEED_TYPE (q4_k_m), AWQ_SPEED_TOKENS (AWQ's --awq-tokens, 2048)
set -eu
MVQ=$1
F=$2
work=${3:-${TMPDIR:-/tmp}/mvq-awq-speed}
type=${AWQ_SPEED_TYPE:-q4_k_m}
tokens=${AWQ_SPEED_TOKENS:-2048}
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT INT TERM
json_num() { sed -n "s/^ *\"$1\": *\([0-9.eE+-]*\),*\$/\1/p" "$2" | head -n 1; }
"$MVQ" synth "$work/synth-2048.gguf" --dim 2048 --layers 2 --ff 5632 --heads 16 --kv-heads 4 >/dev/null
echo "| model | layers | method | quantize s | s per layer |"
echo "| --- | --- | --- | --- | --- |"
for model in "$F/models/tinyrope-3M.gguf" "$work/synth-2048.gguf"; do
  calib="--calib $F/text/tinystories-calib.txt"
  case $model in *synth*) calib="--calib-tokens 4096" ;; esac
  layers=$("$MVQ" inspect "$model" 2>/dev/null | sed -n 's/.*block_count.* \([0-9][0-9]*\)$/\1/p' | head -n 1)
  for method in rtn awq; do
    extra=""
    [ "$method" = awq ] && extra="--awq-tokens $tokens"
    # shellcheck disable=SC2086
    "$MVQ" --method $method $extra --type "$type" $calib --ctx 256 --no-cache --json "$model" "$work/out.gguf" \
      >"$work/report.json" 2>/dev/null
    s=$(json_num seconds "$work/report.json")
    echo "| $(basename "$model" .gguf) | $layers | $method | $(awk "BEGIN { printf \"%.2f\", $s }") | $(awk "BEGIN { printf \"%.2f\", $s / $layers }") |"
  done
done
