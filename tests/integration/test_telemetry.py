"""Telemetry to a real syslog-ng on loopback, in JSON lines and in RFC 5424
syslog with octet counting and with newline framing (a network() source
reading one RFC 5424 message a line; its syslog() source reads only octet
counts): what it receives equals the event log, also
across a 10 s outage of the receiver; and the event log's rotation."""
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import Service, free_port


class SyslogNg:
    def __init__(self, d):
        self.dir = d
        self.json_port, self.syslog_port, self.nl_port = free_port(), free_port(), free_port()
        self.json_out, self.syslog_out = d / "json.out", d / "syslog.out"
        (d / "syslog-ng.conf").write_text(f"""@version: 3.35
options {{ stats-freq(0); log-msg-size(1048576); }};
source s_json {{ network(ip(127.0.0.1) port({self.json_port}) transport("tcp")
                 flags(no-parse) log-msg-size(1048576)); }};
source s_syslog {{ syslog(ip(127.0.0.1) port({self.syslog_port}) transport("tcp")
                   log-msg-size(1048576)); }};
source s_nl {{ network(ip(127.0.0.1) port({self.nl_port}) transport("tcp")
               flags(syslog-protocol) log-msg-size(1048576)); }};
destination d_json {{ file("{self.json_out}" template("$MSG\\n")); }};
destination d_syslog {{ file("{self.syslog_out}" template("$PROGRAM $MSG\\n")); }};
log {{ source(s_json); destination(d_json); flags(flow-control); }};
log {{ source(s_syslog); destination(d_syslog); flags(flow-control); }};
log {{ source(s_nl); destination(d_syslog); flags(flow-control); }};
""")
        self.proc = None
        self.start()

    def start(self):
        d = self.dir
        self.proc = subprocess.Popen(
            ["syslog-ng", "-F", "-f", str(d / "syslog-ng.conf"), "--persist-file",
             str(d / "persist"), "--pidfile", str(d / "pid"), "--control", str(d / "ctl"),
             "--no-caps"], stdout=open(d / "syslog-ng.log", "a"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        for port in (self.json_port, self.syslog_port, self.nl_port):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    assert self.proc.poll() is None, (d / "syslog-ng.log").read_text()
                    assert time.monotonic() < deadline, "syslog-ng did not listen"
                    time.sleep(0.1)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(20)

    def ids(self, path):
        out = []
        if os.path.exists(path):
            for line in open(path, errors="replace"):
                line = line.strip()
                if line.startswith("argus "):
                    line = line[len("argus "):]
                if line:
                    out.append(json.loads(line)["message_id"])
        return out


@pytest.fixture
def syslog_ng(tmp_path):
    s = SyslogNg(tmp_path)
    yield s
    s.stop()


def drive(guest, n=5):
    for _ in range(n):
        guest.spawn("exec sleep 0.5")
    time.sleep(2)


def synced(svc, rx, path, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        svc.poll()
        sent = [m["message_id"] for m in svc.messages]
        got = rx.ids(path)
        if set(sent) <= set(got) or time.monotonic() > deadline:
            return sent, got
        time.sleep(0.2)


@pytest.mark.parametrize("fmt", ["json", "syslog", "syslog-newline"])
def test_telemetry_equals_event_log(guest, syslog_ng, tmp_path, fmt):
    port = {"json": syslog_ng.json_port, "syslog": syslog_ng.syslog_port,
            "syslog-newline": syslog_ng.nl_port}[fmt]
    path = syslog_ng.json_out if fmt == "json" else syslog_ng.syslog_out
    framing = "    framing: newline\n" if fmt == "syslog-newline" else ""
    svc = Service(tmp_path / "svc", guest, sleep="300ms",
                  output=f"  telemetry:\n    address: 127.0.0.1:{port}\n"
                         f"    format: {fmt.split('-')[0]}\n{framing}    tag: argus\n")
    try:
        drive(guest)
        sent, got = synced(svc, syslog_ng, path)
        assert len(sent) > 10
        assert sorted(sent) == sorted(got), f"{fmt}: {len(sent)} logged, {len(got)} received"
        # a receiver outage of 10 s: events are queued, then delivered, none lost
        syslog_ng.stop()
        drive(guest)
        time.sleep(8)
        syslog_ng.start()
        drive(guest, 2)
        sent, got = synced(svc, syslog_ng, path, timeout=30)
        assert sorted(sent) == sorted(got), \
            f"{fmt} after restart: {len(sent)} logged, {len(got)} received, {len(set(sent) - set(got))} lost"
        print(f"{fmt}: {len(sent)} messages logged and received, across a 10 s receiver outage")
    finally:
        svc.stop()


def test_rotation(guest, tmp_path):
    svc = Service(tmp_path, guest, sleep="100ms", split_stderr=True,
                  output="  log_threshold_size: 64KB\n  log_max_files: 3\n")
    folder = os.path.dirname(svc.events_path)
    churn = guest.spawn("while true; do sleep 0.05 & usleep 30000; done")
    try:
        deadline = time.monotonic() + 60
        total = 0
        while time.monotonic() < deadline:
            files = os.listdir(folder)
            assert len(files) <= 3, files
            for f in files:
                # rotated before it would exceed the threshold (64KB: KiB)
                assert os.path.getsize(os.path.join(folder, f)) <= 64 * 1024, \
                    (f, os.path.getsize(os.path.join(folder, f)))
            total = sum(os.path.getsize(os.path.join(folder, f)) for f in files)
            if len(files) == 3 and total > 2 * 64 * 1024:
                break
            time.sleep(0.5)
        assert len(os.listdir(folder)) == 3, "did not rotate within 60 s"
    finally:
        guest.run(f"kill {churn}")
        svc.stop()
    assert not svc.stdout_alerts(), f"alerts from a fork loop: {svc.stdout_alerts()}"
    for f in os.listdir(folder):
        with open(os.path.join(folder, f), "rb") as fh:
            for i, line in enumerate(fh):
                try:
                    json.loads(line)
                except ValueError as e:
                    raise AssertionError(f"{f} line {i + 1} is not JSON ({e}): {line[:120]!r}")
    # the rule (docs/configuration.md, log_threshold_size): a file is
    # rotated when the next line would take it over the threshold, so each
    # rotated file plus the first line of the file after it is over it
    names = ["argus-events.log", "argus-events.log.1", "argus-events.log.2"]
    for older, newer in zip(names[1:], names[:-1]):
        with open(os.path.join(folder, newer), "rb") as fh:
            first = fh.readline()
        size = os.path.getsize(os.path.join(folder, older))
        assert size <= 64 * 1024 < size + len(first), \
            f"{older}: {size} bytes, next line {len(first)} bytes: rotated early or late"
