#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Writes the last records of a burst: PER records to each target, all of
SIZE plaintext bytes, to /dev/tlstap, and appends them to recgen's
expected file (their timestamp_ns continues recgen's index, so checkers
match them like the rest).

Which flow reaches which target is asked of tlstap-fwd --print-target with
the module's hash key and targets (the module steers alike: fwd-identity),
so that every target gets its own last records.
usage: tailwrite.py --expected FILE --fwd TLSTAP_FWD --key HEX32
                    --target ADDR:PORT [--target ...] [--per N] [--size N]
                    [--dev PATH]
"""
import argparse
import os
import socket
import subprocess
import sys

from rawrec import HDR, records


def next_index(path):
    """recgen's records carry their index as timestamp_ns: the next one."""
    return max((h[10] + 1 for h, _ in records(path)), default=0)


def record(index, cand, size):
    """Candidate cand: an IPv4 flow of its own, written by the local end."""
    sa = socket.inet_aton("10.9.%d.%d" % (cand >> 8, cand & 255)) + bytes(12)
    da = socket.inet_aton("192.0.2.200") + bytes(12)
    seed = index * 0x9e3779b97f4a7c15 + 1
    msg = bytes((seed >> (8 * (j % 8)) ^ j) & 0xff for j in range(size))
    return HDR.pack(1, 2, 4, 72, 20000 + cand, 443, size, os.getpid(), sa, da,
                    index, 0x7a000000 + cand, 0) + msg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--expected", required=True)
    ap.add_argument("--fwd", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--target", action="append", required=True)
    ap.add_argument("--per", type=int, default=1)
    ap.add_argument("--size", type=int, default=3228)
    ap.add_argument("--dev", default="/dev/tlstap")
    a = ap.parse_args()

    first = next_index(a.expected)
    ncand = 64 * len(a.target) * a.per
    cands = [record(first, c, 1) for c in range(ncand)]
    cmd = [a.fwd, "--print-target", "--stdin", "--hash-key", a.key]
    for t in a.target:
        cmd += ["--target", t]
    res = subprocess.run(cmd, input=b"".join(cands), capture_output=True)
    if res.returncode:
        sys.exit("FAIL: tlstap-fwd --print-target: " + res.stderr.decode())
    chosen = {t: [] for t in a.target}
    for c, line in enumerate(res.stdout.decode().splitlines()):
        addr = dict(kv.split("=", 1) for kv in line.split())["addr"]
        if len(chosen[addr]) < a.per:
            chosen[addr].append(c)
    if any(len(c) < a.per for c in chosen.values()):
        sys.exit("FAIL: too few candidate flows per target: %s" % chosen)

    # Interleaved, so that every target's last record is among the last.
    out = []
    for k in range(a.per):
        for t in a.target:
            out.append(record(first + len(out), chosen[t][k], a.size))
    dev = os.open(a.dev, os.O_WRONLY)
    for r in out:
        if os.write(dev, r) != len(r):
            sys.exit("FAIL: short write to " + a.dev)
    os.close(dev)
    with open(a.expected, "ab") as f:
        f.write(b"".join(out))
    print("tailwrite: records %d..%d, %d per target of %d bytes"
          % (first, first + len(out) - 1, a.per, a.size))


if __name__ == "__main__":
    main()
