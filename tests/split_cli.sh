#!/bin/sh
# Split models (llama.cpp's gguf-split sets): mvquant copy splits and merges
# them, every command opens a set through its first part, and quantize
# --keep-split writes one part per input part; the same tensors in any
# layout give the same bytes (TAP).
MVQ="${MVQ_BUILDDIR:-.}/tools/mvquant/mvquant"
if [ -n "$EMULATOR" ]; then
    echo "1..0 # SKIP the CLI tests run natively only (EMULATOR=$EMULATOR)"
    exit 0
fi
model="${MVQ_FIXTURES:-}/models/tinyrope-3M.gguf"
if [ ! -f "$model" ]; then
    echo "1..0 # SKIP fixtures absent (tinyrope-3M.gguf; configure --with-fixtures)"
    exit 0
fi
dir=$(mktemp -d /tmp/mvq-split-cli-XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
echo "1..13"
n=0
check() { # description, then the command's status (0 = ok)
    n=$((n + 1))
    if [ "$2" -eq 0 ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; fi
}
cd "$dir" || exit 1

"$MVQ" copy --split-max-tensors 16 "$model" tr.gguf 2>err
[ -f tr-00001-of-00003.gguf ] && [ -f tr-00002-of-00003.gguf ] && [ -f tr-00003-of-00003.gguf ] && [ ! -e tr.gguf ]
check "copy --split-max-tensors 16: 39 tensors in 3 parts named as gguf-split names them" $?

"$MVQ" inspect tr-00001-of-00003.gguf >set.txt 2>err && grep -q "^tensors    39$" set.txt &&
    grep -q "^parts      3 " set.txt
check "the set opens through its first part with all 39 tensors" $?

"$MVQ" inspect tr-00002-of-00003.gguf >out 2>err
rc=$?
[ $rc -ne 0 ] && grep -q "part 2 of a split model of 3 files: open the first part" err && [ "$(wc -l <err)" -eq 1 ]
check "opening part 2 is one error naming the first part" $?

"$MVQ" copy tr-00001-of-00003.gguf merged.gguf 2>err && "$MVQ" copy "$model" plain-copy.gguf 2>>err && cmp -s merged.gguf plain-copy.gguf
check "copy merges a set into the file a plain copy writes (split keys dropped)" $?

"$MVQ" verify tr-00001-of-00003.gguf >out 2>err
check "verify checks llama.cpp's loader rules in every part" $?

"$MVQ" --no-calib --type q4_0 "$model" plain.gguf >/dev/null 2>err &&
    "$MVQ" --no-calib --type q4_0 tr-00001-of-00003.gguf one.gguf >/dev/null 2>>err && cmp -s plain.gguf one.gguf
check "quantizing a set gives the bytes of quantizing the file" $?

"$MVQ" --no-calib --type q4_0 --keep-split tr-00001-of-00003.gguf ks.gguf >report 2>>err &&
    [ -f ks-00001-of-00003.gguf ] && [ -f ks-00003-of-00003.gguf ] && [ ! -e ks.gguf ] && grep -q "ks-\*-of-00003.gguf (3 files)" report
check "--keep-split: one output part per input part, OUT's .gguf dropped from the prefix" $?

"$MVQ" verify ks-00001-of-00003.gguf >out 2>>err && grep -q "39 tensor hashes match" out
check "each output part records its own tensors' hashes; verify checks all 39" $?

"$MVQ" copy --hashes ks-00001-of-00003.gguf ks-merged.gguf 2>>err && cmp -s ks-merged.gguf plain.gguf
check "the --keep-split parts merged are the unsplit output byte for byte" $?

if ! command -v python3 >/dev/null 2>&1; then
    n=$((n + 1)); echo "ok $n # SKIP python3 absent (split key types)"
else
python3 - ks-00002-of-00003.gguf <<'PY'
import struct, sys
# llama.cpp reads the split keys with exact types: u16, u16, i32
d = open(sys.argv[1], 'rb').read()
n_kv = struct.unpack_from('<Q', d, 16)[0]
pos, seen = 24, {}
for _ in range(n_kv):
    kl = struct.unpack_from('<Q', d, pos)[0]; key = d[pos + 8:pos + 8 + kl].decode(); pos += 8 + kl
    t = struct.unpack_from('<I', d, pos)[0]; pos += 4
    if t == 2: seen[key] = (t, struct.unpack_from('<H', d, pos)[0]); pos += 2
    elif t == 5: seen[key] = (t, struct.unpack_from('<i', d, pos)[0]); pos += 4
    elif t == 9:
        at, an = struct.unpack_from('<IQ', d, pos); pos += 12 + an * 8; assert at == 10
    else: raise SystemExit('unexpected type %d for %s' % (t, key))
assert seen == {'split.no': (2, 1), 'split.count': (2, 3), 'split.tensors.count': (5, 39)}, seen
PY
check "parts after the first hold only split.no (u16), split.count (u16), split.tensors.count (i32) and hashes" $?
fi

"$MVQ" tr-00001-of-00003.gguf Q4_0 --keep-split --no-calib >/dev/null 2>>err && [ -f ggml-model-Q4_0-00001-of-00003.gguf ]
check "IN TYPE --keep-split names the parts ggml-model-TYPE-0000k-of-0000N.gguf" $?

mv tr-00003-of-00003.gguf away.gguf
"$MVQ" --no-calib --type q4_0 tr-00001-of-00003.gguf x.gguf >out 2>err
rc=$?
[ $rc -ne 0 ] && grep -q "tr-00003-of-00003.gguf: cannot open" err && [ ! -e x.gguf ] && [ "$(wc -l <err)" -eq 1 ]
check "a missing part: one error naming it, no output" $?

cp tr-00002-of-00003.gguf tr-00003-of-00003.gguf
"$MVQ" inspect tr-00001-of-00003.gguf >out 2>err
rc=$?
[ $rc -ne 0 ] && grep -q "tr-00003-of-00003.gguf: expected part 3 of 3" err
check "a part in the wrong place (split.no) is refused" $?
