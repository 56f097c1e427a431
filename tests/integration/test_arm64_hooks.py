"""Kernel Function Hooked on the AArch64 guest, with the x86-64 test
rootkits' own sources built for arm64 against its kernel's headers
(tests/guest/kmod/arm64/hookkp64.c is ../hookkp.c, and so on):

- hookkp64.ko registers a kprobe on __arm64_sys_sysinfo, hookft64.ko an
  ftrace_ops filtered on it, hooktp64.ko a probe on the sched_process_fork
  tracepoint; each then hides itself from the modules list and sysfs;
- hooknf64.ko registers an IPv4 LOCAL_IN netfilter hook on init_net, an
  ingress hook on lo and a notifier block on module_notify_list, then
  hides itself from the list, sysfs and mod_tree (only the carve of module
  memory knows it).

Debian's arm64 kernel has no data symbols in kallsyms: kprobe_table,
ftrace_ops_list, the tracepoint section, net_namespace_list and the
notifier chain heads are found where the kernel's code takes their
address (src/profile/a64ref.c).  Each hook is Kernel Function Hooked
exactly once within two scans of appearing (raised at most TWO_SCANS
seconds after insmod returns), naming the hooked function
(or tracepoint, hook, chain), the handler's address and its owner; with
the module's Kernel Module Hidden; taken away (/proc/hookkp64 and so on),
nothing more is raised.  The same hooks from listed modules, a stock
module loaded and unloaded, and the kernel's own tracing (kprobe events,
a kretprobe, the function tracer filtered on a syscall, the sched trace
events) raise nothing.  Every alert is collected."""
import datetime
import os
import time

import pytest

import benign
from conftest import Service, wait_for, need_module, module_named, hook_kind, assert_module_seen

SLEEP = "500ms"
HOOKED = "Kernel Function Hooked"
HIDDEN = "Kernel Module Hidden"
CARVE_PASS = 2     # scans for a pass of the carve (as test_arm64_rootkit.py)
TRACING = "/sys/kernel/tracing"


@pytest.fixture(scope="module")
def svc(guest_a64, tmp_path_factory):
    s = Service(tmp_path_factory.mktemp("a64hooks"), guest_a64, sleep=SLEEP,
                extra=f"      memory_regions: {guest_a64.regions_path}\n")
    yield s
    s.stop()


def lag(m, t):
    """Seconds from host time t to when the alert m was raised."""
    at = m["occurred_message_time_iso_8601_ns"]       # ...T03:51:55.456965191+00:00
    whole, frac = at[:19], at[20:at.index("+", 20)]
    d = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return d.timestamp() + float("0." + frac) - t


# two scans after the hook is in place (judged when seen in two scans in a
# row), each scan's own time (at most 1 s here) on top of its sleep
TWO_SCANS = 2 * 0.5 + 2 * 1.0


def test_stock_guest_raises_nothing(guest_a64, svc):
    time.sleep(4 * svc.sleep_s)
    svc.expect_alerts(0)


def test_stock_module_and_tracing_raise_nothing(guest_a64, svc):
    g = guest_a64
    rel = g.check("uname -r").strip()
    ko = os.path.join(benign.CACHE, f"linux-image-{rel}", "root", "lib", "modules", rel,
                      "kernel", "drivers", "net", "dummy.ko")
    if not os.path.exists(ko):
        pytest.skip("the arm64 kernel package has no dummy.ko")
    g.run("rmmod dummy 2>/dev/null")
    with open(ko, "rb") as f:
        # the virtconsole takes lines of up to 4 KiB
        benign.upload(g, f.read(), "/tmp/dummy.ko", chunk=2000)
    g.run(f"mountpoint -q {TRACING} || mount -t tracefs none {TRACING}")
    since = svc.mark()
    g.check("insmod /tmp/dummy.ko")
    try:
        time.sleep(2 * svc.sleep_s)
    finally:
        g.run("rmmod dummy")
    # a kprobe and a kretprobe on a syscall's entry, one inside another
    # function, the function tracer filtered on the syscall, sched events
    g.check(f"cd {TRACING} && "
            "echo 'p:argus1 __arm64_sys_sysinfo' >>kprobe_events && "
            "echo 'r:argus2 __arm64_sys_sysinfo' >>kprobe_events && "
            "echo 'p:argus3 do_sys_openat2' >>kprobe_events && "
            "echo 1 >events/kprobes/enable && echo 1 >events/sched/enable && "
            "echo __arm64_sys_sysinfo >set_ftrace_filter && "
            "echo function >current_tracer")
    try:
        g.check("free; ls /; cat /proc/uptime")
        # each probe fired, and the function tracer saw the syscall
        hits = g.check(f"cd {TRACING} && for w in 'argus1:' 'argus2:' 'argus3:' "
                       "'__arm64_sys_sysinfo <-'; do grep -c \"$w\" trace; done").split()
        assert all(int(n) > 0 for n in hits), hits
        time.sleep(4 * svc.sleep_s)
    finally:
        g.run(f"cd {TRACING} && echo nop >current_tracer && echo >set_ftrace_filter && "
              "echo 0 >events/kprobes/enable && echo 0 >events/sched/enable && "
              "echo >kprobe_events && echo >trace")
    time.sleep(2 * svc.sleep_s)
    svc.expect_alerts(since)


KINDS = {"hookkp64": "kprobe", "hookft64": "ftrace_ops", "hooktp64": "tracepoint"}
HOOKED_AT = {"hookkp64": "__arm64_sys_sysinfo", "hookft64": "__arm64_sys_sysinfo",
             "hooktp64": "sched_process_fork"}


def handler_of(g, ko):
    """The handler's address, from the module's line in the kernel log."""
    line = g.check(f"dmesg | grep '{ko}: ' | grep -v removed | tail -1").split()
    if ko == "hooktp64":      # "probe H on tracepoint T at A"
        return int(line[line.index("probe") + 1], 16)
    return int(line[-1], 16)  # "... handler H", "... callback H"


@pytest.mark.parametrize("ko", ["hookkp64", "hookft64", "hooktp64"])
def test_hook_of_a_listed_module(guest_a64, svc, ko):
    g = guest_a64
    need_module(g, ko)
    if g.run(f"test -e /proc/{ko}")[0] == 0:
        pytest.skip(f"{ko} is loaded in this guest already")
    since = svc.mark()
    g.check(f"insmod /bin/{ko}.ko hide=0")
    try:
        g.check("free; ls /")
        time.sleep(4 * svc.sleep_s)
    finally:
        g.check(f"rmmod {ko}")
    svc.expect_alerts(since)
    assert_module_seen(svc, ko, since)


@pytest.mark.parametrize("ko", ["hookkp64", "hookft64", "hooktp64"])
def test_hook_in_hidden_module(guest_a64, svc, ko):
    g = guest_a64
    need_module(g, ko)
    if g.run(f"test -e /proc/{ko}")[0] == 0:
        pytest.skip(f"{ko} is loaded in this guest already (it cannot be unloaded)")
    k = KINDS[ko]
    since = svc.mark()
    g.check(f"insmod /bin/{ko}.ko hide=1")
    t = time.time()
    try:
        assert ko not in g.check("cat /proc/modules")
        assert g.run(f"test -e /sys/module/{ko}")[0] != 0
        handler = handler_of(g, ko)
        g.check("free; ls /")
        found = wait_for(svc, HOOKED, hook_kind(k), since, 4 * svc.sleep_s + 5)
        assert found, f"the {k} of the hidden module was not seen"
        wait_for(svc, HIDDEN, module_named(ko), since, 4 * svc.sleep_s + 5)
        got = svc.expect_alerts(since, (HOOKED, hook_kind(k), 1), (HIDDEN, module_named(ko), 1))
        m = got[HOOKED][0]
        assert m["message_type"] == "ALERT" and m["severity"] == "HIGH"
        assert lag(m, t) <= TWO_SCANS, f"raised {lag(m, t):.2f} s after the hook"
        d = m["activity_data"]["kernel_hook_details"]
        assert d["kernel_hook_hooked_symbol"] == HOOKED_AT[ko]
        if k == "kprobe":
            assert d["kernel_hook_site_symbol"] == "__arm64_sys_sysinfo"
        assert int(d["kernel_hook_handler_address"], 16) == handler
        assert d["kernel_hook_handler_owner"] == ko
        assert d["kernel_hook_handler_owner_listed"] is False
        assert m["activity_data"]["kernel_module_details"]["kernel_module_found_in"] == "mod_tree"
        assert m["activity_data"]["reason"] == "the handler lies in a module hidden from the modules list"
        h = got[HIDDEN][0]["activity_data"]["kernel_module_details"]
        assert h["kernel_module_found_in"] == "mod_tree"
    finally:
        g.run(f"echo 1 >/proc/{ko}")
    since = svc.mark()
    time.sleep(4 * svc.sleep_s)
    svc.expect_alerts(since)


def test_netfilter_and_notifier_of_a_listed_module(guest_a64, svc):
    g = guest_a64
    need_module(g, "hooknf64")
    since = svc.mark()
    g.check("insmod /bin/hooknf64.ko dev=lo chain=reboot hide=0")
    try:
        g.check("ping -c 2 -W 1 127.0.0.1 >/dev/null 2>&1 || true")
        time.sleep(5 * svc.sleep_s)
    finally:
        g.check("rmmod hooknf64")
    time.sleep(2 * svc.sleep_s)
    svc.expect_alerts(since)
    assert_module_seen(svc, "hooknf64", since)


def test_netfilter_and_notifier_in_hidden_module(guest_a64, svc):
    g = guest_a64
    need_module(g, "hooknf64")
    if g.run("test -e /proc/hooknf64")[0] == 0:
        pytest.skip("hooknf64 is loaded in this guest already (it cannot be unloaded)")
    since = svc.mark()
    g.check("insmod /bin/hooknf64.ko nf=1 dev=lo chain=module hide=2")
    t = time.time()
    try:
        assert "hooknf64" not in g.check("cat /proc/modules")
        line = g.check("dmesg | grep 'hooknf64: nf ' | tail -1").split()
        nf_handler, nb_handler = int(line[line.index("nf") + 1], 16), int(line[-1], 16)
        assert nf_handler and nb_handler
        hooked = lambda what: lambda a: (hook_kind("netfilter")(a) or hook_kind("notifier")(a)) and \
            a["kernel_hook_details"]["kernel_hook_hooked_symbol"] == what
        whats = (("ipv4 LOCAL_IN", nf_handler), ("netdev INGRESS lo", nf_handler),
                 ("module_notify_list", nb_handler))
        within = (CARVE_PASS + 3) * svc.sleep_s + 5
        for what, _ in whats:
            assert wait_for(svc, HOOKED, hooked(what), since, within), f"{what} was not seen"
        assert wait_for(svc, HIDDEN, module_named("hooknf64"), since, within), "hooknf64 not found hidden"
        got = svc.expect_alerts(since, *[(HOOKED, hooked(w), 1) for w, _ in whats],
                                (HIDDEN, module_named("hooknf64"), 1))
        assert len(got[HOOKED]) == 3
        for what, handler in whats:
            m = next(a for a in got[HOOKED]
                     if a["activity_data"]["kernel_hook_details"]["kernel_hook_hooked_symbol"] == what)
            assert m["message_type"] == "ALERT" and m["severity"] == "HIGH"
            assert lag(m, t) <= TWO_SCANS, f"{what} raised {lag(m, t):.2f} s after the hook"
            d = m["activity_data"]["kernel_hook_details"]
            assert int(d["kernel_hook_handler_address"], 16) == handler
            assert d["kernel_hook_handler_owner"] == "hooknf64"
            assert d["kernel_hook_handler_owner_listed"] is False
        h = got[HIDDEN][0]["activity_data"]["kernel_module_details"]
        assert h["kernel_module_found_in"] == "module memory"
    finally:
        g.run("echo 1 >/proc/hooknf64")
    since = svc.mark()
    time.sleep(4 * svc.sleep_s)
    svc.expect_alerts(since)
