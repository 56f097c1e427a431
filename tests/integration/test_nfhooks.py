"""Kernel Function Hooked through netfilter hooks and notifier chains, on
the live guest, with a real rootkit technique (tests/guest/kmod/hooknf.ko:
nf_register_net_hook on init_net's IPv4 LOCAL_IN, and a notifier block on
module_notify_list, from a module that then hides itself from the modules
list, sysfs and mod_tree: only the carve of module memory knows it):

- each (and an ingress hook of the netdev family on lo, net_device's
  nf_hooks_ingress) is Kernel Function Hooked exactly once (kind netfilter / notifier,
  the hook or chain, the handler, owner hooknf not listed), with the
  module's Kernel Module Hidden, within two scans of being judged;
- removed (/proc/hooknf), nothing more is raised;
- the same hooks from a listed module (hide=0) raise nothing;
- the stock guest, stock modules that register netfilter hooks and
  notifiers (bridge, br_netfilter and their dependencies, from the guest
  kernel's package) and a second network namespace raise nothing."""
import os
import time

import pytest

import benign
from conftest import Service, wait_for, need_module, hook_kind, assert_module_seen

SLEEP = "500ms"
HOOKED = "Kernel Function Hooked"
HIDDEN = "Kernel Module Hidden"
# judged when seen in two scans in a row: the second scan after it appears
WITHIN = 3
STOCK = ("net/802/stp.ko", "net/llc/llc.ko", "net/bridge/bridge.ko", "net/bridge/br_netfilter.ko")


@pytest.fixture(scope="module")
def svc(guest, tmp_path_factory):
    s = Service(tmp_path_factory.mktemp("nfhooks"), guest, sleep=SLEEP)
    yield s
    s.stop()


def test_stock_guest_raises_nothing(guest, svc):
    time.sleep(4 * svc.sleep_s)
    svc.expect_alerts(0)


def test_stock_modules_and_namespaces_raise_nothing(guest, svc):
    base = os.path.dirname(os.path.dirname(os.path.dirname(benign.module_path() or "")))
    if not benign.module_path() or not all(os.path.exists(os.path.join(base, m)) for m in STOCK):
        pytest.skip("the guest kernel's bridge modules are not in the package cache")
    since = svc.mark()
    loaded = []
    try:
        for m in ("net/llc/llc.ko", "net/802/stp.ko", "net/bridge/bridge.ko",
                  "net/bridge/br_netfilter.ko"):
            name = os.path.basename(m)
            with open(os.path.join(base, m), "rb") as f:
                benign.upload(guest, f.read(), f"/tmp/{name}")
            guest.check(f"insmod /tmp/{name}")
            loaded.insert(0, name[:-3])
        # a second network namespace (its own hooks), a bridge in it
        guest.check("(unshare -n sh -c 'ip link add br9 type bridge 2>/dev/null; "
                    "ip link set lo up; sleep 30' >/dev/null 2>&1 &)")
        guest.check("ping -c 2 -W 1 127.0.0.1 >/dev/null 2>&1 || true")
        time.sleep(6 * svc.sleep_s)
    finally:
        guest.run("pkill -f 'sleep 30'")
        time.sleep(1)
        for name in loaded:
            guest.run(f"rmmod {name}")
    time.sleep(4 * svc.sleep_s)
    svc.expect_alerts(since)


def test_hooks_of_a_listed_module(guest, svc):
    need_module(guest, "hooknf")
    since = svc.mark()
    guest.check("insmod /bin/hooknf.ko chain=reboot hide=0")
    try:
        time.sleep(5 * svc.sleep_s)
    finally:
        guest.check("rmmod hooknf")
    time.sleep(2 * svc.sleep_s)
    svc.expect_alerts(since)
    assert_module_seen(svc, "hooknf", since)


def test_hooks_in_hidden_module(guest, svc):
    need_module(guest, "hooknf")
    if guest.run("test -e /proc/hooknf")[0] == 0:
        pytest.skip("hooknf is loaded in this guest already (it cannot be unloaded)")
    since = svc.mark()
    guest.check("insmod /bin/hooknf.ko nf=1 dev=lo chain=module hide=2")
    try:
        assert "hooknf" not in guest.check("cat /proc/modules")
        line = guest.check("dmesg | grep 'hooknf: nf ' | tail -1").split()
        nf_handler, nb_handler = int(line[line.index("nf") + 1], 16), int(line[-1], 16)
        assert nf_handler and nb_handler
        nf = wait_for(svc, HOOKED, hook_kind("netfilter"), since, WITHIN * svc.sleep_s + 3)
        hooked = lambda what: lambda a: (hook_kind("netfilter")(a) or hook_kind("notifier")(a)) and \
            a["kernel_hook_details"]["kernel_hook_hooked_symbol"] == what
        nb = wait_for(svc, HOOKED, hook_kind("notifier"), since, WITHIN * svc.sleep_s + 3)
        assert nf, "the netfilter hook was not seen"
        assert nb, "the notifier block was not seen"
        hidden = lambda a: a.get("kernel_module_details", {}).get("kernel_module_name") == "hooknf"
        # the per-device ingress hook is read in the same pass as LOCAL_IN
        time.sleep(svc.sleep_s)
        whats = (("ipv4 LOCAL_IN", nf_handler), ("netdev INGRESS lo", nf_handler),
                 ("module_notify_list", nb_handler))
        got = svc.expect_alerts(since, *[(HOOKED, hooked(w), 1) for w, _ in whats],
                                (HIDDEN, hidden, 1))
        assert len(got[HOOKED]) == 3
        for what, handler in whats:
            m = next(a for a in got[HOOKED]
                     if a["activity_data"]["kernel_hook_details"]["kernel_hook_hooked_symbol"] == what)
            assert m["message_type"] == "ALERT" and m["severity"] == "HIGH"
            d = m["activity_data"]["kernel_hook_details"]
            assert d["kernel_hook_hooked_symbol"] == what
            assert int(d["kernel_hook_handler_address"], 16) == handler
            assert d["kernel_hook_handler_owner"] == "hooknf"
            assert d["kernel_hook_handler_owner_listed"] is False
        h = got[HIDDEN][0]["activity_data"]["kernel_module_details"]
        assert h["kernel_module_found_in"] == "module memory"
    finally:
        guest.run("echo 1 >/proc/hooknf")
    since = svc.mark()
    time.sleep(4 * svc.sleep_s)
    svc.expect_alerts(since)
