#!/usr/bin/env bash
# fetch-kernel.sh SUITE - fetch the newest cloud-amd64 kernel of another Debian
# release (bullseye: 5.10, trixie: 6.12) with a private apt configuration, so
# the machine's own apt state is untouched.  Prints the package name, ready
# for ARGUS_KERNEL_PKG (fetch.sh then finds it in the private cache).
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin
suite=$1
CACHE=${ARGUS_CACHE:-$HOME/.cache/argus}
apt_dir="$CACHE/apt-$suite"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
cat >"$apt_dir/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main
SRC
opts=(-o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache::Archives="$apt_dir/archives"
      -o Dir::Cache::pkgcache="$apt_dir/pkgcache.bin" -o Dir::Cache::srcpkgcache="$apt_dir/srcpkgcache.bin"
      -o APT::Architecture=amd64 -o Debug::NoLocking=1)
if [ ! -f "$apt_dir/.updated" ] || [ -n "$(find "$apt_dir/.updated" -mtime +7)" ]; then
	apt-get "${opts[@]}" update -qq >/dev/null 2>&1 || { echo "fetch-kernel.sh: apt-get update for $suite failed" >&2; exit 1; }
	touch "$apt_dir/.updated"
fi
pkg=$(apt-cache "${opts[@]}" search --names-only '^linux-image-[0-9][^ ]*-cloud-amd64$' 2>/dev/null |
	awk '{print $1}' | sort -V | tail -n1)
[ -n "$pkg" ] || { echo "fetch-kernel.sh: no cloud kernel in $suite" >&2; exit 1; }
dir="$CACHE/$pkg"
if [ ! -f "$dir/.done" ]; then
	mkdir -p "$dir"
	tmp=$(mktemp -d "$CACHE/dl.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	( cd "$tmp" && apt-get "${opts[@]}" download "$pkg" >/dev/null 2>&1 ) ||
		{ echo "fetch-kernel.sh: cannot download $pkg" >&2; exit 1; }
	rm -rf "$dir/root"
	dpkg -x "$tmp"/"$pkg"_*.deb "$dir/root"
	vmlinuz=$(ls "$dir"/root/boot/vmlinuz-* | head -n1)
	ln -sf "$vmlinuz" "$dir/vmlinuz"
	kver=$(basename "$vmlinuz"); kver=${kver#vmlinuz-}
	# merged-/usr packages (Debian 13) keep modules in /usr/lib/modules
	[ -d "$dir/root/lib/modules" ] || { [ -d "$dir/root/usr/lib/modules" ] && ln -s usr/lib "$dir/root/lib"; }
	depmod -b "$dir/root" "$kver"
	touch "$dir/.done"
fi
echo "$pkg"
