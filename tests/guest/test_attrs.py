"""The section 11 attributes test_scan.py does not compare, against the
guest's own view: ids and states from /proc/PID/status, CPU time from
/proc/PID/stat, file types and inode times from stat(1), the threads that
use a descriptor from /proc/PID/task/TID/fd, ELF types from the files'
own headers; where the guest cannot show a value (self_exec_id), a probe
(progs/attrprobe.c) makes it known by construction.

A record the guest shows before and after the scan, unchanged, must be in
the scan (missing is a failure); one that changed in between is skipped.
"""
import datetime
import time

import pytest

from test_scan import Tally, scan, tsv

STATES = {"R": "RUNNING", "S": "SLEEPING", "D": "DISK_SLEEP", "T": "STOPPED",
          "t": "TRACING_STOP", "X": "DEAD", "Z": "ZOMBIE", "P": "PARKED", "I": "IDLE"}
EXIT_STATES = {"Z": "EXIT_ZOMBIE", "X": "EXIT_DEAD"}
FTYPES = {"regular file": "REGULAR", "regular empty file": "REGULAR",
          "directory": "DIRECTORY", "character special file": "CHARACTER_DEVICE",
          "block special file": "BLOCK_DEVICE", "fifo": "FIFO", "socket": "SOCKET",
          "symbolic link": "SYMLINK", "anon_inode": "ANONYMOUS_INODE"}
ELF_TYPES = {"2": "EXECUTABLE", "3": "SHARED_OBJECT"}
EXEC_DEPTH = 3
TICK_NS = 10_000_000        # USER_HZ 100: /proc/PID/stat's clock tick


@pytest.fixture(scope="module")
def probes(guest):
    """Processes whose attributes are known: see progs/attrprobe.c."""
    p = {
        "fdtable": guest.spawn("exec attrprobe fdtable 1000"),
        "creds": guest.spawn("exec attrprobe creds 1000 2000 1001 2001 1000"),
        "exec": guest.spawn(f"exec attrprobe exec {EXEC_DEPTH} 1000"),
        "burn": guest.spawn("exec attrprobe burn 1000"),
        "leaderexit": guest.spawn("exec attrprobe leaderexit 1000"),
        # its child exits and is never waited for: a zombie
        "zombie_parent": guest.spawn("sleep 0 & exec sleep 1000"),
        "stopped": guest.spawn("exec sleep 1000"),
        # a directory, a pipe and a socket among the descriptors
        "files": guest.spawn("exec 3</tmp; sleep 1000 | exec sleep 1001"),
        "socket": guest.spawn("exec socat TCP-LISTEN:8099,reuseaddr EXEC:cat"),
    }
    guest.check(f"kill -STOP {p['stopped']}")
    time.sleep(3)      # the burner's 600 ms of CPU, under TCG
    yield p
    # each was spawned in a session of its own: its process group goes
    guest.run(f"kill -CONT {p['stopped']}; " +
              "; ".join(f"kill -9 -{pid} {pid}" for pid in p.values()) + "; rm -f /tmp/fdt-*")


def stable(before, after, key):
    """{key: row} for rows the guest showed unchanged before and after."""
    a = {key(r): r for r in after}
    return {k: r for k, r in ((key(r), r) for r in before) if a.get(k) == r}


def test_process_ids_and_state(guest, probes):
    """Real and effective user and group ids, and the state, of every process."""
    t = Tally()
    before = guest.truth_ps()
    d = scan(guest)
    truth = stable(before, guest.truth_ps(), lambda r: int(r["pid"]))
    procs = {p["process_id"]: p for p in d["processes"]}
    for pid, r in sorted(truth.items()):
        p, w = procs.get(pid), f"pid {pid}"
        if p is None:
            t.check("process", w, "present", True, False)
            continue
        for field, key in (("uid", "process_real_user_id"), ("gid", "process_real_group_id"),
                           ("euid", "process_effective_user_id"),
                           ("egid", "process_effective_group_id")):
            t.check("process", w, key, int(r[field]), p.get(key))
        t.check("process", w, "process_state", STATES.get(r["state"], r["state"]),
                p.get("process_state"))
    t.report()
    # what the probes made is among what was compared
    c = truth[probes["creds"]]
    assert (c["uid"], c["euid"], c["gid"], c["egid"]) == ("1000", "2000", "1001", "2001")
    assert {"S", "I", "T", "Z"} <= {r["state"] for r in truth.values()}
    assert truth[probes["leaderexit"]]["state"] == "Z"


def test_self_exec_id(guest, probes):
    """/proc does not show self_exec_id: a child that exec'd EXEC_DEPTH
    times since its fork has its parent's plus EXEC_DEPTH; each thread
    has its process's (threads are cloned after the last exec)."""
    d = scan(guest)
    procs = {p["process_id"]: p for p in d["processes"]}
    parent = procs[probes["exec"]]
    [child] = [p for p in d["processes"] if p["process_parent_process_id"] == parent["process_id"]]
    assert child["process_executable_path"] == "/bin/attrprobe"   # (comm "exe": /proc/self/exe)
    assert child["process_self_exec_id"] == parent["process_self_exec_id"] + EXEC_DEPTH
    t = Tally()
    for th in d["threads"]:
        p = procs.get(th["process_id"])
        if p is None:
            t.check("thread", f"tid {th['thread_id']}", "its process", th["process_id"], None)
            continue
        t.check("thread", f"tid {th['thread_id']}", "thread_self_exec_id",
                p["process_self_exec_id"], th["thread_self_exec_id"])
    t.report()
    tids = [th["thread_id"] for th in d["threads"] if th["process_id"] == probes["fdtable"]]
    assert len(tids) == 3, tids


def test_thread_exit_state(guest, probes):
    """Every thread, with the exit state its State in /proc/PID/task/TID/status says."""
    t = Tally()
    before = tsv(guest, "tasks")
    d = scan(guest)
    truth = stable(before, tsv(guest, "tasks"), lambda r: (int(r[0]), int(r[1])))
    threads = {(x["process_id"], x["thread_id"]): x for x in d["threads"]}
    for (pid, tid), (_, _, st) in sorted(truth.items()):
        x, w = threads.get((pid, tid)), f"pid {pid} tid {tid}"
        if x is None:
            t.check("thread", w, "present", True, False)
            continue
        t.check("thread", w, "thread_exit_state", EXIT_STATES.get(st, "NONE"),
                x["thread_exit_state"])
    t.report()
    leader = probes["leaderexit"]
    assert threads[(leader, leader)]["thread_exit_state"] == "EXIT_ZOMBIE"
    assert [x for k, x in threads.items() if k[0] == leader and k[1] != leader and
            x["thread_exit_state"] == "NONE"], "the thread that outlives its leader"


def iso_ns(s):
    """ISO 8601 (argus) or stat(1)'s "%x" form, to ns since the epoch."""
    s = s.replace(" +", "+").replace(" -", "-").replace(" ", "T", 1)
    frac = s[20:29] if s[19] == "." else "0"
    base = datetime.datetime.fromisoformat(s[:19] + s[29 if s[19] == "." else 19:])
    return int(base.timestamp()) * 10**9 + int(frac.ljust(9, "0"))


def test_fd_type_times_and_threads(guest, probes):
    """file_descriptor_file_type, the three inode times (to the ns) and
    the threads using each descriptor: those whose own fd N is the same
    file (/proc/PID/task/TID/fd/N)."""
    t = Tally()
    before = tsv(guest, "fdx")
    d = scan(guest)
    truth = stable(before, tsv(guest, "fdx"), lambda r: (int(r[0]), int(r[1])))
    fds = {(f["process_id"], f["file_descriptor_index"]): f for f in d["file_descriptors"]}
    scanned = {p["process_id"] for p in d["processes"]}
    for (pid, fd), row in sorted(truth.items()):
        if pid not in scanned:
            continue    # born after the scan (the truth command itself)
        ftype, atime, mtime, ctime, tids = (row + [""])[2:7]
        f, w = fds.get((pid, fd)), f"pid {pid} fd {fd}"
        if f is None:
            t.check("file_descriptor", w, "present", True, False)
            continue
        t.check("file_descriptor", w, "file_type", FTYPES.get(ftype, ftype),
                f["file_descriptor_file_type"])
        if ftype != "-":
            for name, want in (("access", atime), ("modify", mtime), ("change", ctime)):
                key = f"file_descriptor_inode_{name}_time_iso_8601_ns"
                t.check("file_descriptor", w, key, iso_ns(want), iso_ns(f[key]))
        t.check("file_descriptor", w, "thread_id_array",
                sorted(int(x) for x in tids.split(",") if x),
                sorted(f["file_descriptor_thread_id_array"]))
    t.report()
    # the probe: 3 threads, one of which has a table of its own
    pid = probes["fdtable"]
    tids = sorted(x["thread_id"] for x in d["threads"] if x["process_id"] == pid)
    assert len(tids) == 3
    for fd in range(5):
        assert (pid, fd) in truth, f"fd {fd} of the fdtable probe changed under the scan"
        arr = fds[(pid, fd)]["file_descriptor_thread_id_array"]
        assert pid in arr and len(arr) == 2, (fd, arr, tids)
    types = {FTYPES.get(r[2]) for r in truth.values()}
    assert {"REGULAR", "CHARACTER_DEVICE", "FIFO", "SOCKET", "DIRECTORY"} <= types, types


def test_cpu_and_creation_time(guest, probes):
    """process_creation_time_iso_8601_ns against /proc's start time;
    process_cpu_clock_cycles is the process's CPU time in ns (the kernel
    keeps no cycle count: docs/attributes.md): every thread's, the exited
    ones' too.  /proc/PID/stat's utime + stime are that time cut to clock
    ticks, each rounded down: time in [ticks, ticks + 2) ticks."""
    t = Tally()
    before = {int(r[0]): int(r[1]) for r in tsv(guest, "cpu")}
    d = scan(guest)
    rows = tsv(guest, "cpu")
    after = {int(r[0]): (int(r[1]), int(r[2])) for r in rows}
    start = {int(r[0]): int(r[4]) * 10**9 + int(r[3]) * TICK_NS for r in rows}
    procs = {p["process_id"]: p for p in d["processes"]}
    for pid in sorted(set(before) & set(after)):
        p, w = procs.get(pid), f"pid {pid}"
        if p is None:
            t.check("process", w, "present", True, False)
            continue
        ns = p["process_cpu_clock_cycles"]
        lo, hi = before[pid] * TICK_NS, (after[pid][0] + 2) * TICK_NS
        t.check("process", w, f"cpu ns in [{lo}, {hi})", True, lo <= ns < hi)
        # /proc's start: btime (boot, cut to the second) + start ticks
        born = iso_ns(p["process_creation_time_iso_8601_ns"])
        t.check("process", w, "creation time within [-0.01 s, 1.01 s) of btime + start",
                True, -TICK_NS <= born - start[pid] < 10**9 + TICK_NS)
    t.report()
    # the burner: 600 ms in three threads, 300 of them in one that exited;
    # its leader ran 100 ms of it
    burn = procs[probes["burn"]]["process_cpu_clock_cycles"]
    leader = after[probes["burn"]][1]
    assert burn >= 600_000_000 > 500_000_000 > leader, (burn, leader)


def test_elf_files(guest, probes):
    """elf_file_inode_number, _name, _type (the file's own e_type) and
    is_main_process_executable, per process; every executable mapping in
    /proc/PID/maps is an ELF file of the process."""
    t = Tally()
    exes_before = {int(r[0]): r[1] for r in tsv(guest, "proc") if r[1]}
    before = {(int(r[0]), r[1]) for r in tsv(guest, "maps")}
    d = scan(guest)
    after = {(int(r[0]), r[1]) for r in tsv(guest, "maps")}
    exes = {int(r[0]): r[1] for r in tsv(guest, "proc") if r[1]}
    # a process judged is one the guest showed the same before and after
    # the scan: same program, same mappings (others were born, exec'd or
    # died in between, and argus saw one moment of that)
    changed = {pid for pid, _ in before ^ after}
    stable = {pid for pid in exes if exes_before.get(pid) == exes[pid] and pid not in changed}
    scanned = {p["process_id"] for p in d["processes"]}
    want = {}
    for pid, line in before & after:
        f = line.split(None, 5)
        if pid in scanned and pid in stable and "x" in f[1] and len(f) > 5 and f[5].startswith("/"):
            want.setdefault(pid, set()).add(f[5])
    elfs = {}
    for e in d["elf_files"]:
        elfs[(e["process_id"], e["elf_file_path"])] = e
    paths = sorted({p for s in want.values() for p in s} | {p for _, p in elfs})
    info = {r[0]: (int(r[1]), r[2]) for r in
            (l.split("\t") for l in guest.check("argus-truth elf " + " ".join(paths)).splitlines())}
    for pid, files in sorted(want.items()):
        for path in sorted(files):
            if (pid, path) not in elfs:
                t.check("elf_file", f"pid {pid} {path}", "present", True, False)
    for (pid, path), e in sorted(elfs.items()):
        if pid not in stable:
            continue
        w = f"pid {pid} {path}"
        ino, etype = info[path]
        main = exes.get(pid) == path
        t.check("elf_file", w, "inode", ino, e["elf_file_inode_number"])
        t.check("elf_file", w, "name", path.rsplit("/", 1)[1], e["elf_file_name"])
        t.check("elf_file", w, "main executable", main, e["is_main_process_executable"])
        t.check("elf_file", w, "type", "POSITION_INDEPENDENT_EXECUTABLE"
                if etype == "3" and main else ELF_TYPES.get(etype, "UNKNOWN"), e["elf_file_type"])
    t.report()
    assert len(stable & scanned) >= 5, f"only {len(stable & scanned)} processes held still"
    types = {e["elf_file_type"] for e in elfs.values()}
    assert {"EXECUTABLE", "SHARED_OBJECT", "POSITION_INDEPENDENT_EXECUTABLE"} <= types, types
