"""The same checks on other kernels: Debian 11's 5.10 (no kallsyms in
VMCOREINFO: found by shape; VMAs in a list, not a maple tree) and Debian
13's 6.12 (new inode time fields, merged /usr, workqueue rescuers named
"kworker/R-" and their workqueue in full).  argus uses the auto profile on
each; nothing in it names a kernel version.

Each kernel also gets the test rootkits (tests/guest/kmod), built against
its own headers: hidden processes, hidden modules (behind decoys too),
hooks of every kind and inline hooks, on each kernel's own layouts.

The kernels are fetched from Debian's archive (fetch-kernel.sh); when that
fails the tests fail, saying why: a skip would let this coverage vanish
unnoticed."""
import os
import subprocess
import time

import pytest

from conftest import Guest, Service, run_argus, wait_for
import test_ps as ps_checks
import test_scan as scan_checks

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module", params=["bullseye", "trixie"])
def kguest(request):
    p = subprocess.run([os.path.join(HERE, "fetch-kernel.sh"), request.param],
                       capture_output=True, text=True)
    if p.returncode:
        pytest.fail(f"cannot fetch Debian {request.param}'s cloud kernel "
                    f"(tests/guest/fetch-kernel.sh {request.param}):\n{p.stderr.strip()}",
                    pytrace=False)
    g = Guest(f"k{os.getpid()}{request.param[:3]}", kernel_pkg=p.stdout.strip())
    g.start()
    yield g
    g.stop()


def test_ps(kguest):
    for _ in range(3):
        before = ps_checks.truth(kguest)
        seen = ps_checks.argus_ps(f"qemu:{kguest.ram_path}")
        after = ps_checks.truth(kguest)
        bad, _ = ps_checks.compare(before, seen, after)
        assert not bad, "; ".join(bad)
    # names longer than a task's comm (15) were compared whole: on 6.12 the
    # workqueue rescuers ("kworker/R-mm_percpu_wq"), which /proc names from
    # the worker's workqueue
    if kguest.kernel_pkg.startswith("linux-image-6.12"):
        rescuers = [v["name"] for v in before.values()
                    if v["name"].startswith("kworker/R-") and len(v["name"]) > 15]
        assert len(rescuers) > 5, f"6.12 guest without long rescuer names: {rescuers}"
    release = kguest.check("uname -r").strip()
    info = run_argus("info", "--source", f"qemu:{kguest.ram_path}").stdout
    assert release in info


def test_scan(kguest):
    scan_checks.compare_with_guest(kguest)


def test_kernel_modules(kguest):
    """5.10 keeps a module's memory in core_layout, 6.12 in mem[]."""
    scan_checks.test_kernel_modules(kguest)


def test_kernel_hooks(kguest):
    """A stock kernel breaks no dispatch rule and has no hook outside core
    text; every part is read whole.  5.10 dispatches through sys_call_table
    only, 6.12 through x64_sys_call (decoded: the compiler's code differs
    from 6.1's).  BPF programs attached at function entries (fentry: the
    kernel points each one's ftrace site at a BPF trampoline, the way
    5.10's single direct call and 6.12's ftrace_ops direct calls each do
    it) are no hook: first sight, as when they ran before argus started.
    Nor is an optimized kprobe (a jmp at its address to its detour buffer,
    proven from the buffer: the template differs by kernel)."""
    T = "/sys/kernel/tracing"
    kguest.run(f"mountpoint -q {T} || mount -t tracefs none {T}; "
               "mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug")
    # inside the function, past its endbr64 (if any) and ftrace site
    kguest.check(f"cd {T} && echo 1 >/proc/sys/debug/kprobes-optimization && "
                 "{ echo 'p:argusopt vfs_read+5' >>kprobe_events 2>/dev/null || "
                 "echo 'p:argusopt vfs_read+9' >>kprobe_events; } && "
                 "echo 1 >events/kprobes/argusopt/enable")
    pids = [kguest.spawn(f"exec bpfload fentry:{f} argus_fe{i} 120 >/tmp/fe{i}.out 2>&1")
            for i, f in enumerate(("vfs_read", "vfs_write", "vfs_read"))]
    try:
        opt = ""
        for _ in range(50):
            opt = kguest.run("grep vfs_read+ /sys/kernel/debug/kprobes/list")[1]
            if "OPTIMIZED" in opt:
                break
            time.sleep(0.2)
        assert "OPTIMIZED" in opt, opt
        outs = []
        for _ in range(50):
            outs = [kguest.run(f"cat /tmp/fe{i}.out")[1].strip() for i in range(len(pids))]
            if all(outs):
                break
            time.sleep(0.2)
        assert all(o.isdigit() for o in outs), outs
        d = scan_checks.scan(kguest)
    finally:
        kguest.run("kill " + " ".join(str(p) for p in pids))
        kguest.run(f"cd {T} && echo 0 >events/kprobes/argusopt/enable; echo >kprobe_events")
    # hooks of listed modules (a stock driver's netdev notifier) are theirs
    foreign = [h for h in d["kernel_hooks"] if not h.get("kernel_hook_handler_owner_listed")]
    assert foreign == [], foreign
    # nor a branch out of core text or a stock module's (the modules' first
    # sight decodes every function: a call into a module one does not use
    # would be told here, its owner listed)
    text = [h for h in d["kernel_hooks"] if h.get("kernel_hook_kind") == "kernel_text"]
    assert text == [], text
    read = d["scan_statistics"]["kernel_hooks_read"]
    for part in ("sys_call_table", "idt_table", "kprobe", "ftrace_ops", "tracepoint", "kernel_text",
                 "netfilter", "notifier"):
        assert part in read, read
    has = kguest.run("grep -q ' x64_sys_call$' /proc/kallsyms")[0] == 0
    assert ("x64_sys_call" in read) == has, read


def test_service_and_hidden_process(kguest, tmp_path):
    """The service on this kernel: a stock guest raises nothing in its first
    scans, and a process hidden by hidepid.ko (built for this kernel:
    unlinked from the task list and its parent's children) is one Process
    Hidden, named, found in the pid namespace's IDR; put back: nothing."""
    g = kguest
    assert g.run("test -f /bin/hidepid.ko")[0] == 0, f"hidepid not built for {g.kernel_pkg}"
    svc = Service(tmp_path, g, sleep="500ms")
    try:
        time.sleep(6 * svc.sleep_s)
        since = svc.mark()
        svc.expect_alerts(0)
        pid = g.spawn("exec sleep 1000")
        time.sleep(2 * svc.sleep_s + 1)
        g.check(f"insmod /bin/hidepid.ko pid={pid} children=1")
        try:
            found = wait_for(svc, "Process Hidden", lambda a: True, since, 4 * svc.sleep_s + 5)
            assert found, "a hidden process was not told"
            time.sleep(3 * svc.sleep_s)
            got = svc.expect_alerts(since, ("Process Hidden", None, 1))
            d = got["Process Hidden"][0]["activity_data"]["process_details"]
            assert d["process_id"] == pid and d["process_name"] == "sleep"
        finally:
            g.run("rmmod hidepid")
            g.run(f"kill {pid}")
        since = svc.mark()
        time.sleep(4 * svc.sleep_s)
        svc.expect_alerts(since)
    finally:
        svc.stop()


def load_hidden(g, ko, args, logged):
    """ko.ko built for this kernel, loaded with args: a module that hides
    itself; the words of its last kernel log line holding `logged`"""
    assert g.run(f"test -f /bin/{ko}.ko")[0] == 0, f"{ko} not built for {g.kernel_pkg}"
    g.check(f"dmesg -c >/dev/null; insmod /bin/{ko}.ko {args}")
    assert ko not in g.check("cat /proc/modules")
    return g.check(f"dmesg | grep '{ko}: {logged}' | tail -1").split()


def test_decoys_before_the_scan(kguest):
    """hookblind.ko built for this kernel, loaded before a fresh argus's
    only scan: 70,000 fake kprobes head a bucket of kprobe_table, the first
    claiming __x64_sys_acct's first instruction, over which it writes a jmp
    to itself; a notifier block linked to itself heads panic_notifier_list,
    and one of its own is on module_notify_list; then it hides.  Each decoy
    ends its own walk only: the jmp (no kprobe's proven detour) and the
    notifier are both in the document, the cycle counted.  Undone and
    linked back after (it cannot be unloaded then)."""
    g = kguest
    try:
        line = load_hidden(g, "hookblind", "kpflood=70000 kpfake=1 nb=1", "kpflood")
        site = int(line[line.index("at") + 1].rstrip(":"), 16)
        handler, nb_handler = int(line[line.index("jmp") + 1], 16), int(line[-1], 16)
        d = scan_checks.scan(g)
        st = d["scan_statistics"]
        assert {"kprobe", "notifier", "kernel_text"} <= set(st["kernel_hooks_read"]), st
        assert st["cyclic_lists"] >= 1, st
        foreign = sorted((h["kernel_hook_kind"], int(h["kernel_hook_site_address"], 16)
                          if h["kernel_hook_kind"] == "kernel_text" else
                          h.get("kernel_hook_hooked_symbol"),
                          int(h["kernel_hook_handler_address"], 16), h["kernel_hook_handler_owner"])
                         for h in d["kernel_hooks"] if not h.get("kernel_hook_handler_owner_listed"))
        assert foreign == [("kernel_text", site, handler, "hookblind"),
                           ("notifier", "module_notify_list", nb_handler, "hookblind")], foreign
    finally:
        g.run("echo 1 >/proc/hookblind")


def test_module_decoys_before_the_scan(kguest):
    """hideblind.ko built for this kernel: hidden from the modules list and
    sysfs, with a decoy on each (an unformed struct module with no name on
    the list, a nameless kobject on module_kset that its `mod` does not
    embed).  A fresh argus reads both views as holding an entry that is no
    module, and still finds the module in mod_tree (5.10's core_layout,
    6.12's mem[]) at the address it logged.  Undone and linked back after."""
    g = kguest
    try:
        line = load_hidden(g, "hideblind", "", "module ")
        addr = int(line[line.index("module") + 1], 16)
        d = scan_checks.scan(g)
        st = d["scan_statistics"]
        assert st["kernel_module_views"] == "modules list only", st["kernel_module_views"]
        assert st["bad_objects"] >= 1, st
        m = {m["kernel_module_name"]: m for m in d["kernel_modules"]}.get("hideblind")
        assert m and m["kernel_module_found_in"] == "mod_tree", m
        assert int(m["kernel_module_address"], 16) == addr
    finally:
        g.run("echo 1 >/proc/hideblind")


def test_rootkits_before_the_scan(kguest):
    """The test rootkits built for this kernel (kmod/build.sh, against its
    own headers), loaded before a fresh argus's only scan: what each did is
    in the document.  On 5.10 and 6.12: a jmp six instructions into
    __x64_sys_acct (first sight's sweep of every function),
    sys_call_table[99] and the IDT gate of vector 31 pointed at modules
    (5.10 dispatches through the table; on 6.12, which dispatches through
    x64_sys_call, also a jmp in it, told once), a module unlinked from the modules list and sysfs
    (found in mod_tree: 5.10's core_layout, 6.12's mem[]), one taken out
    of mod_tree too (found by carving module memory), and a kprobe, a
    tracepoint probe, a netfilter hook and a notifier of modules that then
    hide (their handlers in no listed module); then the hooks of listed
    modules removed: none.  Last in this file: hidden modules stay."""
    g = kguest
    missing = [ko for ko in ("hookinl", "hooksct", "hookidt", "hidekmod", "hideall", "hookkp",
                             "hooktp", "hooknf")
               if g.run(f"test -f /bin/{ko}.ko")[0]]
    assert not missing, f"test rootkits not built for {g.kernel_pkg}: {missing}"
    g.check("insmod /bin/hookinl.ko sym=__x64_sys_acct insn=6")
    g.check("insmod /bin/hooksct.ko")
    g.check("insmod /bin/hookidt.ko")
    # 6.12 dispatches through x64_sys_call: a jmp in it pointed at a module
    x64 = g.run("grep -q ' x64_sys_call$' /proc/kallsyms")[0] == 0
    if x64:
        assert g.run("test -f /bin/hookx64.ko")[0] == 0, f"hookx64 not built for {g.kernel_pkg}"
        g.check("insmod /bin/hookx64.ko")
    try:
        site = int(g.check("cat /sys/module/hookinl/parameters/site"))
        inl = int(g.check("cat /sys/module/hookinl/parameters/handler"))
        sct = int(g.check("cat /sys/module/hooksct/parameters/handler"))
        idt = int(g.check("cat /sys/module/hookidt/parameters/handler"))
        g.check("insmod /bin/hidekmod.ko")
        g.check("insmod /bin/hideall.ko")
        for ko in ("hookkp", "hooktp", "hooknf"):
            g.check(f"insmod /bin/{ko}.ko hide=1")
        d = scan_checks.scan(g)
        read = d["scan_statistics"]["kernel_hooks_read"]
        assert "kernel_text" in read and "sys_call_table" in read, read
        kinds = ("kernel_text", "sys_call_table", "x64_sys_call", "idt_table")
        hooks = {h["kernel_hook_kind"]: h for h in d["kernel_hooks"] if h["kernel_hook_kind"] in kinds}
        # one each: the sweep does not tell again what the dispatcher's check told
        assert len([h for h in d["kernel_hooks"] if h["kernel_hook_kind"] in kinds]) == 3 + x64, \
            d["kernel_hooks"]
        t = hooks.get("kernel_text")
        assert t, d["kernel_hooks"]
        assert int(t["kernel_hook_site_address"], 16) == site
        assert t["kernel_hook_site_symbol"].startswith("__x64_sys_acct+0x")
        assert int(t["kernel_hook_handler_address"], 16) == inl
        assert t["kernel_hook_handler_owner"] == "hookinl"
        s = hooks.get("sys_call_table")
        assert s and s["system_call_number"] == 99, d["kernel_hooks"]
        assert int(s["kernel_hook_handler_address"], 16) == sct
        assert s["kernel_hook_handler_owner"] == "hooksct"
        i = hooks.get("idt_table")
        assert i and i["interrupt_vector"] == 31, d["kernel_hooks"]
        assert i["kernel_hook_site_symbol"] == "idt_table+0x1f0"
        assert int(i["kernel_hook_handler_address"], 16) == idt
        assert i["kernel_hook_handler_owner"] == "hookidt"
        if x64:
            x = hooks.get("x64_sys_call")
            assert x, d["kernel_hooks"]
            assert int(x["kernel_hook_site_address"], 16) == \
                int(g.check("cat /sys/module/hookx64/parameters/site"))
            assert x["kernel_hook_site_symbol"].startswith("x64_sys_call+0x")
            assert x["kernel_hook_handler_owner"] == "hookx64"
        mods = {m["kernel_module_name"]: m for m in d["kernel_modules"]}
        assert mods["hidekmod"]["kernel_module_found_in"] == "mod_tree", mods.get("hidekmod")
        assert mods["hideall"]["kernel_module_found_in"] == "module memory", mods.get("hideall")
        assert "hidekmod" not in g.check("cat /proc/modules")
        # the hooks whose handler is in no listed module: those, no other
        foreign = sorted((h["kernel_hook_kind"], h.get("kernel_hook_hooked_symbol"),
                          h["kernel_hook_handler_owner"]) for h in d["kernel_hooks"]
                         if not h.get("kernel_hook_handler_owner_listed"))
        assert foreign == [("kprobe", "__x64_sys_sysinfo", "hookkp"),
                           ("netfilter", "ipv4 LOCAL_IN", "hooknf"),
                           ("notifier", "module_notify_list", "hooknf"),
                           ("tracepoint", "sched_process_fork", "hooktp")], foreign
        for ko in ("hookkp", "hooktp", "hooknf"):
            assert mods[ko]["kernel_module_found_in"] == "mod_tree", mods.get(ko)
    finally:
        g.run("rmmod hookinl; rmmod hooksct; rmmod hookidt; rmmod hookx64 2>/dev/null")
    d = scan_checks.scan(g)
    assert [h for h in d["kernel_hooks"] if h["kernel_hook_kind"] in
            ("kernel_text", "sys_call_table", "x64_sys_call", "idt_table")] == [], d["kernel_hooks"]
