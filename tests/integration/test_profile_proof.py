"""A profile is proven before it is trusted.  An ISF written for the running
guest by argus itself is accepted; copies of it with one task_struct offset
wrong (the task list, the names, the pids, the parent) are refused with
Profile Verification Failed, saying what did not hold: by the CLI (exit 1,
one line naming the file) and by the service (the host is not monitored:
no Host Initialization Successful, no Process Hidden).  Offsets outside
task_struct are refused while parsing (Profile Parsing Failed)."""
import json
import os
import time

import pytest

from conftest import Service, run_argus


@pytest.fixture(scope="module")
def isf(guest, tmp_path_factory):
    d = tmp_path_factory.mktemp("proof")
    out = d / "good.json"
    run_argus("profile", "--source", f"qemu:{guest.ram_path}", "-o", str(out))
    return out


def variant(isf, dst, member, offset=None, delta=0, to_member=None):
    """A copy of the ISF with task_struct.member moved: to offset, by delta,
    or onto another member's offset."""
    doc = json.loads(isf.read_text())
    fields = doc["user_types"]["task_struct"]["fields"]
    old = fields[member]["offset"]
    new = fields[to_member]["offset"] if to_member else offset if offset is not None else old + delta
    fields[member]["offset"] = new
    dst.write_text(json.dumps(doc))
    return dst


def ps(guest, profile):
    return run_argus("ps", "--source", f"qemu:{guest.ram_path}", "--profile", str(profile),
                     check=False, timeout=120)


def one_line(p):
    assert p.returncode == 1, f"rc {p.returncode}: {p.stderr}"
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{p.stderr}"
    assert lines[0].startswith("argus: "), lines[0]
    assert p.stdout.count("\n") <= 1  # at most a header
    return lines[0]


def test_good_isf_accepted(guest, isf):
    """The unmodified ISF is accepted, or every refusal below proves nothing."""
    p = ps(guest, isf)
    assert p.returncode == 0, p.stderr
    rows = [l.split() for l in p.stdout.splitlines()[1:]]
    assert any(r[0] == "1" and r[1] == "0" for r in rows), p.stdout
    assert len(rows) > 20


# (name, how the offset is wrong, what the refusal must say)
BAD = [
    ("tasks_plus8", dict(member="tasks", delta=8), "task list from init_task"),
    ("tasks_minus8", dict(member="tasks", delta=-8), "task list from init_task"),
    ("tasks_zero", dict(member="tasks", offset=0), "task list from init_task"),
    ("tasks_is_children", dict(member="tasks", to_member="children"), "no task with pid 1"),
    ("comm_plus8", dict(member="comm", delta=8), "init_task's name reads"),
    ("comm_minus8", dict(member="comm", delta=-8), "init_task's name reads"),
    ("pid_plus8", dict(member="pid", delta=8), "init_task's pid reads"),
    ("pid_minus8", dict(member="pid", delta=-8), "no task with pid 1"),
    ("pid_zero", dict(member="pid", offset=0), "init_task's pid reads"),
    ("real_parent_plus16", dict(member="real_parent", delta=16), "pid 1's parent is"),
]


@pytest.mark.parametrize("name,how,needle", BAD, ids=[b[0] for b in BAD])
def test_cli_refuses_wrong_offset(guest, isf, tmp_path, name, how, needle):
    bad = variant(isf, tmp_path / f"{name}.json", **how)
    line = one_line(ps(guest, bad))
    assert f"{name}.json: profile verification failed: " in line, line
    assert needle in line, line


@pytest.mark.parametrize("offset", [1 << 30, -8, 1 << 40])
def test_cli_refuses_absurd_offset(guest, isf, tmp_path, offset):
    bad = variant(isf, tmp_path / "absurd.json", member="tasks", offset=offset)
    line = one_line(ps(guest, bad))
    assert "absurd.json" in line and "offset" in line, line


def test_folder_takes_the_one_that_proves(guest, isf, tmp_path):
    bad_only = tmp_path / "bad"
    bad_only.mkdir()
    variant(isf, bad_only / "a.json", member="tasks", delta=8)
    variant(isf, bad_only / "b.json", member="comm", delta=8)
    line = one_line(ps(guest, bad_only))
    assert "none of 2 ISF files" in line and "profile verification failed" in line, line
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    variant(isf, mixed / "a.json", member="tasks", delta=8)
    os.symlink(isf, mixed / "good.json")
    info = run_argus("info", "--source", f"qemu:{guest.ram_path}", "--profile", str(mixed))
    assert "good.json" in info.stdout, info.stdout


def names(svc):
    svc.poll()
    return [m["activity_data"]["name"] for m in svc.messages]


def test_service_refuses_wrong_offset(guest, isf, tmp_path):
    bad = variant(isf, tmp_path / "tasks_plus8.json", member="tasks", delta=8)
    svc = Service(tmp_path / "svc", guest, sleep="300ms", wait_init=False,
                  extra=f"      os_symbols: {bad}\n")
    try:
        found = svc.wait_for(lambda m: m["activity_data"]["name"] == "Profile Verification Failed",
                             timeout=60)
        assert found, f"no Profile Verification Failed: {names(svc)}"
        m = found[0]
        assert m["message_type"] == "SYSTEM_ACTIVITY" and m["severity"] == "ERROR", m
        desc = m["activity_data"]["system_activity_details"]["description"]
        assert "tasks_plus8.json" in desc and "task list from init_task" in desc, desc
        assert svc.wait_for(lambda m: m["activity_data"]["name"] == "Host Initialization Failed",
                            timeout=30)
        time.sleep(3)   # retried at least once more
        seen = names(svc)
        assert "Host Initialization Successful" not in seen, seen
        assert "Profile Verification Successful" not in seen, seen
        assert "Process Hidden" not in seen, seen
    finally:
        svc.stop()


def test_service_accepts_good_isf(guest, isf, tmp_path):
    svc = Service(tmp_path / "svc", guest, sleep="300ms", extra=f"      os_symbols: {isf}\n")
    try:
        time.sleep(2)
        seen = names(svc)
        assert "Profile Verification Successful" in seen, seen
        assert "Profile Verification Failed" not in seen, seen
        assert "Process Hidden" not in seen, seen
    finally:
        svc.stop()
