#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Checks what the receivers got against what the test writer sent.
Usage: check_delivery.py CONFIG.json. Prints what it checked; on the first
failure prints one line starting with FAIL and exits 1.
Besides the records: each target is one stream of its own (the stream id
tlstap-fwd reports for it, no two targets alike); loss reports come out
as "type": "loss" lines without "data" and are counted by the forwarder
and (when a receiver's "stats" file is given) by the receiver, as OPEN
and CLOSE records are ("type": "open", "close"; with "want_lifecycle":
each flow's first and last record at its target). Each record's "time"
is its "time_ns" in RFC 3339 (UTC, nanoseconds).
Heartbeats (a target gone quiet) may be among the datagrams. With
"reliable": true (a lossy path that NACKs repair), datagrams may also
come twice (retransmitted, flagged); every seq must still have been
accepted once, and no record may be LOST."""

import datetime
import json
import sys
from collections import defaultdict

import tlstap_ref as ref


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def last_json(path):
    with open(path) as f:
        lines = [l for l in f if l.startswith("{")]
    if not lines:
        fail("no JSON counters in %s" % path)
    return json.loads(lines[-1])


def rfc3339(ns):
    """ns since the epoch as the receivers write it: UTC, 9 digits."""
    t = datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % (ns % 10**9)


def read_lines(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def main():
    cfg = json.load(open(sys.argv[1]))
    # Several writer runs may feed one forwarder: lists are merged.
    expect_files = cfg["expect"] if isinstance(cfg["expect"], list) else [cfg["expect"]]
    summary_files = cfg["summary"] if isinstance(cfg["summary"], list) else [cfg["summary"]]
    expected = {e["time_ns"]: e for f in expect_files for e in read_lines(f)}
    summary = {"records": 0, "loss_reports": 0, "malformed": 0,
               "malformed_by_reason": {}}
    for f in summary_files:
        s = json.load(open(f))
        summary["records"] += s["records"]
        summary["loss_reports"] += s["loss_reports"]
        summary["malformed"] += s["malformed"]
        for k, v in s["malformed_by_reason"].items():
            summary["malformed_by_reason"][k] = summary["malformed_by_reason"].get(k, 0) + v
    fwd = last_json(cfg["fwd_stats"])
    key = bytes.fromhex(cfg["hash_key"])
    order, table = ref.build_table(key, [r["target"] for r in cfg["receivers"]])
    by_spec = {r["target"]: r for r in cfg["receivers"]}

    # Counters of the forwarder against the writer's own.
    if fwd["records"] != summary["records"]:
        fail("tlstap-fwd forwarded %d records, the writer sent %d valid"
             % (fwd["records"], summary["records"]))
    if fwd["loss_reports"] != summary["loss_reports"]:
        fail("tlstap-fwd forwarded %d loss reports, the writer sent %d"
             % (fwd["loss_reports"], summary["loss_reports"]))
    if fwd["malformed"] != summary["malformed"]:
        fail("tlstap-fwd counted %d malformed, the writer sent %d"
             % (fwd["malformed"], summary["malformed"]))
    for reason, n in summary["malformed_by_reason"].items():
        if fwd["malformed_by_reason"].get(reason) != n:
            fail("malformed %s: tlstap-fwd counted %s, sent %d"
                 % (reason, fwd["malformed_by_reason"].get(reason), n))
    # Send errors are expected only where a test provokes them (MTU).
    if fwd["dropped_datagrams"] or (fwd["send_errors"] and
                                    not cfg.get("allow_send_errors")):
        fail("tlstap-fwd send errors %d, dropped datagrams %d"
             % (fwd["send_errors"], fwd["dropped_datagrams"]))

    # tlstap-fwd's targets by address (its names carry no weight).
    fwd_targets = {t["target"]: t for t in fwd["targets"]}
    stream_of = {}
    seen = {}
    losses = 0
    lifecycle = defaultdict(int)
    by_conn = defaultdict(list)
    flow_at = defaultdict(set)
    flows_per_target = defaultdict(set)
    for spec in order:
        r = by_spec[spec]
        recs = read_lines(r["out"])
        lost = [x for x in recs if x["type"] == "lost"]
        if lost:
            fail("%s: %d LOST ranges, first %s" % (spec, len(lost), lost[0]))
        dgrams = read_lines(r["log"])
        if cfg.get("reliable"):
            for d in dgrams:
                if d["verdict"] not in ("accepted", "duplicate", "control"):
                    fail("%s: datagram %s" % (spec, d))
                if d["tos"] != cfg["tos"]:
                    fail("%s: datagram %s: TOS %d, want %d"
                         % (spec, d, d["tos"], cfg["tos"]))
                if d["verdict"] == "control" and d["type"] != 4:
                    fail("%s: control message other than a heartbeat: %s"
                         % (spec, d))
            # Once as sent, any number of times resent (the original
            # may come after a retransmission that overtook it).
            originals = defaultdict(int)
            for d in dgrams:
                if d.get("type") == 1 and not d["flags"] & 1:
                    originals[d["seq"]] += 1
            twice = [q for q, n in originals.items() if n > 1]
            if twice:
                fail("%s: seq %d sent twice without the retransmit flag"
                     % (spec, twice[0]))
            dgrams = [d for d in dgrams if d["verdict"] == "accepted"]
        else:
            # A quiet target gets heartbeats; nothing else but DATA.
            for d in dgrams:
                if d["verdict"] == "control" and (d["type"] != 4 or
                                                  d["tos"] != cfg["tos"]):
                    fail("%s: datagram %s" % (spec, d))
            dgrams = [d for d in dgrams if d["verdict"] != "control"]
        streams = {d["stream"] for d in dgrams if "stream" in d}
        if recs and len(streams) != 1:
            fail("%s: %d sender streams, want 1" % (spec, len(streams)))
        # A stream per target: the one tlstap-fwd started for it.
        ft = fwd_targets.get(spec.split(",")[0])
        if ft is None:
            fail("%s: not among tlstap-fwd's targets %s" % (spec, sorted(fwd_targets)))
        if streams and streams != {ft["stream_id"]}:
            fail("%s: datagrams of stream %s, tlstap-fwd's stream for it is %d"
                 % (spec, sorted(streams), ft["stream_id"]))
        if ft["stream_id"] in stream_of.values():
            fail("%s: stream id %d shared with another target" % (spec, ft["stream_id"]))
        stream_of[spec] = ft["stream_id"]
        # Datagrams: TOS, size within the MTU, sequence 0..n-1 once each.
        hdr = 48 if spec.startswith("[") else 28
        limit = r["mtu"] - hdr
        seqs = []
        for d in dgrams:
            if d["verdict"] != "accepted":
                fail("%s: datagram %s" % (spec, d))
            if d["tos"] != cfg["tos"]:
                fail("%s: datagram seq %d has TOS %d, want %d"
                     % (spec, d["seq"], d["tos"], cfg["tos"]))
            if d["size"] > limit:
                fail("%s: datagram seq %d is %d bytes, MTU %d allows %d"
                     % (spec, d["seq"], d["size"], r["mtu"], limit))
            seqs.append(d["seq"])
        if sorted(seqs) != list(range(len(seqs))):
            fail("%s: sequence numbers are not 0..%d once each"
                 % (spec, len(seqs) - 1))
        biggest = max((d["size"] for d in dgrams), default=0)
        if r.get("full_size") and biggest != limit:
            fail("%s: largest datagram %d bytes, want exactly %d (MTU %d)"
                 % (spec, biggest, limit, r["mtu"]))
        ids = sorted(x["record_id"] for x in recs)
        if ids != list(range(len(ids))):
            fail("%s: record ids are not 0..%d" % (spec, len(ids) - 1))
        for x in recs:
            e = expected.get(x["time_ns"])
            if e is None:
                fail("%s: unexpected record time=%s" % (spec, x["time_ns"]))
            if x["time_ns"] in seen:
                fail("record time=%d delivered twice" % x["time_ns"])
            seen[x["time_ns"]] = spec
            if x["time"] != rfc3339(x["time_ns"]):
                fail("%s: record time_ns=%d has time %r, want %r"
                     % (spec, x["time_ns"], x["time"], rfc3339(x["time_ns"])))
            for k, v in e.items():
                if k != "flow" and x.get(k) != v:
                    fail("%s: record time=%d field %s = %r, want %r"
                         % (spec, x["time_ns"], k, x.get(k), v))
            if e["type"] != "data" and "data" in x:
                fail("%s: %s record time=%d has a data field"
                     % (spec, e["type"], x["time_ns"]))
            losses += e["type"] == "loss"
            lifecycle[e["type"]] += e["type"] in ("open", "close")
            by_conn[e["conn_id"]].append((x["record_id"], e["type"]))
            flow_at[e["conn_id"]].add(spec)
            flows_per_target[spec].add(e["conn_id"])
            # The reference steering must agree with where it arrived.
            fam = e["family"]
            h = ref.siphash24(key, ref.flow_key(
                fam, ref.addr_bytes(fam, e["src"]), e["sport"],
                ref.addr_bytes(fam, e["dst"]), e["dport"], e["conn_id"]))
            want = order[table[ref.bucket(h)]]
            if want != spec:
                fail("record time=%d arrived at %s, reference steering says %s"
                     % (x["time_ns"], spec, want))
        if r.get("stats"):
            st = last_json(r["stats"])
            core = st.get("reasm", st)   # tlstap-nfq: grouped
            for counter, kind in (("loss_reports", "loss"), ("opens", "open"),
                                  ("closes", "close")):
                want = sum(x["type"] == kind for x in recs)
                if core[counter] != want:
                    fail("%s: the receiver counted %d %s, output %d"
                         % (spec, core[counter], counter, want))
        print("%s: %d records, %d datagrams (largest %d, limit %d), TOS %d, "
              "stream %08x"
              % (spec, len(recs), len(dgrams), biggest, limit, cfg["tos"],
                 ft["stream_id"]))

    missing = set(expected) - set(seen)
    if missing:
        fail("%d records never arrived (first time=%d)"
             % (len(missing), min(missing)))
    split = [f for f, s in flow_at.items() if len(s) > 1]
    if split:
        fail("flow conn_id %d reached %s" % (split[0], sorted(flow_at[split[0]])))
    dirs = defaultdict(set)
    for e in expected.values():
        dirs[e["conn_id"]].add(e["dir"])
    both = sum(1 for d in dirs.values() if len(d) == 2)
    if both < len(dirs) // 2:
        fail("only %d flows had both directions: test data too thin" % both)
    if cfg.get("check_spread"):
        total_w = sum(ref.parse_target(s)[3] for s in order)
        nflows = len(flow_at)
        for spec in order:
            share = ref.parse_target(spec)[3] / total_w
            got = len(flows_per_target[spec])
            if not (0.5 * share * nflows <= got <= 1.5 * share * nflows + 2):
                fail("%s got %d of %d flows, weight share %.2f"
                     % (spec, got, nflows, share))
        print("spread: " + ", ".join("%s %d flows" % (s, len(flows_per_target[s]))
                                     for s in order))
    if cfg.get("want_loss_reports") and not losses:
        fail("no loss report among the records: test data too thin")
    if cfg.get("want_lifecycle"):
        # Each flow's OPEN first and its CLOSE last in its stream's order.
        for conn, recs in by_conn.items():
            kinds = [k for _, k in sorted(recs)]
            if kinds[0] != "open" or kinds[-1] != "close" or \
                    kinds.count("open") != 1 or kinds.count("close") != 1:
                fail("conn_id %d: records %s, want one OPEN first and one "
                     "CLOSE last" % (conn, kinds))
        if fwd["records"] != summary["records"]:
            fail("tlstap-fwd did not count OPEN and CLOSE as records")
        print("lifecycle: %d OPEN, %d CLOSE, each flow's first and last"
              % (lifecycle["open"], lifecycle["close"]))
    print("OK: %d records byte-exact (%d loss reports), %d flows (%d with "
          "both directions) each at one target, %d streams"
          % (len(seen), losses, len(flow_at), both, len(stream_of)))


if __name__ == "__main__":
    main()
