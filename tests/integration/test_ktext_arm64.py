"""Kernel Text Modified on the AArch64 guest (src/linux/ktextarm64.c), with
a real inline hook (tests/guest/kmod/arm64/hookinl64.ko: `ldr x16, #8;
br x16; .quad hook`, or `b hook` when in range, written over the first
instructions of __arm64_sys_sysinfo with aarch64_insn_patch_text_nosync,
proven taken):

- written while argus runs, at the entry: one alert naming the function
  and the hook, within two scans; rmmod: nothing more;
- written before argus started (over the ftrace NOP, past `mov x9, x30`):
  alerted at its first scans, by the first-sight rule; rmmod: nothing;
- written 24 bytes into a function never called (__arm64_sys_acct), past
  the entry's 16 bytes, by a module that then hides itself: one alert
  ("differs from its first sight") within a pass of the window; put back:
  nothing more;
- written there before argus started, with a kprobe, a kretprobe and the
  function tracer on some functions already in place: one alert at its
  first scans, by the first sight's sweep of every word ("an instruction
  inside the function leads outside"); rmmod: nothing.

A `b` within __arm64_sys_acct over its ftrace NOP, the shape of a jump
label's at no site of the kernel's table of them (__jump_table, found
where jump_label_text_reserved takes its address): one alert.

The stock guest and the kernel's own patching raise nothing: every trace
event on and off (jump labels), the function and function_graph tracers
on every function (ftrace's `bl ftrace_caller` and ftrace_call), a kprobe
and a kretprobe (brk #4).

A module's text (src/linux/ktextkmoda64.c), with the kernel package's
dummy.ko as the module: its functions traced (ftrace's `bl` through the
module's own PLT entry, its module region being 2 GiB) and a kprobe in
one raise nothing; hookinl64.ko writing into dummy_get_drvinfo while
argus runs: one alert, "module text differs from its first sight", naming
the function and module, within a pass of the modules' window; written
before a second service started: found at its first sight by what it is
(a jump out of the kernel, the module and the modules it uses).  A
module's jump labels are those of its own table (struct module's
jump_entries): jlabel64.ko's static key on, off and on raises nothing, while a
`b` within dummy_get_drvinfo over its ftrace NOP, the shape of a jump
label's but at no site of the table, is one alert."""
import re
import time

import pytest

import benign
from conftest import Service, wait_for, need_module, assert_kernel_read, planted_before_start
from guest import GuestError

SLEEP = "500ms"
TEXT = "Kernel Text Modified"
PASS = 12       # scans for one pass of the window (1 MiB a scan, 11.8 MiB of text)
ENTRY = 2       # scans within which a change at a function entry is seen
TRACING = "/sys/kernel/tracing"


@pytest.fixture(scope="module")
def svc(guest_a64, tmp_path_factory):
    assert_kernel_read(guest_a64)
    # sdk_log_level 60: what the module check read of each module
    s = Service(tmp_path_factory.mktemp("ktext64"), guest_a64, sleep=SLEEP,
                extra=(f"      memory_regions: {guest_a64.regions_path}\n"
                       "      sdk_log_level: 60\n"))
    yield s
    s.stop()


def text(a):
    return a.get("kernel_hook_details", {}).get("kernel_hook_kind") == "kernel_text"


def param(guest, name):
    return int(guest.check(f"cat /sys/module/hookinl64/parameters/{name}").strip())


def test_stock_guest_raises_nothing(guest_a64, svc):
    time.sleep((PASS + 2) * svc.sleep_s)
    svc.expect_alerts(0)


def test_kernel_patching_raises_nothing(guest_a64, svc):
    """trace events (jump labels), the function and function_graph
    tracers on every function for a while, a kprobe and a kretprobe"""
    g = guest_a64
    since = svc.mark()
    g.run(f"grep -q {TRACING} /proc/mounts || mount -t tracefs none {TRACING}")
    # the guest runs under TCG: every function traced slows it down a lot,
    # so the switches run in the guest's background and the test waits
    g.spawn(f"cd {TRACING} && echo 1 >events/enable && sleep 4 && echo 0 >events/enable && "
            "echo function >current_tracer && sleep 3 && echo nop >current_tracer && "
            "echo function_graph >current_tracer && sleep 3 && echo nop >current_tracer && "
            "echo 'p:argus5 __arm64_sys_sysinfo+8' >>kprobe_events && "
            "echo 'r:argus6 vfs_read' >>kprobe_events && echo 1 >events/kprobes/enable && "
            "free >/dev/null; sleep 3; echo 0 >events/kprobes/enable && echo >kprobe_events && "
            "touch /tmp/ktext64.done")
    deadline = time.monotonic() + 240
    while True:
        try:
            if g.run("test -e /tmp/ktext64.done", timeout=20)[0] == 0:
                break
        except (GuestError, TimeoutError):
            pass                # every function traced: the guest answers slowly
        assert time.monotonic() < deadline, "the tracing switches did not finish"
        time.sleep(2)
    g.run("rm -f /tmp/ktext64.done")
    time.sleep((PASS + 2) * svc.sleep_s)
    svc.expect_alerts(since)


def text_hook(g, svc, args, symbol, reason, within, pass_scans, missed):
    """hookinl64.ko args loaded after a first sight of what it writes into:
    one alert with reason at symbol within `within` seconds, returned with
    the module's site and handler; rmmod: nothing more within pass_scans
    scans"""
    need_module(g, "hookinl64")
    if g.run("grep -q '^hookinl64 ' /proc/modules || test -e /proc/hookinl64")[0] == 0:
        pytest.skip("hookinl64 is loaded already")
    time.sleep(3 * svc.sleep_s)         # a module just loaded: its first sight
    since = svc.mark()
    g.check(f"insmod /bin/hookinl64.ko {args}")
    try:
        site, handler = param(g, "site"), param(g, "handler")
        found = wait_for(svc, TEXT, text, since, within)
        assert found, missed
        m = svc.expect_alerts(since, (TEXT, text, 1))[TEXT][0]
        a = m["activity_data"]
        d = a["kernel_hook_details"]
        assert a["reason"] == reason
        assert int(d["kernel_hook_site_address"], 16) == site
        assert d["kernel_hook_site_symbol"] == symbol
        assert int(d["kernel_hook_handler_address"], 16) == handler
    finally:
        g.run("rmmod hookinl64")
    since = svc.mark()
    time.sleep((pass_scans + 2) * svc.sleep_s)
    svc.expect_alerts(since)
    return m, site, handler


def test_inline_hook_at_entry(guest_a64, svc):
    g = guest_a64
    need_module(g, "hookinl64")
    since = svc.mark()
    g.check("insmod /bin/hookinl64.ko")
    try:
        site, handler = param(g, "site"), param(g, "handler")
        g.run("free")            # sysinfo(2), through the hook: it fails
        assert param(g, "hits") >= 1
        found = wait_for(svc, TEXT, text, since, ENTRY * svc.sleep_s + 3)
        assert found, "the inline hook was not seen"
        found = svc.expect_alerts(since, (TEXT, text, 1))[TEXT]
        m = found[0]
        assert m["message_type"] == "ALERT" and m["severity"] == "CRITICAL"
        d = m["activity_data"]["kernel_hook_details"]
        assert int(d["kernel_hook_site_address"], 16) == site
        assert d["kernel_hook_site_symbol"] == "__arm64_sys_sysinfo"
        assert int(d["kernel_hook_handler_address"], 16) == handler
        # the module views on arm64: the list found from a carved module
        assert d["kernel_hook_handler_owner"] == "hookinl64"
        assert d["kernel_hook_handler_owner_listed"] is True
    finally:
        g.run("rmmod hookinl64")
    since = svc.mark()
    time.sleep((PASS + 2) * svc.sleep_s)
    svc.expect_alerts(since)


def test_branch_within_function(guest_a64, svc):
    """hookinl64.ko writes `b __arm64_sys_acct+0x10` over that function's
    ftrace NOP (+0x4): a branch within the function, the form of a jump
    label's, at no site of the kernel's table of them (found where
    jump_label_text_reserved takes its address): one alert within two
    scans; rmmod: nothing more"""
    said = [l for l in svc.debug_log().splitlines() if "kernel text: first sight swept" in l]
    assert said and re.search(r", [1-9]\d* jump labels$", said[0]), said
    _, site, handler = text_hook(
        guest_a64, svc, "sym=__arm64_sys_acct at=4 within=16", "__arm64_sys_acct+0x4",
        "core kernel text differs from its first sight", ENTRY * svc.sleep_s + 3, PASS,
        "a branch within a kernel function, at no jump label, was not seen")
    assert handler == site + 12


def planted(g, svc, tmp_path, args, running_within, setup=None, undo=None):
    """hookinl64.ko loaded with args before a second service starts
    (conftest.planted_before_start): told at that service's second scan,
    well before half a pass of the window; its alert's activity_data"""
    m, site, handler = planted_before_start(
        g, svc, tmp_path, "hookinl64", args, PASS, running_within, soon=PASS / 2 * svc.sleep_s,
        setup=setup, undo=undo, extra=f"      memory_regions: {g.regions_path}\n")
    return m["activity_data"], site, handler


def test_inline_hook_before_argus_started(guest_a64, svc, tmp_path):
    """first sight counts: a function entry branching out of the kernel image"""
    a, _, handler = planted(guest_a64, svc, tmp_path, "at=4", ENTRY * svc.sleep_s + 3)
    d = a["kernel_hook_details"]
    # the first instructions, past `mov x9, x30`, branch out
    assert d["kernel_hook_site_symbol"] == "__arm64_sys_sysinfo"
    assert int(d["kernel_hook_handler_address"], 16) == handler
    assert a["reason"] == "the function's first instruction leads outside core kernel text"


def test_inline_hook_inside_before_argus_started(guest_a64, svc, tmp_path):
    """first sight counts past the entry too: the sweep of every word, with
    the kernel's own patching (ftrace's bl, kprobes' brk) in place; the
    running service sees it as a difference within a pass of the window"""
    g = guest_a64
    g.run(f"grep -q {TRACING} /proc/mounts || mount -t tracefs none {TRACING}")
    a, site, handler = planted(
        g, svc, tmp_path, "sym=__arm64_sys_acct at=24", (PASS + 2) * svc.sleep_s + 5,
        setup=f"cd {TRACING} && echo 'p:argus7 __arm64_sys_sysinfo+8' >>kprobe_events && "
              "echo 'r:argus8 vfs_read' >>kprobe_events && echo 1 >events/kprobes/enable && "
              "echo 'vfs_*' >set_ftrace_filter && echo function >current_tracer",
        undo=f"cd {TRACING} && echo nop >current_tracer; echo >set_ftrace_filter; "
             "echo 0 >events/kprobes/enable; echo >kprobe_events")
    d = a["kernel_hook_details"]
    assert a["reason"] == "an instruction inside the function leads outside core kernel text"
    assert int(d["kernel_hook_site_address"], 16) == site
    assert d["kernel_hook_site_symbol"] == "__arm64_sys_acct+0x18"
    assert int(d["kernel_hook_handler_address"], 16) == handler
    assert d["kernel_hook_handler_owner"] == "hookinl64"


FUNC = "dummy_get_drvinfo"      # called by ethtool only: never, here
MOD_PASS = 4    # scans for a pass of the modules' window (256 KiB a scan)


def module_hook(g, svc, args, at, missed):
    """text_hook into dummy's FUNC+at: "module text differs from its first
    sight" within a pass of the modules' window"""
    return text_hook(g, svc, f"sym={FUNC} {args}", f"{FUNC}+{at:#x} [dummy]",
                     "module text differs from its first sight",
                     (MOD_PASS + 2) * svc.sleep_s + 3, MOD_PASS, missed)


@pytest.fixture
def dummy64(guest_a64):
    """The arm64 kernel package's dummy.ko (of the kernel the guest booted),
    loaded in the guest; unloaded after."""
    g = guest_a64
    if not benign.upload_dummy_arm64(g):
        pytest.skip("the arm64 kernel package has no dummy.ko")
    g.check("insmod /tmp/dummy.ko")
    yield g
    g.run("rmmod dummy")


def test_module_patching_raises_nothing(dummy64, svc):
    """dummy.ko loaded while argus runs, then the function and the
    function_graph tracers on its functions, a kprobe inside one and a
    kretprobe: nothing"""
    g = dummy64
    since = svc.mark()
    time.sleep((MOD_PASS + 2) * svc.sleep_s)
    g.run(f"grep -q {TRACING} /proc/mounts || mount -t tracefs none {TRACING}")
    g.check(f"cd {TRACING} && echo ':mod:dummy' >set_ftrace_filter && echo function >current_tracer",
            timeout=60)
    time.sleep((MOD_PASS + 2) * svc.sleep_s)
    g.check(f"cd {TRACING} && echo nop >current_tracer && echo function_graph >current_tracer",
            timeout=60)
    time.sleep((MOD_PASS + 2) * svc.sleep_s)
    g.check(f"cd {TRACING} && echo nop >current_tracer && echo >set_ftrace_filter && "
            f"echo 'p:argus9 {FUNC}+8' >>kprobe_events && echo 'r:argus10 {FUNC}' >>kprobe_events && "
            "echo 1 >events/kprobes/enable", timeout=60)
    time.sleep((MOD_PASS + 2) * svc.sleep_s)
    g.check(f"cd {TRACING} && echo 0 >events/kprobes/enable && echo >kprobe_events", timeout=60)
    time.sleep((MOD_PASS + 2) * svc.sleep_s)
    svc.expect_alerts(since)


def test_module_text_hook(dummy64, svc):
    """hookinl64.ko writes `b hook` (or ldr/br) 8 bytes into
    dummy_get_drvinfo: one alert within a pass of the modules' window;
    rmmod: nothing more"""
    m, _, _ = module_hook(dummy64, svc, "at=8", 8, "a hook in a module's text was not seen")
    assert m["message_type"] == "ALERT" and m["severity"] == "CRITICAL"
    assert m["activity_data"]["kernel_hook_details"]["kernel_hook_handler_owner"] == "hookinl64"


def test_module_jump_labels_raise_nothing(guest_a64, svc):
    """jlabel64.ko (tests/guest/kmod/arm64/: jump labels of its own)
    loaded while argus runs: its table of them read at first sight; its
    static key enabled, every site's NOP turned to its `b`, then disabled:
    nothing"""
    g = guest_a64
    need_module(g, "jlabel64")
    g.check("insmod /bin/jlabel64.ko")
    try:
        time.sleep(3 * svc.sleep_s)     # its first sight
        said = [l for l in svc.debug_log().splitlines() if "module text: jlabel64: " in l]
        labels = [re.search(r", jump labels (\S+),", l) for l in said]
        assert labels and labels[-1] and int(labels[-1].group(1)) >= 3, said
        since = svc.mark()
        g.check("echo 1 >/proc/jlabel64")
        time.sleep((MOD_PASS + 2) * svc.sleep_s)
        g.check("echo 0 >/proc/jlabel64")
        time.sleep((MOD_PASS + 2) * svc.sleep_s)
        g.check("echo 1 >/proc/jlabel64")
        time.sleep((MOD_PASS + 2) * svc.sleep_s)
        assert int(g.check("cat /sys/module/jlabel64/parameters/hits").strip()) == 2 * 6  # taken twice
        assert int(g.check("cat /sys/module/jlabel64/parameters/misses").strip()) == 1
        svc.expect_alerts(since)
    finally:
        g.run("rmmod jlabel64")


def test_module_branch_within_function(dummy64, svc):
    """hookinl64.ko writes `b` to dummy_get_drvinfo+0x10 over its ftrace
    NOP (+0x4): a branch within the function, the form of a jump label's,
    at no site of dummy's table of them: one alert; rmmod: nothing more"""
    _, site, handler = module_hook(dummy64, svc, "at=4 within=16", 4,
                                   "a branch within a module's function, at no jump label, "
                                   "was not seen")
    assert handler == site + 12


def test_module_text_hook_before_argus_started(dummy64, svc, tmp_path):
    """the same hook in place before a second service first sees dummy:
    found by what it is, at its first scans"""
    time.sleep(3 * svc.sleep_s)         # the running service's first sight of dummy
    a, site, handler = planted(dummy64, svc, tmp_path, f"sym={FUNC} at=8",
                               (MOD_PASS + 2) * svc.sleep_s + 5)
    d = a["kernel_hook_details"]
    assert a["reason"] == ("an instruction in the module's text leads outside the kernel, "
                           "the module and the modules it uses")
    assert int(d["kernel_hook_site_address"], 16) == site
    assert d["kernel_hook_site_symbol"] == f"{FUNC}+0x8 [dummy]"
    assert int(d["kernel_hook_handler_address"], 16) == handler



def test_inline_hook_inside_in_hidden_module(guest_a64, svc):
    """past an entry's 16 bytes, by a module that hides itself: caught by
    the window, within a pass.  Last: hookinl64 cannot be unloaded after"""
    g = guest_a64
    need_module(g, "hookinl64")
    if g.run("test -e /proc/hookinl64")[0] == 0:
        pytest.skip("hookinl64 is loaded in this guest already (it cannot be unloaded)")
    since = svc.mark()
    g.check("insmod /bin/hookinl64.ko sym=__arm64_sys_acct at=24 hide=1")
    try:
        assert "hookinl64" not in g.check("cat /proc/modules")
        line = g.check("dmesg | grep 'hookinl64: __arm64_sys_acct+' | tail -1").split()
        site, handler = int(line[line.index("at") + 1].rstrip(":"), 16), int(line[-1], 16)
        found = wait_for(svc, TEXT, text, since, (PASS + 2) * svc.sleep_s + 5)
        assert found, "a hook inside a function was not seen within a pass"
        hidden = lambda a: a.get("kernel_module_details", {}).get("kernel_module_name") == \
            "hookinl64"
        got = svc.expect_alerts(since, (TEXT, text, 1), ("Kernel Module Hidden", hidden, 1))
        a = got[TEXT][0]["activity_data"]
        d = a["kernel_hook_details"]
        assert a["reason"] == "core kernel text differs from its first sight"
        assert int(d["kernel_hook_site_address"], 16) == site
        assert d["kernel_hook_site_symbol"] == "__arm64_sys_acct+0x18"
        assert int(d["kernel_hook_handler_address"], 16) == handler
        assert d["kernel_hook_handler_owner"] == "hookinl64"
        assert d["kernel_hook_handler_owner_listed"] is False
    finally:
        g.run("echo 1 >/proc/hookinl64")
    since = svc.mark()
    time.sleep((PASS + 2) * svc.sleep_s)
    svc.expect_alerts(since)
