"""Start-up against the size of RAM: start of `argus ps` to its first process
line, and the pages start-up read (`argus info`'s startup_pages), on real
x86-64 guests of 512 MiB, 4 GiB and 16 GiB (one at a time; TCG touches only
what the guest uses of its shared RAM file, so the big ones are sparse).
Goal: under 100 ms each, and 16 GiB / 512 MiB at most 1.5.

Not a test: numbers.  bench/run startup [path/to/argus] [MiB...]
"""
import json
import resource
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "guest"))
from guest import Guest  # noqa: E402
from bench import row  # noqa: E402

RUNS = 15


def first_line_time(argus, args):
    t0 = time.monotonic()
    p = subprocess.Popen([argus, "ps", *args], stdout=subprocess.PIPE, text=True)
    p.stdout.readline()  # header
    p.stdout.readline()  # first process
    t = time.monotonic() - t0
    p.stdout.read()
    p.wait()
    return t


def measure(argus, mb, kernel_pkg=None):
    g = Guest(f"bstart{mb}", mem_mb=mb, kernel_pkg=kernel_pkg)
    g.start()
    try:
        # above 2 GiB a q35 guest's RAM is split around the PCI hole: the
        # regions map says where each part of the file lies
        args = ["--source", f"qemu:{g.ram_path}", "--regions", g.regions_path]
        first_line_time(argus, args)  # warm the page cache and the binary
        times = sorted(first_line_time(argus, args) for _ in range(RUNS))
        d = json.loads(subprocess.run([argus, "info", *args, "--json"],
                                      capture_output=True, text=True, check=True).stdout)
        # CPU, not wall: on a shared machine wall time is mostly waiting
        cpu = []
        for _ in range(5):
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([argus, "info", *args, "--json"], stdout=subprocess.DEVNULL, check=True)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
        d["cpu"] = statistics.median(cpu)
        return statistics.median(times), times[-1], d
    finally:
        g.stop()


def main():
    argus = os.path.abspath(sys.argv[1])
    sizes = [int(a) for a in sys.argv[2:]] or [512, 4096, 16384]
    kernel_pkg = os.environ.get("ARGUS_KERNEL_PKG")
    p50 = {}
    for mb in sizes:
        med, worst, d = measure(argus, mb, kernel_pkg)
        p50[mb] = med
        row(f"start to first ps line, {mb} MiB guest (goal < 100 ms)",
            f"p50 {med * 1000:.1f} ms, max {worst * 1000:.1f} ms ({RUNS} runs)")
        row(f"  pages read at start-up, {mb} MiB guest",
            f"{d.get('startup_pages', '?')} distinct, {d['reads']} reads, "
            f"{d['bytes'] >> 10} KiB; VMCOREINFO at 0x{d['vmcoreinfo_physical_address']:x}")
        row(f"  CPU of argus info (open + prove), {mb} MiB guest",
            f"p50 {d['cpu'] * 1000:.0f} ms user+sys")
    if len(p50) > 1:
        lo, hi = min(p50), max(p50)
        row(f"start-up {hi} MiB / {lo} MiB (goal <= 1.5)", f"{p50[hi] / p50[lo]:.2f}")


if __name__ == "__main__":
    main()
