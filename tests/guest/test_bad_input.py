"""Bad input gives one clear line on stderr and a non-zero exit: never a
crash, a hang, or a page of noise."""
import gzip
import json
import lzma
import os
import shutil
import struct
import subprocess
import zlib

import pytest

from conftest import ARGUS, run_argus


def one_line_error(p, *needles):
    assert p.returncode not in (0, -11, -6, -7), f"rc {p.returncode}: {p.stderr}"
    assert p.returncode in (1, 2), f"rc {p.returncode}: {p.stderr}"
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{p.stderr}"
    assert lines[0].startswith("argus: "), lines[0]
    for n in needles:
        assert n.lower() in lines[0].lower(), f"{n!r} not in {lines[0]!r}"
    assert p.stdout.count("\n") <= 1  # at most a header
    return lines[0]


def ps(*args):
    return run_argus("ps", *args, check=False, timeout=60)


def test_missing_file(tmp_path):
    one_line_error(ps("--source", str(tmp_path / "nope.raw")), "nope.raw", "no such file")


def test_empty_file(tmp_path):
    f = tmp_path / "empty.raw"
    f.write_bytes(b"")
    one_line_error(ps("--source", str(f)), "empty")


def test_random_bytes(tmp_path):
    f = tmp_path / "random.raw"
    f.write_bytes(os.urandom(8 << 20))
    one_line_error(ps("--source", str(f)), "VMCOREINFO")


def test_non_linux_image(tmp_path):
    # a disk-image-like blob full of text that is not a Linux memory image
    f = tmp_path / "zeros.raw"
    f.write_bytes(b"\0" * (4 << 20) + b"NOT LINUX " * 100000)
    one_line_error(ps("--source", str(f)), "VMCOREINFO")


def test_forced_format_mismatch(tmp_path):
    f = tmp_path / "x.bin"
    f.write_bytes(os.urandom(1 << 20))
    one_line_error(ps("--source", f"lime:{f}"), "LiME")
    one_line_error(ps("--source", f"elf:{f}"), "ELF")


def test_truncated_image(guest, tmp_path):
    f = tmp_path / "trunc.raw"
    with open(guest.ram_path, "rb") as src, open(f, "wb") as dst:
        dst.write(src.read(64 << 20))
    # the kernel and its VMCOREINFO lie above 64 MiB or its page tables do
    one_line_error(ps("--source", str(f)))


def test_truncated_elf(guest, tmp_path):
    full = tmp_path / "full.elf"
    guest.dump(str(full), paging=False)
    cut = tmp_path / "cut.elf"
    with open(full, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(os.path.getsize(full) // 3))
    one_line_error(ps("--source", str(cut)), "cut.elf")


def test_usage_errors():
    p = run_argus("ps", check=False)
    assert p.returncode == 2 and "--source" in p.stderr
    p = run_argus("frobnicate", check=False)
    assert p.returncode == 2 and "unknown command" in p.stderr
    p = run_argus("ps", "--bogus", check=False)
    assert p.returncode == 2


@pytest.fixture(scope="module")
def isf(guest, tmp_path_factory):
    d = tmp_path_factory.mktemp("isf")
    out = d / "good.json"
    run_argus("profile", "--source", f"qemu:{guest.ram_path}", "-o", str(out))
    return out


def test_isf_for_another_kernel(guest, isf, tmp_path):
    doc = json.loads(isf.read_text())
    other = "Linux version 5.10.0-99-amd64 (debian-kernel@lists.debian.org) #1 SMP Debian\n\0"
    import base64
    doc["symbols"]["linux_banner"]["constant_data"] = base64.b64encode(other.encode()).decode()
    bad = tmp_path / "other.json"
    bad.write_text(json.dumps(doc))
    one_line_error(ps("--source", f"qemu:{guest.ram_path}", "--profile", str(bad)),
                   "another kernel", "5.10.0-99")


def test_corrupt_isf(guest, isf, tmp_path):
    bad = tmp_path / "cut.json"
    bad.write_bytes(isf.read_bytes()[: 100000])
    one_line_error(ps("--source", f"qemu:{guest.ram_path}", "--profile", str(bad)), "cut.json")
    badgz = tmp_path / "cut.json.gz"
    badgz.write_bytes(gzip.compress(isf.read_bytes())[: 5000])
    one_line_error(ps("--source", f"qemu:{guest.ram_path}", "--profile", str(badgz)), "cut.json.gz")
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"metadata": {}, "symbols": []}')
    one_line_error(ps("--source", f"qemu:{guest.ram_path}", "--profile", str(wrong)), "wrong.json")


def test_corrupt_btf(guest, tmp_path):
    """Smash the kernel's BTF in a copy of memory: the auto profile must
    say the BTF is bad, not crash."""
    info = json.loads(run_argus("info", "--source", f"qemu:{guest.ram_path}", "--json").stdout)
    btf_pa = info["btf_physical_address"]
    img = tmp_path / "badbtf.raw"
    guest.pause()
    try:
        shutil.copyfile(guest.ram_path, img)
    finally:
        guest.cont()
    with open(img, "r+b") as f:
        f.seek(btf_pa + 8)     # header: type_off, type_len, str_off, str_len
        f.write(b"\xff\xff\xff\x7f" * 4)
    one_line_error(ps("--source", f"raw:{img}"), "BTF")


# ---- no hang, no scan of nothing, no bomb (issue 12) ----

def test_fifo_source(tmp_path):
    """A FIFO opened for reading waits for a writer: argus must refuse it
    at once, not block in open()."""
    f = tmp_path / "pipe.raw"
    os.mkfifo(f)
    one_line_error(run_argus("ps", "--source", str(f), check=False, timeout=10),
                   "pipe.raw", "not a regular file")
    one_line_error(run_argus("info", "--source", f"raw:{f}", check=False, timeout=10),
                   "pipe.raw", "not a regular file")


def test_fifo_profile(guest, tmp_path):
    f = tmp_path / "pipe.json"
    os.mkfifo(f)
    one_line_error(run_argus("ps", "--source", f"qemu:{guest.ram_path}", "--profile", str(f),
                             check=False, timeout=20), "pipe.json")


def test_sparse_image_rejected_fast(tmp_path):
    """A 64 GiB sparse file holds no Linux: refused in well under a second,
    its holes never read page by page."""
    import time
    f = tmp_path / "sparse.raw"
    with open(f, "wb") as fh:
        fh.truncate(64 << 30)
        fh.seek(32 << 30)
        fh.write(b"NOT LINUX " * 1000)      # some data amid the holes
    t0 = time.monotonic()
    one_line_error(run_argus("ps", "--source", str(f), check=False, timeout=20),
                   "sparse.raw", "VMCOREINFO")
    assert time.monotonic() - t0 < 2, f"took {time.monotonic() - t0:.1f} s"


def _bomb_checks(guest, path, needle):
    import time
    t0 = time.monotonic()
    p = subprocess.run(["bash", "-c", 'ulimit -v 1000000; exec "$@"', "-", ARGUS, "ps", "--source",
                        f"qemu:{guest.ram_path}", "--profile", str(path)],
                       capture_output=True, text=True, timeout=30)
    took = time.monotonic() - t0
    line = one_line_error(p, path.name, needle)
    assert took < 5, f"{took:.1f} s: {line}"


def test_gzip_bomb_profile(guest, tmp_path):
    """2 GiB of zeros in 2 MB of gzip: refused while decoding, under a
    1 GB address-space limit, in seconds."""
    f = tmp_path / "bomb.json.gz"
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * (1 << 20)
    with open(f, "wb") as fh:
        for _ in range(2048):
            fh.write(z.compress(block))
        fh.write(z.flush())
    _bomb_checks(guest, f, "decompresses to more than")


def test_xz_bomb_profile(guest, tmp_path):
    f = tmp_path / "bomb.json.xz"
    c = lzma.LZMACompressor(preset=1)
    block = b"\0" * (1 << 20)
    with open(f, "wb") as fh:
        for _ in range(2048):
            fh.write(c.compress(block))
        fh.write(c.flush())
    _bomb_checks(guest, f, "decompresses to more than")


def _lime(*segs):
    out = b""
    for s, e, data in segs:
        out += struct.pack("<IIQQ8x", 0x4C694D45, 1, s, e) + data
    return out


def test_lime_top_of_space(tmp_path):
    """A LiME segment ending at 2^64-1 is read, not called 'end before
    start'; the image holds no Linux, which is what is said."""
    f = tmp_path / "top.lime"
    f.write_bytes(_lime(((1 << 64) - 0x2000, (1 << 64) - 1, os.urandom(0x2000))))
    line = one_line_error(ps("--source", str(f)), "top.lime", "VMCOREINFO")
    assert "before start" not in line


def test_lime_overlap_names_file(tmp_path):
    f = tmp_path / "overlap.lime"
    f.write_bytes(_lime((0x1000, 0x2fff, b"\0" * 0x2000), (0x2000, 0x2fff, b"\0" * 0x1000)))
    one_line_error(ps("--source", str(f)), "overlap.lime", "overlap")


def test_regions_overlap_names_file(tmp_path):
    img = tmp_path / "mem.raw"
    img.write_bytes(b"\0" * 0x4000)
    reg = tmp_path / "regions.json"
    reg.write_text(json.dumps({"allowed_regions": {
        "0": {"start": 0x1000, "length": 0x2000, "offset": 0},
        "1": {"start": 0x2000, "length": 0x1000, "offset": 0x2000}}}))
    one_line_error(ps("--source", f"raw:{img}", "--regions", str(reg)), "regions.json", "overlap")
