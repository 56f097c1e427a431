"""Alerts per host-hour on the benign workload (goal: 0).

The guest runs tests/guest/benign.sh (what servers do: exec storms, a web
server and its clients, listeners re-opened, threads, fds, a bash user, logs,
containers, a kernel module) for SECONDS while `argus run` watches it with
every event and alert of section 10 on, at the default 1 s scan interval,
with an SBOM of the guest's own image.  Prints, per alert name, how many were
raised and the rate per host-hour (one monitored guest), with an example.
"File Descriptor File Content Change" is listed apart: section 10.6 raises
it on every close of a writable file, so it is expected here.

Not a test: numbers, for people (tests/integration/test_benign.py asserts).
Usage: bench/run benign [SECONDS] [path/to/argus]   (600 s by default)
ARGUS_BENIGN_KERNEL=bullseye|trixie: the guest runs that Debian release's
cloud kernel (5.10, 6.12; tests/guest/fetch-kernel.sh), not bookworm's 6.1;
arm64: the AArch64 guest (bookworm's arm64 cloud kernel, no crun).
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "guest"))
import benign  # noqa: E402
from guest import Guest  # noqa: E402


class Follower:
    """New lines of the event log, across rotations."""

    def __init__(self, path):
        self.path, self.fh, self.partial = path, None, b""

    def read(self):
        out = []
        while True:
            if self.fh is None:
                try:
                    self.fh = open(self.path, "rb")
                except FileNotFoundError:
                    return out
                self.partial = b""
            data = self.partial + self.fh.read()
            end = data.rfind(b"\n") + 1
            self.partial = data[end:]
            out += [json.loads(line) for line in data[:end].splitlines()]
            try:
                rotated = os.stat(self.path).st_ino != os.fstat(self.fh.fileno()).st_ino
            except FileNotFoundError:
                rotated = False
            if not rotated:
                return out
            self.fh.close()
            self.fh = None


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    argus = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "build/argus")
    interval = os.environ.get("ARGUS_BENIGN_INTERVAL", "1s")
    suite = os.environ.get("ARGUS_BENIGN_KERNEL")
    kdir, pkg, arch, regions = benign.KDIR, None, "x86_64", ""
    here = os.path.join(os.path.dirname(__file__), "..", "tests", "guest")
    if suite == "arm64":
        arch = "arm64"
        kdir = subprocess.run([os.path.join(here, "fetch-arm64.sh")], check=True, text=True,
                              capture_output=True,
                              env=dict(os.environ, ARGUS_GUEST_ARCH="arm64")).stdout.strip()
    elif suite:
        pkg = subprocess.run([os.path.join(here, "fetch-kernel.sh"), suite], check=True,
                             capture_output=True, text=True).stdout.strip()
        kdir = os.path.join(benign.CACHE, pkg)
    g = Guest("benchbenign", kernel_pkg=pkg, arch=arch)
    g.start()
    if arch == "arm64":
        regions = f"      memory_regions: {g.regions_path}\n"
    d = tempfile.mkdtemp(prefix="argus-benign-bench-")
    try:
        benign.prepare(g, kdir, containers_optional=bool(suite),
                       chunk=2000 if arch == "arm64" else 8000)
        sbom = benign.make_sbom(argus, d, kdir)
        cfg = os.path.join(d, "argus.yaml")
        with open(cfg, "w") as f:
            f.write(f"service:\n  scanner_sleep: {interval}\n  debug_log_folder: {d}/debug\n"
                    f"argus:\n  systems:\n    - name: benign\n      source: qemu:{g.ram_path}\n"
                    f"{regions}"
                    f"      events:\n        sbom: [{sbom}]\n"
                    f"collection:\n{benign.collection_yaml()}"
                    f"output:\n  stdout: false\n  log_folder: {d}/events\n"
                    f"  log_threshold_size: 64MB\n  log_max_files: 2\n")
        p = subprocess.Popen([argus, "run", "--config", cfg], stdout=subprocess.DEVNULL)
        log = Follower(os.path.join(d, "events", "argus-events.log"))
        names, kept = Counter(), []

        def tick():
            for m in log.read():
                names[(m["message_type"], m["activity_data"]["name"])] += 1
                if m["message_type"] == "ALERT" or m["activity_data"]["name"] in benign.FAILURES:
                    if names[(m["message_type"], m["activity_data"]["name"])] <= 3:
                        kept.append(m)
        t0 = time.monotonic()
        while not names[("SYSTEM_ACTIVITY", "Host Initialization Successful")]:
            if time.monotonic() - t0 > 60 or p.poll() is not None:
                sys.exit(f"bench: argus never initialized the host; see {d}")
            tick()
            time.sleep(0.5)
        time.sleep(3)
        tick()
        before = Counter(names)
        pgid = benign.start(g, seconds)
        t0 = time.monotonic()
        done = benign.wait_done(g, seconds + 180, tick=tick)
        hours = (time.monotonic() - t0) / 3600
        time.sleep(3)
        tick()
        did = benign.counts(g)
        benign.stop(g, pgid)
        p.terminate()
        p.wait()
        tick()
    finally:
        g.stop()
    during = names - before
    print(f"argus benign workload: {seconds} s ({hours * 60:.1f} min measured), scans every "
          f"{interval}, one guest ({pkg or os.path.basename(kdir)}); {time.strftime('%F %T')}{'' if done else ' (did NOT finish)'}")
    print("workload: " + ", ".join(f"{k} {v}" for k, v in sorted(did.items())))
    print(f"events: {sum(n for (t, _), n in during.items() if t == 'EVENT')} "
          f"({during[('EVENT', 'Process Created')]} Process Created)")
    alerts = sorted(((n, name) for (t, name), n in during.items()
                     if t == "ALERT" and name not in benign.EXPECTED_ALERTS), reverse=True)
    total = sum(n for n, _ in alerts)
    print(f"{'unexpected alerts per host-hour (goal 0)':60s} {total / hours:.1f} ({total} alerts)")
    for n, name in alerts:
        ex = next((m for m in kept if m["activity_data"]["name"] == name), None)
        print(f"  {name:58s} {n / hours:8.1f} /h ({n}); e.g. {benign.where(ex) if ex else ''}")
    for name in sorted(benign.FAILURES):
        if during[("SYSTEM_ACTIVITY", name)]:
            print(f"  {name:58s} {during[('SYSTEM_ACTIVITY', name)] / hours:8.1f} /h")
    for name in sorted(benign.EXPECTED_ALERTS):
        n = during[("ALERT", name)]
        print(f"{'expected: ' + name:60s} {n / hours:.1f} /h ({n})")
    print(f"(event logs in {d})")


if __name__ == "__main__":
    main()
