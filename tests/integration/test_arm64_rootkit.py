"""Kernel rootkit checks on the AArch64 guest, with arm64 test rootkits
cross-built against its kernel's headers (tests/guest/kmod/arm64/).

Debian's arm64 kernel has no CONFIG_KALLSYMS_ALL: `modules`, module_kset
and mod_tree are not in kallsyms.  argus carves the module memory (a
4 GiB window around the kernel image, through the arm64 page tables) for
struct modules; a carved module still on the list leads to the list head
and module_kset (src/linux/kcarve.c, kcarve_views), proven once; mod_tree
is found where __module_address takes its address (src/profile/a64ref.c).
Then a stock module loaded and unloaded gives Kernel Module Loaded /
Unloaded; hidekmod64.ko (list_del of its own list entry, kobject_del of
its kobject) one Kernel Module Hidden, found in mod_tree; hideall64.ko
(also latch_tree_erase of its node from mod_tree) one, found in module
memory only.  sys_call_table is found by content (the addresses of
__arm64_sys_io_setup, io_destroy, io_submit in a row after _etext):
hooksct64.ko writing entry 179 (sysinfo) through a fixmap alias is one
System Call Dispatch Modified naming the entry and the module; rmmod,
nothing more.  Every alert is collected."""
import json
import time

import pytest

import benign
from conftest import Service, run_argus, wait_for, need_module, module_named

SLEEP = "500ms"
CARVE_PASS = 2     # scans for a pass of the carve (22 writable pages on the guest, 64 a scan)


@pytest.fixture(scope="module")
def svc(guest_a64, tmp_path_factory):
    s = Service(tmp_path_factory.mktemp("a64rk"), guest_a64, sleep=SLEEP,
                extra=f"      memory_regions: {guest_a64.regions_path}\n")
    yield s
    s.stop()


def scan_once(g):
    return json.loads(run_argus("scan", "--once", "--json", "--source", f"qemu:{g.ram_path}",
                                "--regions", g.regions_path).stdout)


def test_views_read_without_data_symbols(guest_a64):
    """The modules argus reads are the guest's /proc/modules, every view
    read; sys_call_table is read."""
    if not guest_a64.run("grep -q ' modules$' /proc/kallsyms")[0]:
        pytest.skip("this arm64 kernel's kallsyms has data symbols")
    d = scan_once(guest_a64)
    assert d["scan_statistics"]["kernel_module_views"] == "complete"
    read = d["scan_statistics"]["kernel_hooks_read"]
    for part in ("sys_call_table", "kprobe", "ftrace_ops", "tracepoint", "kernel_text",
                 "netfilter", "notifier"):
        assert part in read, read
    # hooks of listed modules are theirs: failover's netdev notifier, read
    # through netdev_chain (found in call_netdevice_notifiers_info's code)
    assert [h for h in d["kernel_hooks"] if not h["kernel_hook_handler_owner_listed"]] == []
    if guest_a64.run("grep -q '^failover ' /proc/modules")[0] == 0:
        assert any(h["kernel_hook_kind"] == "notifier" and
                   h["kernel_hook_hooked_symbol"] == "netdev_chain" and
                   h["kernel_hook_handler_owner"] == "failover" for h in d["kernel_hooks"]), \
            d["kernel_hooks"]
    listed = {m["kernel_module_name"]: m for m in d["kernel_modules"]}
    truth = {ln.split()[0]: ln.split() for ln in guest_a64.check("cat /proc/modules").splitlines()}
    assert truth and set(listed) == set(truth)
    for name, m in listed.items():
        assert m["kernel_module_size_bytes"] == int(truth[name][1])
        assert int(m["kernel_module_text_start_address"], 16) == int(truth[name][5], 16)
        if guest_a64.run(f"test -e /sys/module/{name}")[0] == 0:
            assert m["kernel_module_found_in"] == "modules list, sysfs (module_kset), mod_tree"


def test_stock_guest_raises_nothing(guest_a64, svc):
    time.sleep(4 * svc.sleep_s)
    svc.expect_alerts(0)


def test_stock_module_loaded_and_unloaded(guest_a64, svc):
    if not benign.upload_dummy_arm64(guest_a64):
        pytest.skip("the arm64 kernel package has no dummy.ko")
    time.sleep(2 * svc.sleep_s)
    since = svc.mark()
    guest_a64.check("insmod /tmp/dummy.ko")
    try:
        line = guest_a64.check("grep '^dummy ' /proc/modules").split()
        size, addr = int(line[1]), int(line[5], 16)
        loaded = wait_for(svc, "Kernel Module Loaded", module_named("dummy"), since, 2 * svc.sleep_s + 5)
        assert len(loaded) == 1, f"{len(loaded)} Kernel Module Loaded for dummy"
        d = loaded[0]["activity_data"]["kernel_module_details"]
        assert loaded[0]["message_type"] == "EVENT"
        assert d["kernel_module_size_bytes"] == size
        assert int(d["kernel_module_text_start_address"], 16) == addr
        assert d["kernel_module_found_in"] == "modules list, sysfs (module_kset), mod_tree"
    finally:
        guest_a64.run("rmmod dummy")
    gone = wait_for(svc, "Kernel Module Unloaded", module_named("dummy"), since, 2 * svc.sleep_s + 5)
    assert len(gone) == 1, f"{len(gone)} Kernel Module Unloaded for dummy"
    svc.expect_alerts(since)


def test_self_hiding_module(guest_a64, svc):
    g = guest_a64
    need_module(g, "hidekmod64")
    if g.run("test -e /proc/hidekmod64")[0] == 0:
        pytest.skip("hidekmod64 is loaded in this guest already (it cannot be unloaded)")
    since = svc.mark()
    g.check("insmod /bin/hidekmod64.ko")
    try:
        assert "hidekmod64" not in g.check("cat /proc/modules")
        assert g.run("test -e /sys/module/hidekmod64")[0] != 0
        line = g.check("dmesg | grep 'hidekmod64: unlinked' | tail -1").split()
        addr = int(line[-1], 16)
        found = wait_for(svc, "Kernel Module Hidden", module_named("hidekmod64"), since,
                         (CARVE_PASS + 3) * svc.sleep_s + 5)
        assert found, "the module hidden from the list and sysfs was not found"
        time.sleep(3 * svc.sleep_s)
        got = svc.expect_alerts(since, ("Kernel Module Hidden", module_named("hidekmod64"), 1))
        m = got["Kernel Module Hidden"][0]
        assert m["message_type"] == "ALERT" and m["severity"] == "HIGH"
        d = m["activity_data"]["kernel_module_details"]
        assert d["kernel_module_found_in"] == "mod_tree"
        assert int(d["kernel_module_address"], 16) == addr
        assert d["kernel_module_state"] == "LIVE"
        assert d["kernel_module_taints"] == "OE" and d["kernel_module_signed"] is False
        assert d["kernel_module_size_bytes"] > 0
        assert m["activity_data"]["reason"] == "in mod_tree but not in the modules list"
    finally:
        # marked before the relink: a scan may tell it before run() returns
        since = svc.mark()
        g.run("echo 1 >/proc/hidekmod64")
    back = wait_for(svc, "Kernel Module Loaded", module_named("hidekmod64"), since, 2 * svc.sleep_s + 5)
    assert len(back) == 1
    svc.expect_alerts(since)


def test_module_hidden_from_every_view(guest_a64, svc):
    """hideall64.ko erases its node from mod_tree (found, in the module, from
    __module_address's code as argus finds it) and unlinks itself from the
    list and sysfs: only the carve of module memory has it."""
    g = guest_a64
    need_module(g, "hideall64")
    if g.run("test -e /proc/hideall64")[0] == 0:
        pytest.skip("hideall64 is loaded in this guest already (it cannot be unloaded)")
    since = svc.mark()
    g.check("insmod /bin/hideall64.ko")
    try:
        assert "hideall64" not in g.check("cat /proc/modules")
        assert g.run("test -e /sys/module/hideall64")[0] != 0
        line = g.check("dmesg | grep 'hideall64: module ' | tail -1").split()
        addr = int(line[line.index("module") + 1], 16)
        found = wait_for(svc, "Kernel Module Hidden", module_named("hideall64"), since,
                         (CARVE_PASS + 3) * svc.sleep_s + 5)
        assert found, "a module hidden from all three views was not found"
        time.sleep(3 * svc.sleep_s)
        got = svc.expect_alerts(since, ("Kernel Module Hidden", module_named("hideall64"), 1))
        m = got["Kernel Module Hidden"][0]
        assert m["message_type"] == "ALERT" and m["severity"] == "HIGH"
        d = m["activity_data"]["kernel_module_details"]
        assert d["kernel_module_found_in"] == "module memory"
        assert int(d["kernel_module_address"], 16) == addr
        assert d["kernel_module_state"] == "LIVE"
        assert d["kernel_module_size_bytes"] > 0
        assert m["activity_data"]["reason"] == \
            "in module memory only: in none of the modules list, sysfs (module_kset) and mod_tree"
    finally:
        # marked before the relink: a scan may tell it before run() returns
        since = svc.mark()
        g.run("echo 1 >/proc/hideall64")
    back = wait_for(svc, "Kernel Module Loaded", module_named("hideall64"), since, 2 * svc.sleep_s + 5)
    assert len(back) == 1
    svc.expect_alerts(since)


DISPATCH = "System Call Dispatch Modified"


def param(guest, mod, name):
    return int(guest.check(f"cat /sys/module/{mod}/parameters/{name}").strip())


def test_sys_call_table_entry(guest_a64, svc):
    g = guest_a64
    need_module(g, "hooksct64")
    since = svc.mark()
    g.check("insmod /bin/hooksct64.ko nr=179")
    try:
        handler, table = param(g, "hooksct64", "handler"), param(g, "hooksct64", "table")
        g.check("free")      # sysinfo(2), through the hook
        kind = lambda a: a.get("kernel_hook_details", {}).get("kernel_hook_kind") == "sys_call_table"
        found = wait_for(svc, DISPATCH, kind, since, 2 * svc.sleep_s + 5)
        assert found, "the sys_call_table write was not seen"
        m = svc.expect_alerts(since, (DISPATCH, kind, 1))[DISPATCH][0]
        assert m["message_type"] == "ALERT" and m["severity"] == "CRITICAL"
        d = m["activity_data"]["kernel_hook_details"]
        assert d["system_call_number"] == 179 and d["system_call_name"] == "sys_sysinfo"
        assert int(d["kernel_hook_site_address"], 16) == table + 8 * 179
        assert d["kernel_hook_site_symbol"] == "sys_call_table+0x598"
        assert int(d["kernel_hook_handler_address"], 16) == handler
        assert d["kernel_hook_handler_owner"] == "hooksct64"
        assert d["kernel_hook_handler_owner_listed"] is True
        assert m["activity_data"]["kernel_module_details"]["kernel_module_name"] == "hooksct64"
        assert m["activity_data"]["reason"] == "the entry leads outside core kernel text"
    finally:
        g.run("rmmod hooksct64")
    since = svc.mark()
    svc.expect_alerts(since)


def test_sys_call_table_hooked_before_first_sight(guest_a64, svc):
    """A fresh argus (argus scan --once) whose first look at the table finds
    it hooked: the table is still found (its first entries are intact) and
    whole, and the entry is the one breach.  (The service, running all
    along, may tell it too: its alerts are claimed.)"""
    g = guest_a64
    need_module(g, "hooksct64")
    since = svc.mark()
    g.check("insmod /bin/hooksct64.ko nr=179")
    try:
        handler = param(g, "hooksct64", "handler")
        d = scan_once(g)
    finally:
        g.run("rmmod hooksct64")
    assert "sys_call_table" in d["scan_statistics"]["kernel_hooks_read"]
    # (hooks of listed modules are theirs: failover's netdev notifier)
    hooks = [h for h in d["kernel_hooks"] if h["kernel_hook_kind"] == "sys_call_table"]
    assert len(hooks) == 1, hooks
    h = hooks[0]
    assert h["kernel_hook_kind"] == "sys_call_table" and h["system_call_number"] == 179
    assert h["kernel_hook_site_symbol"] == "sys_call_table+0x598"
    assert int(h["kernel_hook_handler_address"], 16) == handler
    assert h["kernel_hook_handler_owner"] == "hooksct64"
    assert [h for h in scan_once(g)["kernel_hooks"] if h["kernel_hook_kind"] == "sys_call_table"] == []
    kind = lambda a: a.get("kernel_hook_details", {}).get("kernel_hook_kind") == "sys_call_table"
    got = svc.expect_alerts(since, (DISPATCH, kind, None))
    assert len(got[DISPATCH]) <= 1


def test_hidden_behind_decoys(guest_a64, svc):
    """hideblind64.ko (../hideblind.c built for arm64): hidden from the list
    and sysfs, with an unformed struct module with no name on the list and
    a kobject that is no module's own on module_kset.  A fresh argus still
    finds both views from a carved module (the decoys passed over), reads
    them as holding an entry that is no module, and the service tells the
    module found in mod_tree."""
    g = guest_a64
    need_module(g, "hideblind64")
    if g.run("test -e /proc/hideblind64")[0] == 0:
        pytest.skip("hideblind64 is loaded in this guest already (it cannot be unloaded)")
    since = svc.mark()
    g.check("insmod /bin/hideblind64.ko")
    try:
        assert "hideblind64" not in g.check("cat /proc/modules")
        line = g.check("dmesg | grep 'hideblind64: module ' | tail -1").split()
        addr = int(line[line.index("module") + 1], 16)
        st = scan_once(g)["scan_statistics"]
        assert st["kernel_module_views"] == "modules list only", st["kernel_module_views"]
        assert st["bad_objects"] >= 1
        found = wait_for(svc, "Kernel Module Hidden", module_named("hideblind64"), since,
                         (CARVE_PASS + 3) * svc.sleep_s + 5)
        assert found, "a module hidden behind decoys in its views was not told"
        time.sleep(3 * svc.sleep_s)
        got = svc.expect_alerts(since, ("Kernel Module Hidden", module_named("hideblind64"), 1))
        m = got["Kernel Module Hidden"][0]
        d = m["activity_data"]["kernel_module_details"]
        assert d["kernel_module_found_in"] == "mod_tree"
        assert int(d["kernel_module_address"], 16) == addr
        assert m["activity_data"]["reason"] == "in mod_tree but not in the modules list"
    finally:
        # marked before the relink: a scan may tell it before run() returns
        since = svc.mark()
        g.run("echo 1 >/proc/hideblind64")
    back = wait_for(svc, "Kernel Module Loaded", module_named("hideblind64"), since, 2 * svc.sleep_s + 5)
    assert len(back) == 1
    svc.expect_alerts(since)
