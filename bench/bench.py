"""Measure argus against the bundled guest and print a table.

- start to first `ps` line with the auto profile (cold process each time)
- one full process walk: reads, bytes, cache hits, time
"""
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "guest"))
from guest import Guest  # noqa: E402


def first_line_time(argus, src):
    t0 = time.monotonic()
    p = subprocess.Popen([argus, "ps", "--source", src], stdout=subprocess.PIPE, text=True)
    p.stdout.readline()  # header
    p.stdout.readline()  # first process
    t = time.monotonic() - t0
    p.stdout.read()
    p.wait()
    return t


def walk_stats(argus, src):
    p = subprocess.run([argus, "ps", "--source", src, "--stats", "--threads"],
                       capture_output=True, text=True, check=True)
    return p.stderr.strip().splitlines()


def main():
    argus = os.path.abspath(sys.argv[1])
    g = Guest("bench")
    g.start()
    try:
        src = f"qemu:{g.ram_path}"
        times = [first_line_time(argus, src) for _ in range(10)]
        print(f"{'start to first ps line (auto profile)':45s} "
              f"p50 {statistics.median(times) * 1000:7.1f} ms   max {max(times) * 1000:7.1f} ms"
              f"   (target < 1000 ms)")
        for line in walk_stats(argus, src):
            print(f"  {line}")
    finally:
        g.stop()


if __name__ == "__main__":
    main()
