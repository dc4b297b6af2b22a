#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Writes the seed corpus of every harness into fuzz/corpus/NAME/.

Records and datagrams are built field by field after
include/uapi/linux/tlstap.h (network order, no padding); the structured
harnesses' inputs follow the layouts their headers describe. Run it again
after changing a harness's input layout: `fuzz/mkseeds.py`, then commit
corpus/. Seeds are named by what they hold.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, 'corpus')

REC_HDR = struct.Struct('!BBBBHHII16s16sQQQ')        # struct tlstap_record
MSG_HDR = struct.Struct('!BBBBIIHH')                  # struct tlstap_msg_hdr
CHUNK_HDR = struct.Struct('!IIIHBBHH16s16sB3sII')     # struct tlstap_chunk_hdr
assert REC_HDR.size == 72 and MSG_HDR.size == 16 and CHUNK_HDR.size == 64
VERSION = 2                                           # TLSTAP_WIRE_VERSION
MIN_DGRAM = 144                                       # TLSTAP_MIN_DGRAM
UID_UNKNOWN = 0xffffffff                              # TLSTAP_WRITER_UID_UNKNOWN

DATA, NACK, GAP, HEARTBEAT = 1, 2, 3, 4
READ, WRITE = 1, 2
NONE, V4, V6 = 0, 4, 6
F_RETRANSMIT = 1

V4_A = bytes([10, 0, 0, 1]) + bytes(12)
V4_B = bytes([10, 0, 0, 2]) + bytes(12)
V6_A = bytes.fromhex('fd000000000000000000000000000001')
V6_B = bytes.fromhex('fd000000000000000000000000000002')
FLOWS = {
    'v4': (V4, 443, 50412, V4_A, V4_B),
    'v6': (V6, 8443, 41000, V6_A, V6_B),
    'none': (NONE, 0, 0, bytes(16), bytes(16)),
}
HTTP = b'GET / HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/7.88.1\r\n\r\n'


def record(flow='v4', msg=HTTP, dir=WRITE, dropped=0, conn_id=7, pid=1234,
           type_=1):
    family, sport, dport, saddr, daddr = FLOWS[flow]
    return REC_HDR.pack(type_, dir, family, 72, sport, dport, len(msg), pid,
                        saddr, daddr, 1700000000123456789, conn_id,
                        dropped) + msg


def chunk(rid, rec, offset, length, flow='v4', dir=WRITE, flags=0,
          writer=(1234, 1000)):
    family, sport, dport, saddr, daddr = FLOWS[flow]
    return CHUNK_HDR.pack(rid, len(rec), offset, length, family, dir, sport,
                          dport, saddr, daddr, flags, bytes(3), *writer) + \
        rec[offset:offset + length]


def data_dgram(stream, seq, chunks, flags=0):
    body = b''.join(chunks)
    return MSG_HDR.pack(DATA, VERSION, 16, flags, stream, seq, 16 + len(body),
                        len(chunks)) + body


def ranges_dgram(kind, stream, ranges):
    body = b''.join(struct.pack('!II', a, b) for a, b in ranges)
    return MSG_HDR.pack(kind, VERSION, 16, 0, stream, 0, 16 + len(body),
                        len(ranges)) + body


def heartbeat(stream, highest, oldest):
    return MSG_HDR.pack(HEARTBEAT, VERSION, 16, 0, stream, highest, 24, 0) + \
        struct.pack('!II', oldest, 0)


def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def udp4(payload, zero_csum=False):
    src, dst = bytes([127, 0, 0, 1]), bytes([127, 0, 0, 2])
    udp_len = 8 + len(payload)
    udp = struct.pack('!HHHH', 7419, 7419, udp_len, 0) + payload
    if not zero_csum:
        c = csum(src + dst + struct.pack('!BBH', 0, 17, udp_len) + udp) or 0xffff
        udp = udp[:6] + struct.pack('!H', c) + udp[8:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0x20, 20 + udp_len, 1, 0x4000, 64,
                     17, 0, src, dst)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return ip + udp


def udp6(payload):
    src, dst = V6_A, V6_B
    udp_len = 8 + len(payload)
    udp = struct.pack('!HHHH', 7419, 7419, udp_len, 0) + payload
    c = csum(src + dst + struct.pack('!IxxxB', udp_len, 17) + udp) or 0xffff
    udp = udp[:6] + struct.pack('!H', c) + udp[8:]
    return struct.pack('!IHBB16s16s', 6 << 28 | 0x20 << 20, udp_len, 17, 64,
                       src, dst) + udp


def u8(v):
    return struct.pack('<B', v)


def u16(v):
    return struct.pack('<H', v)


def u32(v):
    return struct.pack('<I', v)


def seeds():
    s = {}
    r4, r6, rn = record('v4'), record('v6', b'HTTP/1.1 200 OK\r\n\r\nhello', READ), \
        record('none', b'x' * 300)
    loss = record('v4', b'', dropped=4096)
    big = record('v4', bytes(range(256)) * 12)

    # --- config: text files ---------------------------------------------
    s['config'] = {
        'readme': b'global:\n  if = /dev/tlstap\nwget:\n  path = /usr/bin/wget\n'
                  b'  if = /run/tlstap/wget.sock\n  exclude = .*\\.bank\\.co\\.jp\n',
        'all-keys': b'# every key\nglobal:\n  if = /dev/tlstap\n  capture = yes\n'
                    b'  on_full = drop\n  exclude = (www\\.)?example\\.(com|org)\n'
                    b'  ring = yes\n  ring_kb = 1024\n'
                    b'curl:\n\tpath = /usr/bin/curl\n\ton_full = block\n'
                    b'\tring_kb = 64\n'
                    b'\texclude = [a-z0-9-]+\\.internal\n\texclude = localhost\n'
                    b'python3:\n  path = /usr/bin/python3.11\n  capture = no\n'
                    b'  ring = no\n',
        'crlf': b'global:\r\n  if = /run/tlstap/all.sock\r\n',
        'bad-indent': b'global:\nif = /dev/tlstap\n',
        'bad-regex': b'global:\n  exclude = (unclosed\n',
        'dup-section': b'a:\n  path = /bin/a\na:\n  path = /bin/b\n',
    }
    # --- record: u8 max choice, u8 npieces, u16 pieces, bytes -------------
    three = r4 + r6 + loss
    s['record'] = {
        'v4': u8(0) + u8(0) + r4,
        'v6': u8(0) + u8(0) + r6,
        'none': u8(0) + u8(0) + rn,
        'loss-report': u8(0) + u8(0) + loss,
        'three-split': u8(0) + u8(3) + u16(5) + u16(100) + u16(72) + three,
        'too-long': u8(3) + u8(0) + big,
        'good-then-bad': u8(0) + u8(1) + u16(80) + r4 + b'\x04' + r6[1:],
        # OPEN, DATA, CLOSE of one connection; then an OPEN with plaintext.
        'open-close': u8(0) + u8(2) + u16(60) + u16(100) +
        record('v4', b'', type_=2) + r4 + record('v4', b'', type_=3) +
        record('v6', b'x', READ, type_=2),
    }
    # --- datagram: one UDP payload -----------------------------------------
    half = len(r6) // 2
    dg = {
        'data-1': data_dgram(0x1234, 0, [chunk(0, r4, 0, len(r4))]),
        'data-2': data_dgram(0x1234, 1, [chunk(1, r6, 0, half, 'v6', READ),
                                         chunk(2, loss, 0, len(loss))]),
        'data-tail-retransmit': data_dgram(
            0x1234, 2, [chunk(1, r6, half, len(r6) - half, 'v6', READ)],
            F_RETRANSMIT),
        'data-aborted': data_dgram(0x1234, 3, [chunk(3, rn, 0, 100, 'none',
                                                    flags=1)]),
        'data-writer-unknown': data_dgram(0x1234, 4, [chunk(
            4, r4, 0, len(r4), writer=(0, UID_UNKNOWN))]),
        'nack-1': ranges_dgram(NACK, 0x1234, [(5, 9)]),
        'nack-3': ranges_dgram(NACK, 0x1234, [(1, 1), (3, 4), (10, 1000)]),
        'gap-2': ranges_dgram(GAP, 0x1234, [(0xfffffffe, 1), (7, 7)]),
        'heartbeat': heartbeat(0x1234, 41, 30),
    }
    s['datagram'] = dg
    # --- nfq_packet: u8 flags, IP packet -------------------------------------
    s['nfq_packet'] = {
        'v4-data': u8(0) + udp4(dg['data-1']),
        'v4-nocsum': u8(0) + udp4(dg['data-2'], zero_csum=True),
        'v6-data': u8(0) + udp6(dg['data-2']),
        'v4-csum-not-ready': u8(2) + udp4(dg['heartbeat']),
        'v6-nack': u8(0) + udp6(dg['nack-3']),
    }
    # --- control: ring, records, bucket, NACK --------------------------------
    def ring(nslots, cap, start, records, limit=None, rate=1000, burst=64):
        b = u8(nslots - 2) + u16(cap - MIN_DGRAM) + u32(0x1234) + u32(start) + \
            u8(len(records))
        for length, sent in records:
            b += u16(length - 73) + u8(sent)
        b += u8(1) + u32(limit) if limit is not None else u8(0)
        return b + u32(1000) + u16(rate - 1) + u16(burst) + u32(500000000)
    s['control'] = {
        'held-and-gone': ring(8, 1400, 0, [(3000, 2), (500, 1), (9000, 4)]) +
        ranges_dgram(NACK, 0x1234, [(0, 3), (5, 12)]),
        'wrapping': ring(4, 600, 0xfffffffd, [(1000, 3), (1000, 2)]) +
        ranges_dgram(NACK, 0x1234, [(0xfffffffc, 0xffffffff), (0, 1)]),
        'rate-limited': ring(16, 200, 100, [(2000, 20)], rate=1, burst=2) +
        ranges_dgram(NACK, 0x1234, [(100, 120)]),
        'replay-limit': ring(16, 400, 0, [(3000, 10)], limit=1000) +
        ranges_dgram(NACK, 0x1234, [(0, 9)]),
    }
    # --- reasm: config, then operations --------------------------------------
    def synth(op, seq, chunks, cap=200, flags=0):
        """op: 1 | sender << 3 | stream << 6; chunks: (flowsel, cflags,
        rid, msg_len, offset, len)."""
        b = u8(op) + u8(cap) + u8(flags | (len(chunks) - 1)) + u8(seq)
        for flowsel, cflags, rid, msg_len, off, length in chunks:
            b += u8(flowsel) + u8(cflags) + u8(rid) + u16(msg_len) + \
                u16(off) + u16(length - 1)
        return b
    cfg = u8(10) + u8(2) + u8(2) + u8(0)
    raw = [u8(0 | 1 << 3) + u16(len(d)) + d for d in
           (dg['data-1'], dg['data-2'], dg['data-tail-retransmit'])]
    whole = [synth(1, i, [(2, 0, i, 100, 0, 172)]) for i in range(4)]
    s['reasm'] = {
        'in-order': cfg + b''.join(whole),
        'reordered-dup': cfg + whole[2] + whole[0] + whole[1] + whole[1] + whole[3],
        'split-record': cfg + synth(1, 0, [(4, 0, 0, 500, 0, 200)]) +
        synth(1, 1, [(4, 0, 0, 500, 200, 200)]) + synth(1, 2, [(4, 0, 0, 500, 400, 172)]),
        'hole-nack-timeout': cfg + whole[0] + whole[3] + u8(6) + u16(300) +
        u8(6) + u16(300) + u8(6) + u16(300) + u8(7) + u16(300) + u16(100),
        'heartbeat-gap': cfg + whole[0] + u8(4) + u16(5) + u8(3) + u8(5) + u16(2) + u8(1),
        'raw': cfg + b''.join(raw),
        'two-senders': cfg + whole[0] + synth(1 | 1 << 3, 0, [(6, 0, 0, 50, 0, 122)]) +
        synth(2 | 2 << 3 | 1 << 6, 0, [(0, 0, 0, 0, 0, 72)]),
        # cflags 4: a chunk stamped with another writer than the rest
        'writer-disagrees': cfg + synth(1, 0, [(4, 0, 0, 500, 0, 200)]) +
        synth(1, 1, [(4, 4, 0, 500, 200, 372)]) + synth(1, 2, [(4, 4, 1, 100, 0, 172)]),
    }
    # --- jsonout: items ------------------------------------------------------
    def jrec(kind, msg, ep_family=0, writer=(4321, 1000)):
        b = u8(kind) + u8(ep_family) + bytes([127, 0, 0, 1] + [0] * 12 * ep_family) + u16(7419)
        fam = (kind >> 1) % 3
        if fam:
            alen = 4 if fam == 1 else 16
            b += bytes([10] + [0] * (alen - 2) + [1]) + bytes([10] + [0] * (alen - 2) + [2])
            b += u16(443) + u16(50000)
        b += u32(1234) + struct.pack('<QQQ', 1700000000123456789, 7, 0)
        b += u32(0x1234) + u32(5) + u32(9) + u32(writer[0]) + u32(writer[1])
        b += u16(len(msg)) + msg
        return b
    s['jsonout'] = {
        'v4-data': jrec(2, HTTP),
        'v6-data': jrec(4, b'\x00\xff' * 40, 1),
        'none-loss': jrec(8, b'', writer=(0, UID_UNKNOWN)),
        'v4-open': jrec(2 | 0x10, b''),
        'v6-close': jrec(4 | 8 | 0x20, b'', 1),
        'lost-both-ends': u8(1 | 2 | 4 | 8) + u8(0) + bytes([10, 0, 0, 1]) + u16(7419) +
        u32(0x1234) + u32(10) + u32(12) + u32(3) + u32(5),
        'lost-open': u8(1) + u8(1) + V6_A + u16(7419) + bytes(20),
    }
    # --- pcapng: config, then operations -------------------------------------
    def prec(op, shape, dsel, msg_len, rid, extra=b''):
        return u8(op) + u8(shape) + u8(dsel) + u16(msg_len) + u16(0) + extra + u8(rid)
    pcfg = u16(1459) + u8(7) + u8(10) + u8(0)
    v4_out = 1 | 0 << 4 | 1 << 6    # IPv4, 443 -> 50000
    v4_in = 1 | 4 | 8 | 1 << 4 | 0 << 6
    v4_cli = 1 | 8 | 1 << 4 | 0 << 6    # IPv4, 50000 -> 443, the client's
    s['pcapng'] = {
        'conversation': pcfg + prec(0, v4_out, 0, 80, 0) + prec(0, v4_in, 0, 3000, 1) +
        prec(0, v4_out, 0, 20, 2),
        'small-mss-v6': u16(99) + u8(7) + u8(10) + u8(0) + prec(0, 2 | 1 << 4, 0, 1000, 0) +
        prec(0, 2 | 4 | 1 << 6, 0, 500, 1),
        'out-of-order-lost': pcfg + prec(0, v4_out, 0, 100, 2) + prec(0, v4_out, 0, 100, 0) +
        u8(2 | 0x10 | 0x20) + u8(1) + u8(0) + prec(0, v4_out, 0, 100, 3) + u8(3),
        'dropped-and-loss': pcfg + prec(0, v4_out, 1 << 2, 100, 0, u16(5000)) +
        prec(0, v4_out, 0x10 | 2 << 2, 0, 1, u32(7)) + prec(0, 0, 3 << 2, 10, 2, u8(0)),
        'evictions': u16(1459) + u8(0) + u8(0) + u8(1) +
        b''.join(prec(0, v4_out, c, 50, i) for i, c in enumerate([0, 1, 2, 3, 0, 1])) +
        prec(0, v4_out, 0, 50, 9) + u8(2 | 0x20) + u8(12) + u8(0),
        'none-family': pcfg + prec(0, 0, 0, 60, 0) + prec(0, 4, 0, 60, 1) + prec(4, 0, 0, 60, 0),
        # OPEN from the client (50000 -> 443), data both ways, a new file
        # (a rotation), more data, CLOSE; then the same ends again.
        'open-close-rotated': pcfg + prec(0, v4_cli, 0x40, 0, 0) + prec(0, v4_out, 0, 200, 1) +
        prec(0, v4_in, 0, 2000, 2) + u8(3 | 4) + prec(0, v4_out, 0, 30, 3) +
        prec(0, v4_cli, 0xc0, 0, 4) + prec(0, v4_out, 0, 10, 5),
    }
    # --- capring: u8 size, u32 cons, u32 prod, u8 max, u8 mode, answers,
    # writes, then the data area (64 << size bytes) ---------------------------
    def frame(state, body):
        pad = (-(8 + len(body))) % 8
        return struct.pack('<II', len(body), state) + body + bytes(pad)

    def ring(size, cons, prod, data, max_=0, mode=2, answers=(), writes=()):
        return (u8(size) + u32(cons) + u32(prod) + u8(max_) + u8(mode) +
                u8(len(answers)) + b''.join(u8(a) for a in answers) +
                u8(len(writes)) + b''.join(u16(o) + u8(v) for o, v in writes) +
                data)

    RESERVED, COMMITTED, ABANDONED, PADDING = 1, 2, 3, 4
    c1 = frame(COMMITTED, r4)
    c2 = frame(COMMITTED, r6)
    two = c1 + c2
    wrap_at = 1024 - 64
    padding = frame(PADDING, bytes(64 - 8))
    s['capring'] = {
        'two-records': ring(4, 0, len(two), two),
        'two-records-answers': ring(4, 0, len(two), two, mode=0, answers=(0, 1)),
        'refused': ring(4, 0, len(two), two, mode=0, answers=(2,)),
        'wrap-padding': ring(4, wrap_at, wrap_at + 64 + len(c1),
                             c1 + bytes(wrap_at - len(c1)) + padding),
        'reserved': ring(4, 0, len(two), c1 + frame(RESERVED, r6)),
        'reserved-final': ring(4, 0, len(two), c1 + frame(RESERVED, r6), mode=3),
        'abandoned': ring(4, 0, len(two), frame(ABANDONED, r4) + c2),
        'too-long': ring(4, 0, len(frame(COMMITTED, big[:400])),
                         frame(COMMITTED, record('v4', b'x' * 200)), mode=6),
        'bad-family': ring(4, 0, len(c1), frame(COMMITTED, b'\x01\x02\x09' + r4[3:])),
        'length-differs': ring(4, 0, len(c1), frame(COMMITTED, r4 + b'!')),
        'scribbled': ring(4, 0, len(two), two, mode=2,
                          writes=((len(c1), 0xff), (0xffff, 0x40))),
        # 2^32 between the two positions: padding at 896, c1 at 0.
        'wrapped-positions': ring(4, 0xffffff80, (0xffffff80 + 128 + len(c1)) & 0xffffffff,
                                  c1 + bytes(896 - len(c1)) + frame(PADDING, bytes(120))),
    }

    # recvstate: state files as lib/recvstate.c writes them (text).
    s['recvstate'] = {
        'empty-state': b'tlstap-receiver-state 1\nend 0\n',
        'streams': b'tlstap-receiver-state 1\n'
        b'stream 10.0.0.1:7419 3274057048 seq 5120 top known:811 records 811\n'
        b'range 5100 5101 known:800 unknown missing\n'
        b'range 5110 5112 known:805 never gap\n'
        b'notdone 799 802\n'
        b'stream [fd00::1]:7419 7 seq 3 top never records -\n'
        b'evicted 10.0.0.2:7419 9 seq 70000 top known:4 records 5\n'
        b'range 69990 69999 known:3 known:4 missing\n'
        b'notdone 3 4\n'
        b'end 3\n',
        'wrap': b'tlstap-receiver-state 1\n'
        b'stream 10.0.0.1:7419 1 seq 2 top known:0 records 1\n'
        b'range 4294967290 1 known:4294967295 unknown timeout\n'
        b'notdone 4294967295 0\n'
        b'end 1\n',
        'bad-version': b'tlstap-receiver-state 2\nend 0\n',
    }
    return s


def main():
    for name, items in seeds().items():
        d = os.path.join(CORPUS, name)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            os.unlink(os.path.join(d, old))
        for seed, data in items.items():
            with open(os.path.join(d, seed), 'wb') as f:
                f.write(data)
    print('mkseeds: %d seeds in %s' % (sum(len(v) for v in seeds().values()), CORPUS),
          file=sys.stderr)


if __name__ == '__main__':
    main()
