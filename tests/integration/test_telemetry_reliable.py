"""Telemetry that survives a receiver restart: the Fluent Forward protocol
with chunk acknowledgements against a forward receiver of our own
(fwd_receiver.py: Fluent Bit and fluentd are not in Debian 12), and RELP
against Debian's rsyslog imrelp; each receiver killed and restarted while
the service sends under load.  Every message the service logged must
arrive; what arrives twice is counted (both are at-least-once: a receiver
that dies after taking data but before acknowledging it is sent it
again), and for forward every duplicate must carry the chunk ID of its
first delivery, so a receiver that dedupes by chunk ID sees each message
once."""
import collections
import json
import os
import signal
import subprocess
import sys
import time

from conftest import Service
from conftest import free_port
from test_telemetry import drive

HERE = os.path.dirname(os.path.abspath(__file__))


def churn(guest):
    return guest.spawn("while true; do sleep 0.05 & usleep 30000; done")


def settle(svc, got_ids, timeout=40):
    """Wait until every message the service logged has arrived."""
    deadline = time.monotonic() + timeout
    while True:
        svc.poll()
        sent = [m["message_id"] for m in svc.messages]
        got = got_ids()
        if set(sent) <= set(got) or time.monotonic() > deadline:
            return sent, got
        time.sleep(0.3)


class Fwd:
    def __init__(self, d):
        self.port, self.out, self.dir = free_port(), d / "fwd.jsonl", d
        self.proc = None

    def start(self, die_unacked=0, lose=0):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fwd_receiver.py"),
                                      str(self.port), str(self.out),
                                      "--die-unacked", str(die_unacked), "--lose", str(lose)])
        time.sleep(0.5)

    def kill(self):
        self.proc.kill()
        self.proc.wait(10)

    def records(self):
        if not self.out.exists():
            return []
        return [json.loads(l) for l in open(self.out) if l.endswith("\n")]


def test_forward_across_receiver_restarts(guest, tmp_path):
    rx = Fwd(tmp_path)
    rx.start(die_unacked=3)     # dies after taking its 3rd chunk, before acknowledging it
    svc = Service(tmp_path / "svc", guest, sleep="200ms",
                  output=f"  telemetry:\n    address: 127.0.0.1:{rx.port}\n"
                         f"    format: forward\n    tag: argus.test\n")
    pid = churn(guest)
    try:
        rx.proc.wait(60)
        assert rx.proc.returncode == 3, "the receiver never took 3 chunks"
        time.sleep(2)               # down for 2 s, the service queueing
        rx.start(lose=2)            # dies on reading its 2nd chunk, before writing it
        rx.proc.wait(60)
        assert rx.proc.returncode == 4, "the receiver never read 2 chunks"
        time.sleep(1)
        rx.start()
        time.sleep(4)
        rx.kill()                   # killed wherever it is in the stream
        time.sleep(3)
        rx.start()
        time.sleep(3)
        guest.run(f"kill {pid}")
        drive(guest, 2)
        settle(svc, lambda: [r["message_id"] for r in rx.records()])
    finally:
        svc.stop()              # drains what is queued (3 s)
        rx.kill()
    svc.poll()
    sent = [m["message_id"] for m in svc.messages]
    recs = rx.records()
    got = [r["message_id"] for r in recs]
    assert {r["tag"] for r in recs} == {"argus.test"}
    lost = set(sent) - set(got)
    assert not lost, f"{len(lost)} of {len(set(sent))} messages lost"
    assert set(got) <= set(sent)
    dups = len(got) - len(set(got))
    # what a receiver deduping by chunk ID keeps: one delivery of each chunk
    by_chunk = collections.defaultdict(list)
    for r in recs:
        by_chunk[r["chunk"]].append(r["message_id"])
    kept = []
    for ids in by_chunk.values():
        first = ids[:len(set(ids))]     # a resent chunk repeats the same records in order
        assert ids == first * (len(ids) // len(first)), "a chunk resent with other records"
        kept += first
    assert sorted(kept) == sorted(set(sent)), "after dedupe by chunk ID, not each message once"
    assert dups > 0, "the chunk taken but never acknowledged was not sent again"
    print(f"forward: {len(set(sent))} messages logged, {len(got)} records received, "
          f"{len(set(got))} unique, {dups} duplicates in {sum(len(v) > len(set(v)) for v in by_chunk.values())} "
          f"resent chunks, 0 after dedupe by chunk ID; {len(by_chunk)} chunks")


class Rsyslog:
    def __init__(self, d):
        self.root = subprocess.run([os.path.join(HERE, "fetch-rsyslog.sh")], check=True,
                                   capture_output=True, text=True).stdout.strip()
        self.dir, self.port, self.out = d, free_port(), d / "relp.out"
        (d / "work").mkdir()
        # a Direct main queue: a message is written (omfile, flushed at the end of
        # each batch of one) before imrelp acknowledges it, so kill -9 loses nothing acked
        (d / "rsyslog.conf").write_text(f"""
global(workDirectory="{d}/work" maxMessageSize="1m")
main_queue(queue.type="Direct")
module(load="imrelp")
input(type="imrelp" port="{self.port}" address="127.0.0.1" maxDataSize="1m")
template(name="raw" type="string" string="%app-name% %msg%\\n")
action(type="omfile" file="{self.out}" template="raw" asyncWriting="off" flushOnTXEnd="on")
""")
        self.proc = None

    def start(self):
        d = self.dir
        self.proc = subprocess.Popen(
            [os.path.join(self.root, "usr/sbin/rsyslogd"), "-n", "-f", str(d / "rsyslog.conf"),
             "-i", str(d / "rsyslog.pid"), "-M",
             os.path.join(self.root, "usr/lib/x86_64-linux-gnu/rsyslog")],
            stdout=open(d / "rsyslog.log", "a"), stderr=subprocess.STDOUT)
        time.sleep(1)
        assert self.proc.poll() is None, (d / "rsyslog.log").read_text()

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        self.proc.wait(20)

    def lines(self):
        out = []
        if self.out.exists():
            for line in open(self.out, errors="replace"):
                if line.endswith("\n") and " " in line:
                    app, msg = line.split(" ", 1)
                    out.append((app, json.loads(msg)["message_id"]))
        return out


def test_relp_across_rsyslog_restarts(guest, tmp_path):
    rx = Rsyslog(tmp_path)
    rx.start()
    svc = Service(tmp_path / "svc", guest, sleep="200ms",
                  output=f"  telemetry:\n    address: 127.0.0.1:{rx.port}\n"
                         f"    format: relp\n    tag: argus-relp\n")
    pid = churn(guest)
    try:
        time.sleep(4)
        rx.stop()                   # a clean restart
        time.sleep(2)
        rx.start()
        time.sleep(4)
        rx.stop(signal.SIGKILL)     # a crash
        time.sleep(2)
        rx.start()
        time.sleep(3)
        guest.run(f"kill {pid}")
        drive(guest, 2)
        settle(svc, lambda: [i for _, i in rx.lines()])
    finally:
        svc.stop()
        rx.stop()
    svc.poll()
    sent = [m["message_id"] for m in svc.messages]
    got = [i for _, i in rx.lines()]
    assert {a for a, _ in rx.lines()} == {"argus-relp"}
    lost = set(sent) - set(got)
    assert not lost, f"{len(lost)} of {len(set(sent))} messages lost"
    assert set(got) <= set(sent)
    print(f"relp: {len(set(sent))} messages logged, {len(got)} received, "
          f"{len(got) - len(set(got))} duplicates, across a restart and a kill -9 of rsyslogd")
