"""Faults the service meets in the field, each with its System Activity
message, no crash, and recovery when the cause goes away: the guest killed
under a scan (its RAM file left behind), the RAM file removed and the guest
booted again (a new boot id), the RAM file truncated and restored, a task
list and the modules list broken under the scan, the log disk full, the
telemetry peer gone."""
import json
import os
import shutil
import struct
import socket
import subprocess
import threading
import time

import pytest

import benign
from conftest import ARGUS, Service
from guest import Guest


def sa(name, text=""):
    """Match a System Activity by its §10.10 name and a piece of its description."""
    def match(m):
        a = m["activity_data"]
        return (m["message_type"] == "SYSTEM_ACTIVITY" and a["name"] == name
                and text in a["system_activity_details"]["description"])
    return match


def created(pid):
    return lambda m: (m["activity_data"]["name"] == "Process Created"
                      and m["activity_data"]["process_details"]["process_id"] == pid)


def alive(svc):
    assert svc.proc.poll() is None, f"argus exited ({svc.proc.returncode}); see {svc.dir}"


def test_guest_killed_removed_and_rebooted(tmp_path):
    g = Guest(f"f{os.getpid()}")
    g.start()
    svc = Service(tmp_path, g, sleep="300ms")
    try:
        [init] = svc.wait_for(sa("Host Initialization Successful"))
        boot1 = init["workload_information"]["boot_uuid"]
        # killed: QEMU dies, its RAM file stays with the last moment in it
        os.kill(g._pid(), 9)
        found = svc.wait_for(sa("Details Gathering Failed", "clock has not moved"), timeout=15)
        assert found, "a frozen guest was not reported"
        assert found[0]["severity"] == "ERROR"
        alive(svc)
        # the RAM file removed: the host is gone; argus keeps trying
        os.unlink(g.ram_path)
        assert svc.wait_for(sa("Details Gathering Failed", "removed or replaced"), timeout=10)
        assert svc.wait_for(sa("Host Initialization Failed"), timeout=10)
        alive(svc)
        # booted again under the same name: a new kernel, a new boot id
        n_ok = len(svc.wait_for(sa("Host Initialization Successful"), timeout=0))
        g.start()
        ok = svc.wait_for(sa("Host Initialization Successful"), timeout=60, count=n_ok + 1)
        assert len(ok) == n_ok + 1, "argus did not come back to the rebooted guest"
        boot2 = ok[-1]["workload_information"]["boot_uuid"]
        assert boot2 and boot2 != boot1, (boot1, boot2)
        pid = g.spawn("exec sleep 5")
        assert svc.wait_for(created(pid), timeout=10), "no events after the reboot"
        alive(svc)
    finally:
        svc.stop()
        g.stop()


def test_ram_file_truncated_and_restored(guest, tmp_path):
    copy = f"/dev/shm/argus-trunc{os.getpid()}.ram"
    shutil.copyfile(guest.ram_path, copy)
    svc = Service(tmp_path, guest, sleep="300ms", source=f"qemu:{copy}")
    try:
        os.truncate(copy, 1 << 20)
        assert svc.wait_for(sa("Details Gathering Failed", "shrank"), timeout=10), \
            "a truncated RAM file was not reported"
        assert svc.wait_for(sa("Host Initialization Failed"), timeout=10)
        alive(svc)
        n_ok = len(svc.wait_for(sa("Host Initialization Successful"), timeout=0))
        shutil.copyfile(guest.ram_path, copy)      # the same file, whole again
        ok = svc.wait_for(sa("Host Initialization Successful"), timeout=40, count=n_ok + 1)
        assert len(ok) == n_ok + 1, "argus did not recover when the file was whole again"
        alive(svc)
    finally:
        svc.stop()
        os.unlink(copy)


@pytest.fixture
def ram_copy():
    """Where a still copy of the guest's RAM goes; removed after the test,
    however it ends."""
    path = f"/dev/shm/argus-copy{os.getpid()}.ram"
    yield path
    if os.path.exists(path):
        os.unlink(path)


def cut_task_list(guest, copy):
    """A still copy of the guest's RAM, and the file offset of the
    tasks.next of a task in the middle of its task list."""
    shutil.copyfile(guest.ram_path, copy)
    info = json.loads(subprocess.run([ARGUS, "info", "--json", "--source", f"qemu:{copy}"],
                                     check=True, capture_output=True, text=True).stdout)
    off = info["offsets"]["task_struct.tasks"]
    # the task list in the copy: init_task's, then each task's by the
    # direct map (file offset = physical address on this guest)
    with open(copy, "r+b") as f:
        def next_of(pa):
            f.seek(pa + off)
            return struct.unpack("<Q", f.read(8))[0]
        tasks, at = [], info["init_task_physical_address"]
        while len(tasks) < 1000:
            nxt = next_of(at)
            task_pa = nxt - off - info["page_offset_base"]
            if task_pa == info["init_task_physical_address"] or not 0 < task_pa < os.path.getsize(copy):
                break
            tasks.append(task_pa)
            at = task_pa
    assert len(tasks) > 20, f"{len(tasks)} tasks found in the copy"
    return tasks[len(tasks) // 2] + off


def poke(path, at, data):
    with open(path, "r+b") as f:
        f.seek(at)
        was = f.read(len(data))
        f.seek(at)
        f.write(data)
    return was


def judged_alone(svc):
    n = svc.debug_log().count("task list walk ended early: implausible")
    assert n >= 1, "no scan lost tasks: the cut was not where the walk goes"
    return n


def assert_still(svc, since, what):
    """Nothing told since `since` (the copy does not change), and some scan
    lost tasks and was judged alone."""
    svc.poll()
    alive(svc)
    alone = judged_alone(svc)
    moved = [m["activity_data"]["name"] for m in svc.messages[since:]
             if m["message_type"] in ("EVENT", "ALERT")]
    assert not moved, f"{len(moved)} events {what} ({alone} scans judged alone): " + \
        ", ".join(sorted(set(moved)))
    svc.expect_alerts(0)


def test_task_list_broken_then_whole(guest, tmp_path, ram_copy):
    """A still copy of the guest's RAM, its task list cut in the middle (a
    task's tasks.next zeroed, as a walk meets a link being rewritten) for
    two scans, then whole again: the scans that lost tasks are judged
    alone, and no process, connection or container ends and starts again
    (none did: the copy does not change)."""
    copy = ram_copy
    cut = cut_task_list(guest, copy)
    svc = Service(tmp_path, guest, sleep="1s", source=f"qemu:{copy}", service="  log_level: 60\n")
    try:
        assert svc.wait_for(sa("Host Initialization Successful"), timeout=30)
        time.sleep(2.5)
        since = svc.mark()
        link = poke(copy, cut, b"\0" * 8)
        time.sleep(2.2)         # two scans, within DETECT_KEEP_MAX
        poke(copy, cut, link)
        time.sleep(3)
        assert_still(svc, since, "from a task list cut for two scans")
    finally:
        svc.stop(check_alerts=False)


def test_task_list_broken_at_the_first_scan(guest, tmp_path, ram_copy):
    """The same cut, from before the service starts until after its first
    scan: that scan is no baseline, the first whole one is, and the
    processes past the cut are not told Created (they were there)."""
    copy = ram_copy
    cut = cut_task_list(guest, copy)
    link = poke(copy, cut, b"\0" * 8)
    svc = Service(tmp_path, guest, sleep="1s", source=f"qemu:{copy}", service="  log_level: 60\n")
    try:
        assert svc.wait_for(sa("Host Initialization Successful"), timeout=30)
        time.sleep(0.5)
        poke(copy, cut, link)
        time.sleep(3.5)
        assert_still(svc, 0, "after a first scan that lost tasks")
    finally:
        svc.stop(check_alerts=False)


def va_to_pa(f, pgd, va):
    """x86-64 4-level page walk over a RAM file (offset = physical address)."""
    table = pgd
    for shift in (39, 30, 21, 12):
        f.seek(table + ((va >> shift) & 511) * 8)
        e = struct.unpack("<Q", f.read(8))[0]
        assert e & 1, f"{va:#x} not mapped at level {shift}"
        frame = e & 0x000ffffffffff000
        if shift in (30, 21) and e & 0x80:     # a 1 GiB or 2 MiB page
            return (frame & ~((1 << shift) - 1)) + (va & ((1 << shift) - 1))
        table = frame
    return table + (va & 0xfff)


def test_module_loaded_while_the_list_was_cut(guest, tmp_path, ram_copy):
    """A module that goes live while the modules list is cut under the scan
    (a still RAM copy: dummy's state set to COMING, then LIVE while its
    list.next is zeroed, then the link restored) is told Loaded at the next
    whole walk, against the last whole one -- once, and nothing else."""
    if not benign.upload_dummy(guest):
        pytest.skip("the kernel package has no dummy.ko")
    guest.check("insmod /tmp/dummy.ko")
    copy = ram_copy
    try:
        shutil.copyfile(guest.ram_path, copy)
    finally:
        guest.run("rmmod dummy")
    src = f"qemu:{copy}"

    def scan():
        out = subprocess.run([ARGUS, "scan", "--once", "--json", "--source", src],
                             capture_output=True, text=True).stdout
        return json.loads(out)

    info = json.loads(subprocess.run([ARGUS, "info", "--json", "--source", src],
                                     check=True, capture_output=True, text=True).stdout)
    if info["arch"] != "x86_64" or info["paging_levels"] != 4:
        pytest.skip("the page walk here is x86-64 4-level")
    s = scan()
    mods = [m for m in s["kernel_modules"] if m["kernel_module_name"] == "dummy"]
    assert len(mods) == 1 and s["scan_statistics"]["kernel_module_views"] == "complete", \
        s["scan_statistics"]
    with open(copy, "r+b") as f:
        # struct module: state (0), list (8), name (24) since 2.6
        pa = va_to_pa(f, info["kernel_pgd_physical_address"],
                      int(mods[0]["kernel_module_address"], 16))
        f.seek(pa + 24)
        assert f.read(6) == b"dummy\0", "not dummy's struct module"
        f.seek(pa + 8)
        link = f.read(8)
        f.seek(pa)
        f.write(struct.pack("<I", 1))   # MODULE_STATE_COMING: not live yet
    svc = Service(tmp_path, guest, sleep="1s", source=src, service="  log_level: 60\n")
    try:
        assert svc.wait_for(sa("Host Initialization Successful"), timeout=30)
        time.sleep(2.5)
        since = svc.mark()
        with open(copy, "r+b") as f:
            f.seek(pa + 8)
            f.write(b"\0" * 8)         # the walk stops at dummy
            f.seek(pa)
            f.write(struct.pack("<I", 0))
        cut = scan()["scan_statistics"]["kernel_module_views"]
        time.sleep(2.2)
        with open(copy, "r+b") as f:
            f.seek(pa + 8)
            f.write(link)
        time.sleep(3)
        svc.poll()
        alive(svc)
        assert cut == "incomplete", f"the cut list read as {cut}"
        told = [(m["activity_data"]["name"],
                 m["activity_data"].get("kernel_module_details", {}).get("kernel_module_name"))
                for m in svc.messages[since:] if m["message_type"] in ("EVENT", "ALERT")]
        assert told == [("Kernel Module Loaded", "dummy")], told
        svc.expect_alerts(0)
    finally:
        svc.stop(check_alerts=False)


class Receiver:
    """A JSON-lines telemetry peer on loopback that can come and go."""

    def __init__(self, port=0):
        self.lines, self.sock = [], None
        self.port = port
        self.start()

    def start(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(4)
        self.running = True
        threading.Thread(target=self._serve, args=(self.sock,), daemon=True).start()

    def _serve(self, ls):
        import json
        ls.settimeout(0.2)
        while self.running:
            try:
                c, _ = ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            buf = b""
            c.settimeout(0.2)
            while self.running:
                try:
                    chunk = c.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                buf += chunk
                *done, buf = buf.split(b"\n")
                self.lines += [json.loads(x) for x in done]
            c.close()

    def stop(self):
        self.running = False
        self.sock.close()
        time.sleep(0.5)


def test_log_disk_full(guest, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], check=True)
    rx = Receiver()
    try:
        svc = Service(tmp_path / "svc", guest, sleep="200ms", events_dir=str(disk),
                      output=f"  log_threshold_size: 100MB\n  telemetry:\n"
                             f"    address: 127.0.0.1:{rx.port}\n    format: json\n")
        try:
            # fill the disk: events until a write fails
            with open(disk / "filler", "wb", buffering=0) as f:
                try:
                    while True:
                        f.write(b"x" * 4096)
                except OSError:
                    pass
            for _ in range(5):
                guest.spawn("exec sleep 1")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not [m for m in rx.lines if sa(
                    "Service Runtime Failure", "write failed")(m)]:
                time.sleep(0.2)
            fails = [m for m in rx.lines if sa("Service Runtime Failure", "write failed")(m)]
            assert fails, "a full log disk gave no Service Runtime Failure on telemetry"
            assert fails[0]["severity"] == "ERROR", fails[0]     # §10.10
            assert "No space left" in fails[0]["activity_data"]["system_activity_details"]["description"]
            assert "write failed" in svc.stdout()
            alive(svc)
            # space again: the log takes new events
            os.unlink(disk / "filler")
            size0 = os.path.getsize(svc.events_path)
            pid = guest.spawn("exec sleep 3")
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and "writable again" not in svc.stdout():
                time.sleep(0.2)
            assert "writable again" in svc.stdout()
            assert svc.wait_for(created(pid), timeout=10), "no events in the log after space came back"
            assert os.path.getsize(svc.events_path) > size0
            # what the full disk did not take, telemetry did: no alert there
            odd = [m["activity_data"]["name"] for m in rx.lines if m["message_type"] == "ALERT"
                   and m["activity_data"]["name"] not in Service.ROUTINE_ALERTS]
            assert not odd, f"alerts while the log disk was full: {odd}"
        finally:
            svc.stop()
    finally:
        rx.stop()
        subprocess.run(["umount", "-l", str(disk)])


def test_telemetry_peer_gone(guest, tmp_path):
    rx = Receiver()
    svc = Service(tmp_path, guest, sleep="300ms",
                  output=f"  telemetry:\n    address: 127.0.0.1:{rx.port}\n    format: json\n")
    try:
        pid = guest.spawn("exec sleep 2")
        assert svc.wait_for(created(pid), timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not [m for m in rx.lines if created(pid)(m)]:
            time.sleep(0.2)
        assert [m for m in rx.lines if created(pid)(m)], "telemetry did not work to begin with"
        rx.stop()
        for _ in range(3):
            guest.spawn("exec sleep 1")
        found = svc.wait_for(sa("Service Runtime Failure", "unreachable"), timeout=20)
        assert found, "a gone telemetry peer gave no Service Runtime Failure"
        assert found[0]["severity"] == "ERROR", found[0]         # §10.10
        assert f"127.0.0.1:{rx.port}" in found[0]["activity_data"]["system_activity_details"]["description"]
        alive(svc)
        rx.start()          # the same port again
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "connected again" not in svc.stdout():
            time.sleep(0.2)
        assert "connected again" in svc.stdout()
        # what was queued meanwhile arrives, the failure report among it
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not [m for m in rx.lines if sa(
                "Service Runtime Failure", "unreachable")(m)]:
            time.sleep(0.2)
        assert [m for m in rx.lines if sa("Service Runtime Failure", "unreachable")(m)]
    finally:
        svc.stop()
        rx.stop()
