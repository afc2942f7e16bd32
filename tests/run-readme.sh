#!/bin/bash
# CI stage: the README's quick start, verbatim (the first line of the first
# ```sh block under "## Quick start"), in a fresh clone of this checkout's
# HEAD beside it, so that ../shared resolves as the README expects.  With
# ccache on PATH the build reuses the native stage's compiles.
# Usage: tests/run-readme.sh [CLONEDIR]   (default: SRC-readme beside SRC)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
clone=${1:-$src-readme}

cmd=$(awk '/^## Quick start/ { q = 1 } q && /^```sh/ { getline; print; exit }' "$src/README.md")
if [ -z "$cmd" ]; then
    echo "run-readme: no command under '## Quick start' in README.md" >&2
    exit 1
fi
rm -rf "$clone"
git clone -q "$src" "$clone"
echo "\$ $cmd"
(cd "$clone" && bash -e -o pipefail -c "$cmd")
rm -rf "$clone"
