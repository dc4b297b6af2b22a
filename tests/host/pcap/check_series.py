#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Checks a rotated pcapng series against the records that went into it.

Usage: check_series.py EXPECT.json... -- FILE...

EXPECT.json: the test writer's expected records (gen_records.py
--expect: JSON lines with type, src, sport, dst, dport, data). FILE: the
series' files in their order. Checked, with tshark on each file alone:
every file opens (a valid pcapng of its own), nothing malformed, no
expert error, every checksum good; each connection has exactly one SYN,
SYN-ACK, ACK, in the file of its OPEN, and one FIN each way, and its
first frame in every later file says it continues there (a tlstap
comment); and the files together hold every record's plaintext
exactly once: per direction of a connection, the payloads of all files
in order are the records' in order. Prints a summary; on failure one
line starting with FAIL, exit 1."""

import base64
import json
import sys
from collections import defaultdict

from tsharkrows import check_frame, ends, fail, norm, rows

FIELDS = ["ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport",
          "tcp.flags", "tcp.len", "tcp.payload", "frame.comment"]


def main():
    cut = sys.argv.index("--")
    expects, files = sys.argv[1:cut], sys.argv[cut + 1:]
    want = defaultdict(bytearray)       # (src, dst) -> plaintext in order
    for path in expects:
        for line in open(path):
            e = json.loads(line)
            if e["type"] == "data":
                key = ((norm(e["src"]), e["sport"]), (norm(e["dst"]), e["dport"]))
                want[key] += base64.b64decode(e["data"])
    got = defaultdict(bytearray)
    syns = defaultdict(list)            # connection -> files of its SYNs
    fins = defaultdict(int)
    seen_in = defaultdict(set)
    packets = 0
    for n, path in enumerate(files):
        first_here = {}
        for r in rows(path, FIELDS, timeout=300):
            packets += 1
            check_frame(r, path)
            src, dst = ends(r)
            conn = frozenset((src, dst))
            flags = int(r["tcp.flags"], 16)
            first_here.setdefault(conn, r)
            seen_in[conn].add(n)
            if flags & 0x02 and not flags & 0x10:
                syns[conn].append(n)
            if flags & 0x01:
                fins[conn] += 1
            if int(r["tcp.len"] or 0):
                got[(src, dst)] += bytes.fromhex(r["tcp.payload"].replace(":", ""))
        for conn, r in first_here.items():
            if syns[conn] and syns[conn][0] < n and \
                    "continued from an earlier file" not in r["frame.comment"]:
                fail("%s: the first frame of %s there does not say it "
                     "continues (%r)" % (path, sorted(conn), r["frame.comment"]))
    conns = {frozenset(k) for k in want}
    for conn in conns:
        if len(syns[conn]) != 1:
            fail("connection %s: %d SYNs" % (sorted(conn), len(syns[conn])))
        if fins[conn] != 2:
            fail("connection %s: %d FINs, want 2" % (sorted(conn), fins[conn]))
    extra = set(seen_in) - conns
    if extra:
        fail("connections nobody opened: %s" % sorted(next(iter(extra))))
    for key, data in want.items():
        if bytes(got.get(key, b"")) != bytes(data):
            fail("%s -> %s: %d bytes in the files, the records hold %d"
                 % (key[0], key[1], len(got.get(key, b"")), len(data)))
    spanning = sum(1 for c in conns if len(seen_in[c]) > 1)
    print("OK: %d files, %d packets, %d connections (%d across files), "
          "every record's plaintext once" % (len(files), packets, len(conns),
                                            spanning))
    if not spanning:
        fail("no connection spans two files: rotation was not tested")


if __name__ == "__main__":
    main()
