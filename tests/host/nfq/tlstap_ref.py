# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Independent reference of tlstap's record and datagram layouts and flow
steering, written from include/uapi/linux/tlstap.h and docs/PROTOCOL.md,
used by the host tests as an oracle for what tlstap-fwd (and tlstap.ko)
must do."""

import ipaddress
import struct

RECORD_FMT = ">BBBBHHII16s16sQQQ"   # struct tlstap_record, 72 bytes
RECORD_HDR_LEN = 72
WIRE_VERSION = 2
MSG_FMT = ">BBBBIIHH"               # struct tlstap_msg_hdr, 16 bytes
MSG_HDR_LEN = 16
CHUNK_FMT = ">IIIHBBHH16s16sB3sII"  # struct tlstap_chunk_hdr, 64 bytes
CHUNK_HDR_LEN = 64
WRITER_UID_UNKNOWN = 0xffffffff
MSG_DATA, MSG_NACK, MSG_GAP, MSG_HEARTBEAT = 1, 2, 3, 4
assert struct.calcsize(MSG_FMT) == MSG_HDR_LEN
assert struct.calcsize(CHUNK_FMT) == CHUNK_HDR_LEN
RECORD_DATA, RECORD_OPEN, RECORD_CLOSE = 1, 2, 3
FAMILY_NONE, FAMILY_IPV4, FAMILY_IPV6 = 0, 4, 6
DIR_READ, DIR_WRITE = 1, 2
TABLE_SIZE = 4093
MASK = (1 << 64) - 1


def addr_bytes(family, text):
    if family == FAMILY_NONE:
        return bytes(16)
    packed = ipaddress.ip_address(text).packed
    return packed + bytes(16 - len(packed))


def addr_text(family, raw):
    if family == FAMILY_IPV4:
        return str(ipaddress.IPv4Address(raw[:4]))
    if family == FAMILY_IPV6:
        return str(ipaddress.IPv6Address(raw))
    return None


def record(rtype, direction, family, sport, dport, msg, pid, saddr, daddr,
           ts, conn_id, dropped, hdr_len=RECORD_HDR_LEN, msg_len=None):
    """A record's bytes; the keyword overrides build malformed ones."""
    return struct.pack(RECORD_FMT, rtype, direction, family, hdr_len, sport,
                       dport, len(msg) if msg_len is None else msg_len, pid,
                       saddr, daddr, ts, conn_id, dropped) + msg


def msg_hdr(mtype, stream_id, seq, length, count, flags=0):
    """A datagram's struct tlstap_msg_hdr; length counts the whole datagram."""
    return struct.pack(MSG_FMT, mtype, WIRE_VERSION, MSG_HDR_LEN, flags,
                       stream_id, seq, length, count)


def chunk_hdr(rec, rid, off, ln, flags=0, writer_pid=0,
              writer_uid=WRITER_UID_UNKNOWN):
    """The struct tlstap_chunk_hdr of bytes [off, off + ln) of record rec."""
    fam, direction = rec[2], rec[1]
    sport, dport = struct.unpack_from(">HH", rec, 4)
    return struct.pack(CHUNK_FMT, rid, len(rec), off, ln, fam, direction,
                       sport, dport, rec[16:32], rec[32:48], flags, bytes(3),
                       writer_pid, writer_uid)


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & MASK


def siphash24(key, data):
    """SipHash-2-4, 64-bit output, key as two little-endian words."""
    k0, k1 = struct.unpack("<QQ", key)
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573

    def rounds(n):
        nonlocal v0, v1, v2, v3
        for _ in range(n):
            v0 = (v0 + v1) & MASK
            v1 = _rotl(v1, 13) ^ v0
            v0 = _rotl(v0, 32)
            v2 = (v2 + v3) & MASK
            v3 = _rotl(v3, 16) ^ v2
            v0 = (v0 + v3) & MASK
            v3 = _rotl(v3, 21) ^ v0
            v2 = (v2 + v1) & MASK
            v1 = _rotl(v1, 17) ^ v2
            v2 = _rotl(v2, 32)

    tail = len(data) % 8
    for i in range(0, len(data) - tail, 8):
        m = struct.unpack_from("<Q", data, i)[0]
        v3 ^= m
        rounds(2)
        v0 ^= m
    last = (len(data) & 0xFF) << 56
    for i in range(tail):
        last |= data[len(data) - tail + i] << (8 * i)
    v3 ^= last
    rounds(2)
    v0 ^= last
    v2 ^= 0xFF
    rounds(4)
    return v0 ^ v1 ^ v2 ^ v3


def flow_key(family, saddr, sport, daddr, dport, conn_id):
    """struct tlstap_flow_key: the lower (addr, port) end first."""
    if family == FAMILY_NONE:
        return struct.pack(">B3xHH16s16s", family, 0, 0,
                           struct.pack(">Q", conn_id) + bytes(8), bytes(16))
    a = saddr + struct.pack(">H", sport)
    b = daddr + struct.pack(">H", dport)
    if a > b:
        saddr, sport, daddr, dport = daddr, dport, saddr, sport
    return struct.pack(">B3xHH16s16s", family, sport, dport, saddr, daddr)


def parse_target(spec):
    """ADDR:PORT or [ADDR]:PORT, optional ,weight=W."""
    weight = 1
    if ",weight=" in spec:
        spec, w = spec.split(",weight=")
        weight = int(w)
    host, port = spec.rsplit(":", 1)
    if host.startswith("["):
        family, host = FAMILY_IPV6, host[1:-1]
    else:
        family = FAMILY_IPV4
    return family, addr_bytes(family, host), int(port), weight


def target_key(family, addr, port):
    return struct.pack(">BBH16s", family, 0, port, addr)


def build_table(key, targets):
    """targets: list of specs; returns (sorted specs, bucket table)."""
    parsed = sorted((target_key(f, a, p), w, s) for s, (f, a, p, w) in
                    ((s, parse_target(s)) for s in targets))
    perms = []
    for tkey, weight, _ in parsed:
        h = siphash24(key, tkey)
        perms.append(((h >> 32) % TABLE_SIZE,
                      (h & 0xFFFFFFFF) % (TABLE_SIZE - 1) + 1, weight))
    table = [None] * TABLE_SIZE
    nxt = [p[0] for p in perms]
    filled = 0
    while True:
        for i, (_, skip, weight) in enumerate(perms):
            for _ in range(weight):
                c = nxt[i]
                while table[c] is not None:
                    c = (c + skip) % TABLE_SIZE
                table[c] = i
                nxt[i] = (c + skip) % TABLE_SIZE
                filled += 1
                if filled == TABLE_SIZE:
                    return [p[2] for p in parsed], table


def bucket(flow_hash):
    return (flow_hash & 0xFFFFFFFF) % TABLE_SIZE
