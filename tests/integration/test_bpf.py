"""BPF programs read from the kernel's program IDR: each one as the guest's
own /proc/PID/fdinfo describes it, its load and unload told as events, and
a program calling bpf_probe_write_user alerted (once, also when it was
loaded before argus started).  The loader (tests/guest/progs/bpfload.c)
uses the raw bpf() syscall."""
import json
import time

from conftest import Service, run_argus

TYPES = {1: "SOCKET_FILTER", 2: "KPROBE"}


def fdinfo(guest, pid):
    """The guest's own view of the program behind pid's descriptor 3."""
    rc, out, _ = guest.run(f"cat /proc/{pid}/fdinfo/3")
    assert rc == 0, out
    kv = dict(l.split(":\t", 1) for l in out.splitlines() if ":\t" in l)
    return int(kv["prog_id"]), kv["prog_tag"].strip(), int(kv["prog_type"])


def load(guest, mode, name, seconds=120):
    pid = guest.spawn(f"exec bpfload {mode} {name} {seconds} >/tmp/{name}.out 2>&1")
    for _ in range(50):
        rc, out, _ = guest.run(f"cat /tmp/{name}.out")
        if out.strip().isdigit():
            return pid
        time.sleep(0.1)
    raise AssertionError(f"bpfload {mode} failed: {out}")


def by_name(svc, activity, name):
    svc.poll()
    return [m for m in svc.messages if m["activity_data"]["name"] == activity and
            m["activity_data"].get("bpf_program_details", {}).get("bpf_program_name") == name]


def test_programs_as_the_guest_sees_them(guest):
    programs_as_the_guest_sees_them(guest)


def test_loaded_unloaded_and_tampering(guest, tmp_path):
    loaded_unloaded_and_tampering(guest, tmp_path)


def programs_as_the_guest_sees_them(guest):
    """Each program as the guest's fdinfo has it; also on arm64
    (test_arm64_bpf.py)."""
    a = load(guest, "filter", "argus_f1")
    b = load(guest, "writeuser", "argus_w1")
    try:
        d = json.loads(run_argus("scan", "--once", "--json", *guest.argus_source()).stdout)
        assert d["scan_statistics"]["bpf_programs_complete"] is True
        progs = {p["bpf_program_name"]: p for p in d["bpf_programs"]}
        for pid, name, helpers in ((a, "argus_f1", ""), (b, "argus_w1", "bpf_probe_write_user")):
            assert name in progs, f"{name} not found: {sorted(progs)}"
            p = progs[name]
            pid_, tag, typ = fdinfo(guest, pid)
            assert p["bpf_program_id"] == pid_
            assert p["bpf_program_tag"] == tag
            assert p["bpf_program_type"] == TYPES[typ]
            assert p["process_id"] == pid
            assert p["bpf_program_tampering_helpers"] == helpers
            assert p["bpf_program_instructions_read"] is True
        # every program a process of the guest holds, none missing
        ids = set(int(x) for x in guest.check(
            "cat /proc/[0-9]*/fdinfo/* 2>/dev/null | awk '/^prog_id:/ {print $2}'")
            .split())
        assert ids and ids <= {p["bpf_program_id"] for p in d["bpf_programs"]}
    finally:
        guest.run(f"kill {a} {b}")


def loaded_unloaded_and_tampering(guest, tmp_path, extra="", sleep="300ms"):
    """Events for each load and unload, one alert for each tampering
    program (one loaded before argus started too), none for a benign one;
    extra: the service configuration's per-system lines (arm64's regions)."""
    early = load(guest, "writeuser", "argus_w0")       # before argus starts
    pids = [early]      # killed however the test ends: a tampering program
    #                     left loaded would be every later test's alert
    svc = Service(tmp_path, guest, sleep=sleep, extra=extra)
    try:
        since0 = 0
        found = svc.expect_alerts(since0, ("BPF Program Tampering Helper",
                                           lambda a: a["bpf_program_details"]["bpf_program_name"]
                                           == "argus_w0", 1))
        m = found["BPF Program Tampering Helper"][0]
        assert m["activity_data"]["process_details"]["process_id"] == early
        assert "bpf_probe_write_user" in m["activity_data"]["reason"]
        # a benign program: events, no alert
        since = svc.mark()
        f = load(guest, "filter", "argus_f2")
        pids.append(f)
        time.sleep(3 * svc.sleep_s)
        guest.run(f"kill {f}")
        time.sleep(3 * svc.sleep_s)
        svc.expect_alerts(since)
        assert len(by_name(svc, "BPF Program Loaded", "argus_f2")) == 1
        assert len(by_name(svc, "BPF Program Unloaded", "argus_f2")) == 1
        # a tampering one: loaded, alerted once however long it stays
        since = svc.mark()
        w = load(guest, "writeuser", "argus_w2")
        pids.append(w)
        time.sleep(5 * svc.sleep_s)
        svc.expect_alerts(since, ("BPF Program Tampering Helper",
                                  lambda a: a["bpf_program_details"]["bpf_program_name"]
                                  == "argus_w2" and a["process_details"]["process_id"] == w, 1))
        assert len(by_name(svc, "BPF Program Loaded", "argus_w2")) == 1
        guest.run(f"kill {w} {early}")
        time.sleep(3 * svc.sleep_s)
        assert len(by_name(svc, "BPF Program Unloaded", "argus_w2")) == 1
        assert len(by_name(svc, "BPF Program Unloaded", "argus_w0")) == 1
    finally:
        guest.run(f"kill {' '.join(map(str, pids))} 2>/dev/null; true")
        svc.stop()


def test_every_load_names_its_loader(guest, tmp_path):
    """Programs loaded and let go of while the service scans every 100 ms:
    each one's BPF Program Loaded names the bpfload that loaded it.  A scan
    reads the program IDR before the processes' fds, so a program it finds
    has its fd in what the scan read, unless the loader let go of it; the
    build before read the IDR after the fds, and a program loaded in
    between was told with no process."""
    n = 60
    svc = Service(tmp_path, guest, sleep="100ms")
    try:
        since = svc.mark()
        guest.check(f"for i in $(seq {n}); do bpfload filter argus_r$i 1 >/dev/null 2>&1 & "
                    f"sleep 0.15; done; wait", timeout=120)
        time.sleep(5 * svc.sleep_s)
        svc.expect_alerts(since)
        loaded = [m["activity_data"] for m in svc.messages[since:]
                  if m["activity_data"]["name"] == "BPF Program Loaded" and
                  m["activity_data"]["bpf_program_details"]["bpf_program_name"]
                  .startswith("argus_r")]
        # each lives a second, ten scans: none loaded between two of them
        names = [a["bpf_program_details"]["bpf_program_name"] for a in loaded]
        assert sorted(names) == sorted(f"argus_r{i}" for i in range(1, n + 1)), names
        nameless = [a["bpf_program_details"]["bpf_program_name"] for a in loaded
                    if a.get("process_details", {}).get("process_name") != "bpfload"]
        assert not nameless, f"told with no loader: {nameless}"
    finally:
        guest.run("pkill bpfload; true")
        svc.stop()
