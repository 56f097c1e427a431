"""Hostile strings: processes in the guest whose names, arguments, working
directories, open files and bash commands hold quotes, backslashes,
newlines, terminal escapes, invalid UTF-8 and a 100 KiB argument.

Every JSON document and line argus writes still parses, every hostile
field decodes to exactly the guest's bytes (invalid UTF-8 as the text
\\xNN, as docs/configuration.md says), a string cut at string_length ends
with the visible mark, and every RFC 5424 frame sent over TCP is exactly
one frame whose message is one JSON object."""
import json
import re
import socket
import threading
import time

import pytest

from conftest import Service, run_argus

MARK = "[...truncated]"
STRING_LENGTH = 4096

# raw bytes, as the guest holds them (printf octal escapes build them there)
NAME = b'ev"il\\n\n\x1b[31m\xff\xfe\xc3 z'          # an executable's file name
ARG = b'a "quoted" \\back\\ \n line\x1b]0;title\x07 \xe2\x9c\x93 \xc0\xaf'
DIR = b'dir \' " \\ \n\x1b[2J\xff'
FILE = b'file\n"name\\\x1b\xfe'
# (bash -i edits its input with readline, which takes escape and control
# characters as keys: they never reach the history, so none are typed here)
BASH_CMDS = [b'echo "q" \'s\' \\\\ \xe2\x9c\x93 </script>',
             b'echo $\'new\\nline\'  # {"json": "inject"}',
             b'echo \xff\xfe invalid']


def octal(b):
    """printf(1) format text that makes exactly the bytes b."""
    return "".join(f"\\{c:03o}" for c in b)


def decoded(b):
    """What argus's JSON must decode to for these guest bytes."""
    return b.decode("utf-8", errors="backslashreplace")


class SyslogRx:
    """A strict RFC 6587 octet-counting receiver: every frame is
    'LEN SP MSG' with MSG exactly LEN bytes."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.frames, self.errors = [], []
        self.stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            threading.Thread(target=self._conn, args=(c,), daemon=True).start()

    def _conn(self, c):
        buf = b""
        c.settimeout(0.2)
        while not self.stop:
            try:
                chunk = c.recv(1 << 16)
            except socket.timeout:
                continue
            if not chunk:
                break
            buf += chunk
            while True:
                sp = buf.find(b" ")
                if sp < 0:
                    break
                if not buf[:sp].isdigit():
                    self.errors.append(f"frame does not start with a length: {buf[:60]!r}")
                    return
                n = int(buf[:sp])
                if len(buf) < sp + 1 + n:
                    break
                self.frames.append(buf[sp + 1:sp + 1 + n])
                buf = buf[sp + 1 + n:]
        c.close()


@pytest.fixture(scope="module")
def hostile(guest, tmp_path_factory):
    rx = SyslogRx()
    svc = Service(tmp_path_factory.mktemp("hostile"), guest, sleep="500ms",
                  output=f"  telemetry:\n    address: 127.0.0.1:{rx.port}\n    format: syslog\n"
                         f"    tag: argus\n")
    big = b"A" * (100 * 1024)
    guest.check(f"n=$(printf '{octal(NAME)}'); d=$(printf '{octal(DIR)}'); "
                f"mkdir -p \"/tmp/$d\" && cp /bin/bash \"/tmp/$n\"")
    pid = guest.spawn(f"n=$(printf '{octal(NAME)}'); d=$(printf '{octal(DIR)}'); "
                      f"f=$(printf '{octal(FILE)}'); a=$(printf '{octal(ARG)}'); "
                      f"cd \"/tmp/$d\" && exec \"/tmp/$n\" -c 'exec 5>\"$1\"; sleep 1000; :' "
                      f"\"$a\" \"$f\" \"$(head -c {len(big)} /dev/zero | tr '\\0' A)\"")
    from test_scan import Bash
    b = Bash(guest, "hostile")
    time.sleep(1.5)
    for cmd in BASH_CMDS:
        # printf sends the raw bytes, one line each: one history entry
        guest.check(f"printf '{octal(cmd)}\\n' >{b.fifo}")
    time.sleep(3 * svc.sleep_s + 1)
    svc.poll()
    yield {"svc": svc, "rx": rx, "pid": pid, "bash": b, "guest": guest,
           "argv": [b"/tmp/" + NAME, b"-c", b"exec 5>\"$1\"; sleep 1000; :", ARG, FILE, big]}
    b.close()
    guest.run(f"kill {pid}; n=$(printf '{octal(NAME)}'); d=$(printf '{octal(DIR)}'); "
              f"rm -rf \"/tmp/$n\" \"/tmp/$d\"")
    svc.stop()
    rx.stop = True


def expected_cmdline(argv):
    raw = b" ".join(argv)
    return decoded(raw[:STRING_LENGTH]) + MARK


def check_process(p, h):
    assert p["process_name"] == decoded(NAME[:15]), p["process_name"]
    assert p["process_current_working_directory"] == "/tmp/" + decoded(DIR)
    assert p["process_executable_path"] == "/tmp/" + decoded(NAME)
    want = expected_cmdline(h["argv"])
    got = p["process_command_line_arguments"]
    assert got == want, f"cmdline: {got[:200]!r}... ({len(got)}), want {want[:200]!r}... ({len(want)})"


def test_scan_document_parses_and_decodes(hostile):
    h = hostile
    out = run_argus("scan", "--source", f"qemu:{h['guest'].ram_path}", "--once")
    d = json.loads(out.stdout)     # strict: one valid JSON document
    [p] = [p for p in d["processes"] if p["process_id"] == h["pid"]]
    check_process(p, h)
    fds = [f for f in d["file_descriptors"]
           if f["process_id"] == h["pid"] and f["file_descriptor_index"] == 5]
    assert fds and fds[0]["file_descriptor_name"] == "/tmp/" + decoded(DIR) + "/" + decoded(FILE)
    hist = [e["shell_command_execution_history"]["command_line"] for e in d["shell_history"]
            if e["process_id"] == h["bash"].pid]
    # (bash -i first loads ~/.bash_history: earlier shells' commands come first)
    assert hist[-len(BASH_CMDS):] == [decoded(c) for c in BASH_CMDS], hist
    assert d["scan_statistics"]["strings_truncated"] >= 1


def test_ps_json_lines_parse(hostile):
    out = run_argus("ps", "--source", f"qemu:{hostile['guest'].ram_path}", "--json")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    [p] = [r for r in rows if r["process_id"] == hostile["pid"]]
    assert p["process_name"] == decoded(NAME[:15])


def test_event_log_lines_parse_and_decode(hostile):
    svc, h = hostile["svc"], hostile
    with open(svc.events_path, "rb") as f:
        for i, line in enumerate(f):
            assert line.endswith(b"\n")
            json.loads(line)       # raises on any broken line
    # the process is first seen as the shell that spawns it, or already
    # as the program it exec'd: every message about it after the exec
    # (Process Created, or the descriptor it opens) carries its hostile names
    mine = [m["activity_data"]["process_details"] for m in svc.messages
            if m["activity_data"].get("process_details", {}).get("process_id") == h["pid"]
            and m["message_type"] != "SYSTEM_ACTIVITY"]
    assert mine, "no message about the hostile process"
    after = [p for p in mine if p.get("process_executable_path", "").startswith("/tmp/")]
    assert after, f"no message about the hostile process after its exec: {mine[-1]}"
    check_process(after[-1], h)
    cmds = [m["activity_data"]["shell_history_details"]["shell_command_execution_history"]["command_line"]
            for m in svc.messages if m["activity_data"]["name"] == "Shell Command Executed"]
    for c in BASH_CMDS:
        assert decoded(c) in cmds, f"Shell Command Executed lacks {c!r}: {cmds}"


def test_syslog_frames_stay_frames(hostile):
    svc, rx = hostile["svc"], hostile["rx"]
    deadline = time.monotonic() + 20
    while True:
        svc.poll()
        if len(rx.frames) >= len(svc.messages) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not rx.errors, rx.errors
    ids = []
    for fr in rx.frames:
        assert re.match(rb"<\d{1,3}>1 ", fr), fr[:80]
        head, sep, msg = fr.partition(b" - ")
        # HEADER: PRI VERSION TIMESTAMP HOSTNAME APP-NAME PROCID(-) MSGID
        fields = head.split(b" ")
        assert len(fields) == 4, f"header {head!r}"
        assert all(32 < c < 127 for f in fields for c in f), head
        msgid, sep2, body = msg.partition(b" - ")
        assert sep and sep2 and msgid in (b"EVENT", b"ALERT", b"SYSTEM_ACTIVITY"), fr[:120]
        assert b"\n" not in body, "a raw newline inside a frame's JSON"
        ids.append(json.loads(body)["message_id"])
    logged = [m["message_id"] for m in svc.messages]
    assert sorted(ids) == sorted(logged), f"{len(ids)} frames, {len(logged)} logged"
