#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Sends hand-built IPv4 and IPv6 UDP packets (raw sockets) carrying
tlstap datagrams, some of them broken below the tlstap layer, to
ADDR4/ADDR6 port 7419 with TOS 0x20, and writes the records that must come
out (JSON lines: time and base64 data) to EXPECT.

Usage: raw_send.py ADDR4 ADDR6 EXPECT

IPv4: good; wrong UDP checksum; UDP length past the packet; UDP length
short of the packet (trailing bytes); checksum 0 (none: allowed over
IPv4); IP options; junk payload (not tlstap). IPv6: good; wrong
checksum; checksum 0 (invalid over IPv6). Each good one is its own
stream, so that none is a duplicate of another."""

import base64
import json
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "nfq"))
import scenario  # noqa: E402
import tlstap_ref as ref  # noqa: E402

PORT, SPORT, TOS = 7419, 40100, 0x20


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def udp(src, dst, payload, pseudo, check=None, length=None):
    ln = 8 + len(payload) if length is None else length
    hdr = struct.pack("!HHHH", SPORT, PORT, ln, 0)
    if check is None:
        c = csum(pseudo + hdr + payload) or 0xffff
    else:
        c = check
    return struct.pack("!HHHH", SPORT, PORT, ln, c) + payload


def ip4(src, dst, payload, options=b""):
    ihl = 5 + len(options) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, TOS, ihl * 4 + len(payload),
                      0, 0x4000, 64, socket.IPPROTO_UDP, 0,
                      socket.inet_aton(src), socket.inet_aton(dst)) + options
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def pseudo4(src, dst, ln):
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, ln)


def pseudo6(src, dst, ln):
    return (socket.inet_pton(socket.AF_INET6, src) +
            socket.inet_pton(socket.AF_INET6, dst) + struct.pack("!IxxxB", ln, 17))


def main():
    a4, a6, expect_path = sys.argv[1:4]
    src4 = "10.77.1.1"
    src6 = "fd77:1::1"
    flow = scenario.Flow(ref.FAMILY_IPV4, "10.9.0.1", 50000, "192.0.2.9", 443, 900)
    expected = []
    stream = [0x7000]

    def tlstap(msg, good):
        stream[0] += 1
        ts = scenario.BASE_TS + stream[0]
        rec = flow.record(ref.DIR_WRITE, msg, ts)
        if good:
            expected.append({"time_ns": ts, "data": base64.b64encode(msg).decode()})
        return scenario.datagram(stream[0], 0, [scenario.chunk_hdr(rec, 0, 0, len(rec)) + rec])

    r4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    pkts4 = []
    p = tlstap(b"good ipv4", True)
    pkts4.append(ip4(src4, a4, udp(src4, a4, p, pseudo4(src4, a4, 8 + len(p)))))
    p = tlstap(b"bad checksum", False)
    good = csum(pseudo4(src4, a4, 8 + len(p)) + struct.pack("!HHHH", SPORT, PORT, 8 + len(p), 0) + p)
    pkts4.append(ip4(src4, a4, udp(src4, a4, p, b"", check=(good ^ 0x5555) or 1)))
    p = tlstap(b"udp length too long", False)
    pkts4.append(ip4(src4, a4, udp(src4, a4, p, pseudo4(src4, a4, 8 + len(p) + 4),
                                   length=8 + len(p) + 4)))
    p = tlstap(b"udp length too short", False)
    pkts4.append(ip4(src4, a4, udp(src4, a4, p, pseudo4(src4, a4, 8 + len(p) - 4),
                                   length=8 + len(p) - 4)))
    p = tlstap(b"no checksum", True)
    pkts4.append(ip4(src4, a4, udp(src4, a4, p, b"", check=0)))
    p = tlstap(b"with ip options", True)
    pkts4.append(ip4(src4, a4, udp(src4, a4, p, pseudo4(src4, a4, 8 + len(p))),
                     options=b"\x01\x01\x01\x00"))
    p = b"junk, not a tlstap datagram"
    pkts4.append(ip4(src4, a4, udp(src4, a4, p, pseudo4(src4, a4, 8 + len(p)))))
    for pkt in pkts4:
        r4.sendto(pkt, (a4, 0))

    r6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_UDP)
    r6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, TOS)
    r6.bind((src6, 0))
    p = tlstap(b"good ipv6", True)
    r6.sendto(udp(src6, a6, p, pseudo6(src6, a6, 8 + len(p))), (a6, 0))
    p = tlstap(b"bad checksum ipv6", False)
    r6.sendto(udp(src6, a6, p, pseudo6(src6, a6, 8 + len(p) + 1)), (a6, 0))
    p = tlstap(b"zero checksum ipv6", False)
    r6.sendto(udp(src6, a6, p, b"", check=0), (a6, 0))
    with open(expect_path, "w") as f:
        for e in expected:
            f.write(json.dumps(e) + "\n")


if __name__ == "__main__":
    main()
