"""Process Hidden, on a real rootkit technique: tests/guest/kmod/hidepid.ko
unlinks a task from the kernel's task list (and, with children=1, from its
parent's children).  argus cross-checks the pid namespace's IDR."""
import time

import pytest

from conftest import Service

SLEEP = "500ms"


@pytest.fixture(scope="module")
def svc(guest, tmp_path_factory):
    if guest.run("test -f /bin/hidepid.ko")[0]:
        pytest.skip("the test rootkit could not be built (kernel headers unavailable)")
    s = Service(tmp_path_factory.mktemp("hidden"), guest, sleep=SLEEP)
    yield s
    s.stop()


def hidden_alerts(svc):
    svc.poll()
    return [m for m in svc.messages if m["activity_data"]["name"] == "Process Hidden"]


@pytest.mark.parametrize("children", [0, 1])
def test_process_hidden(guest, svc, children):
    since = svc.mark()
    pid = guest.spawn("exec sleep 1000")
    time.sleep(2 * svc.sleep_s + 1)
    before = len(hidden_alerts(svc))
    guest.check(f"insmod /bin/hidepid.ko pid={pid} children={children}")
    try:
        deadline = time.time() + 4 * svc.sleep_s + 5
        while time.time() < deadline and len(hidden_alerts(svc)) == before:
            time.sleep(0.2)
        time.sleep(3 * svc.sleep_s)
        new = hidden_alerts(svc)[before:]
        assert len(new) == 1, f"{len(new)} Process Hidden alerts"
        m = new[0]
        assert m["message_type"] == "ALERT" and m["severity"] == "HIGH"
        d = m["activity_data"]["process_details"]
        assert d["process_id"] == pid and d["process_name"] == "sleep"
        svc.expect_alerts(since, ("Process Hidden", lambda a: a["process_details"]["process_id"]
                                  == pid, 1))
    finally:
        guest.run("rmmod hidepid")
        guest.run(f"kill {pid}")


# Churn (processes born and reaped all the time) raising no Process Hidden is
# tests/integration/test_soak.py: ten minutes of it at 100 ms scans.
