#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""What the capture rings carried arrived whole and once, and nothing else.

usage: ringcheck.py --expected FILE... --got RAW... [--records N]
                    [--loss-reports N]
       ringcheck.py --count FILE...

--expected: tests/tools/ringwriter's files, each record the module must
deliver (a loss report where the record's plaintext is lost); --got:
tlstap-recv --output raw files. The two must hold the same records, byte
for byte, each as often; --records and --loss-reports pin how many there
are in all, so that a run that wrote nothing cannot pass. Prints the
counts as one JSON line. --count prints how many records FILE... hold.
"""
import argparse
import collections
import json
import sys

from rawrec import HDR, records

def describe(rec):
    h = HDR.unpack_from(rec)
    kind = "loss report" if h[6] == 0 else f"{h[6]}-byte record"
    return f"{kind} pid {h[7]} tag {h[10]:#x} conn {h[11]:#x} dropped {h[12]}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", nargs="+")
    ap.add_argument("--expected", nargs="+")
    ap.add_argument("--got", nargs="+")
    ap.add_argument("--records", type=int)
    ap.add_argument("--loss-reports", type=int)
    a = ap.parse_args()
    if a.count:
        print(sum(1 for p in a.count for _ in records(p)))
        return 0
    if not a.expected or not a.got:
        ap.error("--expected and --got are required")

    want = collections.Counter(r for p in a.expected for _, r in records(p))
    got = collections.Counter(r for p in a.got for _, r in records(p))
    errors = []
    missing = want - got
    extra = got - want
    for rec, n in list(missing.items())[:10]:
        errors.append(f"missing {n}x: {describe(rec)}")
    for rec, n in list(extra.items())[:10]:
        errors.append(f"unexpected {n}x: {describe(rec)}")
    total = sum(want.values())
    losses = sum(n for rec, n in want.items() if len(rec) == HDR.size)
    if a.records is not None and total != a.records:
        errors.append(f"{total} records expected, the test wants {a.records}")
    if a.loss_reports is not None and losses != a.loss_reports:
        errors.append(f"{losses} loss reports expected, the test wants "
                      f"{a.loss_reports}")
    print("ringcheck:", json.dumps({
        "expected": total, "received": sum(got.values()),
        "loss_reports": losses, "missing": sum(missing.values()),
        "unexpected": sum(extra.values()),
        "bytes": sum(len(r) * n for r, n in want.items())}))
    for e in errors:
        print("error:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
