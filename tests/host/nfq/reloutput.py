# SPDX-License-Identifier: GPL-2.0 OR MIT
"""What the rel-*.sh tests read back from $TMP (nfq/lib.sh's files): the
records receiver 1 output (recv1.json) against what the test writer sent
(expect.json), its datagram log (recv1.dg), and the last counters of
tlstap-fwd, tlstap-recv and tlstap-nfq (their stderr, --stats-json)."""

import json
import sys
from collections import Counter


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def final(path):
    """The last counters written to path; tlstap-nfq's are its core's,
    with the NACKs it sent, so that they read as tlstap-recv's."""
    v = [json.loads(l) for l in open(path) if l.startswith("{")][-1]
    if "reasm" in v:
        v = dict(v["reasm"], nacks_sent=v["nfq"]["nacks_sent"])
    return v


def datagrams(tmp):
    """Receiver 1's datagram log, a dict per datagram."""
    return [json.loads(l) for l in open(tmp + "/recv1.dg")]


def records_output(tmp, n):
    """Receiver 1's records and LOST lines, and how often each record id
    came out: the writer sent n records, none came out twice, each as
    it was written (one writer, one target: record id i is the i-th
    record written)."""
    expected = [json.loads(l) for l in open(tmp + "/expect.json")]
    if len(expected) != n:
        fail("the writer sent %d records, want %d" % (len(expected), n))
    out = [json.loads(l) for l in open(tmp + "/recv1.json")]
    recs = [r for r in out if r["type"] != "lost"]
    lost = [r for r in out if r["type"] == "lost"]
    got = Counter(r["record_id"] for r in recs)
    if any(c > 1 for c in got.values()):
        fail("record output twice: %s" % [i for i, c in got.items() if c > 1][:5])
    for r in recs:
        e = expected[r["record_id"]]
        for k, v in e.items():
            if k != "flow" and r.get(k) != v:
                fail("record %d: %s = %r, want %r" % (r["record_id"], k, r.get(k), v))
    return recs, lost, got
