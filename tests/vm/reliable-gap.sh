#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Reliable delivery from the module to tlstap-recv (t1) and tlstap-nfq
# (t2), as reliable.sh, when what is lost is hard to see or gone:
#  b. an nft rule at each target drops exactly the last datagram of a
#     burst (the third of the last record's three): the HEARTBEAT names
#     it, the receiver NACKs, the resend completes the record. Every
#     record byte-exact (reccheck.py), no LOST line, the heartbeat came
#     before the resend.
#  c. a replay ring too small for the loss (ring_kb 64: 16 slots; 30%
#     loss towards the targets): what the ring no longer holds is answered
#     with GAPs. Every record is output byte-exact at its target or in
#     exactly one LOST line, never both, never neither (record ids from
#     what was written, steered as tlstap-fwd --print-target says); LOST
#     seqs never arrived; receivers' counters agree with their output and
#     with the module's (relcheck.py lost).
. "$TLSTAP_SRC/tests/lib/vm.sh"
. "$TOOLS/relvm.bash"

rel_setup

echo "b: $SECONDS s"
# --- b. GSO on; the batches are cut into datagrams before the veth so
# that nft sees each. A 3228-byte record after a pause starts a datagram:
# 1392 + 1392 + 516 record bytes (1472 - 16 - 64 a datagram). The rule
# matches DATA, not a resend, whose first chunk is of a 3300-byte record
# at offset 2784.
for i in 1 2; do
	ethtool -K "vt$i" tx-udp-segmentation off >/dev/null || fail "ethtool vt$i"
	ip netns exec "t$i" nft -f - <<NFT || fail "nft tail rule in t$i"
table inet tlstap_tail {
	chain in {
		type filter hook prerouting priority -300;
		udp dport 7419 @th,64,8 1 @th,88,8 0 @th,224,32 3300 @th,256,32 2784 counter drop
	}
}
NFT
done
start_receivers b
snapshot b
add_targets
"$TOOLS/recgen" -n 300 -f 60 -m 16384 -b 3 -s 5 -o "$WORK/b.bin"
sleep 0.5	# the burst is out: the last record starts a datagram
python3 "$TOOLS/tailwrite.py" --expected "$WORK/b.bin" --fwd "$FWD" \
	--key "$KEY" --target "$T1" --target "$T2" --size 3228 ||
	fail "tailwrite"
relcheck tail b --timeout 60 || fail "tail: see above"
for i in 1 2; do
	rule=$(ip netns exec "t$i" nft list table inet tlstap_tail)
	[[ $rule =~ counter\ packets\ ([0-9]+) ]] || fail "t$i: no counter"
	[ "${BASH_REMATCH[1]}" = 1 ] ||
		fail "t$i: the tail rule dropped ${BASH_REMATCH[1]} datagrams, want 1"
done

echo "c: $SECONDS s"
# --- c. 16 slots a target and 30% loss: most NACKs come too late. The
# loss stops for the last 3 records of each target, so that every stream
# ends with what it sent known (else the last LOST range has no end).
echo flush >"$SYS/targets"
echo N >"$GSO"
echo 64 >"$SYS/ring_kb"
start_receivers c
netem limit 100000 loss random 30%
snapshot c
add_targets
"$TOOLS/recgen" -n 600 -f 80 -m 8192 -b 1 -s 6 -o "$WORK/c.bin"
sleep 2	# the NACK tries of the lossy part run out (1.26 s)
no_netem
python3 "$TOOLS/tailwrite.py" --expected "$WORK/c.bin" --fwd "$FWD" \
	--key "$KEY" --target "$T1" --target "$T2" --per 3 --size 2000 ||
	fail "tailwrite"
relcheck lost c --timeout 60 || fail "gap: see above"
echo flush >"$SYS/targets"
echo "done: $SECONDS s"
