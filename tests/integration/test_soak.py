"""Soak: the service scanning every 100 ms while the guest forks and reaps
short-lived processes and TCP connections without pause, for
ARGUS_SOAK_SECONDS (default 600, ten minutes).  No crash, no hang, resident
memory and detection state flat, every scan bounded in time, the short
lives seen (Process Created), and not one alert: a process born or reaped
between the task list and the pid IDR walks is no rootkit, and a short
connection is neither long-lasting nor excessive."""
import os
import re
import time

from conftest import Service

SECONDS = int(os.environ.get("ARGUS_SOAK_SECONDS", "600"))
# the first scan also reads all of core text once (Kernel Text Modified's
# first sight: 190-260 ms measured here for 13 MB of 6.1's text); it is bounded apart
FIRST_SCAN_BOUND_MS = 2000
SCAN_BOUND_MS = 250       # measured (60 s runs, 2 shared cores): max 24.5 ms idle, 96.9 ms loaded
SCAN_P99_MS = 100         # measured: p99 13.5 ms idle, 30.0 ms loaded


def rss_kb(pid):
    """argus's own resident memory: the guest RAM it maps is shared, not its own."""
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"RssAnon:\s+(\d+)", f.read()).group(1))


def test_soak(guest, tmp_path):
    svc = Service(tmp_path, guest, sleep="100ms", service="  log_level: 60\n")
    churn = guest.spawn("while true; do sleep 0.01 & sleep 0.02 & true; done")
    srv = guest.spawn("exec socat TCP-LISTEN:9300,reuseaddr,fork EXEC:cat")
    conns = guest.spawn("while true; do echo hi | socat - TCP:127.0.0.1:9300,shut-none "
                        ">/dev/null 2>&1; sleep 0.05; done")
    rss = []
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < SECONDS:
            time.sleep(5)
            assert svc.proc.poll() is None, f"argus exited ({svc.proc.returncode}); see {svc.dir}"
            rss.append(rss_kb(svc.proc.pid))
            svc.poll()
    finally:
        guest.run(f"kill -9 -{churn} -{conns} -{srv}")
    svc.poll()
    log = svc.debug_log()
    scans = [float(m.group(1)) for m in re.finditer(r"scan: ([0-9.]+) ms", log)]
    state = [int(m.group(1)) for m in re.finditer(r"detection state: (\d+) entries", log)]
    conns_seen = sum(1 for m in svc.messages
                     if m["activity_data"]["name"] == "Network Connection Created")
    created = sum(1 for m in svc.messages if m["activity_data"]["name"] == "Process Created")
    hidden = [m for m in svc.messages if m["activity_data"]["name"] == "Process Hidden"]
    failures = [m["activity_data"] for m in svc.messages
                if m["activity_data"]["name"] in ("Details Gathering Failed", "Service Runtime Failure")]
    assert svc.stop() == 0
    first, scans = scans[0], sorted(scans[1:])
    warm = rss[len(rss) // 5:] or rss     # after the first fifth: caches and arenas grown
    print(f"soak {SECONDS} s: {len(scans)} scans, p50 {scans[len(scans) // 2]:.1f} ms, "
          f"p99 {scans[int(len(scans) * 0.99)]:.1f} ms, max {scans[-1]:.1f} ms; "
          f"{created} processes created; RSS {rss[0]}..{max(rss)} kB (warm {min(warm)}..{max(warm)})")
    print(f"first scan {first:.1f} ms; detection state: {min(state)}..{max(state)} entries; "
          f"{conns_seen} connections seen")
    assert not hidden, f"{len(hidden)} Process Hidden under churn: {hidden[0]}"
    # what detection remembers belongs to what is alive: the guest holds a
    # few dozen processes and connections at any time, whatever has passed
    # measured (60 s run): 124 connections, state 2..7 entries, 643 scans,
    # 4944 processes created, warm RSS within 24 kB: bounds about 2-3x that
    assert conns_seen >= SECONDS, f"only {conns_seen} connections seen"
    assert max(state[len(state) // 5:]) <= 16, f"detection state grew: {max(state)} entries"
    assert not failures, failures[:3]
    assert len(scans) >= SECONDS * 5, f"only {len(scans)} scans in {SECONDS} s: a hang?"
    assert first < FIRST_SCAN_BOUND_MS, f"the first scan took {first:.0f} ms"
    assert scans[-1] < SCAN_BOUND_MS, f"a scan took {scans[-1]:.0f} ms"
    assert scans[int(len(scans) * 0.99)] < SCAN_P99_MS, f"p99 scan {scans[int(len(scans) * 0.99)]:.0f} ms"
    assert created >= SECONDS * 40, f"only {created} short-lived processes seen"
    # 24 kB measured over 60 s; `make test` soaks 3 minutes and `make soak` 10
    assert max(warm) <= min(warm) + 256, f"resident memory grew: {warm}"
