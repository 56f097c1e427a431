#!/usr/bin/python3
"""The receiving side of the Fluent Forward protocol v1 (Message, Forward,
PackedForward and CompressedPackedForward modes), on loopback, for the
tests: every record is appended to OUT as a JSON line {"tag", "chunk",
"message_id"} (flushed) before the chunk is acknowledged with {"ack": ID}.

--die-unacked N: exit (as a crash would) after writing the Nth chunk's
records and before acknowledging it, so the sender must send that chunk
again -- the records then appear twice in OUT, under the same chunk ID.
--lose N: exit on reading the Nth chunk, before writing it (a receiver that
crashed with the chunk in memory): unless it is sent again, it is lost."""
import argparse
import gzip
import json
import os
import socket

import msgpack


def entries(e):
    if isinstance(e, (bytes, bytearray)):          # PackedForward: a msgpack stream
        if e[:2] == b"\x1f\x8b":                   # CompressedPackedForward
            e = gzip.decompress(e)
        u = msgpack.Unpacker(raw=False, strict_map_key=False)
        u.feed(e)
        return list(u)
    return e


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("out")
    ap.add_argument("--die-unacked", type=int, default=0)
    ap.add_argument("--lose", type=int, default=0)
    a = ap.parse_args()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.port))
    ls.listen(4)
    out = open(a.out, "a")
    chunks = 0
    while True:
        c, _ = ls.accept()
        u = msgpack.Unpacker(raw=False, strict_map_key=False)
        while True:
            d = c.recv(65536)
            if not d:
                break
            u.feed(d)
            for m in u:
                tag = m[0]
                if isinstance(m[1], (int, msgpack.ext.ExtType, msgpack.Timestamp)):
                    es, opt = [[m[1], m[2]]], (m[3] if len(m) > 3 else {})   # Message mode
                else:
                    es, opt = entries(m[1]), (m[2] if len(m) > 2 else {})
                chunk = opt.get("chunk")
                if chunks + 1 == a.lose:
                    os._exit(4)
                for t, rec in es:
                    mid = rec.get("message_id") if isinstance(rec, dict) else None
                    out.write(json.dumps({"tag": tag, "chunk": chunk, "message_id": mid}) + "\n")
                out.flush()
                chunks += 1
                if chunks == a.die_unacked:
                    os._exit(3)
                if chunk:
                    c.sendall(msgpack.packb({"ack": chunk}))
        c.close()


main()
