"""BPF programs on the AArch64 guest.  Debian's arm64 kallsyms has no data
symbols: prog_idr is found where bpf_prog_by_id passes it to idr_find
(src/profile/a64ref.c) and believed only when it reads as an IDR.  Then
the same as tests/integration/test_bpf.py on x86-64: each program as the
guest's own /proc/PID/fdinfo describes it, its load and unload told, a
program calling bpf_probe_write_user alerted once (also when loaded
before argus started), a benign one not at all.  Every alert collected."""
import json
import time

from conftest import Service, run_argus
from test_bpf import TYPES, by_name, fdinfo, load

SLEEP = "500ms"


def test_programs_as_the_guest_sees_them(guest_a64):
    g = guest_a64
    a = load(g, "filter", "argus_f1")
    b = load(g, "writeuser", "argus_w1")
    try:
        d = json.loads(run_argus("scan", "--once", "--json", *g.argus_source()).stdout)
        assert d["scan_statistics"]["bpf_programs_complete"] is True
        progs = {p["bpf_program_name"]: p for p in d["bpf_programs"]}
        for pid, name, helpers in ((a, "argus_f1", ""), (b, "argus_w1", "bpf_probe_write_user")):
            assert name in progs, f"{name} not found: {sorted(progs)}"
            p = progs[name]
            pid_, tag, typ = fdinfo(g, pid)
            assert p["bpf_program_id"] == pid_
            assert p["bpf_program_tag"] == tag
            assert p["bpf_program_type"] == TYPES[typ]
            assert p["process_id"] == pid
            assert p["bpf_program_tampering_helpers"] == helpers
            assert p["bpf_program_instructions_read"] is True
        # every program the guest has, none more (bpftool's view: the fdinfo
        # of every bpf-prog descriptor)
        ids = set(int(x) for x in g.check(
            "for f in /proc/[0-9]*/fdinfo/*; do sed -n 's/^prog_id:\\t//p' $f 2>/dev/null; done")
            .split())
        assert ids <= {p["bpf_program_id"] for p in d["bpf_programs"]}
    finally:
        g.run(f"kill {a} {b}")


def test_loaded_unloaded_and_tampering(guest_a64, tmp_path):
    g = guest_a64
    early = load(g, "writeuser", "argus_w0")       # before argus starts
    svc = Service(tmp_path, g, sleep=SLEEP, extra=f"      memory_regions: {g.regions_path}\n")
    try:
        found = svc.expect_alerts(0, ("BPF Program Tampering Helper",
                                      lambda a: a["bpf_program_details"]["bpf_program_name"]
                                      == "argus_w0", 1))
        m = found["BPF Program Tampering Helper"][0]
        assert m["activity_data"]["process_details"]["process_id"] == early
        assert "bpf_probe_write_user" in m["activity_data"]["reason"]
        since = svc.mark()
        f = load(g, "filter", "argus_f2")
        time.sleep(3 * svc.sleep_s)
        g.run(f"kill {f}")
        time.sleep(3 * svc.sleep_s)
        svc.expect_alerts(since)
        assert len(by_name(svc, "BPF Program Loaded", "argus_f2")) == 1
        assert len(by_name(svc, "BPF Program Unloaded", "argus_f2")) == 1
        since = svc.mark()
        w = load(g, "writeuser", "argus_w2")
        time.sleep(5 * svc.sleep_s)
        svc.expect_alerts(since, ("BPF Program Tampering Helper",
                                  lambda a: a["bpf_program_details"]["bpf_program_name"]
                                  == "argus_w2" and a["process_details"]["process_id"] == w, 1))
        assert len(by_name(svc, "BPF Program Loaded", "argus_w2")) == 1
        g.run(f"kill {w} {early}")
        time.sleep(3 * svc.sleep_s)
        assert len(by_name(svc, "BPF Program Unloaded", "argus_w2")) == 1
        assert len(by_name(svc, "BPF Program Unloaded", "argus_w0")) == 1
    finally:
        g.run(f"kill {early} 2>/dev/null; true")
        svc.stop()
