#!/usr/bin/env bash
# fetch-kernel.sh SUITE - fetch the newest cloud-amd64 kernel of another Debian
# release (bullseye: 5.10, trixie: 6.12) with a private apt configuration, so
# the machine's own apt state is untouched.  Prints the package name, ready
# for ARGUS_KERNEL_PKG (fetch.sh then finds it in the private cache).
#
# Its headers too (into the cache, where kmod/build.sh takes them from), so
# the test rootkits can be built for it.
#
# Robust rather than quiet: the package lists are refreshed when a week old
# or when the package they name is gone from the mirror (Debian drops a
# kernel's older builds), a suite that has left deb.debian.org is looked for
# on archive.debian.org, concurrent callers (parallel test sessions share the
# cache) take a lock, and every failure says what apt said.  A kernel already
# fetched for SUITE is used when the network is not there.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin
suite=${1:?usage: fetch-kernel.sh SUITE}
CACHE=${ARGUS_CACHE:-$HOME/.cache/argus}
apt_dir="$CACHE/apt-$suite"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
exec 9>"$apt_dir/.lock"
flock 9

log="$apt_dir/apt.log"
die() {
	echo "fetch-kernel.sh: $*" >&2
	[ -s "$log" ] && sed 's/^/  apt: /' "$log" | tail -n 8 >&2
	exit 1
}
: >"$apt_dir/status"
opts=(-o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o Dir::State::Lists="$apt_dir/lists" -o Dir::State::status="$apt_dir/status"
      -o Dir::Cache::Archives="$apt_dir/archives"
      -o Dir::Cache::pkgcache="$apt_dir/pkgcache.bin" -o Dir::Cache::srcpkgcache="$apt_dir/srcpkgcache.bin"
      -o APT::Architecture=amd64 -o APT::Architectures=amd64 -o Debug::NoLocking=1
      -o Acquire::Retries=3)

# the suite on a mirror: deb.debian.org, else, when the suite has left it,
# the archive of old releases (whose Release files have expired).  Fails
# when apt could not fetch every list.
update() {
	local mirror valid=true out
	: >"$log"
	for mirror in http://deb.debian.org/debian http://archive.debian.org/debian; do
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" \
			>"$apt_dir/sources.list"
		rm -f "$apt_dir/pkgcache.bin" "$apt_dir/srcpkgcache.bin"
		echo "== $mirror $suite" >>"$log"
		out=$(apt-get "${opts[@]}" -o Acquire::Check-Valid-Until=$valid update -qq 2>&1) &&
			! grep -q '^W: Failed to fetch' <<<"$out" && [ -n "$(newest)" ] &&
			{ touch "$apt_dir/.updated"; return 0; }
		echo "$out" >>"$log"
		grep -q 'does not have a Release file' <<<"$out" || return 1
		valid=false
	done
	return 1
}
newest() {
	apt-cache "${opts[@]}" search --names-only '^linux-image-[0-9][^ ]*-cloud-amd64$' 2>/dev/null |
		awk '{print $1}' | sort -V | tail -n1
}
# the kernel fetched last time, when it is still complete in the cache
cached() {
	local p
	p=$(cat "$apt_dir/kernel" 2>/dev/null) && [ -f "$CACHE/$p/.done" ] && echo "$p"
}

fresh=0
if [ ! -f "$apt_dir/.updated" ] || [ -n "$(find "$apt_dir/.updated" -mtime +7)" ] || [ -z "$(newest)" ]; then
	if update; then
		fresh=1
	elif [ -n "$(newest)" ]; then
		echo "fetch-kernel.sh: apt-get update for $suite failed; using the package lists of" \
			"$(date -r "$apt_dir/lists" +%F)" >&2
	elif p=$(cached); then
		echo "fetch-kernel.sh: apt-get update for $suite failed; using $p fetched before" >&2
		echo "$p"
		exit 0
	else
		die "apt-get update for $suite failed"
	fi
fi
pkg=$(newest)
[ -n "$pkg" ] || die "no linux-image-*-cloud-amd64 in $suite's package lists"
dir="$CACHE/$pkg"
if [ ! -f "$dir/.done" ]; then
	tmp=$(mktemp -d "$CACHE/dl.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	download() { ( cd "$tmp" && apt-get "${opts[@]}" download "$pkg" >"$log" 2>&1 ); }
	if ! download; then
		# lists older than the mirror name a build it has dropped: refresh once
		[ "$fresh" = 0 ] && find "$apt_dir/lists" -maxdepth 1 -type f -delete && update ||
			die "cannot download $pkg"
		pkg=$(newest)
		dir="$CACHE/$pkg"
		[ -f "$dir/.done" ] || download || die "cannot download $pkg"
	fi
fi
if [ ! -f "$dir/.done" ]; then
	mkdir -p "$dir"
	rm -rf "$dir/root"
	dpkg -x "$tmp"/"$pkg"_*.deb "$dir/root"
	vmlinuz=$(ls "$dir"/root/boot/vmlinuz-* | head -n1)
	[ -s "$vmlinuz" ] || die "$pkg has no vmlinuz"
	ln -sf "$vmlinuz" "$dir/vmlinuz"
	kver=$(basename "$vmlinuz"); kver=${kver#vmlinuz-}
	# merged-/usr packages (Debian 13) keep modules in /usr/lib/modules
	[ -d "$dir/root/lib/modules" ] || { [ -d "$dir/root/usr/lib/modules" ] && ln -s usr/lib "$dir/root/lib"; }
	depmod -b "$dir/root" "$kver"
	touch "$dir/.done"
fi
# The kbuild tools of a newer Debian (13's modpost and objtool want glibc
# 2.38) run under that release's own loader and libraries, fetched once
# into the cache: each tool that does not link here becomes a script that
# starts it so.
wrap_tools() {
	local bad=() f libs="$CACHE/libs-$suite" ld d
	while IFS= read -r f; do
		case $f in *."$suite") continue ;; esac	# wrapped already
		[ "$(head -c4 "$f" | od -An -c | tr -d ' ')" = 177ELF ] || continue
		ldd "$f" 2>&1 | grep -q 'not found' && bad+=("$f")
	done < <(find "$1/usr/lib" -type f -perm -u+x)
	[ ${#bad[@]} -gt 0 ] || return 0
	if [ ! -f "$libs/.done" ]; then
		local ltmp
		ltmp=$(mktemp -d "$CACHE/dl.XXXXXX")
		( cd "$ltmp" && apt-get "${opts[@]}" download libc6 zlib1g libzstd1 >"$log" 2>&1 &&
			{ apt-get "${opts[@]}" download libelf1t64 >>"$log" 2>&1 ||
			  apt-get "${opts[@]}" download libelf1 >>"$log" 2>&1; } ) || { rm -rf "$ltmp"; return 1; }
		rm -rf "$libs"
		mkdir -p "$libs"
		for d in "$ltmp"/*.deb; do dpkg -x "$d" "$libs"; done
		rm -rf "$ltmp"
		touch "$libs/.done"
	fi
	ld=$libs/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
	[ -x "$ld" ] || ld=$libs/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
	for f in "${bad[@]}"; do
		mv "$f" "$f.$suite"
		printf '#!/bin/sh\nexec %s --library-path %s:%s %s "$@"\n' "$ld" \
			"$libs/usr/lib/x86_64-linux-gnu" "$libs/lib/x86_64-linux-gnu" "$f.$suite" >"$f"
		chmod +x "$f"
	done
	# each wrapped tool runs (one taken at random once was sign-file, which
	# needs bullseye's libcrypto; it and extract-cert sign and embed keys,
	# which module builds here never do: not checked).  Runs: its loader
	# found its libraries (126, 127: not), and it was not killed; objtool
	# and resolve_btfids answer --help with their usage and 129.
	local out rc
	for f in "${bad[@]}"; do
		case $f in */sign-file | */extract-cert) continue ;; esac
		out=$("$f" --help 2>&1) && continue
		rc=$?
		case $rc in 126 | 127) return 1 ;; esac
		[ "$rc" -le 128 ] || grep -qi usage <<<"$out" || return 1
	done
}

# its headers, for the test rootkits (kmod/build.sh), where kmod/build.sh
# looks for them; not fatal: the guest then boots without the rootkits
kver=${pkg#linux-image-}
hdr="$CACHE/headers-$kver"
if [ ! -f "$hdr/.done" ]; then
	htmp=$(mktemp -d "$CACHE/dl.XXXXXX")
	common=${kver%-cloud-amd64}-common
	kbuild=$(apt-cache "${opts[@]}" depends "linux-headers-$kver" 2>/dev/null |
		awk '/Depends: linux-kbuild-/ {print $2; exit}')
	if ( cd "$htmp" && apt-get "${opts[@]}" download "linux-headers-$kver" "linux-headers-$common" \
		"${kbuild:-linux-kbuild-$(echo "$kver" | cut -d. -f1,2)}" >"$log" 2>&1 ); then
		mkdir -p "$hdr"
		for d in "$htmp"/*.deb; do dpkg -x "$d" "$hdr"; done
		# the flavour's Makefile includes the common one by absolute path
		sed -i "s|^include /usr/src/|include $hdr/usr/src/|" "$hdr/usr/src/linux-headers-$kver/Makefile"
		if wrap_tools "$hdr"; then
			touch "$hdr/.done"
		else
			echo "fetch-kernel.sh: $kver's kbuild tools do not run here (the test rootkits need them)" >&2
		fi
	else
		echo "fetch-kernel.sh: cannot download the headers of $kver (the test rootkits need them)" >&2
	fi
	rm -rf "$htmp"
fi
echo "$pkg" >"$apt_dir/kernel"
echo "$pkg"
