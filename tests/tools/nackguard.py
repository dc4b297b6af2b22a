#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Who may make the module resend, and how much: run in a target's
namespace, after the target's stream has sent at least 2048 datagrams
that the ring still holds.

1. NACKs for held seqs from addresses that are not a target's (IPv4 and
   IPv6), and from the target's address with another stream id, 5 each:
   nack_rejected grows by 15, nothing is resent, no GAP, nothing comes
   back to their source. The same NACK from the target's address (another
   port than the receiver's) is honoured: 20 seqs resent.
2. A stream of bogus NACKs (all 2048 seqs, as fast as it can, DURATION
   seconds) while the module's counters are sampled. After SETTLE seconds
   the bucket's burst is spent: from then on resends per second stay
   within retransmit_pps (10% and 10 datagrams of slack for the
   sampling) and the bucket binds (at least half the rate;
   nack_ratelimited grows); over the whole flood, at most the burst (1024)
   plus the rate. Nothing comes back to the NACKs' source.
usage: nackguard.py --target ADDR --sender ADDR --sender6 ADDR6
                    --stranger ADDR --stranger6 ADDR6 --stream ID --pps N
                    [--port N] [--duration S] [--settle S]
"""
import argparse
import json
import socket
import struct
import sys
import time

SYS = "/sys/class/misc/tlstap/"
BURST = 1024
VERSION = 2     # TLSTAP_WIRE_VERSION


def counters():
    return {k: int(v) for k, v in (l.split() for l in open(SYS + "stats"))}


def nack(stream, ranges):
    body = b"".join(struct.pack(">II", x, y) for x, y in ranges)
    return struct.pack(">BBBBIIHH", 2, VERSION, 16, 0, stream, 0, 16 + len(body),
                       len(ranges)) + body


def sock(addr, port=0):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET,
                      socket.SOCK_DGRAM)
    s.bind((addr, port))
    s.setblocking(False)
    return s


def replies(socks, wait):
    """Datagrams that reached the NACKs' sources within wait seconds."""
    n = 0
    end = time.monotonic() + wait
    while time.monotonic() < end:
        for s in socks:
            try:
                while s.recv(65536):
                    n += 1
            except (BlockingIOError, ConnectionRefusedError):
                pass
        time.sleep(0.02)
    return n


def guard(a, errors):
    c0 = counters()
    strangers = [(sock(a.stranger), (a.sender, a.port)),
                 (sock(a.stranger6), (a.sender6, a.port)),
                 (sock(a.target), (a.sender, a.port))]
    for i, (s, dest) in enumerate(strangers):
        stream = a.stream ^ 1 if i == 2 else a.stream
        for _ in range(5):
            s.sendto(nack(stream, [(0, 9)]), dest)
    back = replies([s for s, _ in strangers], 0.5)
    c1 = counters()
    d = {k: c1[k] - c0[k] for k in c1}
    if (d["nack_rejected"], d["retransmits"], d["nacks_received"],
            d["gaps_sent"], back) != (15, 0, 0, 0, 0):
        errors.append("NACKs from strangers or another stream: rejected %d "
                      "(want 15), resent %d, honoured %d, GAP ranges %d, "
                      "%d datagrams back" % (d["nack_rejected"],
                      d["retransmits"], d["nacks_received"], d["gaps_sent"],
                      back))
    own = sock(a.target, 5555)
    own.sendto(nack(a.stream, [(0, 9), (20, 29)]), (a.sender, a.port))
    end = time.monotonic() + 10
    while counters()["retransmits"] - c1["retransmits"] < 20 and \
            time.monotonic() < end:
        time.sleep(0.05)
    back = replies([own], 0.3)
    c2 = counters()
    d = {k: c2[k] - c1[k] for k in c2}
    if (d["nacks_received"], d["retransmits"], back) != (1, 20, 0):
        errors.append("the target's NACK from port 5555: honoured %d, resent "
                      "%d, %d back (want 1, 20, 0)"
                      % (d["nacks_received"], d["retransmits"], back))
    print("guard: 10 NACKs from a stranger (IPv4, IPv6) and 5 for another "
          "stream rejected, nothing resent; the target's own: 20 resent")


def flood(a, errors):
    msg = nack(a.stream, [(0, 1023), (1024, 2047)])
    s = sock(a.target)
    dest = (a.sender, a.port)
    samples = []
    sent = back = 0
    start = time.monotonic()
    c0 = counters()
    next_sample = start
    while True:
        now = time.monotonic()
        if now >= next_sample:
            samples.append((now - start, counters()))
            next_sample += 0.25
            if now - start >= a.duration:
                break
        try:
            s.sendto(msg, dest)
            sent += 1
        except BlockingIOError:
            time.sleep(0.0005)
        try:
            while s.recv(65536):
                back += 1
        except (BlockingIOError, ConnectionRefusedError):
            pass

    window = [(t, c) for t, c in samples if t >= a.settle]
    (ta, ca), (tb, cb) = window[0], window[-1]
    rate = (cb["retransmits"] - ca["retransmits"]) / (tb - ta)
    limited = cb["nack_ratelimited"] - ca["nack_ratelimited"]
    elapsed, clast = samples[-1]
    total = clast["retransmits"] - c0["retransmits"]
    print("flood: " + json.dumps({
        "nacks_sent": sent, "seconds": round(elapsed, 2),
        "window_s": round(tb - ta, 2), "window_rate": round(rate),
        "retransmit_pps": a.pps, "resent_total": total,
        "ratelimited_in_window": limited,
        "nacks_received": clast["nacks_received"] - c0["nacks_received"],
        "replies": back}))
    if rate > a.pps * 1.1 + 10 / (tb - ta):
        errors.append(f"{rate:.0f} resends/s over the window, above {a.pps}")
    if rate < a.pps * 0.5 or limited <= 0:
        errors.append("the bucket did not bind: the flood was too thin")
    if total > BURST + a.pps * elapsed * 1.1 + 10:
        errors.append(f"{total} resends in {elapsed:.1f} s: above the burst "
                      "plus the rate")
    if back:
        errors.append(f"{back} datagrams came back to the NACKs' source")


def main():
    ap = argparse.ArgumentParser()
    for arg in ("target", "sender", "sender6", "stranger", "stranger6"):
        ap.add_argument("--" + arg, required=True)
    ap.add_argument("--stream", type=int, required=True)
    ap.add_argument("--pps", type=int, required=True)
    ap.add_argument("--port", type=int, default=7419)
    ap.add_argument("--duration", type=float, default=4)
    ap.add_argument("--settle", type=float, default=1.5)
    a = ap.parse_args()

    errors = []
    guard(a, errors)
    with open(SYS + "retransmit_pps") as f:
        pps_before = f.read().strip()
    with open(SYS + "retransmit_pps", "w") as f:
        f.write(str(a.pps))
    try:
        flood(a, errors)
    finally:
        with open(SYS + "retransmit_pps", "w") as f:
            f.write(pps_before)
    for e in errors:
        print("FAIL:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
