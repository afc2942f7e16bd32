#!/bin/sh
# The KV-cache table (a measurement, never a test): each fixture model on
# tinystories-eval.txt at n_ctx 256 with its KV cache in each scheme,
# against the same model with the F32 cache: bits per K and V value, PPL,
# mean KLD, same top p.  Massive K channels (2 per KV head) come from
# tinystories-calib.txt.  Prints a Markdown table.  A K of '-' passes no
# --kv-type-k (the per-channel scheme has its own format); 'K read' is the
# per-channel K as the scored predictions read it, the F16 residual counted.
# Usage: kvcache_table.sh MVQUANT FIXTURES
#   BENCH_KV_MODELS (tinyrope-3M stories260K), BENCH_KV_CHUNKS (default: all)
set -eu
MVQ=$1
fx=$2
models=${BENCH_KV_MODELS:-tinyrope-3M stories260K}
chunks=${BENCH_KV_CHUNKS:+--chunks $BENCH_KV_CHUNKS}
[ -d "$fx/models" ] || { echo "kvcache_table: no fixtures at $fx (configure --with-fixtures)" >&2; exit 0; }
echo "| model | K / V cache | bits K / V | K read | PPL | mean KLD | same top p |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for m in $models; do
    M=$fx/models/$m.gguf
    while read -r k v extra; do
        kt="--kv-type-k $k"
        [ "$k" = - ] && kt=
        # shellcheck disable=SC2086
        out=$("$MVQ" perplexity "$M" --text "$fx/text/tinystories-eval.txt" --ctx 256 $chunks --kl-base "$M" \
            $kt --kv-type-v "$v" --calib "$fx/text/tinystories-calib.txt" $extra 2>&1) || {
            echo "| $m | $k / $v $extra | refused: $(echo "$out" | tail -1) | | | | |"; continue; }
        ppl=$(echo "$out" | sed -n 's/^PPL = \([0-9.]*\).*/\1/p')
        kld=$(echo "$out" | sed -n 's/^mean KLD = \([0-9.]*\).*/\1/p')
        top=$(echo "$out" | sed -n 's/^same top p = \([0-9.]*\).*/\1/p')
        bits=$(echo "$out" | sed -n 's/.*(K \([0-9.]*\), V \([0-9.]*\) bits per value).*/\1 \/ \2/p')
        read_bits=$(echo "$out" | sed -n 's/.*read it (n_ctx [0-9]*): \([0-9.]*\) bits.*/\1/p')
        echo "| $m | $k / $v $extra | ${bits:-32 / 32} | ${read_bits:-} | $ppl | $kld | $top% |"
    done <<LIST
f32 f32
f16 f16
q8_0 q8_0
q8_0 f16
q4_0 f16
q4_0 q4_0
q4_1 q4_0
q5_0 q4_0
q4_0 q4_0 --kv-protect-massive
q4_0 q4_0 --kv-rescale-pairs
q4_1 q4_1
q5_0 q5_0
q5_1 q5_1
iq4_nl iq4_nl
q4_1 f16
q5_1 f16
q5_1 q4_0
q4_0 f16 --kv-protect-massive
q4_1 f16 --kv-protect-massive
q4_1 q4_0 --kv-protect-massive
- f16 --kv-scheme per-channel
- f16 --kv-scheme per-channel --kv-protect-massive
- f16 --kv-scheme per-channel --kv-residual 0
- f16 --kv-scheme per-channel --kv-residual 0 --kv-protect-massive
- f16 --kv-scheme per-channel --kv-group 128
- f16 --kv-scheme per-channel --kv-bits 2
- f16 --kv-scheme per-channel --kv-bits 2 --kv-protect-massive
- f16 --kv-scheme per-channel --kv-bits 2 --kv-residual 0
- f16 --kv-scheme per-channel --kv-bits 2 --kv-residual 0 --kv-protect-massive
- q4_0 --kv-scheme per-channel
- q4_0 --kv-scheme per-channel --kv-protect-massive
- q4_0 --kv-scheme per-channel --kv-residual 0
- q4_0 --kv-scheme per-channel --kv-residual 0 --kv-protect-massive
- q4_0 --kv-scheme per-channel --kv-bits 2
- q4_0 --kv-scheme per-channel --kv-bits 2 --kv-protect-massive
- q4_0 --kv-scheme per-channel --kv-bits 2 --kv-residual 0
- q4_0 --kv-scheme per-channel --kv-bits 2 --kv-residual 0 --kv-protect-massive
LIST
done
