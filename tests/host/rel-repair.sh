#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# A hole repaired at the sender's pace, and one nobody answers
# (PROTOCOL.md 5.1). tlstap-fwd -> tlstap-recv (tlstap-nfq in
# rel-repair-nfq.sh), GSO batches cut before the veth.
# 1. An nft rule drops the originals of seqs 1000..4999 (DATA, flags 0)
#    as they enter R1: a hole of 4000 datagrams. tlstap-fwd holds them
#    all (--replay-bytes 64 MiB) but resends at most its burst of 1024,
#    then 1000 a second (--retransmit-rate 1000): the repair takes at
#    least (4000 - 1024) / 1000 s, about 3 s, while 6 unanswered NACKs
#    (20, 40, ... 320 ms apart) give a hole up after 1.26 s. NACKs that
#    bring resends of the stream use up no try: every record arrives,
#    byte-exact, once, and no LOST line; every dropped seq came
#    retransmitted; the sender's bucket cut NACKs short.
# 2. Then the NACKs are dropped on their way to the sender and one more
#    original datagram is dropped: that hole is given up after exactly
#    --nack-tries (6) NACKs, in one LOST line (reason timeout), and every
#    record is output or in it, never both.
. "$(dirname "$0")/nfq/lib.sh"
build_tools
setup_topology 1
TOS=32
T1="10.77.1.2:7419"
N=6500          # records: about one datagram each at MTU 1500
P=6400          # the writer pauses after these (phase 1)
HOLE_FIRST=1000
HOLE_LAST=4999
split_gso 1
ip netns exec "$(ns R1)" nft -f - <<NFT || fail "nft hole rule in R1"
table inet tlstap_hole {
	chain in {
		type filter hook prerouting priority -300;
		udp dport 7419 @th,64,8 1 @th,88,8 0 @th,128,32 $HOLE_FIRST-$HOLE_LAST counter drop
	}
}
NFT
start_rel_receiver
sleep 0.3
start_fwd fwd S "$TMP/in.sock" --tos "$TOS" --target "$T1" \
	--replay-bytes 67108864 --retransmit-rate 1000

start_paused_writer "$P" --seed 21 --flows 40 --records "$N" --max-size 4096
# Phase 1: every record, once the hole is repaired (30 s at most).
wait_records "$P" "$TMP/recv1.json"
sleep 0.5

# Phase 2: the sender hears no NACK; the second datagram after the
# highest sent so far (heartbeats name it) is dropped.
top=$(python3 -c '
import json, sys
print(max(d["seq"] for d in map(json.loads, open(sys.argv[1]))
          if d.get("type") in (1, 4)))' "$TMP/recv1.dg")
VICTIM=$((top + 2))
ip netns exec "$(ns S)" nft -f - <<NFT || fail "nft NACK rule in S"
table inet tlstap_deaf {
	chain in {
		type filter hook prerouting priority -300;
		udp dport 7419 @th,64,8 2 counter drop
	}
}
NFT
ip netns exec "$(ns R1)" nft add rule inet tlstap_hole in udp dport 7419 \
	@th,64,8 1 @th,88,8 0 @th,128,32 "$VICTIM" counter drop ||
	fail "nft victim rule in R1"
resume_writer
records_accounted "$TMP/recv1.json" "$N" 10
sleep 0.5
stop_bg fwd
stop_bg recv1
nft_counters R1 inet tlstap_hole >"$TMP/hole.count"
nft_counters S inet tlstap_deaf >"$TMP/deaf.count"

PYTHONPATH=$NFQ_HELPERS python3 - "$TMP" "$N" "$P" "$HOLE_FIRST" "$HOLE_LAST" \
	"$VICTIM" <<'PY' >"$TMP/check.out" || fail "$(tail -n 1 "$TMP/check.out")"
import sys
from reloutput import datagrams, fail, final, records_output
tmp = sys.argv[1]
n, p, hole_first, hole_last, victim = map(int, sys.argv[2:])
hole, victim_drops = map(int, open(tmp + "/hole.count").read().split())
nacks_dropped = int(open(tmp + "/deaf.count").read())
if hole != hole_last - hole_first + 1 or victim_drops != 1:
    fail("the rules dropped %d originals of the hole and %d of seq %d, want %d and 1"
         % (hole, victim_drops, victim, hole_last - hole_first + 1))
recs, lost, got = records_output(tmp, n)
missing1 = sorted(set(range(p)) - set(got))
if missing1:
    fail("phase 1: %d of %d records not output (first %s), LOST lines %s"
         % (len(missing1), p, missing1[:3], lost[:2]))
if len(lost) != 1:
    fail("%d LOST lines, want the one of seq %d: %s" % (len(lost), victim, lost[:3]))
l = lost[0]
if (l["seq_first"], l["seq_last"], l["reason"]) != (victim, victim, "timeout") \
        or l["record_first"] is None or l["record_last"] is None \
        or l["record_first"] < p:
    fail("LOST line %s, want seq %d given up (timeout), records after %d" % (l, victim, p))
marked = set(range(l["record_first"], l["record_last"] + 1))
if marked & set(got) or set(got) | marked != set(range(n)):
    fail("records both output and LOST, or neither: %s" % sorted(
        (marked & set(got)) | (set(range(n)) - set(got) - marked))[:5])
fwd, rcv = final(tmp + "/fwd.err"), final(tmp + "/recv1.err")
t = fwd["targets"][0]
dg = datagrams(tmp)
rtx = {d["seq"] for d in dg if d.get("type") == 1 and d["flags"] & 1
       and d["verdict"] == "accepted"}
if not set(range(hole_first, hole_last + 1)) <= rtx:
    fail("seqs of the hole not retransmitted: %s"
         % sorted(set(range(hole_first, hole_last + 1)) - rtx)[:5])
if not (t["nack_ratelimited_seqs"] > 0 and fwd["nack_ratelimited"] > 0):
    fail("the sender's bucket never cut a NACK short: %s" % t)
if fwd["gaps_sent"] or fwd["nack_rejected"]:
    fail("forwarder GAPed or rejected: %s" % fwd)
# Phase 2: every NACK the receiver sent for the victim was dropped.
if nacks_dropped != 6 or rcv["nacks_sent"] - fwd["nacks_received"] != 6:
    fail("%d NACKs dropped, %d sent, %d received: want 6 tries for seq %d"
         % (nacks_dropped, rcv["nacks_sent"], fwd["nacks_received"], victim))
checks = {"lost_ranges": 1, "lost_datagrams": 1, "lost_open_ended": 0,
          "lost_records": len(marked), "records": len(recs), "pending_bytes": 0}
for k, v in checks.items():
    if rcv[k] != v:
        fail("receiver counter %s = %d, want %d" % (k, rcv[k], v))
print("hole of %d datagrams repaired: %d retransmitted, %d NACKs, %d seqs over "
      "the sender's bucket; seq %d unanswered: given up after 6 NACKs, "
      "records %d..%d LOST" % (hole, fwd["retransmits"], fwd["nacks_received"],
                               t["nack_ratelimited_seqs"], victim,
                               l["record_first"], l["record_last"]))
PY
cat "$TMP/check.out"
echo "PASS: $TEST_NAME (${RECEIVER:-recv})"
