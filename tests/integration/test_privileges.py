"""Least privilege: with service.user set, the service opens its guest's
memory and its logs as root, then runs as that user with no capabilities
and no way back, and its only view of guest memory is read-only."""
import os
import pwd
import signal
import subprocess
import tempfile
import time

from conftest import ARGUS, Service


def status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def test_runs_unprivileged_with_read_only_memory(guest):
    nobody = pwd.getpwnam("nobody")
    d = tempfile.mkdtemp(prefix="argus-priv-")
    os.chmod(d, 0o755)
    svc = Service(d, guest, sleep="300ms", service="  user: nobody\n")
    try:
        pid = svc.proc.pid
        st = status(pid)
        assert st["Uid"] == [str(nobody.pw_uid)] * 4, st["Uid"]
        assert st["Gid"] == [str(nobody.pw_gid)] * 4, st["Gid"]
        assert st["Groups"] == [], st["Groups"]
        for cap in ("CapEff", "CapPrm", "CapAmb"):
            assert int(st[cap][0], 16) == 0, f"{cap} {st[cap]}"
        assert st["NoNewPrivs"] == ["1"]
        assert "running as user nobody" in svc.stdout()
        # guest memory: mapped read-only, from a read-only descriptor
        maps = [l.split() for l in open(f"/proc/{pid}/maps") if guest.ram_path in l]
        assert maps, "the guest's RAM is not mapped"
        for m in maps:
            assert m[1].startswith("r-") and "w" not in m[1], f"guest RAM mapped {m[1]}"
        fds = [fd for fd in os.listdir(f"/proc/{pid}/fd")
               if os.readlink(f"/proc/{pid}/fd/{fd}") == guest.ram_path]
        assert fds, "no descriptor of the guest's RAM"
        for fd in fds:
            flags = int(open(f"/proc/{pid}/fdinfo/{fd}").read().split("flags:")[1].split()[0], 8)
            assert flags & os.O_ACCMODE == os.O_RDONLY, oct(flags)
        # it still works, and logrotate's SIGHUP still reopens the log
        p = guest.spawn("exec sleep 3")
        assert svc.wait_for(lambda m: m["activity_data"]["name"] == "Process Created" and
                            m["activity_data"]["process_details"]["process_id"] == p, timeout=10)
        os.rename(svc.events_path, svc.events_path + ".1")
        svc.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        guest.spawn("exec sleep 1")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not os.path.exists(svc.events_path):
            time.sleep(0.1)
        assert os.path.exists(svc.events_path), "SIGHUP did not reopen the event log"
        assert os.stat(svc.events_path).st_uid == nobody.pw_uid
    finally:
        assert svc.stop() == 0


def test_unknown_user_is_a_configuration_error(tmp_path):
    cfg = tmp_path / "argus.yaml"
    cfg.write_text("service:\n  user: no-such-user-here\n")
    p = subprocess.run([ARGUS, "run", "--config", str(cfg), "--check"], capture_output=True,
                       text=True)
    assert p.returncode == 2
    assert f"{cfg}:2:" in p.stderr and "no-such-user-here" in p.stderr, p.stderr
    cfg.write_text("service:\n  user: root\n")
    p = subprocess.run([ARGUS, "run", "--config", str(cfg), "--check"], capture_output=True,
                       text=True)
    assert p.returncode == 2 and "root" in p.stderr, p.stderr
