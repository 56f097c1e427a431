"""argus ps, read from outside, against the guest's own process list.

Ground truth is the guest's /proc (argus-truth ps) taken just before and
just after argus reads memory: a process present in both views must be in
argus's list with the same pid, ppid, name, uid and gid; a process in only
one of them was born or died in between and may differ (the test says
which).  Nothing else may differ.
"""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import run_argus

FIELDS = ("ppid", "name", "uid", "gid")


def argus_ps(source, *extra):
    out = run_argus("ps", "--source", source, "--json", *extra).stdout
    procs = {}
    for line in out.splitlines():
        o = json.loads(line)
        procs[o["process_id"]] = {
            "ppid": o["process_parent_process_id"],
            "name": o["process_name"],
            "uid": o["process_real_user_id"],
            "gid": o["process_real_group_id"],
        }
    return procs


def truth(g):
    return {int(p["pid"]): {"ppid": int(p["ppid"]), "name": p["name"],
                            "uid": int(p["uid"]), "gid": int(p["gid"])}
            for p in g.truth_ps()}


def stable_name(name):
    """A workqueue worker's name ends in the work it last ran ("-desc" or
    "+desc"), which changes from one moment to the next: compare the worker
    part.  A rescuer (Linux 6.8+: "kworker/R-" and its workqueue's name,
    which may hold dashes) is compared whole: its name is its identity, and
    it runs work only while it rescues a pool."""
    if name.startswith("kworker/R-"):
        return name
    if name.startswith("kworker/"):
        return name.split("-")[0].split("+")[0]
    return name


def compare(before, seen, after):
    """Return (mismatches, churn) comparing argus's view with two truths."""
    stable = set(before) & set(after)
    churn = (set(before) ^ set(after)) | (set(seen) - set(before) - set(after))
    bad = []
    for pid in sorted(stable):
        if pid not in seen:
            bad.append(f"pid {pid} ({before[pid]['name']}) missing from argus")
            continue
        for f in FIELDS:
            b, a, s = before[pid][f], after[pid][f], seen[pid][f]
            if f == "name":
                b, a, s = stable_name(b), stable_name(a), stable_name(s)
            if b == a and s != b:
                bad.append(f"pid {pid} field {f}: guest {before[pid][f]!r}, argus {seen[pid][f]!r}")
    # a pid argus saw that neither view has must be a process that lived
    # only between the two views: born after the first view (pids are
    # handed out in increasing order; this guest never wraps pid_max), so
    # above every pid that view had, and the child of a process that was
    # alive then.  Anything else argus invented.
    newest = max(before)
    for pid in sorted(set(seen) - set(before) - set(after)):
        ppid = seen[pid]["ppid"]
        if pid <= newest:
            bad.append(f"pid {pid} ({seen[pid]['name']}) in argus only, and older than "
                       f"the guest's first view (its newest pid is {newest})")
        elif ppid not in before and ppid not in after and ppid not in seen:
            bad.append(f"pid {pid} ({seen[pid]['name']}) in argus only, and its parent "
                       f"{ppid} is in no view")
    return bad, sorted(churn)


def test_ps_live_20_runs_under_churn(guest):
    """20 runs in a row while the guest forks and kills processes."""
    churn_pid = guest.spawn("while true; do sleep 0.2 & sleep 0.05 & kill $! 2>/dev/null; "
                            "usleep 20000; done")
    try:
        total_churn = 0
        for i in range(20):
            before = truth(guest)
            seen = argus_ps(f"qemu:{guest.ram_path}")
            after = truth(guest)
            bad, churn = compare(before, seen, after)
            assert not bad, f"run {i + 1}: " + "; ".join(bad)
            total_churn += len(churn)
            assert len(set(before) & set(after)) > 20
        print(f"20 runs: all stable processes matched; {total_churn} born/died between views")
    finally:
        guest.run(f"kill {churn_pid}")


def test_ps_kernel_threads_and_init(guest):
    seen = argus_ps(f"qemu:{guest.ram_path}")
    assert seen[1]["ppid"] == 0
    assert seen[2]["name"] == "kthreadd"
    assert seen[2]["ppid"] == 0
    kthreads = [p for p, v in seen.items() if v["ppid"] == 2]
    assert len(kthreads) > 10


def test_ps_threads(guest):
    # a process with several threads: busybox has none, so use bash coprocs?
    # The kernel's own threads are single; check each process lists itself.
    out = run_argus("ps", "--source", f"qemu:{guest.ram_path}", "--json", "--threads").stdout
    truth_threads = {}
    for t in guest.run("argus-truth threads")[1].splitlines():
        pid, tid, name = t.split("\t")[:3]
        truth_threads.setdefault(int(pid), set()).add(int(tid))
    seen = {}
    for line in out.splitlines():
        o = json.loads(line)
        seen[o["process_id"]] = {t["thread_id"] for t in o["threads"]}
    for pid, tids in truth_threads.items():
        if pid in seen:
            assert pid in seen[pid], f"process {pid} lacks its main thread"
            assert seen[pid] == tids, f"pid {pid}: guest threads {tids}, argus {seen[pid]}"


def frozen_truth(g):
    """Truth taken around a pause: what a dump taken while paused holds."""
    return truth(g)


@pytest.fixture(scope="module")
def images(guest, tmp_path_factory):
    """Images of one paused moment: raw copy, QMP ELF dump, argus dumps."""
    d = tmp_path_factory.mktemp("img")
    before = truth(guest)
    guest.pause()
    try:
        shutil.copyfile(guest.ram_path, d / "copy.raw")
        guest.dump(str(d / "qmp.elf"), paging=False)
        for fmt in ("raw", "lime", "elf"):
            run_argus("dump", "--source", f"qemu:{guest.ram_path}", "--format", fmt,
                      "-o", str(d / f"argus.{fmt}"))
    finally:
        guest.cont()
    after = truth(guest)
    return d, before, after


@pytest.mark.parametrize("name,spec", [
    ("raw copy", "raw:{d}/copy.raw"),
    ("QMP ELF dump", "{d}/qmp.elf"),
    ("argus dump raw", "{d}/argus.raw"),
    ("argus dump LiME", "{d}/argus.lime"),
    ("argus dump ELF", "{d}/argus.elf"),
])
def test_ps_images(images, name, spec):
    d, before, after = images
    seen = argus_ps(spec.format(d=d))
    bad, churn = compare(before, seen, after)
    assert not bad, f"{name}: " + "; ".join(bad)


def test_ps_with_isf_profile_written_by_argus(guest, tmp_path):
    isf = tmp_path / "guest.json.xz"
    run_argus("profile", "--source", f"qemu:{guest.ram_path}", "-o", str(isf))
    for _ in range(3):
        before = truth(guest)
        auto = argus_ps(f"qemu:{guest.ram_path}")
        withisf = argus_ps(f"qemu:{guest.ram_path}", "--profile", str(isf))
        after = truth(guest)
        bad, _ = compare(before, withisf, after)
        assert not bad, "; ".join(bad)
        stable = set(before) & set(after)

        def view(procs):
            return {p: dict(v, name=stable_name(v["name"])) for p, v in procs.items()
                    if p in stable}
        assert view(auto) == view(withisf)


def test_ps_5level_paging(guest5):
    before = truth(guest5)
    seen = argus_ps(f"qemu:{guest5.ram_path}")
    after = truth(guest5)
    bad, _ = compare(before, seen, after)
    assert not bad, "; ".join(bad)
    assert "5-level" in run_argus("ps", "--source", f"qemu:{guest5.ram_path}", "-v").stderr
