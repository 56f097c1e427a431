#!/usr/bin/env bash
# build.sh OUTDIR - build the test rootkits (hidepid.ko, hidekmod.ko, hooksct.ko, hookx64.ko, hookkp.ko, hookft.ko, hookidt.ko, hooktp.ko, hookinl.ko, hookinm.ko, hooknf.ko, hideall.ko, hideblind.ko, hookftu.ko, hookblind.ko, bootstate.ko, klpcmd.ko) against Debian's headers of the test
# kernel (fetched with apt-get download into the cache, not installed).
# ARGUS_KVER names another kernel (Debian 11's 5.10, 13's 6.12), whose
# headers fetch-kernel.sh put in the cache: each module that builds for it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$1
CACHE=${ARGUS_CACHE:-$HOME/.cache/argus}
DEFAULT_KVER=6.1.0-56-cloud-amd64
KVER=${ARGUS_KVER:-$DEFAULT_KVER}
hdr="$CACHE/headers-$KVER"
if [ ! -f "$hdr/.done" ]; then
	mkdir -p "$hdr"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	common=$(echo "$KVER" | sed 's/-cloud-amd64$/-common/')
	kbuild=linux-kbuild-$(echo "$KVER" | cut -d. -f1,2)
	( cd "$tmp" && apt-get download "linux-headers-$KVER" "linux-headers-$common" "$kbuild" \
		>/dev/null 2>&1 ) || { echo "kmod/build.sh: cannot download the kernel headers" >&2; exit 1; }
	for d in "$tmp"/*.deb; do dpkg -x "$d" "$hdr"; done
	# the flavour's Makefile includes the common one by absolute path
	sed -i "s|^include /usr/src/|include $hdr/usr/src/|" "$hdr/usr/src/linux-headers-$KVER/Makefile"
	touch "$hdr/.done"
fi
mkdir -p "$out"
mods="hidepid hidekmod hooksct hookx64 hookkp hookft hookidt hooktp hookinl hookinm hooknf hideall hideblind hookftu hookblind bootstate klpcmd"
src="$hdr/usr/src/linux-headers-$KVER"
# the compiler the kernel was built with (Debian 11's gcc-10, 13's gcc-14)
# may not be here: then this machine's gcc, which builds these modules
# (-fmin-function-alignment is gcc 14's; -falign-functions does as well)
cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\?\([^ ]*\) .*/\1/p' "$src/include/config/auto.conf" 2>/dev/null)
kmake=(make -s -C "$src")
if [ -n "$cc" ] && ! command -v "$cc" >/dev/null; then
	kmake+=(CC=gcc CONFIG_CC_HAS_MIN_FUNCTION_ALIGNMENT=)
fi
# no BTF for another kernel's modules (pahole is not among our packages)
[ "$KVER" = "$DEFAULT_KVER" ] || kmake+=(CONFIG_DEBUG_INFO_BTF_MODULES=)
stale=
for m in $mods; do
	if [ ! -f "$out/$m.ko" ] || [ "$here/$m.c" -nt "$out/$m.ko" ] || [ "$here/Kbuild" -nt "$out/$m.ko" ] || [ "$here/rkit.h" -nt "$out/$m.ko" ] || [ "$here/hookft.c" -nt "$out/$m.ko" ] || [ "$here/hookinl.c" -nt "$out/$m.ko" ]; then
		stale=1
	fi
done
# another kernel's build leaves some out: built again when a source changed
if [ "$KVER" != "$DEFAULT_KVER" ] && [ -f "$out/.kmod-partial" ]; then
	stale=$(find "$here" -maxdepth 1 -type f -newer "$out/.kmod-partial" | head -n1)
fi
if [ -n "$stale" ]; then
	work=$(mktemp -d)
	cp "$here"/*.c "$here"/*.h "$here/Kbuild" "$work/"
	if [ "$KVER" = "$DEFAULT_KVER" ]; then
		"${kmake[@]}" M="$work" modules >/dev/null
		for m in $mods; do cp "$work/$m.ko" "$out/"; done
	else
		# another kernel: each module that builds against its headers (the
		# rootkits are written for 6.1; some kernel interfaces differ):
		# every object compiled that can be (make -k), then those modules
		# linked
		"${kmake[@]}" -k M="$work" modules >"$work/build.log" 2>&1 || true
		built= left=
		for m in $mods; do
			if [ -f "$work/$m.o" ]; then
				built="$built $m"
			else
				left="$left $m"
				grep -m1 -E "$m\.c.*error" "$work/build.log" | sed "s|^|kmod/build.sh: |" >&2 || true
			fi
		done
		if [ -n "$built" ]; then
			echo "obj-m := $(for m in $built; do printf '%s.o ' "$m"; done)" >"$work/Kbuild"
			if "${kmake[@]}" M="$work" modules >"$work/link.log" 2>&1; then
				for m in $built; do cp "$work/$m.ko" "$out/"; done
			else
				sed 's|^|kmod/build.sh: |' "$work/link.log" | tail -n 5 >&2
				left="$left$built" built=
			fi
		fi
		echo "kmod/build.sh: for $KVER built:${built:- none}${left:+; not building here:$left}" >&2
		touch "$out/.kmod-partial"
	fi
	rm -rf "$work"
fi
