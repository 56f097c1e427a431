"""Kernel modules, on the live guest: a stock module (the kernel package's
dummy.ko) loaded and unloaded gives Kernel Module Loaded then Unloaded,
with its name and the size the guest's /proc/modules shows, and no alert.
Kernel Module Hidden, on a real rootkit technique: tests/guest/kmod/
hidekmod.ko unlinks itself from the modules list and deletes its kobject
(/sys/module, module_kset); argus still finds it in mod_tree.
hideall.ko also erases itself from mod_tree: argus finds its struct
module by carving module memory (within a pass of the carve: the module
area's writable pages, 64 a scan).  hideblind.ko hides as hidekmod does and
plants decoys in the modules list and module_kset that the kernel's own
walks pass over: a view with an entry that is no module still counts for
what it found."""
import json
import time

import pytest

import benign
from conftest import Service, run_argus, wait_for, module_named

SLEEP = "500ms"


@pytest.fixture(scope="module")
def svc(guest, tmp_path_factory):
    s = Service(tmp_path_factory.mktemp("kmod"), guest, sleep=SLEEP)
    yield s
    s.stop()


def test_stock_module_loaded_and_unloaded(guest, svc):
    if not benign.upload_dummy(guest):
        pytest.skip("the kernel package has no dummy.ko")
    time.sleep(2 * svc.sleep_s)
    since = svc.mark()
    guest.check("insmod /tmp/dummy.ko")
    try:
        line = guest.check("grep '^dummy ' /proc/modules").split()
        size, addr = int(line[1]), int(line[5], 16)
        loaded = wait_for(svc, "Kernel Module Loaded", module_named("dummy"), since, 2 * svc.sleep_s + 5)
        assert len(loaded) == 1, f"{len(loaded)} Kernel Module Loaded for dummy"
        m = loaded[0]
        assert m["message_type"] == "EVENT" and m["severity"] == "INFO"
        d = m["activity_data"]["kernel_module_details"]
        assert d["kernel_module_size_bytes"] == size
        assert int(d["kernel_module_text_start_address"], 16) == addr
        assert int(d["kernel_module_text_end_address"], 16) > addr
        # the core text is what /sys/module/dummy/sections/.text starts
        text = int(guest.check("cat /sys/module/dummy/sections/.text").strip(), 16)
        assert int(d["kernel_module_text_start_address"], 16) == text
        assert d["kernel_module_signed"] is True and d["kernel_module_taints"] == ""
    finally:
        guest.run("rmmod dummy")
    gone = wait_for(svc, "Kernel Module Unloaded", module_named("dummy"), since, 2 * svc.sleep_s + 5)
    assert len(gone) == 1, f"{len(gone)} Kernel Module Unloaded for dummy"
    assert gone[0]["message_type"] == "EVENT" and gone[0]["severity"] == "INFO"
    assert gone[0]["activity_data"]["kernel_module_details"]["kernel_module_size_bytes"] == size
    svc.expect_alerts(since)
    time.sleep(2 * svc.sleep_s)
    assert len(wait_for(svc, "Kernel Module Loaded", module_named("dummy"), since, 0)) == 1


def test_self_hiding_module(guest, svc):
    if guest.run("test -f /bin/hidekmod.ko")[0]:
        pytest.skip("the test rootkit could not be built (kernel headers unavailable)")
    if guest.run("test -e /proc/hidekmod")[0] == 0:
        pytest.skip("hidekmod is loaded in this guest already (it cannot be unloaded)")
    since = svc.mark()
    guest.check("insmod /bin/hidekmod.ko")
    try:
        assert "hidekmod" not in guest.check("cat /proc/modules")
        assert guest.run("test -e /sys/module/hidekmod")[0] != 0
        found = wait_for(svc, "Kernel Module Hidden", module_named("hidekmod"), since, 4 * svc.sleep_s + 5)
        time.sleep(3 * svc.sleep_s)
        found = wait_for(svc, "Kernel Module Hidden", module_named("hidekmod"), since, 0)
        assert len(found) == 1, f"{len(found)} Kernel Module Hidden alerts"
        m = found[0]
        assert m["message_type"] == "ALERT" and m["severity"] == "HIGH"
        d = m["activity_data"]["kernel_module_details"]
        assert d["kernel_module_found_in"] == "mod_tree"
        assert d["kernel_module_state"] == "LIVE"
        assert d["kernel_module_taints"] == "OE" and d["kernel_module_signed"] is False
        assert d["kernel_module_size_bytes"] > 0
        assert m["activity_data"]["reason"] == "in mod_tree but not in the modules list"
        # exactly that one, and nothing about any stock module
        svc.expect_alerts(since, ("Kernel Module Hidden", module_named("hidekmod"), 1))
    finally:
        # marked before the relink: a scan may tell it before run() returns
        since = svc.mark()
        guest.run("echo 1 >/proc/hidekmod")
    # linked back: it is a live module on the list now, and nothing more is raised
    back = wait_for(svc, "Kernel Module Loaded", module_named("hidekmod"), since, 2 * svc.sleep_s + 5)
    assert len(back) == 1
    svc.expect_alerts(since)


CARVE_PASS = 2     # scans for a pass of the carve on the test guest (24 writable pages, 64 a scan)


def test_module_hidden_from_every_view(guest, svc):
    if guest.run("test -f /bin/hideall.ko")[0]:
        pytest.skip("the test rootkit could not be built (kernel headers unavailable)")
    if guest.run("test -e /proc/hideall")[0] == 0:
        pytest.skip("hideall is loaded in this guest already (it cannot be unloaded)")
    since = svc.mark()
    guest.check("insmod /bin/hideall.ko")
    try:
        assert "hideall" not in guest.check("cat /proc/modules")
        assert guest.run("test -e /sys/module/hideall")[0] != 0
        line = guest.check("dmesg | grep 'hideall: module ' | tail -1").split()
        addr = int(line[line.index("module") + 1], 16)
        found = wait_for(svc, "Kernel Module Hidden", module_named("hideall"), since,
                     (CARVE_PASS + 3) * svc.sleep_s + 5)
        assert found, "a module hidden from all three views was not found"
        got = svc.expect_alerts(since, ("Kernel Module Hidden", module_named("hideall"), 1))
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
        guest.run("echo 1 >/proc/hideall")
    back = wait_for(svc, "Kernel Module Loaded", module_named("hideall"), since, 2 * svc.sleep_s + 5)
    assert len(back) == 1
    svc.expect_alerts(since)


def test_hidden_behind_decoys(guest, svc):
    """hideblind.ko: hidden from the list and sysfs, and a decoy on each of
    them (an unformed struct module with no name on the list, a nameless
    kobject on module_kset that its `mod` does not embed).  The kernel runs
    on; argus reads both views as holding an entry that is no module, and
    still tells the module found in mod_tree.  The build before said
    nothing: it judged no view with such an entry."""
    if guest.run("test -f /bin/hideblind.ko")[0]:
        pytest.skip("the test rootkit could not be built (kernel headers unavailable)")
    if guest.run("test -e /proc/hideblind")[0] == 0:
        pytest.skip("hideblind is loaded in this guest already (it cannot be unloaded)")
    since = svc.mark()
    guest.check("insmod /bin/hideblind.ko")
    try:
        # the kernel's own walks pass over the decoys
        assert "hideblind" not in guest.check("cat /proc/modules")
        assert guest.run("test -e /sys/module/hideblind")[0] != 0
        line = guest.check("dmesg | grep 'hideblind: module ' | tail -1").split()
        addr = int(line[line.index("module") + 1], 16)
        # the decoys take effect on a reader: both views hold an entry that is no module
        out = run_argus("scan", "--once", "--json", *guest.argus_source())
        st = json.loads(out.stdout)["scan_statistics"]
        assert st["kernel_module_views"] == "modules list only", st["kernel_module_views"]
        assert st["bad_objects"] >= 1
        found = wait_for(svc, "Kernel Module Hidden", module_named("hideblind"), since, 4 * svc.sleep_s + 5)
        assert found, "a module hidden behind decoys in its views was not told"
        time.sleep(3 * svc.sleep_s)
        got = svc.expect_alerts(since, ("Kernel Module Hidden", module_named("hideblind"), 1))
        m = got["Kernel Module Hidden"][0]
        assert m["message_type"] == "ALERT" and m["severity"] == "HIGH"
        d = m["activity_data"]["kernel_module_details"]
        assert d["kernel_module_found_in"] == "mod_tree"
        assert int(d["kernel_module_address"], 16) == addr
        assert m["activity_data"]["reason"] == "in mod_tree but not in the modules list"
    finally:
        # marked before the relink: a scan may tell it before run() returns
        since = svc.mark()
        guest.run("echo 1 >/proc/hideblind")
    back = wait_for(svc, "Kernel Module Loaded", module_named("hideblind"), since, 2 * svc.sleep_s + 5)
    assert len(back) == 1
    svc.expect_alerts(since)
