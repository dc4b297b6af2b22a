#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Sends hand-made tlstap DATA datagrams that exercise the pcapng writer,
and writes what the pcapng must then hold (an oracle written from
the pcapng rules of tlstap-recv(8), SYNTHETIC TCP; not from the C code).

Usage: scenario.py ADDR PORT EXPECT.json

Streams (each from its own UDP source port, so each is a sender stream):
  40001  reordered and duplicated datagrams: an HTTP exchange over IPv4
         with a 70000-byte response in two records, opened and closed
         (OPEN, CLOSE: the client's FIN first), a socket-less (NONE)
         session, an IPv6 session whose server speaks first, opened by an
         OPEN that makes the end with the lower port its client (the
         OPEN's word beats the port rule), a record with `dropped` bytes,
         a loss report, and a CLOSE from the server (its FIN first, the
         client's after the reported hole); a CLOSE of a connection never
         seen (nothing in the capture);
  40002  one datagram (one record) never sent: the receiver NACKs, nobody
         answers, the core gives it up as a LOST range; the two flows seen
         on that stream get a one-byte hole in both directions; one of
         them closes with its hole still pending: before its FIN;
  40003  a record whose chunk carries the ABORTED flag: the core drops it
         without a LOST range, the pcapng writer waits its hold time (5 s)
         and then marks the flow the same way.
EXPECT.json: per flow its two ends, the end that closes first (null:
never closed) and, per direction, a list of ["data", hex] and
["hole", n] items in order."""

import json
import random
import socket
import sys
import time

sys.path.insert(0, __import__("os").path.join(
    __import__("os").path.dirname(__file__), "..", "nfq"))
import tlstap_ref as ref  # noqa: E402

TOS = 0x20
CAPACITY = 1400
MAX_GAP = 1 << 30
NONE_LOCAL, NONE_PEER = 0x01, 0x02
NONE_LOCAL_PORT, NONE_PEER_PORT = 49152, 49153
BASE_TS = 1_700_000_100_000_000_000


class Flow:
    def __init__(self, family, local, lport, peer, pport, conn_id):
        self.family, self.conn_id = family, conn_id
        self.local, self.lport, self.peer, self.pport = local, lport, peer, pport
        if family == ref.FAMILY_NONE:
            cid = conn_id.to_bytes(8, "big")
            pre = bytes([0xfd, 0x74, 0x6c, 0x73, 0x74, 0x61, 0x70])
            import ipaddress
            self.ends = {
                "local": (str(ipaddress.IPv6Address(pre + bytes([NONE_LOCAL]) + cid)),
                          NONE_LOCAL_PORT),
                "peer": (str(ipaddress.IPv6Address(pre + bytes([NONE_PEER]) + cid)),
                         NONE_PEER_PORT)}
            self.client = "local"
        else:
            self.ends = {"local": (local, lport), "peer": (peer, pport)}
            # The client is the end with the higher (ephemeral) port.
            self.client = "local" if lport >= pport else "peer"
        self.items = {"local": [], "peer": []}   # by the sending end
        self.pending = {"local": 0, "peer": 0}
        self.seen_on = None
        self.closer = None

    def lifecycle(self, rtype, client, ts):
        """An OPEN or CLOSE: from the client to the server, dir WRITE
        when the writer (the local end) is the client."""
        fam = self.family
        local = ref.addr_bytes(fam, self.local)
        peer = ref.addr_bytes(fam, self.peer)
        if client == "local":
            return ref.record(rtype, ref.DIR_WRITE, fam, self.lport, self.pport,
                              b"", 4242, local, peer, ts, self.conn_id, 0)
        return ref.record(rtype, ref.DIR_READ, fam, self.pport, self.lport,
                          b"", 4242, peer, local, ts, self.conn_id, 0)

    def record(self, direction, msg, ts, dropped=0):
        fam = self.family
        local = ref.addr_bytes(fam, self.local)
        peer = ref.addr_bytes(fam, self.peer)
        if direction == ref.DIR_WRITE:
            s, sp, d, dp = local, self.lport, peer, self.pport
        else:
            s, sp, d, dp = peer, self.pport, local, self.lport
        return ref.record(1, direction, fam, sp, dp, msg, 4242, s, d, ts,
                          self.conn_id, dropped)


class Oracle:
    """What the pcapng writer does with records written in order."""

    def __init__(self):
        self.flows = []

    def write(self, flow, stream, direction, msg, dropped):
        side = "local" if direction == ref.DIR_WRITE else "peer"
        flow.seen_on = stream
        hole = flow.pending[side]
        flow.pending[side] = 0
        if dropped:
            hole += min(dropped, MAX_GAP)
        if hole:
            flow.items[side].append(["hole", hole])
        if msg:
            flow.items[side].append(["data", msg.hex()])

    def lost(self, stream):
        for f in self.flows:
            if f.seen_on == stream and not f.closer:
                f.pending = {"local": 1, "peer": 1}

    def open(self, flow, stream, client):
        """The OPEN names the client, whatever the ports say."""
        flow.client = client
        flow.seen_on = stream

    def close(self, flow):
        """The writer (local end) sends the first FIN; holes still
        pending go before the FINs."""
        for side in ("local", "peer"):
            if flow.pending[side]:
                flow.items[side].append(["hole", flow.pending[side]])
                flow.pending[side] = 0
        flow.closer = "local"


def chunk_hdr(rec, rid, off, ln, flags=0):
    """A chunk as a sender that cannot know its writer stamps it."""
    return ref.chunk_hdr(rec, rid, off, ln, flags)


def datagram(stream_id, seq, chunks):
    body = b"".join(chunks)
    return ref.msg_hdr(ref.MSG_DATA, stream_id, seq,
                       ref.MSG_HDR_LEN + len(body), len(chunks)) + body


def pack(records, stream_id, first_seq=0, one_per_dgram=False, aborted=()):
    """records: list of (rid, bytes). Packed in order as a sender does."""
    dgrams, chunks, room, seq = [], [], CAPACITY - ref.MSG_HDR_LEN, first_seq
    for rid, rec in records:
        off = 0
        while off < len(rec):
            if room <= ref.CHUNK_HDR_LEN or (one_per_dgram and chunks):
                dgrams.append(datagram(stream_id, seq, chunks))
                seq += 1
                chunks, room = [], CAPACITY - ref.MSG_HDR_LEN
            n = min(room - ref.CHUNK_HDR_LEN, len(rec) - off)
            flags = 1 if rid in aborted else 0
            chunks.append(chunk_hdr(rec, rid, off, n, flags) + rec[off:off + n])
            room -= ref.CHUNK_HDR_LEN + n
            off += n
    if chunks:
        dgrams.append(datagram(stream_id, seq, chunks))
    return dgrams


def main():
    addr, port, expect_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rng = random.Random(4)
    oracle = Oracle()
    ts = iter(range(BASE_TS, BASE_TS + 10**6, 1000))

    # -- stream 1: reordering, duplicates, NONE, IPv6, dropped, loss report
    a = Flow(ref.FAMILY_IPV4, "10.1.0.1", 50001, "192.0.2.1", 443, 101)
    n = Flow(ref.FAMILY_NONE, None, 0, None, 0, 102)
    v6 = Flow(ref.FAMILY_IPV6, "fd00::1", 40000, "2001:db8::1", 8443, 103)
    oracle.flows += [a, n, v6]
    body = rng.randbytes(70000)
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n"
    ghost = Flow(ref.FAMILY_IPV4, "10.1.0.9", 50009, "192.0.2.9", 443, 109)
    s1 = [  # (flow, direction or OPEN/CLOSE, msg, dropped or the client)
        (a, "open", None, "local"),
        (a, ref.DIR_WRITE, b"GET /a HTTP/1.1\r\nHost: a.example\r\n\r\n", 0),
        (a, ref.DIR_READ, head + body[:30000], 0),
        (a, ref.DIR_READ, body[30000:], 0),
        (a, "close", None, "local"),
        (n, ref.DIR_WRITE, b"memory bio hello", 0),
        (n, ref.DIR_READ, b"memory bio reply", 0),
        (v6, "open", None, "peer"),
        (v6, ref.DIR_READ, b"220 server speaks first\r\n", 0),
        (v6, ref.DIR_WRITE, b"EHLO client\r\n", 1000),
        (v6, ref.DIR_READ, b"", 5000),        # loss report
        (v6, "close", None, "peer"),
        (ghost, "close", None, "local"),    # never opened: nothing
    ]
    recs1 = []
    for rid, (f, d, msg, extra) in enumerate(s1):
        if d == "open":
            recs1.append((rid, f.lifecycle(ref.RECORD_OPEN, extra, next(ts))))
            oracle.open(f, 1, extra)
        elif d == "close":
            recs1.append((rid, f.lifecycle(ref.RECORD_CLOSE, extra, next(ts))))
            if f is not ghost:
                oracle.close(f)
        else:
            recs1.append((rid, f.record(d, msg, next(ts), extra)))
            oracle.write(f, 1, d, msg, extra)
    dg1 = pack(recs1, 0x1001)
    # The first datagram first: a receiver starts a stream at the first
    # one it sees (PROTOCOL.md 5.1); the rest in any order.
    order1 = list(range(1, len(dg1)))
    rng.shuffle(order1)
    order1 = [0] + order1
    order1 += rng.sample(range(len(dg1)), len(dg1) // 3)   # duplicates

    # -- stream 2: one datagram lost for good
    b = Flow(ref.FAMILY_IPV4, "10.2.0.1", 50002, "192.0.2.2", 443, 201)
    c = Flow(ref.FAMILY_IPV4, "10.2.0.3", 50003, "192.0.2.2", 443, 202)
    oracle.flows += [b, c]
    s2 = [
        (b, ref.DIR_WRITE, b"GET /b HTTP/1.1\r\nHost: b.example\r\n\r\n"),
        (c, ref.DIR_WRITE, b"hello from C"),
        (b, ref.DIR_READ, b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n"),
        (b, ref.DIR_READ, b"0123456789"),            # lost
        (b, ref.DIR_READ, b"abcdefghijklmnopqrst"),
        (c, ref.DIR_READ, b"reply to C"),
        (b, ref.DIR_WRITE, b"GET /b2 HTTP/1.1\r\nHost: b.example\r\n\r\n"),
        (c, "close", b""),      # its WRITE hole still pending
    ]
    lost_rid = 3
    recs2 = []
    for rid, (f, d, msg) in enumerate(s2):
        if d == "close":
            recs2.append((rid, f.lifecycle(ref.RECORD_CLOSE, "local", next(ts))))
            oracle.close(f)
            continue
        recs2.append((rid, f.record(d, msg, next(ts), 0)))
        if rid == lost_rid:
            oracle.lost(2)
        else:
            oracle.write(f, 2, d, msg, 0)
    dg2 = pack(recs2, 0x2002, one_per_dgram=True)
    order2 = [i for i in range(len(dg2)) if i != lost_rid]

    # -- stream 3: an aborted record, never reported lost by the core
    d_ = Flow(ref.FAMILY_IPV4, "10.3.0.1", 50004, "192.0.2.3", 443, 301)
    oracle.flows.append(d_)
    s3 = [(d_, ref.DIR_WRITE, b"d0 first"), (d_, ref.DIR_WRITE, b"d1 aborted"),
          (d_, ref.DIR_WRITE, b"d2 after the wait")]
    recs3 = []
    for rid, (f, d, msg) in enumerate(s3):
        recs3.append((rid, f.record(d, msg, next(ts), 0)))
        if rid == 1:
            oracle.lost(3)
        else:
            oracle.write(f, 3, d, msg, 0)
    dg3 = pack(recs3, 0x3003, one_per_dgram=True, aborted={1})

    socks = {}
    for sport in (40001, 40002, 40003):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, TOS)
        s.bind(("0.0.0.0", sport))
        socks[sport] = s
    for i in order1:
        socks[40001].sendto(dg1[i], (addr, port))
        time.sleep(0.001)
    for i in order2:
        socks[40002].sendto(dg2[i], (addr, port))
    for dg in dg3:
        socks[40003].sendto(dg, (addr, port))

    out = []
    for f in oracle.flows:
        cl = f.client
        sv = "peer" if cl == "local" else "local"
        out.append({"conn_id": f.conn_id, "client": list(f.ends[cl]),
                    "server": list(f.ends[sv]), "c2s": f.items[cl],
                    "s2c": f.items[sv],
                    "closer": list(f.ends[f.closer]) if f.closer else None})
    with open(expect_path, "w") as fh:
        json.dump({"flows": out,
                   "records": len(recs1) + len(recs2) - 1 + len(recs3) - 1,
                   "datagrams": len(order1) + len(order2) + len(dg3)}, fh)
    for s in socks.values():
        s.close()


if __name__ == "__main__":
    main()
