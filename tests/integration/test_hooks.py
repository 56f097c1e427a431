"""Kernel hooks, on the live guest, with real rootkit techniques
(tests/guest/kmod/, built against the guest kernel's headers):

- hooksct.ko writes sys_call_table[99] (sysinfo) with CR0.WP cleared;
- hookidt.ko points the gate of the reserved vector 31 in idt_table at
  itself (CR0.WP cleared);
- hookx64.ko rewrites the displacement of the jmp to __x64_sys_sysinfo
  inside x64_sys_call (the dispatch of 6.1.0-2x+ and 6.9+ kernels);
- hookkp.ko registers a kprobe on __x64_sys_sysinfo and hides itself;
- hookft.ko registers an ftrace_ops on __x64_sys_sysinfo and hides itself;
- hooktp.ko registers a probe on the sched_process_fork tracepoint and
  hides itself.

Each is System Call Dispatch Modified / Kernel Function Hooked exactly
once, with the entry, the handler and its owner; taken away (rmmod, or
/proc/hookkp), nothing more is raised.  A stock guest, a listed module
with a kprobe, and the kernel's own tracing inside x64_sys_call (kprobes,
optimized and not, the function tracer, the sched trace events) raise
nothing."""
import json
import time

import pytest

from conftest import (Service, late_service, seconds_after, wait_for, need_module, hook_kind, assert_module_seen, run_argus,
                      assert_kernel_read)

SLEEP = "500ms"
DISPATCH = "System Call Dispatch Modified"
HOOKED = "Kernel Function Hooked"


@pytest.fixture(scope="module")
def svc(guest, tmp_path_factory):
    assert_kernel_read(guest)
    s = Service(tmp_path_factory.mktemp("hooks"), guest, sleep=SLEEP)
    yield s
    s.stop()


def param(guest, mod, name):
    return int(guest.check(f"cat /sys/module/{mod}/parameters/{name}").strip())


def test_stock_guest_raises_nothing(guest, svc):
    time.sleep(4 * svc.sleep_s)
    svc.expect_alerts(0)


TRACING = "/sys/kernel/tracing"


def test_benign_tracing_raises_nothing(guest, svc):
    if guest.run("grep -q ' x64_sys_call$' /proc/kallsyms")[0]:
        pytest.skip("this kernel dispatches through sys_call_table only")
    guest.run(f"mountpoint -q {TRACING} || mount -t tracefs none {TRACING}")
    since = svc.mark()
    # a kprobe on the instruction after the ftrace site is optimized into
    # a jmp to its detour buffer; one on a jcc stays an int3; a kretprobe
    # and the function tracer use the ftrace site
    guest.check(f"cd {TRACING} && echo 1 >/proc/sys/debug/kprobes-optimization && "
                "echo 'p:argus1 x64_sys_call+5' >>kprobe_events && "
                "echo 'p:argus2 x64_sys_call+11' >>kprobe_events && "
                "echo 'r:argus3 x64_sys_call' >>kprobe_events && "
                "echo 'p:argus4 ia32_sys_call+5' >>kprobe_events && "
                "echo 1 >events/kprobes/enable && echo 1 >events/sched/enable && "
                "echo x64_sys_call >set_ftrace_filter && "
                "echo function >current_tracer")
    try:
        guest.check("free; ls /")
        time.sleep(4 * svc.sleep_s)
        svc.expect_alerts(since)
    finally:
        guest.run(f"cd {TRACING} && echo nop >current_tracer && echo >set_ftrace_filter && "
                  "echo 0 >events/kprobes/enable && echo 0 >events/sched/enable && "
                  "echo >kprobe_events")


def test_tracing_started_and_stopped_raises_nothing(guest, svc):
    """A kprobe on a function's ftrace site (a trampoline of its own) made
    and taken away again and again while the service scans: a scan that
    read ftrace's ops before the probe came, or after it went, and the
    site in between reads a call to a trampoline it does not know.  That
    is no hook: nothing is raised (the build before raised Kernel Text
    Modified on it).  The probe is seen firing, so it was really there."""
    guest.run(f"mountpoint -q {TRACING} || mount -t tracefs none {TRACING}")
    if guest.run(f"grep -q '^__x64_sys_sysinfo$' {TRACING}/available_filter_functions")[0]:
        pytest.skip("__x64_sys_sysinfo has no ftrace site on this kernel")
    since = svc.mark()
    # the event stays defined; enabling it arms the kprobe (ftrace's ops and
    # trampoline registered), disabling disarms it (unregistered)
    loop = (f"cd {TRACING} && echo >trace && echo 1 >tracing_on && "
            "echo 'p:argusrace __x64_sys_sysinfo' >>kprobe_events && "
            "i=0; end=$(($(date +%s) + 12)); while [ $(date +%s) -lt $end ]; do "
            "echo 1 >events/kprobes/argusrace/enable && free >/dev/null && "
            "echo 0 >events/kprobes/argusrace/enable && i=$((i + 1)); done; echo $i")
    try:
        rounds = int(guest.check(loop, timeout=60).split()[-1])
        assert rounds >= 20, f"only {rounds} rounds of the probe"
        fired = int(guest.check(f"grep -c argusrace: {TRACING}/trace || true").split()[0])
        assert fired >= rounds, f"the probe fired {fired} times in {rounds} rounds"
        svc.expect_alerts(since)
    finally:
        guest.run(f"cd {TRACING} && echo 0 >events/kprobes/enable; echo >kprobe_events; echo >trace")


def test_sys_call_table_entry(guest, svc):
    need_module(guest, "hooksct")
    since = svc.mark()
    guest.check("insmod /bin/hooksct.ko nr=99")
    try:
        handler = param(guest, "hooksct", "handler")
        found = wait_for(svc, DISPATCH, hook_kind("sys_call_table"), since, 2 * svc.sleep_s + 5)
        assert found, "the sys_call_table write was not seen"
        found = svc.expect_alerts(since, (DISPATCH, hook_kind("sys_call_table"), 1))[DISPATCH]
        m = found[0]
        assert m["message_type"] == "ALERT" and m["severity"] == "CRITICAL"
        d = m["activity_data"]["kernel_hook_details"]
        assert d["system_call_number"] == 99 and d["system_call_name"] == "sys_sysinfo"
        assert int(d["kernel_hook_handler_address"], 16) == handler
        assert d["kernel_hook_site_symbol"] == "sys_call_table+0x318"
        assert d["kernel_hook_handler_owner"] == "hooksct"
        assert d["kernel_hook_handler_owner_listed"] is True
        assert m["activity_data"]["kernel_module_details"]["kernel_module_name"] == "hooksct"
        assert m["activity_data"]["reason"] == "the entry leads outside core kernel text"
    finally:
        guest.run("rmmod hooksct")
    since = svc.mark()
    svc.expect_alerts(since)


def test_x64_sys_call_site(guest, svc):
    need_module(guest, "hookx64")
    if guest.run("grep -q ' x64_sys_call$' /proc/kallsyms")[0]:
        pytest.skip("this kernel dispatches through sys_call_table only")
    since = svc.mark()
    guest.check("insmod /bin/hookx64.ko")
    try:
        site = param(guest, "hookx64", "site")
        guest.check("free")      # sysinfo(2), through the hook
        assert param(guest, "hookx64", "hits") >= 1
        found = wait_for(svc, DISPATCH, hook_kind("x64_sys_call"), since, 2 * svc.sleep_s + 5)
        assert found, "the x64_sys_call patch was not seen"
        found = svc.expect_alerts(since, (DISPATCH, hook_kind("x64_sys_call"), 1))[DISPATCH]
        m = found[0]
        assert m["severity"] == "CRITICAL"
        d = m["activity_data"]["kernel_hook_details"]
        assert int(d["kernel_hook_site_address"], 16) == site
        assert d["kernel_hook_site_symbol"].startswith("x64_sys_call+0x")
        assert d["kernel_hook_offset"] == int(d["kernel_hook_site_symbol"].split("+")[1], 16)
        assert d["kernel_hook_handler_owner"] == "hookx64"
        assert m["activity_data"]["reason"] == "a jump in the dispatcher leads outside core kernel text"
    finally:
        guest.run("rmmod hookx64")
    since = svc.mark()
    svc.expect_alerts(since)


def test_x64_sys_call_site_behind_a_fake_kprobe(guest, svc):
    """hookx64.ko fake=1 links a fake optimized kprobe at the jmp it
    rewrites, its saved bytes the original ones.  The build before put
    those bytes back before decoding x64_sys_call (as for a real optimized
    kprobe) and told nothing; a kprobe's jmp is now put back only when it
    leads to that kprobe's proven detour buffer."""
    need_module(guest, "hookx64")
    if guest.run("grep -q ' x64_sys_call$' /proc/kallsyms")[0]:
        pytest.skip("this kernel dispatches through sys_call_table only")
    since = svc.mark()
    guest.check("insmod /bin/hookx64.ko fake=1")
    try:
        site = param(guest, "hookx64", "site")
        found = wait_for(svc, DISPATCH, hook_kind("x64_sys_call"), since, 2 * svc.sleep_s + 5)
        assert found, "the x64_sys_call patch behind a fake kprobe was not seen"
        found = svc.expect_alerts(since, (DISPATCH, hook_kind("x64_sys_call"), 1))[DISPATCH]
        d = found[0]["activity_data"]["kernel_hook_details"]
        assert int(d["kernel_hook_site_address"], 16) == site
        assert d["kernel_hook_handler_owner"] == "hookx64"
    finally:
        guest.run("rmmod hookx64")
    since = svc.mark()
    svc.expect_alerts(since)


def test_idt_gate(guest, svc):
    need_module(guest, "hookidt")
    since = svc.mark()
    guest.check("insmod /bin/hookidt.ko vector=31")
    try:
        handler = param(guest, "hookidt", "handler")
        found = wait_for(svc, DISPATCH, hook_kind("idt_table"), since, 2 * svc.sleep_s + 5)
        assert found, "the IDT gate was not seen"
        found = svc.expect_alerts(since, (DISPATCH, hook_kind("idt_table"), 1))[DISPATCH]
        m = found[0]
        assert m["severity"] == "CRITICAL"
        d = m["activity_data"]["kernel_hook_details"]
        assert d["interrupt_vector"] == 31
        assert d["kernel_hook_site_symbol"] == "idt_table+0x1f0"
        assert int(d["kernel_hook_handler_address"], 16) == handler
        assert d["kernel_hook_handler_owner"] == "hookidt"
        assert m["activity_data"]["reason"] == "the gate leads outside core kernel text"
    finally:
        guest.run("rmmod hookidt")
    since = svc.mark()
    svc.expect_alerts(since)


KINDS = {"hookkp": "kprobe", "hookft": "ftrace_ops", "hooktp": "tracepoint"}
HOOKED_AT = {"hookkp": "__x64_sys_sysinfo", "hookft": "__x64_sys_sysinfo",
             "hooktp": "sched_process_fork"}


@pytest.mark.parametrize("ko", ["hookkp", "hookft", "hooktp"])
def test_hook_of_a_listed_module(guest, svc, ko):
    need_module(guest, ko)
    if guest.run(f"test -e /proc/{ko}")[0] == 0:
        pytest.skip(f"{ko} is loaded in this guest already")
    since = svc.mark()
    guest.check(f"insmod /bin/{ko}.ko hide=0")
    try:
        guest.check("free; ls /")
        time.sleep(4 * svc.sleep_s)
        svc.expect_alerts(since)
        assert_module_seen(svc, ko, since)
    finally:
        guest.check(f"rmmod {ko}")


@pytest.mark.parametrize("ko", ["hookkp", "hookft", "hooktp"])
def test_hook_in_hidden_module(guest, svc, ko):
    need_module(guest, ko)
    if guest.run(f"test -e /proc/{ko}")[0] == 0:
        pytest.skip(f"{ko} is loaded in this guest already (it cannot be unloaded)")
    kind = KINDS[ko]
    since = svc.mark()
    guest.check(f"insmod /bin/{ko}.ko hide=1")
    try:
        assert ko not in guest.check("cat /proc/modules")
        found = wait_for(svc, HOOKED, hook_kind(kind), since, 4 * svc.sleep_s + 5)
        assert found, f"the {kind} of the hidden module was not seen"
        hidden = lambda a: a.get("kernel_module_details", {}).get("kernel_module_name") == ko
        got = svc.expect_alerts(since, (HOOKED, hook_kind(kind), 1),
                                ("Kernel Module Hidden", hidden, 1))
        m = got[HOOKED][0]
        assert m["message_type"] == "ALERT" and m["severity"] == "HIGH"
        d = m["activity_data"]["kernel_hook_details"]
        assert d["kernel_hook_hooked_symbol"] == HOOKED_AT[ko]
        if kind == "kprobe":
            assert d["kernel_hook_site_symbol"] == "__x64_sys_sysinfo"
        assert d["kernel_hook_handler_owner"] == ko
        assert d["kernel_hook_handler_owner_listed"] is False
        assert m["activity_data"]["kernel_module_details"]["kernel_module_found_in"] == "mod_tree"
        assert m["activity_data"]["reason"] == "the handler lies in a module hidden from the modules list"
    finally:
        guest.run(f"echo 1 >/proc/{ko}")
    since = svc.mark()
    svc.expect_alerts(since)


def test_dispatch_modified_before_argus_started(guest, svc, tmp_path):
    """first sight counts: a table written before the service starts is
    alerted at its first scans (the second: told when seen in two in a row)"""
    need_module(guest, "hooksct")
    since = svc.mark()
    guest.check("insmod /bin/hooksct.ko nr=99")
    try:
        late = Service(tmp_path, guest, sleep=SLEEP)
        try:
            found = wait_for(late, DISPATCH, hook_kind("sys_call_table"), 0, 2 * late.sleep_s + 5)
            assert found, "a table modified before argus started was not seen"
            late.expect_alerts(0, (DISPATCH, hook_kind("sys_call_table"), 1))
            # at its second scan (told when seen in two in a row): within
            # four scans of starting
            assert seconds_after(late, DISPATCH) < 4 * late.sleep_s
        finally:
            late.stop()
    finally:
        guest.run("rmmod hooksct")
    svc.expect_alerts(since, (DISPATCH, hook_kind("sys_call_table"), 1))


def test_kprobes_before_argus_started_then_removed(guest, svc, tmp_path):
    """kprobes inside x64_sys_call registered before a service starts (one
    optimized: a jmp to its detour buffer; one on a jcc: an int3), then
    removed while it runs.  Its first sight takes back the bytes each
    replaced (from the struct kprobe; the jmp's once proven), so the text
    as it is once they go is no change.  The build before kept the
    kprobes' bytes as the text's own and told Kernel Text Modified
    ("differs from its first sight") when they went."""
    if guest.run("grep -q ' x64_sys_call$' /proc/kallsyms")[0]:
        pytest.skip("this kernel dispatches through sys_call_table only")
    guest.run(f"mountpoint -q {TRACING} || mount -t tracefs none {TRACING}; "
              "mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug")
    since = svc.mark()
    guest.check(f"cd {TRACING} && echo 1 >/proc/sys/debug/kprobes-optimization && "
                "echo 'p:argusb1 x64_sys_call+5' >>kprobe_events && "
                "echo 'p:argusb2 x64_sys_call+11' >>kprobe_events && "
                "echo 1 >events/kprobes/argusb1/enable && echo 1 >events/kprobes/argusb2/enable")
    try:
        listed = ""
        for _ in range(50):
            listed = guest.run("grep 'x64_sys_call+0x' /sys/kernel/debug/kprobes/list")[1]
            if "x64_sys_call+0x5 " in listed and "OPTIMIZED" in listed:
                break
            time.sleep(0.2)
        assert "OPTIMIZED" in listed and "x64_sys_call+0xb" in listed, listed
        with late_service(tmp_path, guest, 3, sleep=SLEEP) as late:
            mark = late.mark()
            guest.check(f"cd {TRACING} && echo 0 >events/kprobes/enable && echo >kprobe_events")
            assert "x64_sys_call" not in guest.run("cat /sys/kernel/debug/kprobes/list")[1]
            time.sleep(4 * late.sleep_s)
            late.expect_alerts(mark)
    finally:
        guest.run(f"cd {TRACING} && echo 0 >events/kprobes/enable; echo >kprobe_events")
    svc.expect_alerts(since)


TEXT = "Kernel Text Modified"
OPS_WHY = ("an ftrace call site leads, through the trampoline of an ftrace_ops not on "
           "ftrace_ops_list, outside core kernel text and every listed module")


def test_ftrace_ops_off_the_list(guest, svc):
    """ftrace takes an ops off ftrace_ops_list before it puts the ops' sites
    back: for that while a site calls a trampoline no listed ops owns (how
    tracing stopped under a scan raised Kernel Text Modified).  hookftu (hookft
    under another name) unlist=1 holds that state.  Its trampoline is ftrace's own, proven from
    its bytes and the ops at its tail: a listed module's callback raises
    nothing (the build before raised Kernel Text Modified); a hidden
    module's is Kernel Text Modified once, naming the callback, not the
    trampoline.  (hookftu hidden cannot be unloaded.)"""
    need_module(guest, "hookftu")
    if guest.run("test -e /proc/hookftu")[0] == 0:
        pytest.skip("hookftu is loaded in this guest already")
    if guest.run("grep -q ' ftrace_regs_caller_op_ptr$' /proc/kallsyms")[0]:
        pytest.skip("no x86-64 ftrace trampolines on this kernel")
    since = svc.mark()
    guest.check("insmod /bin/hookftu.ko hide=0 unlist=1")
    try:
        guest.check("free; ls /")
        time.sleep(4 * svc.sleep_s)
        svc.expect_alerts(since)
        assert_module_seen(svc, "hookftu", since)
    finally:
        guest.check("rmmod hookftu")
    since = svc.mark()
    guest.check("dmesg -c >/dev/null; insmod /bin/hookftu.ko hide=1 unlist=1")
    try:
        callback = guest.check("dmesg").split("callback ")[-1].split()[0]
        found = wait_for(svc, TEXT, lambda a: True, since, 4 * svc.sleep_s + 5)
        assert found, ("the trampoline of an unlisted ops in a hidden module was not told; ftrace: " +
                       guest.run(f"grep sysinfo {TRACING}/enabled_functions")[1])
        hidden = lambda a: a.get("kernel_module_details", {}).get("kernel_module_name") == "hookftu"
        got = svc.expect_alerts(since, (TEXT, None, 1), ("Kernel Module Hidden", hidden, 1))
        a = got[TEXT][0]["activity_data"]
        d = a["kernel_hook_details"]
        assert int(d["kernel_hook_handler_address"], 16) == int(callback, 16), d
        assert d["kernel_hook_handler_owner"] == "hookftu"
        assert d["kernel_hook_site_symbol"].startswith("__x64_sys_sysinfo"), d
        assert a["reason"] == OPS_WHY
    finally:
        guest.run("echo 1 >/proc/hookftu")
    since = svc.mark()
    svc.expect_alerts(since)


FLOOD = 70000    # fake kprobes: past the 8,192 reads the walk was once bounded at
KPROBE_JMP_WHY = "a kprobe's address jumps elsewhere than to that kprobe's own detour buffer"


def test_hooks_behind_decoys(guest, svc):
    """hookblind.ko blinds before it hooks: 70,000 fake kprobes (gone, at
    address 0: the kernel's walks pass over them) head a bucket of
    kprobe_table, the first claiming __x64_sys_acct, and a notifier block
    linked to itself heads panic_notifier_list (followed only on a panic).
    Then a notifier block on module_notify_list and a jmp over
    __x64_sys_acct's entry, from a module that hides itself.  The build
    before told only the hidden module: the kprobe walk hit its bound, so
    kernel text went unjudged (and within the bound, the fake kprobe
    excused the jmp as an optimized kprobe's); the cycle left every
    notifier chain unjudged.  Now each decoy ends its own list only, and a
    kprobe's jmp counts as its own only when its target proves to be the
    kprobe's detour buffer: Kernel Text Modified and Kernel Function Hooked
    once each, the cycle a bad object skipped and said.  (hookblind hidden
    cannot be unloaded.)"""
    need_module(guest, "hookblind")
    if guest.run("test -e /proc/hookblind")[0] == 0:
        pytest.skip("hookblind is loaded in this guest already")
    since = svc.mark()
    guest.check(f"dmesg -c >/dev/null; insmod /bin/hookblind.ko kpflood={FLOOD} kpfake=1 nb=1")
    try:
        assert "hookblind" not in guest.check("cat /proc/modules")
        line = guest.check("dmesg | grep 'hookblind: kpflood' | tail -1").split()
        site = int(line[line.index("at") + 1].rstrip(":"), 16)
        handler, nb_handler = int(line[line.index("jmp") + 1], 16), int(line[-1], 16)
        out = run_argus("scan", "--once", "--json", *guest.argus_source())
        doc = json.loads(out.stdout)
        st = doc["scan_statistics"]
        assert {"kprobe", "notifier", "kernel_text"} <= set(st["kernel_hooks_read"]), st
        assert st["cyclic_lists"] >= 1
        text = wait_for(svc, TEXT, lambda a: True, since, 6 * svc.sleep_s + 5)
        assert text, "an inline hook behind a kprobe_table flood was not told"
        nb = wait_for(svc, HOOKED, hook_kind("notifier"), since, 4 * svc.sleep_s + 5)
        assert nb, "a notifier block behind a cycle on another chain was not told"
        assert svc.wait_for(lambda m: m["activity_data"]["name"] == "Details Gathering Failed" and
                            "panic_notifier_list: cycle" in
                            m["activity_data"]["system_activity_details"]["description"],
                            timeout=5), "the cycle was not said"
        hidden = lambda a: a.get("kernel_module_details", {}).get("kernel_module_name") == "hookblind"
        got = svc.expect_alerts(since, (TEXT, None, 1), (HOOKED, hook_kind("notifier"), 1),
                                ("Kernel Module Hidden", hidden, 1))
        d = got[TEXT][0]["activity_data"]["kernel_hook_details"]
        assert int(d["kernel_hook_site_address"], 16) == site, d
        assert int(d["kernel_hook_handler_address"], 16) == handler, d
        assert d["kernel_hook_handler_owner"] == "hookblind"
        assert got[TEXT][0]["activity_data"]["reason"] == KPROBE_JMP_WHY
        d = got[HOOKED][0]["activity_data"]["kernel_hook_details"]
        assert d["kernel_hook_hooked_symbol"] == "module_notify_list", d
        assert int(d["kernel_hook_handler_address"], 16) == nb_handler, d
        assert d["kernel_hook_handler_owner"] == "hookblind"
    finally:
        since = svc.mark()
        guest.run("echo 1 >/proc/hookblind")
    svc.expect_alerts(since)
