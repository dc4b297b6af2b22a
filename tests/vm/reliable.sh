#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Reliable delivery from the module to two targets in namespaces, t1
# receiving with tlstap-recv (UDP socket), t2 with tlstap-nfq (its own nft
# rule, NFQUEUE, drop verdict); recgen's records, 1 B to 64 KiB, IPv4,
# IPv6 and socketless flows in both directions (tests/tools/relvm.bash):
#  a. netem: 5% random loss and reordering towards the targets, 5% loss
#     of the NACKs. Every record byte-exact at its target, once; seqs,
#     TOS, sizes (reccheck.py); no LOST line, no GAP, NACKs answered by
#     retransmissions; module and receivers' counters agree (relcheck.py).
#  d. NACKs from addresses that are not a target's (IPv4, IPv6) and from
#     the target's address with another stream id: ignored, counted in
#     nack_rejected, nothing resent, nothing to their source; the target's
#     own from another port is honoured (nackguard.py).
#  e. a stream of bogus NACKs for 2048 held seqs: resends per second over
#     a window after the burst within retransmit_pps, nack_ratelimited
#     counted (nackguard.py).
# reliable-gap.sh: a lost last datagram, a replay ring too small.
. "$TLSTAP_SRC/tests/lib/vm.sh"
. "$TOOLS/relvm.bash"

rel_setup
# Addresses in t1's namespace that are no target's: strangers' NACKs.
ip -n t1 addr add 10.77.1.3/24 dev eth0
ip -n t1 addr add fd77:1::3/64 dev eth0 nodad

echo "a: $SECONDS s"
# --- a. Datagrams one per skb (no GSO) so that netem drops single
# datagrams (it would drop a GSO batch whole); a replay ring that holds
# the whole run, so that a receiver slowed down by TCG gets no GAP. netem
# sends 90% at once and delays 10% by 1 ms: those are overtaken.
echo N >"$GSO"
echo 16384 >"$SYS/ring_kb"
start_receivers a
netem limit 100000 delay 1ms reorder 90% loss random 5%
tc -n t1 qdisc add dev eth0 root netem loss random 5% &&
	tc -n t2 qdisc add dev eth0 root netem loss random 5% ||
	fail "netem in the targets"
snapshot a
add_targets
"$TOOLS/recgen" -n 600 -f 100 -m 65536 -b 3 -s 4 -o "$WORK/a.bin"
relcheck clean a --timeout 150 || fail "loss: see above"
no_netem

echo "d, e: $SECONDS s"
# --- d, e. For seqs t1's ring holds (its receiver is gone: resends meet
# a closed port, which changes nothing for the sender).
line=
read -r line <"$WORK/a.t1.dgram"
[[ $line =~ \"stream\":([0-9]+) ]] || fail "no stream id in t1's datagram log"
ip netns exec t1 python3 "$TOOLS/nackguard.py" --target 10.77.1.2 \
	--sender 10.77.1.1 --sender6 fd77:1::1 --stranger 10.77.1.3 \
	--stranger6 fd77:1::3 --stream "${BASH_REMATCH[1]}" --pps 500 ||
	fail "NACK guard: see above"
echo flush >"$SYS/targets"
echo "done: $SECONDS s"
