#!/usr/bin/env bash
# build.sh OUTDIR - build the guest's test programs (static) into OUTDIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$1
mkdir -p "$out"
for src in "$here"/*.c; do
	exe="$out/$(basename "${src%.c}")"
	if [ ! -x "$exe" ] || [ "$src" -nt "$exe" ]; then
		cc -O2 -static -pthread -o "$exe.tmp" "$src"
		mv "$exe.tmp" "$exe"
	fi
done
