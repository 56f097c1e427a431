"""The arm64 test guest itself: it boots, answers on its control channel,
has the userland the x86-64 guest has, and its RAM file is described by its
memory-regions map (file offset 0 is physical 0x40000000), which argus
reads it through.  Decoding its kernel is for argus's AArch64 support.
"""
import json
import mmap
import os
import struct

import pytest

from conftest import run_argus

RAM_BASE = 0x40000000


def vmcoreinfo(path):
    """VMCOREINFO as the kernel left it in RAM: {key: value}."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
        i = m.find(b"OSRELEASE=")
        while i >= 0 and not m[i:i + 200].split(b"\0")[0].count(b"\nPAGESIZE="):
            i = m.find(b"OSRELEASE=", i + 1)
        assert i >= 0, "no VMCOREINFO in the guest's RAM"
        text = m[i:i + 16384].split(b"\0")[0].decode()
    return dict(l.split("=", 1) for l in text.splitlines() if "=" in l)


def elf_loads(path):
    """[(p_paddr, p_filesz)] of an ELF64 core's PT_LOAD headers, and its note names."""
    with open(path, "rb") as f:
        h = f.read(64)
        assert h[:4] == b"\x7fELF" and h[4] == 2
        phoff, = struct.unpack_from("<Q", h, 32)
        phentsize, phnum = struct.unpack_from("<HH", h, 54)
        loads, notes = [], b""
        for k in range(phnum):
            f.seek(phoff + k * phentsize)
            typ, _, off, _, paddr, filesz = struct.unpack("<IIQQQQ", f.read(40))
            if typ == 1:
                loads.append((paddr, filesz))
            elif typ == 4:
                f.seek(off)
                notes += f.read(filesz)
    return loads, notes


def test_guest_is_aarch64(guest_a64):
    assert guest_a64.check("uname -m").strip() == "aarch64"
    procs = {int(p["pid"]): p for p in guest_a64.truth_ps()}
    assert procs[1]["name"] == "argus-ctl"
    assert sum(1 for p in procs.values() if p["ppid"] == "2") > 10   # kernel threads


def test_regions_map_matches_the_kernel(guest_a64):
    with open(guest_a64.regions_path) as f:
        regs = json.load(f)["allowed_regions"]
    size = os.path.getsize(guest_a64.ram_path)
    assert regs == {"0": {"start": RAM_BASE, "length": size, "offset": 0}}
    vi = vmcoreinfo(guest_a64.ram_path)
    # the kernel's own view of where RAM starts, and what translation needs
    assert int(vi["NUMBER(PHYS_OFFSET)"], 16) == RAM_BASE
    assert vi["NUMBER(VA_BITS)"] == "48" and vi["PAGESIZE"] == "4096"
    assert "NUMBER(kimage_voffset)" in vi and "SYMBOL(swapper_pg_dir)" in vi
    assert vi["OSRELEASE"] == guest_a64.check("uname -r").strip()


def test_argus_reads_through_the_regions_map(guest_a64, tmp_path):
    out = tmp_path / "a64.elf"
    run_argus("dump", "--source", f"qemu:{guest_a64.ram_path}", "--regions",
              guest_a64.regions_path, "--format", "elf", "-o", str(out))
    loads, notes = elf_loads(out)
    ram = (RAM_BASE, os.path.getsize(guest_a64.ram_path))
    # RAM at its physical place, and the kernel image again at its own
    # virtual address (kdump's layout), inside RAM
    assert ram in loads and len(loads) == 2, loads
    kimg = [ld for ld in loads if ld != ram][0]
    assert RAM_BASE <= kimg[0] and kimg[0] + kimg[1] <= RAM_BASE + ram[1], kimg
    assert b"VMCOREINFO" in notes
    # QEMU's own dump agrees on where RAM is
    qd = tmp_path / "qemu.elf"
    guest_a64.dump(str(qd), paging=False)
    assert elf_loads(qd)[0] == [ram]


def test_userland(guest_a64):
    g = guest_a64
    out = g.check('printf "echo hi-a64\\nexit\\n" | HISTFILE=/root/.h bash -i 2>/dev/null; cat /root/.h')
    assert "echo hi-a64" in out.splitlines()
    g.spawn("socat TCP-LISTEN:7711,bind=127.0.0.1,reuseaddr EXEC:cat")
    out = g.check("for i in 1 2 3 4 5 6 7 8 9 10; do r=$(echo ping | socat -T2 - "
                  "TCP:127.0.0.1:7711 2>/dev/null) && break; sleep 0.5; done; echo $r")
    assert out.strip() == "ping"
    if g.run("test -x /bin/threads")[0] != 0:
        pytest.skip("no arm64 test programs (gcc-aarch64-linux-gnu not installed)")
    g.spawn("threads 3 30")   # a static arm64 program: its main thread and 3 more
    out = g.check("sleep 1; argus-truth threads")
    assert len([l for l in out.splitlines() if l.split("\t")[2:] == ["threads"]]) == 4
