"""The system activities of section 10.10 that no other test provokes, each
provoked through `argus run` beside the live guest and checked against the
spec's table: name, message_type SYSTEM_ACTIVITY, severity.

    Service Initialization Failed     a system's SBOM file is not JSON; no system at all
    Unable to Determine Target OS     a second system whose memory is not Linux's
    OS Identifier Discovery Extended  the guest's memory appears only after argus started
    Profile Parsing Failed            os_symbols: an ISF that is not valid JSON
    No Matching Profile Found         os_symbols: a folder whose only ISF is another kernel's

Profile Verification Failed is test_profile_proof.py's (an ISF with one
task_struct offset moved); the others are test_events.py's, test_faults.py's
and test_benign.py's.  docs/detections.md lists which test proves each."""
import base64
import json
import os
import time

import pytest

from conftest import Service, run_argus

# section 10.10, as written: every system activity and its severity
SPEC = {
    "Service Initialization Started": "Info",
    "Service Initialization Successful": "Info",
    "Service Initialization Failed": "Error",
    "Service Runtime Failure": "Error",
    "Service Gracefully Shutdown": "Info",
    "Details Gathering Failed": "Error",
    "Host Initialization Started": "Info",
    "Host Initialization Successful": "Info",
    "Host Initialization Failed": "Error",
    "OS Identifier Found": "Info",
    "OS Identifier Discovery Extended": "Info",
    "Loading Profile Candidate": "Info",
    "Profile Verification Successful": "Info",
    "Profile Verification Failed": "Error",
    "Profile Parsing Failed": "Error",
    "No Matching Profile Found": "Error",
    "Unable to Determine Target OS": "Error",
    "Process Limit Reached": "Medium",
    "File Handles Limit Reached": "Medium",
    "Process Memory Limit Reached": "Medium",
    "Threads Limit Reached": "Medium",
}


def test_spec_table_is_complete():
    assert len(SPEC) == 21


def names(svc, system=None):
    svc.poll()
    return [m["activity_data"]["name"] for m in svc.messages
            if system is None or m["workload_information"]["unique_identifier"] == system]


def expect_sa(svc, name, system=None, timeout=60):
    """The first `name` system activity (of `system`), checked against the table."""
    found = svc.wait_for(lambda m: m["activity_data"]["name"] == name and
                         (system is None or m["workload_information"]["unique_identifier"] == system),
                         timeout=timeout)
    assert found, f"no {name!r}; saw {names(svc)} (see {svc.dir})"
    m = found[0]
    assert m["message_type"] == "SYSTEM_ACTIVITY", m
    assert m["severity"] == SPEC[name].upper(), (name, m["severity"])
    return m


def description(m):
    return m["activity_data"]["system_activity_details"]["description"]


def exited(svc, timeout=30):
    """The messages of a service that ends by itself, and its exit status."""
    rc = svc.proc.wait(timeout)
    svc.poll()
    return rc


def test_lifecycle_activities_match_the_table(guest, tmp_path):
    """A start and a graceful stop on the live guest: the eight system
    activities it raises, in order, each as the table names and grades it."""
    svc = Service(tmp_path / "svc", guest, sleep="300ms")
    assert svc.stop() == 0
    sas = [m for m in svc.messages if m["message_type"] == "SYSTEM_ACTIVITY"]
    for m in sas:
        name = m["activity_data"]["name"]
        assert name in SPEC, name
        assert m["severity"] == SPEC[name].upper(), (name, m["severity"])
    seen = [m["activity_data"]["name"] for m in sas]
    order = ["Service Initialization Started", "Host Initialization Started",
             "Host Initialization Successful", "Service Gracefully Shutdown"]
    assert [n for n in seen if n in order] == order, seen
    host = seen[seen.index("Host Initialization Started"):seen.index("Host Initialization Successful")]
    for n in ("Loading Profile Candidate", "OS Identifier Found", "Profile Verification Successful"):
        assert n in host, seen
    assert "Service Initialization Successful" in seen, seen
    assert seen[-1] == "Service Gracefully Shutdown", seen


@pytest.fixture(scope="module")
def isf(guest, tmp_path_factory):
    out = tmp_path_factory.mktemp("sa_isf") / "guest.json"
    run_argus("profile", "--source", f"qemu:{guest.ram_path}", "-o", str(out))
    return out


# ---- Service Initialization Failed ----

def test_service_initialization_failed_cannot_drop_privileges(guest):
    """What only starting finds: the configuration is valid (run --check
    passes), but argus, started as an unprivileged user, cannot hand its
    folders to service.user and become it.  The service says why, in its
    event log, and exits 1 without starting a host."""
    import shutil
    import subprocess
    import tempfile
    from conftest import ARGUS
    d = tempfile.mkdtemp(prefix="argus-sif-")
    try:
        os.chmod(d, 0o755)
        events = os.path.join(d, "events")
        os.mkdir(events)
        os.chmod(events, 0o777)
        cfg = os.path.join(d, "argus.yaml")
        with open(cfg, "w") as f:
            f.write(f"service:\n  user: daemon\nargus:\n  systems:\n    - name: {guest.name}\n"
                    f"      source: qemu:{guest.ram_path}\noutput:\n  log_folder: {events}\n")
        os.chmod(cfg, 0o644)
        assert run_argus("run", "--check", "--config", cfg, check=False).returncode == 0
        p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            ARGUS, "run", "--config", cfg], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 1, p.stderr
        msgs = [json.loads(line)
                for line in open(os.path.join(events, "argus-events.log"))]
        seen = [m["activity_data"]["name"] for m in msgs]
        assert seen[0] == "Service Initialization Started", seen
        assert "Service Initialization Failed" in seen, seen
        assert "Service Initialization Successful" not in seen, seen
        assert "Host Initialization Started" not in seen, seen
        m = msgs[seen.index("Service Initialization Failed")]
        assert m["message_type"] == "SYSTEM_ACTIVITY" and m["severity"] == "ERROR", m
        assert "daemon" in description(m) or "uid" in description(m), description(m)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_configuration_errors_stop_before_the_service(tmp_path):
    """What the configuration alone shows wrong (a system's SBOM not JSON,
    nothing to monitor with auto_scan off) is found before the service
    starts: exit 2, one line naming the file and key, as run --check says,
    and no event log at all."""
    bad = tmp_path / "sbom.json"
    bad.write_text("not json\n")
    events = tmp_path / "events"
    for body in (f"argus:\n  systems:\n    - name: g\n      source: qemu:/dev/null\n"
                 f"      events:\n        sbom: [{bad}]\n",
                 "argus:\n  auto_scan: false\n"):
        cfg = tmp_path / "argus.yaml"
        cfg.write_text(body + f"output:\n  log_folder: {events}\n")
        for args in (("run", "--check"), ("run",)):
            p = run_argus(*args, "--config", str(cfg), check=False, timeout=30)
            assert p.returncode == 2, (args, p.stderr)
            assert len(p.stderr.strip().splitlines()) == 1 and str(cfg) in p.stderr, p.stderr
        assert not (events / "argus-events.log").exists()


# ---- Unable to Determine Target OS ----

def test_unable_to_determine_target_os(guest, tmp_path):
    """Two systems: the live guest, and memory that is not Linux's (random
    bytes).  The guest is monitored; the other is retried, never identified."""
    noise = tmp_path / "noise.raw"
    noise.write_bytes(os.urandom(32 << 20))
    svc = Service(tmp_path / "svc", guest,
                  extra=f"    - name: notlinux\n      source: raw:{noise}\n")
    try:
        m = expect_sa(svc, "Unable to Determine Target OS", system="notlinux")
        assert "no VMCOREINFO" in description(m), description(m)
        expect_sa(svc, "Host Initialization Failed", system="notlinux")
        expect_sa(svc, "OS Identifier Discovery Extended", system="notlinux")
        other = names(svc, "notlinux")
        for absent in ("OS Identifier Found", "Host Initialization Successful",
                       "No Matching Profile Found"):
            assert absent not in other, other
        # the guest beside it initialized and is watched
        ok = names(svc, guest.name)
        assert "Host Initialization Successful" in ok, ok
        assert "Unable to Determine Target OS" not in ok, ok
    finally:
        svc.stop()


# ---- OS Identifier Discovery Extended ----

def test_os_identifier_discovery_extended(guest, tmp_path):
    """argus starts before the guest's memory is there (a RAM file that
    appears later): the first attempt fails, the search is extended, and
    the guest is identified once its memory appears."""
    late = tmp_path / "late.ram"
    svc = Service(tmp_path / "svc", guest, sleep="300ms", wait_init=False, source=f"qemu:{late}")
    try:
        expect_sa(svc, "Host Initialization Failed")
        m = expect_sa(svc, "OS Identifier Discovery Extended")
        assert "retrying" in description(m), description(m)
        seen = names(svc)
        assert "Host Initialization Successful" not in seen, seen
        assert "OS Identifier Found" not in seen, seen
        os.symlink(guest.ram_path, late)
        expect_sa(svc, "Host Initialization Successful", timeout=90)
        seen = names(svc)
        extended = seen.index("OS Identifier Discovery Extended")
        assert extended < seen.index("OS Identifier Found") < seen.index("Host Initialization Successful"), seen
        assert seen.count("OS Identifier Discovery Extended") == 1, seen
    finally:
        svc.stop()


# ---- Profile Parsing Failed ----

@pytest.mark.parametrize("how", ["truncated", "no_types"])
def test_profile_parsing_failed(guest, isf, tmp_path, how):
    """os_symbols names an ISF argus cannot parse: cut in half (not JSON),
    or JSON without its user_types.  The host is not monitored."""
    bad = tmp_path / f"{how}.json"
    text = isf.read_text()
    if how == "truncated":
        bad.write_text(text[:len(text) // 2])
    else:
        doc = json.loads(text)
        del doc["user_types"]
        bad.write_text(json.dumps(doc))
    svc = Service(tmp_path / "svc", guest, sleep="300ms", wait_init=False,
                  extra=f"      os_symbols: {bad}\n")
    try:
        m = expect_sa(svc, "Profile Parsing Failed")
        assert bad.name in description(m), description(m)
        expect_sa(svc, "Host Initialization Failed")
        time.sleep(2)
        seen = names(svc)
        assert seen.index("Loading Profile Candidate") < seen.index("Profile Parsing Failed"), seen
        for absent in ("Host Initialization Successful", "Profile Verification Successful",
                       "Profile Verification Failed"):
            assert absent not in seen, seen
    finally:
        svc.stop()


# ---- No Matching Profile Found ----

def other_kernel(isf, dst, release="5.10.0-32-cloud-amd64"):
    """A copy of the guest's ISF that is another kernel's: its linux_banner
    names another release."""
    doc = json.loads(isf.read_text())
    sym = doc["symbols"]["linux_banner"]
    banner = base64.b64decode(sym["constant_data"]).decode("latin-1")
    mine = banner.split()[2]
    assert mine != release
    sym["constant_data"] = base64.b64encode(banner.replace(mine, release).encode("latin-1")).decode()
    dst.write_text(json.dumps(doc))
    return dst


def test_no_matching_profile_found(guest, isf, tmp_path):
    """os_symbols is a folder of ISFs none of which is the guest's kernel's
    (profile generation is not tried when os_symbols names ISFs): each is
    refused, then No Matching Profile Found.  The OS itself was identified,
    so it is not Unable to Determine Target OS."""
    folder = tmp_path / "isfs"
    folder.mkdir()
    other_kernel(isf, folder / "debian11.json")
    other_kernel(isf, folder / "debian13.json", release="6.12.117+deb13-cloud-amd64")
    svc = Service(tmp_path / "svc", guest, sleep="300ms", wait_init=False,
                  extra=f"      os_symbols: {folder}\n")
    try:
        m = expect_sa(svc, "No Matching Profile Found")
        assert str(folder) in description(m), description(m)
        expect_sa(svc, "Host Initialization Failed")
        svc.wait_for(lambda m: False, timeout=1)
        seen = names(svc)
        first = seen[:seen.index("No Matching Profile Found")]
        assert first.count("Profile Verification Failed") == 2, seen
        refusals = [description(m) for m in svc.messages
                    if m["activity_data"]["name"] == "Profile Verification Failed"]
        assert any("is for another kernel" in d and "5.10.0-32" in d for d in refusals), refusals
        assert "OS Identifier Found" in first, seen
        for absent in ("Unable to Determine Target OS", "Host Initialization Successful",
                       "Profile Verification Successful"):
            assert absent not in seen, seen
    finally:
        svc.stop()
