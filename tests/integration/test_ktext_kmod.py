"""Kernel Text Modified in a module's text, on the live guest: a stock
module (dummy.ko) seen by the service, then hooked by another
(tests/guest/kmod/hookinm.ko, hookinl.ko under its own name,
sym=dummy_get_drvinfo: "jmp hook" written
with CR0.WP cleared, as inline hooking rootkits patch a file system's or a
driver's functions):

- past the function's ftrace site, in its own code: one alert, "module
  text differs from its first sight", naming the function and module, the
  hook and its owner, within a pass of the window; rmmod: nothing more;
- over the ftrace site itself: one alert by the site's rules;
- in virtio_net, whose static call sites table is at an odd address: the
  same;
- by a module that then hides itself: the same, its owner not listed, with
  its Kernel Module Hidden;
- written in two stores 5 s apart (a plain 5-byte copy is two stores, and
  a reader outside the guest can land between them): the half-written jmp
  and the whole one are the same breach, at the same site;
- in place before a second service first sees the module: found at its
  first sight by what it is (a jump out of the kernel, the module and the
  modules it uses), and put back in two steps: nothing more.

The kernel's own rewriting of module text raises nothing: the function
and function_graph tracers on every function of the module, an optimized
kprobe inside one and a kretprobe, and the module unloaded and loaded
again while argus runs; and, in place before a service first sees the
module, BPF programs at two of its function entries (fentry through the
module's BTF: calls to BPF trampolines), the function tracer, an optimized
kprobe and a kretprobe.  Nor does a live patch (klpcmd.ko), watched going
live and away, or in place before a service first sees the kernel."""
import json
import time

import pytest

import benign
from conftest import (Service, late_service, wait_for, need_module, assert_kernel_read, module_named,
                      planted_before_start, run_argus, bpf_fentry)

SLEEP = "500ms"
TEXT = "Kernel Text Modified"
PASS = 15       # scans for a pass of core text's window (modules' text: a few)
TRACING = "/sys/kernel/tracing"
FUNC = "dummy_get_drvinfo"      # called by ethtool only: never, here


@pytest.fixture(scope="module")
def svc(guest, tmp_path_factory):
    assert_kernel_read(guest)
    if not benign.upload_dummy(guest):
        pytest.skip("the kernel package has no dummy.ko")
    s = Service(tmp_path_factory.mktemp("ktextkmod"), guest, sleep=SLEEP)
    guest.check("insmod /tmp/dummy.ko")
    # dummy seen live: its first sight, unhooked (a first scan can come
    # seconds after the host initialized: the tests' hooks must not be in
    # place before it)
    assert wait_for(s, "Kernel Module Loaded", module_named("dummy"), 0, 60), \
        "argus never saw dummy loaded"
    time.sleep(2 * s.sleep_s)
    yield s
    s.stop()
    guest.run("rmmod hookinm 2>/dev/null; rmmod dummy 2>/dev/null")


def text(a):
    return a.get("kernel_hook_details", {}).get("kernel_hook_kind") == "kernel_text"


def param(guest, mod, name):
    return int(guest.check(f"cat /sys/module/{mod}/parameters/{name}").strip())


def hooked(guest, svc, args, func=FUNC):
    """hookinm.ko args loaded: the one Kernel Text Modified it caused, its
    site and handler; rmmod: nothing more"""
    need_module(guest, "hookinm")
    since = svc.mark()
    guest.check(f"insmod /bin/hookinm.ko sym={func} {args}")
    try:
        site, handler = param(guest, "hookinm", "site"), param(guest, "hookinm", "handler")
        found = wait_for(svc, TEXT, text, since, (PASS + 2) * svc.sleep_s)
        assert found, f"the hook in {func} (hookinm {args}) was not seen"
        time.sleep(2 * svc.sleep_s)
        m = svc.expect_alerts(since, (TEXT, text, 1))[TEXT][0]
    finally:
        guest.run("rmmod hookinm")
    since = svc.mark()
    time.sleep((PASS + 2) * svc.sleep_s)
    svc.expect_alerts(since)
    assert m["message_type"] == "ALERT" and m["severity"] == "CRITICAL"
    d = m["activity_data"]["kernel_hook_details"]
    assert int(d["kernel_hook_site_address"], 16) == site
    assert int(d["kernel_hook_handler_address"], 16) == handler
    assert d["kernel_hook_handler_owner"] == "hookinm"
    return m, site - int(guest.check(f"grep ' {func}' /proc/kallsyms | head -1").split()[0], 16)


def test_hook_in_module_function(guest, svc):
    m, off = hooked(guest, svc, "at=5")
    assert off == 5
    d = m["activity_data"]["kernel_hook_details"]
    assert d["kernel_hook_site_symbol"] == f"{FUNC}+0x5 [dummy]"
    assert d["kernel_hook_handler_owner_listed"] is True
    assert m["activity_data"]["reason"] == "module text differs from its first sight"


def test_hook_over_module_ftrace_site(guest, svc):
    m, off = hooked(guest, svc, "at=0")
    assert off == 0
    assert m["activity_data"]["kernel_hook_details"]["kernel_hook_site_symbol"] == f"{FUNC}+0x0 [dummy]"
    assert m["activity_data"]["reason"] == "an ftrace call site holds neither a nop nor a call"


def test_hook_in_module_with_an_unaligned_table(guest, svc):
    """virtio_net (the guest's network driver, loaded at boot) has its
    static call sites at an odd address (objtool's section asks for no
    alignment): its text is held to its first sight like any module's
    (the build before took the table for implausible and never compared
    virtio_net's text: this hook was not seen)"""
    m, off = hooked(guest, svc, "at=5", func="virtnet_get_drvinfo")
    assert off == 5
    assert m["activity_data"]["kernel_hook_details"]["kernel_hook_site_symbol"] == \
        "virtnet_get_drvinfo+0x5 [virtio_net]"


SPLIT_MS = 5000     # ten scans: a pass of the modules' window, and two in a row


def test_hook_written_in_two_steps(guest, svc):
    """hookinm split_ms=5000: the jmp's first four bytes stand 5 s before
    its last is written.  The half-written jmp is a breach (the text did
    differ, for ten scans); the whole one is the same breach grown, told
    again with its handler: every alert at the jmp's first byte (the build
    before also told the last byte, written later, as a breach of its own
    at +0x9)."""
    need_module(guest, "hookinm")
    since = svc.mark()
    guest.check(f"insmod /bin/hookinm.ko sym={FUNC} at=5 split_ms={SPLIT_MS}", timeout=60)
    try:
        site, handler = param(guest, "hookinm", "site"), param(guest, "hookinm", "handler")
        whole = lambda a: text(a) and int(a["kernel_hook_details"]["kernel_hook_handler_address"],
                                          16) == handler
        found = wait_for(svc, TEXT, whole, since, (PASS + 2) * svc.sleep_s)
        assert found, "the hook in dummy's text was not seen whole"
        time.sleep(2 * svc.sleep_s)
        got = svc.expect_alerts(since, (TEXT, whole, 1), (TEXT, text, None))[TEXT]
        sites = [int(m["activity_data"]["kernel_hook_details"]["kernel_hook_site_address"], 16)
                 for m in got]
        assert sites == [site] * len(sites), [hex(a) for a in sites]
    finally:
        guest.run("rmmod hookinm")
    since = svc.mark()
    time.sleep((PASS + 2) * svc.sleep_s)
    svc.expect_alerts(since)


def test_hook_in_module_before_argus_started(guest, svc, tmp_path):
    """hookinm at=5 in dummy's text, loaded before a second service
    starts: that service never saw dummy's text unhooked, so there is no
    difference to find; its first sight decodes each of dummy's functions
    and finds the jmp by what it is, a branch out of the kernel, dummy and
    the modules dummy uses (the build before told nothing).  rmmod puts it
    back in two steps 1.2 s apart (unsplit_ms): nothing more from either
    service."""
    m, site, handler = planted_before_start(guest, svc, tmp_path, "hookinm",
                                            f"sym={FUNC} at=5 unsplit_ms=1200", PASS)
    assert m["message_type"] == "ALERT" and m["severity"] == "CRITICAL"
    d = m["activity_data"]["kernel_hook_details"]
    assert int(d["kernel_hook_site_address"], 16) == site
    assert d["kernel_hook_site_symbol"] == f"{FUNC}+0x5 [dummy]"
    assert int(d["kernel_hook_handler_address"], 16) == handler
    assert d["kernel_hook_handler_owner"] == "hookinm"
    assert m["activity_data"]["reason"] == \
        "an instruction in the module's text leads outside the kernel, the module and the modules it uses"


def test_hook_in_module_function_by_a_hidden_module(guest, svc):
    need_module(guest, "hookinm")
    if guest.run("test -e /proc/hookinm")[0] == 0:
        pytest.skip("hookinm is loaded in this guest already (it cannot be unloaded)")
    since = svc.mark()
    guest.check(f"insmod /bin/hookinm.ko sym={FUNC} at=5 hide=1")
    try:
        assert "hookinm" not in guest.check("cat /proc/modules")
        line = guest.check(f"dmesg | grep 'hookinm: {FUNC}+' | tail -1").split()
        site, handler = int(line[line.index("at") + 1].rstrip(":"), 16), int(line[-1], 16)
        found = wait_for(svc, TEXT, text, since, (PASS + 2) * svc.sleep_s)
        assert found, "the hook in dummy's text was not seen"
        time.sleep(2 * svc.sleep_s)
        hidden = lambda a: a.get("kernel_module_details", {}).get("kernel_module_name") == "hookinm"
        got = svc.expect_alerts(since, (TEXT, text, 1), ("Kernel Module Hidden", hidden, 1))
        d = got[TEXT][0]["activity_data"]["kernel_hook_details"]
        assert int(d["kernel_hook_site_address"], 16) == site
        assert d["kernel_hook_site_symbol"] == f"{FUNC}+0x5 [dummy]"
        assert int(d["kernel_hook_handler_address"], 16) == handler
        assert d["kernel_hook_handler_owner"] == "hookinm"
        assert d["kernel_hook_handler_owner_listed"] is False
    finally:
        guest.run("echo 1 >/proc/hookinm")
    since = svc.mark()
    time.sleep((PASS + 2) * svc.sleep_s)
    svc.expect_alerts(since)


def test_module_tracing_raises_nothing(guest, svc):
    since = svc.mark()
    guest.run(f"mountpoint -q {TRACING} || mount -t tracefs none {TRACING}")
    try:
        guest.check(f"cd {TRACING} && echo 1 >/proc/sys/debug/kprobes-optimization && "
                    "echo 'p:argus11 dummy_setup+5' >>kprobe_events && "
                    "echo 'r:argus12 dummy_dev_init' >>kprobe_events && "
                    "echo 1 >events/kprobes/enable && "
                    "echo ':mod:dummy' >set_ftrace_filter && echo function >current_tracer")
        assert "dummy_xmit" in guest.check(f"cat {TRACING}/enabled_functions")
        time.sleep((PASS + 2) * svc.sleep_s)
        guest.check(f"cd {TRACING} && echo nop >current_tracer && "
                    "echo function_graph >current_tracer")
        time.sleep((PASS + 2) * svc.sleep_s)
        # gone and back while traced: a new module at the same place, maybe
        guest.check("rmmod dummy && insmod /tmp/dummy.ko")
        time.sleep((PASS + 2) * svc.sleep_s)
    finally:
        guest.run(f"cd {TRACING} && echo nop >current_tracer; echo >set_ftrace_filter; "
                  "echo 0 >events/kprobes/enable; echo >kprobe_events")
    time.sleep((PASS + 2) * svc.sleep_s)
    svc.expect_alerts(since)
    assert_kernel_read(guest)


def test_module_tracing_before_argus_started_raises_nothing(guest, svc, tmp_path):
    """What observability and security agents leave in a module's text,
    in place before a service first sees the module: BPF programs at two
    of dummy's function entries (fentry, the module's split BTF: each
    site calls its BPF trampoline, found in the ftrace direct-call hash;
    the build with that lookup cut raised a false alert), the function
    tracer on two other functions, an optimized kprobe inside one and a
    kretprobe.  Its first sight, decoding each function
    whole, finds no branch out; a program gone (its trampoline rebuilt or
    its site put back) and the rest undone raise nothing either."""
    since = svc.mark()
    guest.run(f"mountpoint -q {TRACING} || mount -t tracefs none {TRACING}")
    funcs = ("dummy_get_drvinfo", "dummy_dev_uninit")
    pids = []
    undo = (f"cd {TRACING} && echo nop >current_tracer; echo >set_ftrace_filter; "
            "echo 0 >events/kprobes/enable; echo >kprobe_events")
    try:
        pids = bpf_fentry(guest, [f"dummy:{f}" for f in funcs], "fm")
        guest.check(f"cd {TRACING} && echo 1 >/proc/sys/debug/kprobes-optimization && "
                    "echo 'p:argus13 dummy_setup+5' >>kprobe_events && "
                    "echo 'r:argus14 dummy_dev_init' >>kprobe_events && "
                    "echo 1 >events/kprobes/enable && echo dummy_xmit >set_ftrace_filter && "
                    "echo dummy_setup >>set_ftrace_filter && echo function >current_tracer")
        enabled = guest.check(f"cat {TRACING}/enabled_functions")
        assert all(f in enabled for f in funcs + ("dummy_xmit", "dummy_setup")), enabled
        # a one-shot scan: it read the kernel's text whole, and its first
        # sight of dummy recorded nothing
        d = json.loads(run_argus("scan", "--once", "--json", *guest.argus_source()).stdout)
        assert "kernel_text" in d["scan_statistics"]["kernel_hooks_read"]
        assert [h for h in d["kernel_hooks"] if h.get("kernel_hook_kind") == "kernel_text"] == []
        with late_service(tmp_path, guest, PASS + 2, sleep=SLEEP) as late:
            # one program goes: its site is put back to the tracer's call
            guest.run(f"kill {pids.pop()}")
            guest.check(undo)
            time.sleep((PASS + 2) * late.sleep_s)
            late.expect_alerts(0)
    finally:
        guest.run(undo + "; kill " + " ".join(str(p) for p in pids))
    time.sleep((PASS + 2) * svc.sleep_s)
    svc.expect_alerts(since)


LIVEPATCH = "/sys/kernel/livepatch/klpcmd"


def klp_settled(guest):
    """The live patch's transition done (every task switched), within 30 s."""
    deadline = time.monotonic() + 30
    while guest.run(f"cat {LIVEPATCH}/transition 2>/dev/null")[1].strip() == "1":
        assert time.monotonic() < deadline, "klpcmd's transition never finished"
        time.sleep(0.5)


def test_live_patch_raises_nothing(guest, svc, tmp_path):
    """A live patch (tests/guest/kmod/klpcmd.ko, through the kernel's
    livepatch API, as kpatch and the distributions' services ship them:
    cmdline_proc_show's ftrace site calls a trampoline whose handler sends
    every call to the module's own function) is a module loaded and,
    later, unloaded: told as such, and nothing more -- neither while the
    service watches it go live and away, nor at the first sight of a
    kernel already patched (a one-shot scan and a second service).  The
    patch is seen to be live: /proc/cmdline says so."""
    need_module(guest, "klpcmd")
    since = svc.mark()
    guest.check("insmod /bin/klpcmd.ko")
    try:
        klp_settled(guest)
        assert guest.check("cat /proc/cmdline").strip() == "klpcmd", "the patch is not live"
        guest.run(f"mountpoint -q {TRACING} || mount -t tracefs none {TRACING}")
        assert "cmdline_proc_show" in guest.check(f"cat {TRACING}/enabled_functions")
        assert wait_for(svc, "Kernel Module Loaded", module_named("klpcmd"), since,
                        10 * svc.sleep_s), "argus never saw klpcmd loaded"
        time.sleep((PASS + 2) * svc.sleep_s)
        d = json.loads(run_argus("scan", "--once", "--json", *guest.argus_source()).stdout)
        assert {"kernel_text", "ftrace_ops"} <= set(d["scan_statistics"]["kernel_hooks_read"])
        assert "klpcmd" in [m.get("kernel_module_name") for m in d.get("kernel_modules", [])]
        assert [h for h in d["kernel_hooks"] if h.get("kernel_hook_kind") == "kernel_text"] == []
        with late_service(tmp_path, guest, PASS + 2, sleep=SLEEP):
            pass
    finally:
        guest.run(f"echo 0 >{LIVEPATCH}/enabled")
        klp_settled(guest)
        guest.run("rmmod klpcmd")
    assert guest.check("cat /proc/cmdline").strip() != "klpcmd"
    assert wait_for(svc, "Kernel Module Unloaded", module_named("klpcmd"), since,
                    10 * svc.sleep_s), "argus never saw klpcmd unloaded"
    time.sleep((PASS + 2) * svc.sleep_s)
    svc.expect_alerts(since)
    assert_kernel_read(guest)
