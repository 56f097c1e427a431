"""One service, several guests at once, each read its own way: an x86-64
guest through its shared RAM file (qemu:PATH), an x86-64 VM through its
process (vm:PID, libvirt's JSON RAM, anonymous), and an AArch64 guest
(qemu:PATH with its memory-regions map).  Each is initialized under its own
name, and a process started in each is seen in that system, not another.
Not a timing test: bench/run guests measures the cost per guest.
"""
import os
import time

from conftest import Service
from guest import Guest

SLEEP = "500ms"


def named(m, name, activity):
    return (m["workload_information"]["unique_identifier"] == name and
            m["activity_data"]["name"] == activity)


def test_mixed_guests(tmp_path):
    tag = os.getpid()
    x = Guest(f"mx{tag}", mem_mb=256)
    v = Guest(f"mv{tag}", mem_mb=256, ram="json")
    a = Guest(f"ma{tag}", mem_mb=256, arch="arm64")
    guests = (x, v, a)
    svc = None
    try:
        for g in guests:
            g.start()
        assert x.source.startswith("qemu:") and v.source.startswith("vm:")
        extra = (f"    - name: {v.name}\n      source: {v.source}\n"
                 f"    - name: {a.name}\n      source: {a.source}\n"
                 f"      memory_regions: {a.regions_path}\n")
        svc = Service(tmp_path, x, sleep=SLEEP, extra=extra, wait_init=False)
        for g in guests:
            assert svc.wait_for(lambda m: named(m, g.name, "Host Initialization Successful"),
                                timeout=60), f"{g.name} ({g.arch}, {g.source}) never initialized"
        time.sleep(2 * svc.sleep_s)

        pids = {g.name: g.spawn("exec sleep 30") for g in guests}
        for g in guests:
            seen = svc.wait_for(lambda m: named(m, g.name, "Process Created") and
                                m["activity_data"]["process_details"]["process_id"] == pids[g.name],
                                timeout=15)
            assert seen, f"the process started in {g.name} ({g.arch}) was not seen"
        # each read as its own kind of kernel, initialized once
        out = svc.stdout()
        for g in guests:
            line = next((l for l in out.splitlines() if f"monitoring {g.name}: Linux " in l), "")
            assert line.endswith("arm64" if g.arch == "arm64" else "amd64"), (g.name, line)
            n = sum(named(m, g.name, "Host Initialization Successful") for m in svc.messages)
            assert n == 1, f"{g.name} initialized {n} times"
        svc.expect_alerts(0)
    finally:
        if svc:
            svc.stop(check_alerts=False)
        for g in guests:
            g.stop()
