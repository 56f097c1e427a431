#!/usr/bin/env bash
# nested/build.sh KDIR INNER_INITRD OUTDIR - the extra files of an outer test
# guest that runs an inner KVM guest (GUEST.md: QEMU's TCG emulates AMD SVM,
# so kvm-amd loads inside the test guest): qemu-system-x86_64 with the
# libraries ldd names and the firmware it loads for -kernel, the kvm modules
# of KDIR's kernel, and the inner guest's kernel and initramfs.  OUTDIR is a
# progs directory (mkinitrd.sh copies it into /bin): all of it lands in
# /bin/nested, run by nested/run-inner.  Rebuilt only when an input changed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kdir=$1
inner_initrd=$2
out=$3
qemu=$(command -v qemu-system-x86_64)
n="$out/nested"
mkdir -p "$n"/lib "$n"/share "$n"/kvm "$n"/mod
cp "$here/run-inner" "$n/"
cmp -s "$qemu" "$n/qemu-system-x86_64" || cp "$qemu" "$n/qemu-system-x86_64"
for lib in $(ldd "$qemu" | grep -o '/[^ ]*' | sort -u); do
	[ "$(basename "$lib")" = ld-linux-x86-64.so.2 ] && continue	# the initramfs has it
	cmp -s "$lib" "$n/lib/$(basename "$lib")" || cp -L "$lib" "$n/lib/"
done
# -kernel on a pc/q35 machine: SeaBIOS, the option ROMs of -kernel, vapic
for f in /usr/share/seabios/bios-256k.bin /usr/share/qemu/linuxboot_dma.bin \
	/usr/share/qemu/linuxboot.bin /usr/share/qemu/kvmvapic.bin; do
	cmp -s "$f" "$n/share/$(basename "$f")" || cp -L "$f" "$n/share/"
done
m=/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so
[ ! -f "$m" ] || cmp -s "$m" "$n/mod/$(basename "$m")" || cp "$m" "$n/mod/"
mdir=$(ls -d "$kdir"/root/lib/modules/*)
for k in virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-amd; do
	cmp -s "$mdir/kernel/$k.ko" "$n/kvm/$(basename "$k").ko" || cp "$mdir/kernel/$k.ko" "$n/kvm/"
done
cmp -s "$kdir/vmlinuz" "$n/vmlinuz" || cp -L "$kdir/vmlinuz" "$n/vmlinuz"
cmp -s "$inner_initrd" "$n/initrd.gz" || cp "$inner_initrd" "$n/initrd.gz"
