"""How many small guests one service watches: the service's CPU per guest
per scan, with N systems scanned every second.

Booting 100 guests does not fit this machine (2 cores, TCG), so the N
systems are N names for one guest: each system has its own thread, its own
kernel profile, page-table walks, scan cache, snapshots and detection state,
and reads the same 512 MiB RAM file (qemu:PATH).  What they share is the
host's page cache of that file and the CPU caches: N distinct guests would
miss the CPU caches more.  The guest is the small test guest (busybox, about
46 processes) as it idles.

For each N: argus run with N systems, scanner_sleep 1s, log_level 60 (a
debug-log line per scan is how scans are counted); once all N are
monitoring, CPU (utime + stime of the service) and scans are counted over a
window.  Not a test: numbers, for people.  Run with bench/run guests.
"""
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "guest"))
from guest import Guest  # noqa: E402

WINDOW = float(os.environ.get("ARGUS_BENCH_WINDOW", "20"))


def row(label, value):
    print(f"{label:60s} {value}", flush=True)


def cpu_s(pid):
    """The service's CPU time: every thread's run time (schedstat, in ns;
    utime/stime count 10 ms ticks, too coarse for one guest's scans).  A
    system's thread lives as long as the service, so none is lost."""
    ns = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                ns += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return ns / 1e9


def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


SCAN = re.compile(rb": ([^ :]+): scan: ([0-9.]+) ms")


def scans(path):
    """[(system, ms)] of every scan the debug log tells of."""
    try:
        with open(path, "rb") as f:
            return [(m.group(1), float(m.group(2))) for m in SCAN.finditer(f.read())]
    except FileNotFoundError:
        return []


def measure(argus, systems, label, tmp):
    """systems: [(name, source, regions map or None)]"""
    n = len(systems)
    d = os.path.join(tmp, label.replace(" ", "-"))
    os.makedirs(d, exist_ok=True)
    cfg = os.path.join(d, "argus.yaml")
    with open(cfg, "w") as f:
        f.write(f"service:\n  scanner_sleep: 1s\n  log_level: 60\n  debug_log_folder: {d}\n"
                f"argus:\n  systems:\n")
        for name, source, regions in systems:
            f.write(f"    - name: {name}\n      source: {source}\n")
            if regions:
                f.write(f"      memory_regions: {regions}\n")
        f.write(f"output:\n  log_folder: {d}/events\n")
    out = open(os.path.join(d, "stdout.log"), "w")
    t0 = time.monotonic()
    p = subprocess.Popen([argus, "run", "--config", cfg], stdout=out, stderr=subprocess.STDOUT)
    log = os.path.join(d, "argus-debug.log")
    try:
        deadline = t0 + 60 + 3 * n
        while True:
            with open(os.path.join(d, "stdout.log"), errors="replace") as f:
                up = f.read().count(": monitoring ")
            if up >= n:
                break
            if p.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"bench: {up} of {n} systems monitoring; see {d}")
            time.sleep(0.5)
        init_wall, init_cpu = time.monotonic() - t0, cpu_s(p.pid)
        time.sleep(3)   # every system past its first scans (first hashes, first mappings)
        c0, s0, w0 = cpu_s(p.pid), len(scans(log)), time.monotonic()
        time.sleep(WINDOW)
        c1, sc, w1 = cpu_s(p.pid), scans(log), time.monotonic()
        anon, shm = status(p.pid, "RssAnon"), status(p.pid, "RssShmem") + status(p.pid, "RssFile")
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        out.close()
    k = len(sc) - s0
    cpu, wall = c1 - c0, w1 - w0
    per = cpu / k if k else float("nan")
    ms = [x for _, x in sc[s0:]]
    if label.startswith("mixed"):
        for name, source, _ in systems:
            own = [x for who, x in sc[s0:] if who == name.encode()]
            row(f"{label}: {name} ({source.split(':')[0]}:)",
                f"scan p50 {statistics.median(own) if own else 0:.2f} ms wall, {len(own)} scans")
    row(f"{label}: start to all monitoring", f"{init_wall:.1f} s wall, {init_cpu:.1f} s CPU "
        f"({init_cpu / n * 1000:.0f} ms CPU per system)")
    row(f"{label}: scans in {wall:.1f} s", f"{k} ({k / n / wall:.2f} per system per second)")
    row(f"{label}: service CPU", f"{cpu:.2f} s in {wall:.1f} s = {100 * cpu / wall:.1f} % of a core")
    row(f"{label}: CPU per guest per scan", f"{per * 1000:.2f} ms "
        f"(scan alone p50 {statistics.median(ms) if ms else 0:.2f} ms wall)")
    row(f"{label}: guests one core watches at 1 s", f"{1 / per:.0f} (1 s / CPU per guest per scan)"
        if k else "n/a")
    row(f"{label}: memory", f"{anon / 1024:.0f} MiB private ({anon / n / 1024:.1f} MiB per "
        f"system), {shm / 1024:.0f} MiB of mapped files (guest RAM pages counted once per system)")
    return per


def mixed(argus, tmp):
    """Three real guests, one service: x86-64 through its RAM file, x86-64
    through its process (vm:PID), arm64 through its RAM file."""
    tag = os.getpid()
    guests = [Guest(f"bx{tag}", mem_mb=256), Guest(f"bv{tag}", mem_mb=256, ram="json"),
              Guest(f"ba{tag}", mem_mb=256, arch="arm64")]
    try:
        for g in guests:
            g.start()
        measure(argus, [(f"{g.arch}-{g.ram}", g.source, g.regions_path if g.arch == "arm64"
                         else None) for g in guests], "mixed 3 guests", tmp)
    finally:
        for g in guests:
            g.stop()


def main(argv):
    argus = os.path.abspath(argv[0] if argv else "build/argus")
    if argv[1:] == ["mixed"]:
        with tempfile.TemporaryDirectory(prefix="argus-bench-guests-") as tmp:
            print(f"argus bench guests: {os.cpu_count()} cores, shared, so noisy; "
                  f"{time.strftime('%Y-%m-%d %H:%M:%S')}; three real 256 MiB guests, "
                  f"scanner_sleep 1s, window {WINDOW:.0f} s", flush=True)
            return mixed(argus, tmp)
    ram = "file"
    if argv[1:2] == ["vm"]:     # the guest read through its process (vm:PID)
        ram, argv = "json", argv[:1] + argv[2:]
    counts = [int(x) for x in argv[1:]] or [1, 10, 100, 200, 400]
    g = Guest(f"bg{os.getpid()}", ram=ram)
    g.start()
    try:
        procs = len(g.truth_ps())
        print(f"argus bench guests: {os.cpu_count()} cores, shared, so noisy; "
              f"{time.strftime('%Y-%m-%d %H:%M:%S')}; one guest Linux 6.1, 512 MiB, "
              f"{procs} processes, read as each of N systems ({g.source.split(':')[0]}:), "
              f"scanner_sleep 1s, "
              f"window {WINDOW:.0f} s", flush=True)
        with tempfile.TemporaryDirectory(prefix="argus-bench-guests-") as tmp:
            for n in counts:
                measure(argus, [(f"g{i:03d}", g.source, None) for i in range(n)],
                        f"{n} systems", tmp)
    finally:
        g.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
