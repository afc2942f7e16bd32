#!/bin/sh
# Seed corpora for the fuzz harnesses, made from our own files (nothing is
# copied into the repository):
#   gguf/       small models written by `mvquant synth` (f32, f16) and
#               `mvquant copy --hashes`, a hand-made file with every value
#               type, the fixture's header (metadata and tensor infos, no
#               data) and a fixture model cut short;
#   tokenizer/  lines of the fixture texts and a few UTF-8 samples, for
#               both tokenizers;
#   dequant/    for every type and mode, bytes of the fixtures' tensor data
#               (real Q4_K/Q6_K blocks, f32 weights).
# Usage: make-seeds.sh MVQUANT OUTDIR   (MVQ_FIXTURES: the fixtures, optional)
set -eu
MVQ=$1
out=$2
fix=${MVQ_FIXTURES:-}
mkdir -p "$out/gguf" "$out/tokenizer" "$out/dequant"

le() { # BYTES VALUE: little-endian integer
    le_i=0 le_s="" le_v=$2
    while [ "$le_i" -lt "$1" ]; do
        le_s="$le_s\\$(printf '%03o' $((le_v & 255)))"
        le_v=$((le_v >> 8))
        le_i=$((le_i + 1))
    done
    printf "$le_s"
}
str() { le 8 ${#1}; printf '%s' "$1"; }
byte() { printf "\\$(printf '%03o' "$1")"; }
pad_to() { # FILE ALIGNMENT
    size=$(wc -c <"$1")
    truncate -s $(((size + $2 - 1) / $2 * $2)) "$1"
}

# ---- gguf ----
tiny="--dim 16 --heads 2 --kv-heads 1 --ff 32 --layers 1 --vocab 300 --seed 3"
"$MVQ" -q synth "$out/gguf/synth-f32.gguf" $tiny
"$MVQ" -q synth "$out/gguf/synth-f16.gguf" $tiny --type f16 --seed 4
"$MVQ" -q copy --hashes "$out/gguf/synth-f16.gguf" "$out/gguf/synth-hashed.gguf"

# every metadata value type, arrays of scalars and strings, alignment 64,
# two tensors (f32 and q8_0)
f="$out/gguf/all-types.gguf"
{
    printf 'GGUF'; le 4 3; le 8 2; le 8 16
    str k.u8; le 4 0; le 1 200
    str k.i8; le 4 1; le 1 255
    str k.u16; le 4 2; le 2 60000
    str k.i16; le 4 3; le 2 65535
    str k.u32; le 4 4; le 4 4000000000
    str k.i32; le 4 5; le 4 4294967295
    str k.f32; le 4 6; le 4 1065353216
    str k.bool; le 4 7; le 1 1
    str k.str; le 4 8; str "hello, world"
    str k.u64; le 4 10; le 8 123456789012
    str k.i64; le 4 11; le 8 -5
    str k.f64; le 4 12; le 8 4614253070214989087
    str k.arr_i32; le 4 9; le 4 5; le 8 3; le 4 1; le 4 2; le 4 3
    str k.arr_str; le 4 9; le 4 8; le 8 2; str one; str two
    str k.arr_bool; le 4 9; le 4 7; le 8 2; le 1 0; le 1 1
    str general.alignment; le 4 4; le 4 64
    str a; le 4 1; le 8 8; le 4 0; le 8 0
    str b; le 4 2; le 8 32; le 8 1; le 4 8; le 8 64
} >"$f"
pad_to "$f" 64
{ i=0; while [ $i -lt 8 ]; do le 4 $((1065353216 + i * 1000)); i=$((i + 1)); done; } >>"$f"
pad_to "$f" 64
{ le 2 15360; i=0; while [ $i -lt 32 ]; do le 1 $((i * 7)); i=$((i + 1)); done; } >>"$f"

model="$fix/models/stories260K.gguf"
if [ -n "$fix" ] && [ -r "$model" ]; then
    data=$("$MVQ" inspect "$model" | sed -n 's/^data *at offset //p')
    head -c "$data" "$model" >"$out/gguf/stories260K-header.gguf"
    head -c $((data + 4096)) "$model" >"$out/gguf/stories260K-cut.gguf"
fi

# ---- tokenizer (byte 0: bit 0 the tokenizer, bit 1 BOS) ----
n=0
tok_seed() { # SELECTOR TEXT
    n=$((n + 1))
    { byte "$1"; printf '%s' "$2"; } >"$out/tokenizer/seed-$n"
}
for sel in 0 1 2; do
    tok_seed $sel "Once upon a time, there was a little girl."
    tok_seed $sel "  two  spaces, tabs	and
newlines"
    tok_seed $sel "héllo wörld — ☃ 日本語 🙂"
    tok_seed $sel "<s> </s> <unk> <0x0A>"
done
text="$fix/text/tinystories-calib.txt"
if [ -n "$fix" ] && [ -r "$text" ]; then
    head -n 12 "$text" | while IFS= read -r line; do
        n=$((n + 1))
        { byte $((n & 1)); printf '%s' "$line"; } >"$out/tokenizer/line-$n"
    done
fi

# ---- dequant (byte 0: low 6 bits the type, high 2 bits the mode) ----
blocks="$fix/models/stories260K-Q4_K_M.gguf"
[ -n "$fix" ] && [ -r "$blocks" ] || blocks="$out/gguf/synth-f16.gguf"
floats="$out/gguf/synth-f32.gguf"
k=0
while [ $k -lt 17 ]; do
    for mode in 0 2 3; do
        src=$blocks
        [ $mode = 0 ] || src=$floats
        { byte $((mode * 64 + k)); tail -c +$((20000 + k * 997)) "$src" | head -c 1200; } \
            >"$out/dequant/type$k-mode$mode"
    done
    k=$((k + 1))
done
echo "seeds: $(ls "$out/gguf" | wc -l) gguf, $(ls "$out/tokenizer" | wc -l) tokenizer, $(ls "$out/dequant" | wc -l) dequant"
