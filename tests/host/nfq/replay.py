#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Replays captured tlstap datagrams to a receiver, each scenario from its
own source port (so each is its own sender stream), and writes what the
receiver must emit per port. Usage:
replay.py CAPTURE EXPECT.json ADDR PORT OUT.json
Scenarios: 40001 shuffled with 30% duplicates (all records); 40002 in
order minus one datagram in the middle of a multi-chunk record (nobody
answers the receiver's NACKs: exactly the records touching it end up in
one LOST range); 40003 malformed datagrams only (nothing emitted, every
one counted invalid); 40004 well-formed control messages: a NACK (a
receiver takes none), a GAP for a stream the receiver does not know, and
a HEARTBEAT announcing seqs 0..7 that never come."""

import json
import random
import socket
import struct
import sys

import tlstap_ref as ref


def chunks(dg):
    count = struct.unpack_from(">H", dg, 14)[0]
    pos = ref.MSG_HDR_LEN
    for _ in range(count):
        rid, rlen, off, ln = struct.unpack_from(">IIIH", dg, pos)
        yield rid, rlen, off, ln
        pos += ref.CHUNK_HDR_LEN + ln


def malformed(rng, dgrams):
    out = []
    for _ in range(60):
        out.append(rng.randbytes(rng.randrange(0, 300)))
    for dg in rng.sample(dgrams, 30):
        b = bytearray(dg)
        kind = rng.randrange(8)
        if kind == 0:
            b = b[:rng.randrange(0, len(b))]          # truncated
        elif kind == 1:
            b[1] = rng.choice([1, 3])                  # version
        elif kind == 2:
            b[0] = rng.choice([0, 5, 255])             # type
        elif kind == 3:
            b[2] = 20                                  # hdr_len
        elif kind == 4:
            b[3] |= 0x80                               # unknown flag
        elif kind == 5:
            struct.pack_into(">H", b, 14, struct.unpack_from(">H", b, 14)[0] + 1)
        elif kind == 6:
            b += b"\0"                                 # trailing, len fixed
            struct.pack_into(">H", b, 12, len(b))
        else:
            struct.pack_into(">I", b, 16 + 4, 71)      # record_len < header
        out.append(bytes(b))
    return out


def control(stream_id):
    msgs = []
    # NACK with one range, GAP with one range, HEARTBEAT.
    msgs.append(ref.msg_hdr(ref.MSG_NACK, stream_id, 0, 24, 1) + struct.pack(">II", 3, 5))
    msgs.append(ref.msg_hdr(ref.MSG_GAP, stream_id, 0, 24, 1) + struct.pack(">II", 3, 5))
    msgs.append(ref.msg_hdr(ref.MSG_HEARTBEAT, stream_id, 7, 24, 0) + struct.pack(">II", 0, 0))
    return msgs


def main():
    cap, expect_path, addr, port, out_path = sys.argv[1:6]
    # DATA only: the forwarder's heartbeats are in the capture too.
    dgrams = [d for d in (bytes.fromhex(l.strip()) for l in open(cap) if l.strip())
              if d[0] == 1]
    expected = [json.loads(l) for l in open(expect_path)]
    dgrams.sort(key=lambda d: struct.unpack_from(">I", d, 8)[0])
    seqs = [struct.unpack_from(">I", d, 8)[0] for d in dgrams]
    if seqs != list(range(len(dgrams))):
        sys.exit("capture is not seq 0..n-1: %s..." % seqs[:10])
    rng = random.Random(99)
    dest = (addr, int(port))

    def sender(sport):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", sport))
        return s

    # 40001: shuffled, 30% sent twice.
    order = list(range(len(dgrams)))
    dups = rng.sample(order, len(order) * 3 // 10)
    order += dups
    rng.shuffle(order)
    s = sender(40001)
    for i in order:
        s.sendto(dgrams[i], dest)

    # 40002: one datagram whose chunks belong to a record spanning several.
    spans = {}
    for seq, dg in enumerate(dgrams):
        for rid, rlen, off, ln in chunks(dg):
            spans.setdefault(rid, set()).add(seq)
    victim = next(seq for seq in range(len(dgrams) // 3, len(dgrams))
                  if any(len(spans[rid]) > 2 for rid, *_ in chunks(dgrams[seq])))
    lost_ids = {rid for rid, *_ in chunks(dgrams[victim])}
    s = sender(40002)
    for seq, dg in enumerate(dgrams):
        if seq != victim:
            s.sendto(dg, dest)

    # 40003: malformed only.
    bad = malformed(rng, dgrams)
    s = sender(40003)
    for dg in bad:
        s.sendto(dg, dest)

    # 40004: control messages.
    ctl = control(struct.unpack_from(">I", dgrams[0], 4)[0])
    s = sender(40004)
    for m in ctl:
        s.sendto(m, dest)

    times = [e["time_ns"] for e in expected]
    json.dump({"40001": times,
               "40002": [t for i, t in enumerate(times) if i not in lost_ids],
               "lost_record_ids": sorted(lost_ids), "victim_seq": victim,
               "duplicates": len(dups), "malformed": len(bad),
               "control": len(ctl), "datagrams": len(dgrams)},
              open(out_path, "w"))


if __name__ == "__main__":
    main()
