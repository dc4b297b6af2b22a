#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Compares `tlstap-fwd --print-target` lines (stdin) with the reference
steering for the given key and targets. Usage:
check_targets.py KEYHEX EXPECT.json TARGET...  Prints a summary; FAIL and
exit 1 on the first disagreement."""

import json
import sys
from collections import Counter

import tlstap_ref as ref


def main():
    key = bytes.fromhex(sys.argv[1])
    expected = [json.loads(l) for l in open(sys.argv[2])]
    specs = sys.argv[3:]
    order, table = ref.build_table(key, specs)
    lines = sys.stdin.read().splitlines()
    if len(lines) != len(expected):
        print("FAIL %d lines for %d records" % (len(lines), len(expected)))
        sys.exit(1)
    per_target = Counter()
    for n, (line, e) in enumerate(zip(lines, expected)):
        f = dict(kv.split("=", 1) for kv in line.split())
        fam = e["family"]
        h = ref.siphash24(key, ref.flow_key(
            fam, ref.addr_bytes(fam, e["src"]), e["sport"],
            ref.addr_bytes(fam, e["dst"]), e["dport"], e["conn_id"]))
        idx = table[ref.bucket(h)]
        want = order[idx].split(",")[0]
        if int(f["hash"], 16) != h or int(f["bucket"]) != ref.bucket(h):
            print("FAIL record %d: hash %s bucket %s, reference %016x %d"
                  % (n, f["hash"], f["bucket"], h, ref.bucket(h)))
            sys.exit(1)
        if f["addr"] != want or int(f["target"]) != idx:
            print("FAIL record %d: target %s %s, reference %d %s"
                  % (n, f["target"], f["addr"], idx, want))
            sys.exit(1)
        per_target[want] += 1
    print("%d records, %d targets used, all as the reference steers"
          % (len(lines), len(per_target)))


if __name__ == "__main__":
    main()
