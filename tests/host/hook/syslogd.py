#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""A syslog daemon's /dev/log, for the tests: binds a Unix datagram socket
at PATH (mode 0666: hooked programs run as other users too) and appends
every message it receives, as it came, one per line, to --out. A message
with a newline or a NUL in it is a malformed one: it is written with them
escaped and makes the exit status 3. SIGTERM ends it; SIGSTOP/SIGCONT
pause it (a full /dev/log).
"""
import argparse
import os
import signal
import socket
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("path")
    p.add_argument("--out", required=True)
    p.add_argument("--ready", required=True)
    a = p.parse_args()
    bad = 0

    def stop(*_):
        sys.exit(3 if bad else 0)

    signal.signal(signal.SIGTERM, stop)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(a.path)
    os.chmod(a.path, 0o666)
    out = os.open(a.out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    open(a.ready, "w").close()
    while True:
        msg = s.recv(65536)
        if b"\n" in msg or b"\0" in msg:
            bad += 1
            msg = msg.replace(b"\n", b"\\n").replace(b"\0", b"\\0")
        os.write(out, msg + b"\n")


if __name__ == "__main__":
    main()
