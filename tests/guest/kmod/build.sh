#!/usr/bin/env bash
# build.sh OUTDIR - build the test rootkits (hidepid.ko, hidekmod.ko, hooksct.ko, hookx64.ko, hookkp.ko, hookft.ko, hookidt.ko, hooktp.ko, hookinl.ko, hooknf.ko, hideall.ko, hideblind.ko, hookftu.ko, hookblind.ko) against Debian's headers of the test
# kernel (fetched with apt-get download into the cache, not installed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$1
CACHE=${ARGUS_CACHE:-$HOME/.cache/argus}
KVER=${ARGUS_KVER:-6.1.0-56-cloud-amd64}
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
stale=
for m in hidepid hidekmod hooksct hookx64 hookkp hookft hookidt hooktp hookinl hooknf hideall hideblind hookftu hookblind; do
	if [ ! -f "$out/$m.ko" ] || [ "$here/$m.c" -nt "$out/$m.ko" ] || [ "$here/Kbuild" -nt "$out/$m.ko" ] || [ "$here/rkit.h" -nt "$out/$m.ko" ] || [ "$here/hookft.c" -nt "$out/$m.ko" ]; then
		stale=1
	fi
done
if [ -n "$stale" ]; then
	work=$(mktemp -d)
	cp "$here"/*.c "$here"/*.h "$here/Kbuild" "$work/"
	make -s -C "$hdr/usr/src/linux-headers-$KVER" M="$work" modules >/dev/null
	for m in hidepid hidekmod hooksct hookx64 hookkp hookft hookidt hooktp hookinl hooknf hideall hideblind hookftu hookblind; do cp "$work/$m.ko" "$out/"; done
	rm -rf "$work"
fi
