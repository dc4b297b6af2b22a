#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Sends COUNT UDP datagrams of junk with a given TOS (IPv6: traffic
class). Usage: send_udp.py ADDR PORT TOS COUNT"""

import socket
import sys

addr, port, tos, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3], 0), int(sys.argv[4])
if ":" in addr:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, tos)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
for i in range(count):
    s.sendto(b"not a tlstap datagram %d" % i, (addr, port))
