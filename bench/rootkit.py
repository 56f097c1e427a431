"""What the rootkit checks add to a scan: the kernel-side collectors
(modules, BPF programs, kernel hooks, system call dispatch, kernel text,
modules' text)
timed one by one, scan after scan, in one process (bench/rootkitbench.c),
on the default guest (ARCH=arm64: the arm64 guest, read through its
regions map).  The first scan (the kernel text's baseline and its
first-sight checks) is shown apart.  Scans are PAUSE_MS apart (default
1000, the service's default period): back to back (PAUSE_MS=0) the
guest's memory and the baselines stay in the CPU caches and a scan costs
about half as much as the service pays.  Not a test: numbers.

    [PAUSE_MS=N] [ARCH=arm64] bench/run rootkit [SCANS] [path/to/argus]
"""
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "guest"))
from guest import Guest  # noqa: E402

PARTS = ("modules", "bpf", "khooks", "dispatch", "ktext", "kmtext")


def main():
    scans = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    argus = sys.argv[2] if len(sys.argv) > 2 else "build/argus"
    exe = os.path.join(os.path.dirname(argus), "argus-rootkitbench")
    pause = os.environ.get("PAUSE_MS", "1000")
    arch = os.environ.get("ARCH", "x86_64")
    g = Guest("rkbench64", arch="arm64") if arch == "arm64" else Guest("rkbench")
    g.start(timeout=240 if arch == "arm64" else 60)
    env = dict(os.environ)
    if arch == "arm64":
        env["ARGUS_REGIONS"] = g.regions_path
    try:
        out = subprocess.run([exe, f"qemu:{g.ram_path}", str(scans), pause], check=True,
                             capture_output=True, text=True, env=env).stdout
    finally:
        g.stop()
    d = json.loads(out)
    first, rest = d["scans"][0], d["scans"][1:]
    print(f"{arch} guest; text {d.get('text_bytes', 0) / 2**20:.1f} MiB: {d.get('entries', 0)} function entries "
          f"compared a scan and a window of {d.get('budget', 0) / 2**20:.2f} MiB, "
          + (f"sites {d['sites']}" if 'sites' in d else "sites judged by AArch64's rules (no tables)")
          + f"; scans {pause} ms apart")
    if "kmod_text" in d:
        km = d["kmod_text"]
        print(f"modules' text: {km['modules']} modules, {km['bytes'] / 1024:.0f} KiB, "
              f"{km['compared'] / 1024:.0f} KiB compared in {len(d['scans'])} scans")
    print(f"{'part':10} {'first scan':>12} {'median':>10} {'p90':>10} {'cpu med':>10} {'cpu p90':>10}"
          f"  (ms, {len(rest)} scans; cpu: the thread's CPU time)")
    total = []
    for p in PARTS:
        v = sorted(s[f"{p}_ns"] / 1e6 for s in rest)
        c = sorted(s.get(f"{p}_cpu_ns", 0) / 1e6 for s in rest)
        print(f"{p:10} {first[p + '_ns'] / 1e6:12.2f} {statistics.median(v):10.3f} "
              f"{v[int(0.9 * (len(v) - 1))]:10.3f} {statistics.median(c):10.3f} "
              f"{c[int(0.9 * (len(c) - 1))]:10.3f}")
    total = sorted(sum(s[f"{p}_ns"] for p in PARTS) / 1e6 for s in rest)
    # wall time beyond the thread's CPU time: what the machine's other load
    # (the guest's own vCPU, other processes) added while a part ran
    cpu = sorted(sum(s.get(f"{p}_cpu_ns", 0) for p in PARTS) / 1e6 for s in rest)
    print(f"{'all':10} {sum(first[p + '_ns'] for p in PARTS) / 1e6:12.2f} "
          f"{statistics.median(total):10.3f} {total[int(0.9 * (len(total) - 1))]:10.3f} "
          f"{statistics.median(cpu):10.3f} {cpu[int(0.9 * (len(cpu) - 1))]:10.3f}")


if __name__ == "__main__":
    main()
