#!/usr/bin/env bash
# build.sh OUTDIR - build the guest's test programs (static) into OUTDIR.
# CC picks the compiler (aarch64-linux-gnu-gcc for the arm64 guest).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$1
mkdir -p "$out"
for src in "$here"/*.c; do
	exe="$out/$(basename "${src%.c}")"
	if [ ! -x "$exe" ] || [ "$src" -nt "$exe" ]; then
		"${CC:-cc}" -O2 -static -pthread -o "$exe.tmp.$$" "$src"
		mv "$exe.tmp.$$" "$exe"
	fi
done
