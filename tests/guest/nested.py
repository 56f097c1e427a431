"""A test guest that runs a KVM guest of its own (GUEST.md: QEMU's TCG
emulates AMD SVM, so kvm-amd loads inside the test guest).

    outer = outer_guest("o1").start()       # -m 1536, qemu + kvm inside
    inner = Inner(outer, "inner1").start()  # the ordinary test initramfs, under KVM
    inner.run("ps")                         # through the outer's control channel
    inner.stop()

The inner guest's control channel (its ttyS1) is a unix socket inside the
outer guest; a socat there joins it to two files: requests are appended to
/tmp/NAME.in, answers read from /tmp/NAME.out, each through the outer's own
control channel.  Its pids and /proc are its own (argus-truth runs there).
"""
import base64
import os
import subprocess
import time

from guest import HERE, Guest, GuestError, initrd_file, progs_dir


def _add_nested(kdir, progs):
    inner_initrd = initrd_file(kdir)     # the ordinary one, built first
    subprocess.run([os.path.join(HERE, "nested", "build.sh"), kdir, inner_initrd, progs],
                   check=True)


def outer_guest(name):
    """The outer guest (not started): 1.5 GiB, its initramfs (about 75 MB)
    with QEMU, the kvm modules and the inner guest's kernel and initramfs."""
    plain = Guest(name + "-plain")      # the inner guest's initramfs is the ordinary one
    kdir = os.path.dirname(plain._prepare()[1])
    return Guest(name, mem_mb=1536, progs=progs_dir(kdir, "progs-nested"),
                 initrd="initrd-nested", add_files=_add_nested)


class Inner:
    def __init__(self, outer, name, mem_mb=128, accel="kvm"):
        self.outer = outer
        self.name = name
        self.mem_mb = mem_mb
        self.accel = accel      # "tcg": QEMU's TCG inside, no KVM (boots in ~100 s)
        self.pid = None         # its QEMU's pid in the outer guest
        self._seq = 0
        self.boot_seconds = None

    def start(self, timeout=60):
        t0 = time.monotonic()
        n = self.name
        self.pid = int(self.outer.check(f"/bin/nested/run-inner {n} {self.mem_mb} {self.accel}", timeout=30))
        # the relay: requests appended to NAME.in reach the inner's ttyS1
        # (files of its own for each start: nothing of an earlier relay mixes in)
        self._starts = getattr(self, "_starts", 0) + 1
        self._f = f"/tmp/{n}.{self._starts}"
        self.outer.check(f": >{self._f}.in; : >{self._f}.out")
        self._relay = None
        deadline = t0 + timeout
        self._await_hello(deadline)
        while True:
            self._ensure_relay()
            try:
                self._request("RUN", "true", timeout=10)
                break
            except GuestError:
                if time.monotonic() > deadline:
                    raise GuestError(f"{n}: inner guest not ready in {timeout}s; "
                                     + self._state() + "; console:\n" + self.console())
        self.boot_seconds = time.monotonic() - t0
        return self

    def _await_hello(self, deadline):
        """Nothing is sent to the inner's ttyS1 before its argus-ctl has the
        port open and raw (its HELLO among the answers): bytes that wait in
        the UART while the inner kernel opens the port can leave the port's
        receive interrupt stalled for good under nested KVM (seen in 2 of 7
        boots: HELLO out, no request ever answered).  A relay that connected
        after HELLO went by never sees it: then 3 s after the console's
        ARGUS-GUEST-READY will do."""
        ready_at = None
        while time.monotonic() < deadline:
            self._ensure_relay()
            got = self.outer.run(f"grep -c HELLO {self._f}.out; "
                                 f"grep -c ARGUS-GUEST-READY /tmp/{self.name}.console")[1].split()
            if got and got[0] != "0":
                return
            if len(got) > 1 and got[1] != "0":
                ready_at = ready_at or time.monotonic()
                if time.monotonic() - ready_at > 3:
                    return
            time.sleep(0.5)

    def _ensure_relay(self):
        """A relay that died (its socat lost the connection) is started again."""
        if not self._relay or self.outer.run(f"kill -0 {self._relay}")[0] != 0:
            self._start_relay()

    def _start_relay(self):
        n = self.name
        self._relay = int(self.outer.check(
            f"for i in $(seq 100); do [ -S /tmp/{n}.sock ] && break; sleep 0.05; done; "
            f"setsid sh -c 'tail -f {self._f}.in | socat - UNIX-CONNECT:/tmp/{n}.sock "
            f">>{self._f}.out' </dev/null >/dev/null 2>&1 & echo $!"))
        self._relays = getattr(self, "_relays", 0) + 1

    def _state(self):
        """What a start that timed out leaves to look at."""
        q = self.outer.run(f"kill -0 {self.pid} && echo alive || echo gone")[1].strip()
        r = self.outer.run(f"kill -0 {self._relay} && echo alive || echo gone")[1].strip()
        o = self.outer.run(f"wc -c <{self._f}.out; ls -l /tmp/{self.name}.sock")[1].strip()
        return (f"QEMU {self.pid} {q}, relay {self._relay} {r} ({self._relays} started), "
                f"answers file and socket: {o!r}")

    def console(self):
        return self.outer.run(f"tail -n 40 /tmp/{self.name}.console")[1]

    def stop(self):
        if self.pid:
            self.outer.run(f"kill -9 {self.pid}; kill -9 -- -{self._relay}; "
                           f"for i in $(seq 100); do kill -0 {self.pid} 2>/dev/null || break; "
                           f"sleep 0.05; done")
            self.pid = None

    def _request(self, verb, cmd, timeout=30):
        self._seq += 1
        seq = self._seq
        line = f"{verb} {seq} {base64.b64encode(cmd.encode()).decode()}"
        self.outer.check(f"echo '{line}' >>{self._f}.in")
        deadline = time.monotonic() + timeout
        while True:
            # on a copy (a prefix of what socat wrote): its last line is
            # whole only when the copy ends in a newline
            out = self.outer.check(f"f={self._f}.out; cp $f $f.copy; "
                                   f"[ -z \"$(tail -c1 $f.copy)\" ] || sed -i '$d' $f.copy; "
                                   f"grep '^OK {seq} ' $f.copy || true")
            for raw in out.splitlines():
                parts = raw.strip().split(" ")
                if len(parts) >= 3 and parts[0] == "OK" and parts[1] == str(seq):
                    out = base64.b64decode(parts[3]) if len(parts) > 3 else b""
                    err = base64.b64decode(parts[4]) if len(parts) > 4 else b""
                    return int(parts[2]), out, err
            if time.monotonic() > deadline:
                raise GuestError(f"{self.name}: no answer to {cmd!r} within {timeout}s")
            time.sleep(0.1)

    def run(self, cmd, timeout=30):
        rc, out, err = self._request("RUN", cmd, timeout)
        return rc, out.decode(errors="surrogateescape"), err.decode(errors="surrogateescape")

    def check(self, cmd, timeout=30):
        rc, out, err = self.run(cmd, timeout)
        if rc != 0:
            raise GuestError(f"{cmd!r} failed in {self.name} ({rc}): {err.strip()}")
        return out

    def spawn(self, cmd):
        return int(self._request("SPAWN", cmd)[1])

    truth_ps = Guest.truth_ps
