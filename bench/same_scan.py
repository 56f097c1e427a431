"""Do two builds of argus decode a guest the same?  `argus scan --once --json`
of each, on the same paused guest, compared (issue 15 item 2: a faster scan
must decode the same things).

    python3 bench/same_scan.py GUEST OLD_ARGUS NEW_ARGUS [--threads N]... [--keep-paused]

GUEST is a running test guest's name (tests/guest/guest.py; mind
ARGUS_GUEST_PREFIX).  The guest is paused (QMP stop) for all the scans and
continued after, unless --keep-paused.  Each build scans with each --threads
value (1 and 2 by default), and every output is compared with the old
build's on 1 thread.  Equal means equal JSON but for what measures argus's
own reading in scan_statistics (time, backend reads and bytes, cache hits,
distinct pages, evictions): those are printed side by side.  Exit status 1
when an output differs; the first differences are printed.
Not a test (it needs a guest grown by hand, e.g. bench/run workload's);
a check for people changing how the scan reads.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "guest"))
from guest import Guest  # noqa: E402

MEASURES = ("duration_ns", "reads", "bytes", "cache_hits", "distinct_pages", "cache_evictions")


def scan(argus, g, threads):
    p = subprocess.run([argus, "scan", "--source", g.source, "--regions", g.regions_path,
                        "--once", "--json", "--threads", str(threads)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"same_scan: {argus} failed ({p.returncode}): {p.stderr.strip()}")
    d = json.loads(p.stdout)
    st = d.get("scan_statistics", {})
    measured = {k: st.pop(k, None) for k in MEASURES}
    return d, measured


def diff(x, y, path, out, limit=20):
    if len(out) >= limit:
        return
    if type(x) is not type(y):
        out.append(f"{path}: {str(x)[:100]!r} != {str(y)[:100]!r}")
    elif isinstance(x, dict):
        for k in sorted(set(x) | set(y)):
            if k not in x or k not in y:
                out.append(f"{path}/{k}: only in {'new' if k in y else 'old'}")
            else:
                diff(x[k], y[k], f"{path}/{k}", out, limit)
    elif isinstance(x, list):
        if len(x) != len(y):
            out.append(f"{path}: {len(x)} items != {len(y)}")
        for i, (a, b) in enumerate(zip(x, y)):
            diff(a, b, f"{path}[{i}]", out, limit)
    elif x != y:
        out.append(f"{path}: {str(x)[:100]!r} != {str(y)[:100]!r}")


def count(d):
    return {k: len(d.get(k) or []) for k in ("processes", "threads", "file_descriptors",
                                             "tcp_connections", "process_memory",
                                             "elf_files", "shell_history")}


def main(argv):
    threads = []
    keep = False
    args = []
    it = iter(argv)
    for a in it:
        if a == "--threads":
            threads.append(int(next(it)))
        elif a == "--keep-paused":
            keep = True
        else:
            args.append(a)
    if len(args) != 3:
        raise SystemExit(__doc__)
    name, old, new = args
    threads = threads or [1, 2]
    g = Guest(name)
    g.pause()
    try:
        ref, ref_m = scan(old, g, 1)
        print(f"same_scan: {name}, {count(ref)}")
        bad = 0
        for build, argus in (("old", old), ("new", new)):
            for t in threads:
                if build == "old" and t == 1:
                    d, m = ref, ref_m
                else:
                    d, m = scan(argus, g, t)
                out = []
                diff(ref, d, "", out)
                print(f"  {build} build, {t} thread(s): {'SAME' if not out else 'DIFFERENT'}; "
                      + ", ".join(f"{k} {v}" for k, v in m.items()))
                for line in out:
                    print(f"    {line}")
                bad += bool(out)
    finally:
        if not keep:
            g.cont()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
