"""Shared fixtures for tests that need a live guest.

One guest per test session (booting takes seconds under TCG); tests that
change the guest's state clean up after themselves.  ARGUS points at the
argus binary (the Makefile sets it).
"""
import contextlib
import datetime
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "guest"))

from guest import Guest  # noqa: E402

ROOT = os.path.dirname(HERE)
ARGUS = os.environ.get("ARGUS", os.path.join(ROOT, "build", "argus"))


_PORTS_GIVEN = set()


def free_port():
    """A TCP port on loopback that nothing holds now, below the kernel's
    range of ephemeral ports: one from that range (bind to port 0) can be
    taken as the source port of any connection -- the tests' own polls of
    a listener starting -- before the server it was meant for binds it
    (syslog-ng: "Address already in use" in CI)."""
    import random
    import socket
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    low = max(low, 12000)
    for _ in range(1000):
        port = random.randrange(10000, low)
        if port in _PORTS_GIVEN:    # never the same one twice in a run
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            _PORTS_GIVEN.add(port)
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free TCP port below the ephemeral range")


def run_argus(*args, check=True, timeout=120):
    """Run argus; return CompletedProcess (text)."""
    p = subprocess.run([ARGUS, *args], capture_output=True, text=True,
                       errors="surrogateescape", timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"argus {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return p


@pytest.fixture(scope="session")
def guest():
    g = Guest(f"t{os.getpid()}")
    g.start()
    yield g
    g.stop()


@pytest.fixture(scope="session")
def guest_a64():
    """An AArch64 guest (qemu virt): RAM at physical 0x40000000."""
    g = Guest(f"t{os.getpid()}a64", arch="arm64")
    g.start()
    yield g
    g.stop()


@pytest.fixture(scope="session")
def guest5():
    """A guest running 5-level paging."""
    g = Guest(f"t{os.getpid()}l5", la57=True)
    g.start()
    yield g
    g.stop()


# every service a test started: one whose test failed before stopping it
# is killed when the session ends, not left running
_STARTED = []


@pytest.fixture(scope="session", autouse=True)
def _no_service_left():
    yield
    for s in _STARTED:
        proc = getattr(s, "proc", None)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


class Service:
    """`argus run` against a guest, with its event log read as it grows."""

    # raised by ordinary activity in every scenario: the spec raises it on
    # every close of a file open for writing
    ROUTINE_ALERTS = frozenset({"File Descriptor File Content Change"})

    def __init__(self, tmp, guest, sleep="500ms", collection="", output="", extra="",
                 service="", events_dir=None, source=None, wait_init=True, argus="",
                 split_stderr=False, systems=True, stdout=True, binary=None, env=None):
        """systems=False: no systems listed (auto_scan finds the VMs; guest
        may be None, and nothing is waited for).  binary: another argus
        than ARGUS (the sanitizers' build), run with env added."""
        import time as _t
        self.dir = str(tmp)
        os.makedirs(self.dir, exist_ok=True)
        events_dir = events_dir or os.path.join(self.dir, "events")
        self.events_path = os.path.join(events_dir, "argus-events.log")
        self.config = os.path.join(self.dir, "argus.yaml")
        self.sleep_s = float(sleep[:-2]) / 1000 if sleep.endswith("ms") else float(sleep[:-1])
        listed = ""
        if systems:
            listed = (f"  systems:\n    - name: {guest.name}\n"
                      f"      source: {source or guest.source}\n{extra}")
        else:
            wait_init = False
        with open(self.config, "w") as f:
            f.write(f"service:\n  scanner_sleep: {sleep}\n  debug_log_folder: {self.dir}/debug\n"
                    f"{service}"
                    f"argus:\n{argus}{listed}"
                    f"collection:\n  process_memory_created: true\n"
                    f"  process_memory_terminated: true\n{collection}"
                    f"output:\n  stdout: {'true' if stdout else 'false'}\n"
                    f"  log_folder: {events_dir}\n{output}")
        self.out = open(os.path.join(self.dir, "stdout.log"), "w")
        # split_stderr: stdout.log holds standard output alone, stderr.log the rest
        self.err = open(os.path.join(self.dir, "stderr.log"), "w") if split_stderr else None
        _STARTED.append(self)
        self.proc = subprocess.Popen([binary or ARGUS, "run", "--config", self.config],
                                     stdout=self.out, stderr=self.err or subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})
        self.fh = None
        self.messages = []
        self.claimed = set()    # indices of ALERT messages a test accounted for
        if wait_init:
            ok = self.wait_for(lambda m: m["activity_data"]["name"] ==
                               "Host Initialization Successful", timeout=60)
            if not ok:
                self.proc.kill()
                raise AssertionError(f"the host never initialized; see {self.dir}")
            _t.sleep(2 * self.sleep_s)  # a first scan as the baseline

    # ---- every alert accounted for ----
    def mark(self):
        """Where a scenario starts: pass to expect_alerts()."""
        self.poll()
        return len(self.messages)

    def expect_alerts(self, since, *expected, settle=True):
        """Every ALERT since `since` is one of `expected`, each given as
        (name, pred, count) -- pred(activity_data) or None -- and each
        matches exactly `count` alerts (None: any number), counted again
        after one more scan when settle.  Any other alert fails the test.  Returns {name: [..]}."""
        import time as _t
        if settle:
            _t.sleep(2 * self.sleep_s + 0.2)
        self.poll()
        # silence from a service that is gone proves nothing
        assert self.proc.poll() is None, f"argus run exited ({self.proc.returncode}); see {self.dir}"
        window = [(i, m) for i, m in enumerate(self.messages) if i >= since and
                  m["message_type"] == "ALERT"]
        found, used = {}, set()
        for name, pred, count in expected:
            hits = [(i, m) for i, m in window if i not in used and
                    m["activity_data"]["name"] == name and (pred is None or pred(m["activity_data"]))]
            used.update(i for i, _ in hits)
            found.setdefault(name, []).extend(m for _, m in hits)
            assert count is None or len(hits) == count, (f"{len(hits)} '{name}' alerts, expected {count}:\n" +
                                        "\n".join(describe(m) for _, m in hits))
        other = [m for i, m in window if i not in used and
                 m["activity_data"]["name"] not in self.ROUTINE_ALERTS]
        assert not other, "unexpected alerts:\n" + "\n".join(describe(m) for m in other)
        self.claimed.update(i for i, _ in window)
        return found

    def unexpected_alerts(self):
        self.poll()
        return [m for i, m in enumerate(self.messages) if m["message_type"] == "ALERT" and
                i not in self.claimed and m["activity_data"]["name"] not in self.ROUTINE_ALERTS]

    def stdout_alerts(self):
        """The non-routine alerts on the service's stdout (split_stderr:
        then it holds messages alone): every message, also those of
        event-log files rotated away before poll() read them."""
        names = []
        for line in self.stdout().splitlines():
            if not line.startswith("{"):
                continue
            h = json.loads(line)
            if h["message_type"] == "ALERT" and h["activity_data"]["name"] not in self.ROUTINE_ALERTS:
                names.append(h["activity_data"]["name"])
        return names

    def debug_log(self):
        """The service's debug log (debug_log_folder) so far."""
        try:
            with open(os.path.join(self.dir, "debug", "argus-debug.log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stdout(self):
        if not self.out.closed:
            self.out.flush()
        with open(os.path.join(self.dir, "stdout.log"), errors="replace") as f:
            return f.read()

    def poll(self):
        """Read new complete lines; follows the file across rotations (the
        open handle keeps reading the renamed file to its end)."""
        while True:
            if getattr(self, "fh", None) is None:
                try:
                    self.fh = open(self.events_path, "rb")
                except FileNotFoundError:
                    return
                self.partial = b""
            data = self.partial + self.fh.read()
            end = data.rfind(b"\n") + 1
            self.partial = data[end:]
            for line in data[:end].splitlines():
                self.messages.append(json.loads(line))
            try:
                rotated = os.stat(self.events_path).st_ino != os.fstat(self.fh.fileno()).st_ino
            except FileNotFoundError:
                rotated = False
            if not rotated:
                return
            self.fh.close()
            self.fh = None

    def wait_for(self, pred, timeout=10, count=1):
        import time as _t
        deadline = _t.monotonic() + timeout
        while True:
            self.poll()
            found = [m for m in self.messages if pred(m)]
            if len(found) >= count:
                return found
            if self.proc.poll() is not None:
                raise AssertionError(f"argus run exited ({self.proc.returncode}); see {self.dir}")
            if _t.monotonic() > deadline:
                return found
            _t.sleep(0.1)

    def stop(self, sig=15, check_alerts=True):
        """Stop the service; fails if it raised an alert no test accounted
        for (expect_alerts), or, checking, if it had died by a signal or did
        not exit 0 on SIGTERM."""
        running = self.proc.poll() is None
        if running:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        if self.err:
            self.err.close()
        self.poll()
        if check_alerts:
            bad = self.unexpected_alerts()
            assert not bad, (f"alerts no test expected ({self.dir}):\n" +
                             "\n".join(describe(m) for m in bad))
            # ended by itself: as a failure may (1, "no system can be
            # monitored"), never by a signal (a crash)
            assert running or self.proc.returncode in (0, 1), \
                f"argus run had died ({self.proc.returncode}); see {self.dir}"
            assert not running or sig != 15 or self.proc.returncode == 0, \
                f"argus run exited {self.proc.returncode} on SIGTERM; see {self.dir}"
        return self.proc.returncode


def hook_kind(kind):
    """An alert predicate (for wait_for, expect_alerts): a kernel hook of this kind."""
    return lambda a: a.get("kernel_hook_details", {}).get("kernel_hook_kind") == kind


def planted_before_start(g, svc, tmp_path, ko, args, pass_scans, running_within=0, soon=None,
                         setup=None, undo=None, extra=""):
    """A test rootkit that writes a hook into kernel text (/bin/KO.ko args,
    after the guest command setup) loaded before a second service starts:
    that service's one Kernel Text Modified at its first scans, told
    within `soon` seconds of its start when given (returned, with the
    module's site and handler parameters); the running service's one,
    waited for at most running_within seconds; undo and rmmod: nothing
    more from either within a pass of the window (pass_scans scans)."""
    text = hook_kind("kernel_text")
    name = "Kernel Text Modified"
    need_module(g, ko)
    if g.run(f"grep -q '^{ko} ' /proc/modules || test -e /proc/{ko}")[0] == 0:
        pytest.skip(f"{ko} is loaded already")
    since = svc.mark()
    if setup:
        g.check(setup)
    g.check(f"insmod /bin/{ko}.ko {args}")
    try:
        site, handler = (int(g.check(f"cat /sys/module/{ko}/parameters/{p}").strip())
                         for p in ("site", "handler"))
        late = Service(tmp_path, g, sleep=f"{round(svc.sleep_s * 1000)}ms", extra=extra)
        try:
            found = wait_for(late, name, text, 0, 2 * late.sleep_s + 5)
            assert found, f"a hook planted before argus started ({ko} {args}) was not seen"
            if soon is not None:
                # told by the first-sight rule, not found as a difference
                # (time, not messages: a scan tells process events too)
                assert seconds_after(late, name) < soon
            wait_for(svc, name, text, since, running_within)
            late.expect_alerts(0, (name, text, 1))
            if undo:
                g.check(undo)
            g.check(f"rmmod {ko}", timeout=30)
            mark = late.mark()
            time.sleep((pass_scans + 2) * late.sleep_s)
            late.expect_alerts(mark)
        finally:
            late.stop()
    finally:
        if undo:
            g.run(undo)
        g.run(f"rmmod {ko} 2>/dev/null")
    svc.expect_alerts(since, (name, text, 1))
    return found[0], site, handler


def bpf_fentry(g, targets, tag, seconds=300):
    """A BPF program attached at the entry of each target (bpfload
    fentry:[MODULE:]FUNC, held seconds): their loaders' pids, once each
    program is in."""
    pids = [g.spawn(f"exec bpfload fentry:{f} argus_{tag}{i} {seconds} >/tmp/{tag}{i}.out 2>&1")
            for i, f in enumerate(targets)]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        outs = [g.run(f"cat /tmp/{tag}{i}.out")[1].strip() for i in range(len(targets))]
        if all(outs):
            break
        time.sleep(0.2)
    if not all(o.isdigit() for o in outs):
        g.run("kill " + " ".join(map(str, pids)))
        raise AssertionError(f"bpfload fentry: {outs}")
    return pids


def module_named(name):
    """An alert predicate: about the kernel module of this name."""
    return lambda a: a.get("kernel_module_details", {}).get("kernel_module_name") == name


KERNEL_VIEWS = ("kprobe", "ftrace_ops", "tracepoint", "kernel_text", "netfilter", "notifier")


def assert_kernel_read(guest, parts=KERNEL_VIEWS):
    """Silence about the kernel counts only if argus reads these views of
    this guest whole (a one-shot scan of it now)."""
    d = json.loads(run_argus("scan", "--once", "--json", *guest.argus_source()).stdout)
    read = d["scan_statistics"]["kernel_hooks_read"]
    missing = [p for p in parts if p not in read]
    assert not missing, f"argus does not read {missing} of this guest whole (read: {read})"


def assert_module_seen(svc, name, since):
    """Silence about a module counts only if argus saw it loaded."""
    assert wait_for(svc, "Kernel Module Loaded", module_named(name), since, 0), \
        f"argus never saw {name} loaded: its silence proves nothing"


@contextlib.contextmanager
def late_service(tmp, guest, scans, **kw):
    """A service started after what the test set up (Service's keywords):
    after `scans` of its scans it has told no alert, its first sight
    included; the body goes on with it, and it is stopped after."""
    late = Service(tmp, guest, **kw)
    try:
        time.sleep(scans * late.sleep_s)
        late.expect_alerts(0)
        yield late
    finally:
        late.stop()


def wait_for(svc, name, pred, since, within):
    """The messages named `name` matching pred since index `since`, once
    there is one or `within` seconds have passed (then possibly none)."""
    import time
    deadline = time.monotonic() + within
    while True:
        svc.poll()
        found = [m for m in svc.messages[since:] if m["activity_data"]["name"] == name and
                 pred(m["activity_data"])]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def need_module(guest, ko):
    """Skip unless the guest has the test rootkit ko (tests/guest/kmod/)."""
    if guest.run(f"test -f /bin/{ko}.ko")[0]:
        pytest.skip("the test rootkits could not be built (kernel headers unavailable)")


def iso_ns_seconds(t):
    """Seconds since the epoch of argus's ISO 8601 stamp to the nanosecond
    (messages' occurred_message_time_iso_8601_ns, the debug log's lines):
    cut to microseconds, what Python parses."""
    return datetime.datetime.fromisoformat(t[:26] + t[29:]).timestamp()


def seconds_after(svc, name, after="Host Initialization Successful"):
    """Seconds from the service's first `after` message to its first `name`
    message: how soon after it started it told something (messages are
    not counted: a scan tells process events too, in any number)."""
    first = {}
    for m in svc.messages:
        first.setdefault(m["activity_data"]["name"],
                         iso_ns_seconds(m["occurred_message_time_iso_8601_ns"]))
    return first[name] - first[after]


def describe(m):
    """One line about a message: name, severity, the process and what it is about."""
    a = m["activity_data"]
    p = a.get("process_details") or {}
    what = ""
    for key in ("process_memory_details", "network_connection_details",
                "file_descriptor_details", "elf_file_details"):
        if key in a:
            what = " " + json.dumps(a[key], sort_keys=True)[:300]
            break
    return (f"  {a.get('name')} [{m.get('severity')}] pid {p.get('process_id')} "
            f"({p.get('process_name')}: {p.get('process_executable_path', '')}){what}")


import json  # noqa: E402
