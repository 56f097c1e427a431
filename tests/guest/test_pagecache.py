"""File hashes from the page cache of a guest with a real disk.

The other guests run from an initramfs, where every file is always in the
page cache.  This one also has an ext4 disk (virtio-blk, made here with
mkfs.ext4 -d, mounted read-only at /mnt/disk), whose files are in the page
cache only as far as they were read, and leave it when the guest drops its
caches.  argus must hash a file only when all of it is resident, with the
hashes of its true content; otherwise it says how many pages it lacked and
judges nothing.

The guest's own count of a file's resident pages (mincore, `pcache
resident`) is the truth for "N of M pages not in the page cache"; the
host's hashlib of the files put on the disk is the truth for the hashes.
"""
import hashlib
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import ARGUS, Service, run_argus
from guest import DISK_MOUNT, Guest, initrd_file, make_disk

HERE = os.path.dirname(os.path.abspath(__file__))
MiB = 1 << 20
# name: (bytes of random tail after a copy of pcache, mode); the tails are
# never executed or mapped by running the program, so running one reads
# only part of its file
FILES = {"big": (8 * MiB, 0o755), "other": (4 * MiB, 0o755), "libdata.so": (8 * MiB, 0o644)}
EIO_PAGE = 300


def sums(path):
    with open(path, "rb") as f:
        data = f.read()
    return {"sha256": hashlib.sha256(data).hexdigest(), "sha1": hashlib.sha1(data).hexdigest(),
            "md5": hashlib.md5(data).hexdigest(), "size": len(data)}


@pytest.fixture(scope="module")
def disk(tmp_path_factory):
    """The disk's files (pcache, and copies of it with random tails, ELF
    files all: argus hashes ELF files) and their hashes, host side."""
    d = tmp_path_factory.mktemp("disk")
    src = d / "src"
    src.mkdir()
    pcache = src / "pcache"
    subprocess.run(["cc", "-O2", "-static", "-o", str(pcache),
                    os.path.join(HERE, "pagecache", "pcache.c")], check=True)
    exe = pcache.read_bytes()
    for name, (tail, mode) in FILES.items():
        (src / name).write_bytes(exe + os.urandom(tail))
        os.chmod(src / name, mode)
    truth = {name: sums(src / name) for name in ["pcache", *FILES]}
    # eio: its page EIO_PAGE cannot be read (a bad sector, QEMU's blkdebug)
    (src / "eio").write_bytes(exe + os.urandom(MiB))
    image = make_disk(str(src), str(d / "disk.img"))
    out = subprocess.run([shutil.which("debugfs") or "/usr/sbin/debugfs", "-R",
                          f"bmap /eio {EIO_PAGE}", image],
                         capture_output=True, text=True, check=True).stdout
    return {"src": src, "image": image, "sums": truth, "eio": sums(src / "eio"),
            "bad_sector": int(out) * 8}     # 4 KiB blocks, 512-byte sectors


@pytest.fixture(scope="module")
def dguest(disk):
    g = Guest(f"t{os.getpid()}disk", disk=disk["image"], disk_bad_sectors=[disk["bad_sector"]])
    g.start()
    assert g.check(f"grep ' {DISK_MOUNT} ' /proc/mounts").split()[2] == "ext4"
    yield g
    g.stop()


def scan(g):
    return json.loads(run_argus("scan", *g.argus_source(), "--once").stdout)


def path(name):
    return f"{DISK_MOUNT}/{name}"


def drop(g, what=3):
    """echo WHAT >/proc/sys/vm/drop_caches: 1 the page cache (but pages
    mapped into processes), 3 inodes and dentries as well."""
    g.check(f"sync; echo {what} >/proc/sys/vm/drop_caches")


def resident(g, name):
    """(pages resident, pages) of a disk file, as the guest's mincore says."""
    res, total, _ = g.check(f"{path('pcache')} resident {path(name)}").split()
    return int(res), int(total)


def hashes_of(g, name, pid):
    """What one scan says of the file's hashes: the process pid's
    executable (when it runs the file) and its mapping of it (elf_files)."""
    d = scan(g)
    out = []
    for p in d["processes"]:
        if p["process_id"] == pid and p.get("process_executable_path") == path(name):
            out.append(("process", {k[len("process_"):]: v for k, v in p.items()
                                    if k.startswith("process_hash_")}))
    for e in d["elf_files"]:
        if e["process_id"] == pid and e["elf_file_path"] == path(name):
            out.append(("elf_file", {k[len("elf_file_"):]: v for k, v in e.items()
                                     if k.startswith("elf_file_hash_")}))
            assert e["elf_file_size_bytes"] is not None
    return out


def assert_not_judged(g, name, pid, want_kinds):
    """The file is partly resident (the guest says so) and argus gives no
    hash for it, only how many of its pages were missing: exactly those the
    guest lacks."""
    res, total = resident(g, name)
    assert 0 < res < total, f"{name}: {res} of {total} pages resident: not a partial file"
    got = hashes_of(g, name, pid)
    assert sorted(k for k, _ in got) == sorted(want_kinds), got
    reason = f"{total - res} of {total} pages not in the page cache"
    for kind, h in got:
        assert h == {"hash_unavailable_reason": reason}, (kind, h)
    return res, total


def assert_hashed(g, disk, name, pid, want_kinds):
    """The file is wholly resident and argus's hashes are its content's."""
    res, total = resident(g, name)
    assert res == total, f"{name}: {res} of {total} pages resident"
    want = disk["sums"][name]
    got = hashes_of(g, name, pid)
    assert sorted(k for k, _ in got) == sorted(want_kinds), got
    for kind, h in got:
        assert h == {"hash_sha256": want["sha256"], "hash_sha1": want["sha1"],
                     "hash_md5": want["md5"]}, (kind, h)


def wait_running(g, pid, exe):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rc, out, _ = g.run(f"readlink /proc/{pid}/exe")
        if rc == 0 and out.strip() == exe:
            time.sleep(0.3)     # past exec, into its sleep
            return
        time.sleep(0.1)
    raise AssertionError(f"pid {pid} never ran {exe}")


@pytest.fixture(scope="module")
def big(dguest):
    """/mnt/disk/big running, started with nothing of the disk cached: of
    its 8 MiB tail no page is ever read but by read-around."""
    drop(dguest)
    assert resident(dguest, "big")[0] == 0
    pid = dguest.spawn(f"exec {path('big')} sleep 100000")
    wait_running(dguest, pid, path("big"))
    yield pid
    dguest.run(f"kill {pid}")


def test_disk_files_as_on_the_host(dguest, disk):
    """The guest reads the files the host put on the disk (the truth the
    tests compare argus with)."""
    for name, want in disk["sums"].items():
        assert dguest.check(f"sha256sum {path(name)}").split()[0] == want["sha256"], name


def test_partly_read_binary_not_judged(dguest, big):
    """A running program most of whose file was never read: no hash."""
    res, total = assert_not_judged(dguest, "big", big, ["process", "elf_file"])
    print(f"big: {res} of {total} pages resident")


def test_wholly_read_binary_hashed(dguest, disk, big):
    """Read whole (cat), the same file has its true hashes."""
    dguest.check(f"cat {path('big')} >/dev/null")
    assert_hashed(dguest, disk, "big", big, ["process", "elf_file"])


def test_eviction_of_a_running_binary(dguest, disk, big):
    """drop_caches takes back the pages the program does not map: not
    judged again (no stale hash, no wrong one); its mapped pages stay.
    Read whole again, it is hashed again, the same."""
    dguest.check(f"cat {path('big')} >/dev/null")
    drop(dguest, 1)
    res, total = assert_not_judged(dguest, "big", big, ["process", "elf_file"])
    print(f"big after drop_caches: {res} of {total} pages resident")
    dguest.check(f"cat {path('big')} >/dev/null")
    assert_hashed(dguest, disk, "big", big, ["process", "elf_file"])


def test_partly_resident_mapped_file(dguest, disk):
    """A mapped ELF file with resident and missing pages interleaved: its
    first half read (dd), then every other page of it mapped and read one
    by one (no read-around): no hash, the missing pages counted exactly.
    Read whole, its true hashes."""
    drop(dguest)
    size = disk["sums"]["libdata.so"]["size"]
    dguest.check(f"dd if={path('libdata.so')} of=/dev/null bs=4096 count={size // 8192} 2>/dev/null")
    pid = dguest.spawn(f"exec {path('pcache')} map {path('libdata.so')} 2 100000")
    try:
        wait_running(dguest, pid, path("pcache"))
        deadline = time.monotonic() + 20
        while resident(dguest, "libdata.so")[0] < (size // 4096) * 3 // 4 - 64:
            assert time.monotonic() < deadline, "pcache map never read its pages"
            time.sleep(0.2)
        res, total = assert_not_judged(dguest, "libdata.so", pid, ["elf_file"])
        print(f"libdata.so: {res} of {total} pages resident")
        dguest.check(f"cat {path('libdata.so')} >/dev/null")
        assert_hashed(dguest, disk, "libdata.so", pid, ["elf_file"])
    finally:
        dguest.run(f"kill {pid}")


def test_page_whose_read_failed(dguest, disk):
    """A page whose read failed stays in the page cache, not up to date,
    holding whatever the memory held before: not resident.  `eio`, read
    whole but for its page EIO_PAGE (a bad sector), is not hashed: 1 page
    missing; the rest of its pages are."""
    drop(dguest)
    rc, _, err = dguest.run(f"cat {path('eio')} >/dev/null")
    assert rc != 0 and "Input/output error" in err, (rc, err)
    dguest.check(f"dd if={path('eio')} of=/dev/null bs=4096 skip={EIO_PAGE + 1} 2>/dev/null")
    pid = dguest.spawn(f"exec {path('pcache')} map {path('eio')} 0 100000")
    try:
        wait_running(dguest, pid, path("pcache"))
        res, total = resident(dguest, "eio")
        assert (res, total) == (total - 1, (disk["eio"]["size"] + 4095) // 4096)
        got = hashes_of(dguest, "eio", pid)
        assert got == [("elf_file", {"hash_unavailable_reason":
                                     f"1 of {total} pages not in the page cache"})], got
    finally:
        dguest.run(f"kill {pid}")


# ---- the service, with an SBOM of the guest's image and of the disk ----

@pytest.fixture(scope="module")
def svc(dguest, disk, tmp_path_factory):
    """argus run with an SBOM of the initramfs and of the disk's files but
    `other`: running `other` is Foreign Binary Executed, once judged."""
    d = tmp_path_factory.mktemp("svc")
    rootfs = d / "rootfs"
    (rootfs / DISK_MOUNT.lstrip("/")).mkdir(parents=True)
    initrd = initrd_file(os.path.join(os.environ.get("ARGUS_CACHE",
                                                     os.path.expanduser("~/.cache/argus")),
                                      "linux-image-6.1.0-56-cloud-amd64"))
    subprocess.run(f"zcat {initrd} | cpio -id --quiet", shell=True, cwd=rootfs, check=True)
    for name in ("pcache", "big", "libdata.so"):
        shutil.copy(disk["src"] / name, rootfs / DISK_MOUNT.lstrip("/") / name)
    sbom = d / "sbom.json"
    subprocess.run([ARGUS, "sbom", str(rootfs), "-o", str(sbom),
                    "--entrypoint", "/bin/bash /bin/argus-ctl"], check=True)
    s = Service(d, dguest, sleep="500ms", extra=f"      events:\n        sbom: [{sbom}]\n")
    yield s
    s.stop()


def scans(svc, n=3):
    time.sleep(n * svc.sleep_s + 0.3)


def test_service_judges_whole_files_only(dguest, disk, svc):
    """Partly resident, neither `big` (in the SBOM) nor `other` (not in
    it) is judged: no alert.  Read whole, `other` is Foreign Binary Executed
    once, with its true hash, and `big` is the image's: no alert.  Evicted
    and read whole again, nothing more: no verdict flips."""
    drop(dguest)
    since = svc.mark()
    pb = dguest.spawn(f"exec {path('big')} sleep 100000")
    po = dguest.spawn(f"exec {path('other')} sleep 100000")
    try:
        wait_running(dguest, pb, path("big"))
        wait_running(dguest, po, path("other"))
        for name in ("big", "other"):
            res, total = resident(dguest, name)
            assert 0 < res < total, (name, res, total)
        scans(svc)
        svc.expect_alerts(since)
        # silent because argus saw both and could not judge them yet
        told = {m["activity_data"]["process_details"]["process_id"] for m in svc.messages[since:]
                if m["activity_data"]["name"] == "Process Created"}
        assert {pb, po} <= told, f"argus did not see both run ({told})"

        since = svc.mark()
        dguest.check(f"cat {path('big')} {path('other')} >/dev/null")
        deadline = time.monotonic() + 10
        while not any(m["activity_data"]["name"] == "Foreign Binary Executed"
                      for m in svc.messages[since:]):
            assert time.monotonic() < deadline, "no Foreign Binary Executed for other"
            time.sleep(0.2)
            svc.poll()
        found = svc.expect_alerts(since, ("Foreign Binary Executed",
                                          lambda a: a["process_details"]["process_id"] == po, 1))
        elf = found["Foreign Binary Executed"][0]["activity_data"]["elf_file_details"]
        assert elf["elf_file_path"] == path("other")
        assert elf["elf_file_hash_sha256"] == disk["sums"]["other"]["sha256"]

        since = svc.mark()
        drop(dguest, 1)
        for name in ("big", "other"):
            res, total = resident(dguest, name)
            assert 0 < res < total, (name, res, total)
        scans(svc)
        dguest.check(f"cat {path('big')} {path('other')} >/dev/null")
        scans(svc)
        svc.expect_alerts(since)
    finally:
        dguest.run(f"kill {pb} {po}")
