"""The TCP attributes of section 11.4 that test_scan.py does not compare:
protocol, the byte and segment counters and their averages, the interface
fields inside a connection, and the connection times.

The guest has no ss(8) to show a socket's counters: a transfer of known
size each way gives the bytes exactly, and the guest's own segment
counters (/proc/net/snmp) the segments of a pair that is the only TCP
traffic while it runs.  The times are the service's (first observed): they
are compared with the host's clock around the scans that saw them.
"""
import datetime
import time

import pytest

from conftest import Service
from test_scan import Tally, scan

C2S, S2C = 1234, 700            # bytes the client sends, the server answers
C2S6, S2C6 = 1500, 333          # the same over IPv6


def snmp_tcp(guest):
    lines = [l.split() for l in guest.check("cat /proc/net/snmp").splitlines()
             if l.startswith("Tcp:")]
    return dict(zip(lines[0][1:], map(int, lines[1][1:])))


def proc_net_tcp(guest):
    """{inode: protocol} from /proc/net/tcp and tcp6 (by address length)."""
    out = {}
    for l in guest.check("argus-truth tcp").splitlines():
        f = l.split()
        if len(f) > 9 and ":" in f[1] and f[0] != "sl":
            out[int(f[9])] = "TCP" if len(f[1].split(":")[0]) == 8 else "TCPv6"
    return out


@pytest.fixture(scope="module")
def pair(guest):
    """Two connections over loopback, v4 and v6, each with a known transfer
    both ways, then idle; the guest's segment counters around them."""
    # what earlier tests left (a closing connection) moves no more
    before, deadline = snmp_tcp(guest), time.monotonic() + 15
    while time.monotonic() < deadline:
        time.sleep(1)
        now = snmp_tcp(guest)
        if (now["InSegs"], now["OutSegs"]) == (before["InSegs"], before["OutSegs"]):
            break
        before = now
    pids = [guest.spawn(f"exec socat TCP-LISTEN:8097,reuseaddr "
                        f"SYSTEM:'head -c {S2C} /dev/zero; exec sleep 1000'"),
            guest.spawn(f"exec socat TCP6-LISTEN:8098,reuseaddr "
                        f"SYSTEM:'head -c {S2C6} /dev/zero; exec sleep 1000'")]
    time.sleep(1)
    pids += [guest.spawn(f"(head -c {C2S} /dev/zero; exec sleep 1000) | "
                         f"exec socat - TCP:127.0.0.1:8097 >/dev/null"),
             guest.spawn(f"(head -c {C2S6} /dev/zero; exec sleep 1000) | "
                         f"exec socat - TCP6:[::1]:8098 >/dev/null")]
    time.sleep(3)       # delayed ACKs sent: nothing more moves
    yield before
    guest.run("; ".join(f"kill -9 -{p} {p}" for p in pids))


def ends(d, port):
    """The client's and the server's end of the connection to port."""
    def one(conns):
        # one socket, held by socat and the SYSTEM child it forked: the same
        # counters from each holder
        socks = {(c["source_port"], c["destination_port"]): c for c in conns}
        assert len(socks) == 1, (port, conns)
        assert len({tuple(sorted((k, v) for k, v in c.items() if k.startswith("tcp_")))
                    for c in conns}) == 1, conns
        return conns[0]
    return (one([c for c in d["tcp_connections"] if c["destination_port"] == port]),
            one([c for c in d["tcp_connections"] if c["source_port"] == port and
                 c["connection_state"] == "ESTABLISHED"]))


def test_bytes_segments_and_protocol(guest, pair):
    d = scan(guest)
    after = snmp_tcp(guest)
    t = Tally()
    segs_in = segs_out = 0
    for port, proto, c2s, s2c in ((8097, "TCP", C2S, S2C), (8098, "TCPv6", C2S6, S2C6)):
        cli, srv = ends(d, port)
        for who, c, bin_, bout in (("client", cli, s2c, c2s), ("server", srv, c2s, s2c)):
            w = f"{who} of :{port}"
            t.check("tcp_connection", w, "protocol", proto, c["protocol"])
            t.check("tcp_connection", w, "tcp_bytes_in", bin_, c["tcp_bytes_in"])
            t.check("tcp_connection", w, "tcp_bytes_out", bout, c["tcp_bytes_out"])
            # a segment or more of data, and the handshake's
            t.check("tcp_connection", w, "segments in >= 2", True, c["tcp_segments_in"] >= 2)
            t.check("tcp_connection", w, "segments out >= 2", True, c["tcp_segments_out"] >= 2)
            for way in ("in", "out"):
                n, b = c[f"tcp_segments_{way}"], c[f"tcp_bytes_{way}"]
                t.check("tcp_connection", w, f"tcp_average_bytes_{way}", b // n if n else 0,
                        c[f"tcp_average_bytes_{way}"])
            segs_in += c["tcp_segments_in"]
            segs_out += c["tcp_segments_out"]
        # over loopback each segment one end sends, the other receives; but
        # the SYN-ACK: the listener's request socket sends it before the
        # server's socket exists (which counts the SYN as its first in)
        t.check("tcp_connection", f":{port}", "client out == server in",
                cli["tcp_segments_out"], srv["tcp_segments_in"])
        t.check("tcp_connection", f":{port}", "server out + SYN-ACK == client in",
                srv["tcp_segments_out"] + 1, cli["tcp_segments_in"])
    # the pairs were the guest's only TCP traffic: its counters are the sums
    # (with the two SYN-ACKs no connected socket counts as sent)
    t.check("tcp_connection", "guest", "InSegs since the pairs began",
            after["InSegs"] - pair["InSegs"], segs_in)
    t.check("tcp_connection", "guest", "OutSegs since the pairs began",
            after["OutSegs"] - pair["OutSegs"], segs_out + 2)
    # protocol of every connection, by the table the guest lists it in
    fds = {(f["process_id"], f["file_descriptor_index"]): f for f in d["file_descriptors"]}
    truth = proc_net_tcp(guest)
    for c in d["tcp_connections"]:
        ino = fds[(c["process_id"], c["file_descriptor_id"])]["file_descriptor_inode_number"]
        t.check("tcp_connection", f"socket {ino}", "protocol", truth.get(ino), c["protocol"])
    t.report()


def guest_interfaces(guest):
    """{address: (interface, mac, [v4], [v6])} from ip(8) and sysfs."""
    ifs = {}
    for l in guest.check("ip -o addr").splitlines():
        f = l.split()
        name, fam, addr = f[1], f[2], f[3].split("/")[0]
        mac = guest.check(f"cat /sys/class/net/{name}/address").strip()
        i = ifs.setdefault(name, (mac, [], []))
        i[1 if fam == "inet" else 2].append(addr)
    return {a: (name, mac, sorted(v4), sorted(v6))
            for name, (mac, v4, v6) in ifs.items() for a in v4 + v6}


def test_interface_fields(guest, pair):
    """A connection's interface is the one holding its source address."""
    d = scan(guest)
    by_addr = guest_interfaces(guest)
    t = Tally()
    for c in d["tcp_connections"]:
        w = f"pid {c['process_id']} fd {c['file_descriptor_id']} {c['source_ip_address']}"
        want = by_addr.get(c["source_ip_address"])
        if want is None:
            t.check("tcp_connection", w, "no interface", None,
                    c.get("workload_network_interface_name"))
            continue
        got = (c.get("workload_network_interface_name"),
               c.get("workload_network_interface_mac_address"),
               sorted(c.get("workload_network_interface_ipv4_address", [])),
               sorted(c.get("workload_network_interface_ipv6_address", [])))
        for i, field in enumerate(("name", "mac_address", "ipv4_address", "ipv6_address")):
            t.check("tcp_connection", w, f"workload_network_interface_{field}", want[i], got[i])
    t.report()
    names = {c.get("workload_network_interface_name") for c in d["tcp_connections"]}
    assert "lo" in names, names


def iso_ns(s):
    base = datetime.datetime.fromisoformat(s[:19] + s[29:])
    return int(base.timestamp()) * 10**9 + int(s[20:29])


def test_connection_times(guest, tmp_path):
    """Creation is when a scan first saw the connection, termination when
    one first found it gone, the duration their difference."""
    s = Service(tmp_path, guest, sleep="500ms")
    srv = guest.spawn("exec socat TCP-LISTEN:8096,reuseaddr EXEC:cat")
    cli = None
    try:
        time.sleep(1)
        t0 = time.time_ns()
        cli = guest.spawn("exec socat TCP:127.0.0.1:8096 EXEC:'sleep 1000'")

        def conn(name):
            return lambda m: (m["activity_data"]["name"] == name and
                              m["activity_data"]["process_details"]["process_id"] == cli)
        created = s.wait_for(conn("Network Connection Created"), timeout=15)
        t1 = time.time_ns()
        assert len(created) == 1, created
        c = created[0]["activity_data"]["network_connection_details"]
        born = iso_ns(c["tcp_connection_creation_time_iso_8601_ns"])
        assert t0 <= born <= t1, (t0, born, t1)
        assert "tcp_connection_termination_time_iso_8601_ns" not in c
        assert 0 <= c["tcp_connection_overall_duration_ns"] <= t1 - born
        time.sleep(2)
        t2 = time.time_ns()
        guest.check(f"kill {cli}")
        gone = s.wait_for(conn("Network Connection Terminated"), timeout=15)
        t3 = time.time_ns()
        assert len(gone) == 1, gone
        g = gone[0]["activity_data"]["network_connection_details"]
        assert iso_ns(g["tcp_connection_creation_time_iso_8601_ns"]) == born
        died = iso_ns(g["tcp_connection_termination_time_iso_8601_ns"])
        assert t2 <= died <= t3, (t2, died, t3)
        assert g["tcp_connection_overall_duration_ns"] == died - born
    finally:
        guest.run(f"kill {srv} {cli or ''} 2>/dev/null")
        s.stop()
