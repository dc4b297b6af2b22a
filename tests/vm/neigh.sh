#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Targets added before their neighbours are known, the first ARP request
# (t1, IPv4) and the first neighbour solicitation (t2, IPv6) dropped on
# the way in (nft in the targets' namespaces), so that resolution takes a
# retransmission, about a second; a burst written right after the add, far
# more than the ~200 KB the kernel queues for a neighbour it resolves.
# The module resolves the neighbour when the target is added and holds the
# target's datagrams in its ring until it is resolved. Checks: every
# record byte-exact (reccheck.py); nothing lost on the way: no datagram
# dropped in a neighbour queue, no NACK, no retransmission, no seq gap at
# the receivers; each drop rule dropped exactly one packet (the case
# really happened); the targets listing said "state resolving" right after
# the add and "state ready" after; no target sent unresolved. Then a
# target whose address nobody has: after 3 s (TLSTAP_RESOLVE_MS) its
# datagrams go anyway, counted (state unresolved, resolve_timeouts 1).
. "$TLSTAP_SRC/tests/lib/vm.sh"

# fresh_ns NAME INDEX: as host_ns, but nothing resolves the neighbours.
fresh_ns() {
	local ns=$1 i=$2
	ip netns add "$ns"
	NETNS_LIST="$NETNS_LIST $ns"
	ip link add "vt$i" type veth peer name eth0 netns "$ns"
	ip addr add "10.77.$i.1/24" dev "vt$i"
	ip addr add "fd77:$i::1/64" dev "vt$i" nodad
	ip -n "$ns" addr add "10.77.$i.2/24" dev eth0
	ip -n "$ns" addr add "fd77:$i::2/64" dev eth0 nodad
	ip -n "$ns" link set lo up
}

load_module
modprobe -q nf_tables || fail "nf_tables"
fresh_ns t1 1
fresh_ns t2 2
# The first request for the target's address, nothing else: numgen inc
# counts from 0 for the packets that reach it.
ip netns exec t1 nft -f - <<'NFT' || fail "nft ARP rule in t1"
table arp tlstap_neigh {
	chain in {
		type filter hook input priority 0;
		arp operation request arp daddr ip 10.77.1.2 numgen inc mod 1000000 == 0 counter drop
	}
}
NFT
ip netns exec t2 nft -f - <<'NFT' || fail "nft ND rule in t2"
table ip6 tlstap_neigh {
	chain in {
		type filter hook prerouting priority -300;
		icmpv6 type nd-neighbor-solicit ip6 daddr ff02::1:ff00:2 numgen inc mod 1000000 == 0 counter drop
	}
}
NFT
for i in 1 2; do
	ip link set "vt$i" up
	ip -n "t$i" link set eth0 up
done
# Buffers for the whole burst.
start_recv t1 10.77.1.2:7419 t1 raw --rcvbuf 33554432
start_recv t2 "[fd77:2::2]:7419" t2 raw --rcvbuf 33554432
ip neigh show dev vt1 | grep -q . && fail "t1's neighbour known already: $(ip neigh show dev vt1)"
discards=$(unresolved_discards)

echo "add 10.77.1.2:7419" >"$SYS/targets"
echo "add [fd77:2::2]:7419" >"$SYS/targets"
IFS= read -r -d '' added <"$SYS/targets" || true
"$TOOLS/recgen" -n 600 -f 200 -m 4096 -o "$WORK/expected.bin"
# Until every record is in. A count of what the module sent says nothing
# while a target holds its datagrams: nothing sent and nothing received
# looks complete.
wait_for 60 records_settled 600 t1 t2 ||
	fail "600 records written, the receivers hold: $(records_at_receivers t1 t2); $(cat "$SYS/targets")"
stop_recv
cat "$SYS/stats" "$SYS/targets"

lost=$(($(unresolved_discards) - discards))
[ "$lost" -eq 0 ] || fail "$lost datagrams dropped waiting for the neighbour"
for k in nacks_received retransmits tx_errors; do
	[ "$(stat_of "$k")" -eq 0 ] || fail "$k $(stat_of "$k"): something was lost"
done
for t in t1 t2; do
	[ "$(awk '$1 == "seq_gaps" { v = $2 } END { print v }' "$WORK/$t.err")" = 0 ] ||
		fail "$t saw holes: $(tail -n 30 "$WORK/$t.err")"
done
python3 "$TOOLS/reccheck.py" --expected "$WORK/expected.bin" --tos 32 --in-order \
	--target "t1,$WORK/t1.raw,$WORK/t1.dgram,1,1472" \
	--target "t2,$WORK/t2.raw,$WORK/t2.dgram,1,1452"
[ "$(stat_of datagrams)" -gt 300 ] || fail "only $(stat_of datagrams) datagrams: the burst proves nothing"

[ "$(ip netns exec t1 nft list table arp tlstap_neigh | grep -c 'counter packets 1 ')" = 1 ] ||
	fail "t1 did not drop exactly the first ARP request: $(ip netns exec t1 nft list table arp tlstap_neigh)"
[ "$(ip netns exec t2 nft list table ip6 tlstap_neigh | grep -c 'counter packets 1 ')" = 1 ] ||
	fail "t2 did not drop exactly the first solicitation: $(ip netns exec t2 nft list table ip6 tlstap_neigh)"
echo "after the add: $added"
[[ $added == *"10.77.1.2:7419 "*" state resolving"$'\n'*"[fd77:2::2]:7419 "*" state resolving"$'\n' ]] ||
	fail "the targets were not held while resolving: $added"
IFS= read -r -d '' now <"$SYS/targets" || true
[[ $now == *"10.77.1.2:7419 "*" state ready"$'\n'*"[fd77:2::2]:7419 "*" state ready"$'\n' ]] ||
	fail "targets not ready: $now"
[ "$(stat_of resolve_timeouts)" -eq 0 ] || fail "resolve_timeouts $(stat_of resolve_timeouts)"
echo flush >"$SYS/targets"

sent=$(stat_of datagrams)
echo "add 10.77.1.9:7419" >"$SYS/targets"
"$TOOLS/recgen" -n 20 -f 4 -m 1000 >/dev/null
IFS= read -r -d '' held <"$SYS/targets" || true
[[ $held == *" state resolving"$'\n' && $(stat_of datagrams) -eq $sent ]] ||
	fail "a target without a host was not held: $held, $(($(stat_of datagrams) - sent)) datagrams sent"
sleep 4
IFS= read -r -d '' now <"$SYS/targets" || true
[[ $now == *" state unresolved"$'\n' ]] || fail "after 4 s: $now"
[ "$(stat_of resolve_timeouts)" -eq 1 ] || fail "resolve_timeouts $(stat_of resolve_timeouts)"
[ "$(stat_of datagrams)" -gt "$sent" ] || fail "nothing sent after the bound"
echo "no host at the address: unresolved after 3 s, sent anyway"
echo flush >"$SYS/targets"
