#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Checks a pcapng written from captured HTTPS exchanges, with tshark.

Usage: check_https.py PCAPNG SERVER_PORT=FILE...

Every TCP connection in the file must be one of the exchanges: its
server port names the file that was downloaded. Per connection: it opens
with the client's SYN, the SYN-ACK and the ACK and ends with the
client's FIN (the hooked client ended it), the server's FIN and the last
ACK; tshark's TCP stream, reassembled from the segments' sequence
numbers, carries the client's request (a GET request line ... blank
line) and the server's response, whose body is the file, byte for byte;
no sequence hole; and, over the whole file, no malformed packet, no
expert error, every IP and TCP checksum good. Prints one line per
connection; on failure a line starting with FAIL, exit 1."""

import sys
from collections import defaultdict

from tsharkrows import check_frame, fail, rows

FIELDS = ["tcp.stream", "tcp.srcport", "tcp.dstport", "tcp.flags",
          "tcp.seq_raw", "tcp.len", "tcp.payload"]


def main():
    path = sys.argv[1]
    files = {}
    for arg in sys.argv[2:]:
        port, f = arg.split("=", 1)
        files[int(port)] = open(f, "rb").read()
    streams = defaultdict(list)
    for r in rows(path, FIELDS):
        check_frame(r)
        streams[r["tcp.stream"]].append(r)
    if len(streams) != len(files):
        fail("%d TCP connections, want %d" % (len(streams), len(files)))
    for sid, pkts in sorted(streams.items()):
        syn = pkts[0]
        if int(syn["tcp.flags"], 16) & 0x12 != 0x02:
            fail("stream %s does not start with a SYN" % sid)
        sport = int(syn["tcp.dstport"])
        shake = [(int(p["tcp.srcport"]) == sport, int(p["tcp.flags"], 16) & 0x17)
                 for p in pkts[:3]]
        end = [(int(p["tcp.srcport"]) == sport, int(p["tcp.flags"], 16) & 0x17)
               for p in pkts[-3:]]
        if shake != [(False, 0x02), (True, 0x12), (False, 0x10)]:
            fail("stream %s: no SYN, SYN-ACK, ACK from the client first: %s"
                 % (sid, shake))
        if end != [(False, 0x11), (True, 0x11), (False, 0x10)] or \
                sum(int(p["tcp.flags"], 16) & 0x01 for p in pkts) != 2:
            fail("stream %s: does not end with the client's FIN, the "
                 "server's, the ACK: %s" % (sid, end))
        if sport not in files:
            fail("stream %s: server port %d is none of %s" % (sid, sport, sorted(files)))
        data = {}
        for direction, src in (("request", int(syn["tcp.srcport"])), ("response", sport)):
            segs = sorted((int(p["tcp.seq_raw"]), bytes.fromhex(p["tcp.payload"].replace(":", "")))
                          for p in pkts if int(p["tcp.srcport"]) == src and int(p["tcp.len"] or 0))
            buf, nxt = b"", None
            for seq, payload in segs:
                if nxt is not None and seq != nxt:
                    fail("stream %s %s: hole or overlap at seq %d (want %d)" % (sid, direction, seq, nxt))
                buf += payload
                nxt = seq + len(payload)
            data[direction] = buf
        req, resp = data["request"], data["response"]
        if not req.startswith(b"GET /") or not req.endswith(b"\r\n\r\n"):
            fail("stream %s: request %r" % (sid, req[:60]))
        head, sep, body = resp.partition(b"\r\n\r\n")
        if not sep or not head.startswith(b"HTTP/1."):
            fail("stream %s: response starts %r" % (sid, resp[:60]))
        if body != files[sport]:
            fail("stream %s: body of %d bytes is not the %d-byte file"
                 % (sid, len(body), len(files[sport])))
        print("stream %s: %s -> port %d, request %d bytes, response %s + %d-byte body, exact"
              % (sid, req.split(b"\r\n")[0].decode(), sport, len(req),
                 head.split(b"\r\n")[0].decode(), len(body)))


if __name__ == "__main__":
    main()
