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
sys.path.insert(0, HERE)

from guest import Guest  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
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
def guest5():
    """A guest running 5-level paging."""
    g = Guest(f"t{os.getpid()}l5", la57=True)
    g.start()
    yield g
    g.stop()
