#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# A lost last datagram: tlstap-fwd -> tlstap-recv over IPv6, a burst of
# records whose last one (3228 bytes, written after a pause so that it
# starts a datagram of its own: 1372 + 1372 + 556 record bytes at MTU
# 1500, 1452 - 16 - 64 a datagram) loses its last datagram to an nft rule
# that matches exactly that one (DATA, not retransmitted, first chunk of
# that record id at offset 2744). Nothing
# follows it, so only the heartbeat can tell the receiver. Checks: the
# rule dropped exactly one datagram; the receiver got a heartbeat, NACKed
# the last seq and got it retransmitted (once); every record byte-exact,
# no LOST; the record completed within a second of being written.
. "$(dirname "$0")/nfq/lib.sh"

build_tools
setup_topology 1
TOS=32
T1="[fd77:1::2]:7419"
N=200
LAST=$((N - 1))
split_gso 1
# Resolve the neighbour first: a burst to an unresolved IPv6 neighbour
# loses all but its first few datagrams (they are NACKed and resent, but
# this test wants exactly one datagram lost).
ip netns exec "$(ns S)" ping -6 -c 1 -W 2 fd77:1::2 >/dev/null ||
	fail "no IPv6 path to R1"
ip netns exec "$(ns R1)" nft -f - <<NFT || fail "nft rule"
table inet tlstap_tail {
	chain in {
		type filter hook prerouting priority -300;
		udp dport 7419 @th,64,8 1 @th,88,8 0 @th,192,32 $LAST @th,256,32 2744 counter drop
	}
}
NFT
start_rel_receiver
start_fwd fwd S "$TMP/in.sock" --tos "$TOS" --target "$T1"

start_paused_writer "$LAST" --seed 12 --flows 20 --records "$N" \
	--max-size 8192 --last-size 3228
# Everything before the last record is out: it starts a datagram.
wait_lines "$LAST" "$TMP/recv1.json"
start=$(date +%s%N)
resume_writer
wait_lines "$N" "$TMP/recv1.json"
took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
sleep 0.5
stop_bg fwd
stop_bg recv1

dropped=$(nft_counters R1 inet tlstap_tail)
[ "$dropped" = 1 ] || fail "the rule dropped $dropped datagrams, want exactly 1"
check_delivery delivery "\"tos\": $TOS, \"reliable\": true" "1 $T1 1500 stats"
PYTHONPATH=$NFQ_HELPERS python3 - "$TMP" <<'PY' >"$TMP/counters.out" || fail "$(tail -n 1 "$TMP/counters.out")"
import sys
from reloutput import datagrams, fail, final
tmp = sys.argv[1]
fwd, rcv = final(tmp + "/fwd.err"), final(tmp + "/recv1.err")
dg = datagrams(tmp)
data = [d for d in dg if d.get("type") == 1]
top = max(d["seq"] for d in data)
rtx = [d for d in data if d["flags"] & 1]
# Heartbeats of the pause say 305 or so; those after the burst the top.
hb = [d for d in dg if d.get("type") == 4 and d["seq"] == top]
def check(ok, what):
    if not ok:
        fail(what)
check(fwd["targets"][0]["next_seq"] == top + 1, "highest seq %d, forwarder sent %d"
      % (top, fwd["targets"][0]["next_seq"]))
check([d["seq"] for d in rtx] == [top], "retransmitted %s, want only the last seq %d"
      % ([d["seq"] for d in rtx], top))
check(hb, "no heartbeat with seq %d" % top)
# The heartbeat came before the retransmission: it is what told.
check(dg.index(hb[0]) < dg.index(rtx[0]), "retransmitted before any heartbeat")
check(rcv["heartbeats_received"] >= 1 and rcv["nacks_sent"] >= 1 and
      rcv["retransmitted"] == 1 and rcv["lost_ranges"] == 0,
      "receiver counters %s" % rcv)
check(fwd["retransmits"] == 1 and fwd["nacks_received"] == rcv["nacks_sent"] and
      fwd["gaps_sent"] == 0 and fwd["nack_rejected"] == 0,
      "forwarder counters %s" % fwd)
print("last seq %d dropped, heartbeat -> NACK -> retransmitted once" % top)
PY
cat "$TMP/counters.out"
[ "$took_ms" -lt 1000 ] || fail "the last record took $took_ms ms"
echo "PASS: $TEST_NAME (${RECEIVER:-recv}) (last record complete $took_ms ms after it was written)"
