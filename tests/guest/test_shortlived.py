"""Processes that live less than a scan interval: the light pass between
full scans (service.process_watch) reports each once, with its own name and
command line (never its parent's, read between fork and exec), then
Terminated once; a reused pid is another process; and nothing else is
raised (no Process Hidden from a light pass: it feeds no rule).

Full scans come every 5 s here, so a full scan alone could catch at most a
few of the processes each test starts; how many a light pass catches at
what lifetime is measured in bench/ (bench/run shortlived), not here.
"""
import os
import time

import pytest

from conftest import Service

SLEEP = "5s"        # full scans: far apart, so what is seen is the light pass's work
WATCH = "10ms"


@pytest.fixture(scope="module")
def svc(guest, tmp_path_factory):
    s = Service(tmp_path_factory.mktemp("shortlived"), guest, sleep=SLEEP,
                service=f"  process_watch: {WATCH}\n")
    yield s
    s.stop()


def events(svc, since, name, pids):
    """{pid: [process_details, ...]} of the events `name` about pids since
    the mark `since`."""
    svc.poll()
    out = {}
    for m in svc.messages[since:]:
        a = m["activity_data"]
        if a["name"] != name:
            continue
        pid = (a.get("process_details") or {}).get("process_id")
        if pid in pids:
            out.setdefault(pid, []).append(a["process_details"])
    return out


def settle(svc):
    """Wait for two full scans: every process started is gone by then,
    and its Terminated is written."""
    time.sleep(2 * svc.sleep_s + 1)
    svc.poll()


def test_short_lived_seen_once_with_their_own_name(guest, svc):
    """20 processes of 300 ms, one every 100 ms: two full scans 5 s apart
    can see at most 6 of them; each one seen is told Created once, as
    `napper` with its own arguments, and Terminated once."""
    since = svc.mark()
    out = guest.check("i=0; while [ $i -lt 20 ]; do napper 300 short$i & echo $! $i; "
                      "usleep 100000; i=$((i+1)); done; wait", timeout=60)
    tag = {int(p): f"short{i}" for p, i in (ln.split() for ln in out.splitlines() if ln.strip())}
    settle(svc)
    created = events(svc, since, "Process Created", tag)
    gone = events(svc, since, "Process Terminated", tag)
    assert len(created) >= 10, f"only {len(created)} of 20 short-lived processes seen"
    for pid, evs in created.items():
        assert len(evs) == 1, f"pid {pid} told Created {len(evs)} times: {evs}"
        p = evs[0]
        assert p["process_name"] == "napper", p
        assert p["process_command_line_arguments"] == f"napper 300 {tag[pid]}", p
        assert p["process_executable_path"] == "/bin/napper", p
        assert p.get("process_hash_sha256"), p
        assert len(gone.get(pid, [])) == 1, f"pid {pid}: Terminated {gone.get(pid)}"
    assert set(gone) <= set(created), "Terminated for a process never told Created"
    svc.expect_alerts(since, settle=False)


def test_fork_to_exec_window_is_not_their_name(guest, svc):
    """A child that waits 200 ms between fork and exec, then lives 60 ms as
    `napper`: a light pass sees it under its parent's name and arguments
    first; it is told Created with its own, never its parent's."""
    since = svc.mark()
    out = guest.check("i=0; while [ $i -lt 10 ]; do forkexec 200 /bin/napper 60 fx$i & "
                      "usleep 150000; i=$((i+1)); done; wait", timeout=60)
    pids = {int(p) for p in out.split()}
    assert len(pids) == 10
    settle(svc)
    created = events(svc, since, "Process Created", pids)
    assert created, "no child seen after its exec"
    for pid, evs in created.items():
        assert len(evs) == 1, f"pid {pid} told Created {len(evs)} times: {evs}"
        p = evs[0]
        assert p["process_name"] == "napper", f"pid {pid} told under another name: {p}"
        assert p["process_command_line_arguments"].startswith("/bin/napper 60 fx"), p
    gone = events(svc, since, "Process Terminated", pids)
    assert set(gone) == set(created), (set(gone), set(created))
    svc.expect_alerts(since, settle=False)


def test_reused_pid_is_another_process(guest, svc):
    """Two short-lived processes with the same pid (ns_last_pid makes the
    second take the first's) between two full scans: each is told Created
    and Terminated once, with its own arguments."""
    since = svc.mark()
    script = ("for t in 1 2 3 4 5 6 7 8; do napper 150 reuseA$t & a=$!; wait $a; "
              "echo $((a-1)) > /proc/sys/kernel/ns_last_pid; napper 150 reuseB$t & b=$!; "
              "wait $b; [ $a = $b ] && echo $a $t; usleep 200000; done")
    out = guest.check(script, timeout=60)
    reused = {int(p): t for p, t in (ln.split() for ln in out.split("\n") if ln.strip())}
    if not reused:
        pytest.skip("the guest never gave a pid twice in a row")
    settle(svc)
    created = events(svc, since, "Process Created", reused)
    gone = events(svc, since, "Process Terminated", reused)
    both = 0
    for pid, evs in created.items():
        args = sorted(e["process_command_line_arguments"] for e in evs)
        assert len(args) == len(set(args)), f"pid {pid}: a process told twice: {args}"
        for a in args:
            assert a in (f"napper 150 reuseA{reused[pid]}", f"napper 150 reuseB{reused[pid]}"), a
        if len(args) == 2:
            both += 1
            starts = {e["process_creation_time_iso_8601_ns"] for e in evs}
            assert len(starts) == 2, evs
        assert len(gone.get(pid, [])) == len(evs), (evs, gone.get(pid))
    assert both, f"no reused pid seen twice ({len(reused)} reused, {created})"
    svc.expect_alerts(since, settle=False)
