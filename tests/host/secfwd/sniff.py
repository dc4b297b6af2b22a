#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Appends every frame seen on interface IFACE (both directions) to OUT,
raw bytes one after the other, until SIGTERM; touches READY once it
listens. Usage: sniff.py IFACE OUT READY (in the interface's namespace)."""

import signal
import socket
import sys

ETH_P_ALL = 0x0003
stop = False


def on_term(*_):
    global stop
    stop = True


def main():
    iface, out_path, ready = sys.argv[1:4]
    signal.signal(signal.SIGTERM, on_term)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    s.bind((iface, 0))
    s.settimeout(0.1)
    open(ready, "w").close()
    with open(out_path, "wb") as out:
        while not stop:
            try:
                out.write(s.recv(1 << 17))
            except socket.timeout:
                pass
        # What was queued before SIGTERM.
        s.setblocking(False)
        while True:
            try:
                out.write(s.recv(1 << 17))
            except BlockingIOError:
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
