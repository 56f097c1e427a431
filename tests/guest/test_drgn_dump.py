"""argus dump --format elf opened by other tools: drgn (and crash).

A kernel debugger reads a kdump-style core through its virtual addresses:
it finds the kernel's page table at the virtual address VMCOREINFO gives,
so the core must map the kernel image (and, as kdump and QEMU do, the
direct map) in its PT_LOAD segments.  drgn lists the tasks of an argus
dump with the guest kernel's debug symbols (Debian's -dbg package, fetched
into the cache by fetch-dbg.sh); argus ps reads the same file; both must
name the same tasks.  A missing drgn or -dbg package is a failure, not a
skip: the Makefile installs one and fetch-dbg.sh downloads the other.
"""
import json
import os
import shutil
import struct
import subprocess
import sys

import pytest

from conftest import run_argus

HERE = os.path.dirname(os.path.abspath(__file__))

# run by /usr/bin/python3 (Debian's python3-drgn): core, vmlinux -> JSON {tid: comm}
DRGN_TASKS = r"""
import json, sys
import drgn
from drgn.helpers.linux.pid import for_each_task
prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]])
print(json.dumps({int(t.pid): t.comm.string_().decode(errors="replace")
                  for t in for_each_task(prog)}))
"""


@pytest.fixture(scope="module")
def vmlinux():
    """The guest kernel's vmlinux with DWARF (fetched once, then cached)."""
    p = subprocess.run([os.path.join(HERE, "fetch-dbg.sh")], capture_output=True, text=True,
                       timeout=1800)
    assert p.returncode == 0, f"fetch-dbg.sh failed: {p.stderr.strip()}"
    return p.stdout.strip()


@pytest.fixture(scope="module")
def core(guest, tmp_path_factory):
    """An argus ELF dump of the paused guest."""
    d = tmp_path_factory.mktemp("drgn")
    out = d / "argus.elf"
    guest.pause()
    try:
        run_argus("dump", "--source", f"qemu:{guest.ram_path}", "--format", "elf",
                  "-o", str(out), timeout=300)
    finally:
        guest.cont()
    return out


def argus_tasks(core):
    """{tid: comm} of every thread argus ps sees in the core."""
    out = run_argus("ps", "--source", f"elf:{core}", "--json", "--threads").stdout
    tasks = {}
    for line in out.splitlines():
        o = json.loads(line)
        for t in o["threads"]:
            tasks[t["thread_id"]] = t["thread_name"]
    return tasks


def phdrs(path):
    """[(p_type, p_offset, p_vaddr, p_paddr, p_filesz)] of an ELF64 file."""
    with open(path, "rb") as f:
        eh = f.read(64)
        phoff, = struct.unpack_from("<Q", eh, 32)
        phentsize, phnum = struct.unpack_from("<HH", eh, 54)
        f.seek(phoff)
        raw = f.read(phentsize * phnum)
    out = []
    for i in range(phnum):
        t, _fl, off, va, pa, fsz, _msz, _al = struct.unpack_from("<IIQQQQQQ", raw, i * phentsize)
        out.append((t, off, va, pa, fsz))
    return out


def test_core_maps_kernel_virtual_addresses(core):
    loads = [p for p in phdrs(core) if p[0] == 1]
    # the direct map (x86-64: at or above 0xff11000000000000 / 0xffff888000000000)
    assert any(va >= 0xff00000000000000 and va < 0xffffffff80000000 for _, _, va, _, _ in loads), \
        f"no direct-map segment: {[hex(va) for _, _, va, _, _ in loads]}"
    # the kernel image (__START_KERNEL_map and up)
    assert any(va >= 0xffffffff80000000 for _, _, va, _, _ in loads), \
        f"no kernel-image segment: {[hex(va) for _, _, va, _, _ in loads]}"
    # the kernel image is not stored twice: the file is the headers, the
    # note and each physical byte once
    phys = sum(fsz for _, _, va, _, fsz in loads if va < 0xffffffff80000000)
    assert os.path.getsize(core) - phys < 1 << 20


def test_drgn_lists_the_same_tasks(core, vmlinux):
    p = subprocess.run(["/usr/bin/python3", "-c", DRGN_TASKS, str(core), vmlinux],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, f"drgn failed on the argus dump:\n{p.stderr.strip()[-2000:]}"
    seen_drgn = json.loads(p.stdout)
    seen_drgn = {int(k): v for k, v in seen_drgn.items()}
    seen_argus = {k: v for k, v in argus_tasks(core).items() if k != 0}
    assert len(seen_drgn) > 20, seen_drgn
    assert set(seen_drgn) == set(seen_argus), \
        f"only drgn: {sorted(set(seen_drgn) - set(seen_argus))}, " \
        f"only argus: {sorted(set(seen_argus) - set(seen_drgn))}"
    diff = {t: (seen_drgn[t], seen_argus[t]) for t in seen_drgn if seen_drgn[t] != seen_argus[t]}
    assert not diff, f"names differ (drgn, argus): {diff}"


def test_crash_walks_the_task_list(core, vmlinux):
    """crash (Debian's 8.0.2) opens the core and walks init_task's list.

    Its own task table ('ps') stops at swapper on this 6.1 kernel, for a
    QEMU dump-guest-memory core as well: the generic list walker is what
    works, and it lists the processes (thread group leaders)."""
    cmds = core.parent / "crash.cmds"
    cmds.write_text("list task_struct.tasks -s task_struct.pid,comm -h init_task\nquit\n")
    p = subprocess.run(["crash", "-s", "-i", str(cmds), vmlinux, str(core)],
                       capture_output=True, text=True, errors="replace", timeout=600)
    seen_crash, pid = {}, None
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("pid = "):
            pid = int(line[6:].rstrip(","))
        elif line.startswith("comm = ") and pid is not None:
            seen_crash[pid] = line[8:].split("\\000")[0].rstrip('",')
            pid = None
    seen_crash.pop(0, None)
    assert len(seen_crash) > 10, f"crash listed no tasks:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
    # a process's comm is its main thread's name (process_name is /proc's,
    # which names a kworker's work and a kthread in full)
    out = run_argus("ps", "--source", f"elf:{core}", "--json").stdout
    comm = argus_tasks(core)
    seen_argus = {o["process_id"]: comm[o["process_id"]]
                  for o in map(json.loads, out.splitlines()) if o["process_id"] != 0}
    assert seen_crash == seen_argus
