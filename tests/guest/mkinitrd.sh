#!/usr/bin/env bash
# mkinitrd.sh KERNEL_DIR OUT - build the test guest's initramfs.
# Contents: busybox-static, bash and socat with their libraries, the kernel
# modules the guest needs (fw_cfg for VMCOREINFO in dumps, virtio-net; and
# virtio_blk, loaded only by a guest given a disk: /etc/modules.disk),
# programs from tests/guest/progs/ (built by the caller), and the scripts
# beside this file.  Rebuilt only when an input changed.
# ARGUS_GUEST_ARCH=x86_64 (default) takes the host's own programs and their
# libraries (ldd); arm64 takes them from KERNEL_DIR/userland, which
# fetch-arm64.sh extracted from Debian's arm64 packages.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kdir=$1
out=$2
progs=${ARGUS_GUEST_PROGS:-}
arch=${ARGUS_GUEST_ARCH:-x86_64}
case "$arch" in
x86_64)
	src=""	# the host's own files
	MODULES="qemu_fw_cfg virtio_pci virtio_net"
	;;
arm64)
	src="$kdir/userland"
	[ -f "$src/.done" ] || { echo "mkinitrd.sh: $src missing: run fetch-arm64.sh first" >&2; exit 1; }
	# virtio_console: the control channel is a virtconsole (/dev/hvc0) on virt
	MODULES="qemu_fw_cfg virtio_pci virtio_net virtio_console"
	;;
*)
	echo "mkinitrd.sh: unknown ARGUS_GUEST_ARCH $arch (x86_64 or arm64)" >&2
	exit 1
	;;
esac
# a guest started with a disk (guest.py disk=, argus.disk on the kernel
# command line) loads these too; ext4 is built into Debian's kernels
DISK_MODULES="virtio_blk"
exes="/bin/bash /usr/bin/socat"
# an OCI runtime, for container tests (the host's, so x86-64 only)
[ "$arch" != x86_64 ] || [ ! -x /usr/bin/crun ] || exes="$exes /usr/bin/crun"

inputs() {
	echo "$arch"
	cat "$0" "$here/init" "$here/argus-ctl" "$here/argus-truth" "$src/bin/busybox"
	for exe in $exes; do cat "$src$exe"; done
	[ -z "$progs" ] || find "$progs" -type f -print0 | sort -z | xargs -0 -r cat
	echo "$kdir"
}
sum=$(inputs | sha256sum | cut -d' ' -f1)
if [ -f "$out" ] && [ "$(cat "$out.sum" 2>/dev/null)" = "$sum" ]; then
	exit 0
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,root,lib64,usr/bin,usr/lib,lib/modules}
cp "$src/bin/busybox" "$root/bin/busybox"
cp "$here/init" "$root/init"
cp "$here/argus-ctl" "$here/argus-truth" "$root/bin/"

# arm64: the NEEDED closure of $1, resolved in the extracted packages
# (the host's ldd cannot run arm64 programs); prints guest paths
declare -A needed=()
needed_arm64() {
	local so d found
	for so in $(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		[ -z "${needed[$so]:-}" ] || continue
		found=
		for d in /lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu; do
			if [ -e "$src$d/$so" ]; then found=$d/$so; break; fi
		done
		[ -n "$found" ] || { echo "mkinitrd.sh: $so (needed by $1) not in $src" >&2; exit 1; }
		needed[$so]=$found
		echo "$found"
		needed_arm64 "$src$found"
	done
}
for exe in $exes; do
	cp "$src$exe" "$root$exe"
	if [ "$arch" = x86_64 ]; then
		libs=$(ldd "$exe" | grep -o '/[^ ]*' | sort -u)
	else
		libs="$(needed_arm64 "$src$exe") /lib/ld-linux-aarch64.so.1"
	fi
	for lib in $libs; do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$src$lib" "$root$lib"
	done
done
ln -sf bash "$root/bin/sh.bash"
[ -z "$progs" ] || cp -a "$progs"/. "$root/bin/"

# modules in dependency order, from modules.dep
mdir=$(ls -d "$kdir"/root/lib/modules/*)
declare -A seen=()
order=()
add_mod() {	# $1: path relative to $mdir
	local rel=$1 dep
	[ -n "${seen[$rel]:-}" ] && return
	seen[$rel]=1
	for dep in $(grep "^$rel:" "$mdir/modules.dep" | cut -d: -f2); do
		add_mod "$dep"
	done
	order+=("$rel")
}
find_mod() {	# $1: module name; prints its path relative to $mdir, nothing when built in
	local rel
	rel=$(grep -E "/$1\.ko(\.xz|\.zst)?:" "$mdir/modules.dep" | cut -d: -f1 | head -n1 || true)
	if [ -z "$rel" ] && ! grep -qE "/$1\.ko$" "$mdir/modules.builtin" 2>/dev/null; then
		echo "mkinitrd.sh: module $1 not found in $mdir" >&2
		exit 1
	fi
	echo "$rel"
}
for m in $MODULES; do
	rel=$(find_mod "$m")
	[ -z "$rel" ] || add_mod "$rel"
done
nboot=${#order[@]}
for m in $DISK_MODULES; do
	rel=$(find_mod "$m")
	[ -z "$rel" ] || add_mod "$rel"
done
: >"$root/etc/modules.order"
: >"$root/etc/modules.disk"
for i in "${!order[@]}"; do
	rel=${order[$i]}
	name=$(basename "$rel")
	case "$name" in
	*.xz) xz -dc "$mdir/$rel" >"$root/lib/modules/${name%.xz}"; name=${name%.xz} ;;
	*.zst) zstd -qdc "$mdir/$rel" >"$root/lib/modules/${name%.zst}"; name=${name%.zst} ;;
	*) cp "$mdir/$rel" "$root/lib/modules/$name" ;;
	esac
	if [ "$i" -lt "$nboot" ]; then
		echo "/lib/modules/$name" >>"$root/etc/modules.order"
	else
		echo "/lib/modules/$name" >>"$root/etc/modules.disk"
	fi
done
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"

( cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet ) | gzip -1 >"$out.tmp.$$"
mv "$out.tmp.$$" "$out"
echo "$sum" >"$out.sum.$$"
mv "$out.sum.$$" "$out.sum"
