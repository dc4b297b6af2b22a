#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Writes numbered records to /dev/tlstap at a pace, while faults happen.

usage: faultwriter.py --id N --expected FILE --summary FILE
                      [--rate R] [--seconds S] [--max-len L] [--nonblock]
                      [--flows F] [--dev PATH]

Every record carries (id << 32 | index) in timestamp_ns and plaintext
derived from it, so losscheck.py can match what receivers output. Records
the module accepted are appended to --expected (raw, back to back); every
refusal is counted by errno and the writer goes on, as a capture hook
does. Prints "faultwriter ID: writing" once it is about to write. Ends
after --seconds or on SIGTERM, then writes --summary (JSON).
"""
import argparse
import errno
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import time

from rawrec import HDR


def record(tag, n, flow):
    """One valid record: IPv4 flows 10.2.W.F -> 192.0.2.1:443."""
    w = (tag >> 32) & 0xff
    src = socket.inet_aton(f"10.2.{w}.{flow}") + bytes(12)
    dst = socket.inet_aton("192.0.2.1") + bytes(12)
    data = hashlib.shake_128(struct.pack("!Q", tag)).digest(n)
    return HDR.pack(1, 2 if tag & 1 else 1, 4, 72, 40000 + flow, 443, n,
                    os.getpid(), src, dst, tag, (w << 16) | flow, 0) + data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--id", type=int, required=True)
    ap.add_argument("--expected", required=True)
    ap.add_argument("--summary", required=True)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--seconds", type=float, default=3600)
    ap.add_argument("--max-len", type=int, default=3000)
    ap.add_argument("--flows", type=int, default=16)
    ap.add_argument("--nonblock", action="store_true")
    ap.add_argument("--dev", default="/dev/tlstap")
    a = ap.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    flags = os.O_WRONLY | (os.O_NONBLOCK if a.nonblock else 0)
    fd = os.open(a.dev, flags)
    out = open(a.expected, "wb")
    # Tests wait for this line: python starts slowly under TCG.
    print(f"faultwriter {a.id}: writing", flush=True)
    counts = {"calls": 0, "accepted": 0, "accepted_bytes": 0, "errors": {}}
    start = time.monotonic()
    i = 0
    while not stop and time.monotonic() - start < a.seconds:
        tag = (a.id << 32) | i
        rec = record(tag, 1 + (tag * 2654435761) % a.max_len, i % a.flows)
        i += 1
        counts["calls"] += 1
        try:
            n = os.write(fd, rec)
        except OSError as e:
            if e.errno == errno.EINTR:
                continue
            name = errno.errorcode.get(e.errno, str(e.errno))
            counts["errors"][name] = counts["errors"].get(name, 0) + 1
        else:
            if n != len(rec):
                sys.exit(f"faultwriter: a record was split ({n} of {len(rec)})")
            out.write(rec)
            counts["accepted"] += 1
            counts["accepted_bytes"] += n
        if a.rate:
            delay = start + i / a.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    out.close()
    os.close(fd)
    with open(a.summary, "w") as f:
        json.dump(counts, f)
    print(f"faultwriter {a.id}: {json.dumps(counts)}")


if __name__ == "__main__":
    main()
