#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# A replay ring too small for the loss: tlstap-fwd holds 3000 bytes (two
# datagrams) for retransmission while the link drops 30% of what it sends
# (nft, see lossy_link). Most NACKs are answered with a GAP. The loss
# stops for the last 100 records, so that the stream ends cleanly. Checks:
# every record is either output byte-exact or inside exactly one LOST
# range, never both, never neither (so the LOST ranges hold exactly the
# records that were lost); the LOST seq ranges are seqs that never
# arrived, each in one range at most; the receiver's counters (lost_records, lost_datagrams,
# lost_ranges, gaps_received, nacks_sent) agree with its output and with
# the forwarder's (nacks_received, gaps_sent, retransmits); nothing is
# pending at the end.
. "$(dirname "$0")/nfq/lib.sh"
build_tools
setup_topology 1
TOS=32
T1="10.77.1.2:7419"
N=1500
lossy_link 1 30 0 0
start_rel_receiver
start_fwd fwd S "$TMP/in.sock" --tos "$TOS" --target "$T1" --replay-bytes 3000

start_paused_writer $((N - 100)) --seed 13 --flows 30 --records "$N" \
	--max-size 4096 --loss-every 40
# Let the NACKs of the lossy part run their course (6 tries: 1.26 s).
sleep 2
ip netns exec "$(ns R1)" nft delete table inet tlstap_loss ||
	fail "removing the loss rule"
resume_writer
records_accounted "$TMP/recv1.json" "$N" 20
sleep 0.5
stop_bg fwd
stop_bg recv1

PYTHONPATH=$NFQ_HELPERS python3 - "$TMP" "$N" <<'PY' >"$TMP/check.out" || fail "$(tail -n 1 "$TMP/check.out")"
import sys
from collections import Counter
from reloutput import datagrams, fail, final, records_output
tmp, n = sys.argv[1], int(sys.argv[2])
recs, lost, got = records_output(tmp, n)
marked = Counter()
for l in lost:
    if l["record_first"] is None or l["record_last"] is None:
        fail("LOST range with an unknown end: %s" % l)
    if l["reason"] not in ("gap", "timeout"):
        fail("LOST reason %s" % l)
    marked.update(range(l["record_first"], l["record_last"] + 1))
both = set(got) & set(marked)
if both:
    fail("records both output and LOST: %s" % sorted(both)[:5])
if any(c > 1 for c in marked.values()):
    fail("records in two LOST ranges: %s" % [i for i, c in marked.items() if c > 1][:5])
missing = set(range(n)) - set(got) - set(marked)
if missing:
    fail("records neither output nor LOST: %s" % sorted(missing)[:5])
if set(got) | set(marked) != set(range(n)):
    fail("record ids beyond the %d written: %s" % (n, sorted(set(got) | set(marked))[-3:]))
# The LOST seq ranges are exactly the seqs that never arrived.
dg = datagrams(tmp)
fwd, rcv = final(tmp + "/fwd.err"), final(tmp + "/recv1.err")
t = fwd["targets"][0]
arrived = {d["seq"] for d in dg if d.get("type") == 1 and d["verdict"] == "accepted"}
never = set(range(t["next_seq"])) - arrived
lost_seqs = Counter()
for l in lost:
    lost_seqs.update(range(l["seq_first"], l["seq_last"] + 1))
# (A lost datagram whose records are all in an earlier LOST line, a record
# spanning two lost datagrams, adds no line: it is in lost_datagrams.)
if not set(lost_seqs) <= never or any(c > 1 for c in lost_seqs.values()):
    fail("LOST seqs that arrived or twice: %s" % sorted(
        set(s for s, c in lost_seqs.items() if s not in never or c > 1))[:5])
checks = {"lost_records": len(marked), "lost_datagrams": len(never),
          "lost_ranges": len(lost), "lost_open_ended": 0,
          "records": len(recs), "pending_bytes": 0,
          "nacks_sent": fwd["nacks_received"],
          "retransmitted": sum(1 for d in dg if d.get("type") == 1 and d["flags"] & 1)}
for k, v in checks.items():
    if rcv[k] != v:
        fail("receiver counter %s = %d, want %d" % (k, rcv[k], v))
if not (0 < rcv["gaps_received"] <= t["gap_messages"]):
    fail("GAPs received %d, sent %d" % (rcv["gaps_received"], t["gap_messages"]))
# A seq the receiver gave up on itself ("timeout": its NACKs or the GAPs
# answering them lost on the lossy link, 30% each way) needs no GAP; every
# other seq that never arrived was answered with one.
timed_out = set()
for l in lost:
    if l["reason"] == "timeout":
        timed_out.update(range(l["seq_first"], l["seq_last"] + 1))
if not (t["gap_seqs"] >= len(never - timed_out) and fwd["gaps_sent"] > 0):
    fail("forwarder answered %d seqs with a GAP, %d never arrived, %d of them given up by the receiver"
         % (t["gap_seqs"], len(never), len(never & timed_out)))
if fwd["retransmits"] < rcv["retransmitted"] or fwd["nack_rejected"]:
    fail("forwarder counters %s" % fwd)
reasons = Counter(l["reason"] for l in lost)
print("%d records: %d output, %d in %d LOST ranges (%s); %d of %d datagrams never "
      "arrived; %d NACKs, %d GAPs (%d seqs), %d retransmitted"
      % (n, len(recs), len(marked), len(lost), dict(reasons), len(never), t["next_seq"],
         rcv["nacks_sent"], t["gap_messages"], t["gap_seqs"], fwd["retransmits"]))
PY
cat "$TMP/check.out"
echo "PASS: $TEST_NAME (${RECEIVER:-recv})"
