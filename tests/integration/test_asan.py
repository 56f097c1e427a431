"""argus built with AddressSanitizer, LeakSanitizer and UBSan (make's
build-asan, ARGUS_ASAN) reading the live guests, x86-64 and arm64: a
one-shot scan and a service that scans while a module and processes come
and go, then stops on SIGTERM, end with no sanitizer report.  What a
collector keeps across scans (its kernel_part: text baselines, the carve,
the file-hash memo, symbols by address) is freed by kernel_close; one
that forgets shows here as a leak, on either architecture.  The unit
tests run under the same sanitizers, but never read a guest."""
import json
import os
import subprocess
import time

import pytest

import benign
from conftest import ROOT, Service, module_named, wait_for

SANITIZERS = {
    "ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}
REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


@pytest.fixture(scope="module")
def asan():
    path = os.environ.get("ARGUS_ASAN")
    if path is None:
        path = os.path.join(ROOT, "build-asan", "argus")
        if not os.path.exists(path):
            pytest.skip("no sanitizers' build: `make unit-asan` makes build-asan/argus")
    assert os.access(path, os.X_OK), f"ARGUS_ASAN={path} is not an executable"
    return path


def reports(text):
    """The sanitizers' reports in argus's output, whole."""
    at = min((text.find(r) for r in REPORTS if r in text), default=-1)
    return text[at:] if at >= 0 else ""


def scan_once(asan, g):
    p = subprocess.run([asan, "scan", "--once", "--json", *g.argus_source()],
                       capture_output=True, text=True, errors="replace", timeout=300,
                       env={**os.environ, **SANITIZERS})
    if reports(p.stderr):
        pytest.fail(f"the sanitizers' build reported:\n{reports(p.stderr)}", pytrace=False)
    assert p.returncode == 0, f"argus scan exited {p.returncode}:\n{p.stderr[-3000:]}"
    d = json.loads(p.stdout)
    # not a pass for want of anything read: the processes and the kernel
    # views whose collectors keep state were decoded
    assert len(d["processes"]) > 10, f"{len(d['processes'])} processes decoded"
    read = d["scan_statistics"]["kernel_hooks_read"]
    assert "kernel_text" in read, f"core text not read whole (read: {read})"
    return d


def test_scan_once_x86_64(asan, guest):
    scan_once(asan, guest)


def test_scan_once_arm64(asan, guest_a64):
    scan_once(asan, guest_a64)


def service_with_a_module(asan, g, tmp, upload, extra=""):
    """The sanitizers' service sees dummy.ko loaded and unloaded and a few
    processes live and die, then stops: 0 on SIGTERM, nothing reported."""
    if not upload(g):
        pytest.skip("the kernel package has no dummy.ko")
    svc = Service(tmp, g, sleep="500ms", binary=asan, env=SANITIZERS, extra=extra,
                  collection="  tcp_network_connections_status:\n"
                             "    enabled: true\n    interval: 1s\n")
    try:
        since = svc.mark()
        g.check("insmod /tmp/dummy.ko")
        try:
            assert wait_for(svc, "Kernel Module Loaded", module_named("dummy"), since, 60), \
                "the sanitizers' service never saw dummy loaded"
            g.check("for i in 1 2 3; do sleep 1 & done; wait")
        finally:
            g.run("rmmod dummy")
        assert wait_for(svc, "Kernel Module Unloaded", module_named("dummy"), since, 60), \
            "the sanitizers' service never saw dummy unloaded"
        time.sleep(4 * svc.sleep_s)
        svc.expect_alerts(since)
    finally:
        rc = svc.stop(check_alerts=False)    # the reports first, then the exit
    out = svc.stdout()
    if reports(out):
        pytest.fail(f"the sanitizers' build reported ({svc.dir}):\n{reports(out)}", pytrace=False)
    assert rc == 0, f"argus run exited {rc} on SIGTERM; see {svc.dir}"
    assert not svc.unexpected_alerts(), f"alerts no test expected; see {svc.dir}"


def test_service_x86_64(asan, guest, tmp_path):
    service_with_a_module(asan, guest, tmp_path, benign.upload_dummy)


def test_service_arm64(asan, guest_a64, tmp_path):
    service_with_a_module(asan, guest_a64, tmp_path, benign.upload_dummy_arm64,
                          extra=f"      memory_regions: {guest_a64.regions_path}\n")
