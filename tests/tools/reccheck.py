#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks what distributor targets received against what recgen wrote.

usage: reccheck.py --expected FILE --tos N [--in-order]
                   --target NAME,RAW,DGRAMLOG,WEIGHT,MAXDGRAM [--target ...]

RAW is tlstap-recv's --output raw file (records back to back), DGRAMLOG its
--log-datagrams file. Checks: every record arrives exactly once, byte for
byte; both directions of a flow reach one target; flows spread by weight;
every datagram parsed clean, carries the TOS, fits MAXDGRAM bytes, the
sequence numbers of each target run 0..N-1 in one stream of its own, and
heartbeats name a sequence number that was sent. --in-order: moreover
each DATA datagram arrived once, in the order sent, none resent (the
receiver's seq_verdict "new", flags 0): nothing was lost or overtaken.
"""
import argparse
import json
import math
import os
import re
import sys

from rawrec import records

def flow_of(h):
    _, _, family, _, sport, dport, _, _, saddr, daddr, _, conn, _ = h
    if family == 0:
        return (0, conn)
    a, b = (saddr, sport), (daddr, dport)
    return (family,) + (a + b if a <= b else b + a)


def steer_table_size():
    """TLSTAP_STEER_TABLE_SIZE, from the uapi header of this checkout."""
    header = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "../../include/uapi/linux/tlstap.h")
    with open(header) as f:
        m = re.search(r"#define\s+TLSTAP_STEER_TABLE_SIZE\s+(\d+)", f.read())
    return int(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--expected", required=True)
    ap.add_argument("--tos", type=int, required=True)
    ap.add_argument("--target", action="append", required=True)
    # Default: 4.5 standard deviations of a target's flow share (flows pick
    # buckets at random: binomial), plus the bucket table's own rounding:
    # the fill deals buckets in turns of each target's weight, so a share
    # of buckets is within the largest weight's worth of its weight share.
    # A fixed bound of 0.06 failed now and then with few flows (490 flows
    # at 1:1 is a standard deviation of 0.023); the callers send enough
    # flows for this bound to be below it.
    ap.add_argument("--weight-tolerance", type=float, default=None)
    ap.add_argument("--in-order", action="store_true")
    a = ap.parse_args()

    expected = {h[10]: (b, h) for h, b in records(a.expected)}
    errors = []
    seen = {}
    flow_target = {}
    flow_dirs = {}
    flows_per_target = {}
    weights = {}
    streams = {}
    total_dgrams = 0
    heartbeats = []

    for spec in a.target:
        name, raw, dlog, weight, maxd = spec.split(",")
        weights[name] = int(weight)
        flows_per_target[name] = set()
        for h, b in records(raw):
            i = h[10]
            if i in seen:
                errors.append(f"record {i} received twice ({seen[i]}, {name})")
                continue
            seen[i] = name
            if i not in expected:
                errors.append(f"{name}: record {i} was never written")
                continue
            if b != expected[i][0]:
                errors.append(f"{name}: record {i} differs from what was written")
            fl = flow_of(h)
            flow_dirs.setdefault(fl, set()).add(h[1])
            other = flow_target.setdefault(fl, name)
            if other != name:
                errors.append(f"flow {fl} reached both {other} and {name}")
            flows_per_target[name].add(fl)

        seqs = []
        streams[name] = set()
        with open(dlog) as f:
            for line in f:
                d = json.loads(line)
                total_dgrams += 1
                if d.get("verdict") == "invalid" or d.get("status") != "ok":
                    errors.append(f"{name}: datagram rejected: {line.strip()}")
                    continue
                if d["tos"] != a.tos:
                    errors.append(f"{name}: TOS {d['tos']} != {a.tos}")
                if d["size"] > int(maxd):
                    errors.append(f"{name}: datagram of {d['size']} > {maxd}")
                streams[name].add(d["stream"])
                if d["type"] == 4:      # HEARTBEAT: the highest seq sent
                    heartbeats.append((name, d["seq"]))
                    continue
                # The receiver NACKs what it misses: resends carry flag 1.
                if d["type"] != 1 or d["flags"] not in (0, 1):
                    errors.append(f"{name}: type/flags {d['type']}/{d['flags']}")
                elif a.in_order and (d["flags"] or d["seq_verdict"] != "new"):
                    errors.append(f"{name}: seq {d['seq']} arrived "
                                  f"{d['seq_verdict']}, flags {d['flags']} "
                                  f"(after {max(seqs, default=None)})")
                seqs.append(d["seq"])
        for hb_name, hb_seq in heartbeats:
            if hb_name == name and hb_seq >= len(seqs):
                errors.append(f"{name}: heartbeat for seq {hb_seq}, "
                              f"only {len(seqs)} sent")
        seqs = sorted(set(seqs))
        if seqs != list(range(len(seqs))):
            errors.append(f"{name}: seqs are not 0..{len(seqs) - 1}")
        if not seqs:
            errors.append(f"{name}: received no datagram")

    missing = sorted(set(expected) - set(seen))
    if missing:
        errors.append(f"{len(missing)} records never arrived, first {missing[:5]}")
    for name, ids in streams.items():
        if len(ids) != 1:
            errors.append(f"{name}: expected one stream, saw {sorted(ids)}")
    all_ids = [i for ids in streams.values() for i in ids]
    if len(set(all_ids)) != len(all_ids):
        errors.append(f"targets share a stream id: {streams}")
    both = sum(1 for d in flow_dirs.values() if len(d) == 2)
    if both < len(flow_dirs) // 2:
        errors.append(f"only {both} of {len(flow_dirs)} flows had both directions")

    nflows = len(flow_target)
    wsum = sum(weights.values())
    rounding = max(weights.values()) / steer_table_size()
    for name, fl in flows_per_target.items():
        share, want = len(fl) / nflows, weights[name] / wsum
        tolerance = a.weight_tolerance
        if tolerance is None:
            tolerance = 4.5 * math.sqrt(want * (1 - want) / nflows) + rounding
        print(f"{name}: {len(fl)} flows ({share:.3f}, weight share {want:.3f} "
              f"+- {tolerance:.3f})")
        if abs(share - want) > tolerance:
            errors.append(f"{name}: flow share {share:.3f}, weight share {want:.3f} "
                          f"+- {tolerance:.3f}")

    print(f"{len(seen)} records, {nflows} flows ({both} both ways), "
          f"{total_dgrams} datagrams checked")
    for e in errors[:20]:
        print("error:", e)
    if len(errors) > 20:
        print(f"error: ... {len(errors) - 20} more")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
