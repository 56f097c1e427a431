"""The packaged logrotate file, run by the real logrotate against a running
service under load: every message the service wrote (its stdout has each
one too) is in exactly one of the event log's files, none twice."""
import gzip
import json
import os
import re
import subprocess
import time

from conftest import Service

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def ids(text):
    return [json.loads(l)["message_id"] for l in text.splitlines() if l.strip()]


def test_logrotate_loses_nothing(guest, tmp_path):
    svc = Service(tmp_path / "svc", guest, sleep="200ms", split_stderr=True)
    # the packaged file, pointed at this service's folder and process
    with open(os.path.join(ROOT, "debian", "argus.logrotate")) as f:
        conf = f.read()
    conf = conf.replace("/var/log/argus/*.log", f"{os.path.dirname(svc.events_path)}/*.log")
    conf = re.sub(r"postrotate\n.*?endscript",
                  f"postrotate\n\t\tkill -HUP {svc.proc.pid}\n\tendscript", conf, flags=re.S)
    assert f"kill -HUP {svc.proc.pid}" in conf
    cfg = tmp_path / "logrotate.conf"
    cfg.write_text(conf)
    load = guest.spawn("while true; do sleep 0.05 & usleep 20000; done")
    try:
        for _ in range(6):
            time.sleep(1.5)
            p = subprocess.run(["logrotate", "-f", "-s", str(tmp_path / "state"), str(cfg)],
                               capture_output=True, text=True)
            assert p.returncode == 0, p.stderr
    finally:
        guest.run(f"kill {load}")
    time.sleep(1)
    assert svc.stop(check_alerts=False) == 0
    folder = os.path.dirname(svc.events_path)
    in_files = []
    names = sorted(os.listdir(folder))
    assert len([n for n in names if n != "argus-events.log"]) >= 5, names
    for n in names:
        path = os.path.join(folder, n)
        opener = gzip.open if n.endswith(".gz") else open
        with opener(path, "rt") as f:
            in_files += ids(f.read())
    with open(os.path.join(svc.dir, "stdout.log")) as f:
        on_stdout = ids(f.read())
    assert not svc.stdout_alerts(), f"alerts from a fork loop: {svc.stdout_alerts()}"
    assert len(on_stdout) > 200, f"too little load: {len(on_stdout)} messages"
    assert len(in_files) == len(set(in_files)), "a message written twice"
    assert set(in_files) == set(on_stdout), \
        f"{len(set(on_stdout) - set(in_files))} messages lost, " \
        f"{len(set(in_files) - set(on_stdout))} not on stdout"
