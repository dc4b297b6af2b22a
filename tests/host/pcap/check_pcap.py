#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Reads a pcapng with tshark and checks it against what it must hold.

Usage: check_pcap.py PCAPNG EXPECT.json [--no-comments]

EXPECT.json: {"flows": [{"client": [addr, port], "server": [addr, port],
"closer": [addr, port] or null, "c2s": ITEMS, "s2c": ITEMS}, ...]} where
ITEMS is a list of ["data", hex] and ["hole", n] in order. Checked, with
tshark's own dissection:
  - no malformed packet, no expert error, every IP and TCP checksum good;
    Ethernet frames between the synthetic MAC addresses;
  - every flow is one TCP connection: SYN from the client, SYN-ACK,
    ACK, then segments; a closed one ends with a FIN from the closer, the
    other end's FIN and the closer's ACK, an open one has no FIN;
  - per direction, the segments' sequence numbers run from the SYN's + 1
    with exactly the expected holes between the expected bytes, and the
    FIN (or, without one, the last acknowledgement from the other end)
    covers a trailing hole;
  - a packet after a hole carries a comment from tlstap (not with
    --no-comments: a capture from the TAP output, whose frames carry
    none), and Wireshark's
    analysis flags it, and no other, as following a lost segment
    (tcp.analysis.lost_segment);
  - no TCP connection that is not expected.
Prints a summary; on failure one line starting with FAIL, exit 1."""

import json
import sys
from collections import defaultdict

from tsharkrows import check_frame, ends, fail, norm, rows

FIELDS = ["tcp.stream", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst",
          "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw", "tcp.len",
          "tcp.payload", "frame.comment", "eth.src", "eth.dst",
          "tcp.analysis.lost_segment"]
MACS = {"02:74:6c:73:00:01", "02:74:6c:73:00:02"}


def main():
    path, expect_path = sys.argv[1], sys.argv[2]
    comments = "--no-comments" not in sys.argv[3:]
    expect = json.load(open(expect_path))
    frames = rows(path, FIELDS)
    if not frames:
        fail("%s holds no packets" % path)
    for r in frames:
        check_frame(r)
        if {r["eth.src"], r["eth.dst"]} != MACS:
            fail("frame %s: Ethernet %s -> %s" % (r["frame.number"],
                                                  r["eth.src"], r["eth.dst"]))

    # Packets by connection (unordered ends) and by sending end.
    conns = defaultdict(list)
    for r in frames:
        r["src"], r["dst"] = ends(r)
        conns[frozenset(ends(r))].append(r)

    checked = 0
    after_hole = set()      # frames that follow a hole in their direction
    for fl in expect["flows"]:
        cl = (norm(fl["client"][0]), fl["client"][1])
        sv = (norm(fl["server"][0]), fl["server"][1])
        pkts = conns.pop(frozenset((cl, sv)), None)
        if pkts is None:
            fail("no TCP connection %s <-> %s" % (cl, sv))
        name = "%s:%d<->%s:%d" % (cl + sv)
        streams = {p["tcp.stream"] for p in pkts}
        if len(streams) != 1:
            fail("%s: tshark sees %d TCP streams" % (name, len(streams)))
        flags = [int(p["tcp.flags"], 16) & 0x17 for p in pkts[:3]]
        if flags != [0x02, 0x12, 0x10] or pkts[0]["src"] != cl:
            fail("%s: no SYN, SYN-ACK, ACK from the client first (%s)"
                 % (name, flags))
        isn = {cl: int(pkts[0]["tcp.seq_raw"]), sv: int(pkts[1]["tcp.seq_raw"])}
        fins = [p for p in pkts if int(p["tcp.flags"], 16) & 0x01]
        if fl.get("closer"):
            closer = (norm(fl["closer"][0]), fl["closer"][1])
            other = sv if closer == cl else cl
            tail = [(p["src"], int(p["tcp.flags"], 16) & 0x17) for p in pkts[-3:]]
            if tail != [(closer, 0x11), (other, 0x11), (closer, 0x10)] or \
                    len(fins) != 2:
                fail("%s: does not end with FIN from %s, FIN, ACK: %s"
                     % (name, closer, tail))
        elif fins:
            fail("%s: a FIN in a connection never closed" % name)
        for end, other, items in ((cl, sv, fl["c2s"]), (sv, cl, fl["s2c"])):
            got, nxt = [], isn[end] + 1
            for p in pkts[3:]:
                fin = int(p["tcp.flags"], 16) & 0x01
                if p["src"] != end or not (int(p["tcp.len"] or 0) or fin):
                    continue
                seq = int(p["tcp.seq_raw"])
                gap = (seq - nxt) % (1 << 32)
                if fin:
                    # The FIN takes the sequence number after the last
                    # byte: a jump before it is a trailing hole.
                    if gap:
                        if comments and not p["frame.comment"].startswith("tlstap:"):
                            fail("%s: the FIN after a %d-byte hole has no "
                                 "tlstap comment" % (name, gap))
                        got.append(["hole", gap])
                        after_hole.add(p["frame.number"])
                    nxt = (seq + 1) % (1 << 32)
                    continue
                if gap:
                    after_hole.add(p["frame.number"])
                    if comments and not p["frame.comment"].startswith("tlstap:"):
                        fail("%s: frame %s follows a %d-byte hole without "
                             "a tlstap comment" % (name, p["frame.number"], gap))
                    got.append(["hole", gap])
                payload = p["tcp.payload"].replace(":", "")
                if got and got[-1][0] == "data" and not gap:
                    got[-1][1] += payload
                else:
                    got.append(["data", payload])
                nxt = (seq + int(p["tcp.len"])) % (1 << 32)
            acks = [int(p["tcp.ack_raw"]) for p in pkts[1:] if p["src"] == other]
            if acks:
                tail = (acks[-1] - nxt) % (1 << 32)
                if tail:
                    got.append(["hole", tail])
            want = []
            for kind, v in items:
                if want and want[-1][0] == kind == "data":
                    want[-1][1] += v
                else:
                    want.append([kind, v])
            if got != want:
                short = lambda l: [[k, v if k == "hole" else "%d bytes" % (len(v) // 2)]
                                   for k, v in l]
                fail("%s %s->%s: got %s, want %s" % (
                    name, end, other, short(got), short(want)))
        checked += 1
    if conns:
        extra = next(iter(conns))
        fail("unexpected TCP connection %s" % sorted(extra))
    flagged = {r["frame.number"] for r in frames if r["tcp.analysis.lost_segment"]}
    if flagged != after_hole:
        fail("tcp.analysis.lost_segment on frames %s, the holes are before %s"
             % (sorted(flagged, key=int), sorted(after_hole, key=int)))
    holes = sum(1 for fl in expect["flows"] for k in ("c2s", "s2c")
                for it in fl[k] if it[0] == "hole")
    print("OK: %d packets, %d connections, %d holes as expected (each "
          "flagged as a lost segment by tshark), checksums good, nothing "
          "malformed" % (len(frames), checked, holes))


if __name__ == "__main__":
    main()
