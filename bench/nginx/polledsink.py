#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""An experiment, not a forwarder: a Unix seqpacket sink that never sleeps
on its sockets. Every INTERVAL seconds it accepts new writers and drains
what they sent, then sleeps in nanosleep. A writer's sendmsg therefore
finds nobody waiting on the socket and wakes nobody (sock_def_readable
only wakes sleepers): run.sh's "hook-polled" variant compares this with
tlstap-fwd, which waits in epoll and is woken for every record.

Usage: polledsink.py PATH INTERVAL_SECONDS
Counts records (each message holds whole records; msg_len 0 is a loss
report) and prints {"records": N, "loss_reports": N, "bytes": N} on
SIGTERM.
"""
import json
import os
import signal
import socket
import struct
import sys
import time

HDR_LEN = 72   # struct tlstap_record, include/uapi/linux/tlstap.h


def main():
    path, interval = sys.argv[1], float(sys.argv[2])
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    lsn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    lsn.bind(path)
    os.chmod(path, 0o666)
    lsn.listen(64)
    lsn.setblocking(False)
    conns = []
    records = loss_reports = nbytes = 0
    while True:
        last = bool(stop)
        while True:
            try:
                c, _ = lsn.accept()
            except BlockingIOError:
                break
            c.setblocking(False)
            conns.append(c)
        for c in list(conns):
            while True:
                try:
                    msg = c.recv(1 << 17)
                except BlockingIOError:
                    break
                if not msg:
                    conns.remove(c)
                    c.close()
                    break
                nbytes += len(msg)
                off = 0
                while off + HDR_LEN <= len(msg):
                    hdr_len = msg[off + 3]
                    msg_len = struct.unpack_from("!I", msg, off + 8)[0]
                    if hdr_len != HDR_LEN or off + hdr_len + msg_len > len(msg):
                        sys.exit("polledsink: malformed record at %d" % off)
                    records += 1
                    loss_reports += msg_len == 0
                    off += hdr_len + msg_len
        if last:
            break
        time.sleep(interval)
    os.unlink(path)
    print(json.dumps({"records": records, "loss_reports": loss_reports,
                      "bytes": nbytes}), flush=True)


if __name__ == "__main__":
    main()
