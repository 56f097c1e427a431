"""Containers run by a real OCI runtime in the guest (Debian's crun, a
busybox bundle): Container Started/Terminated with the id crun gives, and
the container filter."""
import time

import pytest

from conftest import Service

SLEEP = "500ms"
BUNDLE = ("mkdir -p /bundle/rootfs/bin && cp /bin/busybox /bundle/rootfs/bin/ && "
          "ln -sf busybox /bundle/rootfs/bin/sleep && cd /bundle && rm -f config.json && "
          "crun spec && sed -i 's/\"terminal\": true/\"terminal\": false/; "
          "s/\"sh\"/\"sleep\", \"1000\"/' config.json")


def crun_run(guest, cid):
    guest.check(f"cd /bundle && crun --cgroup-manager=cgroupfs run --no-pivot -d "
                f"--bundle /bundle {cid}")
    return int(guest.check(f"crun state {cid} | sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p'"))


def crun_stop(guest, cid):
    guest.run(f"crun kill {cid} KILL; sleep 0.5; crun delete -f {cid}")


@pytest.fixture(scope="module")
def bundle(guest):
    if guest.run("command -v crun")[0]:
        pytest.skip("crun is not in the guest (install Debian's crun on the host)")
    guest.check(BUNDLE)


def events(svc, name, cid):
    svc.poll()
    return [m for m in svc.messages if m["activity_data"]["name"] == name and
            m["activity_data"].get("container_details", {}).get("process_container_id") == cid]


def test_container_started_and_terminated(guest, bundle, tmp_path):
    cid = "c0ffee" * 10 + "0001"
    s = Service(tmp_path, guest, sleep=SLEEP)
    try:
        pid = crun_run(guest, cid)
        deadline = time.time() + 6
        while not events(s, "Container Started", cid) and time.time() < deadline:
            time.sleep(0.2)
        [m] = events(s, "Container Started", cid)
        assert m["message_type"] == "EVENT" and m["severity"] == "INFO"
        d = m["activity_data"]["process_details"]
        assert d["process_id"] == pid and d["process_container_id"] == cid
        ns = guest.check(f"readlink /proc/{pid}/ns/pid").strip()
        assert str(d["process_pid_namespace"]) in ns
        crun_stop(guest, cid)
        deadline = time.time() + 6
        while not events(s, "Container Terminated", cid) and time.time() < deadline:
            time.sleep(0.2)
        assert len(events(s, "Container Terminated", cid)) == 1
        assert len(events(s, "Container Started", cid)) == 1
    finally:
        crun_stop(guest, cid)
        s.stop()


@pytest.mark.parametrize("filt,reported", [
    ("include: [c0ffee]", True),
    ("include: [deadbeef]", False),
    ("exclude: [c0ffee]", False),
    ("exclude: [deadbeef]", True),
])
def test_container_filter(guest, bundle, tmp_path, filt, reported):
    cid = "c0ffee" * 10 + "0002"
    s = Service(tmp_path, guest, sleep=SLEEP,
                extra=f"      events:\n        container_filter:\n          {filt}\n")
    try:
        pid = crun_run(guest, cid)
        time.sleep(4 * s.sleep_s + 2)
        s.poll()
        about = [m for m in s.messages
                 if m["activity_data"].get("process_details", {}).get("process_id") == pid]
        names = {m["activity_data"]["name"] for m in about}
        if reported:
            assert {"Container Started", "Process Created"} <= names, names
        else:
            assert not about, names
        # processes outside containers are reported whatever the filter
        host = guest.spawn("exec sleep 3")
        time.sleep(4 * s.sleep_s + 1)
        s.poll()
        assert any(m["activity_data"]["name"] == "Process Created" and
                   m["activity_data"]["process_details"]["process_id"] == host for m in s.messages)
    finally:
        crun_stop(guest, cid)
        s.stop()
