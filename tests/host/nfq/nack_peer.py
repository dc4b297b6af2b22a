#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Sends NACKs to a tlstap sender, as a receiver would or as a stranger
or a flood would, and reports on stdout (JSON) how many it sent and how
many datagrams came back to its own socket (a sender must answer to the
target's address, never to a NACK's source).
Usage: nack_peer.py --src ADDR [--sport N] --to ADDR:PORT --stream ID
       --ranges A-B[,C-D...] [--count N | --duration S] [--malformed KIND]
       [--listen S]"""

import argparse
import json
import socket
import struct
import time

import tlstap_ref as ref


def nack(stream, ranges, malformed):
    body = b"".join(struct.pack(">II", a, b) for a, b in ranges)
    hdr = [ref.MSG_NACK, ref.WIRE_VERSION, ref.MSG_HDR_LEN, 0, stream, 0,
           ref.MSG_HDR_LEN + len(body), len(ranges)]
    if malformed == "seq":          # NACK with a seq other than 0
        hdr[5] = 1
    elif malformed == "order":      # ranges descending
        body = b"".join(struct.pack(">II", a, b) for a, b in reversed(ranges))
    elif malformed == "span":       # a range of 1025 seqs
        a = ranges[0][0]
        body = struct.pack(">II", a, a + 1024)
        hdr[6], hdr[7] = 24, 1
    elif malformed == "type":       # a DATA header on a NACK body
        hdr[0] = ref.MSG_DATA
    return struct.pack(ref.MSG_FMT, *hdr) + body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--sport", type=int, default=0)
    ap.add_argument("--to", required=True)
    ap.add_argument("--stream", type=int, required=True)
    ap.add_argument("--ranges", required=True)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--duration", type=float, default=0)
    ap.add_argument("--malformed")
    ap.add_argument("--listen", type=float, default=0)
    args = ap.parse_args()

    ranges = [tuple(int(x) for x in r.split("-")) for r in args.ranges.split(",")]
    msg = nack(args.stream, ranges, args.malformed)
    host, port = args.to.rsplit(":", 1)
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((args.src, args.sport))
    dest = (host, int(port))
    sent = 0
    start = time.monotonic()
    if args.duration:
        while time.monotonic() - start < args.duration:
            try:
                s.sendto(msg, dest)
                sent += 1
            except BlockingIOError:
                time.sleep(0.0001)
    else:
        for _ in range(args.count):
            s.sendto(msg, dest)
            sent += 1
    elapsed = time.monotonic() - start
    replies = 0
    if args.listen:
        s.settimeout(args.listen)
        try:
            while True:
                s.recv(65536)
                replies += 1
        except (socket.timeout, ConnectionRefusedError):
            pass
    print(json.dumps({"sent": sent, "seconds": elapsed, "replies": replies}))


if __name__ == "__main__":
    main()
