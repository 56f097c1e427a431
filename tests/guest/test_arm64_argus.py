"""argus decoding an AArch64 guest from outside: the profile it finds (arch,
VA bits, page size, linear map) against the guest's own VMCOREINFO and
uname, its process list against the guest's /proc (as test_ps does for
x86-64), and a file hash read through the page cache (vmemmap) and a
process's memory map read through its own page tables (TTBR0).

Debian's arm64 kernel lists only text symbols in kallsyms (no
CONFIG_KALLSYMS_ALL): BTF, init_task, linux_banner and a timekeeper are
found by content, so these tests also cover that path.
"""
import json

from conftest import run_argus
from test_arm64_guest import vmcoreinfo
from test_ps import compare, truth


def src(g):
    return ["--source", f"qemu:{g.ram_path}", "--regions", g.regions_path]


def test_info_is_aarch64(guest_a64):
    info = json.loads(run_argus("info", "--json", *src(guest_a64)).stdout)
    vi = vmcoreinfo(guest_a64.ram_path)
    va_bits, page = int(vi["NUMBER(VA_BITS)"]), int(vi["PAGESIZE"])
    shift = page.bit_length() - 1
    assert info["arch"] == "aarch64"
    assert info["release"] == guest_a64.check("uname -r").strip()
    assert info["va_bits"] == va_bits
    assert info["page_size"] == page
    assert info["paging_levels"] == -(-(va_bits - shift) // (shift - 3))
    assert info["page_offset_base"] == (-(1 << va_bits)) & (2**64 - 1)
    assert info["direct_map_physical_address"] == int(vi["NUMBER(PHYS_OFFSET)"], 16)
    assert info["kimage_voffset"] == int(vi["NUMBER(kimage_voffset)"], 16)
    assert info["btf_size"] > 1 << 20
    version = guest_a64.check("cat /proc/version").strip()
    assert info["banner"] == version


def argus_ps_a64(g):
    out = run_argus("ps", "--json", *src(g)).stdout
    return {o["process_id"]: {"ppid": o["process_parent_process_id"], "name": o["process_name"],
                              "uid": o["process_real_user_id"], "gid": o["process_real_group_id"]}
            for o in map(json.loads, out.splitlines())}


def test_ps_matches_the_guest(guest_a64):
    for i in range(3):
        before = truth(guest_a64)
        seen = argus_ps_a64(guest_a64)
        after = truth(guest_a64)
        bad, _ = compare(before, seen, after)
        assert not bad, f"run {i + 1}: " + "; ".join(bad)
        assert len(set(before) & set(after)) > 20


def test_hash_maps_and_times(guest_a64):
    doc = json.loads(run_argus("scan", "--once", "--json", *src(guest_a64)).stdout.splitlines()[0])
    init = next(p for p in doc["processes"] if p["process_id"] == 1)
    exe = init["process_executable_path"]
    want = guest_a64.check(f"sha256sum {exe}").split()[0]
    assert init["process_hash_sha256"] == want          # page cache through vmemmap
    assert init["process_creation_time_iso_8601_ns"] > "2000"   # a timekeeper was found
    # file mappings (the heap may grow between the two views)
    maps = []
    for line in guest_a64.check("cat /proc/1/maps").splitlines():
        f = line.split()
        if len(f) == 6 and f[5].startswith("/"):
            lo, hi = f[0].split("-")
            maps.append((int(lo, 16), int(hi, 16), f[5]))
    seen = [(int(m["virtual_memory_area_start_address"], 16),
             int(m["virtual_memory_area_end_address"], 16), m["file_path"])
            for m in doc["process_memory"] if m["process_id"] == 1 and m["file_path"]]
    assert seen == maps and len(maps) > 4
    assert init["process_command_line_arguments"].startswith("/bin/bash")  # user memory (TTBR0)


def test_scan_matches_the_guest(guest_a64):
    """Field by field, as tests/guest/test_scan.py does on x86-64: processes,
    fds, TCP, memory maps, executable and library hashes."""
    import test_scan as scan_checks
    scan_checks.compare_with_guest(guest_a64)
