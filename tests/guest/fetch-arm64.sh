#!/usr/bin/env bash
# fetch-arm64.sh - fetch what the arm64 test guest needs from Debian 12
# (bookworm) with a private apt configuration, so the machine's own dpkg/apt
# state is untouched: the newest 6.1 cloud-arm64 kernel, busybox-static, bash
# and socat with the arm64 libraries they need.  Extracted with dpkg -x into
# the cache.  Prints the kernel's cache directory (as fetch.sh does), whose
# userland/ holds the arm64 programs and libraries.  Idempotent and quiet
# when already cached.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin
CACHE=${ARGUS_CACHE:-$HOME/.cache/argus}
USERLAND_PKGS="busybox-static bash socat"

die() { echo "fetch-arm64.sh: $*" >&2; exit 1; }

# shellcheck source=apt-arm64.sh
. "$(dirname "$0")/apt-arm64.sh"
apt_arm64_update

# download PKG... into a temporary directory and extract each into DEST
fetch_into() {	# $1: dest, then packages
	local dest=$1 tmp
	shift
	tmp=$(mktemp -d "$CACHE/dl.XXXXXX")
	( cd "$tmp" && apt-get "${opts[@]}" download "$@" >/dev/null 2>&1 ) || {
		rm -rf "$tmp"; die "cannot download $* for arm64"; }
	for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$dest"; done
	rm -rf "$tmp"
}

# ---- the kernel ----
pkg=$(apt-cache "${opts[@]}" search --names-only '^linux-image-6\.1\.[0-9][^ ]*-cloud-arm64$' 2>/dev/null |
	awk '{print $1}' | sort -V | tail -n1)
[ -n "$pkg" ] || die "no 6.1 cloud-arm64 kernel in bookworm"
dir="$CACHE/$pkg"
if [ ! -f "$dir/.done" ]; then
	mkdir -p "$dir"
	rm -rf "$dir/root"
	fetch_into "$dir/root" "$pkg"
	vmlinuz=$(ls "$dir"/root/boot/vmlinuz-* | head -n1)
	[ -s "$vmlinuz" ] || die "$pkg has no vmlinuz"
	ln -sf "$vmlinuz" "$dir/vmlinuz"
	kver=$(basename "$vmlinuz"); kver=${kver#vmlinuz-}
	depmod -b "$dir/root" "$kver"	# the package leaves modules.dep to its postinst
	touch "$dir/.done"
fi

# ---- the userland: busybox-static, bash, socat and their libraries ----
ul="$dir/userland"
if [ ! -f "$ul/.done" ]; then
	rm -rf "$ul"
	mkdir -p "$ul"
	# the Depends closure, less what is not a library (bash's base-files, ...)
	libs=$(apt-cache "${opts[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
		--no-breaks --no-replaces --no-enhances $USERLAND_PKGS 2>/dev/null |
		grep -E '^lib[^ <]*$' | grep -vE '^libc-(bin|l10n)$|^libgcc-s1$' | sort -u)
	fetch_into "$ul" $USERLAND_PKGS libc6 libgcc-s1 $libs
	# every NEEDED library of bash and socat must be there
	libpath=("$ul/lib/aarch64-linux-gnu" "$ul/usr/lib/aarch64-linux-gnu")
	for exe in "$ul/bin/bash" "$ul/usr/bin/socat"; do
		for so in $(readelf -d "$exe" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			found=
			for d in "${libpath[@]}"; do [ -e "$d/$so" ] && found=1; done
			[ -n "$found" ] || die "$so (needed by $(basename "$exe")) is in none of the fetched packages"
		done
	done
	[ -e "$ul/lib/ld-linux-aarch64.so.1" ] || die "libc6:arm64 has no /lib/ld-linux-aarch64.so.1"
	touch "$ul/.done"
fi
echo "$dir"
