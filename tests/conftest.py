"""Shared fixtures for tests that need a live guest.

One guest per test session (booting takes seconds under TCG); tests that
change the guest's state clean up after themselves.  ARGUS points at the
argus binary (the Makefile sets it).
"""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "guest"))

from guest import Guest  # noqa: E402

ROOT = os.path.dirname(HERE)
ARGUS = os.environ.get("ARGUS", os.path.join(ROOT, "build", "argus"))


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


class Service:
    """`argus run` against a guest, with its event log read as it grows."""

    def __init__(self, tmp, guest, sleep="500ms", collection="", output="", extra="",
                 service="", events_dir=None, source=None, wait_init=True):
        import time as _t
        self.dir = str(tmp)
        os.makedirs(self.dir, exist_ok=True)
        events_dir = events_dir or os.path.join(self.dir, "events")
        self.events_path = os.path.join(events_dir, "argus-events.log")
        self.config = os.path.join(self.dir, "argus.yaml")
        self.sleep_s = float(sleep[:-2]) / 1000 if sleep.endswith("ms") else float(sleep[:-1])
        source = source or f"qemu:{guest.ram_path}"
        with open(self.config, "w") as f:
            f.write(f"service:\n  scanner_sleep: {sleep}\n  debug_log_folder: {self.dir}/debug\n"
                    f"{service}"
                    f"argus:\n  systems:\n    - name: {guest.name}\n"
                    f"      source: {source}\n{extra}"
                    f"collection:\n  process_memory_created: true\n"
                    f"  process_memory_terminated: true\n{collection}"
                    f"output:\n  stdout: true\n  log_folder: {events_dir}\n{output}")
        self.out = open(os.path.join(self.dir, "stdout.log"), "w")
        self.proc = subprocess.Popen([ARGUS, "run", "--config", self.config], stdout=self.out,
                                     stderr=subprocess.STDOUT)
        self.fh = None
        self.messages = []
        if wait_init:
            self.wait_for(lambda m: m["activity_data"]["name"] == "Host Initialization Successful",
                          timeout=60)
            _t.sleep(2 * self.sleep_s)  # a first scan as the baseline

    def stdout(self):
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
                self.messages.append(json.loads(line)["message_header"])
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

    def stop(self, sig=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        self.poll()
        return self.proc.returncode


import json  # noqa: E402
