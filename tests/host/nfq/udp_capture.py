#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Stores every UDP datagram received on ADDR PORT, hex, one per line,
until SIGTERM. Usage: udp_capture.py ADDR PORT OUTFILE."""

import signal
import socket
import sys

stop = False


def on_term(*_):
    global stop
    stop = True


def main():
    signal.signal(signal.SIGTERM, on_term)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((sys.argv[1], int(sys.argv[2])))
    s.settimeout(0.1)
    with open(sys.argv[3], "w") as out:
        while True:
            try:
                data = s.recv(65536)
            except socket.timeout:
                if stop:
                    break
                continue
            out.write(data.hex() + "\n")
            out.flush()


if __name__ == "__main__":
    main()
