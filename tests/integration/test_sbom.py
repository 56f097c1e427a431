"""Attestation against an SBOM of the guest's own image (its initramfs):
foreign, modified, resized and misused binaries and libraries."""
import os
import subprocess
import time

import pytest

from conftest import ARGUS, Service
from guest import initrd_file

SLEEP = "500ms"
LIB = "/lib/x86_64-linux-gnu/libtinfo.so.6"


@pytest.fixture(scope="module")
def svc(guest, tmp_path_factory):
    d = tmp_path_factory.mktemp("sbom")
    rootfs = d / "rootfs"
    rootfs.mkdir()
    initrd = initrd_file(os.path.join(os.environ.get("ARGUS_CACHE",
                                                     os.path.expanduser("~/.cache/argus")),
                                      "linux-image-6.1.0-56-cloud-amd64"))
    subprocess.run(f"zcat {initrd} | cpio -id --quiet", shell=True, cwd=rootfs, check=True)
    sbom = d / "sbom.json"
    subprocess.run([ARGUS, "sbom", str(rootfs), "-o", str(sbom),
                    "--entrypoint", "/bin/bash /bin/argus-ctl"], check=True)
    s = Service(d, guest, sleep=SLEEP,
                extra=f"      events:\n        sbom: [{sbom}]\n")
    time.sleep(2)
    yield s
    s.stop()


def of(pid):
    return lambda a: a["process_details"]["process_id"] == pid


def expect(svc, since, name, pid, also=(), timeout=8):
    """The one `name` alert for pid, and nothing else since `since` but
    the alerts `also` ((name, pid) pairs, one each) the same action raises."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        svc.poll()
        if any(m["activity_data"]["name"] == name and of(pid)(m["activity_data"])
               for m in svc.messages[since:]):
            found = svc.expect_alerts(since, (name, of(pid), 1),
                                      *((n, of(p), 1) for n, p in also))
            m = found[name][0]
            assert m["message_type"] == "ALERT" and m["severity"] == "HIGH"
            assert "elf_file_hash_sha256" in m["activity_data"]["elf_file_details"]
            return m
        time.sleep(0.2)
    raise AssertionError(f"no '{name}' for pid {pid}")


def test_baseline_is_quiet(guest, svc):
    """What the image holds runs quietly: the guest's own processes at the
    baseline, and a binary of the image started now, seen and judged."""
    since = svc.mark()
    pid = guest.spawn("exec /bin/threads 0 6")
    seen = svc.wait_for(lambda m: m["activity_data"]["name"] == "Process Created" and
                        m["activity_data"]["process_details"]["process_id"] == pid, timeout=10)
    assert seen, "argus never saw /bin/threads run: its silence proves nothing"
    svc.expect_alerts(0)


def test_foreign_binary(guest, svc):
    since = svc.mark()
    guest.check("cp /bin/threads /tmp/evil && printf x >>/tmp/evil")
    pid = guest.spawn("exec /tmp/evil 0 6")
    m = expect(svc, since, "Foreign Binary Executed", pid)
    assert m["activity_data"]["elf_file_details"]["elf_file_path"] == "/tmp/evil"


def test_binary_from_another_path(guest, svc):
    # named busybox still, so that it runs its applet
    since = svc.mark()
    guest.check("mkdir -p /tmp/x && cp /bin/busybox /tmp/x/busybox")
    pid = guest.spawn("exec /tmp/x/busybox sleep 6")
    expect(svc, since, "Binary Executed Not as Intended", pid)


def test_binary_with_other_arguments(guest, svc):
    # the subshell is a fork of bash that stays one, with bash's arguments,
    # while it waits for sleep: its parent's run, judged in the parent
    since = svc.mark()
    pid = guest.spawn("exec bash -c '(sleep 6; true); true'")
    expect(svc, since, "Binary Executed Not as Intended", pid)


def test_forked_run_whose_parent_is_gone(guest, svc):
    # a fork of bash whose parent has exited (a daemon's way): all that is
    # left of the run, judged itself; its parent may have been seen first
    since = svc.mark()
    guest.check("rm -f /tmp/sub.pid")
    parent = guest.spawn("exec bash -c '(echo $BASHPID >/tmp/sub.pid; sleep 6; true) & exit 0'")
    deadline = time.time() + 5
    while not (sub := guest.run("cat /tmp/sub.pid")[1].strip()) and time.time() < deadline:
        time.sleep(0.2)
    sub = int(sub)
    name = "Binary Executed Not as Intended"
    while time.time() < deadline + 8:
        svc.poll()
        if any(m["activity_data"]["name"] == name and of(sub)(m["activity_data"])
               for m in svc.messages[since:]):
            break
        time.sleep(0.2)
    svc.expect_alerts(since, (name, of(sub), 1), (name, of(parent), None))


def test_binary_size_mismatch(guest, svc):
    since = svc.mark()
    guest.check("cp /bin/memory /bin/memory.orig && cp /bin/memory /bin/m.new && "
                "printf xx >>/bin/m.new && mv /bin/m.new /bin/memory")
    try:
        pid = guest.spawn("exec memory file 6")
        expect(svc, since, "Foreign Binary Executed \u2013 File Size Mismatch", pid)
    finally:
        guest.run("mv /bin/memory.orig /bin/memory")


def test_foreign_library(guest, svc):
    since = svc.mark()
    guest.check(f"mkdir -p /tmp/lib && cp {LIB} /tmp/lib/ && printf x >>/tmp/lib/libtinfo.so.6")
    pid = guest.spawn("LD_LIBRARY_PATH=/tmp/lib exec bash -c 'sleep 6; true'")
    # bash run with arguments its entrypoint does not list, too
    m = expect(svc, since, "Foreign Library Loaded", pid,
               also=[("Binary Executed Not as Intended", pid)])
    assert m["activity_data"]["elf_file_details"]["elf_file_path"] == "/tmp/lib/libtinfo.so.6"


def test_library_size_mismatch(guest, svc):
    since = svc.mark()
    guest.check(f"cp {LIB} {LIB}.orig && cp {LIB} {LIB}.new && printf x >>{LIB}.new && "
                f"mv {LIB}.new {LIB}")
    try:
        pid = guest.spawn("exec bash -c 'sleep 6; true'")
        expect(svc, since, "Foreign Library Loaded \u2013 File Size Mismatch", pid,
               also=[("Binary Executed Not as Intended", pid)])
    finally:
        guest.run(f"mv {LIB}.orig {LIB}")
