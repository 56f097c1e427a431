"""Kernel Text Modified, on the live guest, with a real inline hook
(tests/guest/kmod/hookinl.ko: "jmp hook" written over the first bytes of
__x64_sys_sysinfo with CR0.WP cleared, proven taken):

- written while argus runs, at the entry (over the ftrace site): one
  alert naming the function, the hook and its module, within two scans
  (half the function entries are compared a scan, in turn); rmmod: nothing more;
- written in the middle of a function (__x64_sys_acct, six instructions
  in, never called) by a module that then hides itself: one alert
  ("differs from its first sight"), within a pass of the window, with the
  module's Kernel Module Hidden; put back: nothing more;
- written before argus started, at the entry or six instructions in:
  alerted at its first scans;
- written while the kernel says it is still booting: told once it runs,
  and at once by a service that saw it running before.

The stock guest, stock modules loaded and unloaded, and the kernel's own
tracing (trace events flipping jump labels, optimized kprobes, a
kretprobe, the function and function_graph tracers) raise nothing, also
when they are in place before argus starts."""
import time

import pytest

import benign
from conftest import (Service, late_service, wait_for, need_module, assert_kernel_read, planted_before_start,
                      bpf_fentry)

SLEEP = "500ms"
TEXT = "Kernel Text Modified"
PASS = 15       # scans for one pass of the window over the text (1 MiB a scan, 14 MiB)
ENTRY = 2       # scans within which a change at a function entry is seen
TRACING = "/sys/kernel/tracing"


@pytest.fixture(scope="module")
def svc(guest, tmp_path_factory):
    assert_kernel_read(guest)
    s = Service(tmp_path_factory.mktemp("ktext"), guest, sleep=SLEEP)
    yield s
    s.stop()


def text(a):
    return a.get("kernel_hook_details", {}).get("kernel_hook_kind") == "kernel_text"


def param(guest, mod, name):
    return int(guest.check(f"cat /sys/module/{mod}/parameters/{name}").strip())


def test_stock_guest_raises_nothing(guest, svc):
    time.sleep((PASS + 2) * svc.sleep_s)
    svc.expect_alerts(0)


def test_stock_modules_and_tracing_raise_nothing(guest, svc):
    since = svc.mark()
    ko = benign.upload_dummy(guest)
    if ko:
        guest.check("insmod /tmp/dummy.ko && rmmod dummy && insmod /tmp/dummy.ko")
    guest.run(f"mountpoint -q {TRACING} || mount -t tracefs none {TRACING}")
    guest.check(f"cd {TRACING} && echo 1 >/proc/sys/debug/kprobes-optimization && "
                "echo 'p:argus5 x64_sys_call+5' >>kprobe_events && "
                "echo 'r:argus6 vfs_read' >>kprobe_events && "
                "echo 1 >events/kprobes/enable && echo 1 >events/sched/enable && "
                "echo 1 >events/syscalls/enable && "
                "echo vfs_write >set_ftrace_filter && echo ksys_read >>set_ftrace_filter && "
                "echo function >current_tracer")
    try:
        guest.check("free; ls /; cat /proc/modules >/dev/null")
        time.sleep((PASS + 2) * svc.sleep_s)
        guest.check(f"cd {TRACING} && echo nop >current_tracer && "
                    "echo function_graph >current_tracer")
        guest.check("ls /")
        time.sleep((PASS + 2) * svc.sleep_s)
    finally:
        guest.run(f"cd {TRACING} && echo nop >current_tracer && echo >set_ftrace_filter && "
                  "echo 0 >events/kprobes/enable && echo 0 >events/sched/enable && "
                  "echo 0 >events/syscalls/enable && echo >kprobe_events")
        if ko:
            guest.run("rmmod dummy")
    time.sleep((PASS + 2) * svc.sleep_s)
    svc.expect_alerts(since)


def test_bpf_trampolines_raise_nothing(guest, svc, tmp_path):
    """BPF programs at function entries (fentry: what observability and
    security agents, bpftrace's kfunc probes and BPF LSM programs use): the
    kernel writes a call to a BPF trampoline over each function's ftrace
    site, rewrites it as programs come and go, and shares the site with
    the function tracer.  None of it is a breach, also for a service
    started after the programs were attached (first sight)."""
    since = svc.mark()
    guest.run(f"mountpoint -q {TRACING} || mount -t tracefs none {TRACING}")
    funcs = ("vfs_read", "do_sys_openat2", "vfs_write", "vfs_read")
    pids = []
    try:
        pids = bpf_fentry(guest, funcs, "fe")
        guest.check("ls /; cat /proc/version; free")
        with late_service(tmp_path, guest, PASS + 2, sleep=SLEEP):
            pass
        # one of vfs_read's two programs goes: its trampoline is rebuilt
        guest.run(f"kill {pids.pop()}")
        # the function tracer on a function a program is attached to
        guest.check(f"cd {TRACING} && echo vfs_read >set_ftrace_filter && "
                    "echo do_sys_openat2 >>set_ftrace_filter && echo function >current_tracer")
        guest.check("ls /; cat /proc/version")
        time.sleep((PASS + 2) * svc.sleep_s)
        guest.check(f"cd {TRACING} && echo nop >current_tracer && echo >set_ftrace_filter")
        time.sleep(ENTRY * svc.sleep_s + 1)
    finally:
        guest.run(f"cd {TRACING} && echo nop >current_tracer; echo >set_ftrace_filter; "
                  "kill " + " ".join(str(p) for p in pids))
    time.sleep((PASS + 2) * svc.sleep_s)
    svc.expect_alerts(since)


def test_inline_hook_at_entry(guest, svc):
    need_module(guest, "hookinl")
    since = svc.mark()
    guest.check("insmod /bin/hookinl.ko")
    try:
        site, handler = param(guest, "hookinl", "site"), param(guest, "hookinl", "handler")
        guest.run("free")            # sysinfo(2), through the hook: it fails
        assert param(guest, "hookinl", "hits") >= 1
        found = wait_for(svc, TEXT, text, since, ENTRY * svc.sleep_s + 3)
        assert found, "the inline hook was not seen"
        found = svc.expect_alerts(since, (TEXT, text, 1))[TEXT]
        m = found[0]
        assert m["message_type"] == "ALERT" and m["severity"] == "CRITICAL"
        d = m["activity_data"]["kernel_hook_details"]
        assert int(d["kernel_hook_site_address"], 16) == site
        assert d["kernel_hook_site_symbol"] == "__x64_sys_sysinfo"
        assert int(d["kernel_hook_handler_address"], 16) == handler
        assert d["kernel_hook_handler_owner"] == "hookinl"
        assert d["kernel_hook_handler_owner_listed"] is True
    finally:
        guest.run("rmmod hookinl")
    since = svc.mark()
    time.sleep((PASS + 2) * svc.sleep_s)
    svc.expect_alerts(since)


def planted(guest, svc, tmp_path, args, running_within):
    """hookinl.ko loaded with args before a second service starts
    (conftest.planted_before_start): told at that service's second scan,
    well before half a pass of the window"""
    return planted_before_start(guest, svc, tmp_path, "hookinl", args, PASS, running_within,
                                soon=PASS / 2 * svc.sleep_s)


def test_inline_hook_before_argus_started(guest, svc, tmp_path):
    """first sight counts: a function entry jumping out of the kernel image"""
    m, _, _ = planted(guest, svc, tmp_path, "at=5", 0)
    d = m["activity_data"]["kernel_hook_details"]
    assert d["kernel_hook_site_symbol"] == "__x64_sys_sysinfo+0x5"
    assert m["activity_data"]["reason"] == \
        "the function's first instruction leads outside core kernel text"


def test_inline_hook_before_argus_started_put_back_in_two_steps(guest, svc, tmp_path):
    """hookinl at=5 unsplit_ms=1200, loaded before a second service: rmmod
    puts its first four bytes back 1.2 s before its last (a plain 5-byte
    copy is two stores; CI's arm64 run read one between them).  Neither
    service tells more: the late one, which found the jmp at first sight,
    takes the bytes there into its baseline only once they held still for
    four scans (the build before took the jmp half put back as the
    baseline and told the last byte as a change of its own, handler 0);
    the running one, which saw the jmp written, keeps the handler it told
    while the bytes lead nowhere (the build before told the jmp half put
    back again, handler 0)."""
    m, _, _ = planted(guest, svc, tmp_path, "at=5 unsplit_ms=1200", 0)
    assert m["activity_data"]["kernel_hook_details"]["kernel_hook_site_symbol"] == \
        "__x64_sys_sysinfo+0x5"


def test_inline_hook_inside_before_argus_started(guest, svc, tmp_path):
    """first sight counts past the entry too: a jmp to the rootkit written
    six instructions into a function, before argus started, differs from
    nothing argus has seen; the first scan decodes every function whole
    and finds it by what it is (the running service finds it within a pass
    of its window)"""
    m, site, handler = planted(guest, svc, tmp_path, "sym=__x64_sys_acct insn=6",
                                (PASS + 2) * svc.sleep_s)
    assert m["severity"] == "CRITICAL"
    d = m["activity_data"]["kernel_hook_details"]
    assert int(d["kernel_hook_site_address"], 16) == site
    assert d["kernel_hook_site_symbol"].startswith("__x64_sys_acct+0x")
    assert int(d["kernel_hook_site_symbol"].split("+")[1], 16) >= 16   # past the entry's bytes
    assert int(d["kernel_hook_handler_address"], 16) == handler
    assert d["kernel_hook_handler_owner"] == "hookinl"
    assert m["activity_data"]["reason"] == \
        "an instruction inside the function leads outside core kernel text"


def test_tracing_before_argus_started_raises_nothing(guest, svc, tmp_path):
    """The kernel's own rewriting in place when argus starts: the function
    graph tracer on every function (its call at each ftrace site, BPF
    dispatchers' entries among them), optimized kprobes inside functions
    and a kretprobe.  First sight decodes every function whole and judges
    every site: nothing is raised, by the late service nor the running one."""
    since = svc.mark()
    guest.run(f"mountpoint -q {TRACING} || mount -t tracefs none {TRACING}")
    try:
        guest.check(f"cd {TRACING} && echo 1 >/proc/sys/debug/kprobes-optimization && "
                    "echo 'p:argus7 vfs_read+9' >>kprobe_events && "
                    "echo 'p:argus8 x64_sys_call+5' >>kprobe_events && "
                    "echo 'r:argus9 vfs_write' >>kprobe_events && "
                    "echo 1 >events/kprobes/enable && echo function_graph >current_tracer",
                    timeout=120)
        guest.check("ls /; free", timeout=60)
        with late_service(tmp_path, guest, ENTRY + 2, sleep=SLEEP):
            pass
    finally:
        guest.run(f"cd {TRACING} && echo nop >current_tracer; echo 0 >events/kprobes/enable; "
                  "echo >kprobe_events", timeout=120)
    time.sleep((PASS + 2) * svc.sleep_s)
    svc.expect_alerts(since)


def test_kernel_that_says_it_is_booting(guest, svc, tmp_path):
    """A kernel still booting rewrites its own text: a service that finds a
    kernel whose system_state is before SYSTEM_RUNNING holds its text to
    nothing until it runs (bootstate.ko puts SYSTEM_SCHEDULING there; a
    nested guest picked up as it booted was told Kernel Text Modified for
    the kernel's own patching).  The claim costs an attacker: a hook
    planted while the kernel said so is told at the first scans once it
    runs, and the service that saw it running already is not fooled."""
    need_module(guest, "bootstate")
    need_module(guest, "hookinl")
    if guest.run("lsmod | grep -q '^hookinl ' || test -e /proc/hookinl")[0] == 0:
        pytest.skip("hookinl is loaded already")
    since = svc.mark()
    guest.check("insmod /bin/bootstate.ko")
    try:
        guest.check("insmod /bin/hookinl.ko at=5")
        late = Service(tmp_path, guest, sleep=SLEEP, extra="      sdk_log_level: 60\n")
        try:
            # the service that saw the kernel running: told, as ever
            assert wait_for(svc, TEXT, text, since, (ENTRY + 3) * svc.sleep_s), \
                "a kernel that says it is booting blinded the service that saw it running"
            time.sleep((ENTRY + 3) * late.sleep_s)
            late.expect_alerts(0)
            with open(f"{late.dir}/debug/argus-debug.log") as f:
                assert "kernel text: not judged: the kernel is still booting" in f.read()
            guest.check("rmmod bootstate")
            found = wait_for(late, TEXT, text, 0, (ENTRY + 3) * late.sleep_s)
            assert found, "a hook planted while the kernel said it was booting was not told"
            assert found[0]["activity_data"]["kernel_hook_details"]["kernel_hook_site_symbol"] \
                == "__x64_sys_sysinfo+0x5"
            guest.check("rmmod hookinl")
            time.sleep((ENTRY + 2) * late.sleep_s)
            late.expect_alerts(0, (TEXT, text, 1))
        finally:
            late.stop()
    finally:
        guest.run("rmmod bootstate 2>/dev/null; rmmod hookinl 2>/dev/null")
    svc.expect_alerts(since, (TEXT, text, 1))


def test_inline_hook_written_in_two_steps(guest, svc):
    """hookinl sym=__x64_sys_acct insn=1 split_ms=5000: a jmp over the
    function's first instruction past its ftrace site (6.1: __x64_sys_acct+5),
    its first four bytes standing 5 s before its last (a plain
    5-byte copy is two stores, and a reader outside the guest can land
    between them).  The half-written jmp is a breach (the text did differ,
    for ten scans); the whole one is the same breach, told again with its
    handler: every alert at the jmp's first byte (the build before also
    told the last byte, written later, as a breach of its own)."""
    need_module(guest, "hookinl")
    if guest.run("lsmod | grep -q '^hookinl ' || test -e /proc/hookinl")[0] == 0:
        pytest.skip("hookinl is loaded already")
    since = svc.mark()
    guest.check("insmod /bin/hookinl.ko sym=__x64_sys_acct insn=1 split_ms=5000", timeout=60)
    try:
        site, handler = param(guest, "hookinl", "site"), param(guest, "hookinl", "handler")
        whole = lambda a: text(a) and int(a["kernel_hook_details"]["kernel_hook_handler_address"],
                                          16) == handler
        found = wait_for(svc, TEXT, whole, since, ENTRY * svc.sleep_s + 3)
        assert found, "the inline hook was not seen whole"
        time.sleep(2 * svc.sleep_s)
        got = svc.expect_alerts(since, (TEXT, whole, 1), (TEXT, text, None))[TEXT]
        sites = [int(m["activity_data"]["kernel_hook_details"]["kernel_hook_site_address"], 16)
                 for m in got]
        assert sites == [site] * len(sites), [hex(a) for a in sites]
        assert len(got) == 2, "the half-written jmp (ten scans) was not told"
    finally:
        guest.run("rmmod hookinl")
    since = svc.mark()
    time.sleep((PASS + 2) * svc.sleep_s)
    svc.expect_alerts(since)


def test_inline_hook_inside_in_hidden_module(guest, svc):
    need_module(guest, "hookinl")
    if guest.run("test -e /proc/hookinl")[0] == 0:
        pytest.skip("hookinl is loaded in this guest already (it cannot be unloaded)")
    since = svc.mark()
    guest.check("insmod /bin/hookinl.ko sym=__x64_sys_acct insn=6 hide=1")
    try:
        assert "hookinl" not in guest.check("cat /proc/modules")
        # hidden: no /sys/module/hookinl; its own line in the kernel log
        line = guest.check("dmesg | grep 'hookinl: __x64_sys_acct+' | tail -1").split()
        site, handler = int(line[line.index("at") + 1].rstrip(":"), 16), int(line[-1], 16)
        found = wait_for(svc, TEXT, text, since, (PASS + 2) * svc.sleep_s + 5)
        assert found, "the inline hook inside the function was not seen"
        time.sleep(2 * svc.sleep_s)
        hidden = lambda a: a.get("kernel_module_details", {}).get("kernel_module_name") == "hookinl"
        got = svc.expect_alerts(since, (TEXT, text, 1), ("Kernel Module Hidden", hidden, 1))
        m = got[TEXT][0]
        d = m["activity_data"]["kernel_hook_details"]
        assert int(d["kernel_hook_site_address"], 16) == site
        assert d["kernel_hook_site_symbol"].startswith("__x64_sys_acct+0x")
        assert int(d["kernel_hook_site_symbol"].split("+")[1], 16) >= 16   # past the entry's bytes
        assert int(d["kernel_hook_handler_address"], 16) == handler
        assert d["kernel_hook_handler_owner"] == "hookinl"
        assert d["kernel_hook_handler_owner_listed"] is False
        assert m["activity_data"]["reason"] == "core kernel text differs from its first sight"
    finally:
        guest.run("echo 1 >/proc/hookinl")
    since = svc.mark()
    time.sleep((PASS + 2) * svc.sleep_s)
    svc.expect_alerts(since)
