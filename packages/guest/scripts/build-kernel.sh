#!/bin/sh
# Builds the mini PV kernel (kernel/*.c, kernel/boot.S) into a multiboot v1 ELF.
#   scripts/build-kernel.sh [OUTPUT]   default: images/pv-kernel.elf (+ images/pv-kernel.build.json)
# The output is byte-reproducible for a given gcc/binutils: sources are compiled by relative
# path from kernel/ (no build directory or timestamp reaches the image), no build id, no debug
# info, and only gcc's own freestanding headers plus @pv/hypercall's generated pv_hypercall.h.
set -eu
PKG=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$PKG/images/pv-kernel.elf}
case $OUT in /*) ;; *) OUT=$(pwd)/$OUT ;; esac
CC=${CC:-gcc}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

CFLAGS="-m32 -march=i686 -O2 -std=gnu11 -ffreestanding -fno-pic -fno-pie -fno-stack-protector
  -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-common -fno-ident -mno-sse -mno-mmx
  -mno-80387 -Wall -Wextra -Werror -Wno-unused-parameter
  -nostdinc -isystem $($CC -m32 -print-file-name=include) -I ../../hypercall/include"
SOURCES="boot.S main.c arch.c console.c paging.c firmware.c smp.c pv_native.c pv_hyper.c workloads.c echo.c"

cd "$PKG/kernel"
OBJS=
for src in $SOURCES; do
  obj=$TMP/${src%.*}.o
  # shellcheck disable=SC2086
  $CC $CFLAGS -c "$src" -o "$obj"
  OBJS="$OBJS $obj"
done
mkdir -p "$(dirname "$OUT")"
# shellcheck disable=SC2086
$CC -m32 -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-T,link.ld -o "$OUT.tmp" $OBJS
mv "$OUT.tmp" "$OUT"
echo "built $OUT ($(wc -c < "$OUT") bytes)"
# The shipped image records the toolchain it was built with: the reproducibility test compares
# byte for byte only when the local gcc and ld report the same versions.
if [ "$OUT" = "$PKG/images/pv-kernel.elf" ]; then
  cat > "$PKG/images/pv-kernel.build.json" <<JSON
{
  "image": "pv-kernel.elf",
  "bytes": $(wc -c < "$OUT"),
  "sha256": "$(sha256sum "$OUT" | cut -d' ' -f1)",
  "gcc": "$($CC --version | head -n1)",
  "ld": "$(ld --version | head -n1)"
}
JSON
fi
