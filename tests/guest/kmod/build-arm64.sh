#!/usr/bin/env bash
# build-arm64.sh OUTDIR - cross-build the arm64 test rootkits (every module
# of arm64/Kbuild, from arm64/*.c, some of which include a module of this
# folder: hookkp64.c is ../hookkp.c built for arm64) into OUTDIR, against
# Debian's headers of the arm64 test kernel: linux-headers-<abi>-cloud-arm64
# and -common, fetched with the private apt configuration of fetch-arm64.sh
# (apt-arm64.sh), and the HOST's linux-kbuild-6.1 (amd64: its fixdep and
# modpost run here; the arm64 package's would not), of the same version.
# All extracted with dpkg -x into the cache, not installed.  The ABI is the
# kernel fetch-arm64.sh fetched (or ARGUS_KVER, e.g. 6.1.0-57-cloud-arm64).
# Needs aarch64-linux-gnu-gcc (gcc-aarch64-linux-gnu).
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin
here=$(cd "$(dirname "$0")" && pwd)
src="$here/arm64"
out=$1
CACHE=${ARGUS_CACHE:-$HOME/.cache/argus}
die() { echo "kmod/build-arm64.sh: $*" >&2; exit 1; }
command -v aarch64-linux-gnu-gcc >/dev/null || die "no aarch64-linux-gnu-gcc (gcc-aarch64-linux-gnu)"

KVER=${ARGUS_KVER:-}
if [ -z "$KVER" ]; then
	kdir=$("$here/../fetch-arm64.sh")
	KVER=$(basename "$(readlink -f "$kdir/vmlinuz")"); KVER=${KVER#vmlinuz-}
fi
case $KVER in *-cloud-arm64) ;; *) die "not an arm64 cloud kernel: $KVER" ;; esac
hdr="$CACHE/headers-$KVER"
kdir_hdr="$hdr/usr/src/linux-headers-$KVER"
if [ ! -f "$hdr/.done" ]; then
	# shellcheck source=../apt-arm64.sh
	. "$here/../apt-arm64.sh"
	apt_arm64_update
	common=${KVER%-cloud-arm64}-common
	# the version the headers were built with, for the host's kbuild
	ver=$(apt-cache "${opts[@]}" show "linux-headers-$KVER" 2>/dev/null | sed -n 's/^Version: //p' | head -n1)
	[ -n "$ver" ] || die "no linux-headers-$KVER in bookworm arm64"
	kbuild=linux-kbuild-$(echo "$KVER" | cut -d. -f1,2)
	rm -rf "$hdr"
	mkdir -p "$hdr"
	tmp=$(mktemp -d "$CACHE/dl.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	( cd "$tmp" && apt-get "${opts[@]}" download "linux-headers-$KVER" "linux-headers-$common" \
		>/dev/null 2>&1 ) || die "cannot download linux-headers-$KVER and -$common for arm64"
	# the machine's own apt (amd64): fixdep, modpost and the rest run here
	( cd "$tmp" && apt-get download "$kbuild=$ver" >/dev/null 2>&1 ) ||
		die "cannot download $kbuild=$ver (amd64) from the machine's apt: apt-get update?"
	for d in "$tmp"/*.deb; do dpkg -x "$d" "$hdr"; done
	rm -rf "$tmp"
	trap - EXIT
	# the flavour's Makefile includes the common one by absolute path
	sed -i "s|^include /usr/src/|include $hdr/usr/src/|" "$kdir_hdr/Makefile"
	# scripts and tools point at /usr/lib/linux-kbuild-6.1/...: at the extracted kbuild
	for d in "$kdir_hdr" "$hdr/usr/src/linux-headers-$common"; do
		for l in "$d"/scripts "$d"/tools "$d"/scripts/* "$d"/tools/*; do
			[ -L "$l" ] || continue
			t=$(readlink "$l")
			case $t in /*) ln -sfn "$hdr$t" "$l" ;; esac
		done
	done
	[ -x "$kdir_hdr/scripts/basic/fixdep" ] || die "no host fixdep under $kdir_hdr/scripts"
	file -L "$kdir_hdr/scripts/basic/fixdep" | grep -q x86-64 || die "fixdep is not an x86-64 program"
	touch "$hdr/.done"
fi

mods=$(sed -n 's/^obj-m[ :+]*=//p' "$src/Kbuild" | tr ' ' '\n' | sed -n 's/\.o$//p')
[ -n "$mods" ] || die "no module in $src/Kbuild"
mkdir -p "$out"
stale=
# arm64/*.c may include a module of kmod/ (../hookkp.c): those are sources too
for m in $mods; do
	for f in "$src"/*.c "$src"/*.h "$src/Kbuild" "$here"/*.c "$here"/*.h; do
		[ -f "$out/$m.ko" ] && [ ! "$f" -nt "$out/$m.ko" ] || stale=1
	done
done
if [ -n "$stale" ]; then
	# kmod/ and kmod/arm64/ as they are laid out here, so ../hookkp.c resolves
	work=$(mktemp -d)
	mkdir "$work/arm64"
	cp "$here"/*.c "$here"/*.h "$work/"
	cp "$src"/*.c "$src"/*.h "$src/Kbuild" "$work/arm64/"
	make -s -C "$kdir_hdr" M="$work/arm64" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- modules \
		>"$work/make.log" 2>&1 || { cat "$work/make.log" >&2; rm -rf "$work"; die "make failed"; }
	for m in $mods; do cp "$work/arm64/$m.ko" "$out/"; done
	rm -rf "$work"
fi
