#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The receiving end of retransmission, against the real module.

Runs in the target's namespace, bound to the target address; writes its
own records to /dev/tlstap (the device is not per namespace), receives
the datagrams and sends NACKs, also from a second address that is not a
target. Checks: every chunk names its writer as the kernel knows it (our
tgid and uid; a child's that writes after dropping to uid 65534 on our
descriptor, whatever pid its record claims); resends carry the same
bytes flagged as retransmissions;
a NACK from elsewhere or for another stream changes nothing; what the
ring no longer holds is answered with a GAP; a quiet stream gets exactly
three HEARTBEATs with its highest seq; a flood of NACKs is served no
faster than retransmit_pps allows.
usage: nackpeer.py TARGET_ADDR OTHER_ADDR PORT
"""
import os
import socket
import struct
import sys
import time

SYS = "/sys/class/misc/tlstap/"
VERSION = 2
MSG = struct.Struct("!BBBBIIHH")
CHUNK = struct.Struct("!IIIHBBHH16s16sB3sII")
assert MSG.size == 16 and CHUNK.size == 64
DATA, NACK, GAP, HEARTBEAT = 1, 2, 3, 4
RETRANSMIT = 1
NOBODY = 65534


def stat(name):
    for line in open(SYS + "stats"):
        k, v = line.split()
        if k == name:
            return int(v)
    raise KeyError(name)


def fail(why):
    print("FAIL:", why)
    sys.exit(1)


def record(i, size, pid=None):
    """Record i, claiming to come from pid (default: ours)."""
    sa = socket.inet_aton("10.0.0.1") + bytes(12)
    da = socket.inet_aton("10.0.0.2") + bytes(12)
    msg = bytes((i + j) & 0xff for j in range(size))
    return struct.pack("!BBBBHHII16s16sQQQ", 1, 2, 4, 72, 443, 1000 + i % 50,
                       len(msg), os.getpid() if pid is None else pid, sa, da,
                       i, i % 50, 0) + msg


def writers(d):
    """{record_id: (writer_pid, writer_uid)} of a DATA datagram's chunks."""
    out = {}
    pos = MSG.size
    for _ in range(MSG.unpack_from(d)[7]):
        c = CHUNK.unpack_from(d, pos)
        if out.setdefault(c[0], c[12:14]) != c[12:14]:
            fail(f"record {c[0]}: chunks of writers {out[c[0]]} and {c[12:14]}")
        pos += CHUNK.size + c[3]
    return out


def write_as_nobody(dev, rec):
    """Writes rec on our descriptor from a child that dropped to uid
    NOBODY (the device stays open: the kernel judges the caller of
    write()); returns the child's pid."""
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            status = 0 if os.write(dev, rec) == len(rec) else 1
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    if status:
        fail(f"the writer as uid {NOBODY} failed: status {status:#x}")
    return pid


class Peer:
    def __init__(self, addr, other, port):
        self.rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Records are written before anything is read: room for them all.
        self.rx.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE
        self.rx.bind((addr, port))
        self.rx.settimeout(0.2)
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other.bind((other, 0))
        self.sender = None
        self.data = {}          # seq -> original datagram
        self.stream = None

    def recv_all(self, quiet=0.5):
        """Everything that arrives until the line is quiet."""
        got = []
        end = time.monotonic() + quiet
        while time.monotonic() < end:
            try:
                d, src = self.rx.recvfrom(70000)
            except socket.timeout:
                continue
            self.sender = src
            got.append(d)
            end = time.monotonic() + quiet
        return got

    def nack(self, ranges, sock=None, stream=None):
        body = b"".join(struct.pack("!II", a, b) for a, b in ranges)
        hdr = MSG.pack(NACK, VERSION, 16, 0, self.stream if stream is None else stream,
                       0, 16 + len(body), len(ranges))
        (sock or self.rx).sendto(hdr + body, self.sender)


def main():
    addr, other, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    p = Peer(addr, other, port)
    dev = os.open("/dev/tlstap", os.O_WRONLY)

    # 1. Data in, every datagram kept by seq; the last record claims to
    # be init's and comes from a child with another uid.
    for i in range(60):
        os.write(dev, record(i, 300 + 40 * i))
    child = write_as_nobody(dev, record(60, 2000, pid=1))
    # 2. Then, the stream quiet: three heartbeats with the highest seq.
    # A pause of the writer longer than the interval may bring some
    # earlier: only those after the last DATA are counted.
    hbs = []
    for d in p.recv_all(quiet=1.5):
        t, _, _, flags, stream, seq, _, _ = MSG.unpack_from(d)
        if t == DATA:
            p.data[seq] = d
            p.stream = stream
            hbs = []
        elif t == HEARTBEAT:
            hbs.append(d)
    seqs = sorted(p.data)
    if not seqs or seqs != list(range(len(seqs))):
        fail(f"DATA seqs {seqs[:5]}...: want 0..N-1")
    high = seqs[-1]
    print(f"ok   {len(seqs)} datagrams, stream {p.stream:08x}")
    stamps = {}
    for d in p.data.values():
        for rid, w in writers(d).items():
            if stamps.setdefault(rid, w) != w:
                fail(f"record {rid}: datagrams of writers {stamps[rid]} and {w}")
    want = {rid: (os.getpid(), os.getuid()) for rid in range(60)}
    want[60] = (child, NOBODY)
    if stamps != want:
        wrong = sorted(r for r in set(want) | set(stamps)
                       if stamps.get(r) != want.get(r))
        fail(f"writers of records {wrong[:5]}: {[stamps.get(r) for r in wrong[:5]]}, "
             f"want {[want.get(r) for r in wrong[:5]]}")
    print(f"ok   61 records stamped with their writers: us ({os.getpid()}, "
          f"{os.getuid()}), the child ({child}, {NOBODY}) whose record "
          f"claims pid 1")
    if len(hbs) != 3:
        fail(f"{len(hbs)} heartbeats after the last DATA, want 3")
    for d in hbs:
        _, _, _, _, stream, seq, ln, cnt = MSG.unpack_from(d)
        oldest, = struct.unpack_from("!I", d, 16)
        if (stream, seq, ln, cnt, oldest) != (p.stream, high, 24, 0, 0):
            fail(f"heartbeat {(stream, seq, ln, cnt, oldest)}")
    print(f"ok   3 heartbeats with seq {high}, oldest 0")

    # 3. Resends: same bytes, flagged.
    before = stat("retransmits")
    p.nack([(1, 3), (high, high)])
    got = [d for d in p.recv_all() if d[0] == DATA]
    want = {1, 2, 3, high}
    seen = set()
    for d in got:
        seq, = struct.unpack_from("!I", d, 8)
        if d[3] != RETRANSMIT or d[:3] + d[4:] != p.data[seq][:3] + p.data[seq][4:]:
            fail(f"resend of seq {seq} differs from the original")
        seen.add(seq)
    if seen != want or len(got) != 4 or stat("retransmits") - before != 4:
        fail(f"resent {sorted(seen)} ({len(got)} datagrams), want {sorted(want)}")
    print("ok   4 datagrams resent, same bytes, flagged")

    # 4. Not from a target, or another stream, or not yet sent: nothing.
    rejected = stat("nack_rejected")
    p.nack([(1, 3)], sock=p.other)
    p.nack([(1, 3)], stream=p.stream ^ 1)
    p.rx.sendto(b"\x02garbage", p.sender)
    p.nack([(high + 1, high + 5)])
    extra = [d for d in p.recv_all() if d[0] in (DATA, GAP)]
    if extra:
        fail(f"{len(extra)} datagrams sent in answer to NACKs that must be ignored")
    if stat("nack_rejected") - rejected != 3:
        fail(f"nack_rejected grew by {stat('nack_rejected') - rejected}, want 3")
    print("ok   NACKs from another address, for another stream, garbled, "
          "or for unsent seqs: ignored")

    # 5. A flood of NACKs is served at retransmit_pps at most.
    with open(SYS + "retransmit_pps", "w") as f:
        f.write("200")
    time.sleep(6)   # the bucket fills to its burst of 1024 again
    before = stat("retransmits")
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2:
        p.nack([(0, high)])
    p.recv_all()
    elapsed = time.monotonic() - t0
    resent = stat("retransmits") - before
    limit = 1024 + 200 * elapsed * 1.2 + 50
    print(f"flood: {resent} resends in {elapsed:.1f} s, at most {limit:.0f} allowed")
    if resent > limit or stat("nack_ratelimited") == 0:
        fail("the resend rate was not bounded")
    print("ok   NACK flood bounded by the rate limit")

    # 6. Overwrite the ring: what is gone is answered with GAP.
    with open(SYS + "retransmit_pps", "w") as f:
        f.write("10000")
    for i in range(3000):
        os.write(dev, record(i, 1300))
    got = p.recv_all()
    newest = max(struct.unpack_from("!I", d, 8)[0] for d in got if d[0] == DATA)
    gaps_before = stat("gaps_sent")
    p.nack([(0, 9), (newest, newest)])
    got = p.recv_all()
    gap = [d for d in got if d[0] == GAP]
    resent = [d for d in got if d[0] == DATA]
    if len(gap) != 1 or len(resent) != 1:
        fail(f"{len(gap)} GAP and {len(resent)} resends, want 1 and 1")
    _, _, _, _, stream, seq, ln, cnt = MSG.unpack_from(gap[0])
    ranges = [struct.unpack_from("!II", gap[0], 16 + 8 * i) for i in range(cnt)]
    if (stream, seq, ln, ranges) != (p.stream, 0, 24, [(0, 9)]):
        fail(f"GAP {(stream, seq, ln, ranges)}, want ranges [(0, 9)]")
    if stat("gaps_sent") - gaps_before != 1:
        fail("gaps_sent not counted")
    print("ok   overwritten seqs 0..9 answered with one GAP, the newest resent")

    # 7. A hole longer than a range may be: the GAP cuts it as a NACK must
    # be cut (at most 1024 seqs a range), or receivers reject it whole. At
    # the highest rate the bucket refills while the NACK is served.
    with open(SYS + "retransmit_pps", "w") as f:
        f.write("10000000")
    while newest < 2400:
        for i in range(1000):
            os.write(dev, record(i, 1300))
        got = p.recv_all()
        newest = max(struct.unpack_from("!I", d, 8)[0] for d in got if d[0] == DATA)
    time.sleep(0.2)
    p.nack([(0, 1023), (1024, 1100)])
    gap = [d for d in p.recv_all() if d[0] == GAP]
    if len(gap) != 1:
        fail(f"{len(gap)} GAPs for the long hole, want 1")
    cnt, = struct.unpack_from("!H", gap[0], 14)
    ranges = [struct.unpack_from("!II", gap[0], 16 + 8 * i) for i in range(cnt)]
    if any(b - a >= 1024 for a, b in ranges) or ranges[0][0] != 0 or \
            any(ranges[i][1] + 1 != ranges[i + 1][0] for i in range(cnt - 1)):
        fail(f"GAP ranges {ranges} for the hole 0..1100")
    print(f"ok   the hole 0..{ranges[-1][1]} answered with GAP ranges {ranges}")
    os.close(dev)


if __name__ == "__main__":
    main()
