#!/bin/sh
# Regenerates the committed fallback corpus test/corpus/difftest.txt.gz: builds the generator with
# gcc and runs it on this (x86-64) host with the fixed seed 1, 300 cases per form.
# Usage (from packages/x86-core): npm run difftest:corpus   or   sh test/difftest/make-corpus.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -Wall -Wextra -o "$tmp/difftest" "$here/gen.c"
mkdir -p "$here/../corpus"
"$tmp/difftest" 1 300 | gzip -9n > "$tmp/difftest.txt.gz"
mv "$tmp/difftest.txt.gz" "$here/../corpus/difftest.txt.gz"
echo "wrote $here/../corpus/difftest.txt.gz ($(wc -c < "$here/../corpus/difftest.txt.gz") bytes)"
