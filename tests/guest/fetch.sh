#!/usr/bin/env bash
# fetch.sh - fetch the guest kernel (Debian's cloud kernel) into the cache.
# Prints the cache directory.  Idempotent and quiet when already cached.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin
CACHE=${ARGUS_CACHE:-$HOME/.cache/argus}
PKG=${ARGUS_KERNEL_PKG:-linux-image-6.1.0-56-cloud-amd64}
dir="$CACHE/$PKG"
if [ ! -f "$dir/.done" ]; then
	mkdir -p "$dir"
	tmp=$(mktemp -d "$CACHE/dl.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	( cd "$tmp" && { apt-get download "$PKG" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null && apt-get download "$PKG" >/dev/null; }; } ) ||
		{ echo "fetch.sh: cannot download $PKG with apt-get" >&2; exit 1; }
	rm -rf "$dir/root"
	dpkg -x "$tmp"/"$PKG"_*.deb "$dir/root"
	vmlinuz=$(ls "$dir"/root/boot/vmlinuz-* | head -n1)
	[ -s "$vmlinuz" ] || { echo "fetch.sh: $PKG has no vmlinuz" >&2; exit 1; }
	ln -sf "$vmlinuz" "$dir/vmlinuz"
	kver=$(basename "$vmlinuz"); kver=${kver#vmlinuz-}
	# merged-/usr packages (Debian 13) keep modules in /usr/lib/modules
	[ -d "$dir/root/lib/modules" ] || { [ -d "$dir/root/usr/lib/modules" ] && ln -s usr/lib "$dir/root/lib"; }
	depmod -b "$dir/root" "$kver"	# the package leaves modules.dep to its postinst
	touch "$dir/.done"
fi
echo "$dir"
