"""vm:PID: a running VM read as it is, through its QEMU process.

No shared RAM file, no regions map: the guests here are started the ways
VMs come (plain -m, libvirt's JSON -object, a memfd backend; q35 and pc
machines with RAM split around the 4 GiB hole; arm64's virt), and argus,
given only the process id, must list the same processes as the guest's
own /proc.  A layout placed wrongly makes the kernel's proof fail or the
lists differ, so these fail on a wrong rule.
"""
import os
import subprocess
import time

import pytest

from conftest import run_argus
from guest import Guest
from test_ps import argus_ps, compare, truth


def check_ps(g, source=None):
    before = truth(g)
    seen = argus_ps(source or g.source)
    after = truth(g)
    bad, _ = compare(before, seen, after)
    assert not bad, "; ".join(bad)
    assert len(set(before) & set(seen)) > 20


# (ram, machine, MiB): q35 keeps 2 GiB below 4 GiB once RAM reaches
# 2.75 GiB, pc keeps 3 GiB once it reaches 3.5 GiB; the rest is above 4 GiB
@pytest.mark.parametrize("ram,machine,mem", [
    ("anon", "q35", 384),
    ("json", "pc-q35-7.2", 3072),
    ("memfd", "pc", 3840),
])
def test_vm_as_it_comes(ram, machine, mem):
    g = Guest(f"vm{os.getpid()}{ram}", mem_mb=mem, ram=ram, machine=machine)
    g.start()
    try:
        if mem > 2816:
            # the guest uses its memory above 4 GiB: its kernel says so
            rc, out, _ = g.run("grep -c . /proc/iomem; cat /proc/iomem")
            assert "100000000-" in out, out
        check_ps(g)
    finally:
        g.stop()


def test_vm_arm64_virt():
    """arm64's virt machine: RAM from 0x40000000, no regions map given."""
    g = Guest(f"vm{os.getpid()}a64", arch="arm64", ram="anon")
    g.start(timeout=180)
    try:
        check_ps(g)
    finally:
        g.stop()


def test_vm_shared_file(guest):
    """The test guest (a shared RAM file) read through its process."""
    check_ps(guest, f"vm:{guest._pid()}")


def test_vm_errors(guest, tmp_path):
    """Errors a user can act on, each naming the process."""
    p = run_argus("ps", "--source", f"vm:{os.getpid()}", check=False)
    assert p.returncode != 0 and "not a QEMU system emulator" in p.stderr, p.stderr
    p = run_argus("ps", "--source", "vm:4000000", check=False)
    assert p.returncode != 0 and "no process 4000000" in p.stderr, p.stderr
    p = run_argus("ps", "--source", "vm:abc", check=False)
    assert p.returncode != 0 and "not a process id" in p.stderr, p.stderr
    # an unprivileged reader of root's VM
    argus = os.environ["ARGUS"]
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "--inh-caps=-all", argus, "ps", "--source", f"vm:{guest._pid()}"],
                       capture_output=True, text=True)
    assert p.returncode != 0, p.stdout
    assert "run as root or grant CAP_SYS_PTRACE" in p.stderr, p.stderr


def online_and_fill(g, fill_mb):
    """Online the guest's offline memory blocks (DIMMs come up offline:
    no udev here), fill most of its boot RAM with a tmpfs file, then start
    processes, whose kernel objects then come from what is left: the
    DIMMs.  Returns the spawned pids."""
    g.check("for f in /sys/devices/system/memory/memory*/state; do "
            "grep -q offline $f && echo online > $f; done; true")
    g.check("mkdir -p /tmp/fill && mount -t tmpfs -o size=2g tmpfs /tmp/fill 2>/dev/null; "
            f"dd if=/dev/zero of=/tmp/fill/f$$ bs=1M count={fill_mb} 2>/dev/null", timeout=120)
    return [g.spawn("exec sleep 1000") for _ in range(40)]


@pytest.mark.parametrize("monitor", [True, False])
def test_vm_dimms(monitor):
    """DIMMs plugged at start (-device pc-dimm, anonymous and memfd
    backends): placed by QEMU's monitor when its socket answers, by QEMU's
    rule from the command line when there is none.  The guest's processes
    live partly in them, so a DIMM placed wrongly loses processes."""
    g = Guest(f"vm{os.getpid()}d{int(monitor)}", mem_mb=384, ram="anon",
              dimms=[(256, "ram"), (128, "memfd")], monitor=monitor)
    g.start()
    try:
        online_and_fill(g, 300)
        rc, out, _ = g.run("cat /proc/iomem")
        assert "100000000-10fffffff : System RAM" in out, out
        p = run_argus("ps", "--source", g.source, "-vv", check=False)
        assert p.returncode == 0, p.stderr
        assert ("DIMMs from its monitor: 2" in p.stderr) == monitor, p.stderr
        check_ps(g)
    finally:
        g.stop()


def test_vm_dimm_hotplug():
    """A DIMM plugged while the VM runs (QMP object-add + device_add, as
    libvirt's attach-device does) is on no command line: QEMU's monitor
    tells where it is."""
    g = Guest(f"vm{os.getpid()}hp", mem_mb=384, ram="anon", dimms=[(128, "ram")])
    g.start()
    try:
        g.qmp("object-add", **{"qom-type": "memory-backend-memfd", "id": "hp0",
                                "size": 256 << 20})
        g.qmp("device_add", driver="pc-dimm", id="hpdimm", memdev="hp0")
        addr = [d["data"]["addr"] for d in g.qmp("query-memory-devices")
                if d["data"]["id"] == "hpdimm"][0]
        block = f"memory{addr >> 27}"   # 128 MiB memory blocks
        deadline = time.monotonic() + 30
        while block not in g.check("ls /sys/devices/system/memory").split():
            assert time.monotonic() < deadline, "the guest never saw the new DIMM"
            time.sleep(0.5)
        online_and_fill(g, 300)
        p = run_argus("ps", "--source", g.source, "-vv", check=False)
        assert "DIMMs from its monitor: 2" in p.stderr, p.stderr
        check_ps(g)
    finally:
        g.stop()


@pytest.fixture
def hugepages(tmp_path):
    """2 MiB huge pages for one 256 MiB guest, and a hugetlbfs of our own;
    both given back after."""
    nr = "/proc/sys/vm/nr_hugepages"
    before = int(open(nr).read())
    with open(nr, "w") as f:
        f.write(str(before + 160))
    got = int(open(nr).read())
    mnt = tmp_path / "huge"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "none", str(mnt)], check=True)
    try:
        assert got >= before + 128, f"the host gave {got - before} huge pages of 160 asked"
        yield str(mnt)
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
        with open(nr, "w") as f:
            f.write(str(before))


@pytest.mark.parametrize("ram", ["hugefile", "hugememfd"])
def test_vm_hugepages(hugepages, ram):
    """Guest RAM in 2 MiB huge pages, as tuned KVM hosts run them: a file
    QEMU makes (and unlinks) in a hugetlbfs directory, or a hugetlb memfd."""
    g = Guest(f"vm{os.getpid()}{ram}", mem_mb=256, ram=ram)
    g.HUGE_DIR = hugepages
    g.start()
    try:
        maps = open(f"/proc/{g._pid()}/smaps").read()
        assert "KernelPageSize:     2048 kB" in maps, "the guest's RAM is not in huge pages"
        check_ps(g)
    finally:
        g.stop()
