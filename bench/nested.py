"""What finding a VM inside a monitored machine costs, by route: the outer
test guest runs a KVM guest (tests/guest/nested.py), and `argus guests` of
the outer guest's RAM file is timed with --route kvm (KVM's memslots: the
kvm-vm file, the kvm module's BTF read from memory and joined to vmlinux's,
the memslot tree) and --route maps (the command line and memory areas), as
is `argus ps` of the inner guest, whose source is opened the auto way (the
memslots).  CPU time of each argus process (user + system, from wait4),
median of N runs.  Not a test: numbers, for people.  Run with
bench/run nested [N].
"""
import os
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "guest"))
from nested import Inner, outer_guest  # noqa: E402


def row(label, value):
    print(f"{label:60s} {value}", flush=True)


def timed(argus, *args):
    t0 = time.monotonic()
    p = subprocess.Popen([argus, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, _, ru = os.wait4(p.pid, 0)
    out = p.stdout.read().decode()
    return time.monotonic() - t0, ru.ru_utime + ru.ru_stime, out


def main():
    argus = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    outer = outer_guest(f"bnest{os.getpid()}")
    outer.start(timeout=180)
    inner = Inner(outer, "inner1")
    try:
        inner.start(timeout=180)
        src = f"qemu:{outer.ram_path}"
        for label, args in (("argus guests --route maps", ("guests", "--source", src,
                                                             "--route", "maps")),
                            ("argus guests --route kvm", ("guests", "--source", src,
                                                            "--route", "kvm")),
                            ("argus ps guest:inner1@ (memslots)",
                             ("ps", "--source", f"guest:inner1@{src}"))):
            runs = [timed(argus, *args) for _ in range(n)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            row(label, f"{cpu * 1000:.0f} ms CPU, {wall * 1000:.0f} ms wall (median of {n})")
            if "route" in label:
                print("    " + runs[0][2].splitlines()[1].strip(), flush=True)
    finally:
        inner.stop()
        outer.stop()


if __name__ == "__main__":
    main()
