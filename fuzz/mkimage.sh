#!/usr/bin/env bash
# mkimage.sh ARGUS OUT - the memory image fuzz_scan mutates: the test guest
# with a little of everything a scan decodes (files, a pipe, TCP over
# loopback, a unix socket, threads, memory maps, an interactive bash with
# history, an optimized kprobe and one on an ftrace site), dumped raw by
# argus itself.
set -euo pipefail
argus=$1
out=$2
g="python3 $(dirname "$0")/../tests/guest/guest.py"
name=fuzzimg$$
trap '$g stop $name >/dev/null 2>&1 || true' EXIT
$g start $name >/dev/null
for cmd in "exec 3>/tmp/w.txt 4</etc/passwd; echo hi >&3; exec sleep 1000" \
	   "sleep 1000 | sleep 1001" \
	   "exec socat TCP-LISTEN:8080,reuseaddr,fork EXEC:cat" \
	   "exec socat UNIX-LISTEN:/tmp/u.sock,fork EXEC:cat" \
	   "exec threads 3 1000" \
	   "exec memory file 1000"; do
	$g spawn $name -- "$cmd" >/dev/null
done
sleep 1
$g spawn $name -- "(echo hello; exec sleep 1000) | socat - TCP:127.0.0.1:8080" >/dev/null
$g spawn $name -- "sleep 1000 | socat - UNIX-CONNECT:/tmp/u.sock" >/dev/null
$g run $name -- "mkfifo /tmp/b; (printf 'echo one\nls /tmp\nHISTSIZE=5\n'; exec sleep 1000) >/tmp/b &" >/dev/null
$g spawn $name -- "exec bash -i </tmp/b >/dev/null 2>&1" >/dev/null
# what the kernel text checks prove from memory: an optimized kprobe (a jmp
# to its detour buffer, src/linux/optprobe.c) and a kprobe on an ftrace site
# (a trampoline of its own, src/linux/ftramp.c)
$g run $name -- "T=/sys/kernel/tracing; mount -t tracefs none \$T 2>/dev/null; cd \$T &&
	echo 1 >/proc/sys/debug/kprobes-optimization && echo 'p:fz1 x64_sys_call+5' >>kprobe_events &&
	echo 'p:fz2 __x64_sys_sysinfo' >>kprobe_events && echo 1 >events/kprobes/enable" >/dev/null ||
	echo "mkimage.sh: no kprobes in the image (the tracing proofs are not fuzzed)" >&2
sleep 2
"$argus" dump --source "qemu:/dev/shm/argus-${ARGUS_GUEST_PREFIX:-}$name.ram" --format raw -o "$out"
