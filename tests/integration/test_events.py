"""The service against the live guest: each action in the guest produces
its event of section 10, once, with the right type, severity, name and
details, within two scan periods (plus the time the guest takes to act)."""
import time

import pytest

from conftest import Service
from guest import OUTSIDE, OUTSIDE_QUIET

SLEEP = "500ms"


@pytest.fixture(scope="module")
def svc(guest, tmp_path_factory):
    s = Service(tmp_path_factory.mktemp("svc"), guest, sleep=SLEEP)
    yield s
    s.stop()


def expect(svc, row, pred, mtype, severity, count=1, within=None):
    """Wait for activity `row` (its §10 name) matching pred; exactly count."""
    within = within or 2 * svc.sleep_s + 3
    def match(m):
        a = m["activity_data"]
        return a["name"] == row and pred(a)
    found = svc.wait_for(match, timeout=within, count=count)
    assert len(found) >= count, f"§10 '{row}': {len(found)} of {count} expected events arrived"
    time.sleep(svc.sleep_s)
    found = [m for m in svc.messages if match(m)]
    assert len(found) == count, f"§10 '{row}': {len(found)} events, expected {count}"
    for m in found:
        assert m["message_type"] == mtype, f"§10 '{row}': type {m['message_type']}"
        assert m["severity"] == severity, f"§10 '{row}': severity {m['severity']}"
        for k in ("message_id", "occurred_message_time_iso_8601_ns", "workload_information",
                  "bluefield_system_information", "product_version", "schema_version"):
            assert k in m, f"§10 '{row}': header lacks {k}"
    return found


def pid_is(pid):
    return lambda a: a.get("process_details", {}).get("process_id") == pid


def test_process_created_and_terminated(guest, svc):
    # a process that is `napper` from its exec on: a spawned command passes
    # through setsid and sh first (guest.py), and a busybox applet is `exe`
    # for a moment after its exec (ash runs it through /proc/self/exe); the
    # light passes between scans (process_watch) tell a process as they
    # first see it settled, which may be any of these
    pid = int(guest.check("napper 3000 >/dev/null 2>&1 & echo $!"))
    [m] = expect(svc, "Process Created", pid_is(pid), "EVENT", "INFO")
    d = m["activity_data"]["process_details"]
    assert d["process_name"] == "napper"
    assert d["process_executable_path"] == "/bin/napper"
    assert d["process_command_line_arguments"] == "napper 3000"
    expect(svc, "Process Terminated", pid_is(pid), "EVENT", "INFO", within=8)


def test_process_zombie(guest, svc):
    # the child exits at once; its parent (exec'ed into sleep) never waits
    pid = guest.spawn("sleep 0.2 & exec sleep 6")
    expect(svc, "Process Zombie", lambda a: a["process_details"]["process_parent_process_id"] == pid
           and a["process_details"]["process_state"] == "ZOMBIE", "EVENT", "WARNING")


def test_threads(guest, svc):
    pid = guest.spawn("exec threads 3 4")
    expect(svc, "Thread Created", pid_is(pid), "EVENT", "INFO", count=3)
    expect(svc, "Thread Terminated", pid_is(pid), "EVENT", "INFO", count=3, within=10)


def test_file_descriptors(guest, svc):
    pid = guest.spawn("sleep 2; exec 7>/tmp/fd-test.txt; echo data >&7; sleep 2; exec 7>&-; sleep 3")
    [m] = expect(svc, "File Descriptor Open", lambda a: pid_is(pid)(a) and
                 a["file_descriptor_details"]["file_descriptor_index"] == 7, "EVENT", "INFO",
                 within=8)
    assert m["activity_data"]["file_descriptor_details"]["file_descriptor_name"] == "/tmp/fd-test.txt"
    expect(svc, "File Descriptor Close", lambda a: pid_is(pid)(a) and
           a["file_descriptor_details"]["file_descriptor_index"] == 7, "EVENT", "INFO", within=8)
    [m] = expect(svc, "File Descriptor File Content Change", lambda a: pid_is(pid)(a), "ALERT",
                 "MEDIUM")
    d = m["activity_data"]["file_descriptor_details"]
    want = guest.check("sha256sum /tmp/fd-test.txt").split()[0]
    assert d["file_descriptor_inode_hash_sha256"] == want
    assert d["file_descriptor_inode_hash_md5"] == guest.check("md5sum /tmp/fd-test.txt").split()[0]


def test_content_change_hashes_follow_the_content(guest, svc):
    """The same file (one inode) written and closed twice: each alert
    carries the hashes of the content it saw, not a remembered one."""
    pid = guest.spawn("sleep 2; exec 7>/tmp/fd-twice.txt; echo one >&7; sleep 2; exec 7>&-; "
                      "sleep 2; exec 7>>/tmp/fd-twice.txt; echo two >&7; sleep 2; exec 7>&-; "
                      "sleep 3")
    first = expect(svc, "File Descriptor File Content Change", pid_is(pid), "ALERT", "MEDIUM",
                   within=8)[0]["activity_data"]["file_descriptor_details"]
    assert first["file_descriptor_inode_hash_md5"] == "5bbf5a52328e7439ae6e719dfe712200"  # "one\n"
    both = expect(svc, "File Descriptor File Content Change", pid_is(pid), "ALERT", "MEDIUM",
                  count=2, within=10)
    d = both[1]["activity_data"]["file_descriptor_details"]
    for algo in ("sha256", "sha1", "md5"):
        want = guest.check(f"{algo}sum /tmp/fd-twice.txt").split()[0]
        assert d[f"file_descriptor_inode_hash_{algo}"] == want, algo
    guest.run("rm -f /tmp/fd-twice.txt")


def test_network_connections(guest, svc):
    srv = guest.spawn("exec socat TCP-LISTEN:9090,reuseaddr EXEC:'sleep 4'")
    time.sleep(1)
    cli = guest.spawn("exec socat TCP:127.0.0.1:9090 EXEC:'sleep 30'")
    [m] = expect(svc, "Network Connection Created", pid_is(cli), "EVENT", "INFO")
    c = m["activity_data"]["network_connection_details"]
    assert c["destination_port"] == 9090 and c["connection_state"] == "ESTABLISHED"
    expect(svc, "Network Connection Terminated", pid_is(cli), "EVENT", "INFO", within=10)
    guest.run(f"kill {srv} {cli} 2>/dev/null")


def test_connection_on_many_fds(guest, svc):
    """One connection that a shell holds on three fds, and a child of it
    inherited: told once when made, once when it ends."""
    def to_outside(a):
        c = a.get("network_connection_details", {})
        return c.get("destination_ip_address") == OUTSIDE and \
            c.get("destination_port") == OUTSIDE_QUIET
    guest.spawn(f"exec bash -c 'exec 3<>/dev/tcp/{OUTSIDE}/{OUTSIDE_QUIET} 4>&3 5>&3; "
                "sleep 3; true'")
    expect(svc, "Network Connection Created", to_outside, "EVENT", "INFO")
    expect(svc, "Network Connection Terminated", to_outside, "EVENT", "INFO", within=10)


def test_tcp_state_change(guest, svc):
    # the server closes first: the client's socket moves ESTABLISHED -> CLOSE_WAIT,
    # and stays there (-t 30: the client waits 30 s for its own side to end
    # before it closes), so that is the one change of the client's socket
    ESTABLISHED = 1     # the kernel's TCP state codes (previous_connection_state_code)
    srv = guest.spawn("exec socat TCP-LISTEN:9091,reuseaddr EXEC:'sleep 2'")
    time.sleep(1)
    cli = guest.spawn("exec socat -t 30 TCP:127.0.0.1:9091 EXEC:'sleep 30'")

    def change(m):
        return (m["activity_data"]["name"] == "TCP Network Connection State Change"
                and m["activity_data"]["network_connection_details"]["destination_port"] == 9091)
    try:
        found = svc.wait_for(change, timeout=10)
        assert found, "§10 'TCP Network Connection State Change' did not arrive"
        time.sleep(2 * svc.sleep_s)
        found = [m for m in svc.messages if change(m)]
        moves = [(m["activity_data"]["network_connection_details"].get("previous_connection_state_code"),
                  m["activity_data"]["network_connection_details"].get("connection_state"))
                 for m in found]
        assert moves == [(ESTABLISHED, "CLOSE_WAIT")], \
            f"client socket: expected one change ESTABLISHED (1) -> CLOSE_WAIT, got {moves}"
        assert found[0]["message_type"] == "EVENT" and found[0]["severity"] == "INFO"
    finally:
        guest.run(f"kill {srv} {cli} 2>/dev/null; killall socat 2>/dev/null")


def test_memory_and_files_mapped(guest, svc):
    pid = guest.spawn("exec memory file 3")
    expect(svc, "New File Mapped", lambda a: pid_is(pid)(a) and
           a["process_memory_details"]["file_path"] == "/etc/passwd", "EVENT", "INFO", within=10)
    expect(svc, "File Unmapped", lambda a: pid_is(pid)(a) and
           a["process_memory_details"]["file_path"] == "/etc/passwd", "EVENT", "INFO", within=8)
    expect(svc, "Process Memory Created", lambda a: pid_is(pid)(a) and
           a["process_memory_details"]["file_path"] == "/etc/passwd", "EVENT", "INFO")
    expect(svc, "Process Memory Terminated", lambda a: pid_is(pid)(a) and
           a["process_memory_details"]["file_path"] == "/etc/passwd", "EVENT", "INFO")


def test_container_started_and_terminated(guest, svc):
    cid = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899"
    guest.check(f"mkdir -p /sys/fs/cgroup/docker-{cid}.scope")
    pid = guest.spawn(f"echo $$ > /sys/fs/cgroup/docker-{cid}.scope/cgroup.procs; exec sleep 3")
    [m] = expect(svc, "Container Started",
                 lambda a: a.get("container_details", {}).get("process_container_id") == cid,
                 "EVENT", "INFO")
    assert m["activity_data"]["process_details"]["process_id"] == pid
    expect(svc, "Container Terminated",
           lambda a: a.get("container_details", {}).get("process_container_id") == cid,
           "EVENT", "INFO", within=8)
    guest.run(f"rmdir /sys/fs/cgroup/docker-{cid}.scope")


def test_shell_command_executed(guest, svc):
    guest.check("rm -f /tmp/sf; mkfifo /tmp/sf")
    sh = guest.spawn("exec bash -i </tmp/sf >/dev/null 2>&1")
    holder = guest.spawn("exec sleep 100 >/tmp/sf")
    time.sleep(2 * svc.sleep_s + 1)
    guest.check("echo 'echo argus-was-here' >/tmp/sf")
    [m] = expect(svc, "Shell Command Executed", pid_is(sh), "EVENT", "INFO")
    h = m["activity_data"]["shell_history_details"]["shell_command_execution_history"]
    assert h["command_line"] == "echo argus-was-here"
    guest.run(f"kill {holder} {sh}")



def shell_commands(svc, pid):
    return [m["activity_data"]["shell_history_details"]["shell_command_execution_history"]
            ["command_line"] for m in svc.messages
            if m["activity_data"]["name"] == "Shell Command Executed"
            and pid_is(pid)(m["activity_data"])]


def test_shell_history_is_commands_not_lines(guest, svc):
    """What bash loads from its HISTFILE is not news, and a full history
    (HISTSIZE reached, every entry moving down) still yields each new
    command once.  The rcfile's sleep makes argus see bash before it has
    read its file: the case that once reported 91 old lines."""
    # names of its own: another test leaves a FIFO at /tmp/hf
    guest.check("rm -f /tmp/hn.fifo /tmp/hn.rc /tmp/hn.hist && mkfifo /tmp/hn.fifo && "
                "echo 'sleep 2' >/tmp/hn.rc && "
                "for i in $(seq 40); do echo echo old-$i; done >/tmp/hn.hist")
    sh = guest.spawn("exec env HISTFILE=/tmp/hn.hist HISTSIZE=10 bash --rcfile /tmp/hn.rc -i "
                     "</tmp/hn.fifo >/dev/null 2>&1")
    holder = guest.spawn("exec sleep 100 >/tmp/hn.fifo")
    try:
        time.sleep(2 + 3 * svc.sleep_s + 1)
        typed = []
        for batch in range(3):
            lines = [f"echo new-{batch * 4 + i}" for i in range(4)]
            guest.check("printf '%s\\n' " + " ".join(f"'{x}'" for x in lines) + " >/tmp/hn.fifo")
            typed += lines
            time.sleep(2 * svc.sleep_s + 1)
        time.sleep(svc.sleep_s)
        svc.poll()
        assert shell_commands(svc, sh) == typed
    finally:
        guest.run(f"kill {holder} {sh}")


def test_shell_commands_before_first_sight(guest, svc):
    """A bash that ran commands before any scan saw it: they are told,
    once, and nothing it loaded from its file is."""
    guest.check("rm -f /tmp/hf3 /tmp/cmds3 && for i in $(seq 20); do echo echo old-$i; done >/tmp/hf3 && "
                "printf 'echo fs-1\\necho fs-2\\nsleep 100\\n' >/tmp/cmds3")
    sh = guest.spawn("exec env HISTFILE=/tmp/hf3 bash -i </tmp/cmds3 >/dev/null 2>&1")
    try:
        want = ["echo fs-1", "echo fs-2", "sleep 100"]
        svc.wait_for(lambda m: m["activity_data"]["name"] == "Shell Command Executed"
                     and pid_is(sh)(m["activity_data"]), timeout=2 * svc.sleep_s + 8, count=3)
        time.sleep(2 * svc.sleep_s)
        svc.poll()
        assert shell_commands(svc, sh) == want
    finally:
        guest.run(f"pkill -P {sh}; kill {sh}")

def test_graceful_shutdown(guest, tmp_path):
    s = Service(tmp_path, guest, sleep=SLEEP)
    assert s.stop() == 0
    assert s.messages[-1]["activity_data"]["name"] == "Service Gracefully Shutdown"
    names = [m["activity_data"]["name"] for m in s.messages]
    for n in ("Service Initialization Started", "Host Initialization Started",
              "OS Identifier Found", "Loading Profile Candidate", "Profile Verification Successful",
              "Host Initialization Successful", "Service Initialization Successful"):
        assert n in names, n


@pytest.mark.parametrize("limits,names", [
    ("processes: 20", ["Process Limit Reached"]),
    ("file_descriptors: 2\n        threads: 30\n        vmas: 20",
     ["File Handles Limit Reached", "Threads Limit Reached", "Process Memory Limit Reached"]),
])
def test_limits_reached(guest, tmp_path, limits, names):
    """A limit below what the guest has: its System Activity, once."""
    s = Service(tmp_path, guest, sleep=SLEEP, extra=f"      limits:\n        {limits}\n")
    try:
        for name in names:
            found = s.wait_for(lambda m, n=name: m["activity_data"]["name"] == n, timeout=5)
            time.sleep(3 * s.sleep_s)
            s.poll()
            found = [m for m in s.messages if m["activity_data"]["name"] == name]
            assert len(found) == 1, f"§10.10 '{name}': {len(found)} messages"
            assert found[0]["message_type"] == "SYSTEM_ACTIVITY"
            assert found[0]["severity"] == "MEDIUM"
    finally:
        s.stop()


def test_tcp_connections_status(guest, tmp_path):
    s = Service(tmp_path, guest, sleep=SLEEP,
                collection="  tcp_network_connections_status:\n    enabled: true\n    interval: 2s\n")
    srv = guest.spawn("exec socat TCP-LISTEN:9095,reuseaddr EXEC:'sleep 20'")
    try:
        found = s.wait_for(lambda m: m["activity_data"]["name"] == "TCP Network Connections Status"
                           and m["activity_data"]["process_details"]["process_id"] == srv,
                           timeout=8, count=2)
        assert len(found) >= 2, "§10.2 'TCP Network Connections Status' not periodic"
        assert all(m["message_type"] == "EVENT" and m["severity"] == "INFO" for m in found), \
            [(m["message_type"], m["severity"]) for m in found]
        conns = found[-1]["activity_data"]["network_connection_list"]
        assert any(c["network_connection_details"]["source_port"] == 9095 for c in conns)
    finally:
        guest.run(f"kill {srv}")
        s.stop()


def test_sighup_reopens_the_event_log(guest, tmp_path):
    import os
    import signal
    s = Service(tmp_path, guest, sleep=SLEEP)
    try:
        os.rename(s.events_path, s.events_path + ".moved")   # what logrotate does
        s.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        guest.spawn("exec sleep 1")
        deadline = time.time() + 10
        while not os.path.exists(s.events_path) and time.time() < deadline:
            time.sleep(0.2)
        assert os.path.exists(s.events_path), "SIGHUP did not reopen the event log"
    finally:
        s.stop()


def test_immediate_shutdown(guest, tmp_path):
    import signal
    s = Service(tmp_path, guest, sleep=SLEEP)
    s.stop()
    cfg = open(s.config).read().replace("service:\n", "service:\n  immediate_shutdown: true\n")
    with open(s.config, "w") as f:
        f.write(cfg)
    import subprocess
    from conftest import ARGUS
    before = len(open(s.events_path).readlines())
    p = subprocess.Popen([ARGUS, "run", "--config", s.config], stdout=subprocess.DEVNULL)
    time.sleep(3)
    p.send_signal(signal.SIGTERM)
    assert p.wait(10) == 0
    lines = open(s.events_path).readlines()[before:]
    assert any("Host Initialization Successful" in l for l in lines)
    assert not any("Service Gracefully Shutdown" in l for l in lines)
