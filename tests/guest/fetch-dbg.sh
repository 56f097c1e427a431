#!/usr/bin/env bash
# fetch-dbg.sh - fetch the guest kernel's debug symbols (Debian's -dbg package,
# several hundred MB) into the cache and print the path of its vmlinux.
# Idempotent and quiet when already cached.  Only vmlinux is kept: the
# modules' debug info is not needed to walk the task list.
set -euo pipefail
CACHE=${ARGUS_CACHE:-$HOME/.cache/argus}
PKG=${ARGUS_KERNEL_PKG:-linux-image-6.1.0-56-cloud-amd64}-dbg
dir="$CACHE/$PKG"
if [ ! -f "$dir/.done" ]; then
	mkdir -p "$dir"
	tmp=$(mktemp -d "$CACHE/dl.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	( cd "$tmp" && { apt-get download "$PKG" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null && apt-get download "$PKG" >/dev/null; }; } ) ||
		{ echo "fetch-dbg.sh: cannot download $PKG with apt-get" >&2; exit 1; }
	deb=$(ls "$tmp"/"$PKG"_*.deb)
	# the data member holds usr/lib/debug/boot/vmlinux-<kver> among ~4000 .ko files
	mkdir "$tmp/x"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp/x" --wildcards './usr/lib/debug/boot/vmlinux-*'
	v=$(ls "$tmp"/x/usr/lib/debug/boot/vmlinux-* | head -n1)
	[ -s "$v" ] || { echo "fetch-dbg.sh: $PKG has no vmlinux" >&2; exit 1; }
	mv "$v" "$dir/vmlinux"
	touch "$dir/.done"
fi
echo "$dir/vmlinux"
