#!/bin/sh
# The quality table of the activation-aware methods (make bench-awq; a
# measurement, never a test): for each fixture model and preset, quantize
# with rtn, gptq, smoothquant and awq (awq also without importance,
# --exclude-weights weight), protecting or ignoring the massive Q/K
# dimensions, then measure against the F32 model on tinystories-eval
# (n_ctx 256): file size, PPL, mean KLD, same top p, and the quantize time.
# Usage: awq_table.sh MVQUANT FIXTURES [WORKDIR]
#   AWQ_TABLE_MODELS  ("stories260K tinyrope-3M"), AWQ_TABLE_PRESETS ("q4_k_m q4_0 q3_k_m")
#   AWQ_TABLE_RUNS    method:protect pairs ("rtn:protect rtn:ignore gptq:protect smoothquant:protect
#                     awq:protect awq:ignore awq-noimp:protect")
#   AWQ_TABLE_CHUNKS  eval chunks (0: all 382), AWQ_TABLE_FLAGS more quantize options (e.g. --awq-tokens 512)
set -eu
MVQ=$1
F=$2
work=${3:-${TMPDIR:-/tmp}/mvq-awq-table}
models=${AWQ_TABLE_MODELS:-stories260K tinyrope-3M}
presets=${AWQ_TABLE_PRESETS:-q4_k_m q4_0 q3_k_m}
runs=${AWQ_TABLE_RUNS:-rtn:protect rtn:ignore gptq:protect smoothquant:protect awq:protect awq:ignore awq-noimp:protect}
chunks=${AWQ_TABLE_CHUNKS:-0}
flags=${AWQ_TABLE_FLAGS:-}
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT INT TERM
now() { date +%s.%N; }
chunk_opt=""
[ "$chunks" -gt 0 ] && chunk_opt="--chunks $chunks"
echo "| model | preset | method | massive | bytes | PPL | mean KLD | same top p | quantize s |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for model in $models; do
  for preset in $presets; do
    for run in $runs; do
      method=${run%%:*}
      massive=${run#*:}
      extra=""
      case $method in
        awq-noimp) extra="--exclude-weights weight"; m=awq ;;
        *) m=$method ;;
      esac
      out="$work/$model-$preset-$method-$massive.gguf"
      t0=$(now)
      # shellcheck disable=SC2086
      "$MVQ" --method "$m" --"$massive"-massive --type "$preset" --calib "$F/text/tinystories-calib.txt" --ctx 256 \
        --no-cache $extra $flags "$F/models/$model.gguf" "$out" >/dev/null 2>"$work/log"
      t1=$(now)
      # shellcheck disable=SC2086
      "$MVQ" perplexity "$out" --text "$F/text/tinystories-eval.txt" --ctx 256 --kl-base "$F/models/$model.gguf" \
        $chunk_opt >"$work/ppl" 2>&1
      ppl=$(sed -n 's/^PPL = \([0-9.]*\).*/\1/p' "$work/ppl" | head -n 1)
      kld=$(sed -n 's/^mean KLD = \([0-9.]*\).*/\1/p' "$work/ppl")
      top=$(sed -n 's/^same top p = \([0-9.]*\).*/\1/p' "$work/ppl")
      echo "| $model | $preset | $method | $massive | $(stat -c %s "$out") | $ppl | $kld | $top% | $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") |"
      rm -f "$out"
    done
  done
done
