"""Bad input gives one clear line on stderr and a non-zero exit: never a
crash, a hang, or a page of noise."""
import gzip
import json
import lzma
import os
import shutil

import pytest

from conftest import run_argus


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
