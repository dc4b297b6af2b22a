#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""A UDP socket on [::]:PORT (IPv4 too) that counts what reaches it: with
tlstap-nfq dropping the queued datagrams, nothing should. Writes the count
to OUT on SIGTERM. Usage: udp_sink.py PORT OUT READY"""

import os
import signal
import socket
import sys

port, out, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", port))
count = 0


def stop(*_):
    # timeout(1) signals its child and its group: the second TERM must
    # not kill us half way.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with open(out, "w") as f:
        f.write("%d\n" % count)
    os._exit(0)


signal.signal(signal.SIGTERM, stop)
open(ready, "w").close()
while True:
    s.recv(65536)
    count += 1
