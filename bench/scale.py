"""argus on a guest with many processes: reads per distinct page, the page
cache's memory, and the scan's time on 1 and 2 threads.  The guest's RAM
file is read in place (no cache); reads per distinct page and the cache's
memory are measured on the QEMU process's memory (vm:PID), which argus
copies page by page into its bounded cache.

Not a test: numbers, for people.  Run with `bench/run scale [SIZES...]`.

The guest (Linux 6.1, 4 GiB, 2 vCPUs, TCG) grows to each size with
tests/guest/progs/forkmany: up to 10,000 processes forked (each its own
address space, files and three memory areas of its own), past that made
with clone(CLONE_VM) (processes of their own that share their creator's
memory: a fork costs milliseconds under TCG).  Each measurement is taken
with the guest paused (its vCPUs then take no host CPU), SCANS scans in one
process (bench/scanbench.c), the median time kept.  On a shared machine the
wall-clock speed-up says little (a second thread may find no free core), so
the CPU time is given too: the whole scan's, and its critical path on idle
cores (the serial part plus the busiest decoding thread's CPU time).
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "guest"))
from guest import Guest  # noqa: E402

SCANS = 5
FORKED_MAX = 10000


def row(label, value):
    print(f"{label:60s} {value}", flush=True)


def scanbench(argus, src, threads, regions=None, scans=SCANS):
    import bench
    return bench.scanbench(argus, src, scans, args=["--threads", str(threads),
                                                    "--processes", "4000000",
                                                    *(["--regions", regions] if regions else [])])


def memsize(n):
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def count(g):
    return int(g.check("ls -d /proc/[0-9]* | wc -l", timeout=90).strip())


def grow_to(g, total):
    """Start processes until the guest has about total; how many it has."""
    have = count(g)
    while have < total:
        n = total - have
        forked = max(0, min(n, FORKED_MAX - have))
        light = n - forked
        for k, mode in ((forked, ""), (light, " light")):
            if k <= 0:
                continue
            g.spawn(f"forkmany {k} 64{mode} > /tmp/fm.out 2>&1")
            t0 = time.monotonic()
            while not g.check("cat /tmp/fm.out").strip() and time.monotonic() - t0 < 900:
                time.sleep(3)
            g.check("rm -f /tmp/fm.out")
        have = count(g)
    return have


def measure(argus, g, label):
    g.pause()
    try:
        res = {t: scanbench(argus, g.source, t, g.regions_path) for t in (1, 2)}
        # the RAM file is read in place, with no cache: the bounded cache
        # (item 4) is measured on a source that copies pages into it, the
        # QEMU process's memory read through /proc/PID/mem (vm:PID)
        copied = {t: scanbench(argus, f"vm:{g._pid()}", t, scans=2) for t in (1, 2)}
    finally:
        g.cont()
    for t, d in res.items():
        row(f"reads / distinct pages, {label}, {t} thread{'s' if t > 1 else ''}, RAM file",
            f"{d['reads']} / {d['distinct_pages']} = {d['reads'] / d['distinct_pages']:.3f} "
            f"(read in place: a page fetched once a scan by construction; "
            f"{memsize(res[t]['cache_bytes'])} to mark them)")
    med, cpu, crit = {}, {}, {}
    for t, d in res.items():
        sc = d["scans"]
        med[t] = statistics.median(s["ns"] for s in sc) / 1e6
        cpu[t] = statistics.median(s["cpu_ns"] for s in sc) / 1e6
        # on idle cores: the scan's serial part, then the busiest thread's
        crit[t] = statistics.median(s["cpu_ns"] - s["procs_cpu_ns"] + s["procs_cpu_max_ns"]
                                    for s in sc) / 1e6
    for t, d in copied.items():
        reads, distinct = d["reads"], d["distinct_pages"]
        gathered = d.get("gathered", 0)
        row(f"reads / distinct pages, {label}, {t} thread{'s' if t > 1 else ''}, vm:PID "
            f"(goal <= 1.2)",
            f"{reads} / {distinct} = {reads / distinct:.3f}; page reads (less {gathered} "
            f"16-byte text entries gathered) {(reads - gathered) / distinct:.3f} "
            f"({d['cache_evictions']} evictions, {d['cache_hits']} cache hits)")
        # where the reads past one a page come from (memsrc_stats)
        row(f"  pages fetched again, {label}, {t} thread{'s' if t > 1 else ''}",
            f"{d.get('refetch_cached', 0)} after the cache gave them up, "
            f"{d.get('refetch_direct', 0)} uncached reads of a page read before, "
            f"{d.get('shared_pages', 0)} also fetched by another thread")
    row(f"page cache memory, {label}, vm:PID", f"{memsize(copied[1]['cache_bytes'])} on 1 thread, "
        f"{memsize(copied[2]['cache_bytes'])} on 2 at most (65,536 pages a thread, "
        f"4,120 bytes each: resident as it fills)")
    s = res[1]["scans"][-1]
    row(f"scan time, {label} ({s['processes']} processes, {s['fds']} fds, {s['vmas']} vmas)",
        f"1 thread p50 {med[1]:.0f} ms, 2 threads p50 {med[2]:.0f} ms: "
        f"speed-up {med[1] / med[2]:.2f}x ({SCANS} scans each)")
    row(f"scan CPU, {label}", f"1 thread p50 {cpu[1]:.0f} ms, 2 threads p50 {cpu[2]:.0f} ms "
        f"(critical path {crit[2]:.0f} ms: speed-up {cpu[1] / crit[2]:.2f}x on 2 idle cores)")


def main():
    argus = os.path.abspath(sys.argv[1])
    sizes = [int(x) for x in sys.argv[2:]] or [1000, 10000, 50000]
    g = Guest("scale", mem_mb=4096, cpus=2)
    g.start(timeout=180)
    try:
        g.check("echo 4194304 > /proc/sys/kernel/pid_max; "
                "echo 1000000 > /proc/sys/kernel/threads-max")
        print(f"argus scale bench, guest Linux 6.1, 4096 MiB, 2 vCPUs, TCG, paused while "
              f"measured; host {os.cpu_count()} cores, shared, so noisy; "
              f"{time.strftime('%F %T')}")
        for total in sizes:
            t0 = time.monotonic()
            have = grow_to(g, total)
            row(f"grow the guest to {total} processes", f"{time.monotonic() - t0:.0f} s")
            measure(argus, g, f"{have} processes")
    finally:
        g.stop()


if __name__ == "__main__":
    main()
