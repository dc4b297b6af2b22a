#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Reliable delivery from the module, judged at its receivers (tlstap-recv
and tlstap-nfq, --output raw, --lost FILE, --log-datagrams, --stats-json).

usage: relcheck.py MODE --expected FILE --fwd TLSTAP_FWD --key HEX32
                   --target NAME,ADDR,RAW,LOST,DGRAMLOG,STATS,PID [...]
                   --module-before FILE [--timeout S] [--tos N]
                   [--weight-tolerance F]
Waits (at most --timeout seconds) until every record written is output or
inside a LOST range, stops the receivers (SIGTERM to PID: they write
their last counters), reads the module's counters and checks, by MODE:
  clean  no loss allowed: every record byte-exact at its target, seqs,
         TOS, flow spread (reccheck.py, run from here), no LOST line,
         receivers' loss counters zero, the module sent no GAP and
         rejected no NACK, retransmitted what the receivers saw
  tail   clean, and: each target's last seq arrived only as a
         retransmission, after a HEARTBEAT naming it
  lost   loss allowed: every record is output byte-exact at its target
         or in exactly one LOST range, never both, never neither; the
         LOST seqs never arrived; receivers' and module's counters agree

Record ids are per target, in the order written: which target each record
went to is tlstap-fwd --print-target's answer for the module's key and
targets (the module steers alike, tests/vm/fwd-identity.sh).
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import reccheck
from rawrec import records

def json_lines(path):
    out = []
    for line in open(path):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            out.append(json.loads(line))
    return out


def module_stats(path):
    return {k: int(v) for k, v in (line.split() for line in open(path))}


class Target:
    def __init__(self, spec):
        (self.name, self.addr, self.raw, self.lost, self.dlog,
         self.stats, pid) = spec.split(",")
        self.pid = int(pid)

    def stop(self, timeout=30):
        """SIGTERM, then until it has exited (a zombie: the shell reaps)."""
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            raise SystemExit(f"FAIL: {self.name} (pid {self.pid}) had exited")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                state = open(f"/proc/{self.pid}/stat").read().rsplit(")", 1)[1]
            except (FileNotFoundError, ProcessLookupError):
                return      # exited, and the shell has reaped it
            if state.split()[0] in ("Z", "X"):
                return
            time.sleep(0.05)
        raise SystemExit(f"FAIL: {self.name} (pid {self.pid}) did not exit")

    def counters(self):
        """The receiver's last counters: the core's, plus nacks_sent as
        sent (tlstap-nfq: its NACK socket's count)."""
        last = [j for j in json_lines(self.stats)
                if j.get("type") != "lost"][-1]
        if "reasm" in last:
            c = dict(last["reasm"])
            c["nacks_sent"] = last["nfq"]["nacks_sent"]
            c["nack_send_errors"] = last["nfq"]["nack_send_errors"]
            return c
        return last

    def lost_lines(self):
        return [j for j in json_lines(self.lost) if j.get("type") == "lost"]


def steering(a, n):
    """Target address of each of the first n records of the expected file."""
    cmd = [a.fwd, "--print-target", "--stdin", "--hash-key", a.key]
    for t in a.targets:
        cmd += ["--target", t.addr]
    res = subprocess.run(cmd, stdin=open(a.expected, "rb"),
                         capture_output=True)
    if res.returncode:
        raise SystemExit("FAIL: tlstap-fwd --print-target: "
                         + res.stderr.decode())
    addrs = [dict(kv.split("=", 1) for kv in line.split())["addr"]
             for line in res.stdout.decode().splitlines()]
    if len(addrs) != n:
        raise SystemExit(f"FAIL: --print-target gave {len(addrs)} lines "
                         f"for {n} records")
    return addrs


def lost_count(lines):
    return sum(l["record_last"] - l["record_first"] + 1 for l in lines
               if l["record_first"] is not None
               and l["record_last"] is not None)


def wait(a, expected):
    end = time.monotonic() + a.timeout
    while True:
        got = 0
        for t in a.targets:
            got += sum(1 for _ in records(t.raw, partial_ok=True))
            got += lost_count(t.lost_lines())
        if got >= len(expected):
            return True
        if time.monotonic() > end:
            print(f"FAIL: after {a.timeout:.0f} s, {got} of {len(expected)} "
                  "records output or LOST")
            return False
        time.sleep(0.3)


class Checker:
    def __init__(self):
        self.errors = []

    def check(self, ok, what):
        if not ok:
            self.errors.append(what)
        return ok


def datagrams(t):
    """DATA datagrams and HEARTBEATs the receiver took, in arrival order."""
    return [d for d in json_lines(t.dlog)
            if d.get("status") == "ok" and d.get("type") in (1, 3, 4)]


def invalid_reasons(r):
    """tlstap-recv nests them, tlstap-nfq's "reasm" group has them flat."""
    by = r.get("invalid_by_reason", r)
    return {k: v for k, v in by.items()
            if k.startswith(("bad_", "chunk_", "short", "trailing")) and v}


def common(a, c, mod, rx):
    """Counters every mode has: module against the receivers."""
    c.check(mod["nack_rejected"] == 0,
            f"module rejected {mod['nack_rejected']} NACKs of targets")
    sent = sum(r["nacks_sent"] for r in rx.values())
    c.check(0 < mod["nacks_received"] <= sent,
            f"module honoured {mod['nacks_received']} NACKs, receivers sent {sent}")
    got = sum(r["retransmitted"] for r in rx.values())
    c.check(got <= mod["retransmits"],
            f"module retransmitted {mod['retransmits']}, receivers took {got}")
    for name, r in rx.items():
        c.check(r["nack_send_errors"] == 0, f"{name}: NACK send errors")
        c.check(r["pending_bytes"] == 0, f"{name}: {r['pending_bytes']} bytes "
                "of incomplete records left")
        c.check(r["invalid"] == 0, f"{name}: {r['invalid']} invalid "
                f"datagrams: {invalid_reasons(r)}")


def mode_clean(a, expected, mod, tail):
    c = Checker()
    rx = {t.name: t.counters() for t in a.targets}
    common(a, c, mod, rx)
    c.check(mod["retransmits"] > 0, "the module retransmitted nothing")
    c.check(mod["gaps_sent"] == 0, f"module sent {mod['gaps_sent']} GAP ranges")
    for t in a.targets:
        r = rx[t.name]
        lost = t.lost_lines()
        c.check(not lost, f"{t.name}: LOST lines: {lost[:2]}")
        for k in ("lost_datagrams", "lost_records", "lost_ranges",
                  "gaps_received"):
            c.check(r[k] == 0, f"{t.name}: {k} = {r[k]}")
        dg = datagrams(t)
        rtx = sum(1 for d in dg if d["type"] == 1 and d["flags"] & 1)
        c.check(r["retransmitted"] == rtx,
                f"{t.name}: counted {r['retransmitted']} retransmissions, "
                f"logged {rtx}")
        n = sum(1 for _ in records(t.raw))
        c.check(r["records"] == n, f"{t.name}: records {r['records']}, "
                f"output {n}")
        if tail:
            data = [d for d in dg if d["type"] == 1]
            top = max(d["seq"] for d in data)
            first = [i for i, d in enumerate(dg)
                     if d["type"] == 1 and d["seq"] == top]
            hb = [i for i, d in enumerate(dg)
                  if d["type"] == 4 and d["seq"] == top]
            if c.check(first and hb, f"{t.name}: last seq {top} "
                       f"(arrived {len(first)}x), heartbeats {len(hb)}"):
                c.check(dg[first[0]]["flags"] & 1,
                        f"{t.name}: last seq {top} arrived as an original")
                c.check(hb[0] < first[0], f"{t.name}: last seq {top} "
                        "retransmitted before any heartbeat named it")
                print(f"{t.name}: last seq {top} lost, heartbeat -> NACK -> "
                      "retransmitted")
    print("clean: %d records; module: %d NACKs honoured, %d retransmits; "
          "receivers: %s" % (len(expected), mod["nacks_received"],
                             mod["retransmits"],
                             {n: (r["nacks_sent"], r["retransmitted"],
                                  r["heartbeats_received"])
                              for n, r in rx.items()}))
    return c


def mode_lost(a, expected, mod):
    c = Checker()
    addrs = steering(a, len(expected))
    rx = {t.name: t.counters() for t in a.targets}
    common(a, c, mod, rx)
    total_marked = 0
    gaps_rx = 0
    for t in a.targets:
        r = rx[t.name]
        mine = [i for i in range(len(expected)) if addrs[i] == t.addr]
        rid = {idx: k for k, idx in enumerate(mine)}
        out = Counter()
        for h, b in records(t.raw):
            idx = h[10]
            out[idx] += 1
            c.check(idx in rid, f"{t.name}: record #{idx} belongs elsewhere")
            c.check(b == expected.get(idx), f"{t.name}: record #{idx} "
                    "differs from what was written")
        c.check(all(n == 1 for n in out.values()),
                f"{t.name}: records output twice")
        got = {rid[i] for i in out if i in rid}
        lost = t.lost_lines()
        stream = {d["stream"] for d in datagrams(t)}
        marked = Counter()
        for l in lost:
            if not c.check(l["record_first"] is not None and
                           l["record_last"] is not None,
                           f"{t.name}: LOST with an unknown end: {l}"):
                continue
            c.check(l["reason"] in ("gap", "timeout"), f"{t.name}: {l}")
            c.check({l["stream"]} == stream, f"{t.name}: LOST of stream "
                    f"{l['stream']}, datagrams of {stream}")
            marked.update(range(l["record_first"], l["record_last"] + 1))
        want = set(range(len(mine))) - got
        c.check(set(marked) == want, "%s: LOST records %s, not received %s"
                % (t.name, sorted(set(marked) ^ want)[:8], len(want)))
        c.check(all(n == 1 for n in marked.values()),
                f"{t.name}: records in two LOST ranges")
        # LOST seqs are seqs that never arrived; lost_datagrams all of those.
        dg = datagrams(t)
        arrived = {d["seq"] for d in dg if d["type"] == 1}
        top = max(arrived)
        never = set(range(top + 1)) - arrived
        lost_seqs = Counter()
        for l in lost:
            lost_seqs.update(range(l["seq_first"], l["seq_last"] + 1))
        c.check(set(lost_seqs) <= never and
                all(n == 1 for n in lost_seqs.values()),
                f"{t.name}: LOST seqs that arrived, or twice")
        for k, v in (("lost_records", len(marked)), ("lost_ranges", len(lost)),
                     ("lost_open_ended", 0), ("records", len(out)),
                     ("lost_datagrams", len(never))):
            c.check(r[k] == v, f"{t.name}: counter {k} = {r[k]}, want {v}")
        gaps_rx += r["gaps_received"]
        total_marked += len(marked)
        print(f"{t.name}: {len(mine)} records: {len(got)} output, "
              f"{len(marked)} in {len(lost)} LOST lines "
              f"({dict(Counter(l['reason'] for l in lost))}); "
              f"{len(never)} of {top + 1} datagrams never arrived; "
              f"{r['nacks_sent']} NACKs, {r['gaps_received']} GAPs, "
              f"{r['retransmitted']} retransmitted")
    c.check(total_marked > 0, "nothing was lost: the ring was big enough")
    c.check(0 < gaps_rx <= mod["gaps_sent"],
            f"receivers got {gaps_rx} GAPs, module sent {mod['gaps_sent']} ranges")
    print(f"module: {mod['nacks_received']} NACKs, {mod['retransmits']} "
          f"retransmits, {mod['gaps_sent']} GAP ranges")
    return c


def byte_exact(a):
    """reccheck.py's checks of the receivers' output against recgen's."""
    argv = ["reccheck.py", "--expected", a.expected, "--tos", str(a.tos),
            "--weight-tolerance", str(a.weight_tolerance)]
    for t in a.targets:
        argv += ["--target", f"{t.name},{t.raw},{t.dlog},1,1472"]
    saved, sys.argv = sys.argv, argv
    try:
        return reccheck.main() == 0
    finally:
        sys.argv = saved


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("clean", "tail", "lost"))
    ap.add_argument("--expected", required=True)
    ap.add_argument("--fwd")
    ap.add_argument("--key")
    ap.add_argument("--target", action="append", required=True)
    ap.add_argument("--module-before", required=True)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--tos", type=int, default=32)
    ap.add_argument("--weight-tolerance", type=float, default=0.15)
    a = ap.parse_args()
    a.targets = [Target(s) for s in a.target]
    expected = {h[10]: b for h, b in records(a.expected)}
    ok = wait(a, expected)
    time.sleep(0.5)     # late answers to NACKs land as duplicates
    for t in a.targets:
        t.stop()
    if not ok:
        return 1
    before = module_stats(a.module_before)
    after = module_stats("/sys/class/misc/tlstap/stats")
    mod = {k: after[k] - before[k] for k in after}
    if a.mode == "lost":
        c = mode_lost(a, expected, mod)
    else:
        if not byte_exact(a):
            return 1
        c = mode_clean(a, expected, mod, a.mode == "tail")
    for e in c.errors[:20]:
        print("error:", e)
    return 1 if c.errors else 0


if __name__ == "__main__":
    sys.exit(main())
