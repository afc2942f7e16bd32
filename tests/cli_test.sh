#!/bin/sh
# Tests of the mvquant CLI (TAP): inspect, verify, copy, exit codes, and
# the writer's behaviour under faults (refused outputs, failed writes,
# signals).  Run by `make check` with MVQ_BUILDDIR and MVQ_FIXTURES set.
MVQ="${MVQ_BUILDDIR:-.}/tools/mvquant/mvquant"
FIXTURE="$MVQ_FIXTURES/models/stories260K.gguf"
n=0
failed=0

ok() { # STATUS DESCRIPTION
    n=$((n + 1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
check() { # DESCRIPTION COMMAND...
    desc=$1
    shift
    if "$@"; then ok 0 "$desc"; else ok 1 "$desc"; fi
}
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
# run COMMAND...: sets rc; stdout in $T/out, stderr in $T/err
run() { "$@" >"$T/out" 2>"$T/err"; rc=$?; }
lines() { wc -l <"$1" | tr -d ' '; }
leftovers() { ls -A "$1" | grep -c '\.tmp-'; }

if [ -n "$EMULATOR" ]; then
    echo "1..0 # SKIP the CLI tests run natively only (EMULATOR=$EMULATOR)"
    exit 0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/mvq-cli-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

# Little-endian integers, and a GGUF file with one f32 tensor of N zeros
# (sparse: the data section is made by truncate).
le() { # BYTES VALUE
    i=0 s="" v=$2
    while [ $i -lt "$1" ]; do s="$s\\$(printf '%03o' $((v & 255)))"; v=$((v >> 8)); i=$((i + 1)); done
    printf "$s"
}
make_gguf() { # PATH N
    { printf 'GGUF'; le 4 3; le 8 1; le 8 0; le 8 1; printf 't'; le 4 1; le 8 "$2"; le 4 0; le 8 0; } >"$1"
    truncate -s $((64 + $2 * 4)) "$1" # header of 57 bytes, padded to 64
}
make_gguf "$T/small.gguf" 1000

# ---- global options and exit codes ----
run "$MVQ" --help
check "--help exits 0 and lists commands and exit codes" \
    sh -c "[ $rc = 0 ] && grep -q '^  inspect' '$T/out' && grep -q '^  copy' '$T/out' && grep -q 'Exit status' '$T/out'"
run "$MVQ" --version
check "--version prints the version and SIMD sets" \
    sh -c "[ $rc = 0 ] && grep -q '^mvquant [0-9]' '$T/out' && grep -q '^SIMD kernels compiled: scalar' '$T/out' && grep -q '^SIMD kernels selected: ' '$T/out'"
run "$MVQ"
check "no command: exit 1 with usage on stderr" sh -c "[ $rc = 1 ] && grep -q '^Usage' '$T/err'"
run "$MVQ" frobnicate
check "unknown command: exit 1" sh -c "[ $rc = 1 ] && grep -q \"unknown command 'frobnicate'\" '$T/err'"
run "$MVQ" --frob
check "unknown global option: exit 1" test "$rc" = 1
run "$MVQ" inspect --frob "$T/small.gguf"
check "unknown inspect option: exit 1" sh -c "[ $rc = 1 ] && grep -q \"unknown option '--frob'\" '$T/err'"
run "$MVQ" inspect
check "inspect without FILE: exit 1" test "$rc" = 1
run "$MVQ" help copy
check "help COMMAND shows the command's usage" sh -c "[ $rc = 0 ] && grep -q 'mvquant copy IN OUT' '$T/out'"

# ---- inspect ----
run "$MVQ" inspect "$T/small.gguf"
check "inspect a generated file" sh -c "[ $rc = 0 ] && grep -Eq '^ +0  t +f32 +\[1000\] +4000 +0$' '$T/out'"
if [ -r "$FIXTURE" ]; then
    run "$MVQ" inspect "$FIXTURE"
    check "inspect stories260K: exit 0, 48 tensors" sh -c "[ $rc = 0 ] && grep -q '^tensors    48$' '$T/out'"
    check "inspect stories260K: tensor table row" \
        grep -Eq '^ +0  token_embd.weight +f32 +\[64, 512\] +131072 +0$' "$T/out"
    check "inspect stories260K: long arrays abbreviated" \
        grep -Eq 'tokenizer.ggml.tokens +\[string x 512\] +"<unk>", "<s>", .*\(504 more\)$' "$T/out"
    check "inspect stories260K: totals and bits per weight" \
        grep -q '^totals     292800 weights, 1171200 bytes of tensor data, 32.0000 bits per weight$' "$T/out"
    run "$MVQ" inspect --hash "$FIXTURE"
    check "inspect --hash: 48 hashes" sh -c "[ $rc = 0 ] && [ \$(grep -Ec ' [0-9a-f]{16}$' '$T/out') = 48 ]"
    run "$MVQ" inspect --json --hash "$FIXTURE"
    if command -v python3 >/dev/null 2>&1; then
        check "inspect --json: valid JSON with every token and 48 tensors" python3 -c "
import json, sys
d = json.load(open('$T/out'))
toks = [m for m in d['metadata'] if m['key'] == 'tokenizer.ggml.tokens'][0]
assert len(toks['value']) == 512 and toks['value'][13] == '<0x0A>'
assert len(d['tensors']) == 48 and d['tensors'][9]['shape'] == [172, 64]
assert len(d['tensors'][0]['xxh3_64']) == 16 and d['totals']['bits_per_weight'] == 32.0
"
    else
        skip "python3 not installed: JSON not validated"
    fi
else
    skip "fixture models/stories260K.gguf not found: inspect on the real model not tested"
fi

# ---- bad input: exit 2 and one line naming the file ----
head -c 40 "$T/small.gguf" >"$T/trunc.gguf"
run "$MVQ" inspect "$T/trunc.gguf"
check "truncated file: exit 2, one line naming the file" \
    sh -c "[ $rc = 2 ] && [ $(lines "$T/err") = 1 ] && grep -q '^mvquant: $T/trunc.gguf: truncated' '$T/err'"
head -c 4000 "$T/small.gguf" >"$T/trunc2.gguf"
run "$MVQ" verify "$T/trunc2.gguf"
check "tensor data past the end: exit 2, one line" \
    sh -c "[ $rc = 2 ] && [ $(lines "$T/err") = 1 ] && grep -q 'runs past the end of the file' '$T/err'"
run "$MVQ" inspect "$T/missing.gguf"
check "missing file: exit 2" sh -c "[ $rc = 2 ] && grep -q 'missing.gguf: cannot open' '$T/err'"
run "$MVQ" inspect "$T"
check "directory as input: exit 2" sh -c "[ $rc = 2 ] && grep -q 'is a directory' '$T/err'"

# ---- copy and verify ----
run "$MVQ" copy "$T/small.gguf" "$T/copy.gguf"
check "copy: exit 0, byte-identical" sh -c "[ $rc = 0 ] && cmp -s '$T/small.gguf' '$T/copy.gguf'"
run "$MVQ" copy --hashes "$T/small.gguf" "$T/hashed.gguf"
run "$MVQ" verify "$T/hashed.gguf"
check "copy --hashes then verify: exit 0" sh -c "[ $rc = 0 ] && grep -q ': ok: 1 tensor hashes match' '$T/out'"
size=$(wc -c <"$T/hashed.gguf")
printf 'X' | dd of="$T/hashed.gguf" bs=1 seek=$((size - 10)) conv=notrunc 2>/dev/null
run "$MVQ" verify "$T/hashed.gguf"
check "verify a corrupted file: exit 2, mismatch named" \
    sh -c "[ $rc = 2 ] && grep -q \"tensor 't': hash mismatch\" '$T/err' && grep -q '1 of 1 tensor hashes differ' '$T/err'"
if [ -r "$FIXTURE" ]; then
    run "$MVQ" copy "$FIXTURE" "$T/stories.gguf"
    check "copy stories260K: byte-identical" sh -c "[ $rc = 0 ] && cmp -s '$FIXTURE' '$T/stories.gguf'"
fi

# ---- refused outputs ----
cp "$T/small.gguf" "$T/in.gguf"
ln -s "$T/in.gguf" "$T/sym.gguf"
ln "$T/in.gguf" "$T/hard.gguf"
for dst in in sym hard; do
    run "$MVQ" copy "$T/in.gguf" "$T/$dst.gguf"
    check "copy onto the input ($dst): exit 1, refused" sh -c "[ $rc = 1 ] && grep -q 'refusing to overwrite it' '$T/err'"
done
check "the input is untouched and no temporary file is left" \
    sh -c "cmp -s '$T/small.gguf' '$T/in.gguf' && [ $(leftovers "$T") = 0 ]"
run "$MVQ" copy "$T/small.gguf" /dev/full
check "copy to /dev/full: exit 2, refused" sh -c "[ $rc = 2 ] && grep -q 'not a regular file' '$T/err'"
run "$MVQ" copy "$T/small.gguf" "$T/nodir/out.gguf"
check "copy into a missing folder: exit 2" sh -c "[ $rc = 2 ] && grep -q 'cannot create a temporary file' '$T/err'"

# ---- a failing write (file size limit, as on a full disk) ----
mkdir "$T/full"
make_gguf "$T/big.gguf" 1000000
(ulimit -f 64 && trap '' XFSZ && "$MVQ" copy "$T/big.gguf" "$T/full/out.gguf" >"$T/out" 2>"$T/err")
rc=$?
check "failed write: exit 2, clear error, nothing left behind" \
    sh -c "[ $rc = 2 ] && grep -q 'write failed: File too large' '$T/err' && [ -z \"\$(ls -A '$T/full')\" ]"

# ---- interrupted by a signal: the temporary file is removed ----
make_gguf "$T/huge.gguf" 134217728 # 512 MiB of sparse zeros
for sig in INT TERM; do
    mkdir "$T/sig$sig"
    "$MVQ" copy "$T/huge.gguf" "$T/sig$sig/out.gguf" 2>/dev/null &
    pid=$!
    tries=0
    while [ "$(leftovers "$T/sig$sig")" = 0 ] && [ $tries -lt 5000 ] && kill -0 $pid 2>/dev/null; do
        tries=$((tries + 1))
    done
    kill -$sig $pid 2>/dev/null
    wait $pid
    rc=$?
    check "SIG$sig during a copy: killed, no temporary file, no output" \
        sh -c "[ $rc -gt 128 ] && [ -z \"\$(ls -A '$T/sig$sig')\" ]"
done

echo "1..$n"
[ $failed = 0 ]
