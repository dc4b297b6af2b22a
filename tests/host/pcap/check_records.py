#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Checks one receiver's JSON lines against a test writer's expectations
(gen_records.py --expect): the file is whole lines, each a JSON object;
every expected record exactly once with every field equal (the plaintext
byte-exact), nothing else, no LOST line.
Usage: check_records.py EXPECT OUT"""

import json
import sys


def main():
    expect = {}
    for line in open(sys.argv[1]):
        e = json.loads(line)
        expect[e["time_ns"]] = e
    raw = open(sys.argv[2], "rb").read()
    if raw and not raw.endswith(b"\n"):
        print("FAIL %s: the last line is cut short" % sys.argv[2])
        sys.exit(1)
    got = []
    for n, line in enumerate(raw.splitlines(), 1):
        try:
            got.append(json.loads(line))
        except ValueError:
            print("FAIL %s line %d is not JSON: %r" % (sys.argv[2], n, line[:60]))
            sys.exit(1)
    seen = set()
    for r in got:
        if r.get("type") == "lost":
            print("FAIL LOST line: %s" % json.dumps(r))
            sys.exit(1)
        e = expect.get(r["time_ns"])
        if e is None:
            print("FAIL unexpected record time=%s" % r["time_ns"])
            sys.exit(1)
        if r["time_ns"] in seen:
            print("FAIL record time=%s twice" % r["time_ns"])
            sys.exit(1)
        seen.add(r["time_ns"])
        for k, v in e.items():
            if k != "flow" and r.get(k) != v:
                print("FAIL record time=%s: %s = %r, want %r"
                      % (r["time_ns"], k, r.get(k), v))
                sys.exit(1)
    if len(seen) != len(expect):
        print("FAIL %d of %d records missing" % (len(expect) - len(seen), len(expect)))
        sys.exit(1)
    print("OK: %s: %d records byte-exact" % (sys.argv[2], len(seen)))


if __name__ == "__main__":
    main()
