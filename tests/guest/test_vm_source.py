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
