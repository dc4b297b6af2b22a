#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Every accepted record arrived byte-exact or was marked lost; no other.

usage: losscheck.py --expected FILE... --recv FILE... [--allow-lost]
                    [--once] [--summary FILE]

--expected: what faultwriter.py wrote and the module accepted (raw).
--recv: tlstap-recv --output json outputs, one per receiver instance
(a restarted receiver is a second instance), records and LOST lines.
All records must go to one target, so that a stream's record ids are
the order the module accepted them in.

Checks: every record output was accepted (matched by its timestamp tag)
and is byte-exact, stamped by the module with its writer as the kernel
knows it (faultwriter.py claims its own pid and runs as root in the
initial pid namespace: the same pid, uid 0); no instance outputs a record twice or a record it
marked lost; every accepted record was output by some instance or lies
in a LOST range (record ids; an open end reaches the stream's start or
end); without --allow-lost, no LOST range at all; with --once, no record
output by two instances (a receiver restarted with its state file).
Prints the counts.
"""
import argparse
import base64
import json
import socket
import sys

from rawrec import HDR, records

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--expected", nargs="+", required=True)
    ap.add_argument("--recv", nargs="+", required=True)
    ap.add_argument("--allow-lost", action="store_true")
    ap.add_argument("--once", action="store_true")
    ap.add_argument("--summary")
    a = ap.parse_args()

    expected = {}
    for path in a.expected:
        for h, rec in records(path):
            expected[h[10]] = (h, rec[HDR.size:])

    errors = []
    streams = {}        # stream -> {"got": set(ids), "lost": [(first, last)]}
    got_tags = set()
    dup = lost_lines = 0
    reasons = {}
    for inst, path in enumerate(a.recv):
        seen = set()
        lost_here = []
        with open(path) as f:
            for line in f:
                d = json.loads(line)
                key = (d["sender"], d["stream"])
                st = streams.setdefault(key, {"got": set(), "lost": []})
                if d["type"] == "lost":
                    lost_lines += 1
                    reasons[d["reason"]] = reasons.get(d["reason"], 0) + 1
                    rng = (d["record_first"], d["record_last"])
                    st["lost"].append(rng)
                    lost_here.append((key, rng))
                    continue
                rid = d["record_id"]
                if (key, rid) in seen:
                    dup += 1
                    errors.append(f"instance {inst}: record {rid} of {key} twice")
                seen.add((key, rid))
                st["got"].add(rid)
                tag = d["time_ns"]
                if tag not in expected:
                    errors.append(f"record with tag {tag:#x} was never accepted")
                    continue
                h, data = expected[tag]
                if d["type"] != "data" or base64.b64decode(d["data"]) != data \
                        or d["len"] != h[6] or d["conn_id"] != h[11] \
                        or d["sport"] != h[4] or d["dport"] != h[5] \
                        or d["src"] != socket.inet_ntoa(h[8][:4]):
                    errors.append(f"record {tag:#x} differs from what was written")
                if (d["writer_pid"], d["writer_uid"]) != (h[7], 0):
                    errors.append(f"record {tag:#x}: writer {d['writer_pid']}/"
                                  f"{d['writer_uid']}, written by {h[7]}/0")
                if a.once and tag in got_tags:
                    dup += 1
                    errors.append(f"record {tag:#x} output by two instances")
                got_tags.add(tag)
        for key, (first, last) in lost_here:
            for rid in seen:
                if rid[0] == key and (first is None or rid[1] >= first) and \
                        (last is None or rid[1] <= last):
                    errors.append(f"instance {inst}: record {rid[1]} of {key} "
                                  f"output and marked lost")

    if len(streams) != 1:
        errors.append(f"expected one stream, got {sorted(streams)}")
    total = len(expected)
    lost_ids = set()
    for st in streams.values():
        for first, last in st["lost"]:
            lo = 0 if first is None else first
            hi = total - 1 if last is None else last
            lost_ids.update(r for r in range(lo, hi + 1) if r not in st["got"])
        beyond = [r for r in st["got"] if r >= total]
        if beyond:
            errors.append(f"record ids beyond the {total} accepted: {beyond[:5]}")
    received = len(got_tags)
    unaccounted = total - received - len(lost_ids)
    if unaccounted:
        errors.append(f"{unaccounted} accepted records neither arrived nor "
                      f"were marked lost")
    if lost_ids and not a.allow_lost:
        errors.append(f"{len(lost_ids)} records marked lost")
    summary = {"accepted": total, "received": received,
               "lost_marked": len(lost_ids), "lost_lines": lost_lines,
               "lost_reasons": reasons, "unaccounted": unaccounted,
               "duplicates": dup}
    print("losscheck:", json.dumps(summary))
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump(summary, f)
    for e in errors[:20]:
        print("error:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
