"""BPF programs on the AArch64 guest.  Debian's arm64 kallsyms has no data
symbols: prog_idr is found where bpf_prog_get_curr_or_next passes it to
idr_get_next (src/profile/a64ref.c) and believed only when it reads as an
IDR.  Then the same checks as tests/integration/test_bpf.py on x86-64:
each program as the guest's own /proc/PID/fdinfo describes it, its load
and unload told, a program calling bpf_probe_write_user alerted once (also
when loaded before argus started), a benign one not at all.  Every alert
collected."""
from test_bpf import loaded_unloaded_and_tampering, programs_as_the_guest_sees_them


def test_programs_as_the_guest_sees_them(guest_a64):
    programs_as_the_guest_sees_them(guest_a64)


def test_loaded_unloaded_and_tampering(guest_a64, tmp_path):
    loaded_unloaded_and_tampering(guest_a64, tmp_path,
                                  extra=f"      memory_regions: {guest_a64.regions_path}\n",
                                  sleep="500ms")
