"""A scan on a realistic workload at 1,000, 10,000 (and 50,000) processes,
beside the physical floor under it (issue 15, items 1, 2 and 7).

    python3 bench/workload.py ARGUS [N...] [--mem MIB] [--no-drgn]

For each N: tests/guest/progs/workload.c grows the guest to N processes (a
mix: threads, many fds, TCP over IPv4 and IPv6, containers, a process with
10,000 memory areas, real programs with real libraries), then
argus-scanbench SOURCE 16 --floor (bench/floor.c) scans it: the first scan
of the process and the steady state (wall and CPU), reads, distinct pages
and bytes; each collector; and the floors, from the scan's own trace of its
reads: (a) each distinct page copied once, (b) each distinct 64-byte line
touched once; and (c), not a floor, the scan's reads replayed through argus's
own read path: (c) - (b) is what reading costs beyond the memory, the scan
- (c) what translating and decoding cost.  drgn walks a dump of the same
guest for reference (drgn is a Python debugger library: a point of
comparison, not a floor).
Not a test: numbers, for people.  Run with bench/run workload.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "guest"))
from guest import Guest, GuestError  # noqa: E402

SCANS = 16


def row(label, value):
    print(f"{label:60s} {value}", flush=True)


def ms(ns):
    return ns / 1e6


def scanbench_floor(argus, g, n=SCANS, limx=1):
    """argus-scanbench --floor on the guest's RAM file, with its regions map:
    from 2.75 GiB on, q35 puts RAM past 2 GiB above 4 GiB.  limx: the
    limits (processes, threads, fds, areas) times limx."""
    import bench
    try:
        return bench.scanbench(argus, g.source, n, floor=True,
                               args=["--regions", g.regions_path, "--limits-x", str(limx)])
    except bench.ScanbenchError as e:
        raise SystemExit(f"bench: {e}")


def floor_rows(d, label):
    """The scan beside its floors (argus-scanbench --floor's JSON)."""
    steady = d["scans"][1:] or d["scans"]
    wall = statistics.median(x["ns"] for x in steady)
    cpu = statistics.median(x["cpu_ns"] for x in steady)
    f = d["floor"]
    a, b = f["pages_ns"], f["lines_ns"]
    ac, bc = f.get("pages_cpu_ns", a), f.get("lines_cpu_ns", b)
    row(f"  floor (a) moving the pages, {label}",
        f"{ms(a):.1f} ms wall, {ms(ac):.1f} ms CPU: {f['pages']} distinct 4 KiB pages copied "
        f"once ({ac / max(f['pages'], 1) / 1000:.2f} us CPU a page, "
        f"{f['pages'] * 4096 / 1048576:.0f} MiB"
        f"{', ' + str(f['pages_skipped']) + ' not wholly backed' if f['pages_skipped'] else ''})")
    row(f"  floor (b) touching the lines, {label}",
        f"{ms(b):.1f} ms wall, {ms(bc):.1f} ms CPU: {f['lines']} distinct 64-byte lines loaded "
        f"once, in the order the scan first read them ({bc / max(f['lines'], 1):.0f} ns CPU a line)")
    if f.get("chained_cpu_ns"):
        dc = f["chained_cpu_ns"]
        row(f"  (d) the lines one after another, {label}",
            f"{ms(dc):.1f} ms CPU: the lines of (b), each load waiting for the one before "
            f"({dc / max(f['lines'], 1):.0f} ns a line): the scan's misses, none overlapped; "
            f"the steady scan is {cpu / dc:.2f}x that")
    row(f"  steady scan / floor (a), {label} (goal <= 1)",
        f"{cpu / ac:.1f}x CPU / CPU ({ms(cpu):.1f} ms), {wall / a:.1f}x wall / wall "
        f"({ms(wall):.1f} ms)")
    row(f"  steady scan - floor (b): argus's own work, {label}",
        f"{ms(cpu - bc):.1f} ms CPU, {ms(wall - b):.1f} ms wall ({cpu / bc:.1f}x / {wall / b:.1f}x "
        f"the lines: translation, decoding, hashing, allocation, and the misses that "
        f"could not overlap, see (d))")
    if "reads_cpu_ns" in f:
        cc = f["reads_cpu_ns"]
        row(f"  (c) the scan's reads alone, {label}",
            f"{ms(cc):.1f} ms CPU: its {f['trace_reads']} reads again, in its order, through "
            f"argus's read path as the scan takes it (a TLB of pages read lately, then the "
            f"ranges and the bits of pages fetched, emptied first; the guarded copy), nothing "
            f"translated or decoded "
            f"({cc / max(f['trace_reads'], 1):.0f} ns a read"
            f"{', ' + str(f['reads_failed']) + ' failed' if f['reads_failed'] else ''})")
        row(f"  steady scan - (c): translation and decoding, {label}",
            f"{ms(cpu - cc):.1f} ms CPU; (c) - floor (b): the read path, {ms(cc - bc):.1f} ms CPU")
    row(f"  the scan's trace, {label}",
        f"{f['trace_reads']} reads of guest memory, {f['trace_bytes'] / 1048576:.1f} MiB, "
        f"{f['pages']} distinct pages (an earlier scan's backend fetches: "
        f"{d['distinct_pages']} distinct pages)")


def collector_rows(d, label):
    first = {c["name"]: c for c in d.get("collectors_first", [])}
    trace = {c["name"]: c for c in d.get("trace", [])}
    print(f"  collectors, {label}: steady ms (CPU ms) | first ms | backend reads | "
          f"reads traced, MiB | distinct pages (new)", flush=True)
    for c in d["collectors"]:
        t = trace.get(c["name"], {})
        fi = first.get(c["name"])
        if c["ns"] < 10000 and (not fi or fi["ns"] < 100000):
            continue    # under 10 us steady and 100 us first: not worth a line
        print(f"    {c['name']:24s} {ms(c['ns']):8.2f} ({ms(c['cpu_ns']):7.2f}) | "
              f"{ms(fi['ns']) if fi else float('nan'):8.2f} | {c['reads']:7d} | "
              f"{t.get('reads', 0):8d} {t.get('bytes', 0) / 1048576:7.1f} | "
              f"{t.get('distinct_pages', 0):7d} ({t.get('new_pages', 0)})"
              f"{'  FAILED' if c['failed'] else ''}", flush=True)


def scan_rows(d, label):
    steady = d["scans"][1:]
    wall = [ms(x["ns"]) for x in steady]
    cpu = [ms(x["cpu_ns"]) for x in steady]
    r, f0 = d["scans"][-1], d["scans"][0]
    hit = r.get("limits_hit", 0)
    if hit:
        names = [x for i, x in enumerate(("processes", "threads", "fds", "memory areas"))
                 if hit >> i & 1]
        row(f"  LIMITS REACHED, {label}", f"the scan stopped at the limit on "
            f"{', '.join(names)}: the rest of the guest was not read")
    row(f"full scan, {label}",
        f"p50 {statistics.median(wall):.1f} ms wall, {statistics.median(cpu):.1f} ms CPU, "
        f"max {max(wall):.1f} ms ({len(steady)} scans after the first, one process); "
        f"{r['reads']} reads, {r['bytes'] / 1048576:.1f} MiB; {r['processes']} processes, "
        f"{r['threads']} threads, {r['fds']} fds, {r['tcp']} tcp, {r['vmas']} memory areas")
    row(f"  first scan of the process, {label}",
        f"{ms(f0['ns']):.1f} ms wall, {ms(f0['cpu_ns']):.1f} ms CPU ({f0['page_faults']} page "
        f"faults; a fresh process's first scan, collector by collector, below)")
    row(f"  reads / distinct pages, {label} (goal <= 1.2)",
        f"{d['reads']} / {d['distinct_pages']} = "
        f"{d['reads'] / max(d['distinct_pages'], 1):.2f} ({d['cache_hits']} cache hits, "
        f"{d['cache_evictions']} cache evictions)")


def drgn_rows(argus, g, label, limx=1):
    """drgn on a dump of the same guest; a reference, not the floor.  argus
    scans the same dump with the same limits as the floor scan (limx), so
    the two walks' counts can be compared."""
    import bench
    vmlinux = bench.vmlinux()
    if not vmlinux:
        return row(f"drgn (reference), {label}", f"not run: no {vmlinux}")
    with tempfile.TemporaryDirectory(prefix="argus-scale-") as d:
        dump = os.path.join(d, "guest.elf")
        t = time.monotonic()
        try:
            g.dump(dump)    # detached, polled: a 7 GiB dump takes minutes
        except (GuestError, OSError) as e:
            return row(f"drgn (reference), {label}", f"not run: dump failed: {e!r}")
        row(f"  QMP dump of the guest, {label}",
            f"{time.monotonic() - t:.0f} s wall, {os.path.getsize(dump) / 2**30:.2f} GiB "
            f"(ELF, paging; the guest stopped meanwhile)")
        t = time.monotonic()
        p = subprocess.run([bench.DRGN_PYTHON, os.path.join(os.path.dirname(__file__),
                                                           "drgn_walk.py"), dump, vmlinux,
                            "2"], capture_output=True, text=True)
        drgn_s = time.monotonic() - t
        if p.returncode != 0:
            err = (p.stderr.strip().splitlines() or ["no output"])[-1]
            return row(f"drgn (reference), {label}", f"drgn failed: {err}")
        dr = json.loads(p.stdout)
        try:
            ad = bench.scanbench(argus, f"elf:{dump}", 6, args=["--limits-x", str(limx)])
        except bench.ScanbenchError as e:
            return row(f"  argus on the same dump, {label}", str(e))
    a = statistics.median(x["ns"] for x in ad["scans"][1:]) / 1e9
    acpu = statistics.median(x["cpu_ns"] for x in ad["scans"][1:]) / 1e9
    c, r = dr["counts"], ad["scans"][-1]
    row(f"drgn {dr['drgn']} walk (a Python debugger library; reference), {label}",
        f"p50 {dr['walk_p50_s'] * 1000:.0f} ms wall, {dr['walk_p50_cpu_s'] * 1000:.0f} ms CPU, "
        f"first {dr['first_walk_s'] * 1000:.0f} ms "
        f"(start-up {dr['startup_s']:.1f} s; {drgn_s:.0f} s for all 3 walks); "
        f"{c['processes']} processes, {c['threads']} threads, {c['file_descriptors']} fds, "
        f"{c['tcp_connections']} tcp, {c['memory_areas']} memory areas (same dump, same fields)")
    row(f"  argus on the same dump, {label}",
        f"p50 {a * 1000:.1f} ms wall, {acpu * 1000:.1f} ms CPU"
        f"{f' ({limx}x the limits)' if limx > 1 else ''}; {r['processes']} processes, "
        f"{r['threads']} threads, {r['fds']} fds, {r['tcp']} tcp, {r['vmas']} memory areas; "
        f"drgn / argus {dr['walk_p50_cpu_s'] / acpu:.0f}x CPU / CPU, "
        f"{dr['walk_p50_s'] / a:.0f}x wall / wall (the floor above is the comparison that "
        f"matters)")
    pairs = (("processes", "processes"), ("threads", "threads"), ("file_descriptors", "fds"),
             ("tcp_connections", "tcp"), ("memory_areas", "vmas"))
    diff = [f"{b} drgn {c[k]} argus {r[b]}" for k, b in pairs if c[k] != r[b]]
    row(f"  drgn's counts = argus's, {label}",
        "yes, all five" if not diff else "NO: " + ", ".join(diff)
        + (f"; argus reached limits {r['limits_hit']}" if r.get("limits_hit") else ""))


def grow(g, n):
    """The guest at n processes of the mix: returns workload's own report."""
    g.check("workload stop", timeout=85)
    g.check(f"workload {n}")
    deadline = time.monotonic() + 60 + n / 50
    while time.monotonic() < deadline:
        time.sleep(3)
        try:
            rc, out, _ = g.run("cat /run/workload.json 2>/dev/null", timeout=60)
        except GuestError:
            continue    # the guest is busy forking; the channel answers late
        if rc == 0 and out.strip():
            time.sleep(2)
            return json.loads(out)
    raise SystemExit(f"bench: workload {n} did not finish in time")


def main(argv):
    argus = os.path.abspath(argv[0])
    sizes, mem, drgn = [], None, True
    it = iter(argv[1:])
    for a in it:
        if a == "--mem":
            mem = int(next(it))
        elif a == "--no-drgn":
            drgn = False
        else:
            sizes.append(int(a))
    sizes = sizes or [1000, 10000]
    mem = mem or (2048 if max(sizes) <= 10000 else 7168)
    g = Guest(f"scale{os.getpid()}", mem_mb=mem)
    g.start()
    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                    if ln.startswith("model name")), "?")
        print(f"argus bench scale: guest Linux 6.1, {mem} MiB, 1 vCPU, TCG; host "
              f"{os.cpu_count()} cores ({cpu}), shared, so noisy; {time.strftime('%F %T')}",
              flush=True)
        for n in sizes:
            w = grow(g, n)
            label = f"{n} processes"
            ph = ", ".join(f"{k} {v:.1f} s" for k, v in w["phases"].items())
            row(f"workload, {label}",
                f"{w['made']} made in {w['spawn_s']:.1f} s ({ph}); {w['threaded_processes']} "
                f"threaded ({w['threads']} threads), {w['fd_processes']} with {w['fds']} fds, "
                f"{w['tcp_connections']} TCP connections (IPv4 and IPv6) + "
                f"{w['tcp_holders'] + w['extra_listeners'] + w['socat']} listeners, "
                f"{w['containers']} containers, 1 with {w['vma_process_areas']} areas, "
                f"{w['bash']} bash, {w['socat']} socat, {w['busybox']} busybox")
            # the default limits (32,768 processes) would leave most of a
            # 50,000-process guest unread: raised, and said so
            limx = 1 if n <= 30000 else 4
            if limx > 1:
                row(f"limits, {label}", f"{limx}x the defaults (processes, threads, fds, "
                    f"memory areas; the configuration's limits:)")
            d = scanbench_floor(argus, g, limx=limx)
            scan_rows(d, label)
            floor_rows(d, label)
            collector_rows(d, label)
            if drgn:
                drgn_rows(argus, g, label, limx)
    finally:
        g.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
